//! The engine's event stream, as lucidctl's own type. Events only wake the
//! run loop; it always observes everything again, so a lost event costs
//! latency, never correctness.

use super::{Engine, EngineError};
use bollard::models::EventMessageTypeEnum;
use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventObject {
    Container,
    Network,
    Volume,
    Image,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineEvent {
    pub object: EventObject,
    /// e.g. die, stop, kill, destroy, oom, health_status: unhealthy, connect, disconnect.
    pub action: String,
    /// Container, network or volume name.
    pub name: String,
    /// Container labels for container events; the attached container's ID for network events.
    pub attributes: BTreeMap<String, String>,
    pub time_nano: i64,
}

/// The actions that can mean drift, asked of the engine as its `event`
/// filter. With `health_status` among them the engine matches by prefix
/// (moby#25798), so `health_status: unhealthy` passes and the three exec
/// events of every health probe (`exec_create`, `exec_start`, `exec_die`)
/// never leave the engine: with 27 one-second checks they were about 80
/// events a second, each decoded and dropped here.
pub const DRIFT_ACTIONS: [&str; 11] = [
    "die",
    "stop",
    "kill",
    "destroy",
    "oom",
    "health_status",
    "connect",
    "disconnect",
    "rename",
    "update",
    "pause",
];

impl Engine {
    /// Container, network and volume events that can mean drift, from now on.
    pub fn events(&self) -> impl Stream<Item = Result<EngineEvent, EngineError>> + Send + 'static {
        let filters = HashMap::from([
            (
                "type".to_string(),
                vec![
                    "container".to_string(),
                    "network".to_string(),
                    "volume".to_string(),
                ],
            ),
            (
                "event".to_string(),
                DRIFT_ACTIONS.iter().map(|a| a.to_string()).collect(),
            ),
        ]);
        let docker = self.docker.clone();
        async_stream(docker, filters)
    }
}

fn async_stream(
    docker: bollard::Docker,
    filters: HashMap<String, Vec<String>>,
) -> impl Stream<Item = Result<EngineEvent, EngineError>> + Send + 'static {
    docker
        .events(Some(EventsOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .map(|item| {
            item.map(|m| {
                let attributes: BTreeMap<String, String> = m
                    .actor
                    .as_ref()
                    .and_then(|a| a.attributes.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                EngineEvent {
                    object: match m.typ {
                        Some(EventMessageTypeEnum::CONTAINER) => EventObject::Container,
                        Some(EventMessageTypeEnum::NETWORK) => EventObject::Network,
                        Some(EventMessageTypeEnum::VOLUME) => EventObject::Volume,
                        Some(EventMessageTypeEnum::IMAGE) => EventObject::Image,
                        _ => EventObject::Other,
                    },
                    action: m.action.unwrap_or_default(),
                    name: attributes
                        .get("name")
                        .cloned()
                        .or_else(|| m.actor.and_then(|a| a.id))
                        .unwrap_or_default(),
                    attributes,
                    time_nano: m.time_nano.unwrap_or(0),
                }
            })
            .map_err(|e| EngineError::from_bollard("events", e))
        })
}

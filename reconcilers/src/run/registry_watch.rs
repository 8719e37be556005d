//! The run loop's side of rolling tags: asks the registry about each
//! watched reference on its own interval (backing off after failures, a
//! 429 above all), keeps the answers between asks so every pass plans
//! against the newest digest known, and says which digests moved.

use crate::engine::EngineApi;
use crate::render::Inputs;
use crate::updates::{apply_answer, ask, asked, Answer, Schedule};
use desired_state::DesiredState;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A digest that moved since the loop last looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub declared: String,
    pub chosen: String,
    pub from: Option<String>,
    pub to: String,
}

#[derive(Default)]
pub struct RegistryWatch {
    schedule: Schedule,
    answers: BTreeMap<String, Answer>,
}

pub struct Refresh {
    pub moved: Vec<Moved>,
    /// When the next reference is due.
    pub next: Option<Duration>,
}

impl RegistryWatch {
    pub async fn refresh(
        &mut self,
        engine: &dyn EngineApi,
        state: &DesiredState,
        inputs: &mut Inputs,
        now: Instant,
    ) -> Refresh {
        let wanted = asked(state);
        let keys: Vec<String> = wanted.iter().map(|a| a.declared.clone()).collect();
        self.schedule.retain(&keys);
        self.answers.retain(|k, _| keys.contains(k));
        let mut moved = Vec::new();
        for a in &wanted {
            let interval = a.pull.interval();
            // `always` asks on every pass; watch and semver on their interval.
            let always = a.pull.policy == desired_state::model::PullPolicy::Always;
            if !always && !self.schedule.due(&a.declared, now) {
                continue;
            }
            match ask(engine, a).await {
                Ok(answer) => {
                    self.schedule.succeeded(&a.declared, now, interval);
                    let before = self.answers.get(&a.declared);
                    let changed = before
                        .is_none_or(|b| b.digest != answer.digest || b.chosen != answer.chosen);
                    if changed {
                        if let Some(b) = before {
                            moved.push(Moved {
                                declared: a.declared.clone(),
                                chosen: answer.chosen.clone(),
                                from: Some(b.digest.clone()),
                                to: answer.digest.clone(),
                            });
                        }
                        tracing::info!(
                            "registry: {} is at {}",
                            answer.chosen,
                            crate::plan::short_digest(&answer.digest)
                        );
                    }
                    self.answers.insert(a.declared.clone(), answer);
                }
                Err(why) => {
                    let wait = self.schedule.failed(&a.declared, now, interval);
                    tracing::warn!(
                        "registry: cannot ask about {} ({why}); asking again in {}s",
                        a.declared,
                        wait.as_secs()
                    );
                }
            }
        }
        for answer in self.answers.values() {
            apply_answer(inputs, answer);
        }
        let watched = wanted.iter().any(|a| a.pull.watched());
        Refresh {
            moved,
            next: if watched {
                self.schedule.next_in(now)
            } else {
                None
            },
        }
    }
}

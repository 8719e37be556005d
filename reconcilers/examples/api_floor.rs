//! The raw Engine API floor that `diff` is measured against: list every
//! container, then inspect each with 16 in flight, over one client. Prints the
//! median of N runs in milliseconds.
//!
//! cargo run --release -p reconcilers --example api_floor -- [RUNS]

use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};
use futures_util::stream::{self, StreamExt};
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let docker = bollard::Docker::connect_with_unix_defaults()?
        .negotiate_version()
        .await?;
    let mut samples = Vec::new();
    let mut count = 0;
    for _ in 0..runs + 1 {
        let t = Instant::now();
        let list = docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
            .await?;
        count = list.len();
        let ids: Vec<String> = list.into_iter().filter_map(|c| c.id).collect();
        let _: Vec<_> = stream::iter(ids)
            .map(|id| {
                let d = docker.clone();
                async move {
                    d.inspect_container(&id, None::<InspectContainerOptions>)
                        .await
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.remove(0);
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "api floor: {count} containers, median {:.1} ms (min {:.1}, max {:.1}, n={runs})",
        samples[runs / 2],
        samples[0],
        samples[runs - 1]
    );
    Ok(())
}

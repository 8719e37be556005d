//! What the SSH tunnel costs per call: N pings straight to the local engine
//! socket and N through an `ssh://` link to the same engine, alternating,
//! plus a full observe (what `diff` does) both ways. Prints medians.
//!
//! cargo run --release -p reconcilers --example tunnel_bench -- ssh://root@127.0.0.1:PORT SSH_CONFIG [N]
//! (scripts/tunnel-bench.sh starts a throwaway sshd and runs this.)

use reconcilers::engine::{ConnectOptions, Engine, EngineApi, ObserveScope};
use std::time::Instant;

fn median_us(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn time_us<F: std::future::Future<Output = Result<T, E>>, T, E: std::fmt::Debug>(
    f: F,
) -> f64 {
    let t = Instant::now();
    f.await.expect("engine call");
    t.elapsed().as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(config)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: tunnel_bench ssh://user@host:port SSH_CONFIG [N]");
        std::process::exit(2);
    };
    let n: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(200);
    let direct = Engine::connect(Some("unix:///var/run/docker.sock"))
        .await
        .expect("local engine");
    let t = Instant::now();
    let tunnel = Engine::connect_with(
        Some(url),
        &ConnectOptions {
            ssh_config: Some(config.into()),
            remote_socket: None,
        },
    )
    .await
    .expect("ssh engine");
    let connect_ms = t.elapsed().as_secs_f64() * 1000.0;
    // Warm both pools.
    for e in [&direct, &tunnel] {
        e.ping().await.expect("ping");
    }
    let (mut d, mut s) = (Vec::new(), Vec::new());
    for _ in 0..n {
        d.push(time_us(direct.ping()).await);
        s.push(time_us(tunnel.ping()).await);
    }
    let scope = ObserveScope::default();
    let (mut od, mut os) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        od.push(time_us(direct.observe(&scope)).await / 1000.0);
        os.push(time_us(tunnel.observe(&scope)).await / 1000.0);
    }
    let containers = direct
        .observe(&scope)
        .await
        .map(|o| o.containers.len())
        .unwrap_or(0);
    let (pd, ps) = (median_us(d), median_us(s));
    println!("ssh connect + forward + version negotiation: {connect_ms:.0} ms");
    println!(
        "ping, median of {n}: direct {pd:.0} us, tunnel {ps:.0} us, overhead {:.0} us per call",
        ps - pd
    );
    let (md, ms) = (median_us(od), median_us(os));
    println!("observe ({containers} containers), median of 20: direct {md:.1} ms, tunnel {ms:.1} ms, ratio {:.2}", ms / md);
}

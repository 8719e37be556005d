//! The chaos soak (issue 22): `lucidctl run` keeps the local Lucid system
//! converged through `ssh://` on a Docker daemon of the soak's own, from a git
//! repository, while a seeded random schedule injects a fault every few
//! seconds; invariants are checked all along and at the end.
//!
//! cargo run -p lucid-e2e --bin soak -- [--duration 60m] [--seed N] [--every 2-6]
//!     [--results e2e/bench/RESULTS.md|none] [--json PATH] [--lucidctl PATH] [--smoke]
//!
//! The daemon restarted here is the soak's own (lucid_e2e::dockerd: its own
//! socket, data root, exec root, pidfile and bridge), never the system's.
//! Everything is created under `soak<pid>-` on that daemon and goes with it.
//! Exit status 1 when an invariant was violated; the seed (also
//! `LUCID_E2E_SEED`) replays the schedule. Touching `<dir>/stop` (printed at
//! the start) ends the injection early, with the end checks and figures.

mod faults;
mod invariants;
mod options;
mod report;
mod sink;
mod verdicts;
mod watch;
mod world;

use faults::{Fault, Kind, Outcome, Picking, Rng, View};
use invariants::Invariants;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use watch::{Creations, EventsFollower, Sample};
use world::{RepoState, World, CANARY};

fn main() {
    let o = match options::options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let seed = o.seed;
    println!(
        "soak: seed {seed} (replay with LUCID_E2E_SEED={seed}), {} s",
        o.duration.as_secs()
    );
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("soak failed; replay with LUCID_E2E_SEED={seed}");
    }));
    let violations = soak(&o);
    if violations > 0 {
        eprintln!("soak: {violations} invariant violation(s); replay with LUCID_E2E_SEED={seed}");
        std::process::exit(1);
    }
    println!("soak: no invariant violations (seed {seed})");
}

/// Everything one run does; returns the number of violations.
fn soak(o: &options::Options) -> usize {
    let mut rng = Rng(o.seed);
    let sink = sink::Sink::start();
    let bin = o.lucidctl.clone().unwrap_or_else(lucid_e2e::lucidctl_bin);
    let setup = Instant::now();
    let mut w = World::new(bin, sink.url.clone());
    let mut inv = Invariants::default();
    inv.create_unmanaged(&w);
    w.start_lucidctl();

    // Converged: the loop ready, every container healthy, the canary on the first commit.
    let mut services: Vec<String> = Vec::new();
    let mut workloads: BTreeSet<String> = BTreeSet::new();
    let converged = lucid_e2e::wait_for(Duration::from_secs(400), || {
        let Some(snap) = watch::snapshot(&w) else {
            return false;
        };
        let status = w.status();
        services = snap
            .values()
            .filter(|c| c.kind == "Service")
            .map(|c| c.resource.clone())
            .collect();
        workloads = snap.values().map(|c| c.resource.clone()).collect();
        let view = View {
            snap: Some(&snap),
            status: status.as_ref(),
            passes: None,
            services: &services,
            good_revision: &w.good_revision,
        };
        services.len() >= 28 && view.loop_ready(&w) && view.all_ok(&w)
    });
    if !converged {
        let tail = std::fs::read_to_string(w.log_path()).unwrap_or_default();
        let tail: String = tail
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "lucidctl run did not converge the soak system within 400 s: status {:?}\nservices {services:?}\nlog tail:\n{tail}",
            w.status()
        );
    }
    let cold = setup.elapsed();
    println!(
        "soak: {} services, {} workloads converged through {} in {:.1} s (setup included)",
        services.len(),
        workloads.len(),
        w.sshd.url(),
        cold.as_secs_f64()
    );
    inv.write_canaries(&w, o.seed);
    let creations = Creations::default();
    let follower = EventsFollower::start(w.dockerd.host.clone(), creations.clone());

    // `touch` it to end the injection early and still get the end checks and figures.
    let stop_file = w.dir.join("stop");
    println!("soak: touch {} to end early", stop_file.display());
    let start = Instant::now();
    let end = start + o.duration;
    let t = |at: Instant| at.saturating_duration_since(start).as_secs_f64();
    let mut faults: Vec<Fault> = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_fault = start + Duration::from_secs(5);
    let mut next_sample = start;
    let mut next_canary = start + Duration::from_secs(60);
    let mut next_progress = start + Duration::from_secs(60);
    // (fault id) of breaches already reported as lasting past one pass.
    let mut breach_reported: BTreeSet<usize> = BTreeSet::new();
    let mut stops: Vec<(Instant, String)> = Vec::new();
    let mut injecting = true;
    // At most six lucidctl kills per run (and one a minute): the incarnations
    // between them are what the RSS and fd curves are judged on.
    let kill_spacing = (o.duration / 6).max(Duration::from_secs(60));
    let drain_until = end + Duration::from_secs(300);

    loop {
        let now = Instant::now();
        if injecting && (now >= end || stop_file.exists()) {
            injecting = false;
            println!(
                "[{:7.1}s] injection over; waiting for the last repairs",
                t(now)
            );
        }
        let pending = faults.iter().any(|f| f.outcome == Outcome::Pending);
        if !injecting && (!pending || now >= drain_until) {
            if w.repo != RepoState::Good {
                // Leave the repository good, and see that fix through too.
                verdicts::end_bad_period(&mut w, &mut inv, &faults, &creations, t(now));
                let f = faults::inject(
                    &mut w,
                    &mut rng,
                    faults.len(),
                    Kind::GoodCommit,
                    CANARY,
                    t(now),
                );
                faults.push(f);
                continue;
            }
            break;
        }
        if let Some(status) = w.lucidctl_exited() {
            inv.violate(t(now), format!("lucidctl run exited by itself ({status})"));
            std::thread::sleep(world::RESTART_SEC);
            w.start_lucidctl();
        }

        // One look at everything, then every pending fault against it.
        let good = w.good_passes();
        let snap = watch::snapshot(&w);
        let status = w.status();
        let view = View {
            snap: snap.as_ref(),
            status: status.as_ref(),
            passes: good,
            services: &services,
            good_revision: &w.good_revision,
        };
        let tnow = t(Instant::now());
        let mut late = Vec::new();
        for f in faults.iter_mut().filter(|f| f.outcome == Outcome::Pending) {
            let done = faults::repaired(&w, f, &view);
            let at = Instant::now();
            if done {
                f.outcome = Outcome::Repaired(at.duration_since(f.clock));
                f.repaired_at = Some(at);
                println!(
                    "[{:7.1}s]   #{} repaired in {:.1} s",
                    at.saturating_duration_since(start).as_secs_f64(),
                    f.id,
                    at.duration_since(f.clock).as_secs_f64()
                );
                if matches!(f.kind, Kind::NeverHealthyCommit | Kind::InvalidCommit) {
                    f.contained_at = Some(at);
                }
            } else if at.duration_since(f.clock) > f.kind.deadline() {
                f.outcome = Outcome::Unrepaired;
                late.push(format!(
                    "{} on {} (#{}, at {:.0} s) not repaired within {} s; {}",
                    f.kind.label(),
                    f.target,
                    f.id,
                    f.t,
                    f.kind.deadline().as_secs(),
                    faults::diagnose(&w, f, &view)
                ));
            } else if f.kind == Kind::IsolationBreach
                && good.is_some_and(|g| g >= f.baseline.unwrap_or(u64::MAX).saturating_add(2))
                && breach_reported.insert(f.id)
            {
                late.push(format!(
                    "isolation breach #{} (at {:.0} s) outlived a whole pass that started after it",
                    f.id, f.t
                ));
            }
        }
        for l in late {
            inv.violate(tnow, l);
        }
        if let Some(snap) = &snap {
            inv.containers(tnow, &w, snap, &workloads);
        }
        if now >= next_sample {
            next_sample = now + Duration::from_secs(10);
            if let Some(s) = w
                .lucidctl_pid()
                .and_then(|p| watch::sample(p, t(now), w.incarnation))
            {
                samples.push(s);
            }
        }
        if now >= next_canary && snap.is_some() {
            next_canary = now + Duration::from_secs(60);
            inv.check_canaries(tnow, &w);
        }
        if now >= next_progress {
            next_progress = now + Duration::from_secs(60);
            let open = faults
                .iter()
                .filter(|f| f.outcome == Outcome::Pending)
                .count();
            println!(
                "[{:7.1}s] {} faults, {open} being repaired, {} violations, lucidctl {:?}",
                t(now),
                faults.len(),
                inv.violations.len(),
                samples.last().map(|s| format!(
                    "{:.1} MB, {} fds",
                    s.rss_kb as f64 / 1024.0,
                    s.fds
                ))
            );
        }

        if injecting && now >= next_fault {
            let cutoff = now.checked_sub(Duration::from_secs(600)).unwrap_or(start);
            stops.retain(|(at, _)| *at >= cutoff);
            let recent = |s: &str| stops.iter().filter(|(_, n)| n == s).count();
            let picking = Picking {
                services: &services,
                pending: faults
                    .iter()
                    .filter(|f| f.outcome == Outcome::Pending)
                    .collect(),
                recent_stops: &recent,
                may_kill_lucidctl: faults
                    .iter()
                    .rev()
                    .find(|f| f.kind == Kind::LucidctlKilled)
                    .is_none_or(|f| f.clock.elapsed() >= kill_spacing),
            };
            let (kind, target) = faults::pick(&mut rng, w.repo, &picking);
            if kind == Kind::GoodCommit && w.repo != RepoState::Good {
                verdicts::end_bad_period(&mut w, &mut inv, &faults, &creations, t(now));
            }
            if matches!(kind, Kind::Stop | Kind::Kill) {
                stops.push((now, target.clone()));
            }
            let mut f = faults::inject(&mut w, &mut rng, faults.len(), kind, &target, t(now));
            if kind == Kind::NetworkRemoved
                && f.detail.starts_with("disconnected ")
                && f.detail.len() > 13
            {
                // The members were taken off even if the engine kept the network: still a fault to repair.
                if let Outcome::Refused(why) = &f.outcome {
                    f.detail = format!("{}; network rm refused: {why}", f.detail);
                    f.outcome = Outcome::Pending;
                }
            }
            println!(
                "[{:7.1}s] #{} {} {} {}",
                f.t,
                f.id,
                kind.label(),
                target,
                f.detail
            );
            faults.push(f);
            next_fault = Instant::now() + rng.millis(o.every.0 * 1000, o.every.1 * 1000);
        }
        let busy = faults.iter().any(|f| f.outcome == Outcome::Pending);
        std::thread::sleep(Duration::from_millis(if busy { 250 } else { 750 }));
    }
    let ran = start.elapsed();
    drop(follower);

    // The end state.
    let tend = t(Instant::now());
    if let Some(snap) = watch::snapshot(&w) {
        let names: BTreeSet<String> = snap.keys().cloned().collect();
        let want: BTreeSet<String> = workloads.iter().map(|r| w.obj(r)).collect();
        if names != want {
            inv.violate(tend, format!("at the end the containers are {:?}, not one per workload: missing {:?}, extra {:?}",
                names.len(), want.difference(&names).collect::<Vec<_>>(), names.difference(&want).collect::<Vec<_>>()));
        }
    }
    inv.check_canaries(tend, &w);
    inv.check_unmanaged(tend, &w);
    let config = w.sshd.client_config.display().to_string();
    let masters = watch::processes_with(&config);
    if masters.len() > 1 {
        inv.violate(
            tend,
            format!(
                "{} ssh processes for the soak's link while one lucidctl runs: {masters:?}",
                masters.len()
            ),
        );
    }
    match w.stop_lucidctl() {
        Some(s) if s.contains("exit status: 0") => {}
        other => inv.violate(
            tend,
            format!("lucidctl run did not exit 0 on SIGTERM: {other:?}"),
        ),
    }
    std::thread::sleep(Duration::from_secs(2));
    let left = watch::processes_with(&config);
    if !left.is_empty() {
        inv.violate(
            tend,
            format!("ssh processes left after lucidctl stopped: {left:?}"),
        );
        for (pid, _) in &left {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
    let (leak_text, leak) = invariants::leak_verdict(&samples);
    if let Some(l) = leak {
        inv.violate(tend, l);
    }
    let received = sink.received();
    verdicts::check_notifications(&mut inv, &faults, &received, start, tend);

    // Figures.
    let title = format!(
        "Chaos soak (issue 22), {} min, seed {}{}",
        (ran.as_secs_f64() / 60.0).round(),
        o.seed,
        if o.smoke { ", smoke" } else { "" }
    );
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &received {
        *counts
            .entry(r.body["event"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    let mut heard: Vec<(String, usize, usize)> = Vec::new();
    for (event, n) in &counts {
        let expected = faults
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Repaired(_)))
            .filter(|f| {
                faults::expected_notification(f.kind).is_some_and(|e| e.contains(&event.as_str()))
            })
            .count();
        heard.push((event.clone(), expected, *n));
    }
    let summary = report::Summary {
        heard,
        seed: o.seed,
        title,
        command: format!(
            "cargo run -p lucid-e2e --bin soak -- --duration {}s --every {}-{} (LUCID_E2E_SEED={})",
            o.duration.as_secs(),
            o.every.0,
            o.every.1,
            o.seed
        ),
        duration: ran,
        faults: &faults,
        violations: &inv.violations,
        samples: &samples,
        leak: leak_text,
        notifications: received.len(),
        notes: vec![
            format!(
                "Set-up: own dockerd (vfs), sshd on 127.0.0.1, {} services and {} workloads converged in {:.0} s; {} volume canaries; notifications received by event: {counts:?}.",
                services.len(),
                workloads.len(),
                cold.as_secs_f64(),
                inv.canary_count()
            ),
        ],
    };
    let md = report::markdown(&summary);
    println!("{md}");
    if let Some(path) = &o.results {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        let _ = f.write_all(md.as_bytes());
        println!("appended to {}", path.display());
    }
    let raw = json!({
        "seed": o.seed,
        "duration_s": ran.as_secs_f64(),
        "every_s": [o.every.0, o.every.1],
        "services": services,
        "faults": faults.iter().map(|f| f.json(start)).collect::<Vec<_>>(),
        "violations": inv.json(),
        "samples": samples.iter().map(|s| json!({"t": s.t, "incarnation": s.incarnation, "rss_kb": s.rss_kb, "fds": s.fds})).collect::<Vec<_>>(),
        "notifications": received.iter().map(|r| json!({"t": t(r.at), "body": r.body})).collect::<Vec<_>>(),
    });
    if let Some(parent) = o.json.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(
        &o.json,
        serde_json::to_string_pretty(&raw).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", o.json.display()));
    println!("raw event log: {}", o.json.display());
    if !inv.violations.is_empty() {
        let keep = o.json.with_extension("lucidctl.log");
        let _ = std::fs::copy(w.log_path(), &keep);
        println!("lucidctl's log: {}", keep.display());
    }
    drop(w);
    inv.violations.len()
}

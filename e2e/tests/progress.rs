//! What a person sees while `apply` works: on a terminal (driven through
//! tmux, captured pane by pane), one live line per resource naming what it
//! waits for, collapsed into one finished line each; in a pipe, plain
//! timestamped lines. The plan comes first unless --quiet.

use lucid_e2e::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// `db` is ready only after 3 s, so `web` is seen waiting for it; a new
/// `generation` recreates web.
fn waiting_pair(generation: &str) -> String {
    [
        network("net"),
        standin_service("db", "net", 8080, &[("STANDIN_READY_AFTER_MS", "3000")], ""),
        standin_service(
            "web",
            "net",
            8081,
            &[("GENERATION", generation)],
            "dependsOn:\n  - {name: db, condition: healthy}\n",
        ),
    ]
    .concat()
}

/// A tmux session of its own, killed on drop.
struct Tmux(String);

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let out = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "150",
                "-y",
                "45",
                "--",
                command,
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("tmux is installed (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmux(name.to_string())
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-S", "-200", "-t", &self.0])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn on_a_terminal_each_resource_has_one_live_line_that_names_what_it_waits_for() {
    let Some(t) = TestEnv::new("progresstty") else {
        return;
    };
    t.write("system.yaml", &waiting_pair("1"));
    let mut argv = vec![lucidctl_bin().display().to_string()];
    argv.extend(t.args_with(
        "apply",
        std::slice::from_ref(&t.state_dir),
        &["--timeout", "60s"],
    ));
    let command = format!(
        "{}; echo EXIT=$?; sleep 600",
        argv.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let tmux = Tmux::start(&t.project, &command);

    let web = "Service/web";
    let mut frames = Vec::new();
    let started = Instant::now();
    let last = loop {
        let pane = tmux.capture();
        if pane.contains("EXIT=") || started.elapsed() > Duration::from_secs(120) {
            break pane;
        }
        frames.push(pane);
        std::thread::sleep(Duration::from_millis(150));
    };
    assert!(last.contains("EXIT=0"), "apply did not succeed:\n{last}");

    // While db was not healthy yet, web's live line said so, with a timer.
    let waiting = frames
        .iter()
        .flat_map(|f| f.lines())
        .find(|l| l.contains(web) && l.contains("waiting for db") && l.contains('s'));
    assert!(
        waiting.is_some(),
        "no frame showed web waiting for db; last frames:\n{}",
        frames
            .iter()
            .rev()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n-----\n")
    );

    // At the end: the plan first, then exactly one collapsed line per
    // resource, no live line left over, and the report.
    let plan_at = last
        .find("Plan: ")
        .expect("the plan is printed before acting");
    for key in ["Network/net", "Service/db", web] {
        let done: Vec<&str> = last
            .lines()
            .filter(|l| l.starts_with('✔') && l.contains(&format!("{key} ")))
            .collect();
        assert_eq!(
            done.len(),
            1,
            "{key}: want one finished line, got {done:?}\n{last}"
        );
        assert!(
            last.find(done[0]).unwrap() > plan_at,
            "{key} finished before the plan was shown"
        );
    }
    let spinner = |c: char| ('\u{2800}'..='\u{28ff}').contains(&c);
    for l in last[plan_at..].lines() {
        assert!(
            !l.starts_with(spinner),
            "a live line was left on the screen: {l:?}\n{last}"
        );
    }
    assert!(last.contains("Converged."), "{last}");
}

#[test]
fn in_a_pipe_progress_is_plain_timestamped_lines_after_the_plan() {
    let Some(t) = TestEnv::new("progressplain") else {
        return;
    };
    t.write("system.yaml", &waiting_pair("1"));
    let out = t.apply_ok(&["--timeout", "60s"]);
    assert!(
        out.stdout.contains("Plan: "),
        "no plan on stdout:\n{}",
        out.all()
    );
    assert!(
        !out.stderr.contains('\u{1b}'),
        "escape codes in a pipe:\n{}",
        out.stderr
    );
    let line = |text: &str| {
        out.stderr
            .lines()
            .any(|l| l.starts_with('[') && l.contains("s] ") && l.ends_with(text))
    };
    assert!(line("Service/web: waiting for db"), "{}", out.stderr);
    assert!(line("Service/web: created"), "{}", out.stderr);

    // --quiet: no plan; the work is already done, so only the report.
    t.write("system.yaml", &waiting_pair("2"));
    let quiet = t.apply_ok(&["--quiet", "--progress=plain", "--timeout", "60s"]);
    assert!(
        !quiet.stdout.contains("Plan: "),
        "--quiet printed the plan:\n{}",
        quiet.all()
    );
    assert!(
        quiet.stderr.contains("Service/web: recreated"),
        "{}",
        quiet.all()
    );
}

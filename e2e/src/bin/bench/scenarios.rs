//! Scenarios 1-5, 7 and 8 on one system (6, the build, is in build.rs).
//! Every scenario alternates the tools round by round (A B C D A B C D ...),
//! so drift in the machine's load spreads over all of them alike.

use crate::api::{self, Conn, Floor};
use crate::guard::{check_interrupt, sweep};
use crate::report::{Row, Unit};
use crate::system::{System, CHANGED, COLD, STEADY};
use crate::tools::{Kind, Tool};
use lucid_e2e::{try_run, Running};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Runner<'a> {
    pub tools: &'a [Tool],
    /// Rounds per scenario.
    pub runs: usize,
    /// A scenario stops alternating after this long, once it has 2 rounds,
    /// so slow anchors (Ansible takes tens of seconds a run) cannot stretch it.
    pub budget: Duration,
    pub idle: Duration,
    pub rows: Vec<Row>,
}

const STEP_TIMEOUT: Duration = Duration::from_secs(900);

/// A progress line with the time since the bench started.
pub fn progress(what: &str) {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    let t = START.get_or_init(Instant::now).elapsed().as_secs();
    eprintln!("bench: [{:>3}:{:02}] {what}", t / 60, t % 60);
}

/// The tail of a failed command's output, for the table.
fn why(out: &lucid_e2e::Output) -> String {
    let text = format!("{}\n{}", out.stdout.trim(), out.stderr.trim());
    let tail: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(2)
        .collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("exit {:?}: {}", out.code, tail.join(" / "))
}

/// Runs `cmd` and returns its wall time in seconds, or why it failed.
fn time(tool: &Tool, cmd: Command, dry_run: bool) -> Result<f64, String> {
    check_interrupt();
    let out = try_run(cmd, STEP_TIMEOUT)?;
    if tool.ok(out.code, dry_run) {
        Ok(out.took.as_secs_f64())
    } else {
        Err(why(&out))
    }
}

fn docker(args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    let out = try_run(cmd, Duration::from_secs(120))?;
    out.success().then_some(()).ok_or_else(|| why(&out))
}

/// Polls until `check` holds; false after `timeout`.
fn wait_until(timeout: Duration, pause: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        check_interrupt();
        std::thread::sleep(pause);
    }
    false
}

impl Runner<'_> {
    fn available(&self) -> impl Iterator<Item = &Tool> {
        self.tools.iter().filter(|t| t.available)
    }

    /// One row per tool; a missing tool's row says so and gets no samples.
    fn rows(&self, scenario: u8, sys: &System, unit: Unit) -> Vec<Row> {
        self.tools
            .iter()
            .map(|t| {
                let row = Row::new(scenario, &sys.label, t.kind.id(), &t.label(), unit);
                if t.available {
                    row
                } else {
                    row.failed(t.version.clone())
                }
            })
            .collect()
    }

    /// Alternates: each round takes one sample per row that has not failed.
    fn alternate(
        &self,
        rows: &mut [Row],
        mut sample: impl FnMut(usize, &Tool, usize) -> Result<f64, String>,
    ) {
        let started = Instant::now();
        for round in 0..self.runs {
            if round >= 2 && started.elapsed() > self.budget {
                break;
            }
            for (i, row) in rows.iter_mut().enumerate() {
                if row.error.is_some() {
                    continue;
                }
                let tool = &self.tools[i];
                match sample(i, tool, round) {
                    Ok(v) => row.samples.push(v),
                    Err(e) => row.error = Some(e),
                }
            }
        }
    }

    /// Removes `tool`'s copy: its own teardown, then a sweep by name for what it left.
    pub fn teardown(&self, sys: &System, tool: &Tool) {
        if let Some(cmd) = tool.down(sys).filter(|_| tool.available) {
            let _ = try_run(cmd, STEP_TIMEOUT);
        }
        let prefix = sys.prefix(tool.kind);
        for leak in sweep(|name| name.starts_with(&prefix)) {
            eprintln!("bench: could not remove {leak}");
        }
    }

    pub fn teardown_all(&self, sys: &System) {
        for tool in self.tools {
            self.teardown(sys, tool);
        }
    }

    /// Scenario 1: from nothing to converged, one copy on the engine at a time.
    pub fn cold(&mut self, sys: &System) {
        progress(&format!("[1] cold converge on {}", sys.label));
        self.teardown_all(sys);
        let mut rows = self.rows(1, sys, Unit::Seconds);
        self.alternate(&mut rows, |_, tool, _| {
            let took = time(tool, tool.up(sys, COLD), false);
            self.teardown(sys, tool);
            took
        });
        self.rows.extend(rows);
    }

    /// Brings every tool's copy up at once (untimed), for scenarios 2-5, 7 and 8.
    /// Returns, per tool, why its copy could not be brought up.
    pub fn steady(&self, sys: &System) -> Vec<Option<String>> {
        progress(&format!("bringing up every tool's copy of {}", sys.label));
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .tools
                .iter()
                .map(|tool| {
                    scope.spawn(move || {
                        if !tool.available {
                            return None;
                        }
                        let mut up = tool.up(sys, STEADY);
                        if tool.kind == Kind::Lucidctl {
                            // Untimed, and beside every other tool's copy starting at
                            // once: 600 containers of the 300-service system on 2 cores
                            // pass their first health checks well after apply's 5 min
                            // (still inside the bench's own 15 min per step).
                            up.args(["--timeout", "14m"]);
                        }
                        time(tool, up, false)
                            .err()
                            .map(|e| format!("could not bring the system up: {e}"))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Some("setup panicked".into())))
                .collect()
        })
    }

    fn steady_rows(&self, scenario: u8, sys: &System, down: &[Option<String>]) -> Vec<Row> {
        let mut rows = self.rows(scenario, sys, Unit::Seconds);
        for (row, why) in rows.iter_mut().zip(down) {
            if row.error.is_none() {
                row.error = why.clone();
            }
        }
        rows
    }

    /// Scenario 2: converge when nothing changed.
    pub fn noop(&mut self, sys: &System, down: &[Option<String>]) {
        progress(&format!("[2] no-op converge on {}", sys.label));
        let mut rows = self.steady_rows(2, sys, down);
        self.alternate(&mut rows, |_, tool, _| {
            time(tool, tool.up(sys, STEADY), false)
        });
        self.rows.extend(rows);
    }

    /// Scenario 3: the dry run of a converge when nothing changed.
    pub fn dry_run(&mut self, sys: &System, down: &[Option<String>]) {
        progress(&format!("[3] dry run on {}", sys.label));
        let mut rows = self.steady_rows(3, sys, down);
        for (row, tool) in rows.iter_mut().zip(self.tools) {
            if let (None, Err(why)) = (&row.error, tool.dry_run(sys, STEADY)) {
                row.error = Some(why);
            }
        }
        self.alternate(&mut rows, |_, tool, _| {
            let cmd = tool.dry_run(sys, STEADY)?;
            time(tool, cmd, true)
        });
        self.rows.extend(rows);
    }

    /// Scenario 8: the raw API floor over lucidctl's own copy, measured in-process.
    pub fn floor(&mut self, sys: &System) {
        progress(&format!("[8] API floor on {}", sys.label));
        let mut row = Row::new(
            8,
            &sys.label,
            "api-floor",
            "Engine API, 16 in flight",
            Unit::Seconds,
        );
        let label = format!("io.lucidctl.project={}", sys.lucidctl_project());
        match Floor::new() {
            Ok(mut floor) => {
                // The first pass warms the connections and the engine's caches, as lucidctl's first call does.
                let _ = floor.measure(&label);
                for _ in 0..self.runs.max(10) {
                    check_interrupt();
                    match floor.measure(&label) {
                        Ok((took, count)) => {
                            row.note = format!("{count} containers");
                            row.samples.push(took.as_secs_f64());
                        }
                        Err(e) => {
                            row.error = Some(e);
                            break;
                        }
                    }
                }
            }
            Err(e) => row.error = Some(e),
        }
        self.rows.push(row);
        self.rows.push(self.process_floor(sys, &label));
    }

    /// The same list plus inspect-all as a whole process (`api-floor`, built
    /// beside the bench): what lucidctl's no-op and dry run are compared with.
    fn process_floor(&self, sys: &System, label: &str) -> Row {
        let row = Row::new(
            8,
            &sys.label,
            "api-floor-process",
            "whole process: connect, list, inspect all, 16 in flight",
            Unit::Seconds,
        );
        let program = match std::env::current_exe() {
            Ok(me) => me.with_file_name("api-floor"),
            Err(e) => return row.failed(e.to_string()),
        };
        if !program.exists() {
            return row.failed(format!(
                "{} is missing: cargo build --release -p lucid-e2e --bin api-floor",
                program.display()
            ));
        }
        let mut row = row;
        for _ in 0..self.runs.max(10) {
            check_interrupt();
            let mut cmd = Command::new(&program);
            cmd.arg(label);
            match try_run(cmd, Duration::from_secs(60)) {
                Ok(out) if out.success() => {
                    row.note = format!("{} containers", out.stdout.trim());
                    row.samples.push(out.took.as_secs_f64());
                }
                Ok(out) => return row.failed(why(&out)),
                Err(e) => return row.failed(e),
            }
        }
        row
    }

    /// Scenario 4: one env value of the victim changes, converge (alternating between two revisions).
    pub fn env_change(&mut self, sys: &System, down: &[Option<String>]) {
        progress(&format!("[4] one env value changed on {}", sys.label));
        let mut rows = self.steady_rows(4, sys, down);
        let mut last = vec![STEADY; self.tools.len()];
        self.alternate(&mut rows, |i, tool, round| {
            let rev = if round % 2 == 0 { CHANGED } else { STEADY };
            last[i] = rev;
            time(tool, tool.up(sys, rev), false)
        });
        // Back to STEADY, which scenarios 5 and 7 run against.
        for (tool, rev) in self.tools.iter().zip(last) {
            if tool.available && rev != STEADY {
                let _ = time(tool, tool.up(sys, STEADY), false);
            }
        }
        self.rows.extend(rows);
    }

    /// Starts `lucidctl run` on lucidctl's copy and lets it reach its first converged pass.
    fn start_run_loop(&self, sys: &System) -> Result<Running, String> {
        let lucidctl = self
            .available()
            .find(|t| t.kind == Kind::Lucidctl)
            .ok_or("lucidctl missing")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut cmd = Command::new(&lucidctl.program[0]);
        cmd.arg("run")
            .args(sys.lucidctl_args(STEADY))
            .args(["--resync", "10m", "--listen", &format!("127.0.0.1:{port}")])
            .env("NO_COLOR", "1");
        let mut run = Running::spawn(cmd);
        std::thread::sleep(Duration::from_secs(3));
        if run.finished() {
            return Err(format!("lucidctl run exited: {:?}", run.kill()));
        }
        Ok(run)
    }

    /// Scenario 5: the victim container is removed by hand; time until it runs
    /// again. lucidctl's run loop repairs it by itself; the anchors are re-run
    /// by hand ("manual"), and their figure is that re-run. Returns the run
    /// loop for scenario 7.
    pub fn drift(&mut self, sys: &System, down: &[Option<String>]) -> Option<Running> {
        progress(&format!("[5] drift repair on {}", sys.label));
        let mut rows = self.steady_rows(5, sys, down);
        for row in rows.iter_mut().filter(|r| r.tool != "lucidctl") {
            row.note = "manual re-run".into();
        }
        let lucid_row = rows.iter().position(|r| r.tool == "lucidctl");
        let mut run = None;
        if let Some(i) = lucid_row.filter(|&i| rows[i].error.is_none()) {
            match self.start_run_loop(sys) {
                Ok(r) => {
                    rows[i].note = "run loop, event-driven".into();
                    run = Some(r);
                }
                Err(e) => rows[i].error = Some(e),
            }
        }
        let conn = Conn::open();
        let Ok(mut conn) = conn else {
            self.rows.extend(
                rows.into_iter()
                    .map(|r| r.failed("cannot reach the engine socket".into())),
            );
            return run;
        };
        let label = self
            .available()
            .find(|t| t.kind == Kind::Lucidctl)
            .map(Tool::label)
            .unwrap_or_else(|| "lucidctl".into());
        // The engine's own timestamps of each lucidctl repair: destroy -> create -> start.
        let mut reaction = Row::new(5, &sys.label, "lucidctl-reaction", &label, Unit::Seconds)
            .note("engine events: destroy to created, the loop's share plus the create call");
        let mut start = Row::new(5, &sys.label, "lucidctl-start", &label, Unit::Seconds)
            .note("engine events: created to started, the engine's start");
        self.alternate(&mut rows, |_, tool, _| {
            let victim = sys.victim_container(tool.kind);
            let since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs().saturating_sub(1))
                .unwrap_or(0);
            docker(&["rm", "-f", &victim])?;
            let started = Instant::now();
            if tool.kind == Kind::Lucidctl {
                if !wait_until(Duration::from_secs(60), Duration::from_millis(5), || {
                    api::running(&mut conn, &victim)
                }) {
                    return Err("not repaired within 60 s".into());
                }
                let took = started.elapsed().as_secs_f64();
                if let Some((destroyed, created, running)) =
                    api::repair_events(&mut conn, &victim, since)
                {
                    reaction.samples.push((created - destroyed) as f64 / 1e9);
                    start.samples.push((running - created) as f64 / 1e9);
                }
                // Let the loop finish its pass (the victim's health) before the next round.
                wait_until(Duration::from_secs(15), Duration::from_millis(100), || {
                    matches!(api::health(&mut conn, &victim).as_str(), "healthy" | "")
                });
                Ok(took)
            } else {
                let took = time(tool, tool.up(sys, STEADY), false)?;
                if api::running(&mut conn, &victim) {
                    Ok(took)
                } else {
                    Err("the re-run did not bring the container back".into())
                }
            }
        });
        self.rows.extend(rows);
        if lucid_row.is_some() {
            self.rows.push(reaction);
            self.rows.push(start);
        }
        run
    }

    /// Scenario 7: CPU and peak RSS of an idle `lucidctl run` over `self.idle`.
    pub fn idle(&mut self, sys: &System, run: Option<Running>) {
        progress(&format!(
            "[7] idle run loop on {} ({} s)",
            sys.label,
            self.idle.as_secs()
        ));
        let label = self
            .available()
            .find(|t| t.kind == Kind::Lucidctl)
            .map(Tool::label)
            .unwrap_or_else(|| "lucidctl".into());
        let mut cpu = Row::new(7, &sys.label, "lucidctl", &label, Unit::Percent).note("CPU");
        let mut rss = Row::new(7, &sys.label, "lucidctl", &label, Unit::Megabytes).note("peak RSS");
        let run = match run {
            Some(r) => Ok(r),
            None => self.start_run_loop(sys),
        };
        match run.and_then(|r| measure_idle(&r, self.idle).map(|m| (r, m))) {
            Ok((run, (pct, mb))) => {
                cpu.samples.push(pct);
                rss.samples.push(mb);
                drop(run);
            }
            Err(e) => {
                cpu.error = Some(e.clone());
                rss.error = Some(e);
            }
        }
        self.rows.push(cpu);
        self.rows.push(rss);
        for t in self.tools.iter().filter(|t| t.kind != Kind::Lucidctl) {
            self.rows.push(
                Row::new(7, &sys.label, t.kind.id(), &t.label(), Unit::Percent)
                    .failed("n/a: no resident process".into()),
            );
        }
    }
}

/// CPU percent of one core over `span` after 5 s of settling, and VmHWM in MB.
fn measure_idle(run: &Running, span: Duration) -> Result<(f64, f64), String> {
    let pid = run.pid();
    let ticks = || -> Result<f64, String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| format!("lucidctl run is gone: {e}"))?;
        // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        Ok(n(11) + n(12))
    };
    std::thread::sleep(Duration::from_secs(5));
    let before = ticks()?;
    let started = Instant::now();
    while started.elapsed() < span {
        check_interrupt();
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = ticks()?;
    // USER_HZ is 100 on every Linux the project targets (getconf CLK_TCK).
    let cpu_secs = (after - before) / 100.0;
    let pct = cpu_secs / started.elapsed().as_secs_f64() * 100.0;
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or("no VmHWM in /proc/PID/status")?;
    Ok((pct, kb / 1024.0))
}

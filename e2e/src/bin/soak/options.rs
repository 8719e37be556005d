//! The soak's command line.

use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str = "usage: soak [--duration 60m] [--seed N] [--every MIN-MAX seconds] [--results PATH|none] [--json PATH] [--lucidctl PATH] [--smoke]";

pub struct Options {
    pub duration: Duration,
    pub seed: u64,
    pub every: (u64, u64),
    pub results: Option<PathBuf>,
    pub json: PathBuf,
    pub lucidctl: Option<PathBuf>,
    pub smoke: bool,
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().ok()?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

pub fn options() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let seed = std::env::var("LUCID_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let bench = lucid_e2e::repo_root().join("e2e/bench");
    let mut o = Options {
        duration: Duration::from_secs(if smoke { 240 } else { 3600 }),
        seed,
        every: (2, 6),
        results: (!smoke).then(|| bench.join("RESULTS.md")),
        json: PathBuf::new(),
        lucidctl: None,
        smoke,
    };
    let mut json = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--smoke" => {}
            "--duration" => {
                let v = value()?;
                o.duration =
                    parse_duration(&v).ok_or(format!("bad duration {v:?} (e.g. 60m, 300s)"))?;
            }
            "--seed" => o.seed = value()?.parse().map_err(|_| "bad --seed".to_string())?,
            "--every" => {
                let v = value()?;
                let (a, b) = v.split_once('-').ok_or("--every MIN-MAX")?;
                o.every = (
                    a.parse().map_err(|_| "bad --every")?,
                    b.parse().map_err(|_| "bad --every")?,
                );
                if o.every.0 == 0 || o.every.1 < o.every.0 {
                    return Err("--every MIN-MAX with 0 < MIN <= MAX".into());
                }
            }
            "--results" => {
                let v = value()?;
                o.results = (v != "none").then(|| PathBuf::from(v));
            }
            "--json" => json = Some(PathBuf::from(value()?)),
            "--lucidctl" => o.lucidctl = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    o.json = json.unwrap_or_else(|| {
        if smoke {
            std::env::temp_dir().join(format!("soak-{}.json", o.seed))
        } else {
            bench.join(format!("soak-{}.json", o.seed))
        }
    });
    Ok(o)
}

//! The host side of the test's daemon: a free address range, the system
//! daemon's docker0 (to check and put back), and mounts left behind.

use std::path::Path;
use std::process::Command;

/// Lazily unmounts every mount point under `dir`, deepest first (a killed
/// daemon can leave its containers' shm and netns mounts behind).
pub fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", "--", p]).status();
    }
}

/// SIGKILLs every process still running from `dir` (a containerd shim
/// outlives its daemon, most of all after SIGKILL or a stale-task error):
/// left running, shims pile up across soaks and hold the daemon's mounts.
pub fn kill_leftovers(dir: &Path) {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    let needle = dir.display().to_string();
    let own = std::process::id().to_string();
    for entry in procs.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == own {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            let _ = Command::new("kill").args(["-KILL", "--", &pid]).status();
        }
    }
}

/// A `10.<n>.0.0/16` (n in 200..250, starting at one picked by the pid) that no
/// host route overlaps: the system daemon's networks and any other test daemon's.
pub(super) fn free_pool() -> u8 {
    let out = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output()
        .expect("run ip route");
    let routes: Vec<(u32, u32)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let dest = l.split_whitespace().find(|w| w.contains('.'))?;
            let (addr, len) = dest.split_once('/').unwrap_or((dest, "32"));
            let addr: std::net::Ipv4Addr = addr.parse().ok()?;
            let len: u32 = len.parse().ok()?;
            // The default route (0.0.0.0/0) has no dotted destination here; skip /0 anyway.
            (len > 0).then_some((u32::from(addr), len.min(32)))
        })
        .collect();
    let overlaps = |net: u32, len: u32| {
        routes.iter().any(|&(addr, rlen)| {
            let shorter = len.min(rlen);
            let mask = u32::MAX << (32 - shorter);
            addr & mask == net & mask
        })
    };
    let start = std::process::id() % 50;
    (0..50)
        .map(|i| 200 + ((start + i) % 50) as u8)
        .find(|&n| !overlaps(u32::from(std::net::Ipv4Addr::new(10, n, 0, 0)), 16))
        .expect("every 10.200-249.0.0/16 overlaps a host route; no room for the test's daemon")
}

/// The host's `docker0`: its addresses and MTU, to put it back if it went missing.
#[derive(Debug)]
pub(super) struct Docker0 {
    addrs: Vec<String>,
    mtu: String,
}

impl Docker0 {
    pub(super) fn read() -> Option<Docker0> {
        let out = Command::new("ip")
            .args(["-o", "addr", "show", "dev", "docker0"])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let addrs = text
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                w.find(|x| *x == "inet")?;
                w.next().map(str::to_string)
            })
            .collect();
        let mtu = std::fs::read_to_string("/sys/class/net/docker0/mtu")
            .map(|m| m.trim().to_string())
            .unwrap_or_else(|_| "1500".into());
        Some(Docker0 { addrs, mtu })
    }

    pub(super) fn restore(&self) {
        let ip = |args: &[&str]| {
            let _ = Command::new("ip").args(args).output();
        };
        ip(&["link", "add", "docker0", "type", "bridge"]);
        for a in &self.addrs {
            ip(&["addr", "add", a, "dev", "docker0"]);
        }
        ip(&["link", "set", "docker0", "mtu", &self.mtu, "up"]);
    }
}

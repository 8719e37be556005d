//! A real OpenSSH server on 127.0.0.1 for the ssh:// tests, with a
//! throwaway host key, user key and client config, all in a temp directory.
//! It can be stopped (every connection cut) and started again on the same port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub dir: PathBuf,
    pub port: u16,
    /// A client config naming the user key and a known_hosts file holding the host key.
    pub client_config: PathBuf,
    /// The same, but with an empty known_hosts file: the host key is unknown.
    pub stranger_config: PathBuf,
    server_config: PathBuf,
    child: Option<Child>,
}

impl Sshd {
    /// Starts sshd; panics with the reason if it cannot (sshd is installed by scripts/test.sh).
    pub fn start(name: &str) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (scripts/test.sh does)"
        );
        let dir = std::env::temp_dir().join(format!("lucid-sshd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("sshd temp dir");
        // sshd refuses to start without its privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        keygen(&dir.join("host_key"));
        keygen(&dir.join("user_key"));
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys"))
            .expect("authorized_keys");
        let port = crate::free_port();
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).expect("host key");
        let host_pub = host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        std::fs::write(
            dir.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}\n"),
        )
        .expect("known_hosts");
        std::fs::write(dir.join("empty_known_hosts"), "").expect("known_hosts");
        let server_config = dir.join("sshd_config");
        std::fs::write(
            &server_config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 AllowStreamLocalForwarding yes\nAllowTcpForwarding yes\nMaxSessions 64\nLogLevel DEBUG1\n\
                 Subsystem sftp /usr/lib/openssh/sftp-server\n",
                d = dir.display()
            ),
        )
        .expect("sshd_config");
        let client = |known: &str| {
            format!(
                "Host 127.0.0.1\n  User root\n  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {d}/{known}\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking yes\n  LogLevel ERROR\n",
                d = dir.display()
            )
        };
        let client_config = dir.join("ssh_config");
        std::fs::write(&client_config, client("known_hosts")).expect("ssh_config");
        let stranger_config = dir.join("ssh_config_stranger");
        std::fs::write(&stranger_config, client("empty_known_hosts")).expect("ssh_config");
        let mut sshd = Sshd {
            dir,
            port,
            client_config,
            stranger_config,
            server_config,
            child: None,
        };
        sshd.resume();
        sshd
    }

    /// `ssh://root@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// Starts the daemon again (on the same port, with the same keys).
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "sshd is already running");
        let log = std::fs::File::create(self.dir.join("sshd.log")).expect("sshd log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&self.server_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sshd did not listen on {addr}: {}", self.log());
    }

    /// Stops the daemon and cuts every connection it carries, as a reboot of the host would.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        // Connection handlers are children of the listener; they outlive its death otherwise.
        for p in descendants(pid) {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "lucid-e2e", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ssh-keygen failed for {}", path.display());
}

/// Every process below `pid`, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces; fields after the last ')' are fixed.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|f| f.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((p, ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(q) = frontier.pop() {
        for (p, pp) in &parents {
            if *pp == q && !out.contains(p) {
                out.push(*p);
                frontier.push(*p);
            }
        }
    }
    out
}

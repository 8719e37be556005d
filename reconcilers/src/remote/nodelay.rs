//! OpenSSH turns Nagle's algorithm off (`TCP_NODELAY`) only on a connection
//! that carries a session with a tty, on both ends. A forward-only master
//! never gets one, so an engine answer longer than one TCP segment can wait
//! for the peer's delayed ACK: measured through the tunnel, a third of the
//! 25 KB container lists took 42 to 46 ms instead of 2 (scripts/tunnel-bench.sh).
//! One short session with a tty on the master (it runs `true`) switches both
//! ssh and sshd to `TCP_NODELAY` for the rest of the connection.
//!
//! Best effort: an account refused a tty (`no-pty`, `restrict`) or bound to
//! a forced command keeps Nagle and works as before. The cost is one login
//! record (utmp/wtmp) on the engine host per connection.

use openssh_mux_client::{Connection, NonZeroByteSlice, Session};
use std::borrow::Cow;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

/// Long enough for a slow Pi to fork a shell; the engine is usable meanwhile.
const LIMIT: Duration = Duration::from_secs(10);

/// Opens the tty session on the master at `control_socket` and waits for it
/// to end. The error says why Nagle stays on, for the debug log.
pub async fn turn_nagle_off(control_socket: &Path) -> Result<(), String> {
    tokio::time::timeout(LIMIT, open_tty_session(control_socket))
        .await
        .map_err(|_| format!("no answer within {}s", LIMIT.as_secs()))?
}

async fn open_tty_session(control_socket: &Path) -> Result<(), String> {
    let null_in = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
    let null_out = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| e.to_string())?;
    let cmd = NonZeroByteSlice::new(b"true").ok_or("command has a NUL byte")?;
    let session = Session::builder().tty(true).cmd(Cow::Borrowed(cmd)).build();
    let fds = [
        null_in.as_raw_fd(),
        null_out.as_raw_fd(),
        null_out.as_raw_fd(),
    ];
    let conn = Connection::connect(control_socket)
        .await
        .map_err(|e| e.to_string())?;
    let established = conn
        .open_new_session(&session, &fds)
        .await
        .map_err(|e| e.to_string())?;
    match established.wait().await {
        Ok(openssh_mux_client::SessionStatus::TtyAllocFail(_)) => {
            Err("the host refused a tty".into())
        }
        Ok(_) => Ok(()),
        Err((e, _)) => Err(e.to_string()),
    }
}

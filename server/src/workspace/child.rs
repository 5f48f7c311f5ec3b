//! What the two steps the launcher runs inside a session's terminal (`prepare-workspace`,
//! `verify-workspace`) share: their JSON spec, their status lines, and waiting for a command
//! that runs in a process group of its own until a deadline, killing the group past it.

use std::io::Write;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

/// The spec file the launcher wrote for a step.
pub(super) fn read_spec<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    std::fs::read(path)
        .map_err(|err| err.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|err| err.to_string()))
}

/// A status line of the step in its terminal.
pub(super) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\x1b[36m▸ {line}\x1b[0m\r\n");
    let _ = out.flush();
}

/// How a command spawned with `process_group(0)` ended.
pub(super) enum Waited {
    Exited(ExitStatus),
    /// Still running at the deadline: its process group was killed.
    TimedOut,
}

/// Waits for `child` until `deadline`; past it, ends the child's whole process group
/// (SIGTERM, then SIGKILL) so no grandchild outlives it.
pub(super) fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Waited> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Waited::Exited(status));
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
            let _ = child.wait();
            return Ok(Waited::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_group(pid: u32) {
    // SAFETY: signalling the process group the caller's child leads.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGTERM);
    }
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: as above.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

//! `codex-governance verify-workspace SPEC`: runs a department's verification commands one after
//! another in its workspace, inside a read-only terminal the dashboard can open. Each command's
//! output goes to the terminal and its last 8 KiB are kept; a command that outlives its time is
//! killed with its process group. The outcome is written as JSON to the spec's `results` path
//! (atomically), which the launcher reads when this process ends.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::child::{read_spec, say, wait_until, Waited};

/// Output kept per command.
pub const TAIL_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySpec {
    pub dir: PathBuf,
    pub commands: Vec<String>,
    /// Per command.
    pub timeout_seconds: u64,
    pub results: PathBuf,
}

/// One command's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutcome {
    pub command: String,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub output_tail: String,
    pub timed_out: bool,
}

pub fn run(spec: &Path) -> ExitCode {
    let spec: VerifySpec = match read_spec(spec) {
        Ok(spec) => spec,
        Err(err) => {
            eprintln!("cannot read the verification spec: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut outcomes = Vec::new();
    for command in &spec.commands {
        say(&format!("$ {command}"));
        let outcome = run_one(
            command,
            &spec.dir,
            Duration::from_secs(spec.timeout_seconds),
        );
        say(&match (outcome.timed_out, outcome.exit_code) {
            (true, _) => format!(
                "✗ killed after {} s (verify_timeout_seconds)",
                spec.timeout_seconds
            ),
            (false, Some(0)) => format!("✓ passed in {} ms", outcome.duration_ms),
            (false, Some(code)) => format!("✗ exit code {code} after {} ms", outcome.duration_ms),
            (false, None) => "✗ ended by a signal".to_string(),
        });
        let failed = outcome.exit_code != Some(0);
        outcomes.push(outcome);
        // Later commands would verify a state already known to fail.
        if failed {
            break;
        }
    }
    let tmp = spec.results.with_extension("tmp");
    let written = serde_json::to_vec(&outcomes)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, &spec.results));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cannot write {}: {err}", spec.results.display());
            ExitCode::FAILURE
        }
    }
}

/// Runs `sh -c command` in its own process group with stdout and stderr merged into one pipe,
/// copying the output to this terminal and keeping its tail.
pub fn run_one(command: &str, dir: &Path, timeout: Duration) -> CommandOutcome {
    let started = Instant::now();
    let mut child = match Command::new("sh")
        .arg("-c")
        .arg(format!("exec 2>&1\n{command}"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            return CommandOutcome {
                command: command.to_string(),
                exit_code: None,
                duration_ms: 0,
                output_tail: format!("cannot start: {err}"),
                timed_out: false,
            }
        }
    };
    let mut pipe = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::with_capacity(TAIL_BYTES);
        let mut buf = [0u8; 8192];
        let mut out = std::io::stdout();
        while let Some(Ok(n)) = pipe.as_mut().map(|p| p.read(&mut buf)) {
            if n == 0 {
                break;
            }
            let _ = out.write_all(&buf[..n]);
            let _ = out.flush();
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > TAIL_BYTES {
                tail.drain(..tail.len() - TAIL_BYTES);
            }
        }
        tail
    });
    let deadline = started + timeout;
    let (exit_code, timed_out) = match wait_until(&mut child, deadline) {
        Ok(Waited::Exited(status)) => (status.code(), false),
        Ok(Waited::TimedOut) => (None, true),
        Err(_) => (None, false),
    };
    // A background child holding the pipe open must not keep this waiting: the group is gone
    // after a timeout, and otherwise the command itself has ended.
    let tail = reader.join().unwrap_or_default();
    CommandOutcome {
        command: command.to_string(),
        exit_code,
        duration_ms: started.elapsed().as_millis() as u64,
        output_tail: String::from_utf8_lossy(&tail).into_owned(),
        timed_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_carry_exit_codes_and_bounded_tails() {
        let dir = tempfile::tempdir().unwrap();
        let ok = run_one(
            "echo hello; echo err >&2",
            dir.path(),
            Duration::from_secs(5),
        );
        assert_eq!(ok.exit_code, Some(0));
        assert_eq!(ok.output_tail, "hello\nerr\n");
        let failed = run_one("exit 3", dir.path(), Duration::from_secs(5));
        assert_eq!(failed.exit_code, Some(3));
        // 20 MB of output: only the tail is kept.
        let loud = run_one(
            "head -c 20000000 /dev/zero | tr '\\0' x; echo END",
            dir.path(),
            Duration::from_secs(30),
        );
        assert_eq!(loud.exit_code, Some(0));
        assert_eq!(loud.output_tail.len(), TAIL_BYTES);
        assert!(loud.output_tail.ends_with("xEND\n"));
    }

    #[test]
    fn a_hanging_command_is_killed_with_its_group_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let started = Instant::now();
        let outcome = run_one(
            &format!("(sleep 2; touch {}) & sleep 30", marker.display()),
            dir.path(),
            Duration::from_millis(300),
        );
        assert!(outcome.timed_out);
        assert_eq!(outcome.exit_code, None);
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "a child of the command survived");
    }
}

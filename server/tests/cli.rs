//! The command line as a user meets it: `--version` names the commit, `serve` says where to
//! point the browser and where its state lives.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_codex-governance");

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = Command::new(BINARY).arg("--version").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!(
            "codex-governance {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )
    );
}

/// `serve` with the demo agent on `repo`, its stdout piped, plus `extra` arguments.
fn serve(repo: &Path, extra: &[&OsStr]) -> Child {
    Command::new(BINARY)
        .args([
            "serve",
            "--port",
            "0",
            "--agent",
            "demo",
            "--stop-agents-on-exit",
            "--repo",
        ])
        .arg(repo)
        .args(extra)
        .env_remove("LEPTOS_SITE_ADDR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A graceful stop (SIGTERM), waited for.
fn stop(mut child: Child) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

#[test]
fn serve_prints_the_url_to_open_and_the_state_directory() {
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    let state = repo.path().join("state-here");
    let mut child = serve(repo.path(), &["--state-dir".as_ref(), state.as_os_str()]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    stop(child);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"));
    assert_eq!(
        second,
        format!(
            "open {url} in a browser; state directory: {}",
            state.display()
        )
    );
}

/// A caller that reads the URL line and closes its end (as the test harness does) must not take
/// the server down with the next write (found on a fresh machine: a second `println!` panicked
/// with a broken pipe).
#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    use std::io::{Read, Write};
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    let mut child = serve(repo.path(), &[]);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader (and the pipe's read end) is gone now.
    let address = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "GET /api/status HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    stop(child);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.200}");
}

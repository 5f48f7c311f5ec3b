//! The PTY host against the real binary: agents survive a server kill, the next server takes
//! them over (same process, every byte of their terminal once, the queue and mailbox go on), new
//! agents get the new server's environment, and the host's socket refuses bad input.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{wait_for, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Every role prints numbered ticks (and `X` from its environment) until it is ended.
const COUNTER: &str =
    "sh -c 'echo \"env-x=$X\"; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo tick-$i; sleep 0.02; done'";

fn session(status: &Value, id: &str) -> Value {
    status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no session {id}"))
}

/// The WebSocket path of a terminal (`/ws/terminal/<id>?token=…`) from its record.
fn ws_path(terminal: &Value) -> String {
    let url = terminal["url"].as_str().unwrap();
    format!("/ws/terminal/{}", url.rsplit_once("/terminal/").unwrap().1)
}

/// Everything a viewer of the session's terminal gets from offset 0, until `enough` holds.
async fn view_from_start(server: &TestServer, id: &str, enough: impl Fn(&str) -> bool) -> String {
    let shown = server.post_ok(
        "/api/session_browser_terminal/start",
        json!({"session_id": id}),
    );
    let path = format!("{}&since=0", ws_path(&shown["terminal"]));
    let (offset, bytes) = view(server, &path, |b| enough(&String::from_utf8_lossy(b))).await;
    assert_eq!(offset, 0);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A viewer of terminal `path` (`/ws/terminal/…?token=…[&since=N]`): the offset `hello` gives,
/// and the bytes until `enough` holds.
async fn view(server: &TestServer, path: &str, enough: impl Fn(&[u8]) -> bool) -> (u64, Vec<u8>) {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}{path}", server.host()))
        .await
        .unwrap();
    let (mut offset, mut bytes) = (None, Vec::new());
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("output goes on");
        match message {
            Some(Ok(Message::Binary(data))) => {
                bytes.extend_from_slice(&data);
                let ack = json!({"type": "ack", "bytes": data.len()}).to_string();
                let _ = socket.send(Message::Text(ack.into())).await;
                if enough(&bytes) {
                    return (offset.expect("hello first"), bytes);
                }
            }
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    event["type"] != "snapshot" && event["type"] != "skipped",
                    "{event}"
                );
                if event["type"] == "hello" {
                    offset = event["offset"].as_u64();
                }
            }
            Some(Ok(_)) => {}
            end => panic!("stream ended: {end:?}"),
        }
    }
}

/// The tick numbers in `text`, in order.
fn ticks(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("tick-"))
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_a_server_kill_and_the_next_server_takes_it_over() {
    let args = ["--agent", "custom", "--agent-command", COUNTER];
    let server = TestServer::start_with(&args, &[("X", "first")]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "count"}));
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    let pid = started["session"]["pid"].clone();
    let department = server.post_ok(
        "/api/start_department",
        json!({"parent_session_id": zid, "department": "lingyubu", "task": "count"}),
    );
    let did = department["session"]["id"].as_str().unwrap().to_string();
    let incoming = started["session"]["mailbox"]["incoming"]
        .as_str()
        .unwrap()
        .to_string();
    let host = server.get_ok("/api/status")["pty_host"]["pid"].clone();
    assert!(host.is_u64(), "a PTY host runs");
    // A viewer watches the session's terminal for a while: it has seen `seen` bytes.
    let shown = server.post_ok(
        "/api/session_browser_terminal/start",
        json!({"session_id": zid}),
    );
    let path = ws_path(&shown["terminal"]);
    let (start, before) = view(&server, &path, |b| b.windows(7).any(|w| w == b"tick-5\r")).await;
    assert_eq!(start, 0);
    let seen = before.len() as u64;

    // The server is killed; while it is down the department reports through the mailbox.
    let mut server = server;
    server.stop_with(libc::SIGKILL);
    let report = json!({"parent_session_id": zid, "department_session_id": did,
        "department": "lingyubu", "summary": "counted while nobody watched", "changed_files": []});
    let tmp = std::path::Path::new(&incoming).join(".tmp-report");
    std::fs::write(&tmp, report.to_string()).unwrap();
    std::fs::rename(
        &tmp,
        std::path::Path::new(&incoming).join(format!("{did}.json")),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;

    let server = server.restart(&args, &[("X", "second")]);
    let status = server.get_ok("/api/status");
    assert_eq!(status["pty_host"]["pid"], host, "the same host");
    let taken = session(&status, &zid);
    assert_eq!(taken["status"], "running", "{taken}");
    assert_eq!(taken["pid"], pid, "the same process");
    // The same terminal URL works on the new server; resuming after what the viewer saw gives
    // exactly the rest: together, every tick once.
    let (resumed_at, after) = view(&server, &format!("{path}&since={seen}"), |b| {
        ticks(&String::from_utf8_lossy(b)).len() >= 30
    })
    .await;
    assert_eq!(resumed_at, seen);
    let mut whole = before.clone();
    whole.extend_from_slice(&after);
    let joined = ticks(&String::from_utf8_lossy(&whole));
    assert_eq!(joined, (1..=joined.len() as u64).collect::<Vec<_>>());
    // Its terminal from offset 0: every tick once, in order, including those printed while
    // no server was attached.
    let text = view_from_start(&server, &zid, |t| ticks(t).len() >= 60).await;
    let seen = ticks(&text);
    assert_eq!(seen, (1..=seen.len() as u64).collect::<Vec<_>>(), "{text}");
    // The report written while the server was down is registered once.
    let inbox = wait_for(Duration::from_secs(10), "the report", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        (inbox["unread_count"] == 1).then_some(inbox)
    });
    assert_eq!(
        inbox["unread_results"][0]["summary"],
        "counted while nobody watched"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
    assert_eq!(inbox["unread_count"], 1);

    // A new agent gets the new server's environment, not the host's (started by the first).
    let fresh = server.post_ok("/api/start_zhongshu_session", json!({"task": "env"}));
    let fresh_id = fresh["session"]["id"].as_str().unwrap().to_string();
    let text = view_from_start(&server, &fresh_id, |t| t.contains("tick-1\r\n")).await;
    assert!(text.contains("env-x=second"), "{text}");
    assert_eq!(
        server.get_ok("/api/status")["pty_host"]["sessions"],
        3,
        "two taken over, one new"
    );
}

#[test]
fn the_host_socket_is_private_and_survives_bad_frames() {
    let args = ["--agent", "custom", "--agent-command", COUNTER];
    let server = TestServer::start_with(&args, &[]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "count"}));
    let id = started["session"]["id"].as_str().unwrap().to_string();
    let host = server.get_ok("/api/status")["pty_host"]["pid"].clone();
    let socket = server.repo_path().join(".tmp/pty-host.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");

    let garbage: Vec<Vec<u8>> = vec![
        // A length over the cap.
        u32::MAX.to_be_bytes().to_vec(),
        // An unknown message, then a valid one with the wrong version.
        frame(b"\x00{\"type\":\"run\",\"program\":\"rm\"}"),
        frame(b"\x00{\"type\":\"hello\",\"version\":999}"),
        // Not JSON; an unknown frame kind; bytes for a terminal before any hello.
        frame(b"\x00{{{{"),
        frame(b"\x09"),
        frame(b"\x01\x05zzzzz\x00\x00\x00\x00\x00\x00\x00\x00echo pwned\n"),
    ];
    for bytes in garbage {
        let mut stream = UnixStream::connect(&socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(&bytes).unwrap();
        // The host answers (a refusal) or closes; it does not hang or crash.
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
    let status = server.get_ok("/api/status");
    assert_eq!(status["pty_host"]["pid"], host, "the same host runs");
    assert_eq!(session(&status, &id)["status"], "running");
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[test]
fn a_host_whose_state_directory_is_gone_or_replaced_ends_its_agents() {
    let args = ["--agent", "custom", "--agent-command", COUNTER];
    let mut server = TestServer::start_with(&args, &[]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "count"}));
    let pid = started["session"]["pid"].as_i64().unwrap() as i32;
    let host = server.get_ok("/api/status")["pty_host"]["pid"]
        .as_i64()
        .unwrap() as i32;
    server.stop_with(libc::SIGKILL);
    // The state directory is removed and made again under the same name.
    let state = server.repo_path().join(".tmp");
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    // SAFETY: kill with signal 0 only checks existence.
    let alive = |pid: i32| unsafe { libc::kill(pid, 0) == 0 };
    wait_for(
        Duration::from_secs(10),
        "the agent and its host to end",
        || (!alive(pid) && !alive(host)).then_some(()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_survives_a_server_kill_at_the_same_url() {
    let server = TestServer::start();
    let shell = server.post_ok(
        "/api/browser_terminal/start",
        json!({"shell": "/bin/sh", "shell_args": ["-c", "echo shell-up; exec sleep 300"]}),
    );
    let terminal = shell["terminal"].clone();
    let path = ws_path(&terminal);
    let (_, before) = view(&server, &path, |b| b.windows(8).any(|w| w == b"shell-up")).await;
    let mut server = server;
    server.stop_with(libc::SIGKILL);
    let server = server.restart(&[], &[]);
    let listed = server.get_ok("/api/browser_terminals");
    let again = listed["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == terminal["id"])
        .cloned()
        .unwrap();
    assert_eq!(again["status"], "running", "{again}");
    assert_eq!(again["pid"], terminal["pid"]);
    // The same URL, from the start: the same bytes.
    let (offset, replay) = view(&server, &path, |b| b.len() >= before.len()).await;
    assert_eq!(offset, 0);
    assert_eq!(replay[..before.len()], before[..]);
    // It is the shell that was reused, not a new one.
    let reused = server.post_ok("/api/browser_terminal/start", json!({}));
    assert_eq!(reused["reused"], true);
    assert_eq!(reused["terminal"]["id"], terminal["id"]);
}

#[test]
fn an_idle_host_ends_by_itself_once_nothing_runs_and_no_server_is_attached() {
    let env = [("CODEX_GOVERNANCE_PTY_HOST_IDLE_SECONDS", "1")];
    let mut server =
        TestServer::start_with(&["--agent", "custom", "--agent-command", "sleep 2"], &env);
    server.post_ok("/api/start_zhongshu_session", json!({"task": "short"}));
    let host = server.get_ok("/api/status")["pty_host"]["pid"]
        .as_i64()
        .unwrap() as i32;
    // While the agent runs the host stays, with or without a server.
    server.stop_with(libc::SIGKILL);
    std::thread::sleep(Duration::from_millis(1200));
    // SAFETY: kill with signal 0 only checks existence.
    let alive = |pid: i32| unsafe { libc::kill(pid, 0) == 0 };
    assert!(alive(host), "the host ended while its agent ran");
    // The agent ends; a second later (and a check later) the host is gone too.
    wait_for(Duration::from_secs(10), "the idle host to end", || {
        (!alive(host)).then_some(())
    });
}

#[test]
fn a_host_of_another_protocol_version_is_not_used() {
    // A "host" of version 999 listens where the server looks for one.
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    let state = repo.path().join(".tmp");
    std::fs::create_dir(&state).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(state.join("pty-host.sock")).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut len = [0u8; 4];
            if stream.read_exact(&mut len).is_err() {
                continue;
            }
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            let _ = stream.read_exact(&mut body);
            let _ = stream.write_all(&frame(
                b"\x00{\"type\":\"refused\",\"version\":999,\"pid\":4242}",
            ));
        }
    });
    let server = TestServer::start_in(
        repo,
        &["--agent", "custom", "--agent-command", COUNTER],
        &[],
    );
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "count"}));
    assert_eq!(started["session"]["status"], "running");
    let status = server.get_ok("/api/status");
    assert!(status.get("pty_host").is_none(), "{}", status["pty_host"]);
}

#[test]
fn a_symlink_planted_at_the_host_socket_is_never_followed() {
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    let state = repo.path().join(".tmp");
    std::fs::create_dir(&state).unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "precious\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), state.join("pty-host.sock")).unwrap();
    let server = TestServer::start_in(
        repo,
        &["--agent", "custom", "--agent-command", COUNTER],
        &[],
    );
    // No host binds over the link (agents run in the server); the file behind it is untouched.
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "count"}));
    assert_eq!(started["session"]["status"], "running");
    assert!(server.get_ok("/api/status").get("pty_host").is_none());
    assert_eq!(
        std::fs::read_to_string(outside.path()).unwrap(),
        "precious\n"
    );
    assert!(
        std::fs::symlink_metadata(server.state_dir().join("pty-host.sock"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_session_that_ended_while_no_server_ran_is_recorded_with_its_exit_code() {
    let args = [
        "--agent",
        "custom",
        "--agent-command",
        "sh -c 'sleep 1; exit 7'",
    ];
    let mut server = TestServer::start_with(&args, &[]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "short"}));
    let id = started["session"]["id"].as_str().unwrap().to_string();
    server.stop_with(libc::SIGKILL);
    std::thread::sleep(Duration::from_millis(1500));
    let server = server.restart(&args, &[]);
    let ended = wait_for(Duration::from_secs(10), "the exit to be recorded", || {
        let status = server.get_ok("/api/status");
        let ended = session(&status, &id);
        (ended["status"] == "exited").then_some(ended)
    });
    assert_eq!(ended["exit_code"], 7, "{ended}");
    assert_eq!(server.get_ok("/api/status")["pty_host"]["sessions"], 0);
}

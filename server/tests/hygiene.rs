//! Process hygiene and resilience against the real binary: closing a session, SIGTERM/SIGINT
//! and SIGKILL of the server leave no agent process behind; slowloris sockets do not delay
//! normal requests.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{wait_for, TestServer};
use serde_json::json;

/// An agent that forks two `sleep` children, records every pid, then waits.
fn forking_agent(dir: &Path) -> String {
    let script = dir.join("forking-agent.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ >> {pids}\nsleep 300 &\necho $! >> {pids}\nsleep 301 &\necho $! >> {pids}\necho forked\nwait\n",
            pids = dir.join("pids").display()
        ),
    )
    .unwrap();
    format!("sh {}", script.display())
}

fn recorded_pids(dir: &Path, count: usize) -> Vec<i32> {
    wait_for(Duration::from_secs(10), "the agent's pids", || {
        let text = std::fs::read_to_string(dir.join("pids")).unwrap_or_default();
        let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        (pids.len() >= count).then_some(pids)
    })
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence. Zombies are reaped by init, not by us.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn assert_all_gone(pids: &[i32]) {
    wait_for(
        Duration::from_secs(10),
        "every agent process to end",
        || pids.iter().all(|p| !alive(*p)).then_some(()),
    );
}

/// A server whose agent forks children, one session started; returns it with the agent's pids.
fn server_with_forked_agent(dir: &Path) -> (TestServer, serde_json::Value, Vec<i32>) {
    let command = forking_agent(dir);
    let server = TestServer::start_with(&["--agent", "custom", "--agent-command", &command], &[]);
    let started = server.post_ok(
        "/api/start_zhongshu_session",
        json!({"task": "fork things"}),
    );
    let pids = recorded_pids(dir, 3);
    (server, started["session"]["id"].clone(), pids)
}

#[test]
fn closing_a_session_ends_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let (server, id, pids) = server_with_forked_agent(dir.path());
    server.post_ok("/api/close_session", json!({"session_id": id}));
    assert_all_gone(&pids);
}

#[test]
fn sigterm_and_sigint_stop_every_agent() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let (mut server, _, pids) = server_with_forked_agent(dir.path());
        let stopped = Instant::now();
        server.stop_with(signal);
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "shutdown took {:?}",
            stopped.elapsed()
        );
        assert_all_gone(&pids);
    }
}

#[test]
fn agents_notice_a_killed_server_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, _, pids) = server_with_forked_agent(dir.path());
    // The PTY master closes with the server: the session's group gets SIGHUP.
    server.stop_with(libc::SIGKILL);
    assert_all_gone(&pids);
}

#[test]
fn slowloris_sockets_do_not_delay_a_normal_request() {
    let server = TestServer::start();
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut socket = TcpStream::connect(server.addr).unwrap();
        // Headers that never finish.
        socket
            .write_all(
                format!(
                    "GET /api/status HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
                    server.host()
                )
                .as_bytes(),
            )
            .unwrap();
        idle.push(socket);
    }
    let started = Instant::now();
    let response = server.get("/api/status");
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "normal request took {:?}",
        started.elapsed()
    );
    drop(idle);
}

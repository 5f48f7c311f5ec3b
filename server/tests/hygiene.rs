//! Process hygiene and resilience against the real binary: closing a session ends its process
//! group; agents outlive the server in the PTY host until `stop` (or end with the server with
//! `--stop-agents-on-exit` or `--no-pty-host`); a killed host takes its agents with it;
//! slowloris sockets do not delay normal requests.

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
    server_with_forked_agent_and(dir, &[])
}

fn server_with_forked_agent_and(
    dir: &Path,
    args: &[&str],
) -> (TestServer, serde_json::Value, Vec<i32>) {
    let command = forking_agent(dir);
    let mut all = vec!["--agent", "custom", "--agent-command", &command];
    all.extend_from_slice(args);
    let server = TestServer::start_with(&all, &[]);
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
fn with_stop_agents_on_exit_sigterm_and_sigint_stop_every_agent() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let (mut server, _, pids) =
            server_with_forked_agent_and(dir.path(), &["--stop-agents-on-exit"]);
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
fn without_a_pty_host_agents_notice_a_killed_server_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, _, pids) = server_with_forked_agent_and(dir.path(), &["--no-pty-host"]);
    // The PTY master closes with the server: the session's group gets SIGHUP.
    server.stop_with(libc::SIGKILL);
    assert_all_gone(&pids);
}

#[test]
fn agents_outlive_a_stopped_or_killed_server_until_stop() {
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let dir = tempfile::tempdir().unwrap();
        let (mut server, _, pids) = server_with_forked_agent(dir.path());
        let host = server.get_ok("/api/status")["pty_host"]["pid"]
            .as_i64()
            .expect("a PTY host") as i32;
        server.stop_with(signal);
        std::thread::sleep(Duration::from_millis(500));
        assert!(pids.iter().all(|p| alive(*p)), "agents end with the server");
        // `stop` ends the host and every agent's process group, and says so.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-governance"))
            .args(["stop", "--repo"])
            .arg(server.repo_path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(&format!("pid {host}")), "{said}");
        assert_all_gone(&pids);
        assert_all_gone(&[host]);
        // Nothing is left to stop.
        let again = std::process::Command::new(env!("CARGO_BIN_EXE_codex-governance"))
            .args(["stop", "--repo"])
            .arg(server.repo_path())
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&again.stdout).contains("no PTY host runs"));
    }
}

#[test]
fn a_killed_host_takes_its_agents_with_it_and_restarts_none() {
    let dir = tempfile::tempdir().unwrap();
    let (server, id, pids) = server_with_forked_agent(dir.path());
    let host = server.get_ok("/api/status")["pty_host"]["pid"]
        .as_i64()
        .expect("a PTY host") as i32;
    // SAFETY: sending a signal to the host this test's server started.
    unsafe { libc::kill(host, libc::SIGKILL) };
    // Its PTYs close: every agent gets SIGHUP and ends; the session shows as interrupted.
    assert_all_gone(&pids);
    wait_for(
        Duration::from_secs(10),
        "the session to be interrupted",
        || {
            let status = server.get_ok("/api/status");
            let session = status["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == id)
                .cloned()
                .unwrap();
            (session["status"] == "interrupted").then_some(())
        },
    );
    // No agent was started again on its own.
    std::thread::sleep(Duration::from_millis(500));
    let text = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    // A new session starts in a new host.
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "again"}));
    assert_eq!(started["session"]["status"], "running");
    let new_host = server.get_ok("/api/status")["pty_host"]["pid"]
        .as_i64()
        .unwrap() as i32;
    assert_ne!(new_host, host);
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

/// A graceful stop with assignments queued starts none of them as it ends the running agents:
/// the queue waits for the next server. (Found by the API fuzz run: the ending department freed
/// its slot, the queue started the next one mid-shutdown, and the stopped PTY host took it.)
#[test]
fn a_stopping_server_starts_no_queued_assignment() {
    let args = ["--max-departments", "1", "--stop-agents-on-exit"];
    let env = [("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")];
    let mut server = TestServer::start_with(&args, &env);
    let started = server.post_ok(
        "/api/start_zhongshu_session",
        json!({"task": "[demo:hold] queue across a stop"}),
    );
    let id = started["session"]["id"].as_str().unwrap().to_string();
    let plan = wait_for(Duration::from_secs(20), "the demo plan", || {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={id}"))["plan"].clone();
        (plan["ready"] == true).then_some(plan)
    });
    let confirmed = server.post_ok(
        "/api/start_assignments",
        json!({"parent_session_id": id, "assignments": plan["assignments"]}),
    );
    assert_eq!(confirmed["started"].as_array().unwrap().len(), 1);
    assert_eq!(confirmed["queued_count"], 2);

    server.stop_with(libc::SIGTERM);
    let server = server.restart(&args, &env);
    // The department the stop ended frees its slot: this server starts the first queued one.
    let status = wait_for(
        Duration::from_secs(20),
        "a queued department to start",
        || {
            let status = server.get_ok("/api/status");
            let running = status["department_sessions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["status"] == "running");
            running.then_some(status)
        },
    );
    assert_eq!(
        status["department_sessions"].as_array().unwrap().len(),
        2,
        "one department from before the stop, one started now: {status}"
    );
    assert_eq!(status["queue"].as_array().unwrap().len(), 1, "{status}");
}

//! Crash safety: the server is killed with SIGKILL at random moments while sessions start,
//! plans register and mailbox files arrive, then restarted. The database opens, everything the
//! server acknowledged is still there, every mailbox file is registered exactly once, the audit
//! log has no torn line, the agents that were running run on (taken over from the PTY host, the
//! same processes), and after `stop` no agent process is left.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::{all_results, wait_for, TestServer};
use serde_json::{json, Value};

/// Iterations in the quick suite; `bench/soak.sh` runs many more.
fn iterations() -> usize {
    std::env::var("CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// Agents that never end on their own (a duration no other test uses, to find them after).
/// Agents that outlive every crash (taken over by the next server): hundreds of them by the end.
const AGENT: &[&str] = &[
    "--agent",
    "custom",
    "--agent-command",
    "sleep 613",
    "--max-zhongshu-sessions",
    "1024",
];

#[derive(Default)]
struct Acknowledged {
    sessions: HashSet<String>,
    plans: HashSet<String>,
    /// (zhongshu id, report id) of every mailbox file fully written.
    reports: Vec<(String, String)>,
}

fn pseudo_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let mut server = TestServer::start_with(AGENT, &[]);
    let acknowledged = Mutex::new(Acknowledged::default());
    // Printed, and taken from CRASH_SEED when set, so a failing run can be replayed.
    let mut seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15u64 ^ std::process::id() as u64)
        .max(1);
    eprintln!("crash loop seed: CRASH_SEED={seed}");
    for iteration in 0..iterations() {
        let stop = AtomicBool::new(false);
        let kill_after = Duration::from_millis(80 + pseudo_random(&mut seed) % 400);
        std::thread::scope(|scope| {
            // Sessions and plans.
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Some(r) = server.try_post("/api/start_zhongshu_session", &json!({"task": format!("crash {iteration}")})) else { break };
                    if r.status != 200 {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    let id = r.json()["session"]["id"].as_str().unwrap().to_string();
                    acknowledged.lock().unwrap().sessions.insert(id.clone());
                    let plan = json!({"session_id": id, "summary": "s", "assignments": [{"department": "zhilibu", "task": "t"}]});
                    if server.try_post("/api/report_zhongshu_plan", &plan).is_some_and(|r| r.status == 200) {
                        acknowledged.lock().unwrap().plans.insert(id);
                    }
                }
            });
            // Mailbox files for the sessions that exist.
            scope.spawn(|| {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let owners: Vec<String> = acknowledged.lock().unwrap().sessions.iter().cloned().collect();
                    for owner in owners.iter().take(3) {
                        n += 1;
                        let report_id = format!("r-{iteration}-{n}");
                        let incoming = server.state_dir().join(format!("codex_governance_mailbox/{owner}/incoming"));
                        let body = json!({"parent_session_id": owner, "department_session_id": format!("zhilibu-{n}"), "department": "zhilibu", "summary": "x", "report_id": report_id});
                        let temp = incoming.join(format!(".{report_id}.tmp"));
                        if std::fs::write(&temp, body.to_string()).is_ok() && std::fs::rename(&temp, incoming.join(format!("{report_id}.json"))).is_ok() {
                            acknowledged.lock().unwrap().reports.push((owner.clone(), report_id));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            std::thread::sleep(kill_after);
            // SAFETY: killing our own child.
            unsafe {
                libc::kill(server.pid() as i32, libc::SIGKILL);
            }
            stop.store(true, Ordering::Relaxed);
        });
        server = server.restart(AGENT, &[]);
        let acknowledged = acknowledged.lock().unwrap();
        verify(&server, &acknowledged);
        verify_taken_over(&server);
        eprintln!(
            "iteration {iteration}: killed after {kill_after:?}; acknowledged so far: {} sessions, {} plans, {} mailbox reports",
            acknowledged.sessions.len(),
            acknowledged.plans.len(),
            acknowledged.reports.len()
        );
    }
    // `stop` ends the host and every agent: no process is left.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-governance"))
        .args(["stop", "--state-dir"])
        .arg(server.state_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    wait_for(Duration::from_secs(10), "every agent to end", || {
        agent_pids().is_empty().then_some(())
    });
}

/// Every session the restarted server shows running is a live process it took over from the
/// PTY host, and every agent process is a running session's (none orphaned by a kill that came
/// between the host's start of a process and the server's record of it).
fn verify_taken_over(server: &TestServer) {
    let status = server.get_ok("/api/status");
    let running: HashSet<i64> = status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "running")
        .map(|s| s["pid"].as_i64().expect("a running session has a pid"))
        .collect();
    assert_eq!(
        status["pty_host"]["sessions"].as_u64(),
        Some(running.len() as u64),
        "every running session is mirrored from the host"
    );
    wait_for(Duration::from_secs(10), "orphans to end", || {
        let agents = agent_pids();
        agents.iter().all(|pid| running.contains(pid)).then_some(())
    });
    for pid in &running {
        // SAFETY: signal 0 only checks existence.
        assert_eq!(
            unsafe { libc::kill(*pid as i32, 0) },
            0,
            "agent {pid} is gone"
        );
    }
}

/// Pids of this test's agent processes.
fn agent_pids() -> HashSet<i64> {
    let mut pids = HashSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline == b"sleep\x00613\x00" {
            if let Ok(pid) = entry.file_name().to_string_lossy().parse() {
                pids.insert(pid);
            }
        }
    }
    pids
}

fn verify(server: &TestServer, acknowledged: &Acknowledged) {
    let status = server.get_ok("/api/status");
    let known: HashSet<String> = status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    for id in &acknowledged.sessions {
        assert!(known.contains(id), "acknowledged session {id} lost");
    }
    for id in &acknowledged.plans {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={id}"));
        assert_eq!(
            plan["plan"]["ready"], true,
            "acknowledged plan of {id} lost"
        );
    }
    // Every written report registers exactly once (the restarted server collects them).
    let owners: HashSet<&String> = acknowledged.reports.iter().map(|(o, _)| o).collect();
    for owner in owners {
        let expected: HashSet<&String> = acknowledged
            .reports
            .iter()
            .filter(|(o, _)| o == owner)
            .map(|(_, r)| r)
            .collect();
        let results: Vec<Value> = wait_for(Duration::from_secs(20), "reports to register", || {
            let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={owner}&peek=1"));
            let all = all_results(&inbox);
            let ids: HashSet<&str> = all
                .iter()
                .map(|r| r["report_id"].as_str().unwrap())
                .collect();
            expected
                .iter()
                .all(|r| ids.contains(r.as_str()))
                .then_some(all)
        });
        let mut seen = HashSet::new();
        for result in &results {
            let id = result["report_id"].as_str().unwrap().to_string();
            // One result per report id, in the unread or the read list, never both.
            assert!(seen.insert(id.clone()), "report {id} listed twice");
            // The packet is written before the registration commits, so it always exists.
            let packet = result["handoff_packet"].as_str().unwrap_or_default();
            assert!(
                std::path::Path::new(packet).is_file(),
                "report {id}: handoff packet {packet:?} missing"
            );
        }
        let incoming = server
            .state_dir()
            .join(format!("codex_governance_mailbox/{owner}/incoming"));
        let left: Vec<_> = std::fs::read_dir(incoming)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .collect();
        assert!(left.is_empty(), "files left in incoming: {left:?}");
    }
    let audit = std::fs::read_to_string(server.state_dir().join("codex_governance_audit.jsonl"))
        .unwrap_or_default();
    for line in audit.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("torn audit line {line:?}: {e}"));
    }
    // Audit events are at least once: every written report has its result_registered line.
    let registered: HashSet<String> = audit
        .lines()
        .filter(|l| l.contains("\"result_registered\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["report_id"].as_str().map(str::to_string))
        .collect();
    for (_, report_id) in &acknowledged.reports {
        assert!(
            registered.contains(report_id),
            "no result_registered line for {report_id}"
        );
    }
}

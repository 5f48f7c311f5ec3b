//! The launcher flow end to end through HTTP against the real binary and the built-in demo
//! agent: Zhongshu → plan → confirmation → queue → mailbox results → inbox → handoff and audit
//! → fallback → restart from context → server restart.

mod common;

use std::time::Duration;

use common::{all_results, wait_for, TestServer};
use serde_json::{json, Value};

const FAST: &[(&str, &str)] = &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")];

fn session<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no session {id} in {status}"))
}

fn start_zhongshu(server: &TestServer, task: &str) -> String {
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": task}));
    started["session"]["id"].as_str().unwrap().to_string()
}

fn wait_plan(server: &TestServer, id: &str) -> Value {
    wait_for(Duration::from_secs(20), "the demo plan", || {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={id}"));
        (plan["plan"]["ready"] == true).then_some(plan)
    })
}

fn audit_events(server: &TestServer) -> Vec<Value> {
    std::fs::read_to_string(server.state_dir().join("codex_governance_audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[test]
fn the_whole_flow_with_the_demo_agent() {
    let server = TestServer::start_with(&[], FAST);

    // Zhongshu starts; the task is normalised.
    let started = server.post_ok(
        "/api/start_zhongshu_session",
        json!({"task": "Improve the docs\r\n and   the tests"}),
    );
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    assert!(zid.starts_with("zhongshu-"));
    assert_eq!(started["session"]["task"], "Improve the docs and the tests");
    assert_eq!(started["session"]["model"], "gpt-5.5");
    assert_eq!(started["session"]["agent"], "demo");
    assert!(started["pid"].as_u64().unwrap() > 0);
    let prompt = std::fs::read_to_string(started["prompt_path"].as_str().unwrap()).unwrap();
    assert!(prompt.contains("Improve the docs and the tests"));
    assert!(prompt.contains("/api/report_zhongshu_plan"));
    assert!(prompt.contains(&format!("/api/zhongshu_inbox?id={zid}&peek=1")));
    assert!(prompt.contains("must not edit files, start departments"));

    // The demo Zhongshu posts its plan; it waits for confirmation.
    let plan = wait_plan(&server, &zid);
    let assignments = plan["plan"]["assignments"].as_array().unwrap().clone();
    assert_eq!(assignments.len(), 3);
    assert_eq!(plan["plan"]["needs_confirmation"], true);
    assert_eq!(plan["plan"]["source"], "http");
    let status = server.get_ok("/api/status");
    let key = assignments[0]["department"].as_str().unwrap();
    assert_eq!(assignments[0]["title"], status["departments"][key][0]);
    assert_eq!(status["active_department_sessions"], 0);

    // The user confirms, holding every department until released: two run, one queues.
    let edited: Vec<Value> = assignments
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a["task"] = json!(format!("{} [demo:hold]", a["task"].as_str().unwrap()));
            a
        })
        .collect();
    let confirmed = server.post_ok(
        "/api/start_assignments",
        json!({"parent_session_id": zid, "assignments": edited}),
    );
    assert_eq!(confirmed["started"].as_array().unwrap().len(), 2);
    assert_eq!(confirmed["queued_count"], 1);
    assert_eq!(
        confirmed["queued"][0]["department"],
        assignments[2]["department"]
    );
    assert_eq!(confirmed["active_department_sessions"], 2);
    let status = server.get_ok("/api/status");
    assert_eq!(status["queue"].as_array().unwrap().len(), 1);
    assert_eq!(status["active_zhongshu_sessions"], 1);
    let first = confirmed["started"][0]["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = confirmed["started"][1]["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(session(&status, &first)["report_status"], "pending");
    assert_eq!(session(&status, &first)["parent_session_id"], zid.as_str());

    // Releasing the first department: its report registers, the queue moves up.
    wait_for(Duration::from_secs(10), "department to hold", || {
        let s = server.get_ok("/api/status");
        session(&s, &first)["transcript_preview"]
            .to_string()
            .contains("Holding")
            .then_some(())
    });
    server.post_ok(
        "/api/session_input",
        json!({"session_id": first, "input": "go"}),
    );
    let third = wait_for(
        Duration::from_secs(15),
        "the queued department to start",
        || {
            let s = server.get_ok("/api/status");
            let started: Vec<String> = s["department_sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_string())
                .filter(|id| *id != first && *id != second)
                .collect();
            (s["queue"].as_array().unwrap().is_empty() && started.len() == 1)
                .then(|| started[0].clone())
        },
    );
    let status = server.get_ok("/api/status");
    assert_eq!(session(&status, &first)["report_status"], "reported");
    assert_eq!(
        session(&status, &first)["auto_close_reason"],
        "agent_idle_after_report"
    );

    for id in [&second, &third] {
        wait_for(Duration::from_secs(10), "department to hold", || {
            let s = server.get_ok("/api/status");
            session(&s, id)["transcript_preview"]
                .to_string()
                .contains("Holding")
                .then_some(())
        });
        server.post_ok(
            "/api/session_input",
            json!({"session_id": id, "input": "go"}),
        );
    }

    // Inbox: peek keeps results unread, a normal read marks them read.
    let inbox = wait_for(Duration::from_secs(15), "three results", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        (inbox["unread_count"] == 3).then_some(inbox)
    });
    assert_eq!(
        server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=true"))["unread_count"],
        3
    );
    let sessions = server.get_ok("/api/zhongshu_sessions");
    assert_eq!(sessions["zhongshu_sessions"][0]["unread_result_count"], 3);
    assert_eq!(sessions["zhongshu_sessions"][0]["report_count"], 3);
    assert_eq!(
        sessions["zhongshu_sessions"][0]["child_departments"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let read = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}"));
    assert_eq!(read["unread_results"].as_array().unwrap().len(), 3);
    let again = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}"));
    assert_eq!(again["unread_count"], 0);
    assert_eq!(again["read_results"].as_array().unwrap().len(), 3);

    // Handoff packets and archived reports are on disk; the audit log tells the story.
    for result in inbox["unread_results"].as_array().unwrap() {
        assert_eq!(result["source"], "mailbox");
        let packet = std::fs::read_to_string(result["handoff_packet"].as_str().unwrap()).unwrap();
        assert!(packet.starts_with("# Codex Department Handoff"));
        assert!(packet.contains("## Objective"));
        // The same packet through the API (the dashboard shows it from there).
        let served = server.get_ok(&format!(
            "/api/handoff_packet?id={zid}&report_id={}",
            result["report_id"].as_str().unwrap()
        ));
        assert_eq!(served["markdown"], packet.as_str());
        assert_eq!(served["path"], result["handoff_packet"]);
        assert!(std::path::Path::new(result["mailbox_file"].as_str().unwrap()).is_file());
    }
    let incoming = server
        .state_dir()
        .join(format!("codex_governance_mailbox/{zid}/incoming"));
    assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
    let events: Vec<String> = audit_events(&server)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    for event in [
        "session_started",
        "zhongshu_plan_registered",
        "assignment_queued",
        "result_registered",
        "session_closed",
        "session_exited",
    ] {
        assert!(
            events.iter().any(|e| e == event),
            "no {event} in {events:?}"
        );
    }
    assert_eq!(
        events.iter().filter(|e| *e == "result_registered").count(),
        3
    );

    // The Zhongshu terminal got a notification.
    wait_for(
        Duration::from_secs(10),
        "a notification in the Zhongshu terminal",
        || {
            let s = server.get_ok("/api/status");
            session(&s, &zid)["transcript_preview"]
                .to_string()
                .contains("[launcher] Result from")
                .then_some(())
        },
    );

    // A department that exits silently gets a launcher fallback.
    let silent = server.post_ok(
        "/api/start_department",
        json!({"department": "zhilibu", "task": "nothing [demo:silent]"}),
    );
    let silent_id = silent["session"]["id"].as_str().unwrap().to_string();
    let fallback = wait_for(Duration::from_secs(20), "the launcher fallback", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        inbox["unread_results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["department_session_id"] == silent_id.as_str())
            .cloned()
    });
    assert_eq!(fallback["source"], "launcher_fallback");
    assert_eq!(fallback["needs_user_confirmation"], true);
    assert!(!fallback["risks"].as_array().unwrap().is_empty());

    // Context snapshot, inline restart of the running Zhongshu.
    let context = server.get_ok(&format!("/api/zhongshu_context?id={zid}"));
    assert_eq!(context["context"]["task"], "Improve the docs and the tests");
    assert_eq!(context["context"]["reports"].as_array().unwrap().len(), 4);
    assert_eq!(context["context"]["children"].as_array().unwrap().len(), 4);
    let inline = server.post_ok("/api/restart_zhongshu_session", json!({"session_id": zid}));
    assert_eq!(inline["resumed_inline"], true);

    // Closed, then restarted from the context snapshot: plan and results carried over, read.
    server.post_ok("/api/close_session", json!({"session_id": zid}));
    wait_for(Duration::from_secs(10), "Zhongshu to exit", || {
        (session(&server.get_ok("/api/status"), &zid)["status"] == "exited").then_some(())
    });
    let restarted = server.post_ok(
        "/api/restart_zhongshu_session",
        json!({"session_id": zid, "model": "gpt-5.4"}),
    );
    assert_eq!(restarted["resumed_inline"], false);
    let new_id = restarted["session"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, zid);
    assert_eq!(
        restarted["session"]["resumed_from_session_id"],
        zid.as_str()
    );
    assert_eq!(restarted["session"]["model"], "gpt-5.4");
    let carried = server.get_ok(&format!("/api/zhongshu_inbox?id={new_id}&peek=1"));
    assert_eq!(carried["read_results"].as_array().unwrap().len(), 4);
    assert_eq!(carried["unread_count"], 0);

    // A server restart keeps everything; live sessions of the old run keep running in the PTY
    // host, taken over by the new server (same process).
    let pid = session(&server.get_ok("/api/status"), &new_id)["pid"].clone();
    let server = server.restart(&[], FAST);
    let status = server.get_ok("/api/status");
    assert_eq!(status["zhongshu_sessions"].as_array().unwrap().len(), 2);
    assert_eq!(session(&status, &new_id)["status"], "running");
    assert_eq!(session(&status, &new_id)["pid"], pid);
    assert_eq!(session(&status, &zid)["status"], "exited");
    let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
    assert_eq!(inbox["read_results"].as_array().unwrap().len(), 3);
    assert_eq!(inbox["unread_results"][0]["source"], "launcher_fallback");
    assert_eq!(
        server.get_ok(&format!("/api/zhongshu_plan?id={zid}"))["plan"]["assignments"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Mailboxes of interrupted sessions are still collected.
    let incoming = server
        .state_dir()
        .join(format!("codex_governance_mailbox/{new_id}/incoming"));
    let late = json!({"parent_session_id": new_id, "department_session_id": "zhilibu-late", "department": "zhilibu", "summary": "late report"});
    std::fs::write(incoming.join("late.json"), late.to_string()).unwrap();
    wait_for(Duration::from_secs(10), "the late report", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={new_id}&peek=1"));
        (inbox["unread_count"] == 1).then_some(())
    });
}

#[test]
fn auto_dispatch_starts_selected_assignments_at_registration() {
    let server = TestServer::start_with(&["--dispatch", "auto", "--max-departments", "1"], FAST);
    let zid = start_zhongshu(&server, "auto task");
    let plan = wait_plan(&server, &zid);
    let auto = &plan["plan"]["auto_dispatch"];
    assert_eq!(auto["started"].as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(auto["queued_count"], 2);
    assert_eq!(plan["plan"]["needs_confirmation"], false);
    // All three eventually report (one slot, FIFO).
    wait_for(Duration::from_secs(30), "three results", || {
        (server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"))["unread_count"] == 3)
            .then_some(())
    });
}

#[test]
fn mailbox_files_register_once_and_invalid_ones_are_kept_with_a_reason() {
    let server = TestServer::start_with(&[], FAST);
    let zid = start_zhongshu(&server, "mailbox task");
    let incoming = server
        .state_dir()
        .join(format!("codex_governance_mailbox/{zid}/incoming"));
    let report = json!({
        "parent_session_id": zid,
        "department_session_id": "zhilibu-1",
        "department": "zhilibu",
        "summary": "by hand",
        "report_id": "r-1",
        "risks": ["one", "two"],
        "verification": ["cargo test"],
    });
    std::fs::write(incoming.join("a.json"), report.to_string()).unwrap();
    std::fs::write(incoming.join("b.json"), report.to_string()).unwrap();
    std::fs::write(incoming.join("broken.json"), "{\"parent_session_id\": ").unwrap();
    std::fs::write(
        incoming.join("missing.json"),
        json!({"parent_session_id": zid}).to_string(),
    )
    .unwrap();
    std::fs::write(incoming.join(".partial.tmp"), "{").unwrap();

    let inbox = wait_for(Duration::from_secs(15), "the files to be judged", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        (inbox["rejected"].as_array().unwrap().len() == 2).then_some(inbox)
    });
    assert_eq!(inbox["unread_count"], 1, "{inbox}");
    let result = &inbox["unread_results"][0];
    assert_eq!(result["report_id"], "r-1");
    assert_eq!(result["verifications_run"], json!(["cargo test"]));
    let reasons: Vec<String> = inbox["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("invalid JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("missing required field: department_session_id")),
        "{reasons:?}"
    );
    let rejected_dir = server
        .state_dir()
        .join(format!("codex_governance_mailbox/{zid}/rejected"));
    assert!(rejected_dir.join("broken.json").is_file());
    assert!(rejected_dir.join("broken.json.error.txt").is_file());
    let archive = server
        .state_dir()
        .join(format!("codex_governance_mailbox/{zid}/archive"));
    assert!(archive.join("a.json").is_file() && archive.join("b.json").is_file());
    assert!(
        incoming.join(".partial.tmp").is_file(),
        "temporary files are left alone"
    );
    let events = audit_events(&server);
    let count = |name: &str| events.iter().filter(|e| e["event"] == name).count();
    assert_eq!(count("result_registered"), 1);
    assert_eq!(count("result_rejected"), 2);
}

#[test]
fn a_half_written_report_waits_and_a_late_real_report_replaces_the_fallback() {
    let server = TestServer::start_with(&[], FAST);
    let zid = start_zhongshu(&server, "mailbox edge cases");
    let incoming = server
        .state_dir()
        .join(format!("codex_governance_mailbox/{zid}/incoming"));
    let inbox = || server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
    let find = |department_session: &str| -> Vec<Value> {
        all_results(&inbox())
            .into_iter()
            .filter(|r| r["department_session_id"] == department_session)
            .collect()
    };

    // Written in two steps, not atomically: it is retried while young, never rejected.
    let report = json!({"parent_session_id": zid, "department_session_id": "zhilibu-slow",
        "department": "zhilibu", "summary": "written slowly"})
    .to_string();
    let (head, tail) = report.split_at(report.len() / 2);
    let slow = incoming.join("slow.json");
    std::fs::write(&slow, head).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&slow)
        .unwrap();
    file.write_all(tail.as_bytes()).unwrap();
    drop(file);
    let registered = wait_for(Duration::from_secs(10), "the slow report", || {
        find("zhilibu-slow").first().cloned()
    });
    assert_eq!(registered["summary"], "written slowly");
    assert_eq!(inbox()["rejected"], json!([]));
    let packet_url = format!("/api/handoff_packet?id={zid}&report_id=zhilibu-slow");
    assert_eq!(server.get_ok(&packet_url)["truncated"], false);
    // A packet replaced by a symlink to a file outside is not served.
    let secret = server.repo_path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-CONTENT").unwrap();
    let packet = registered["handoff_packet"].as_str().unwrap();
    std::fs::remove_file(packet).unwrap();
    std::os::unix::fs::symlink(&secret, packet).unwrap();
    let refused = server.get(&packet_url).assert_failure(404);
    assert!(refused.contains("not available"), "{refused}");
    assert!(!refused.contains("TOP-SECRET"), "{refused}");
    std::fs::remove_file(packet).unwrap();
    server.get(&packet_url).assert_failure(404);

    // A silent department gets the launcher fallback; its own report, arriving later,
    // replaces it (same report id: the department session id).
    let silent = server.post_ok(
        "/api/start_department",
        json!({"department": "zhilibu", "task": "nothing [demo:silent]", "parent_session_id": zid}),
    );
    let silent_id = silent["session"]["id"].as_str().unwrap().to_string();
    wait_for(Duration::from_secs(20), "the launcher fallback", || {
        find(&silent_id)
            .first()
            .filter(|r| r["source"] == "launcher_fallback")
            .cloned()
    });
    let late = json!({"parent_session_id": zid, "department_session_id": silent_id,
        "department": "zhilibu", "summary": "the real report, late"});
    std::fs::write(incoming.join("late.json"), late.to_string()).unwrap();
    let replaced = wait_for(Duration::from_secs(10), "the real report", || {
        find(&silent_id)
            .first()
            .filter(|r| r["source"] != "launcher_fallback")
            .cloned()
    });
    assert_eq!(find(&silent_id).len(), 1, "replaced, not added");
    assert_eq!(replaced["summary"], "the real report, late");
    assert_eq!(replaced["needs_user_confirmation"], false);
    let packet = replaced["handoff_packet"].as_str().unwrap();
    assert!(std::fs::read_to_string(packet)
        .unwrap()
        .contains("the real report, late"));
    let updated: Vec<Value> = audit_events(&server)
        .into_iter()
        .filter(|e| e["event"] == "result_updated")
        .collect();
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["replaced"], "launcher_fallback");
    assert_eq!(updated[0]["report_id"], silent_id.as_str());
}

/// Reads the push stream until `wanted` appears (or panics after the timeout).
fn read_events_until(stream: &mut std::net::TcpStream, wanted: &str) -> String {
    use std::io::Read;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !seen.contains(wanted) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {wanted:?} in {seen:?}"
        );
        if let Ok(n) = stream.read(&mut buffer) {
            assert!(n > 0, "stream closed; got {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    }
    seen
}

#[test]
fn limits_aliases_push_and_what_survives_a_restart() {
    // Agents that never finish: slots stay busy.
    let args = [
        "--agent",
        "custom",
        "--agent-command",
        "sleep 300",
        "--max-departments",
        "1",
    ];
    let server = TestServer::start_with(&args, &[]);

    // The push stream greets, then announces changes.
    use std::io::Write;
    let mut events = std::net::TcpStream::connect(server.host()).unwrap();
    events
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        events,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.host()
    )
    .unwrap();
    let greeting = read_events_until(&mut events, "event: hello");
    assert!(greeting.contains("text/event-stream"), "{greeting}");

    // The `start_zhongshu` alias starts a session like `start_zhongshu_session`.
    let started = server.post_ok("/api/start_zhongshu", json!({"task": "limits"}));
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    assert_eq!(started["session"]["session_kind"], "zhongshu");
    read_events_until(&mut events, "event: sessions");

    // A department for this Zhongshu takes the only slot; a second direct start is refused.
    let first = server.post_ok(
        "/api/start_department_for_zhongshu",
        json!({"zhongshu_session_id": zid, "department": "gongchengbu", "task": "build it"}),
    );
    assert_eq!(first["session"]["parent_session_id"], zid.as_str());
    assert_eq!(first["session"]["department"], "gongchengbu");
    let refused = server
        .post_json(
            "/api/start_department",
            &json!({"department": "lingyubu", "task": "more", "parent_session_id": zid})
                .to_string(),
        )
        .assert_failure(400);
    assert!(refused.contains("department limit reached"), "{refused}");

    // A confirmed plan queues what does not fit.
    server.post_ok(
        "/api/report_zhongshu_plan",
        json!({"zhongshu_session_id": zid, "plan": {"summary": "s", "assignments": [
            {"department": "lingyubu", "task": "queued work"}]}}),
    );
    let confirmed = server.post_ok(
        "/api/start_assignments",
        json!({"parent_session_id": zid, "assignments": [{"department": "lingyubu", "task": "queued work"}]}),
    );
    assert_eq!(confirmed["queued_count"], 1);
    server.post_ok(
        "/api/session_input",
        json!({"session_id": zid, "input": "remember this line"}),
    );
    let shell = server.post_ok(
        "/api/browser_terminal/start",
        json!({"shell": "/bin/sh", "shell_args": ["-c", "sleep 300"]}),
    );
    let terminal_id = shell["terminal"]["id"].as_str().unwrap().to_string();
    drop(events);

    // After a restart: input history and terminals are kept, the old department still runs (in
    // the PTY host), and the queued assignment is not lost: it starts once the slot is free.
    let server = server.restart(&args, &[]);
    let status = server.get_ok("/api/status");
    let running: Vec<String> = status["department_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "running")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(running.len(), 1, "{status}");
    assert_eq!(status["queue"].as_array().unwrap().len(), 1);
    server.post_ok("/api/close_session", json!({"session_id": running[0]}));
    let history = &session(&status, &zid)["input_history"];
    assert_eq!(history[0]["text"], "remember this line", "{history}");
    assert_eq!(history[0]["ok"], true);
    let terminals = server.get_ok("/api/browser_terminals");
    assert!(
        terminals["terminals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == terminal_id.as_str()),
        "{terminals}"
    );
    wait_for(
        Duration::from_secs(10),
        "the queued assignment to start",
        || {
            let status = server.get_ok("/api/status");
            let started = status["department_sessions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| {
                    s["task"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("queued work")
                        && s["status"] == "running"
                });
            (started && status["queue"].as_array().unwrap().is_empty()).then_some(())
        },
    );
}

#[test]
fn a_scripted_custom_agent_reports_through_the_mailbox() {
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("fake-agent.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
echo "fake agent $CODEX_GOVERNANCE_ROLE $CODEX_GOVERNANCE_SESSION_ID model=$1"
if [ "$CODEX_GOVERNANCE_ROLE" = department ]; then
  printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"fake done","changed_files":["src/lib.rs"]}' \
    "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" > "$CODEX_GOVERNANCE_MAILBOX/.tmp"
  mv "$CODEX_GOVERNANCE_MAILBOX/.tmp" "$CODEX_GOVERNANCE_MAILBOX/$CODEX_GOVERNANCE_SESSION_ID.json"
  exit 0
fi
exec sleep 300
"#,
    )
    .unwrap();
    let command = format!("sh {} {{model}}", script.display());
    let server = TestServer::start_with(&["--agent", "custom", "--agent-command", &command], &[]);
    assert_eq!(server.get_ok("/api/status")["agent"]["name"], "custom");
    let zid = start_zhongshu(&server, "fake task");
    let plan = server.post_ok(
        "/api/report_zhongshu_plan",
        json!({"zhongshu_session_id": zid, "plan": {"summary": "s", "assignments": [
            {"department": "lingyubu", "task": "implement", "verify_commands": ["cargo test"]},
            {"department": "menxia", "task": "review", "selected": false}
        ]}}),
    );
    assert_eq!(plan["plan"]["assignments"][1]["selected"], false);
    assert_eq!(
        plan["plan"]["assignments"][0]["verify"],
        json!(["cargo test"])
    );
    let plan_assignments = plan["plan"]["assignments"].clone();
    let confirmed = server.post_ok(
        "/api/start_assignments",
        json!({"parent_session_id": zid, "assignments": plan_assignments}),
    );
    assert_eq!(confirmed["started"].as_array().unwrap().len(), 1);
    let result = wait_for(Duration::from_secs(15), "the fake report", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        inbox["unread_results"].as_array().unwrap().first().cloned()
    });
    assert_eq!(result["summary"], "fake done");
    assert_eq!(result["changed_files"], json!(["src/lib.rs"]));
    let log = std::fs::read_to_string(
        server.get_ok("/api/status")["department_sessions"][0]["log_path"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(
        log.contains("fake agent department") && log.contains("model=gpt-5.4"),
        "{log}"
    );
}

#[test]
fn bad_inputs_answer_400_in_the_failure_shape() {
    let server = TestServer::start_with(&[], FAST);
    let zid = start_zhongshu(&server, "validation task");
    let traversal = "../../etc";
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/api/start_zhongshu_session", json!({}), "task is required"),
        (
            "/api/start_zhongshu_session",
            json!({"task": " \r\n "}),
            "task is required",
        ),
        (
            "/api/start_zhongshu_session",
            json!({"task": "x", "model": "gpt-0"}),
            "unknown model: gpt-0",
        ),
        (
            "/api/start_zhongshu_session",
            json!({"task": "x", "agent": "gpt-cli"}),
            "unknown agent profile",
        ),
        ("/api/start_zhongshu", json!({"task": 5}), "invalid request"),
        (
            "/api/restart_zhongshu_session",
            json!({}),
            "session_id is required",
        ),
        (
            "/api/restart_zhongshu_session",
            json!({"session_id": "zhongshu-1"}),
            "unknown session",
        ),
        (
            "/api/restart_zhongshu_session",
            json!({"session_id": traversal}),
            "invalid session_id",
        ),
        (
            "/api/report_zhongshu_plan",
            json!({"session_id": zid, "assignments": [{"department": "nope", "task": "t"}]}),
            "unknown department in plan: nope",
        ),
        (
            "/api/report_zhongshu_plan",
            json!({"session_id": zid}),
            "assignments is required",
        ),
        (
            "/api/report_zhongshu_plan",
            json!({"session_id": zid, "assignments": [{"department": "zhilibu", "task": "t", "model": "x"}]}),
            "unknown model: x",
        ),
        (
            "/api/report_zhongshu_plan",
            json!({"session_id": "zhongshu-404", "assignments": []}),
            "unknown session",
        ),
        (
            "/api/start_assignments",
            json!({"assignments": []}),
            "parent_session_id is required",
        ),
        (
            "/api/start_assignments",
            json!({"parent_session_id": zid, "assignments": [{"department": "zhilibu", "task": ""}]}),
            "task is required",
        ),
        (
            "/api/start_assignments",
            json!({"parent_session_id": zid, "assignments": []}),
            "no assignment is selected",
        ),
        (
            "/api/start_department",
            json!({"department": "nope", "task": "t"}),
            "unknown department: nope",
        ),
        (
            "/api/start_department",
            json!({"department": "zhilibu"}),
            "task is required",
        ),
        (
            "/api/start_department_for_zhongshu",
            json!({"department": "zhilibu", "task": "t"}),
            "parent_session_id is required",
        ),
        (
            "/api/start_department",
            json!({"department": "zhilibu", "task": "t", "parent_session_id": "a/b"}),
            "invalid parent_session_id",
        ),
        (
            "/api/session_input",
            json!({"session_id": zid}),
            "input is required",
        ),
        (
            "/api/session_input",
            json!({"session_id": "zhilibu-1", "input": "x"}),
            "unknown session",
        ),
        (
            "/api/session_input",
            json!({"session_id": "a".repeat(4096), "input": "x"}),
            "invalid session_id",
        ),
        (
            "/api/close_session",
            json!({"session_id": "zhongshu\u{0}1"}),
            "invalid session_id",
        ),
        ("/api/browser_terminal/close", json!({}), "id is required"),
        (
            "/api/browser_terminal/close",
            json!({"id": "term-404"}),
            "unknown terminal",
        ),
        (
            "/api/session_browser_terminal/start",
            json!({"session_id": "zhilibu-404"}),
            "unknown session",
        ),
        (
            "/api/browser_terminal/start",
            json!({"shell": "/no/such/shell"}),
            "cannot start shell",
        ),
        (
            "/api/plan_assignments",
            json!({"task": ""}),
            "task is required",
        ),
    ];
    for (path, body, expected) in cases {
        let error = server
            .post_json(path, &body.to_string())
            .assert_failure(400);
        assert!(
            error.contains(expected),
            "{path} {body}: got {error:?}, want {expected:?}"
        );
    }
    for path in [
        "/api/zhongshu_plan",
        "/api/zhongshu_plan?id=zhongshu-404",
        "/api/zhongshu_inbox?id=..%2F..%2Fetc",
        "/api/zhongshu_inbox?id=%2e%2e",
        "/api/zhongshu_context?id=",
        "/api/zhongshu_context?id=zhilibu%5C1",
        "/api/handoff_packet?id=zhongshu-404&report_id=r",
        "/api/handoff_packet?id=..%2Fetc&report_id=r",
        "/api/handoff_packet?report_id=r",
    ] {
        server.get(path).assert_failure(400);
    }
    let packet = |query: &str| server.get(&format!("/api/handoff_packet?id={zid}{query}"));
    let unknown = packet("&report_id=nope").assert_failure(400);
    assert!(unknown.contains("unknown report_id: nope"), "{unknown}");
    let missing = packet("").assert_failure(400);
    assert!(missing.contains("report_id is required"), "{missing}");
    server
        .post_json("/api/start_zhongshu_session", "{\"task\": ")
        .assert_failure(400);
    // Nothing escaped the state directory.
    assert!(!server.repo_path().join("etc").exists());
}

#[test]
fn codex_on_path_is_the_default_agent_and_gets_its_command_line() {
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("codex");
    // Lists its flags for --help; otherwise prints what it was given, then idles like an
    // interactive CLI.
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         if [ \"$1\" = --help ]; then printf '  --no-daemon\\n  --add-dir <DIR>\\n'; exit 0; fi\n\
         echo \"argv: $1 $2 $3 $4 $5 $6 $7\"\n\
         echo \"prompt chars: ${#8}\"\n\
         echo \"prompt file: $CODEX_GOVERNANCE_PROMPT_FILE\"\n\
         echo \"role: $CODEX_GOVERNANCE_ROLE session: $CODEX_GOVERNANCE_SESSION_ID\"\n\
         exec sleep 300\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let server = TestServer::start_with(&[], &[("PATH", &path), ("CODEX_GOVERNANCE_AGENT", "")]);
    let status = server.get_ok("/api/status");
    assert_eq!(status["agent"]["name"], "codex", "{}", status["agent"]);
    assert_eq!(status["agent"]["available"], true);

    let zid = start_zhongshu(&server, "use codex");
    let zhongshu = session(&server.get_ok("/api/status"), &zid).clone();
    let log_path = zhongshu["log_path"].as_str().unwrap().to_string();
    let prompt_path = zhongshu["prompt_path"].as_str().unwrap().to_string();
    let state = server.state_dir().canonicalize().unwrap();
    assert!(log_path.starts_with(&state.join("codex_governance_logs").display().to_string()));
    assert!(prompt_path.starts_with(&state.join("codex_governance_prompts").display().to_string()));
    let log = wait_for(Duration::from_secs(10), "the fake codex output", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains("role:").then_some(log)
    });
    let repo = server.repo.path().canonicalize().unwrap();
    assert!(
        log.contains(&format!(
            "argv: --no-daemon --add-dir {} -m gpt-5.5 --cd {}",
            state
                .join("codex_governance_mailbox")
                .join(&zid)
                .join("incoming")
                .display(),
            repo.display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("prompt file: {prompt_path}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("role: zhongshu session: {zid}")),
        "{log}"
    );
    let prompt = std::fs::read_to_string(&prompt_path).unwrap();
    // dash counts bytes, a UTF-8 aware shell characters.
    let whole = [prompt.len(), prompt.chars().count()]
        .iter()
        .any(|n| log.contains(&format!("prompt chars: {n}\r")));
    assert!(whole, "the prompt goes in as one argument: {log}");
}

#[test]
fn results_arriving_together_make_one_notice_line() {
    let args = ["--agent", "custom", "--agent-command", "sleep 300"];
    let server = TestServer::start_with(&args, &[]);
    let zid = start_zhongshu(&server, "batched notices");
    let incoming = server
        .state_dir()
        .join(format!("codex_governance_mailbox/{zid}/incoming"));
    for department in ["zhilibu", "gongchengbu"] {
        let report = json!({"parent_session_id": zid, "department_session_id": format!("{department}-x"),
            "department": department, "summary": format!("{department} done")});
        std::fs::write(
            incoming.join(format!("{department}.json")),
            report.to_string(),
        )
        .unwrap();
    }
    let log_path = session(&server.get_ok("/api/status"), &zid)["log_path"]
        .as_str()
        .unwrap()
        .to_string();
    let marker = "[launcher] Result from";
    wait_for(Duration::from_secs(10), "the notice", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains(marker).then_some(())
    });
    // Longer than the batch window: no second line follows.
    std::thread::sleep(Duration::from_millis(1_500));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches(marker).count(), 1, "{log}");
    let line = log.lines().find(|l| l.contains(marker)).unwrap();
    assert!(
        line.contains("zhilibu done") && line.contains("gongchengbu done"),
        "{line}"
    );
    assert!(line.contains(&format!("zhongshu_inbox?id={zid}")), "{line}");
}

//! What agents announce (OSC 7501) and what the launcher does with it: `agent_state` in session
//! payloads, never `stalled` while waiting, closing a reported department after its turn (or
//! after the grace period), plans reported as mailbox files, and the original dashboard's
//! drop-in expectations (empty plans, framing headers, headers on refusals).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{all_results, wait_for, TestServer};
use serde_json::{json, Value};

const FAST: &[(&str, &str)] = &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")];

fn session(server: &TestServer, id: &str) -> Value {
    server.get_ok("/api/status")["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no session {id}"))
}

fn start_zhongshu(server: &TestServer, task: &str) -> String {
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": task}));
    started["session"]["id"].as_str().unwrap().to_string()
}

/// A custom agent script: `body` runs as the department, the Zhongshu only idles.
fn custom_agent(dir: &std::path::Path, department_body: &str) -> String {
    let script = dir.join("agent.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$CODEX_GOVERNANCE_ROLE\" = department ]; then\n{department_body}\nfi\nexec sleep 300\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("sh {}", script.display())
}

/// A server whose agent is the custom script, with this close grace; a Zhongshu; and one
/// department started under it. Returns the server, the department's id and the script's folder.
fn one_custom_department(
    department_body: &str,
    grace: &str,
) -> (TestServer, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let command = custom_agent(dir.path(), department_body);
    let server = TestServer::start_with(
        &[
            "--agent",
            "custom",
            "--agent-command",
            &command,
            "--close-grace-seconds",
            grace,
        ],
        &[],
    );
    let zid = start_zhongshu(&server, "custom agents");
    let started = server.post_ok(
        "/api/start_department",
        json!({"department": "zhilibu", "task": "report, then see", "parent_session_id": zid}),
    );
    let did = started["session"]["id"].as_str().unwrap().to_string();
    (server, did, dir)
}

const REPORT: &str = r#"printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"done"}' "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" > "$CODEX_GOVERNANCE_MAILBOX/.r" && mv "$CODEX_GOVERNANCE_MAILBOX/.r" "$CODEX_GOVERNANCE_MAILBOX/$CODEX_GOVERNANCE_SESSION_ID.json""#;

#[test]
fn announced_states_show_in_sessions_and_waiting_is_never_stalled() {
    // A one-second stale limit: a waiting agent would be "stalled" long before the checks end.
    let server = TestServer::start_with(&["--stale-seconds", "1"], FAST);
    let zid = start_zhongshu(&server, "hold on [demo:hold]");
    wait_for(Duration::from_secs(20), "the demo plan", || {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
        (plan["plan"]["ready"] == true).then_some(())
    });
    let zhongshu = wait_for(Duration::from_secs(10), "the Zhongshu to wait", || {
        let s = session(&server, &zid);
        (s["agent_state"] == "waiting_for_input").then_some(s)
    });
    assert!(
        zhongshu["agent_state_since"].as_str().is_some(),
        "{zhongshu}"
    );

    let started = server.post_ok(
        "/api/start_department",
        json!({"department": "zhilibu", "task": "wait for me [demo:hold]", "parent_session_id": zid}),
    );
    let did = started["session"]["id"].as_str().unwrap().to_string();
    assert!(
        started["session"]["browser_terminal_url"]
            .as_str()
            .is_some_and(|u| u.contains("token=")),
        "a department is watchable from its start: {}",
        started["session"]
    );
    wait_for(Duration::from_secs(10), "the department to wait", || {
        (session(&server, &did)["agent_state"] == "waiting_for_input").then_some(())
    });
    std::thread::sleep(Duration::from_millis(2500));
    let waiting = session(&server, &did);
    assert_eq!(waiting["heartbeat_status"], "active", "{waiting}");
    assert!(waiting["idle_seconds"].as_u64().unwrap() >= 2, "{waiting}");

    // Answered, it works, reports, says it is done, and is closed at once.
    server.post_ok(
        "/api/session_input",
        json!({"session_id": did, "input": "go"}),
    );
    let closed = wait_for(Duration::from_secs(15), "the department to close", || {
        let s = session(&server, &did);
        (s["status"] == "exited").then_some(s)
    });
    assert_eq!(closed["auto_close_reason"], "agent_idle_after_report");
    assert_eq!(closed["agent_state"], "done");
}

#[test]
fn a_silent_agent_that_reported_is_closed_after_the_grace_period() {
    let (server, did, _dir) =
        one_custom_department(&format!("{REPORT}\necho reported; exec sleep 300"), "2");
    let reported = wait_for(Duration::from_secs(10), "the report", || {
        let s = session(&server, &did);
        (s["report_status"] == "reported").then_some(s)
    });
    // Reported but not killed mid-turn: it keeps running through the grace period.
    assert_eq!(reported["status"], "running", "{reported}");
    assert_eq!(reported["agent_state"], "unknown");
    let closed = wait_for(Duration::from_secs(10), "the grace period to end", || {
        let s = session(&server, &did);
        (s["status"] == "exited").then_some(s)
    });
    assert_eq!(
        closed["auto_close_reason"], "report_grace_elapsed",
        "{closed}"
    );
    assert_eq!(closed["auto_closed"], true);
}

#[test]
fn an_agent_that_says_it_works_and_prints_is_not_cut_off() {
    // Reports, then keeps working (announced, printing) for 4 s, then says it is done.
    let body = format!(
        "printf '\\033]7501;state=working\\033\\\\'\n{REPORT}\nfor i in 1 2 3 4 5 6 7 8; do echo still working $i; sleep 0.5; done\nprintf '\\033]7501;state=done\\033\\\\'\nexec sleep 300"
    );
    let (server, did, _dir) = one_custom_department(&body, "1");
    wait_for(Duration::from_secs(10), "the report", || {
        (session(&server, &did)["report_status"] == "reported").then_some(())
    });
    std::thread::sleep(Duration::from_millis(2500));
    let working = session(&server, &did);
    assert_eq!(working["status"], "running", "closed mid-turn: {working}");
    assert_eq!(working["agent_state"], "working");
    let closed = wait_for(Duration::from_secs(15), "the turn to end", || {
        let s = session(&server, &did);
        (s["status"] == "exited").then_some(s)
    });
    assert_eq!(closed["auto_close_reason"], "agent_idle_after_report");
    let log = std::fs::read_to_string(closed["log_path"].as_str().unwrap()).unwrap();
    assert!(log.contains("still working 8"), "{log}");
}

#[test]
fn a_plan_file_in_the_mailbox_registers_like_the_post() {
    let dir = tempfile::tempdir().unwrap();
    let command = custom_agent(dir.path(), "exec sleep 300");
    let server = TestServer::start_with(&["--agent", "custom", "--agent-command", &command], &[]);
    let zid = start_zhongshu(&server, "plan by file");
    let incoming = session(&server, &zid)["mailbox"]["incoming"]
        .as_str()
        .unwrap()
        .to_string();
    let write = |name: &str, body: &Value| {
        let temp = std::path::Path::new(&incoming).join(format!(".{name}"));
        std::fs::write(&temp, body.to_string()).unwrap();
        std::fs::rename(&temp, std::path::Path::new(&incoming).join(name)).unwrap();
    };

    // Invalid: rejected with the same message the route gives, nothing registered.
    write(
        "bad-plan.json",
        &json!({"kind": "zhongshu_plan", "summary": "s", "assignments": [{"department": "nobody", "task": "x"}]}),
    );
    let inbox = wait_for(Duration::from_secs(10), "the rejection", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        (!inbox["rejected"].as_array().unwrap().is_empty()).then_some(inbox)
    });
    assert!(
        inbox["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("unknown department in plan: nobody"),
        "{inbox}"
    );
    assert_eq!(
        server.get_ok(&format!("/api/zhongshu_plan?id={zid}"))["plan"]["ready"],
        false
    );

    // Another session's id is refused.
    write(
        "foreign-plan.json",
        &json!({"kind": "zhongshu_plan", "session_id": "zhongshu-1", "assignments": []}),
    );
    wait_for(Duration::from_secs(10), "the second rejection", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        (inbox["rejected"].as_array().unwrap().len() == 2).then_some(())
    });

    write(
        "plan.json",
        &json!({"kind": "zhongshu_plan", "summary": "by file", "assignments": [
            {"department": "zhilibu", "task": "docs"}]}),
    );
    let plan = wait_for(Duration::from_secs(10), "the plan", || {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
        (plan["plan"]["ready"] == true).then_some(plan)
    });
    assert_eq!(plan["plan"]["source"], "mailbox");
    assert_eq!(plan["plan"]["summary"], "by file");
    assert_eq!(plan["plan"]["needs_confirmation"], true);
    let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
    assert!(
        all_results(&inbox).is_empty(),
        "a plan is not a result: {inbox}"
    );
    let archived = std::path::Path::new(&incoming)
        .parent()
        .unwrap()
        .join("archive/plan.json");
    assert!(archived.exists(), "the plan file is archived");
}

#[test]
fn an_empty_plan_never_asks_for_confirmation() {
    let server = TestServer::start_with(&[], FAST);
    let zid = start_zhongshu(&server, "nothing to do");
    let plan = server.post_ok(
        "/api/report_zhongshu_plan",
        json!({"session_id": zid, "summary": "nothing", "assignments": [], "needs_confirmation": true}),
    );
    assert_eq!(plan["plan"]["needs_confirmation"], false, "{plan}");
}

#[test]
fn terminal_pages_may_be_framed_by_listed_origins_and_refusals_carry_the_headers() {
    let server = TestServer::start_with(&["--allow-origin", "http://localhost:8000"], FAST);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "frame me"}));
    let url = started["browser_terminal"]["url"].as_str().unwrap();
    let path = &url[url.find("/terminal/").unwrap()..];
    let page = server.get(path);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-security-policy"),
        Some("frame-ancestors 'self' http://localhost:8000")
    );
    assert_eq!(page.header("x-frame-options"), None);
    // Everything else stays same-origin only.
    assert_eq!(
        server.get("/api/status").header("x-frame-options"),
        Some("SAMEORIGIN")
    );
    // The guard's own refusals carry the same hardening headers.
    let refused =
        server.raw(b"GET /api/status HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(refused.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(refused.header("referrer-policy"), Some("no-referrer"));
    let foreign = server.request(
        "POST",
        "/api/session_input",
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
        ],
        Some("{}"),
    );
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn the_original_dashboard_finds_what_it_reads() {
    let server = TestServer::start_with(&[], FAST);
    let first = start_zhongshu(&server, "first");
    let second = start_zhongshu(&server, "second");
    // Newest first: the original dashboard takes [0] as the latest session.
    let status = server.get_ok("/api/status");
    assert_eq!(status["sessions"][0]["id"], second.as_str());
    assert_eq!(status["zhongshu_sessions"][1]["id"], first.as_str());
    let listed = server.get_ok("/api/zhongshu_sessions");
    assert_eq!(listed["zhongshu_sessions"][0]["id"], second.as_str());

    // Its confirmation dialog reads the limits and model choices inside `plan`.
    let plan = server.get_ok(&format!("/api/zhongshu_plan?id={second}"));
    assert_eq!(plan["plan"]["max_department_sessions"], 2, "{plan}");
    assert_eq!(plan["plan"]["active_department_sessions"], 0);
    assert_eq!(plan["plan"]["model_choices"], json!(["gpt-5.5", "gpt-5.4"]));
    assert_eq!(plan["max_department_sessions"], 2);

    // Closing a running session's view leaves it named, as exited, until a new one is opened.
    let view = session(&server, &second);
    let view_id = view["browser_terminal_id"].as_str().unwrap().to_string();
    server.post_ok("/api/browser_terminal/close", json!({"id": view_id}));
    let closed = session(&server, &second);
    assert_eq!(closed["browser_terminal_id"], view_id.as_str());
    assert_eq!(closed["browser_terminal_status"], "exited");
    let reopened = server.post_ok(
        "/api/session_browser_terminal/start",
        json!({"session_id": second}),
    );
    assert_eq!(reopened["reused"], false);
    let now = session(&server, &second);
    assert_eq!(now["browser_terminal_id"], reopened["terminal"]["id"]);
    assert_eq!(now["browser_terminal_status"], "running");
}

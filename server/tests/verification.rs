//! Verified completion: the launcher runs the verification commands the governance rules give for
//! a department's changed paths in its worktree when its result registers, records the outcome,
//! types a failure into the department's session, and runs it again on request.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{all_results, git, wait_for, TestServer};
use serde_json::{json, Value};

/// A repository whose `code` department owns `*.txt` and verifies with `verify`.
fn server_with(verify: &str, timeout: u64) -> (TestServer, tempfile::TempDir) {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("shared.txt"), "base\n").unwrap();
    std::fs::write(dir.join(".gitignore"), ".tmp/\n").unwrap();
    std::fs::write(
        dir.join("governance.yaml"),
        format!(
            "departments:\n  code:\n    globs: [\"*.txt\"]\n    verify: [{verify}]\nverify_timeout_seconds: {timeout}\n"
        ),
    )
    .unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("agent.sh");
    // The department edits shared.txt, reports, and stays at its prompt (a shell reading lines).
    std::fs::write(
        &script,
        r#"#!/bin/sh
if [ "$CODEX_GOVERNANCE_ROLE" != department ]; then exec sleep 300; fi
echo edited-by-code > shared.txt
printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"edited","changed_files":["shared.txt"]}' \
  "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" > "$CODEX_GOVERNANCE_MAILBOX/.tmp-r"
mv "$CODEX_GOVERNANCE_MAILBOX/.tmp-r" "$CODEX_GOVERNANCE_MAILBOX/$CODEX_GOVERNANCE_SESSION_ID.json"
while read -r line; do echo "got: $line"; done
"#,
    )
    .unwrap();
    let command = format!("sh {}", script.display());
    let server = TestServer::start_in(
        repo,
        &[
            "--workspace",
            "worktree",
            "--close-grace-seconds",
            "120",
            "--agent",
            "custom",
            "--agent-command",
            &command,
        ],
        &[],
    );
    (server, scripts)
}

fn dispatch_code(server: &TestServer) -> (String, String) {
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "t"}));
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    let department = server.post_ok(
        "/api/start_department",
        json!({"parent_session_id": zid, "department": "code", "task": "edit shared.txt"}),
    );
    (
        zid,
        department["session"]["id"].as_str().unwrap().to_string(),
    )
}

fn finished_verification(server: &TestServer, zid: &str) -> Value {
    wait_for(
        Duration::from_secs(30),
        "the verification to finish",
        || {
            let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
            all_results(&inbox).first().and_then(|r| {
                let status = r["verification"]["status"].as_str().unwrap_or_default();
                (status == "passed" || status == "failed").then(|| r["verification"].clone())
            })
        },
    )
}

#[test]
fn a_passing_verification_is_recorded_with_its_commit_and_terminal() {
    let (server, _scripts) = server_with("\"grep -q edited-by-code shared.txt\"", 60);
    let (zid, department) = dispatch_code(&server);
    let verification = finished_verification(&server, &zid);
    assert_eq!(verification["status"], "passed", "{verification}");
    let commands = verification["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["command"], "grep -q edited-by-code shared.txt");
    assert_eq!(commands[0]["exit_code"], 0);
    // The verified commit holds the department's edit, on its branch.
    let status = server.get_ok("/api/status");
    let session = status["department_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == department.as_str())
        .unwrap()
        .clone();
    let worktree = Path::new(session["workspace"]["path"].as_str().unwrap());
    assert_eq!(
        git(worktree, &["rev-parse", "HEAD"]),
        verification["head_commit"].as_str().unwrap()
    );
    assert_eq!(
        git(worktree, &["show", "HEAD:shared.txt"]),
        "edited-by-code"
    );
    assert!(git(worktree, &["log", "-1", "--format=%s"]).contains(&zid));
    let terminal = status["browser_terminals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == verification["terminal_id"])
        .cloned()
        .expect("the verification's terminal is listed");
    assert_eq!(terminal["kind"], "verification");
    assert_eq!(terminal["read_only"], true);
    assert_eq!(terminal["session_id"], department.as_str());
    let audit =
        std::fs::read_to_string(server.state_dir().join("codex_governance_audit.jsonl")).unwrap();
    assert!(audit.contains("\"verification_finished\""), "{audit}");
}

#[test]
fn a_failing_verification_is_typed_into_the_department_and_runs_again_on_request() {
    let (server, _scripts) = server_with("\"echo broken-output; exit 4\"", 60);
    let (zid, department) = dispatch_code(&server);
    let verification = finished_verification(&server, &zid);
    assert_eq!(verification["status"], "failed");
    assert_eq!(verification["commands"][0]["exit_code"], 4);
    assert_eq!(
        verification["commands"][0]["output_tail"],
        "broken-output\n"
    );
    let log_path = server.get_ok("/api/status")["department_sessions"][0]["log_path"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(
        Duration::from_secs(10),
        "the feedback in the department's terminal",
        || {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            log.contains("got: [launcher] Verification failed: `echo broken-output; exit 4` exited with status 4")
            .then_some(())
        },
    );
    // Again, on request; a second request while it runs is refused.
    let again = server.post_ok("/api/verify_department", json!({"session_id": department}));
    assert_eq!(again["verification"]["status"], "running");
    let busy = server.post_json(
        "/api/verify_department",
        &json!({"session_id": department}).to_string(),
    );
    // The command is quick: it may already have finished (then it runs a third time).
    if busy.status != 200 {
        assert!(busy.assert_failure(409).contains("is running"));
    }
    let verification = finished_verification(&server, &zid);
    assert_eq!(verification["status"], "failed");
    // Bad requests: a Zhongshu, an unknown session.
    let zhongshu = server.post_json(
        "/api/verify_department",
        &json!({"session_id": zid}).to_string(),
    );
    assert!(zhongshu.assert_failure(400).contains("only departments"));
    let unknown = server.post_json(
        "/api/verify_department",
        &json!({"session_id": "code-1"}).to_string(),
    );
    unknown.assert_failure(404);
}

#[test]
fn a_hanging_verification_is_killed_at_its_timeout() {
    let (server, _scripts) = server_with("\"sleep 60\"", 1);
    let (zid, _department) = dispatch_code(&server);
    let verification = finished_verification(&server, &zid);
    assert_eq!(verification["status"], "failed");
    let command = &verification["commands"][0];
    assert_eq!(command["timed_out"], true);
    assert_eq!(command["exit_code"], Value::Null);
    let ms = command["duration_ms"].as_u64().unwrap();
    assert!((1000..10_000).contains(&ms), "{ms}");
}

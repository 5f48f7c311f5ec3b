//! The merge gate through the API, with real repositories: a verified department merges into
//! the checked-out base branch (the user's other uncommitted work survives), an unverified one
//! only when forced, conflicts and the user's changes on merged paths refuse with every path
//! named and nothing changed, a server killed in the middle of a merge leaves the repository as
//! it was, and worktrees are removed only when nothing unmerged would be lost.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{all_results, git, wait_for, TestServer};
use serde_json::{json, Value};

struct Setup {
    server: TestServer,
    _scripts: tempfile::TempDir,
    command: String,
}

/// A repository on `main` with `shared.txt` and `other.txt`; the `code` department (owning
/// `*.txt`) verifies with `verify`; its agent appends a line to shared.txt, reports and ends.
fn setup(verify: &str, env: &[(&str, &str)]) -> Setup {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("shared.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::write(dir.join("other.txt"), "other\n").unwrap();
    std::fs::write(dir.join(".gitignore"), ".tmp/\n").unwrap();
    std::fs::write(
        dir.join("governance.yaml"),
        format!("departments:\n  code:\n    globs: [\"*.txt\"]\n    verify: [{verify}]\n"),
    )
    .unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("agent.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
if [ "$CODEX_GOVERNANCE_ROLE" != department ]; then exec sleep 300; fi
echo "four from the department" >> shared.txt
printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"added a line","changed_files":["shared.txt"]}' \
  "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" > "$CODEX_GOVERNANCE_MAILBOX/.tmp-r"
mv "$CODEX_GOVERNANCE_MAILBOX/.tmp-r" "$CODEX_GOVERNANCE_MAILBOX/$CODEX_GOVERNANCE_SESSION_ID.json"
"#,
    )
    .unwrap();
    let command = format!("sh {}", script.display());
    let server = TestServer::start_in(repo, &args(&command), env);
    Setup {
        server,
        _scripts: scripts,
        command,
    }
}

fn args(command: &str) -> Vec<&str> {
    vec![
        "--workspace",
        "worktree",
        "--agent",
        "custom",
        "--agent-command",
        command,
    ]
}

/// Dispatches the department and waits until it ended and its verification finished.
fn finished_department(server: &TestServer) -> (String, String, Value) {
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "t"}));
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    let department = server.post_ok(
        "/api/start_department",
        json!({"parent_session_id": zid, "department": "code", "task": "add a line"}),
    );
    let id = department["session"]["id"].as_str().unwrap().to_string();
    let verification = wait_for(Duration::from_secs(30), "the verification", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        let status = server.get_ok("/api/status");
        let ended = status["department_sessions"][0]["status"] == "exited";
        all_results(&inbox).first().and_then(|r| {
            let s = r["verification"]["status"].as_str().unwrap_or_default();
            (ended && (s == "passed" || s == "failed")).then(|| r["verification"].clone())
        })
    });
    (zid, id, verification)
}

fn merge(server: &TestServer, body: Value) -> common::Response {
    server.post_json("/api/merge_department", &body.to_string())
}

fn worktree_of(server: &TestServer, id: &str) -> PathBuf {
    let status = server.get_ok("/api/status");
    let session = status["department_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
        .clone();
    PathBuf::from(session["workspace"]["path"].as_str().unwrap())
}

/// What the user would see of the repository: HEAD, index, status and the two files.
fn snapshot(dir: &Path) -> Vec<String> {
    vec![
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["diff", "--cached"]),
        git(dir, &["status", "--porcelain", "-uall"]),
        std::fs::read_to_string(dir.join("shared.txt")).unwrap_or_default(),
        std::fs::read_to_string(dir.join("other.txt")).unwrap_or_default(),
    ]
}

#[test]
fn a_verified_department_merges_into_the_checked_out_base_and_the_users_work_survives() {
    let s = setup("\"grep -q four shared.txt\"", &[]);
    let server = &s.server;
    let repo = server.repo_path().to_path_buf();
    let (_zid, id, verification) = finished_department(server);
    assert_eq!(verification["status"], "passed", "{verification}");
    // The user works on another file meanwhile, staged and unstaged, and adds an untracked one.
    std::fs::write(repo.join("other.txt"), "other, staged\n").unwrap();
    git(&repo, &["add", "other.txt"]);
    std::fs::write(repo.join("other.txt"), "other, staged, then edited\n").unwrap();
    std::fs::write(repo.join("notes.md"), "mine\n").unwrap();
    let worktree = worktree_of(server, &id);
    let merged = merge(server, json!({"session_id": id}));
    assert_eq!(merged.status, 200, "{}", merged.text());
    let merged = merged.json();
    assert_eq!(merged["files"], json!(["shared.txt"]));
    assert_eq!(merged["base_branch"], "main");
    assert_eq!(
        git(&repo, &["rev-parse", "HEAD"]),
        merged["merged_commit"].as_str().unwrap()
    );
    // Squash: one new commit on main whose parent is the old base.
    assert_eq!(git(&repo, &["rev-list", "--count", "HEAD"]), "2");
    assert_eq!(
        std::fs::read_to_string(repo.join("shared.txt")).unwrap(),
        "one\ntwo\nthree\nfour from the department\n"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("other.txt")).unwrap(),
        "other, staged, then edited\n"
    );
    assert_eq!(
        git(&repo, &["diff", "--cached", "--name-only"]),
        "other.txt"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("notes.md")).unwrap(),
        "mine\n"
    );
    // The worktree is gone, its branch stays; the workspace says merged; the audit has it.
    assert!(!worktree.exists());
    assert!(!git(&repo, &["branch", "--list", "governance/*"]).is_empty());
    let status = server.get_ok("/api/status");
    assert_eq!(
        status["department_sessions"][0]["workspace"]["status"],
        "merged"
    );
    let audit =
        std::fs::read_to_string(server.state_dir().join("codex_governance_audit.jsonl")).unwrap();
    assert!(audit.contains("\"department_merged\""));
    // Twice: refused.
    let again = merge(server, json!({"session_id": id}));
    assert!(again.assert_failure(409).contains("already merged"));
}

#[test]
fn an_unverified_department_merges_only_when_forced_and_that_is_audited() {
    let s = setup("\"exit 1\"", &[]);
    let server = &s.server;
    let repo = server.repo_path().to_path_buf();
    let (zid, id, verification) = finished_department(server);
    assert_eq!(verification["status"], "failed");
    let before = snapshot(&repo);
    let refused = merge(server, json!({"session_id": id}));
    let error = refused.assert_failure(409);
    assert!(
        error.contains("verification failed") && error.contains("force_unverified"),
        "{error}"
    );
    assert_eq!(snapshot(&repo), before);
    let zhongshu = merge(server, json!({"session_id": zid}));
    zhongshu.assert_failure(400);
    let forced = merge(
        server,
        json!({"session_id": id, "strategy": "merge", "force_unverified": true, "delete_branch": true}),
    );
    assert_eq!(forced.status, 200, "{}", forced.text());
    // A merge commit with both parents; the branch deleted as asked.
    assert_eq!(
        git(&repo, &["rev-list", "--count", "--merges", "HEAD"]),
        "1"
    );
    assert!(git(&repo, &["branch", "--list", "governance/*"]).is_empty());
    let audit =
        std::fs::read_to_string(server.state_dir().join("codex_governance_audit.jsonl")).unwrap();
    assert!(audit.contains("\"merge_forced_unverified\""));
}

#[test]
fn conflicts_and_the_users_changes_on_merged_paths_refuse_with_every_path_and_change_nothing() {
    let s = setup("\"true\"", &[]);
    let server = &s.server;
    let repo = server.repo_path().to_path_buf();
    let (_zid, id, _) = finished_department(server);
    // An uncommitted change of the user's on the merged path.
    std::fs::write(repo.join("shared.txt"), "one\ntwo\nthree\nmine\n").unwrap();
    let before = snapshot(&repo);
    let refused = merge(server, json!({"session_id": id}));
    let error = refused.assert_failure(409);
    assert!(
        error.contains("uncommitted changes") && error.contains("shared.txt"),
        "{error}"
    );
    assert_eq!(snapshot(&repo), before);
    // Committed instead: now the branch and the base conflict on that line.
    git(&repo, &["commit", "-qam", "the user's own line"]);
    let before = snapshot(&repo);
    let refused = merge(server, json!({"session_id": id}));
    let error = refused.assert_failure(409);
    assert!(
        error.contains("conflicts") && error.contains("shared.txt"),
        "{error}"
    );
    assert_eq!(snapshot(&repo), before);
}

#[test]
fn a_server_killed_in_the_middle_of_a_merge_leaves_the_repository_as_it_was() {
    let s = setup(
        "\"true\"",
        &[("CODEX_GOVERNANCE_TEST_MERGE_PAUSE_MS", "4000")],
    );
    let repo = s.server.repo_path().to_path_buf();
    let (_zid, id, _) = finished_department(&s.server);
    let before = snapshot(&repo);
    let journal = s.server.state_dir().join("merge-journal.json");
    let addr = s.server.addr;
    let host = s.server.host();
    let body = json!({"session_id": id}).to_string();
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let _ = write!(
                stream,
                "POST /api/merge_department HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
        }
    });
    // The files are updated and the journal written; the ref has not moved yet.
    wait_for(Duration::from_secs(20), "the merge to be half done", || {
        (journal.exists()
            && std::fs::read_to_string(repo.join("shared.txt"))
                .unwrap_or_default()
                .contains("four"))
        .then_some(())
    });
    let command = s.command.clone();
    let server = s.server.restart(&args(&command), &[]);
    assert!(!journal.exists(), "the journal is recovered at start");
    assert_eq!(snapshot(&repo), before);
    // And the merge can be done again, whole.
    let merged = merge(&server, json!({"session_id": id}));
    assert_eq!(merged.status, 200, "{}", merged.text());
}

#[test]
fn a_worktree_is_removed_only_when_nothing_unmerged_would_be_lost() {
    let s = setup("\"true\"", &[]);
    let server = &s.server;
    let repo = server.repo_path().to_path_buf();
    let (_zid, id, _) = finished_department(server);
    let worktree = worktree_of(server, &id);
    let refused = server.post_json(
        "/api/remove_workspace",
        &json!({"session_id": id}).to_string(),
    );
    assert!(refused.assert_failure(409).contains("not merged"));
    assert!(worktree.exists());
    let removed = server.post_ok(
        "/api/remove_workspace",
        json!({"session_id": id, "force": true}),
    );
    assert_eq!(removed["workspace"]["status"], "removed");
    assert!(!worktree.exists());
    // The branch (and the work on it) stays; the repository's own tree is untouched.
    assert!(!git(&repo, &["branch", "--list", "governance/*"]).is_empty());
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    let gone = merge(server, json!({"session_id": id}));
    assert!(gone.assert_failure(409).contains("removed"));
}

#[test]
fn a_merge_waits_for_a_running_verification() {
    let s = setup("\"sleep 3\"", &[]);
    let server = &s.server;
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "t"}));
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    let department = server.post_ok(
        "/api/start_department",
        json!({"parent_session_id": zid, "department": "code", "task": "add a line"}),
    );
    let id = department["session"]["id"].as_str().unwrap().to_string();
    wait_for(Duration::from_secs(20), "the verification to run", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        let status = server.get_ok("/api/status");
        let ended = status["department_sessions"][0]["status"] == "exited";
        let running = all_results(&inbox)
            .first()
            .is_some_and(|r| r["verification"]["status"] == "running");
        (ended && running).then_some(())
    });
    let refused = merge(server, json!({"session_id": id, "force_unverified": true}));
    assert!(refused.assert_failure(409).contains("still running"));
    let again = server.post_json(
        "/api/verify_department",
        &json!({"session_id": id}).to_string(),
    );
    assert!(again.assert_failure(409).contains("is running"));
}

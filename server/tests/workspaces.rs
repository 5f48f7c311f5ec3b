//! Department workspaces with real repositories and a scripted agent: worktrees per department,
//! setup before the agent, failures that free the slot, the workspace listing and diff, restarts.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{git, wait_for, TestServer};
use serde_json::{json, Value};

/// A repository with one commit: `shared.txt`, a governance file, and an ignored `.env`.
fn repository(governance: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("shared.txt"), "base\n").unwrap();
    std::fs::write(dir.join(".gitignore"), ".env\n.tmp/\n").unwrap();
    std::fs::write(dir.join("governance.yaml"), governance).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    std::fs::write(dir.join(".env"), "TOKEN=local\n").unwrap();
    repo
}

/// A department agent that edits `shared.txt` where it works, records what it found there,
/// reports, and ends. Zhongshu sessions just wait.
fn agent_script(dir: &Path) -> String {
    let script = dir.join("agent.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
if [ "$CODEX_GOVERNANCE_ROLE" != department ]; then exec sleep 300; fi
echo "agent in $(pwd)"
echo "$CODEX_GOVERNANCE_SESSION_ID" > shared.txt
cat .env > seen-env.txt 2>/dev/null
touch "$MARKER_DIR/$CODEX_GOVERNANCE_SESSION_ID.ran"
printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"edited","changed_files":["shared.txt"]}' \
  "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" > "$CODEX_GOVERNANCE_MAILBOX/.tmp-$CODEX_GOVERNANCE_SESSION_ID"
mv "$CODEX_GOVERNANCE_MAILBOX/.tmp-$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_MAILBOX/$CODEX_GOVERNANCE_SESSION_ID.json"
"#,
    )
    .unwrap();
    format!("sh {}", script.display())
}

const GOVERNANCE: &str = "\
departments:
  docs:
    globs: [\"docs/**\"]
  code:
    globs: [\"*.txt\", \"src/**\"]
workspace:
  copy: [\".env\"]
  setup: [\"echo setup-ran > setup.txt\"]
  setup_timeout_seconds: 30
";

fn dispatch(server: &TestServer, departments: &[&str]) -> (String, Vec<String>) {
    let started = server.post_ok(
        "/api/start_zhongshu_session",
        json!({"task": "edit shared.txt"}),
    );
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    let assignments: Vec<Value> = departments
        .iter()
        .map(|d| json!({"department": d, "task": "edit shared.txt"}))
        .collect();
    server.post_ok(
        "/api/report_zhongshu_plan",
        json!({"zhongshu_session_id": zid, "plan": {"summary": "s", "assignments": assignments}}),
    );
    let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
    let confirmed = server.post_ok(
        "/api/start_assignments",
        json!({"parent_session_id": zid, "assignments": plan["plan"]["assignments"]}),
    );
    let ids = confirmed["started"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session"]["id"].as_str().unwrap().to_string())
        .collect();
    (zid, ids)
}

fn department(server: &TestServer, id: &str) -> Value {
    server.get_ok("/api/status")["department_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no department {id}"))
}

#[test]
fn departments_edit_the_same_file_in_worktrees_of_their_own() {
    let repo = repository(GOVERNANCE);
    let markers = tempfile::tempdir().unwrap();
    let command = agent_script(markers.path());
    let server = TestServer::start_in(
        repo,
        &[
            "--workspace",
            "worktree",
            "--agent",
            "custom",
            "--agent-command",
            &command,
        ],
        &[("MARKER_DIR", markers.path().to_str().unwrap())],
    );
    let dir = server.repo_path().to_path_buf();
    let head = git(&dir, &["rev-parse", "HEAD"]);
    let (zid, ids) = dispatch(&server, &["docs", "code"]);
    assert_eq!(ids.len(), 2, "{ids:?}");
    let zhongshu = server.get_ok("/api/status")["zhongshu_sessions"][0].clone();
    assert_eq!(zhongshu["base_commit"], head.as_str());
    assert_eq!(zhongshu["base_branch"], "main");

    let sessions: Vec<Value> = ids
        .iter()
        .map(|id| {
            wait_for(Duration::from_secs(30), "the department to finish", || {
                let session = department(&server, id);
                (session["workspace"]["status"] == "closed").then_some(session)
            })
        })
        .collect();
    // Each result is verified by the launcher: the worktree's work is committed on its branch
    // first (no command applies to these departments, so the verification is skipped).
    let verifications = wait_for(Duration::from_secs(30), "both verifications", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        let results = common::all_results(&inbox);
        (results.len() == 2
            && results
                .iter()
                .all(|r| r["verification"]["status"] == "skipped"))
        .then_some(results)
    });
    for result in &verifications {
        let verification = &result["verification"];
        assert_eq!(verification["base_commit"], head.as_str());
        assert_ne!(verification["head_commit"], head.as_str());
        assert_eq!(verification["commands"], json!([]));
    }
    let state = server.state_dir().canonicalize().unwrap();
    for (session, key) in sessions.iter().zip(["docs", "code"]) {
        let id = session["id"].as_str().unwrap();
        let workspace = &session["workspace"];
        assert_eq!(workspace["mode"], "worktree");
        assert_eq!(workspace["branch"], format!("governance/{zid}/{key}"));
        assert_eq!(workspace["base_commit"], head.as_str());
        let path = Path::new(workspace["path"].as_str().unwrap());
        assert_eq!(path, state.join("worktrees").join(id));
        // Each saw only its own edit; the setup ran and the ignored .env was copied first.
        assert_eq!(
            std::fs::read_to_string(path.join("shared.txt")).unwrap(),
            format!("{id}\n")
        );
        assert_eq!(
            std::fs::read_to_string(path.join("seen-env.txt")).unwrap(),
            "TOKEN=local\n"
        );
        assert_eq!(
            std::fs::read_to_string(path.join("setup.txt")).unwrap(),
            "setup-ran\n"
        );
        let log = std::fs::read_to_string(session["log_path"].as_str().unwrap()).unwrap();
        assert!(
            log.contains(&format!("agent in {}", path.display())),
            "{log}"
        );
        assert!(log.contains("$ echo setup-ran > setup.txt"), "{log}");

        let diff = server.get_ok(&format!("/api/department_diff?session_id={id}"));
        assert_eq!(diff["base_commit"], head.as_str());
        let files = diff["files"].as_array().unwrap();
        let shared = files.iter().find(|f| f["path"] == "shared.txt").unwrap();
        assert_eq!(shared["status"], "modified");
        assert_eq!(
            (shared["additions"].as_u64(), shared["deletions"].as_u64()),
            (Some(1), Some(1))
        );
        assert!(shared["patch"]
            .as_str()
            .unwrap()
            .contains(&format!("+{id}")));
        // Committed by the verification: a new file of the branch.
        assert!(files
            .iter()
            .any(|f| f["path"] == "setup.txt" && f["status"] == "added"));
        let branch_head = git(path, &["rev-parse", "HEAD"]);
        assert!(verifications
            .iter()
            .any(|r| r["verification"]["head_commit"] == branch_head.as_str()));
        assert!(
            !files.iter().any(|f| f["path"] == ".env"),
            "ignored files are no change"
        );
    }
    // The repository's own working tree is untouched.
    assert_eq!(
        std::fs::read_to_string(dir.join("shared.txt")).unwrap(),
        "base\n"
    );
    let listed = server.get_ok("/api/workspaces")["workspaces"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    for entry in listed.as_array().unwrap() {
        assert_eq!(entry["zhongshu_session_id"], zid.as_str());
        assert_eq!(entry["status"], "closed");
        assert!(entry["changes"]["files"].as_u64().unwrap() >= 3, "{entry}");
        assert!(entry["disk_bytes"].as_u64().unwrap() > 0);
    }

    // A restart keeps every workspace attached to its session.
    let server = server.restart(
        &[
            "--workspace",
            "worktree",
            "--agent",
            "custom",
            "--agent-command",
            &command,
        ],
        &[],
    );
    let after = server.get_ok("/api/workspaces")["workspaces"].clone();
    assert_eq!(after, listed);
}

#[test]
fn a_failing_setup_never_starts_the_agent_and_frees_the_slot() {
    let governance = GOVERNANCE.replace("echo setup-ran > setup.txt", "echo broken; exit 7");
    let repo = repository(&governance);
    let markers = tempfile::tempdir().unwrap();
    let command = agent_script(markers.path());
    let server = TestServer::start_in(
        repo,
        &[
            "--workspace",
            "worktree",
            "--max-departments",
            "1",
            "--agent",
            "custom",
            "--agent-command",
            &command,
        ],
        &[("MARKER_DIR", markers.path().to_str().unwrap())],
    );
    let (_zid, _started) = dispatch(&server, &["docs", "code"]);
    // The first fails, its slot goes to the queued second, which fails the same way.
    let failed = wait_for(Duration::from_secs(30), "both setups to fail", || {
        let status = server.get_ok("/api/status");
        let sessions = status["department_sessions"].as_array().unwrap().clone();
        (sessions.len() == 2
            && sessions
                .iter()
                .all(|s| s["workspace"]["status"] == "failed" && s["status"] == "exited")
            && status["department_queue"].as_array().unwrap().is_empty())
        .then_some(sessions)
    });
    for session in &failed {
        let reason = session["workspace"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("`echo broken; exit 7` exited with status 7"),
            "{reason}"
        );
        assert_eq!(session["status"], "exited");
    }
    assert!(
        std::fs::read_dir(markers.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".ran")),
        "an agent ran although its setup failed"
    );
}

#[test]
fn worktrees_are_the_default_and_a_repository_without_a_commit_falls_back_to_shared() {
    // No `--workspace`: worktree mode is the default.
    let server = TestServer::start_with(&["--max-departments", "3"], &[]);
    let status = server.get_ok("/api/status");
    assert_eq!(status["workspace"]["mode"], "worktree", "{status}");
    let warning = status["workspace"]["warning"].as_str().unwrap_or_default();
    assert!(warning.contains("no commit yet"), "{status}");

    // A plan started before the first commit runs its departments in the repository, saying why.
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "t"}));
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    let before = server.post_ok(
        "/api/start_department",
        json!({"parent_session_id": zid, "department": "lingyubu", "task": "x"}),
    );
    let workspace = &before["session"]["workspace"];
    assert_eq!(workspace["mode"], "shared", "{before}");
    assert_eq!(workspace["status"], "ready", "{before}");
    assert!(
        workspace["reason"]
            .as_str()
            .is_some_and(|r| r.contains("without a base commit")),
        "{before}"
    );

    // The first commit: the warning goes (the periodic check sees it), and a new plan gets
    // worktrees while the old one keeps the mode it started with.
    let dir = server.repo_path();
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    git(dir, &["add", "a.txt"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    wait_for(Duration::from_secs(5), "the fallback warning to go", || {
        server.get_ok("/api/status")["workspace"]
            .get("warning")
            .is_none()
            .then_some(())
    });
    let old_plan = server.post_ok(
        "/api/start_department",
        json!({"parent_session_id": zid, "department": "gongchengbu", "task": "x"}),
    );
    assert_eq!(
        old_plan["session"]["workspace"]["mode"], "shared",
        "{old_plan}"
    );
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "t2"}));
    let new_zid = started["session"]["id"].as_str().unwrap();
    let new_plan = server.post_ok(
        "/api/start_department",
        json!({"parent_session_id": new_zid, "department": "lingyubu", "task": "x"}),
    );
    assert_eq!(
        new_plan["session"]["workspace"]["mode"], "worktree",
        "{new_plan}"
    );
}

#[test]
fn boundary_and_collision_warnings_arrive_by_push_and_reach_zhongshu() {
    let repo = repository(&GOVERNANCE.replace("  setup: [\"echo setup-ran > setup.txt\"]\n", ""));
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("agent.sh");
    // Departments edit shared.txt (routed to `code`) and keep running.
    std::fs::write(
        &script,
        // The edit is committed at once: the live change set follows the worktree's HEAD (kept
        // under the main repository's .git/worktrees/) as well as its files.
        "#!/bin/sh\nif [ \"$CODEX_GOVERNANCE_ROLE\" = department ]; then echo \"$CODEX_GOVERNANCE_DEPARTMENT\" > shared.txt; git -c user.name=a -c user.email=a@a commit -qam edit; fi\nexec sleep 300\n",
    )
    .unwrap();
    let command = format!("sh {}", script.display());
    let server = TestServer::start_in(
        repo,
        &[
            "--workspace",
            "worktree",
            "--agent",
            "custom",
            "--agent-command",
            &command,
        ],
        &[],
    );
    let mut events = server.open_events(Duration::from_secs(20));
    events.wait_for_event("hello");
    let (zid, ids) = dispatch(&server, &["docs", "code"]);
    events.wait_for_event("workspaces");
    let sessions = wait_for(Duration::from_secs(20), "warnings on both", || {
        let docs = department(&server, &ids[0]);
        let code = department(&server, &ids[1]);
        let kinds = |s: &Value| -> Vec<String> {
            s["warnings"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .map(|w| w["kind"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        // The line counts follow the routed paths (a second step).
        let counted = docs["changes"]["files"] == 1 && code["changes"]["files"] == 1;
        (kinds(&docs) == ["boundary", "collision"] && kinds(&code) == ["collision"] && counted)
            .then_some((docs, code))
    });
    let (docs, code) = sessions;
    assert_eq!(docs["warnings"][0]["path"], "shared.txt");
    assert_eq!(docs["warnings"][0]["departments"], json!(["docs", "code"]));
    assert_eq!(code["warnings"][0]["departments"], json!(["code", "docs"]));
    // A running worktree's diff is asked of Git for its change index's candidates only.
    let diff = server.get_ok(&format!("/api/department_diff?session_id={}", ids[0]));
    let files = diff["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{diff}");
    assert_eq!(files[0]["path"], "shared.txt");
    assert_eq!(files[0]["status"], "modified");
    assert_eq!(docs["changes"]["files"], 1);
    assert_eq!(docs["changes"]["additions"], 1);
    let listed = server.get_ok("/api/workspaces")["workspaces"].clone();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|w| !w["warnings"].as_array().unwrap().is_empty()));
    // Each new warning is typed once into the Zhongshu's terminal.
    let zhongshu_log = server.get_ok("/api/status")["zhongshu_sessions"][0]["log_path"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(Duration::from_secs(10), "the warning notice", || {
        let log = std::fs::read_to_string(&zhongshu_log).unwrap_or_default();
        (log.matches("[launcher] Workspace warning").count() == 3).then_some(())
    });
    let _ = zid;
}

#[test]
fn a_plan_shows_ownership_warnings_before_it_is_confirmed() {
    let repo = repository(GOVERNANCE);
    let server = TestServer::start_in(repo, &[], &[]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "t"}));
    let zid = started["session"]["id"].as_str().unwrap();
    server.post_ok(
        "/api/report_zhongshu_plan",
        json!({"zhongshu_session_id": zid, "plan": {"summary": "s", "assignments": [
            {"department": "docs", "task": "document", "paths": ["docs/guide.md", "src/lib.rs"]},
            {"department": "code", "task": "implement", "paths": ["src/**"]},
        ]}}),
    );
    let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"))["plan"].clone();
    assert_eq!(plan["needs_confirmation"], true);
    assert_eq!(
        plan["assignments"][0]["paths"],
        json!(["docs/guide.md", "src/lib.rs"])
    );
    let warnings = plan["ownership_warnings"].as_array().unwrap();
    let summary: Vec<(u64, &str, &str, &str, &str)> = warnings
        .iter()
        .map(|w| {
            (
                w["assignment_index"].as_u64().unwrap(),
                w["department"].as_str().unwrap(),
                w["path"].as_str().unwrap(),
                w["owner"].as_str().unwrap(),
                w["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, "docs", "src/lib.rs", "code", "owned_by_other"),
            (1, "code", "src/**", "docs", "overlap"),
        ],
        "{warnings:?}"
    );
    assert!(warnings[0]["message"]
        .as_str()
        .unwrap()
        .contains("src/lib.rs"));
}

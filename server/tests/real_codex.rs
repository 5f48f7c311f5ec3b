//! The whole flow with the real Codex CLI (npm `@openai/codex`, pinned in `tools/agents`,
//! installed by `scripts/setup.sh --e2e`) against a scripted local model endpoint: the Zhongshu
//! plans by calling the API, the user confirms, two departments report through the mailbox and
//! are closed after their turn, the Zhongshu's result notice and a `session_input` line reach the
//! model as submitted messages, and closing leaves no process. A second run under Codex's
//! `workspace-write` sandbox (no loopback, a state directory outside the workspace) reports its
//! plan and results through files. Neither run may start Codex's shared background server,
//! although the configuration leaves `features.daemon_auto_start` at its default.

mod common;

use std::path::Path;

use common::agent_flow::{
    self, agent_bin_dir, close_leaving_nothing, new_repo, plan_confirm_report, script,
};
use common::{model_endpoint, scripted::Endpoint, TestServer};

/// A throwaway `CODEX_HOME` whose config selects the scripted endpoint.
fn codex_home(endpoint: &Endpoint, repo: &Path, sandbox: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let repo = repo.canonicalize().unwrap();
    let config = format!(
        r#"model_provider = "mock"
approval_policy = "never"
sandbox_mode = "{sandbox}"
check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = "{base_url}"
wire_api = "responses"
requires_openai_auth = false
# A transient transport error under CI load must not end a turn (Codex retries 5 by default).
stream_max_retries = 2
request_max_retries = 2

[sandbox_workspace_write]
# /tmp is writable by default; exclude it so only the workspace and --add-dir are.
exclude_slash_tmp = true
exclude_tmpdir_env_var = true

[analytics]
enabled = false

[features]
plugins = false

[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"

[projects."{repo}"]
trust_level = "trusted"
"#,
        base_url = endpoint.base_url(),
        repo = repo.display(),
    );
    std::fs::write(home.path().join("config.toml"), config).unwrap();
    home
}

fn start_server(repo: tempfile::TempDir, home: &Path, extra: &[&str]) -> TestServer {
    let path = format!(
        "{}:{}",
        agent_bin_dir("codex").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut args = vec!["--agent", "codex", "--close-grace-seconds", "60"];
    args.extend_from_slice(extra);
    TestServer::start_in(
        repo,
        &args,
        &[
            ("PATH", path.as_str()),
            ("CODEX_HOME", home.to_str().unwrap()),
        ],
    )
}

fn assert_no_daemon(home: &Path) {
    assert!(
        !home.join("packages").exists(),
        "Codex started its shared daemon (it copies itself into CODEX_HOME/packages)"
    );
}

#[test]
fn the_real_codex_runs_the_whole_flow() {
    let endpoint = model_endpoint::start(script(false, "real codex"));
    let repo = new_repo();
    let home = codex_home(&endpoint, repo.path(), "danger-full-access");
    let server = start_server(repo, home.path(), &[]);
    let state = server.state_dir();
    let _diagnostics = agent_flow::Diagnostics {
        server: &server,
        endpoint: &endpoint,
        state: &state,
    };
    agent_flow::assert_agent(&server, "codex", "--no-daemon");

    let (zid, times) = plan_confirm_report(&server, "real codex");
    let to_model = agent_flow::notice_and_input_reach_the_model(&server, &endpoint, &zid);
    // Closing leaves no process behind: no agent, no tool command, no daemon.
    close_leaving_nothing(&server, &zid, "CODEX_HOME", home.path());
    assert_no_daemon(home.path());
    eprintln!(
        "real codex: start -> plan {:?}; confirm -> both results {:?}; session_input -> model request {to_model:?}",
        times.to_plan, times.to_results
    );
}

#[test]
fn under_the_workspace_write_sandbox_plans_and_results_arrive_as_files() {
    let endpoint = model_endpoint::start(script(true, "real codex"));
    let repo = new_repo();
    let home = codex_home(&endpoint, repo.path(), "workspace-write");
    // The state directory lies outside the workspace: only --add-dir makes the mailbox writable.
    let state = tempfile::tempdir().unwrap();
    let server = start_server(
        repo,
        home.path(),
        &["--state-dir", state.path().to_str().unwrap()],
    );
    let (zid, _) = plan_confirm_report(&server, "real codex");
    let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
    assert_eq!(plan["plan"]["source"], "mailbox", "{plan}");
    close_leaving_nothing(&server, &zid, "CODEX_HOME", home.path());
    assert_no_daemon(home.path());
}

/// Worktree mode with the real Codex: each department starts in a new worktree of a repository
/// the user's configuration does not trust (Codex would stop at its "Trust this folder?"
/// screen), edits a file there, and reports; the repository's own tree and the user's config
/// stay as they were. The Zhongshu, in the untrusted repository itself, is left at that screen
/// (answering it is the user's call); the test reports the plan for it.
#[test]
fn in_worktrees_codex_starts_without_the_trust_screen_and_edits_only_its_worktree() {
    let edit_then_report = |text: &str| {
        if text.contains("You are the ") && text.contains(" department (") {
            common::scripted::Reply::Exec(format!(
                "echo \"$CODEX_GOVERNANCE_DEPARTMENT\" > edited.txt && {}",
                agent_flow::report_command("real codex")
            ))
        } else {
            script(false, "real codex")(text)
        }
    };
    let endpoint = model_endpoint::start(edit_then_report);
    let repo = new_repo();
    let dir = repo.path().to_path_buf();
    for args in [
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "base",
        ],
    ] {
        assert!(std::process::Command::new("git")
            .args(args)
            .current_dir(&dir)
            .status()
            .unwrap()
            .success());
    }
    let home = codex_home(&endpoint, &dir, "danger-full-access");
    // The user trusts some other project, not this repository.
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    let own = dir.canonicalize().unwrap().display().to_string();
    std::fs::write(
        home.path().join("config.toml"),
        config.replace(
            &format!("[projects.\"{own}\"]"),
            "[projects.\"/home/user/other\"]",
        ),
    )
    .unwrap();
    let config_before = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert!(!config_before.contains(&own));
    let server = start_server(repo, home.path(), &["--workspace", "worktree"]);
    let state = server.state_dir();
    let _diagnostics = agent_flow::Diagnostics {
        server: &server,
        endpoint: &endpoint,
        state: &state,
    };
    let started = server.post_ok(
        "/api/start_zhongshu_session",
        serde_json::json!({"task": "edit in worktrees"}),
    );
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    server.post_ok(
        "/api/report_zhongshu_plan",
        serde_json::json!({"zhongshu_session_id": zid, "plan": {"summary": "s", "assignments": [
            {"department": "zhilibu", "task": "update the docs"},
            {"department": "gongchengbu", "task": "update the scripts"},
        ]}}),
    );
    let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
    let confirmed_at = std::time::Instant::now();
    server.post_ok(
        "/api/start_assignments",
        serde_json::json!({"parent_session_id": zid, "assignments": plan["plan"]["assignments"]}),
    );
    common::wait_for(
        std::time::Duration::from_secs(90),
        "both department results",
        || {
            let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
            (common::all_results(&inbox).len() == 2).then_some(())
        },
    );
    let to_results = confirmed_at.elapsed();
    let status = server.get_ok("/api/status");
    let departments = status["department_sessions"].as_array().unwrap();
    assert_eq!(departments.len(), 2);
    for department in departments {
        let workspace = &department["workspace"];
        assert_eq!(workspace["mode"], "worktree", "{department}");
        let path = Path::new(workspace["path"].as_str().unwrap());
        assert_eq!(
            std::fs::read_to_string(path.join("edited.txt"))
                .unwrap()
                .trim(),
            department["department"].as_str().unwrap()
        );
    }
    assert!(
        !dir.join("edited.txt").exists(),
        "a department wrote into the repository itself"
    );
    // The user's own configuration keeps its projects; the worktrees were trusted by flag only.
    let config_after = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    let projects = |text: &str| -> toml::Table {
        text.parse::<toml::Table>().unwrap()["projects"]
            .as_table()
            .unwrap()
            .clone()
    };
    assert_eq!(projects(&config_after), projects(&config_before));
    close_leaving_nothing(&server, &zid, "CODEX_HOME", home.path());
    assert_no_daemon(home.path());
    eprintln!("real codex in worktrees: confirm -> both results {to_results:?}");
}

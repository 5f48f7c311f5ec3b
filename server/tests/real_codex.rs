//! The whole flow with the real Codex CLI (npm `@openai/codex`, pinned in `tools/agents`,
//! installed by `scripts/setup.sh --e2e`) against a scripted local model endpoint: the Zhongshu
//! plans by calling the API, the user confirms, two departments report through the mailbox and
//! are closed after their turn, the Zhongshu's result notice and a `session_input` line reach the
//! model as submitted messages, and closing leaves no process. A second run under Codex's
//! `workspace-write` sandbox (no loopback, a state directory outside the workspace) reports its
//! plan and results through files. Neither run may start Codex's shared background server,
//! although the configuration leaves `features.daemon_auto_start` at its default.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::model_endpoint::{ModelEndpoint, Reply, RequestKind};
use common::{all_results, wait_for, TestServer};
use serde_json::{json, Value};

/// Where `scripts/setup.sh --e2e` installs the pinned agent CLIs.
fn agent_bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/agents/node_modules/.bin");
    assert!(
        dir.join("codex").exists(),
        "the real Codex CLI is missing at {}: run scripts/setup.sh --e2e",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

/// A throwaway `CODEX_HOME` whose config selects the scripted endpoint.
fn codex_home(endpoint: &ModelEndpoint, repo: &Path, sandbox: &str) -> tempfile::TempDir {
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
stream_max_retries = 0
request_max_retries = 0

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
        agent_bin_dir().display(),
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

fn new_repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    std::fs::write(repo.path().join("README.md"), "# demo\n").unwrap();
    repo
}

const PLAN: &str = r#"{"summary":"two departments","assignments":[{"department":"zhilibu","task":"update the docs"},{"department":"gongchengbu","task":"update the scripts"}]}"#;

/// The plan, posted with the session id from the agent's own environment.
fn post_plan_command() -> String {
    let body = PLAN.replacen(
        '{',
        r#"{"session_id":"'"$CODEX_GOVERNANCE_SESSION_ID"'","#,
        1,
    );
    format!(
        "curl -sf -X POST -H 'Content-Type: application/json' --data '{body}' \"$CODEX_GOVERNANCE_URL/api/report_zhongshu_plan\""
    )
}

/// The plan, written into the Zhongshu's mailbox (no network needed).
fn plan_file_command() -> String {
    let body = PLAN.replacen('{', r#"{"kind":"zhongshu_plan","#, 1);
    format!("cd \"$CODEX_GOVERNANCE_MAILBOX\" && printf '%s' '{body}' > .plan.tmp && mv .plan.tmp plan.json")
}

/// A department's report, every id from the agent's own environment.
fn report_command() -> String {
    r#"cd "$CODEX_GOVERNANCE_MAILBOX" && printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"real codex %s done"}' "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" "$CODEX_GOVERNANCE_DEPARTMENT" > ".$CODEX_GOVERNANCE_SESSION_ID.tmp" && mv ".$CODEX_GOVERNANCE_SESSION_ID.tmp" "$CODEX_GOVERNANCE_SESSION_ID.json""#.to_string()
}

fn script(plan_by_file: bool) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |text: &str| {
        if text.contains("You are Zhongshu") {
            Reply::Exec(if plan_by_file {
                plan_file_command()
            } else {
                post_plan_command()
            })
        } else if text.contains("You are the ") && text.contains(" department (") {
            Reply::Exec(report_command())
        } else if text.contains("[launcher] Result from") {
            Reply::Say("Noted the department results.".into())
        } else {
            Reply::Say(format!(
                "ack: {}",
                text.chars().take(40).collect::<String>()
            ))
        }
    }
}

fn session<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no session {id}"))
}

/// Processes other than the server whose environment names this `CODEX_HOME` (the agents and
/// anything they left behind).
fn processes_using(home: &Path, server: &TestServer) -> Vec<String> {
    let needle = format!("CODEX_HOME={}", home.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if entry.file_name().to_string_lossy() == server.pid().to_string() {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{} {}",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

fn assert_no_daemon(home: &Path) {
    assert!(
        !home.join("packages").exists(),
        "Codex started its shared daemon (it copies itself into CODEX_HOME/packages)"
    );
}

/// Plan, confirm, two reports, each department closed after its turn. Returns the Zhongshu id
/// and the times to the plan and from the confirmation to both results.
fn plan_confirm_report(server: &TestServer) -> (String, Duration, Duration) {
    let started_at = Instant::now();
    let started = server.post_ok(
        "/api/start_zhongshu_session",
        json!({"task": "Improve the docs and the scripts"}),
    );
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    assert!(
        started["browser_terminal"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/terminal/") && u.contains("token=")),
        "every agent session has its read-only browser terminal from the start: {started}"
    );
    assert_eq!(
        started["session"]["browser_terminal_id"],
        started["browser_terminal"]["id"]
    );

    let plan = wait_for(Duration::from_secs(60), "the Zhongshu's plan", || {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
        (plan["plan"]["ready"] == true).then_some(plan)
    });
    let to_plan = started_at.elapsed();
    assert_eq!(plan["plan"]["needs_confirmation"], true, "{plan}");
    assert_eq!(plan["plan"]["assignments"].as_array().unwrap().len(), 2);

    // The Zhongshu's turn ends; Codex says so, and it is never "stalled" while it waits.
    wait_for(
        Duration::from_secs(30),
        "the Zhongshu's turn to end",
        || {
            let status = server.get_ok("/api/status");
            let state = session(&status, &zid)["agent_state"].clone();
            (state == "done" || state == "waiting_for_input").then_some(())
        },
    );

    let confirmed_at = Instant::now();
    let confirmed = server.post_ok(
        "/api/start_assignments",
        json!({"parent_session_id": zid, "assignments": plan["plan"]["assignments"]}),
    );
    assert_eq!(
        confirmed["started"].as_array().unwrap().len(),
        2,
        "{confirmed}"
    );
    let departments: Vec<String> = confirmed["started"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session"]["id"].as_str().unwrap().to_string())
        .collect();

    let results = wait_for(Duration::from_secs(90), "both department results", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        let results = all_results(&inbox);
        (results.len() == 2).then_some((results, inbox))
    });
    let to_results = confirmed_at.elapsed();
    let (results, inbox) = results;
    assert_eq!(
        inbox["rejected"].as_array().map_or(0, Vec::len),
        0,
        "no report was rejected (each carries its own session's ids): {inbox}"
    );
    for result in &results {
        assert_eq!(result["source"], "mailbox");
        assert!(
            result["summary"]
                .as_str()
                .unwrap()
                .starts_with("real codex "),
            "{result}"
        );
        assert!(departments.contains(
            &result["department_session_id"]
                .as_str()
                .unwrap()
                .to_string()
        ));
    }

    // Each department finishes its turn (its tool output reaches the model), then is closed.
    for id in &departments {
        let closed = wait_for(Duration::from_secs(30), "the department to close", || {
            let status = server.get_ok("/api/status");
            let s = session(&status, id).clone();
            (s["status"] == "exited").then_some(s)
        });
        assert_eq!(closed["auto_closed"], true, "{closed}");
        assert_eq!(
            closed["auto_close_reason"], "agent_idle_after_report",
            "{closed}"
        );
        assert_eq!(closed["report_status"], "reported");
    }
    (zid, to_plan, to_results)
}

#[test]
fn the_real_codex_runs_the_whole_flow() {
    let endpoint = ModelEndpoint::start(script(false));
    let repo = new_repo();
    let home = codex_home(&endpoint, repo.path(), "danger-full-access");
    let server = start_server(repo, home.path(), &[]);
    let status = server.get_ok("/api/status");
    assert_eq!(status["agent"]["name"], "codex");
    assert!(
        status["agent"]["command"]
            .as_str()
            .unwrap()
            .contains("--no-daemon"),
        "{}",
        status["agent"]
    );
    assert_eq!(status["agent"]["warnings"], json!([]));

    let (zid, to_plan, to_results) = plan_confirm_report(&server);
    let tool_turns = endpoint
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::ToolOutput)
        .count();
    assert!(
        tool_turns >= 3,
        "the Zhongshu's and both departments' turns ran to their end ({tool_turns} tool outputs)"
    );

    // The launcher's notice reaches the model as a submitted message.
    wait_for(
        Duration::from_secs(30),
        "the result notice to be submitted",
        || {
            endpoint
                .user_messages()
                .iter()
                .any(|m| m.user_text.contains("[launcher] Result from"))
                .then_some(())
        },
    );

    // So does the user's input, and the API answers once it was typed.
    wait_for(Duration::from_secs(30), "the Zhongshu at rest", || {
        let status = server.get_ok("/api/status");
        let state = session(&status, &zid)["agent_state"].clone();
        (state == "done" || state == "waiting_for_input").then_some(())
    });
    let sent_at = Instant::now();
    let answer = server.post_ok(
        "/api/session_input",
        json!({"session_id": zid, "input": "PING-FROM-USER please summarise"}),
    );
    let history = answer["session"]["input_history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["ok"], true);
    let received = wait_for(
        Duration::from_secs(30),
        "the input to reach the model",
        || {
            endpoint
                .user_messages()
                .into_iter()
                .find(|m| m.user_text.contains("PING-FROM-USER"))
        },
    );
    let to_model = received.at.saturating_duration_since(sent_at);

    // Closing leaves no process behind: no agent, no tool command, no daemon.
    server.post_ok("/api/close_session", json!({"session_id": zid}));
    wait_for(
        Duration::from_secs(15),
        "every Codex process to end",
        || {
            processes_using(home.path(), &server)
                .is_empty()
                .then_some(())
        },
    );
    assert_no_daemon(home.path());
    eprintln!(
        "real codex: start -> plan {to_plan:?}; confirm -> both results {to_results:?}; session_input -> model request {to_model:?}"
    );
}

#[test]
fn under_the_workspace_write_sandbox_plans_and_results_arrive_as_files() {
    let endpoint = ModelEndpoint::start(script(true));
    let repo = new_repo();
    let home = codex_home(&endpoint, repo.path(), "workspace-write");
    // The state directory lies outside the workspace: only --add-dir makes the mailbox writable.
    let state = tempfile::tempdir().unwrap();
    let server = start_server(
        repo,
        home.path(),
        &["--state-dir", state.path().to_str().unwrap()],
    );
    let (zid, _, _) = plan_confirm_report(&server);
    let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
    assert_eq!(plan["plan"]["source"], "mailbox", "{plan}");
    server.post_ok("/api/close_session", json!({"session_id": zid}));
    wait_for(
        Duration::from_secs(15),
        "every Codex process to end",
        || {
            processes_using(home.path(), &server)
                .is_empty()
                .then_some(())
        },
    );
    assert_no_daemon(home.path());
}

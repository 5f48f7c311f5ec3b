//! The whole flow with the real Claude Code CLI (npm `@anthropic-ai/claude-code`, pinned in
//! `tools/agents`, installed by `scripts/setup.sh --e2e`) against a scripted local Messages API
//! endpoint: the Zhongshu plans by calling the API, the user confirms, two departments report
//! through the mailbox and are closed once Claude says their turn is over (OSC 7501, which Claude
//! sends only after the launcher answered its query), the Zhongshu's result notice and a
//! `session_input` line reach the model as submitted messages, and closing leaves no process.
//!
//! Claude Code runs offline with a throwaway `HOME`, `CLAUDE_CODE_TMPDIR` and `CLAUDE_CONFIG_DIR`.
//! The config's `.claude.json` skips the onboarding, the custom API key question and the trust
//! dialog of the repository; its `settings.json` allows the `Bash` tool and disables auto mode,
//! so the scripted commands (curl, writing files) run without a permission prompt. The state
//! directory lies outside the repository: the launcher must let Claude write the mailbox there
//! without a trust question (`--add-dir` would ask one, with "No, exit" preselected).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::messages_endpoint::{MessagesEndpoint, Reply, RequestKind};
use common::{all_results, wait_for, TestServer};
use serde_json::{json, Value};

/// A dummy key; `.claude.json` approves it by its last 20 characters.
const API_KEY: &str = "sk-ant-test-0123456789abcdefghijklmnop";

/// Where `scripts/setup.sh --e2e` installs the pinned agent CLIs.
fn agent_bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/agents/node_modules/.bin");
    assert!(
        dir.join("claude").exists(),
        "the real Claude Code CLI is missing at {}: run scripts/setup.sh --e2e",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

/// A throwaway `CLAUDE_CONFIG_DIR` that trusts `repo` and lets Bash commands run unasked.
fn claude_config_dir(repo: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut projects = serde_json::Map::new();
    for path in [repo.to_path_buf(), repo.canonicalize().unwrap()] {
        projects.insert(
            path.display().to_string(),
            json!({"hasTrustDialogAccepted": true}),
        );
    }
    let state = json!({
        "hasCompletedOnboarding": true,
        "customApiKeyResponses": {
            "approved": [&API_KEY[API_KEY.len() - 20..]],
            "rejected": [],
        },
        "projects": projects,
    });
    std::fs::write(dir.path().join(".claude.json"), state.to_string()).unwrap();
    // Claude starts in auto mode for a model it does not know, which sets broad allow rules
    // aside and asks a server-side classifier (unreachable here), and after a turn it offers to
    // make auto mode the default: both dialogs would block the session.
    let settings = json!({"permissions": {"allow": ["Bash"], "disableAutoMode": "disable"}});
    std::fs::write(dir.path().join("settings.json"), settings.to_string()).unwrap();
    dir
}

fn start_server(
    repo: tempfile::TempDir,
    endpoint: &MessagesEndpoint,
    config: &Path,
    home: &Path,
    state: &Path,
) -> TestServer {
    let path = format!(
        "{}:{}",
        agent_bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let base_url = endpoint.base_url();
    let tmp = home.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    TestServer::start_in(
        repo,
        &[
            "--agent",
            "claude",
            "--models",
            "claude-test-model",
            "--close-grace-seconds",
            "60",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[
            ("PATH", path.as_str()),
            ("HOME", home.to_str().unwrap()),
            ("CLAUDE_CONFIG_DIR", config.to_str().unwrap()),
            // Claude keeps per-project task files there (default: $TMPDIR/claude-<uid>).
            ("CLAUDE_CODE_TMPDIR", tmp.to_str().unwrap()),
            ("ANTHROPIC_BASE_URL", base_url.as_str()),
            ("ANTHROPIC_API_KEY", API_KEY),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1"),
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

/// A department's report, every id from the agent's own environment.
fn report_command() -> String {
    r#"cd "$CODEX_GOVERNANCE_MAILBOX" && printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"real claude %s done"}' "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" "$CODEX_GOVERNANCE_DEPARTMENT" > ".$CODEX_GOVERNANCE_SESSION_ID.tmp" && mv ".$CODEX_GOVERNANCE_SESSION_ID.tmp" "$CODEX_GOVERNANCE_SESSION_ID.json""#.to_string()
}

fn script(text: &str) -> Reply {
    if text.contains("You are Zhongshu") {
        Reply::Exec(post_plan_command())
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

fn session<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no session {id}"))
}

/// Processes other than the server whose environment names this `CLAUDE_CONFIG_DIR` (the
/// agents and anything they left behind).
fn processes_using(config: &Path, server: &TestServer) -> Vec<String> {
    let needle = format!("CLAUDE_CONFIG_DIR={}", config.display());
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

/// The text of a terminal transcript, roughly: escape sequences and carriage returns removed,
/// no empty lines.
fn plain_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters up to a final byte; a cursor move down or to a place starts
                // a new line.
                Some('[') => {
                    let end = chars.by_ref().find(|c| ('@'..='~').contains(c));
                    if matches!(end, Some('B' | 'E' | 'H' | 'f' | 'd')) && !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
                // OSC: up to BEL or ST.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                Some('(' | ')') => {
                    chars.next();
                }
                _ => {}
            },
            '\r' => {}
            '\n' => {
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// On a failure, prints what the model was asked, each session's state and the end of every
/// terminal transcript (the temporary directories are gone afterwards). With
/// `REAL_CLAUDE_KEEP_LOGS=<dir>` the raw transcripts are also copied there, pass or fail.
struct Diagnostics<'a> {
    server: &'a TestServer,
    endpoint: &'a MessagesEndpoint,
    state: &'a Path,
}

impl Drop for Diagnostics<'_> {
    fn drop(&mut self) {
        let logs = self.state.join("codex_governance_logs");
        let transcripts: Vec<PathBuf> = std::fs::read_dir(&logs)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .collect();
        if let Some(keep) = std::env::var_os("REAL_CLAUDE_KEEP_LOGS") {
            let keep = PathBuf::from(keep);
            let _ = std::fs::create_dir_all(&keep);
            for path in &transcripts {
                let _ = std::fs::copy(path, keep.join(path.file_name().unwrap()));
            }
        }
        if !std::thread::panicking() {
            return;
        }
        for request in self.endpoint.requests() {
            eprintln!(
                "model request {:?}: {:?}, tool output {:?}",
                request.kind,
                request.user_text.chars().take(120).collect::<String>(),
                request.tool_output
            );
        }
        let status = self.server.get("/api/status");
        if status.status == 200 {
            for s in status.json()["sessions"].as_array().into_iter().flatten() {
                eprintln!(
                    "session {} status {} agent_state {} report_status {} auto_close_reason {}",
                    s["id"],
                    s["status"],
                    s["agent_state"],
                    s["report_status"],
                    s["auto_close_reason"]
                );
            }
        }
        for path in &transcripts {
            let text = plain_text(&std::fs::read(path).unwrap_or_default());
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- {} (end, escapes removed) ----", path.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

#[test]
fn the_real_claude_runs_the_whole_flow() {
    let endpoint = MessagesEndpoint::start(script);
    let repo = new_repo();
    let config = claude_config_dir(repo.path());
    let home = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let server = start_server(repo, &endpoint, config.path(), home.path(), state.path());
    let _diagnostics = Diagnostics {
        server: &server,
        endpoint: &endpoint,
        state: state.path(),
    };
    let status = server.get_ok("/api/status");
    assert_eq!(status["agent"]["name"], "claude");
    assert!(
        status["agent"]["command"]
            .as_str()
            .unwrap()
            .contains("--settings"),
        "{}",
        status["agent"]
    );
    assert_eq!(status["agent"]["warnings"], json!([]));

    // Plan: the Zhongshu posts it, and it waits for the user's confirmation.
    let started_at = Instant::now();
    let started = server.post_ok(
        "/api/start_zhongshu_session",
        json!({"task": "Improve the docs and the scripts"}),
    );
    let zid = started["session"]["id"].as_str().unwrap().to_string();
    let plan = wait_for(Duration::from_secs(90), "the Zhongshu's plan", || {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
        (plan["plan"]["ready"] == true).then_some(plan)
    });
    let to_plan = started_at.elapsed();
    assert_eq!(plan["plan"]["needs_confirmation"], true, "{plan}");
    assert_eq!(plan["plan"]["assignments"].as_array().unwrap().len(), 2);

    // The Zhongshu's turn ends; Claude says so once its query was answered.
    wait_for(
        Duration::from_secs(30),
        "the Zhongshu's turn to end",
        || {
            let status = server.get_ok("/api/status");
            let state = session(&status, &zid)["agent_state"].clone();
            (state == "done" || state == "waiting_for_input").then_some(())
        },
    );

    // Confirm: two departments start, report through the mailbox and are closed after their turn.
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

    let (results, inbox) = wait_for(Duration::from_secs(120), "both department results", || {
        let inbox = server.get_ok(&format!("/api/zhongshu_inbox?id={zid}&peek=1"));
        let results = all_results(&inbox);
        (results.len() == 2).then_some((results, inbox))
    });
    let to_results = confirmed_at.elapsed();
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
                .starts_with("real claude "),
            "{result}"
        );
        assert!(departments.contains(
            &result["department_session_id"]
                .as_str()
                .unwrap()
                .to_string()
        ));
    }

    for id in &departments {
        let closed = wait_for(Duration::from_secs(60), "the department to close", || {
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
    let tool_turns = endpoint
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::ToolOutput)
        .count();
    assert!(
        tool_turns >= 3,
        "the Zhongshu's and both departments' turns ran to their end ({tool_turns} tool results)"
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
    let marker = format!("PING-FROM-USER-{}", std::process::id());
    let sent_at = Instant::now();
    let answer = server.post_ok(
        "/api/session_input",
        json!({"session_id": zid, "input": format!("{marker} please summarise")}),
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
                .find(|m| m.user_text.contains(&marker))
        },
    );
    let to_model = received.at.saturating_duration_since(sent_at);

    // Closing leaves no process behind: no agent, no tool command.
    assert!(
        !processes_using(config.path(), &server).is_empty(),
        "the Zhongshu's Claude runs with this CLAUDE_CONFIG_DIR"
    );
    server.post_ok("/api/close_session", json!({"session_id": zid}));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = processes_using(config.path(), &server);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes left 15s after closing: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "real claude: start -> plan {to_plan:?}; confirm -> both results {to_results:?}; session_input -> model request {to_model:?}"
    );
}

//! The flow the real-agent tests drive (`real_codex.rs`, `real_claude.rs`): what the scripted
//! model has the agents do, and the checks of the launcher's side, the same for every agent CLI.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::scripted::{Endpoint, Reply};
use super::{all_results, wait_for, TestServer};

/// Where `scripts/setup.sh --e2e` installs the pinned agent CLIs; fails when `program` is not
/// there.
pub fn agent_bin_dir(program: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/agents/node_modules/.bin");
    assert!(
        dir.join(program).exists(),
        "the real {program} CLI is missing at {}: run scripts/setup.sh --e2e",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

/// A Git repository with one file.
pub fn new_repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    std::fs::write(repo.path().join("README.md"), "# demo\n").unwrap();
    repo
}

const PLAN: &str = r#"{"summary":"two departments","assignments":[{"department":"zhilibu","task":"update the docs"},{"department":"gongchengbu","task":"update the scripts"}]}"#;

/// The plan, posted with the session id from the agent's own environment.
pub fn post_plan_command() -> String {
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
pub fn plan_file_command() -> String {
    let body = PLAN.replacen('{', r#"{"kind":"zhongshu_plan","#, 1);
    format!("cd \"$CODEX_GOVERNANCE_MAILBOX\" && printf '%s' '{body}' > .plan.tmp && mv .plan.tmp plan.json")
}

/// A department's report, every id from the agent's own environment; its summary starts with
/// `summary_prefix`.
pub fn report_command(summary_prefix: &str) -> String {
    format!(
        r#"cd "$CODEX_GOVERNANCE_MAILBOX" && printf '{{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"{summary_prefix} %s done"}}' "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$CODEX_GOVERNANCE_SESSION_ID" "$CODEX_GOVERNANCE_DEPARTMENT" "$CODEX_GOVERNANCE_DEPARTMENT" > ".$CODEX_GOVERNANCE_SESSION_ID.tmp" && mv ".$CODEX_GOVERNANCE_SESSION_ID.tmp" "$CODEX_GOVERNANCE_SESSION_ID.json""#
    )
}

/// The model's script: the Zhongshu plans (by HTTP or by file), departments report, notices and
/// anything else get a short answer.
pub fn script(
    plan_by_file: bool,
    summary_prefix: &'static str,
) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |text: &str| {
        if text.contains("You are Zhongshu") {
            Reply::Exec(if plan_by_file {
                plan_file_command()
            } else {
                post_plan_command()
            })
        } else if text.contains("You are the ") && text.contains(" department (") {
            Reply::Exec(report_command(summary_prefix))
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

pub fn session<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no session {id}"))
}

/// Processes other than the server whose environment has `variable=dir` (the agents and
/// anything they left behind).
pub fn processes_using(variable: &str, dir: &Path, server: &TestServer) -> Vec<String> {
    let needle = format!("{variable}={}", dir.display());
    // The server and its PTY host carry the variable too; they are not agents.
    let launcher = [
        Some(server.pid().to_string()),
        server.get_ok("/api/status")["pty_host"]["pid"]
            .as_u64()
            .map(|pid| pid.to_string()),
    ];
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if launcher.iter().flatten().any(|pid| *pid == name) {
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

/// The server runs this agent, its command line has `flag`, and nothing had to be left out.
pub fn assert_agent(server: &TestServer, name: &str, flag: &str) {
    let status = server.get_ok("/api/status");
    let agent = &status["agent"];
    assert_eq!(agent["name"], name);
    assert!(agent["command"].as_str().unwrap().contains(flag), "{agent}");
    assert_eq!(agent["warnings"], json!([]));
}

/// Closes the session and waits until no process with `variable=dir` is left.
pub fn close_leaving_nothing(server: &TestServer, id: &str, variable: &str, dir: &Path) {
    assert!(
        !processes_using(variable, dir, server).is_empty(),
        "the agent runs with this {variable}"
    );
    server.post_ok("/api/close_session", json!({"session_id": id}));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = processes_using(variable, dir, server);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left 15 s after closing: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the agent's turn is over (it says it is done or waiting).
pub fn wait_at_rest(server: &TestServer, id: &str) {
    wait_for(Duration::from_secs(30), "the agent's turn to end", || {
        let status = server.get_ok("/api/status");
        let state = session(&status, id)["agent_state"].clone();
        (state == "done" || state == "waiting_for_input").then_some(())
    });
}

pub struct FlowTimes {
    pub to_plan: Duration,
    pub to_results: Duration,
}

/// Plan, confirm, two mailbox reports, each department closed after its turn. Returns the
/// Zhongshu's id and the times to the plan and from the confirmation to both results.
pub fn plan_confirm_report(server: &TestServer, summary_prefix: &str) -> (String, FlowTimes) {
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

    let plan = wait_for(Duration::from_secs(90), "the Zhongshu's plan", || {
        let plan = server.get_ok(&format!("/api/zhongshu_plan?id={zid}"));
        (plan["plan"]["ready"] == true).then_some(plan)
    });
    let to_plan = started_at.elapsed();
    assert_eq!(plan["plan"]["needs_confirmation"], true, "{plan}");
    assert_eq!(plan["plan"]["assignments"].as_array().unwrap().len(), 2);
    // The Zhongshu's turn ends; the agent says so, and is never "stalled" while it waits.
    wait_at_rest(server, &zid);

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
                .starts_with(&format!("{summary_prefix} ")),
            "{result}"
        );
        let id = result["department_session_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(departments.contains(&id), "{result}");
    }

    // Each department finishes its turn, then is closed.
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
    (
        zid,
        FlowTimes {
            to_plan,
            to_results,
        },
    )
}

/// The launcher's result notice and a `session_input` line reach the model as submitted user
/// messages; returns the time from the input to the model's request.
pub fn notice_and_input_reach_the_model(
    server: &TestServer,
    endpoint: &Endpoint,
    zid: &str,
) -> Duration {
    assert!(
        endpoint.tool_turns() >= 3,
        "the Zhongshu's and both departments' turns ran to their end ({} tool outputs)",
        endpoint.tool_turns()
    );
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
    wait_at_rest(server, zid);
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
    received.at.saturating_duration_since(sent_at)
}

/// The text of a terminal transcript, roughly: escape sequences and carriage returns removed,
/// no empty lines.
pub fn plain_text(bytes: &[u8]) -> String {
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
/// `REAL_AGENT_KEEP_LOGS=<dir>` the raw transcripts are also copied there, pass or fail.
pub struct Diagnostics<'a> {
    pub server: &'a TestServer,
    pub endpoint: &'a Endpoint,
    /// The server's state directory.
    pub state: &'a Path,
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
        if let Some(keep) = std::env::var_os("REAL_AGENT_KEEP_LOGS") {
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

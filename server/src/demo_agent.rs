//! The built-in scripted demo agent (`codex-governance demo-agent`): plays Zhongshu (posts a
//! plan through the API, then echoes what is typed into its terminal) and departments (prints
//! progress, writes a mailbox report atomically, exits), so the whole flow runs on a machine
//! without any AI CLI.
//!
//! Markers in the task steer it (for demos and tests): `[demo:silent]` exits without a report,
//! `[demo:hold]` waits for a line on its terminal before reporting, `[demo:fail]` exits 3.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

struct Env {
    url: String,
    session_id: String,
    role: String,
    department: String,
    parent: String,
    mailbox: String,
    task: String,
    step: Duration,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

impl Env {
    fn read() -> Result<Env> {
        let prompt =
            std::fs::read_to_string(var("CODEX_GOVERNANCE_PROMPT_FILE")).unwrap_or_default();
        let task = prompt
            .lines()
            .find_map(|l| l.strip_prefix("Task: "))
            .unwrap_or("")
            .to_string();
        let step_ms = var("CODEX_GOVERNANCE_DEMO_STEP_MS").parse().unwrap_or(600);
        let env = Env {
            url: var("CODEX_GOVERNANCE_URL"),
            session_id: var("CODEX_GOVERNANCE_SESSION_ID"),
            role: var("CODEX_GOVERNANCE_ROLE"),
            department: var("CODEX_GOVERNANCE_DEPARTMENT"),
            parent: var("CODEX_GOVERNANCE_PARENT_SESSION_ID"),
            mailbox: var("CODEX_GOVERNANCE_MAILBOX"),
            task,
            step: Duration::from_millis(step_ms),
        };
        if env.session_id.is_empty() || env.url.is_empty() {
            bail!("the demo agent runs inside a codex-governance session (CODEX_GOVERNANCE_* not set)");
        }
        Ok(env)
    }

    fn has(&self, marker: &str) -> bool {
        self.task.contains(marker)
            || var("CODEX_GOVERNANCE_DEMO_MODE")
                .split(',')
                .any(|m| format!("[demo:{m}]") == marker)
    }
}

pub fn run() -> Result<()> {
    let env = Env::read()?;
    match env.role.as_str() {
        "zhongshu" => zhongshu(&env),
        "department" => department(&env),
        other => bail!("unknown role {other:?}"),
    }
}

fn say(line: &str) {
    print!("{line}\r\n");
    let _ = std::io::stdout().flush();
}

/// Announces the agent's state the way Codex does (OSC 7501), so the launcher's needs-input
/// and close-after-turn logic runs with the demo agent too.
fn announce(state: &str) {
    print!("\x1b]7501;state={state}:app=demo\x1b\\");
    let _ = std::io::stdout().flush();
}

fn zhongshu(env: &Env) -> Result<()> {
    announce("working");
    say(&format!(
        "\x1b[1;31m中书省 Zhongshu\x1b[0m (demo agent) — session {}",
        env.session_id
    ));
    say(&format!("Task: {}", env.task));
    std::thread::sleep(env.step);
    say("Reading the repository and drafting a plan...");
    let status = http(&env.url, "GET", "/api/status", None)?;
    let departments: Vec<String> = status["departments"]
        .as_object()
        .map(|m| m.keys().filter(|k| *k != "menxia").cloned().collect())
        .unwrap_or_default();
    let department_model = status["department_model"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let chosen: Vec<&String> = departments.iter().take(3).collect();
    let assignments: Vec<Value> = chosen
        .iter()
        .enumerate()
        .map(|(i, key)| {
            json!({
                "department": key,
                "task": format!("Part {} of: {}", i + 1, env.task),
                "model": department_model,
                "files": [],
                "verify": ["git status --short"],
                "reason": format!("{key} owns this part of the change"),
                "model_reason": "default department model",
                "selected": true,
            })
        })
        .collect();
    let plan = json!({
        "session_id": env.session_id,
        "summary": format!("Demo plan for: {}", env.task),
        "assignments": assignments,
    });
    std::thread::sleep(env.step);
    http(&env.url, "POST", "/api/report_zhongshu_plan", Some(&plan))?;
    say(&format!(
        "Plan reported with {} assignments; waiting for the user's confirmation.",
        chosen.len()
    ));
    announce("idle");
    // Echo notifications and input until the launcher closes us.
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line?;
        announce("working");
        say(&format!("Zhongshu received: {line}"));
        announce("idle");
    }
    Ok(())
}

fn department(env: &Env) -> Result<()> {
    announce("working");
    say(&format!(
        "\x1b[1;34m{} department\x1b[0m (demo agent) — session {}",
        env.department, env.session_id
    ));
    say(&format!("Task: {}", env.task));
    for step in [
        "Reading the workflow doc",
        "Inspecting files",
        "Making the change",
        "Running verification",
    ] {
        std::thread::sleep(env.step);
        say(&format!("… {step}"));
    }
    if env.has("[demo:fail]") {
        say("Failing on purpose ([demo:fail]).");
        std::process::exit(3);
    }
    if env.has("[demo:silent]") {
        say("Exiting without a report ([demo:silent]).");
        return Ok(());
    }
    if env.has("[demo:hold]") {
        say("Holding until a line is typed ([demo:hold]).");
        announce("idle");
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        announce("working");
    }
    let report = json!({
        "parent_session_id": env.parent,
        "department_session_id": env.session_id,
        "department": env.department,
        "summary": format!("Demo {} finished: {}", env.department, env.task),
        "changed_files": [],
        "verifications_run": ["git status --short (demo)"],
        "verifications_skipped": [],
        "risks": [],
        "next_action": "",
        "needs_user_confirmation": false,
    });
    let dir = std::path::Path::new(&env.mailbox);
    let temp = dir.join(format!(".{}.tmp", env.session_id));
    std::fs::write(&temp, serde_json::to_vec_pretty(&report)?)?;
    std::fs::rename(&temp, dir.join(format!("{}.json", env.session_id)))?;
    say("Mailbox report written; stopping.");
    announce("done");
    // The launcher closes the session once the report registers and the turn is done.
    std::thread::sleep(Duration::from_secs(30));
    Ok(())
}

/// A minimal HTTP/1.1 JSON client for the loopback launcher.
fn http(base: &str, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).with_context(|| format!("cannot reach {base}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if method != "GET" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    if status != 200 {
        bail!("{method} {path} answered {status}: {payload}");
    }
    Ok(json)
}

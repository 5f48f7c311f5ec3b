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

use std::path::Path;

use common::agent_flow::{
    self, agent_bin_dir, close_leaving_nothing, new_repo, plan_confirm_report, script,
};
use common::{messages_endpoint, scripted::Endpoint, TestServer};
use serde_json::json;

/// A dummy key; `.claude.json` approves it by its last 20 characters.
const API_KEY: &str = "sk-ant-test-0123456789abcdefghijklmnop";

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
    endpoint: &Endpoint,
    config: &Path,
    home: &Path,
    state: &Path,
) -> TestServer {
    let path = format!(
        "{}:{}",
        agent_bin_dir("claude").display(),
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

#[test]
fn the_real_claude_runs_the_whole_flow() {
    let endpoint = messages_endpoint::start(script(false, "real claude"));
    let repo = new_repo();
    let config = claude_config_dir(repo.path());
    let home = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let server = start_server(repo, &endpoint, config.path(), home.path(), state.path());
    let _diagnostics = agent_flow::Diagnostics {
        server: &server,
        endpoint: &endpoint,
        state: state.path(),
    };
    agent_flow::assert_agent(&server, "claude", "--settings");

    let (zid, times) = plan_confirm_report(&server, "real claude");
    let to_model = agent_flow::notice_and_input_reach_the_model(&server, &endpoint, &zid);
    // Closing leaves no process behind: no agent, no tool command.
    close_leaving_nothing(&server, &zid, "CLAUDE_CONFIG_DIR", config.path());
    eprintln!(
        "real claude: start -> plan {:?}; confirm -> both results {:?}; session_input -> model request {to_model:?}",
        times.to_plan, times.to_results
    );
}

//! The launcher engine: sessions in PTYs, plans, confirmation, queue, mailbox results, handoff
//! packets, heartbeat, notifications and audit. State lives in memory and in SQLite; every
//! acknowledged change is committed before the API answers. No Leptos types beyond the API
//! contract it implements.
//!
//! Engine methods block (SQLite, process spawns, file IO, waiting for typed input to be
//! written): callers run them off the async reactor (`app::api::off_reactor` for the routes,
//! `spawn_blocking` in `http::terminal` and the background tick).

pub(crate) mod agent;
mod agent_trust;
mod api;
pub(crate) mod audit;
mod background;
mod dispatch;
mod fallback;
mod handoff;
mod hosting;
mod input;
mod mailbox;
mod merge_gate;
mod notices;
pub(crate) mod paths;
mod plan_files;
pub(crate) mod prompts;
mod records;
mod recovery;
mod registration;
mod reports;
mod sessions;
mod state;
mod state_guard;
mod status_cache;
mod terminals;
pub(crate) mod text;
mod turns;
mod verification;
mod views;
mod workspace_watch;
mod workspaces;

use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;
use app::api::*;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::governance::GovernanceConfig;
use crate::ids;
use crate::pty::PtyProcess;
use crate::sync::LockOrRecover;
use agent::AgentProfile;
use audit::Audit;
use paths::StatePaths;
pub(crate) use records::SessionRecord;
use state::State;
pub use status_cache::{StatusBody, View};
pub(crate) use terminals::{ViewSource, Viewer, ViewerRefusal};

/// Something changed; the push stream and terminal views listen for these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineEvent {
    /// `sessions`, `plan`, `results`, `queue`, `terminals` or `report`.
    pub topic: &'static str,
    pub session_id: Option<String>,
}

/// Handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

struct Shared {
    config: Arc<Config>,
    governance: GovernanceConfig,
    agent: AgentProfile,
    paths: StatePaths,
    audit: Audit,
    launcher_url: String,
    self_exe: String,
    state: Mutex<State>,
    /// Bumped whenever the state is changed (see [`state_guard::StateGuard`]): maintained views
    /// are valid while it stays the same.
    generation: std::sync::atomic::AtomicU64,
    status_cache: status_cache::StatusCache,
    events: broadcast::Sender<EngineEvent>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    /// Running worktrees' change indexes, base commits and kept repositories, by session id.
    workspace_indexes: Mutex<std::collections::HashMap<String, workspace_watch::LiveWorktree>>,
    /// The repository's live change index (worktree reports), once started.
    index: std::sync::OnceLock<crate::report::index::ChangeIndex>,
    /// The PTY host that runs the agent sessions (see `hosting.rs`), when one is used.
    pty_host: Mutex<Option<Arc<crate::pty::host::HostClient>>>,
    /// No PTY host could be used (another protocol version, or it cannot start): agents run here.
    pty_host_refused: std::sync::atomic::AtomicBool,
    /// Set when the server stops: nothing new starts (queued assignments wait for the next
    /// server instead of starting as the running agents are ended).
    shutting_down: std::sync::atomic::AtomicBool,
}

/// The status of a start refused because the server is stopping (see `shutting_down`).
const SHUTTING_DOWN: u16 = 503;

/// A server fault as an API error (the message says what failed).
fn internal(err: anyhow::Error) -> ApiError {
    tracing::error!("{err:#}");
    ApiError::internal(format!("{err:#}"))
}

impl Engine {
    /// Locks the state; a change made through the guard invalidates maintained views.
    fn lock(&self) -> state_guard::StateGuard<'_, State> {
        state_guard::StateGuard::new(self.shared.state.lock_or_recover(), &self.shared.generation)
    }

    /// Locks the state to read it only (maintained views), leaving them valid.
    fn lock_to_read(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock_or_recover()
    }

    /// Set by [`Engine::shutdown`]; nothing new starts after it.
    fn is_shutting_down(&self) -> bool {
        self.shared
            .shutting_down
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn emit(&self, topic: &'static str, session_id: Option<&str>) {
        let _ = self.shared.events.send(EngineEvent {
            topic,
            session_id: session_id.map(str::to_string),
        });
    }

    /// Engine events (for the push stream and terminal views).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.shared.events.subscribe()
    }

    pub fn paths(&self) -> &StatePaths {
        &self.shared.paths
    }

    /// The live process of a session, if it is running in this server.
    pub fn process(&self, session_id: &str) -> Option<Arc<PtyProcess>> {
        self.lock().processes.get(session_id).cloned()
    }

    fn counters(&self, state: &State) -> Counters {
        Counters {
            active_department_sessions: state.active_departments(),
            active_zhongshu_sessions: state.active_zhongshu(),
            max_department_sessions: self.shared.config.max_departments,
        }
    }

    fn prompt_context(&self) -> prompts::PromptContext<'_> {
        let config = &self.shared.config;
        prompts::PromptContext {
            project: &config.project_name,
            workflow_doc: &config.workflow_doc,
            launcher_url: &self.shared.launcher_url,
            max_departments: config.max_departments,
            model_choices: &config.models,
            department_model: &config.department_model,
            dispatch: config.dispatch.as_str(),
        }
    }

    /// The agent profile of that name, adapted to the installed program and the user's extra
    /// arguments.
    fn agent_profile(&self, name: &str) -> Result<AgentProfile, String> {
        if name == self.shared.agent.name {
            return Ok(self.shared.agent.clone());
        }
        let config = &self.shared.config;
        Ok(
            AgentProfile::select(Some(name), config.agent_command.as_deref())?
                .for_installed(&config.agent_args),
        )
    }

    /// `model` when it is a configured choice, else the default; unknown → 400.
    fn pick_model(&self, model: Option<&str>, default: &str) -> ApiResult<String> {
        match model.map(str::trim).filter(|m| !m.is_empty()) {
            None => Ok(default.to_string()),
            Some(m) if self.shared.config.models.iter().any(|c| c == m) => Ok(m.to_string()),
            Some(m) => Err(ApiError::bad_request(format!("unknown model: {m}"))),
        }
    }

    fn require_id<'a>(&self, id: &'a str, what: &str) -> ApiResult<&'a str> {
        let id = id.trim();
        if id.is_empty() {
            return Err(ApiError::bad_request(format!("{what} is required")));
        }
        if !ids::is_valid_id(id) {
            return Err(ApiError::bad_request(format!(
                "invalid {what}: {}",
                text::clip(id, 80)
            )));
        }
        Ok(id)
    }

    /// A Zhongshu session by id (400 when unknown or not a Zhongshu).
    fn zhongshu<'s>(&self, state: &'s State, id: &str) -> ApiResult<&'s SessionRecord> {
        match state.session(id) {
            Some(s) if s.is_zhongshu() => Ok(s),
            Some(_) => Err(ApiError::bad_request(format!(
                "not a Zhongshu session: {id}"
            ))),
            None => Err(ApiError::bad_request(format!("unknown session: {id}"))),
        }
    }
}

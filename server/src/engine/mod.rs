//! The launcher engine: sessions in PTYs, plans, confirmation, queue, mailbox results, handoff
//! packets, heartbeat, notifications and audit. State lives in memory and in SQLite; every
//! acknowledged change is committed before the API answers. No Leptos types beyond the API
//! contract it implements.

pub mod agent;
pub mod audit;
mod dispatch;
mod input;
pub mod paths;
mod plan_files;
pub mod prompts;
mod records;
mod results;
mod sessions;
mod terminals;
pub mod text;
mod turns;
mod views;

use crate::sync::LockOrRecover;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use app::api::*;

use crate::ids;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::governance::GovernanceConfig;
use crate::pty::PtyProcess;
use crate::report;
use crate::store::Store;
use agent::AgentProfile;
use audit::Audit;
use paths::StatePaths;
pub use records::SessionRecord;

use records::{INTERRUPTED, RUNNING};
use terminals::TerminalEntry;
pub use terminals::{ViewSource, Viewer, ViewerRefusal};

/// How often the engine re-scans mailboxes, pumps the queue and flushes notifications.
const TICK: Duration = Duration::from_millis(500);

/// Something changed; the push stream and terminal views listen for these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineEvent {
    /// `sessions`, `plan`, `results`, `queue` or `terminals`.
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
    events: broadcast::Sender<EngineEvent>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

/// A batched notification waiting to be typed into a Zhongshu terminal.
struct Notice {
    first_at: Instant,
    results: Vec<DepartmentResult>,
}

struct State {
    store: Store,
    sessions: Vec<SessionRecord>,
    processes: HashMap<String, Arc<PtyProcess>>,
    plans: HashMap<String, Plan>,
    /// Results per Zhongshu session, newest first.
    results: HashMap<String, Vec<DepartmentResult>>,
    rejected: HashMap<String, Vec<RejectedReport>>,
    queue: VecDeque<(i64, QueuedAssignment)>,
    notices: HashMap<String, Notice>,
    /// Unparseable mailbox files and when they were first seen (they may still be written).
    waiting_files: HashMap<PathBuf, Instant>,
    terminals: Vec<TerminalEntry>,
    next_seq: i64,
}

impl State {
    fn session(&self, id: &str) -> Option<&SessionRecord> {
        self.sessions.iter().find(|s| s.id == id)
    }

    /// A copy of a session the caller knows exists (a 500, not a panic, if it does not).
    fn known_session(&self, id: &str) -> ApiResult<SessionRecord> {
        self.session(id)
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("session {id} is missing from the state")))
    }

    fn session_mut(&mut self, id: &str) -> Option<&mut SessionRecord> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    /// Persists one session record.
    fn save_session(&mut self, id: &str) -> Result<()> {
        let Some(record) = self.sessions.iter().find(|s| s.id == id) else {
            return Ok(());
        };
        let record = record.clone();
        self.store
            .write(|w| w.session(&record.id, record.seq, &record))
    }

    fn active_departments(&self) -> u32 {
        self.sessions.iter().filter(|s| s.holds_slot()).count() as u32
    }

    fn active_zhongshu(&self) -> u32 {
        self.sessions
            .iter()
            .filter(|s| s.is_zhongshu() && s.is_running())
            .count() as u32
    }
}

/// `mode`/`base` query parameters as a report mode (400 when they do not fit together).
fn report_mode(mode: Option<&str>, base: Option<String>) -> ApiResult<report::Mode> {
    let base = base.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
    match (mode.map(str::trim).filter(|m| !m.is_empty()), base) {
        (None | Some("worktree"), None) => Ok(report::Mode::Worktree),
        (Some("staged"), None) => Ok(report::Mode::Staged),
        (None | Some("base"), Some(base)) => Ok(report::Mode::Base(base)),
        (Some("base"), None) => Err(ApiError::bad_request("base is required when mode=base")),
        (Some(mode @ ("worktree" | "staged")), Some(_)) => Err(ApiError::bad_request(format!(
            "base only applies to mode=base, not {mode}"
        ))),
        (Some(other), _) => Err(ApiError::bad_request(format!(
            "unknown mode: {other} (worktree, staged, base)"
        ))),
    }
}

/// Runs blocking work (disk, a PTY write we wait for) without stalling the async reactor.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// A server fault as an API error (the message says what failed).
fn internal(err: anyhow::Error) -> ApiError {
    tracing::error!("{err:#}");
    ApiError::internal(format!("{err:#}"))
}

impl Engine {
    /// Opens the state directory and database, and marks sessions of a previous server run
    /// whose processes are gone as `interrupted`.
    pub fn open(
        config: Arc<Config>,
        governance: GovernanceConfig,
        launcher_url: String,
    ) -> Result<Engine> {
        let agent = AgentProfile::select(config.agent.as_deref(), config.agent_command.as_deref())
            .map_err(anyhow::Error::msg)?
            .for_installed(&config.agent_args);
        for warning in &agent.warnings {
            tracing::warn!("agent {}: {warning}", agent.name);
        }
        let paths = StatePaths::create(&config.state_dir)?;
        let audit = Audit::open(&paths.audit)?;
        let store = Store::open(&paths.db)?;
        let self_exe = std::env::current_exe()
            .context("cannot locate own executable")?
            .display()
            .to_string();

        let mut sessions: Vec<SessionRecord> = store.sessions()?;
        let now_text = text::now_text();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut interrupted = Vec::new();
        for session in sessions.iter_mut().filter(|s| s.status == RUNNING) {
            // The process died with the previous server: freeze its preview from the transcript.
            let log = std::fs::metadata(&session.log_path)
                .ok()
                .filter(|m| m.len() > 0);
            session.last_output_ms = log
                .and_then(|m| m.modified().ok())
                .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis());
            // Read safely: a FIFO or symlink planted at the log path must not hang or redirect us.
            let tail = paths
                .read_tail(
                    std::path::Path::new(&session.log_path),
                    views::PREVIEW_BYTES as u64,
                )
                .unwrap_or_default();
            session.final_preview = text::transcript_preview(&tail, 6);
            session.status = INTERRUPTED.into();
            session.ended_at = Some(now_text.clone());
            session.ended_at_ms = Some(now_ms);
            session.close_after_ms = None;
            session.pid = None;
            interrupted.push(session.clone());
        }
        let mut results: HashMap<String, Vec<DepartmentResult>> = HashMap::new();
        for result in store.results::<DepartmentResult>()? {
            results
                .entry(result.parent_session_id.clone())
                .or_default()
                .insert(0, result);
        }
        let mut rejected: HashMap<String, Vec<RejectedReport>> = HashMap::new();
        for (parent, item) in store.rejected::<RejectedReport>()? {
            rejected.entry(parent).or_default().insert(0, item);
        }
        let plans = store
            .plans::<Plan>()?
            .into_iter()
            .map(|p| (p.session_id.clone(), p))
            .collect();
        let queue = store.queue::<QueuedAssignment>()?.into_iter().collect();
        // Terminals of a previous run: their processes and tokens are gone.
        let terminals: Vec<TerminalEntry> = store
            .terminals::<BrowserTerminal>()?
            .into_iter()
            .enumerate()
            .map(|(i, mut record)| {
                if record.status == RUNNING {
                    terminals::mark_ended(&mut record, now_text.clone());
                }
                TerminalEntry {
                    record,
                    token: None,
                    process: None,
                    seq: i as i64,
                }
            })
            .collect();
        let next_seq = sessions
            .iter()
            .map(|s| s.seq)
            .max()
            .unwrap_or(0)
            .max(terminals.len() as i64)
            + 1;

        let mut state = State {
            store,
            sessions,
            processes: HashMap::new(),
            plans,
            results,
            rejected,
            queue,
            notices: HashMap::new(),
            waiting_files: HashMap::new(),
            terminals,
            next_seq,
        };
        state.store.write(|w| {
            for s in &interrupted {
                w.session(&s.id, s.seq, s)?;
            }
            Ok(())
        })?;
        if !interrupted.is_empty() {
            tracing::warn!(
                count = interrupted.len(),
                "sessions of the previous run marked interrupted"
            );
        }

        Ok(Engine {
            shared: Arc::new(Shared {
                config,
                governance,
                agent,
                paths,
                audit,
                launcher_url,
                self_exe,
                state: Mutex::new(state),
                events: broadcast::channel(1024).0,
                watcher: Mutex::new(None),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock_or_recover()
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

    /// Starts the mailbox watcher and the periodic tick; collects what arrived while down.
    pub fn start_background(&self) {
        self.tick();
        match self.watch_mailboxes() {
            Ok(watcher) => *self.shared.watcher.lock_or_recover() = Some(watcher),
            Err(err) => {
                tracing::warn!(%err, "mailbox watcher unavailable; relying on the periodic scan")
            }
        }
        let weak = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(shared) = weak.upgrade() else { break };
                let engine = Engine { shared };
                // Mailbox scans touch the disk and the database: keep them off the reactor.
                if tokio::task::spawn_blocking(move || engine.tick())
                    .await
                    .is_err()
                {
                    tracing::error!("engine tick panicked");
                }
            }
        });
    }

    /// One round of housekeeping: collect mailboxes, decide fallbacks, pump the queue, flush
    /// notifications.
    pub fn tick(&self) {
        self.collect_all_mailboxes();
        self.close_overdue_departments();
        self.apply_fallbacks();
        self.pump_queue();
        self.flush_notices(false);
    }

    fn watch_mailboxes(&self) -> notify::Result<notify::RecommendedWatcher> {
        use notify::{EventKind, RecursiveMode, Watcher};
        let weak = Arc::downgrade(&self.shared);
        let root = self.shared.paths.mailbox_root.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Access(_))
                    && !matches!(
                        event.kind,
                        EventKind::Access(notify::event::AccessKind::Close(_))
                    )
                {
                    return;
                }
                let Some(shared) = weak.upgrade() else { return };
                let engine = Engine { shared };
                let mut zhongshu_ids: Vec<String> = event
                    .paths
                    .iter()
                    .filter_map(|p| p.strip_prefix(&root).ok())
                    .filter_map(|rel| rel.components().next())
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                zhongshu_ids.dedup();
                for id in zhongshu_ids {
                    engine.collect_mailbox(&id);
                }
            })?;
        watcher.watch(&self.shared.paths.mailbox_root, RecursiveMode::Recursive)?;
        Ok(watcher)
    }

    /// Ends every session's and shell's process group (server shutdown): SIGTERM, a short wait,
    /// SIGKILL.
    pub fn shutdown(&self) {
        let processes: Vec<Arc<PtyProcess>> = {
            let state = self.lock();
            state
                .processes
                .values()
                .cloned()
                .chain(state.terminals.iter().filter_map(|t| t.process.clone()))
                .collect()
        };
        for process in &processes {
            process.terminate();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while processes.iter().any(|p| p.is_running()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Also reaches children that outlived their session's leader.
        for process in &processes {
            process.kill_now();
        }
    }

    /// Builds the report off the async reactor (libgit2 walks the whole working tree).
    fn governance_report(&self, mode: &report::Mode) -> ApiResult<GovernanceReport> {
        let build = || {
            let config = &self.shared.config;
            report::build(
                &config.repo,
                &self.shared.governance,
                mode,
                Some(&self.shared.paths.root),
            )
        };
        blocking(build).map_err(|err| match err {
            report::ReportError::UnknownRef(_) => ApiError::bad_request(err.to_string()),
            report::ReportError::Repository(err) => internal(err),
        })
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

impl EngineApi for Engine {
    fn status(&self) -> ApiResult<StatusPayload> {
        Ok(self.status_payload())
    }

    fn start_zhongshu(&self, request: StartZhongshuRequest) -> ApiResult<StartedSession> {
        self.start_zhongshu_session(request)
    }

    fn restart_zhongshu(&self, request: RestartZhongshuRequest) -> ApiResult<RestartResponse> {
        self.restart_zhongshu_session(request)
    }

    fn report_plan(&self, request: ReportPlanRequest) -> ApiResult<ReportPlanResponse> {
        self.register_plan(request, "http")
    }

    fn start_assignments(
        &self,
        request: StartAssignmentsRequest,
    ) -> ApiResult<StartAssignmentsResponse> {
        self.confirm_assignments(request)
    }

    fn start_department(
        &self,
        request: StartDepartmentRequest,
        require_parent: bool,
    ) -> ApiResult<StartedSession> {
        self.start_department_now(request, require_parent)
    }

    fn session_input(&self, request: SessionInputRequest) -> ApiResult<SessionResponse> {
        self.send_input(request)
    }

    fn close_session(&self, request: SessionIdRequest) -> ApiResult<SessionResponse> {
        self.close(request)
    }

    fn zhongshu_sessions(&self) -> ApiResult<ZhongshuSessionsResponse> {
        Ok(self.zhongshu_sessions_payload())
    }

    fn zhongshu_plan(&self, id: String) -> ApiResult<ZhongshuPlanResponse> {
        self.plan_payload(&id)
    }

    fn zhongshu_inbox(&self, id: String, peek: bool) -> ApiResult<InboxResponse> {
        self.inbox_payload(&id, peek)
    }

    fn zhongshu_context(&self, id: String) -> ApiResult<ContextResponse> {
        self.context_payload(&id)
    }

    fn handoff_packet(&self, id: String, report_id: String) -> ApiResult<HandoffPacketResponse> {
        self.handoff_payload(&id, &report_id)
    }

    fn browser_terminals(&self) -> ApiResult<TerminalsResponse> {
        Ok(self.list_terminals())
    }

    fn start_browser_terminal(&self, request: StartTerminalRequest) -> ApiResult<TerminalResponse> {
        self.start_shell(request)
    }

    fn close_browser_terminal(&self, request: TerminalIdRequest) -> ApiResult<TerminalResponse> {
        self.close_terminal(request)
    }

    fn start_session_terminal(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse> {
        self.session_terminal(request)
    }

    fn start_session_control(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse> {
        self.session_control(request)
    }

    fn report(&self, mode: Option<String>, base: Option<String>) -> ApiResult<ReportResponse> {
        let mode = report_mode(mode.as_deref(), base)?;
        Ok(ReportResponse {
            ok: true,
            report: self.governance_report(&mode)?,
        })
    }

    fn plan_assignments(
        &self,
        request: PlanAssignmentsRequest,
    ) -> ApiResult<PlanAssignmentsResponse> {
        let task = text::normalize(&request.task);
        if task.is_empty() {
            return Err(ApiError::bad_request("task is required"));
        }
        let report = self.governance_report(&report::Mode::Worktree)?;
        let config = &self.shared.config;
        let (menxia_required, assignments) = report::suggest_assignments(
            &task,
            &report,
            &report::ModelPolicy {
                zhongshu_model: &config.zhongshu_model,
                department_model: &config.department_model,
            },
        );
        let counters = self.counters(&self.lock());
        Ok(PlanAssignmentsResponse {
            ok: true,
            plan: SuggestedPlan {
                summary: format!(
                    "Suggested plan from the worktree report: {} assignment(s).",
                    assignments.len()
                ),
                menxia_required,
                assignments,
                counters,
                model_choices: config.models.clone(),
                zhongshu_model: config.zhongshu_model.clone(),
                department_model: config.department_model.clone(),
            },
            report,
        })
    }
}

//! Opening the engine: the state directory, the audit log and the database, and what became of
//! the sessions of a previous server run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use app::api::*;
use tokio::sync::broadcast;

use super::agent::AgentProfile;
use super::audit::Audit;
use super::paths::StatePaths;
use super::terminals::{self, TerminalEntry};
use super::{hosting, text, views, Engine, SessionRecord, Shared, State};
use crate::config::Config;
use crate::governance::GovernanceConfig;
use crate::store::Store;

impl Engine {
    /// Opens the state directory and database, takes over the sessions of a previous server run
    /// that still run in the PTY host, and marks those whose processes are gone `interrupted`.
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
        // Agents of a previous server may still run in its PTY host.
        let pty_host_refused = std::sync::atomic::AtomicBool::new(false);
        let pty_host = config
            .pty_host
            .then(|| hosting::connect_host(&paths.root, &paths.logs, &pty_host_refused))
            .flatten();
        let hosted = hosting::hosted_terminals(pty_host.as_ref());
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
        for session in sessions
            .iter_mut()
            .filter(|s| s.status == SessionStatus::Running && !hosted.contains_key(&s.id))
        {
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
            session.status = SessionStatus::Interrupted;
            session.ended_at = Some(now_text.clone());
            session.ended_at_ms = Some(now_ms);
            session.close_after_ms = None;
            session.pid = None;
            // Its worktree stays, listed, with the work in it.
            Engine::close_workspace(session, -1);
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
        // Terminals of a previous run: their processes and tokens are gone, except the shells
        // and session views the PTY host still runs: those keep their URL (with its token), so a
        // page that stayed open reconnects to them.
        let terminals: Vec<TerminalEntry> = store
            .terminals::<BrowserTerminal>()?
            .into_iter()
            .enumerate()
            .map(|(i, mut record)| {
                // A session's view follows its session; a shell is a hosted terminal itself.
                let runs = |id: &String| hosted.get(id).is_some_and(|h| h.exit_code.is_none());
                let taken_over = match &record.session_id {
                    Some(session) => runs(session),
                    None => record.kind == TerminalKind::Interactive && runs(&record.id),
                };
                let token = (taken_over && record.status == TerminalStatus::Running)
                    .then(|| terminals::token_of(&record.url))
                    .flatten();
                if record.status == TerminalStatus::Running && token.is_none() {
                    terminals::mark_ended(&mut record, now_text.clone());
                }
                TerminalEntry {
                    record,
                    token,
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
            live_workspaces: HashMap::new(),
            warned: Default::default(),
            waiting_files: HashMap::new(),
            terminals,
            next_seq,
            worktree_fallback: None,
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

        let engine = Engine {
            shared: Arc::new(Shared {
                config,
                governance,
                agent,
                paths,
                audit,
                launcher_url,
                self_exe,
                state: Mutex::new(state),
                generation: Default::default(),
                status_cache: Default::default(),
                workspace_indexes: Default::default(),
                events: broadcast::channel(1024).0,
                watcher: Mutex::new(None),
                index: Default::default(),
                pty_host: Mutex::new(pty_host),
                pty_host_refused,
                shutting_down: Default::default(),
            }),
        };
        engine.reattach_hosted(hosted);
        // A merge killed half-way leaves a journal: finish or undo it before anything else.
        engine.recover_interrupted_merge();
        Ok(engine)
    }
}

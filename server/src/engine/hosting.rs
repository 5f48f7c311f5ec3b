//! Agent sessions and shells in the PTY host (`pty::host`): starting them there, taking them
//! over after a server restart, and what the status payload says about the host. Verification
//! terminals stay in the server and end with it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use app::api::{PtyHostStatus, SessionStatus};

use super::Engine;
use crate::pty::host::protocol::Hosted;
use crate::pty::host::HostClient;
use crate::pty::{PtyProcess, SignalHandler, SpawnSpec, TerminalSignal};
use crate::sync::LockOrRecover;
use std::sync::atomic::{AtomicBool, Ordering};

/// The PTY host of a state directory, started when none runs; `None` (with a warning) when it
/// cannot be used: the sessions then run in this server and end with it, and `refused` is set
/// so that this server does not ask again at every spawn (a host of another protocol version,
/// or one that cannot start, would answer the same).
pub(super) fn connect_host(
    state_dir: &Path,
    logs: &Path,
    refused: &AtomicBool,
) -> Option<Arc<HostClient>> {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            tracing::warn!("no PTY host ({err}); agents run in this server and end with it");
            return None;
        }
    };
    match HostClient::connect_or_start(state_dir, &exe, &logs.join("pty-host.log")) {
        Ok(host) => {
            tracing::info!(pid = host.info().pid, "agents run in the PTY host");
            Some(host)
        }
        Err(err) => {
            refused.store(true, Ordering::SeqCst);
            tracing::warn!("{err}; agents run in this server and end with it");
            None
        }
    }
}

/// What the host keeps, by terminal id (empty without a host, or when it cannot say).
pub(super) fn hosted_terminals(host: Option<&Arc<HostClient>>) -> HashMap<String, Hosted> {
    let Some(host) = host else {
        return HashMap::new();
    };
    match host.list() {
        Ok(list) => list.into_iter().map(|h| (h.id.clone(), h)).collect(),
        Err(err) => {
            tracing::warn!("cannot list the PTY host's terminals: {err}");
            HashMap::new()
        }
    }
}

impl Engine {
    fn pty_host(&self) -> Option<Arc<HostClient>> {
        self.shared
            .pty_host
            .lock_or_recover()
            .clone()
            .filter(|host| host.is_connected())
    }

    /// The callbacks of a session's process: the states and workspace signals it prints, and
    /// its exit.
    pub(super) fn session_callbacks(
        &self,
        id: &str,
    ) -> (SignalHandler, Box<dyn FnOnce(i32) + Send + 'static>) {
        let weak = Arc::downgrade(&self.shared);
        let signal_weak = weak.clone();
        let signal_id = id.to_string();
        let on_signal: SignalHandler = Box::new(move |signal: TerminalSignal| {
            let Some(shared) = signal_weak.upgrade() else {
                return;
            };
            match signal {
                TerminalSignal::AgentState(value) => {
                    Engine { shared }.on_agent_state(&signal_id, &value)
                }
                TerminalSignal::Workspace(outcome) => {
                    Engine { shared }.on_workspace_signal(&signal_id, outcome)
                }
                TerminalSignal::Title(_) | TerminalSignal::StateQuery => {}
            }
        });
        let exit_id = id.to_string();
        let on_exit = Box::new(move |code| {
            if let Some(shared) = weak.upgrade() {
                Engine { shared }.on_exit(&exit_id, code);
            }
        });
        (on_signal, on_exit)
    }

    /// Starts a session's or shell's process: in the PTY host when there is one (a host that
    /// died is replaced first), else in this server.
    pub(super) fn spawn_process(
        &self,
        id: &str,
        spec: SpawnSpec,
        on_signal: SignalHandler,
        on_exit: Box<dyn FnOnce(i32) + Send + 'static>,
    ) -> anyhow::Result<Arc<PtyProcess>> {
        let refused = &self.shared.pty_host_refused;
        if self.shared.config.pty_host
            && !refused.load(Ordering::SeqCst)
            && self.pty_host().is_none()
        {
            let host = connect_host(&self.shared.paths.root, &self.shared.paths.logs, refused);
            *self.shared.pty_host.lock_or_recover() = host;
        }
        match self.pty_host() {
            Some(host) => host.spawn(id, spec, on_signal, on_exit),
            None => PtyProcess::spawn_observed(spec, on_signal, on_exit),
        }
    }

    /// After a restart: takes over the sessions and shells the host still runs (or that ended
    /// while no server was attached: their exit is recorded as it arrives), and ends what the
    /// host keeps that nothing here wants.
    pub(super) fn reattach_hosted(&self, hosted: HashMap<String, Hosted>) {
        let Some(host) = self.pty_host() else {
            return;
        };
        let (sessions, shells): (Vec<String>, Vec<String>) = {
            let state = self.lock_to_read();
            let sessions = state
                .sessions
                .iter()
                .filter(|s| s.status == SessionStatus::Running && hosted.contains_key(&s.id))
                .map(|s| s.id.clone())
                .collect();
            let shells = state
                .terminals
                .iter()
                .filter(|t| {
                    t.token.is_some() && t.process.is_none() && t.record.session_id.is_none()
                })
                .filter(|t| hosted.contains_key(&t.record.id))
                .map(|t| t.record.id.clone())
                .collect();
            (sessions, shells)
        };
        for id in hosted.keys() {
            if !sessions.contains(id) && !shells.contains(id) {
                tracing::info!("ending {id} in the PTY host: nothing of this server wants it");
                host.discard(id);
            }
        }
        let ring = self.shared.config.scrollback_bytes;
        for id in sessions {
            let (on_signal, on_exit) = self.session_callbacks(&id);
            let terminal = &hosted[&id];
            match host.attach(terminal, ring, None, on_signal, on_exit) {
                Ok(process) => {
                    tracing::info!(pid = terminal.pid, "took over session {id}");
                    {
                        // Its exit may already have been recorded (it ended while no server
                        // was attached): then there is no process to keep.
                        let mut state = self.lock();
                        if state.session(&id).is_some_and(|s| s.is_running()) {
                            state.processes.insert(id.clone(), process);
                        }
                    }
                    self.track_reattached_workspace(&id);
                }
                Err(err) => {
                    tracing::warn!("cannot take over session {id}: {err:#}");
                    self.on_exit(&id, crate::pty::host::HOST_LOST);
                }
            }
        }
        for id in shells {
            let on_exit = self.terminal_exit_callback(&id);
            match host.attach(&hosted[&id], ring, None, Box::new(|_| {}), on_exit) {
                Ok(process) => {
                    let mut state = self.lock();
                    if let Some(entry) = state.terminals.iter_mut().find(|t| t.record.id == id) {
                        // Kept even when it already ended: an ended shell's viewers replay it.
                        entry.process = Some(process);
                    }
                }
                Err(err) => {
                    tracing::warn!("cannot take over shell {id}: {err:#}");
                    self.on_terminal_exit(&id, crate::pty::host::HOST_LOST);
                }
            }
        }
    }

    /// A taken-over worktree session's change set is watched again.
    fn track_reattached_workspace(&self, id: &str) {
        let workspace = self
            .lock_to_read()
            .session(id)
            .and_then(|s| s.workspace.clone())
            .filter(|w| w.is_worktree() && w.status == app::api::WorkspaceStatus::Ready);
        if let Some(workspace) = workspace {
            if let Some(base) = workspace.base_commit.clone() {
                self.track_workspace(id, workspace.path.clone().into(), base);
            }
        }
    }

    /// The host as the status payload shows it.
    pub(super) fn pty_host_status(&self) -> Option<PtyHostStatus> {
        let host = self.pty_host()?;
        let info = host.info();
        Some(PtyHostStatus {
            pid: info.pid,
            version: info.version,
            started_at: info.started_at.clone(),
            sessions: host.mirrored() as u32,
        })
    }

    /// Ends the PTY host (server shutdown under `--stop-agents-on-exit`).
    pub(super) fn stop_pty_host(&self) {
        if let Some(host) = self.pty_host() {
            if let Err(err) = host.stop_host() {
                tracing::warn!("cannot stop the PTY host: {err}");
            }
        }
    }

    /// Whether the server's stopping leaves the sessions to the PTY host.
    pub(super) fn sessions_outlive_server(&self) -> bool {
        !self.shared.config.stop_agents_on_exit && self.pty_host().is_some()
    }
}

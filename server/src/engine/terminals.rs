//! Browser terminals: interactive shells hosted here, and read-only live views of sessions.
//! Each terminal has a random token; viewers must present it (see `http::terminal`).

use std::path::PathBuf;
use std::sync::Arc;

use app::api::*;

use crate::ids;
use serde_json::json;

use super::{internal, text, Engine, State};
use crate::pty::{PtyProcess, SpawnSpec};

pub(super) struct TerminalEntry {
    pub record: BrowserTerminal,
    /// Only in memory: a restarted server issues new tokens.
    pub token: Option<String>,
    /// The shell of an interactive terminal (session views borrow the session's process).
    pub process: Option<Arc<PtyProcess>>,
    pub seq: i64,
}

/// What a viewer of a terminal is attached to.
pub enum ViewSource {
    Live(Arc<PtyProcess>),
    /// The process is gone: replay its transcript, then report the exit.
    Ended {
        /// Reads the transcript without following symlinks or blocking on FIFOs.
        paths: super::paths::StatePaths,
        transcript: PathBuf,
        exit_code: Option<i32>,
        /// How much of the transcript's end to replay (the scrollback size).
        tail_bytes: u64,
    },
}

pub struct Viewer {
    pub terminal: BrowserTerminal,
    pub source: ViewSource,
}

/// Why a viewer was refused: 401 without a token, 403 with a wrong one, 404 unknown terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerRefusal {
    MissingToken,
    WrongToken,
    UnknownTerminal,
}

/// The token in a terminal's URL (`…?token=<32 hex digits>`), if it has a well-formed one.
pub(super) fn token_of(url: &str) -> Option<String> {
    let token = url.rsplit_once("?token=")?.1;
    (token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| token.to_string())
}

/// A terminal whose process is gone.
pub(super) fn mark_ended(record: &mut BrowserTerminal, at: String) {
    record.status = TerminalStatus::Exited;
    record.ended_at = Some(at);
    record.pid = None;
}

impl Engine {
    /// What a shell's process does when it ends: its terminal is marked ended.
    pub(super) fn terminal_exit_callback(&self, id: &str) -> Box<dyn FnOnce(i32) + Send + 'static> {
        let weak = Arc::downgrade(&self.shared);
        let exit_id = id.to_string();
        Box::new(move |code| {
            if let Some(shared) = weak.upgrade() {
                Engine { shared }.on_terminal_exit(&exit_id, code);
            }
        })
    }

    pub(super) fn terminal_url(&self, id: &str, token: &str) -> String {
        format!("{}/terminal/{id}?token={token}", self.shared.launcher_url)
    }

    fn save_terminal(&self, state: &mut State, index: usize) -> ApiResult<()> {
        let entry = &state.terminals[index];
        let (id, seq, record) = (entry.record.id.clone(), entry.seq, entry.record.clone());
        state
            .store
            .write(|w| w.terminal(&id, seq, &record))
            .map_err(internal)
    }

    pub(super) fn insert_terminal(
        &self,
        state: &mut State,
        record: BrowserTerminal,
        token: String,
        process: Option<Arc<PtyProcess>>,
    ) -> ApiResult<BrowserTerminal> {
        let seq = state.next_seq;
        state.next_seq += 1;
        state.terminals.push(TerminalEntry {
            record: record.clone(),
            token: Some(token),
            process,
            seq,
        });
        let index = state.terminals.len() - 1;
        self.save_terminal(state, index)?;
        self.shared.audit.record(
            "browser_terminal_started",
            json!({"terminal_id": record.id, "kind": record.kind, "session_id": record.session_id, "pid": record.pid}),
        );
        self.emit("terminals", record.session_id.as_deref());
        Ok(record)
    }

    pub(super) fn browser_terminals(&self) -> TerminalsResponse {
        let state = self.lock();
        TerminalsResponse {
            ok: true,
            terminals: state.terminals.iter().map(|t| t.record.clone()).collect(),
        }
    }

    pub(super) fn start_browser_terminal(
        &self,
        request: StartTerminalRequest,
    ) -> ApiResult<TerminalResponse> {
        let mut state = self.lock();
        if let Some(entry) = state.terminals.iter().rev().find(|t| {
            t.record.kind == TerminalKind::Interactive
                && t.record.status == TerminalStatus::Running
                && t.token.is_some()
        }) {
            return Ok(TerminalResponse {
                ok: true,
                terminal: entry.record.clone(),
                reused: true,
            });
        }
        let shell = request
            .shell
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("SHELL").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "/bin/bash".into());
        let args = request.shell_args.unwrap_or_default();
        let id = ids::new_id("term");
        let token =
            ids::random_token().map_err(|e| internal(anyhow::anyhow!("no random token: {e}")))?;
        let cwd = self.shared.config.repo.clone();
        let mut spec = SpawnSpec::new(shell.clone(), args.clone(), cwd.clone());
        spec.ring_bytes = self.shared.config.scrollback_bytes;
        spec.env = vec![(
            "CODEX_GOVERNANCE_URL".into(),
            self.shared.launcher_url.clone(),
        )];
        let on_exit = self.terminal_exit_callback(&id);
        let process = self
            .spawn_process(&id, spec, Box::new(|_| {}), on_exit)
            .map_err(|e| ApiError::bad_request(format!("cannot start shell {shell}: {e}")))?;
        let record = BrowserTerminal {
            id: id.clone(),
            status: TerminalStatus::Running,
            pid: Some(process.pid()),
            url: self.terminal_url(&id, &token),
            host: "127.0.0.1".into(),
            started_at: text::now_text(),
            ended_at: None,
            shell,
            shell_args: args,
            cwd: cwd.display().to_string(),
            scope: TerminalScope::Global,
            kind: TerminalKind::Interactive,
            read_only: false,
            title: "Shell".into(),
            session_id: None,
        };
        let terminal = self.insert_terminal(&mut state, record, token, Some(process))?;
        Ok(TerminalResponse {
            ok: true,
            terminal,
            reused: false,
        })
    }

    pub(super) fn on_terminal_exit(&self, id: &str, _code: i32) {
        let mut state = self.lock();
        let Some(index) = state.terminals.iter().position(|t| t.record.id == id) else {
            return;
        };
        mark_ended(&mut state.terminals[index].record, text::now_text());
        let _ = self.save_terminal(&mut state, index);
        drop(state);
        self.emit("terminals", None);
    }

    pub(super) fn close_browser_terminal(
        &self,
        request: TerminalIdRequest,
    ) -> ApiResult<TerminalResponse> {
        let id = self.require_id(&request.id, "id")?.to_string();
        let mut state = self.lock();
        let index = state
            .terminals
            .iter()
            .position(|t| t.record.id == id)
            .ok_or_else(|| ApiError::bad_request(format!("unknown terminal: {id}")))?;
        let entry = &mut state.terminals[index];
        if let Some(process) = entry.process.take() {
            process.terminate();
        }
        // A closed terminal admits no more viewers.
        entry.token = None;
        if entry.record.status == TerminalStatus::Running {
            mark_ended(&mut entry.record, text::now_text());
        }
        let record = entry.record.clone();
        self.save_terminal(&mut state, index)?;
        self.shared.audit.record(
            "browser_terminal_closed",
            json!({"terminal_id": id, "kind": record.kind}),
        );
        drop(state);
        self.emit("terminals", record.session_id.as_deref());
        Ok(TerminalResponse {
            ok: true,
            terminal: record,
            reused: false,
        })
    }

    /// `POST /api/session_browser_terminal/start`: the session's read-only view (started or
    /// reused).
    pub(super) fn start_session_terminal(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse> {
        self.session_terminal(request, TerminalKind::SessionPreview)
    }

    /// `POST /api/session_control/start`: a terminal of a running session that accepts
    /// keystrokes (approvals, arrows, Ctrl-C) from the viewer holding control. Each viewer that
    /// connects to it takes control; the others watch (see `http::terminal`).
    pub(super) fn start_session_control(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse> {
        self.session_terminal(request, TerminalKind::CodexSession)
    }

    /// A session's terminal of this kind: the live one when there is one, else a new one.
    fn session_terminal(
        &self,
        request: SessionIdRequest,
        kind: TerminalKind,
    ) -> ApiResult<SessionTerminalResponse> {
        let session_id = self
            .require_id(&request.session_id, "session_id")?
            .to_string();
        let mut state = self.lock();
        let record = state
            .session(&session_id)
            .ok_or_else(|| ApiError::bad_request(format!("unknown session: {session_id}")))?
            .clone();
        let controllable = kind == TerminalKind::CodexSession;
        if controllable && (!record.is_running() || !state.processes.contains_key(&session_id)) {
            return Err(ApiError::bad_request(format!(
                "session is not running: {session_id}"
            )));
        }
        let existing = state
            .terminals
            .iter()
            .rev()
            .find(|t| {
                t.record.session_id.as_deref() == Some(session_id.as_str())
                    && t.record.kind == kind
                    && t.token.is_some()
                    && (!controllable || t.record.status == TerminalStatus::Running)
            })
            .map(|t| t.record.clone());
        let (terminal, reused) = match existing {
            Some(terminal) => (terminal, true),
            None => (self.new_session_terminal(&mut state, &record, kind)?, false),
        };
        let session = self.session_view(&state, &record);
        Ok(SessionTerminalResponse {
            ok: true,
            terminal,
            reused,
            session,
        })
    }

    /// A new tokenized terminal of a session: a read-only view (for the original dashboard's
    /// iframes and anyone who only watches), or the writable control terminal.
    pub(super) fn new_session_terminal(
        &self,
        state: &mut State,
        record: &super::SessionRecord,
        kind: TerminalKind,
    ) -> ApiResult<BrowserTerminal> {
        let id = ids::new_id("term");
        let token =
            ids::random_token().map_err(|e| internal(anyhow::anyhow!("no random token: {e}")))?;
        let terminal = BrowserTerminal {
            id: id.clone(),
            status: if record.is_running() {
                TerminalStatus::Running
            } else {
                TerminalStatus::Exited
            },
            pid: record.pid,
            url: self.terminal_url(&id, &token),
            host: "127.0.0.1".into(),
            started_at: text::now_text(),
            ended_at: None,
            shell: record.agent.clone(),
            shell_args: Vec::new(),
            cwd: self.shared.config.repo.display().to_string(),
            scope: TerminalScope::Session,
            kind,
            read_only: kind != TerminalKind::CodexSession,
            title: format!("{} · {}", record.title, record.id),
            session_id: Some(record.id.clone()),
        };
        self.insert_terminal(state, terminal, token, None)
    }

    /// A session's process ended: its views say so (they keep their tokens, so viewers can still
    /// replay the transcript; a control terminal has nothing left to control and closes).
    pub(super) fn end_session_views(&self, state: &mut State, session_id: &str) {
        let ended: Vec<usize> = state
            .terminals
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.record.session_id.as_deref() == Some(session_id)
                    && t.record.status == TerminalStatus::Running
            })
            .map(|(index, _)| index)
            .collect();
        for index in ended {
            if state.terminals[index].record.kind == TerminalKind::CodexSession {
                state.terminals[index].token = None;
            }
            mark_ended(&mut state.terminals[index].record, text::now_text());
            if let Err(err) = self.save_terminal(state, index) {
                tracing::error!("{}", err.message);
            }
        }
    }

    /// The newest terminal of this run showing a session (for the session payload).
    pub(super) fn session_terminal_record<'s>(
        &self,
        state: &'s State,
        session_id: &str,
    ) -> Option<&'s BrowserTerminal> {
        let mut views = state.terminals.iter().rev().filter(|t| {
            t.record.kind == TerminalKind::SessionPreview
                && t.record.session_id.as_deref() == Some(session_id)
        });
        let live = views.clone().find(|t| t.token.is_some());
        // A running session whose view someone closed still names it (as exited), as the
        // original launcher does; `session_browser_terminal/start` opens a new one.
        let running = state.session(session_id).is_some_and(|s| s.is_running());
        live.or_else(|| views.next().filter(|_| running))
            .map(|t| &t.record)
    }

    /// Admits a viewer that presents the terminal's token (compared in constant time).
    pub fn open_viewer(&self, id: &str, token: Option<&str>) -> Result<Viewer, ViewerRefusal> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(ViewerRefusal::MissingToken)?;
        if !ids::is_valid_id(id) {
            return Err(ViewerRefusal::UnknownTerminal);
        }
        let state = self.lock();
        let entry = state
            .terminals
            .iter()
            .find(|t| t.record.id == id)
            .ok_or(ViewerRefusal::UnknownTerminal)?;
        let expected = entry.token.as_deref().ok_or(ViewerRefusal::WrongToken)?;
        if !ids::tokens_equal(token.as_bytes(), expected.as_bytes()) {
            return Err(ViewerRefusal::WrongToken);
        }
        let source = match (&entry.process, &entry.record.session_id) {
            (Some(process), _) => ViewSource::Live(process.clone()),
            (None, Some(session_id)) => match state.processes.get(session_id) {
                Some(process) => ViewSource::Live(process.clone()),
                None => {
                    let session = state
                        .session(session_id)
                        .ok_or(ViewerRefusal::UnknownTerminal)?;
                    ViewSource::Ended {
                        paths: self.shared.paths.clone(),
                        transcript: PathBuf::from(&session.log_path),
                        exit_code: session.exit_code,
                        tail_bytes: self.shared.config.scrollback_bytes as u64,
                    }
                }
            },
            (None, None) => return Err(ViewerRefusal::UnknownTerminal),
        };
        Ok(Viewer {
            terminal: entry.record.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::token_of;

    #[test]
    fn a_terminal_token_is_read_back_from_its_url_only_when_well_formed() {
        let token = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            token_of(&format!("http://127.0.0.1:1/terminal/t-1?token={token}")).as_deref(),
            Some(token)
        );
        for bad in [
            "http://127.0.0.1:1/terminal/t-1",
            "http://127.0.0.1:1/terminal/t-1?token=",
            "http://127.0.0.1:1/terminal/t-1?token=xyz",
            "http://127.0.0.1:1/terminal/t-1?token=0123456789abcdef0123456789abcdef&x=1",
        ] {
            assert_eq!(token_of(bad), None, "{bad}");
        }
    }
}

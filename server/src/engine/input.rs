//! Typing into agent sessions: the user's input lines, inline resumes and result notices all go
//! through the session's agent profile, which knows how that agent submits a line.

use std::time::Duration;

use app::api::*;

use super::agent::{AgentProfile, Typing};
use super::{internal, text, Engine};

/// How long a typed line may take to be written (the program must read its terminal).
const TYPING_TIMEOUT: Duration = Duration::from_secs(10);

/// How the agent a session runs submits a typed line.
pub(super) fn typing_of(agent: &str) -> Typing {
    AgentProfile::builtin(agent).map_or(Typing::Line, |profile| profile.typing)
}

impl Engine {
    /// Types `line` into a running session and submits it; returns once the text and its Enter
    /// were written to the terminal. The state lock must not be held.
    pub(super) fn type_line(&self, id: &str, line: &str) -> ApiResult<()> {
        let (process, typing) = {
            let state = self.lock();
            let record = state
                .session(id)
                .ok_or_else(|| ApiError::bad_request(format!("unknown session: {id}")))?;
            match (record.is_running(), state.processes.get(id)) {
                (true, Some(process)) => (process.clone(), typing_of(&record.agent)),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "session is not running: {id}"
                    )))
                }
            }
        };
        let written = process
            .type_parts(typing.parts(line))
            .map_err(|e| internal(anyhow::anyhow!("cannot write to session {id}: {e}")))?;
        written
            .recv_timeout(TYPING_TIMEOUT)
            .map_err(|_| {
                internal(anyhow::anyhow!(
                    "session {id} did not take the input within {}s",
                    TYPING_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| internal(anyhow::anyhow!("cannot write to session {id}: {e}")))
    }

    /// Types a result notice into a Zhongshu terminal without waiting for it (the engine tick
    /// must not stall on a busy terminal).
    pub(super) fn type_notice(&self, process: &crate::pty::PtyProcess, agent: &str, line: &str) {
        if let Err(err) = process.type_parts(typing_of(agent).parts(line)) {
            tracing::warn!(%err, "cannot notify Zhongshu");
        }
    }

    /// `POST /api/session_input`: types the line and records it in the session's input history.
    pub(super) fn session_input(&self, request: SessionInputRequest) -> ApiResult<SessionResponse> {
        let id = self
            .require_id(&request.session_id, "session_id")?
            .to_string();
        let input = text::normalize(&request.input);
        if input.is_empty() {
            return Err(ApiError::bad_request("input is required"));
        }
        let is_zhongshu = {
            let state = self.lock();
            let record = state
                .session(&id)
                .ok_or_else(|| ApiError::bad_request(format!("unknown session: {id}")))?;
            if !record.is_running() {
                return Err(ApiError::bad_request(format!(
                    "session is not running: {id}"
                )));
            }
            record.is_zhongshu()
        };
        let line = if is_zhongshu {
            format!(
                "{input} (When the plan changes, POST it to {}/api/report_zhongshu_plan with session_id {id}.)",
                self.shared.launcher_url
            )
        } else {
            input.clone()
        };
        let outcome = self.type_line(&id, &line);
        let mut state = self.lock();
        let entry = InputRecord {
            text: input,
            sent_at: text::now_text(),
            ok: outcome.is_ok(),
            error: outcome.as_ref().err().map(|e| e.message.clone()),
        };
        if let Some(record) = state.session_mut(&id) {
            record.input_history.push(entry);
        }
        state.save_session(&id).map_err(internal)?;
        drop(state);
        self.emit("sessions", Some(&id));
        outcome?;
        let state = self.lock();
        let record = state.known_session(&id)?;
        Ok(SessionResponse {
            ok: true,
            session: self.session_view(&state, &record),
        })
    }
}

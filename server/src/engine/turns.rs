//! What agents say they are doing, and closing a department after its turn.
//!
//! Codex announces its state on its terminal (OSC 7501 `state=working|idle|done`). A department
//! that has written its mailbox report is usually still in the turn that wrote it; killing it
//! then cuts off the end of its work. So a reported department is closed once its agent is at
//! rest, or when the grace period ends, but never while it says it is working and keeps
//! printing.

use app::api::AgentState;
use serde_json::json;

use super::{text, Engine, State};

/// `auto_close_reason` when the agent went idle after its report.
pub(super) const CLOSED_AT_REST: &str = "agent_idle_after_report";
/// `auto_close_reason` when the grace period after the report ended.
pub(super) const CLOSED_AFTER_GRACE: &str = "report_grace_elapsed";

impl Engine {
    /// The PTY reader saw a state announcement (`state=...` of OSC 7501).
    pub(super) fn on_agent_state(&self, id: &str, announced: &str) {
        let Some(agent_state) = AgentState::from_announced(announced) else {
            tracing::debug!(id, announced, "unknown agent state announced");
            return;
        };
        let mut state = self.lock();
        let Some(record) = state.session_mut(id) else {
            return;
        };
        if record.agent_state == agent_state {
            return;
        }
        record.agent_state = agent_state;
        record.agent_state_since = Some(text::now_text());
        let close_now = record.awaits_close() && agent_state.is_at_rest();
        if let Err(err) = state.save_session(id) {
            tracing::error!("{err:#}");
        }
        if close_now {
            self.auto_close(&mut state, id, CLOSED_AT_REST);
        }
        drop(state);
        self.emit("sessions", Some(id));
    }

    /// A department's report registered while it runs: close it now when its agent is at rest,
    /// else once it is (or the grace period ends).
    pub(super) fn close_after_turn(&self, state: &mut State, id: &str) {
        let grace_ms = self.shared.config.close_grace_seconds as i64 * 1000;
        let Some(record) = state.session_mut(id) else {
            return;
        };
        if !record.is_running() || record.is_zhongshu() {
            return;
        }
        record.close_after_ms = Some(chrono::Utc::now().timestamp_millis() + grace_ms);
        let at_rest = record.agent_state.is_at_rest();
        if let Err(err) = state.save_session(id) {
            tracing::error!("{err:#}");
        }
        if at_rest {
            self.auto_close(state, id, CLOSED_AT_REST);
        }
    }

    /// Closes reported departments whose grace period ended, unless their agent says it is
    /// working and is still printing (a silent "working" agent is stuck, not busy).
    pub(super) fn close_overdue_departments(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let grace_ms = self.shared.config.close_grace_seconds as i64 * 1000;
        let mut state = self.lock();
        let due: Vec<String> = state
            .sessions
            .iter()
            .filter(|s| s.awaits_close() && s.close_after_ms.is_some_and(|t| now >= t))
            .filter(|s| {
                let last_output = state
                    .processes
                    .get(&s.id)
                    .and_then(|p| p.output().last_output_ms())
                    .unwrap_or(0);
                s.agent_state != AgentState::Working || now - last_output >= grace_ms
            })
            .map(|s| s.id.clone())
            .collect();
        for id in &due {
            self.auto_close(&mut state, id, CLOSED_AFTER_GRACE);
        }
        drop(state);
        for id in &due {
            self.emit("sessions", Some(id));
        }
    }

    /// Ends a reported department's process group and records why.
    fn auto_close(&self, state: &mut State, id: &str, reason: &str) {
        let Some(record) = state.session_mut(id) else {
            return;
        };
        if record.auto_closed {
            return;
        }
        record.auto_closed = true;
        record.auto_close_reason = Some(reason.to_string());
        record.close_after_ms = None;
        let kind = record.kind;
        if let Err(err) = state.save_session(id) {
            tracing::error!("{err:#}");
        }
        if let Some(process) = state.processes.get(id) {
            process.terminate();
            self.shared.audit.record(
                "session_closed",
                json!({"session_id": id, "session_kind": kind, "reason": reason}),
            );
        }
    }
}

//! What the engine persists about a session (the API payload is derived from it, see views.rs).

use app::api::{
    AgentState, InputRecord, ReportStatus, SessionKind, SessionStatus, WorkspaceMode,
    WorkspaceStatus,
};
use serde::{Deserialize, Serialize};

/// The department key of Zhongshu sessions.
pub const ZHONGSHU: &str = "zhongshu";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub seq: i64,
    pub kind: SessionKind,
    /// Department key (`zhongshu` for Zhongshu sessions).
    pub department: String,
    pub title: String,
    pub task: String,
    pub model: String,
    pub agent: String,
    pub pid: Option<u32>,
    pub status: SessionStatus,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Unix ms of the end, for the fallback grace period.
    #[serde(default)]
    pub ended_at_ms: Option<i64>,
    pub prompt_path: String,
    pub log_path: String,
    pub parent_session_id: Option<String>,
    pub report_status: ReportStatus,
    pub reported_at: Option<String>,
    pub last_report_id: Option<String>,
    pub auto_closed: bool,
    pub auto_close_reason: Option<String>,
    #[serde(default)]
    pub input_history: Vec<InputRecord>,
    pub resumed_from_session_id: Option<String>,
    /// Transcript preview and last output time frozen when the process ended, so listing
    /// sessions never reads transcript files.
    #[serde(default)]
    pub final_preview: Vec<String>,
    #[serde(default)]
    pub last_output_ms: Option<i64>,
    /// The launcher already decided about a fallback result for this department.
    #[serde(default)]
    pub fallback_done: bool,
    /// What the agent last announced, and since when.
    #[serde(default)]
    pub agent_state: AgentState,
    #[serde(default)]
    pub agent_state_since: Option<String>,
    /// A reported department still running: closed once its agent is at rest, or at this time
    /// (unix ms) unless it is still working.
    #[serde(default)]
    pub close_after_ms: Option<i64>,
    /// Zhongshu sessions: the commit and branch the plan's worktrees start from.
    #[serde(default)]
    pub base_commit: Option<String>,
    #[serde(default)]
    pub base_branch: Option<String>,
    /// Department sessions: where the agent works.
    #[serde(default)]
    pub workspace: Option<WorkspaceRecord>,
}

/// A department session's workspace as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceRecord {
    pub mode: WorkspaceMode,
    pub path: String,
    pub branch: Option<String>,
    pub base_commit: Option<String>,
    pub head_commit: Option<String>,
    pub status: WorkspaceStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

impl WorkspaceRecord {
    /// A worktree of its own (not the shared repository).
    pub fn is_worktree(&self) -> bool {
        self.mode == WorkspaceMode::Worktree
    }
}

impl SessionRecord {
    pub fn is_zhongshu(&self) -> bool {
        self.kind == SessionKind::Zhongshu
    }

    pub fn is_running(&self) -> bool {
        self.status == SessionStatus::Running
    }

    pub fn is_reported(&self) -> bool {
        self.report_status == ReportStatus::Reported
    }

    /// A department that reported but whose agent is still finishing its turn.
    pub fn awaits_close(&self) -> bool {
        !self.is_zhongshu() && self.is_running() && self.close_after_ms.is_some()
    }

    /// Occupies a department slot: running and not yet reported (SPEC §Plans).
    pub fn holds_slot(&self) -> bool {
        !self.is_zhongshu() && self.is_running() && !self.is_reported()
    }
}

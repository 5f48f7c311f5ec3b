//! The engine's in-memory state, guarded by one lock; every change that is acknowledged is
//! committed to the store first.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use app::api::*;

use super::terminals::TerminalEntry;
use super::SessionRecord;
use crate::pty::PtyProcess;
use crate::store::Store;

/// A batched notification waiting to be typed into a Zhongshu terminal.
pub(super) struct Notice {
    pub(super) first_at: Instant,
    pub(super) results: Vec<DepartmentResult>,
}

/// What a running worktree has changed against its base, and the warnings it raises.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LiveChanges {
    /// Changed paths with the department the governance rules route each to (none:
    /// uncategorized).
    pub(super) paths: Vec<(String, Option<String>)>,
    pub(super) counts: ChangeCounts,
    pub(super) warnings: Vec<WorkspaceWarning>,
}

pub(super) struct State {
    pub(super) store: Store,
    pub(super) sessions: Vec<SessionRecord>,
    pub(super) processes: HashMap<String, Arc<PtyProcess>>,
    pub(super) plans: HashMap<String, Plan>,
    /// Results per Zhongshu session, newest first.
    pub(super) results: HashMap<String, Vec<DepartmentResult>>,
    pub(super) rejected: HashMap<String, Vec<RejectedReport>>,
    pub(super) queue: VecDeque<(i64, QueuedAssignment)>,
    pub(super) notices: HashMap<String, Notice>,
    /// Live change sets of running worktree sessions (see `workspace_watch.rs`).
    pub(super) live_workspaces: HashMap<String, LiveChanges>,
    /// Workspace warnings already typed into their Zhongshu (`kind|session|path`).
    pub(super) warned: std::collections::HashSet<String>,
    /// Unparseable mailbox files and when they were first seen (they may still be written).
    pub(super) waiting_files: HashMap<PathBuf, Instant>,
    pub(super) terminals: Vec<TerminalEntry>,
    pub(super) next_seq: i64,
    /// Why worktree mode runs new departments in the repository itself (see `workspaces.rs`).
    pub(super) worktree_fallback: Option<String>,
}

impl State {
    pub(super) fn session(&self, id: &str) -> Option<&SessionRecord> {
        self.sessions.iter().find(|s| s.id == id)
    }

    /// A copy of a session the caller knows exists (a 500, not a panic, if it does not).
    pub(super) fn known_session(&self, id: &str) -> ApiResult<SessionRecord> {
        self.session(id)
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("session {id} is missing from the state")))
    }

    pub(super) fn session_mut(&mut self, id: &str) -> Option<&mut SessionRecord> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    /// Persists one session record.
    pub(super) fn save_session(&mut self, id: &str) -> Result<()> {
        let Some(record) = self.sessions.iter().find(|s| s.id == id) else {
            return Ok(());
        };
        let record = record.clone();
        self.store
            .write(|w| w.session(&record.id, record.seq, &record))
    }

    pub(super) fn active_departments(&self) -> u32 {
        self.sessions.iter().filter(|s| s.holds_slot()).count() as u32
    }

    pub(super) fn active_zhongshu(&self) -> u32 {
        self.sessions
            .iter()
            .filter(|s| s.is_zhongshu() && s.is_running())
            .count() as u32
    }
}

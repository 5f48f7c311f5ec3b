//! Ownership during the run: each running worktree's change set kept live by a change index of
//! its own (file events, as the live report does for the repository), routed by the governance
//! rules. A department changing a file routed to another department raises a `boundary`
//! warning; two live workspaces changing the same path raise a `collision`. Changes are pushed
//! as `workspaces` events, and each new warning is typed once into the Zhongshu's terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use app::api::*;

use super::state::LiveChanges;
use super::{text, Engine, State};
use crate::report::index::ChangeIndex;
use crate::sync::LockOrRecover;
use crate::workspace::diff::KeptRepository;

/// What the engine keeps of a running worktree: its change index, its base commit, and its
/// repository kept open for diffs.
#[derive(Clone)]
pub(super) struct LiveWorktree {
    pub index: ChangeIndex,
    pub base: String,
    pub repo: std::sync::Arc<KeptRepository>,
}

impl Engine {
    /// Starts watching a worktree that became ready (its first scan runs on a thread of its own:
    /// this is called from the session's terminal reader).
    pub(super) fn track_workspace(&self, id: &str, path: PathBuf, base_commit: String) {
        let weak = std::sync::Arc::downgrade(&self.shared);
        let engine = self.clone();
        let id = id.to_string();
        let spawned = std::thread::Builder::new()
            .name("workspace-watch".into())
            .spawn(move || {
                let changed_id = id.clone();
                let on_change = Box::new(move || {
                    if let Some(shared) = weak.upgrade() {
                        Engine { shared }.refresh_workspace(&changed_id);
                    }
                });
                match ChangeIndex::start(&path, None, engine.shared.governance.clone(), on_change) {
                    Ok(index) => {
                        let live = LiveWorktree {
                            index,
                            base: base_commit,
                            repo: std::sync::Arc::new(KeptRepository::new(&path)),
                        };
                        engine
                            .shared
                            .workspace_indexes
                            .lock_or_recover()
                            .insert(id.clone(), live);
                        // A session that ended while its first scan ran was not there to be
                        // untracked: stop its index now. (One that ends after this check finds
                        // it in the map.)
                        let running = engine
                            .lock_to_read()
                            .session(&id)
                            .is_some_and(|s| s.is_running());
                        if running {
                            engine.refresh_workspace(&id);
                        } else {
                            engine.untrack_workspace(&id);
                        }
                    }
                    Err(err) => tracing::warn!("cannot watch the worktree of {id}: {err}"),
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "no workspace watch thread");
        }
    }

    /// Stops watching a worktree (its session ended; [`Engine::forget_live_changes`] already
    /// dropped its change set with the session's end).
    pub(super) fn untrack_workspace(&self, id: &str) {
        let removed = self.shared.workspace_indexes.lock_or_recover().remove(id);
        if let Some(live) = removed {
            live.index.stop();
            self.emit("workspaces", Some(id));
        }
    }

    /// Drops a session's live change set in the same change that ends it, so no view shows an
    /// ended session's live warnings; the others' collisions are recomputed.
    pub(super) fn forget_live_changes(state: &mut State, id: &str) {
        if state.live_workspaces.remove(id).is_some() {
            Self::recompute_collisions(state);
        }
    }

    /// Recomputes a worktree's change set and everyone's warnings after its files changed.
    pub(super) fn refresh_workspace(&self, id: &str) {
        let Some(LiveWorktree { index, base, .. }) = self
            .shared
            .workspace_indexes
            .lock_or_recover()
            .get(id)
            .cloned()
        else {
            return;
        };
        // (The index tries again itself when it catches Git mid-write.)
        let report = match index.base_report_with_untracked(&base) {
            Ok(report) => report,
            Err(err) => {
                tracing::warn!("workspace {id}: {err}");
                return;
            }
        };
        let mut owners: BTreeMap<String, Option<String>> = report
            .uncategorized
            .iter()
            .map(|path| (path.clone(), None))
            .collect();
        for department in &report.departments {
            for path in &department.files {
                owners.insert(path.clone(), Some(department.key.clone()));
            }
        }
        let paths: Vec<(String, Option<String>)> = owners.into_iter().collect();
        // The routed paths and warnings first (cheap, from the index); the line counts need a
        // diff of the whole worktree, so they follow in a second step.
        let running = self.update_live(id, |live| {
            let changed = live.paths != paths;
            live.paths = paths;
            changed
        });
        if running.is_none() {
            return;
        }
        let worktree = self
            .lock_to_read()
            .session(id)
            .and_then(|s| s.workspace.as_ref().map(|w| PathBuf::from(&w.path)));
        let Some(counts) = worktree
            .and_then(|path| crate::workspace::diff::change_counts(&path, &base, None).ok())
        else {
            return;
        };
        self.update_live(id, |live| {
            let changed = live.counts != counts;
            live.counts = counts;
            changed
        });
    }

    /// Applies `change` to a running session's live change set; when it says something changed,
    /// recomputes the warnings, types new ones into the Zhongshu and pushes a `workspaces`
    /// event. `None`: the session is not running (any more).
    fn update_live(&self, id: &str, change: impl FnOnce(&mut LiveChanges) -> bool) -> Option<bool> {
        let mut state = self.lock();
        if !state.session(id).is_some_and(|s| s.is_running()) {
            return None;
        }
        // Read first: only a change through the guard invalidates views.
        let mut live = state.live_workspaces.get(id).cloned().unwrap_or_default();
        let known = state.live_workspaces.contains_key(id);
        if !change(&mut live) && known {
            return Some(false);
        }
        state.live_workspaces.insert(id.to_string(), live);
        let new_warnings = Self::recompute_collisions(&mut state);
        self.notify_warnings(&mut state, new_warnings);
        drop(state);
        self.emit("workspaces", Some(id));
        Some(true)
    }

    /// Boundary and collision warnings of every live workspace, from their change sets; returns
    /// those not typed into their Zhongshu yet, with the session each belongs to.
    fn recompute_collisions(state: &mut State) -> Vec<(String, WorkspaceWarning)> {
        let department_of = |id: &str| {
            state
                .session(id)
                .map(|s| s.department.clone())
                .unwrap_or_default()
        };
        let mut changers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, live) in &state.live_workspaces {
            for (path, _) in &live.paths {
                changers.entry(path.clone()).or_default().insert(id.clone());
            }
        }
        let mut all: BTreeMap<String, Vec<WorkspaceWarning>> = BTreeMap::new();
        for (id, live) in &state.live_workspaces {
            let department = department_of(id);
            let mut warnings = Vec::new();
            for (path, owner) in &live.paths {
                if let Some(owner) = owner.as_ref().filter(|o| **o != department) {
                    warnings.push(WorkspaceWarning {
                        kind: WorkspaceWarningKind::Boundary,
                        path: path.clone(),
                        departments: vec![department.clone(), owner.clone()],
                        message: format!(
                            "{department} changed {path}, which the governance rules route to {owner}"
                        ),
                    });
                }
                let others: Vec<String> = changers[path]
                    .iter()
                    .filter(|other| *other != id)
                    .map(|other| department_of(other))
                    .collect();
                if !others.is_empty() {
                    warnings.push(WorkspaceWarning {
                        kind: WorkspaceWarningKind::Collision,
                        path: path.clone(),
                        departments: std::iter::once(department.clone())
                            .chain(others.iter().cloned())
                            .collect(),
                        message: format!(
                            "{department} and {} both changed {path} in their worktrees",
                            others.join(", ")
                        ),
                    });
                }
            }
            all.insert(id.clone(), warnings);
        }
        let mut fresh = Vec::new();
        for (id, warnings) in all {
            for warning in &warnings {
                let key = format!("{}|{id}|{}", warning.kind, warning.path);
                if state.warned.insert(key) {
                    fresh.push((id.clone(), warning.clone()));
                }
            }
            if let Some(live) = state.live_workspaces.get_mut(&id) {
                live.warnings = warnings;
            }
        }
        fresh
    }

    /// Types each new warning once into the Zhongshu that dispatched the department.
    fn notify_warnings(&self, state: &mut State, fresh: Vec<(String, WorkspaceWarning)>) {
        for (id, warning) in fresh {
            self.shared.audit.record(
                "workspace_warning",
                serde_json::json!({"session_id": id, "kind": warning.kind, "path": warning.path, "departments": warning.departments}),
            );
            let Some(parent) = state.session(&id).and_then(|s| s.parent_session_id.clone()) else {
                continue;
            };
            let agent = state.session(&parent).map(|s| s.agent.clone());
            if let (Some(process), Some(agent)) = (state.processes.get(&parent), agent) {
                let line = text::normalize(&format!(
                    "[launcher] Workspace warning ({}): {}. Session {id}.",
                    warning.kind, warning.message
                ));
                self.type_notice(process, &agent, &line);
            }
        }
    }
}

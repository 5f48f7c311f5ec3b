//! Department workspaces in the engine: where a new department session works, the preparation
//! its terminal runs first in worktree mode, the workspace states that follow from it, and the
//! workspace listing and diff the API serves.

use std::path::{Path, PathBuf};

use app::api::*;

use super::records::{SessionRecord, WorkspaceRecord};
use super::{internal, Engine, State};
use crate::pty::WorkspaceSignal;
use crate::sync::LockOrRecover;
use crate::workspace::commit::head_commit;
use crate::workspace::create::{current_base, free_branch_name, CreateError};
use crate::workspace::prepare::PrepareSpec;

/// A department session's workspace, decided before its process starts.
pub(super) struct PlannedWorkspace {
    pub record: WorkspaceRecord,
    /// The directory the agent works in.
    pub dir: PathBuf,
}

/// The warning a worktree-mode server gives when it runs departments in the repository instead.
fn fallback_reason(err: &CreateError) -> String {
    match err {
        CreateError::NoCommit => "the repository has no commit yet, so departments work in the repository itself (commit once to give each department a worktree of its own)".into(),
        other => format!("departments work in the repository itself: no worktree can be made ({other})"),
    }
}

fn create_error(err: CreateError) -> ApiError {
    match err {
        CreateError::NoCommit | CreateError::NotARepository(_) => {
            ApiError::new(409, err.to_string())
        }
        other => internal(other.into()),
    }
}

impl Engine {
    /// The commit and branch a new Zhongshu's worktrees will start from (worktree mode; none
    /// while the repository cannot give worktrees one: its plan's departments then work in the
    /// repository itself, see [`Engine::worktree_fallback`]).
    pub(super) fn plan_base(&self) -> (Option<String>, Option<String>) {
        if self.shared.config.workspace != WorkspaceMode::Worktree {
            return (None, None);
        }
        match current_base(&self.shared.config.repo) {
            Ok(base) => (Some(base.commit), base.branch),
            Err(_) => (None, None),
        }
    }

    /// Why worktree mode falls back to the shared repository right now (no commit yet, no
    /// working tree), or `None` when worktrees can be made (or `shared` was asked for).
    pub(super) fn worktree_fallback(&self) -> Option<String> {
        if self.shared.config.workspace != WorkspaceMode::Worktree {
            return None;
        }
        match current_base(&self.shared.config.repo) {
            Ok(_) => None,
            Err(err) => Some(fallback_reason(&err)),
        }
    }

    /// Keeps the status payload's fallback warning current (the user may commit, or empty the
    /// repository, while the server runs); the state changes only when the answer does.
    pub(super) fn refresh_worktree_fallback(&self) {
        let fallback = self.worktree_fallback();
        let mut state = self.lock();
        if state.worktree_fallback != fallback {
            if let Some(reason) = &fallback {
                tracing::warn!("worktree workspaces unavailable: {reason}");
            }
            state.worktree_fallback = fallback;
        }
    }

    /// A department session working in the repository itself.
    fn shared_workspace(&self, reason: Option<String>) -> PlannedWorkspace {
        let repo = &self.shared.config.repo;
        PlannedWorkspace {
            record: WorkspaceRecord {
                mode: WorkspaceMode::Shared,
                path: repo.display().to_string(),
                branch: None,
                base_commit: None,
                head_commit: None,
                status: WorkspaceStatus::Ready,
                reason,
            },
            dir: repo.clone(),
        }
    }

    /// Where department session `id` of Zhongshu `parent` works. In worktree mode: a worktree
    /// under the state directory on a branch of its own, from the plan's base commit; nothing is
    /// created yet (the session's terminal does that first).
    pub(super) fn plan_workspace(
        &self,
        state: &State,
        id: &str,
        parent: Option<&str>,
        department: &str,
    ) -> ApiResult<PlannedWorkspace> {
        let repo = &self.shared.config.repo;
        if self.shared.config.workspace == WorkspaceMode::Shared {
            return Ok(self.shared_workspace(None));
        }
        let parent_record = parent.and_then(|p| state.session(p));
        // A plan keeps the mode it started with: a Zhongshu that recorded no base commit (the
        // repository had none) runs its departments in the repository, even if one was made since.
        let base_commit = match parent_record.map(|p| p.base_commit.clone()) {
            Some(Some(commit)) => commit,
            Some(None) => {
                let reason = "this plan started without a base commit (the repository had none, or the server ran with --workspace shared), so its departments work in the repository itself";
                return Ok(self.shared_workspace(Some(reason.into())));
            }
            None => match current_base(repo) {
                Ok(base) => base.commit,
                Err(err @ (CreateError::NoCommit | CreateError::NotARepository(_))) => {
                    return Ok(self.shared_workspace(Some(fallback_reason(&err))));
                }
                Err(err) => return Err(create_error(err)),
            },
        };
        let zhongshu = parent.unwrap_or(id);
        // Branches promised to sessions whose terminals may not have created them yet.
        let promised: Vec<String> = state
            .sessions
            .iter()
            .filter_map(|s| s.workspace.as_ref()?.branch.clone())
            .collect();
        let branch =
            free_branch_name(repo, zhongshu, department, &promised).map_err(create_error)?;
        let dir = self.shared.paths.worktree(id).map_err(internal)?;
        Ok(PlannedWorkspace {
            record: WorkspaceRecord {
                mode: WorkspaceMode::Worktree,
                path: dir.display().to_string(),
                branch: Some(branch),
                base_commit: Some(base_commit),
                head_commit: None,
                status: WorkspaceStatus::Preparing,
                reason: None,
            },
            dir,
        })
    }

    /// Writes the preparation spec of a worktree session and returns the command that runs it
    /// (this binary's `prepare-workspace`, which becomes the agent once the worktree is ready).
    pub(super) fn preparation_command(
        &self,
        id: &str,
        planned: &PlannedWorkspace,
        program: String,
        args: Vec<String>,
    ) -> ApiResult<(String, Vec<String>)> {
        let shared = &self.shared;
        let record = &planned.record;
        let mut agent_args = args;
        if Path::new(&program)
            .file_name()
            .is_some_and(|name| name == "codex")
        {
            agent_args.splice(0..0, super::agent_trust::codex_trust_args(&planned.dir));
        }
        let spec = PrepareSpec {
            repo: shared.config.repo.clone(),
            worktree: planned.dir.clone(),
            name: id.to_string(),
            branch: record.branch.clone().unwrap_or_default(),
            base_commit: record.base_commit.clone().unwrap_or_default(),
            copy: shared.governance.workspace.copy.clone(),
            exclude_prefix: crate::report::own_prefix(
                &shared.config.repo,
                Some(&shared.paths.root),
            ),
            setup: shared.governance.workspace.setup.clone(),
            setup_timeout_seconds: shared.governance.workspace.setup_timeout_seconds,
            program,
            args: agent_args,
        };
        let spec_path = shared.paths.worktrees.join(format!("{id}.json"));
        let bytes = serde_json::to_vec_pretty(&spec).map_err(|err| internal(err.into()))?;
        shared
            .paths
            .write_new(&spec_path, &bytes)
            .map_err(internal)?;
        Ok((
            shared.self_exe.clone(),
            vec!["prepare-workspace".into(), spec_path.display().to_string()],
        ))
    }

    /// The preparation in a session's terminal announced its outcome. Only a workspace still
    /// preparing listens: the agent that runs afterwards cannot change it.
    pub(super) fn on_workspace_signal(&self, id: &str, signal: WorkspaceSignal) {
        let mut state = self.lock();
        let Some(record) = state.session_mut(id) else {
            return;
        };
        let Some(workspace) = record
            .workspace
            .as_mut()
            .filter(|w| w.status == WorkspaceStatus::Preparing)
        else {
            return;
        };
        let mut watch = None;
        match signal {
            WorkspaceSignal::Ready => {
                workspace.status = WorkspaceStatus::Ready;
                workspace.head_commit = workspace.base_commit.clone();
                watch = Some((
                    PathBuf::from(&workspace.path),
                    workspace.base_commit.clone().unwrap_or_default(),
                ));
            }
            WorkspaceSignal::Failed(reason) => {
                workspace.status = WorkspaceStatus::Failed;
                workspace.reason = Some(reason);
            }
        }
        let status = workspace.status;
        let reason = workspace.reason.clone();
        if let Err(err) = state.save_session(id) {
            tracing::warn!("cannot save session {id}: {err:#}");
        }
        drop(state);
        self.shared.audit.record(
            "workspace_status",
            serde_json::json!({"session_id": id, "status": status, "reason": reason}),
        );
        self.emit("sessions", Some(id));
        if let Some((path, base)) = watch {
            self.track_workspace(id, path, base);
        }
    }

    /// A session's process ended: a workspace still preparing failed; a ready one is closed
    /// (its worktree and work stay).
    pub(super) fn close_workspace(record: &mut SessionRecord, exit_code: i32) {
        let Some(workspace) = record.workspace.as_mut() else {
            return;
        };
        match workspace.status {
            WorkspaceStatus::Preparing => {
                workspace.status = WorkspaceStatus::Failed;
                workspace.reason.get_or_insert_with(|| {
                    format!(
                        "the preparation ended with exit code {exit_code} before the agent started"
                    )
                });
            }
            WorkspaceStatus::Ready if workspace.is_worktree() => {
                workspace.head_commit =
                    head_commit(Path::new(&workspace.path)).or(workspace.head_commit.take());
                workspace.status = WorkspaceStatus::Closed;
            }
            _ => {}
        }
    }

    /// The API view of a session's workspace.
    pub(super) fn workspace_view(record: &SessionRecord) -> Option<Workspace> {
        record.workspace.as_ref().map(Self::workspace_view_of)
    }

    pub(super) fn workspace_view_of(w: &WorkspaceRecord) -> Workspace {
        Workspace {
            mode: w.mode,
            path: w.path.clone(),
            branch: w.branch.clone(),
            base_commit: w.base_commit.clone(),
            head_commit: w.head_commit.clone(),
            status: w.status,
            reason: w.reason.clone(),
        }
    }

    /// `GET /api/workspaces`: every worktree workspace, newest first.
    pub(super) fn workspaces(&self) -> ApiResult<WorkspacesResponse> {
        let (records, mut live) = {
            let state = self.lock_to_read();
            let records: Vec<SessionRecord> = state
                .sessions
                .iter()
                .rev()
                .filter(|s| s.workspace.as_ref().is_some_and(|w| w.is_worktree()))
                .cloned()
                .collect();
            (records, state.live_workspaces.clone())
        };
        let own =
            crate::report::own_prefix(&self.shared.config.repo, Some(&self.shared.paths.root));
        let workspaces = records
            .into_iter()
            .filter_map(|record| {
                let w = record.workspace?;
                let live = live.remove(&record.id);
                let path = PathBuf::from(&w.path);
                let path = path.as_path();
                let exists = path.is_dir();
                let changes = match (&w.base_commit, exists) {
                    (Some(base), true) => {
                        crate::workspace::diff::change_counts(path, base, own.as_deref())
                            .unwrap_or_default()
                    }
                    _ => ChangeCounts::default(),
                };
                Some(WorkspaceEntry {
                    session_id: record.id,
                    zhongshu_session_id: record.parent_session_id,
                    department: record.department,
                    head_commit: if exists { head_commit(path) } else { None }.or(w.head_commit),
                    path: w.path,
                    branch: w.branch,
                    base_commit: w.base_commit,
                    status: w.status,
                    disk_bytes: if exists { disk_bytes(path) } else { 0 },
                    changes,
                    warnings: live.map(|l| l.warnings).unwrap_or_default(),
                })
            })
            .collect();
        Ok(WorkspacesResponse {
            ok: true,
            workspaces,
        })
    }

    /// `GET /api/department_diff?session_id=`: the workspace against its base commit.
    pub(super) fn department_diff(&self, session_id: &str) -> ApiResult<DepartmentDiffResponse> {
        let id = self.require_id(session_id, "session_id")?;
        let record = self
            .lock_to_read()
            .session(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("unknown session_id: {id}")))?;
        if record.is_zhongshu() {
            return Err(ApiError::bad_request(format!(
                "{id} is a Zhongshu session; only departments have workspaces"
            )));
        }
        let Some(workspace) = record.workspace.filter(|w| w.is_worktree()) else {
            return Err(ApiError::new(
                409,
                format!("{id} works in the shared repository, not a worktree of its own: the governance report shows its changes"),
            ));
        };
        let base = workspace.base_commit.unwrap_or_default();
        let path = Path::new(&workspace.path);
        if !path.is_dir() {
            return Err(ApiError::new(
                409,
                format!("the worktree of {id} is not there ({})", workspace.status),
            ));
        }
        let own =
            crate::report::own_prefix(&self.shared.config.repo, Some(&self.shared.paths.root));
        // A running worktree's change index knows which paths can differ: only those are asked,
        // of its repository kept open.
        let live = self
            .shared
            .workspace_indexes
            .lock_or_recover()
            .get(id)
            .cloned();
        let candidates = live.and_then(|live| {
            let paths = live.index.base_candidates(&base).ok().flatten()?;
            Some((live.repo, paths))
        });
        let files = match candidates {
            Some((repo, paths)) => repo.diff_among(&base, own.as_deref(), &paths),
            None => crate::workspace::diff::department_diff(path, &base, own.as_deref()),
        }
        .map_err(|err| internal(err.into()))?;
        Ok(DepartmentDiffResponse {
            ok: true,
            session_id: id.to_string(),
            base_commit: base,
            files,
        })
    }
}

/// Bytes of the files under `path`, without following symlinks (the object store is shared
/// with the repository and not counted).
fn disk_bytes(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

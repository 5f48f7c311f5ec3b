//! The merge gate in the engine: a department's branch reaches its plan's base branch only
//! through `POST /api/merge_department`, only on evidence (its verification passed for the
//! branch's current head, or the user forced it, audited), and all or nothing (see
//! `workspace::merge`). `POST /api/remove_workspace` removes a worktree without losing
//! unmerged work unless forced.

use std::path::{Path, PathBuf};

use app::api::*;
use serde_json::json;

use super::records::{SessionRecord, WorkspaceRecord};
use super::{internal, text, Engine};
use crate::workspace::merge::{self, MergeError, MergePlan, Strategy};

/// A merge refused: what was wrong, as a 409 in the failure shape.
fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(409, message)
}

fn merge_error(err: MergeError) -> ApiError {
    match err {
        MergeError::Conflicts(paths) => conflict(format!(
            "the branch conflicts with the base on {}: nothing was changed",
            paths.join(", ")
        )),
        MergeError::UncommittedChanges(paths) => conflict(format!(
            "your uncommitted changes touch merged paths ({}): commit or stash them first; nothing was changed",
            paths.join(", ")
        )),
        MergeError::NothingToMerge => conflict("the branch adds nothing to the base branch"),
        MergeError::BaseMoved => {
            conflict("the base branch moved while merging: nothing was changed; try again")
        }
        MergeError::InProgress(path) => conflict(format!(
            "another merge is in progress (journal {})",
            path.display()
        )),
        other => internal(other.into()),
    }
}

impl Engine {
    /// The merge journal: it exists only while a checked-out base branch is being updated.
    fn merge_journal(&self) -> PathBuf {
        self.shared.paths.root.join("merge-journal.json")
    }

    /// At start: finishes or undoes a merge the previous run was killed in the middle of.
    pub(super) fn recover_interrupted_merge(&self) {
        match merge::recover(&self.merge_journal()) {
            Ok(None) => {}
            Ok(Some(what)) => {
                tracing::warn!("an interrupted merge was recovered: {what}");
                self.shared
                    .audit
                    .record("merge_recovered", json!({"outcome": what}));
            }
            Err(err) => tracing::error!("cannot recover an interrupted merge: {err}"),
        }
    }

    /// A department session with a worktree of its own, by id, and that worktree.
    fn worktree_department(&self, id: &str) -> ApiResult<(SessionRecord, WorkspaceRecord)> {
        let state = self.lock_to_read();
        let record = state
            .session(id)
            .ok_or_else(|| ApiError::not_found(format!("unknown session_id: {id}")))?
            .clone();
        if record.is_zhongshu() {
            return Err(ApiError::bad_request(format!(
                "{id} is a Zhongshu session; only departments have workspaces"
            )));
        }
        match record.workspace.clone().filter(|w| w.is_worktree()) {
            Some(workspace) => Ok((record, workspace)),
            None => Err(conflict(format!(
                "{id} works in the shared repository: there is no branch of its own to merge or remove"
            ))),
        }
    }

    /// `POST /api/merge_department`.
    pub(super) fn merge_department(
        &self,
        request: MergeDepartmentRequest,
    ) -> ApiResult<MergeDepartmentResponse> {
        let id = self
            .require_id(&request.session_id, "session_id")?
            .to_string();
        let (record, workspace) = self.worktree_department(&id)?;
        match workspace.status {
            WorkspaceStatus::Merged => return Err(conflict(format!("{id} is already merged"))),
            WorkspaceStatus::Removed => {
                return Err(conflict(format!("the workspace of {id} was removed")))
            }
            WorkspaceStatus::Preparing | WorkspaceStatus::Failed => {
                return Err(conflict(format!(
                    "the workspace of {id} is {}: there is nothing to merge",
                    workspace.status
                )))
            }
            WorkspaceStatus::Ready | WorkspaceStatus::Closed => {}
        }
        if record.is_running() {
            return Err(conflict(format!(
                "{id} is still running: close it (or let it finish its turn) before merging"
            )));
        }
        let branch = workspace.branch.clone().unwrap_or_default();
        let (owner, base_branch, result) = {
            let state = self.lock_to_read();
            let owner = record.parent_session_id.clone().unwrap_or_default();
            let base_branch = state.session(&owner).and_then(|z| z.base_branch.clone());
            let result = record.last_report_id.as_ref().and_then(|report| {
                state
                    .results
                    .get(&owner)
                    .and_then(|rs| rs.iter().find(|r| &r.report_id == report))
                    .cloned()
            });
            (owner, base_branch, result)
        };
        let Some(base_branch) = base_branch else {
            return Err(conflict(
                "the plan started from a detached HEAD: there is no base branch to merge into",
            ));
        };
        let Some(result) = result else {
            return Err(conflict(format!(
                "{id} has not reported a result: nothing is verified to merge"
            )));
        };
        let head = branch_head(&self.shared.config.repo, &branch);
        let verification = result.verification.clone();
        let verified = verification.as_ref().is_some_and(|v| {
            v.status == VerificationStatus::Passed
                && v.head_commit.is_some()
                && v.head_commit == head
        });
        if verification
            .as_ref()
            .is_some_and(|v| v.status == VerificationStatus::Running)
        {
            return Err(conflict(format!(
                "the verification of {id} is still running"
            )));
        }
        if !verified && !request.force_unverified {
            let why = match &verification {
                None => "it was not verified".to_string(),
                Some(v) if v.status != VerificationStatus::Passed => {
                    format!("its verification {}", v.status)
                }
                Some(_) => "its branch moved since it was verified".to_string(),
            };
            return Err(conflict(format!(
                "{id} cannot be merged: {why} (verify it again, or pass force_unverified)"
            )));
        }
        if !verified {
            self.shared.audit.record(
                "merge_forced_unverified",
                json!({"session_id": id, "branch": branch, "head_commit": head, "verification": verification.as_ref().map(|v| v.status)}),
            );
        }
        let message = format!(
            "{} ({}): {}\n\nGoverned by Zhongshu session {owner}, report {}, department session {id}.",
            record.department,
            branch,
            text::clip(&result.summary, 200),
            result.report_id
        );
        let merged = merge::merge_branch(&MergePlan {
            repo: &self.shared.config.repo,
            branch: &branch,
            base_branch: &base_branch,
            strategy: match request.strategy {
                MergeStrategy::Squash => Strategy::Squash,
                MergeStrategy::Merge => Strategy::Merge,
            },
            message: &message,
            journal: &self.merge_journal(),
        })
        .map_err(merge_error)?;
        // The work is on the base branch now: its worktree goes (and its branch, if asked).
        let removal = merge::remove_worktree(
            &self.shared.config.repo,
            &id,
            Path::new(&workspace.path),
            request.delete_branch.then_some(branch.as_str()),
        );
        if let Err(err) = &removal {
            tracing::warn!("merged {id}, but its worktree stays: {err}");
        }
        self.set_workspace_status(
            &id,
            WorkspaceStatus::Merged,
            Some(merged.merged_commit.clone()),
        );
        self.shared.audit.record(
            "department_merged",
            json!({
                "session_id": id,
                "parent_session_id": owner,
                "branch": branch,
                "base_branch": base_branch,
                "strategy": request.strategy,
                "merged_commit": merged.merged_commit,
                "files": merged.files,
                "forced_unverified": !verified,
                "worktree_removed": removal.is_ok(),
            }),
        );
        self.notify_base_moved(&owner, &id, &base_branch, &merged.merged_commit);
        Ok(MergeDepartmentResponse {
            ok: true,
            session_id: id,
            merged_commit: merged.merged_commit,
            base_branch,
            files: merged.files,
        })
    }

    /// `POST /api/remove_workspace`.
    pub(super) fn remove_workspace(
        &self,
        request: RemoveWorkspaceRequest,
    ) -> ApiResult<RemoveWorkspaceResponse> {
        let id = self
            .require_id(&request.session_id, "session_id")?
            .to_string();
        let (record, workspace) = self.worktree_department(&id)?;
        if record.is_running() {
            return Err(conflict(format!(
                "{id} is still running in its worktree: close it first"
            )));
        }
        if matches!(
            workspace.status,
            WorkspaceStatus::Merged | WorkspaceStatus::Removed
        ) {
            return Err(conflict(format!("the worktree of {id} is already gone")));
        }
        let path = Path::new(&workspace.path);
        if path.is_dir() && !request.force {
            let base = {
                let state = self.lock_to_read();
                record
                    .parent_session_id
                    .as_deref()
                    .and_then(|z| state.session(z))
                    .and_then(|z| z.base_branch.clone())
            }
            .or(workspace.base_commit.clone())
            .unwrap_or_default();
            let unmerged = merge::has_unmerged_changes(&self.shared.config.repo, path, &base)
                .map_err(|err| internal(err.into()))?;
            if unmerged {
                return Err(conflict(format!(
                    "the worktree of {id} holds changes that are not merged into {base}: merge it, or pass force to remove it anyway (its branch stays)"
                )));
            }
        }
        if path.is_dir() {
            merge::remove_worktree(&self.shared.config.repo, &id, path, None)
                .map_err(|err| internal(err.into()))?;
        }
        self.set_workspace_status(&id, WorkspaceStatus::Removed, None);
        self.shared.audit.record(
            "workspace_removed",
            json!({"session_id": id, "path": workspace.path, "forced": request.force}),
        );
        let workspace = WorkspaceRecord {
            status: WorkspaceStatus::Removed,
            ..workspace
        };
        Ok(RemoveWorkspaceResponse {
            ok: true,
            session_id: id,
            workspace: Self::workspace_view_of(&workspace),
        })
    }

    fn set_workspace_status(&self, id: &str, status: WorkspaceStatus, head: Option<String>) {
        let mut state = self.lock();
        if let Some(workspace) = state.session_mut(id).and_then(|s| s.workspace.as_mut()) {
            workspace.status = status;
            if head.is_some() {
                workspace.head_commit = head;
            }
        }
        if let Err(err) = state.save_session(id) {
            tracing::error!("{err:#}");
        }
        drop(state);
        self.emit("sessions", Some(id));
        self.emit("workspaces", Some(id));
    }

    /// Other running departments of the plan work from a base that just moved: tell them.
    fn notify_base_moved(&self, owner: &str, merged_id: &str, base_branch: &str, commit: &str) {
        let state = self.lock_to_read();
        let merged_department = state
            .session(merged_id)
            .map(|s| s.department.clone())
            .unwrap_or_default();
        let line = text::normalize(&format!(
            "[launcher] The base branch {base_branch} moved: {merged_department} was merged (commit {}). Your worktree still starts from the old base; rebase or merge it if you need that work.",
            &commit[..commit.len().min(10)]
        ));
        for session in state.sessions.iter().filter(|s| {
            s.parent_session_id.as_deref() == Some(owner)
                && s.id != merged_id
                && s.is_running()
                && s.workspace.as_ref().is_some_and(|w| w.is_worktree())
        }) {
            if let Some(process) = state.processes.get(&session.id) {
                self.type_notice(process, &session.agent, &line);
            }
        }
    }
}

/// The commit a local branch points at.
fn branch_head(repo: &Path, branch: &str) -> Option<String> {
    let repo = git2::Repository::open(repo).ok()?;
    let reference = repo.find_branch(branch, git2::BranchType::Local).ok()?;
    let commit = reference.get().peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

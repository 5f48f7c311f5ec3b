//! Department workspaces: a Git worktree per department session, its live change set and the
//! ownership warnings the governance rules give for it; the diff of a workspace for review.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::off_reactor;
use super::ApiError;

use super::states::{
    FileChangeStatus, MergeStrategy, OwnershipKind, VerificationStatus, WorkspaceMode,
    WorkspaceStatus, WorkspaceWarningKind,
};

/// Where a department session works (`workspace` in its session payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Workspace {
    pub mode: WorkspaceMode,
    /// The directory the agent works in (the repository itself in `shared` mode).
    pub path: String,
    /// `governance/<zhongshu_id>/<department>` (worktree mode).
    pub branch: Option<String>,
    /// The commit the worktree was created from.
    pub base_commit: Option<String>,
    /// The worktree's HEAD commit, as last seen.
    pub head_commit: Option<String>,
    pub status: WorkspaceStatus,
    /// Why preparing the workspace failed, or why a worktree-mode server runs this department
    /// in the repository itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The server's workspace mode (`workspace` in the status payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct WorkspaceSetting {
    /// The mode asked for (`--workspace`, default `worktree`).
    pub mode: WorkspaceMode,
    /// Set when new departments work in the repository itself although `worktree` was asked
    /// for, and why (a repository with no commit yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// How much a workspace changed against its base (committed and uncommitted together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ChangeCounts {
    pub files: u32,
    pub additions: u32,
    pub deletions: u32,
}

/// A department changing what the governance rules route elsewhere, or two live workspaces
/// changing the same path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct WorkspaceWarning {
    pub kind: WorkspaceWarningKind,
    pub path: String,
    /// The departments involved (the changing one first).
    pub departments: Vec<String>,
    pub message: String,
}

/// A path a plan assignment names that the governance rules give to another department, or that
/// another assignment of the plan names too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct OwnershipWarning {
    pub assignment_index: u32,
    pub department: String,
    pub path: String,
    /// The department the rules route the path to (`owned_by_other`), or the other assignment's
    /// department (`overlap`).
    pub owner: String,
    pub kind: OwnershipKind,
    pub message: String,
}

/// One workspace as `GET /api/workspaces` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct WorkspaceEntry {
    pub session_id: String,
    pub zhongshu_session_id: Option<String>,
    pub department: String,
    pub path: String,
    pub branch: Option<String>,
    pub base_commit: Option<String>,
    pub head_commit: Option<String>,
    pub status: WorkspaceStatus,
    /// Bytes the worktree takes on disk (its files, without the shared object store).
    pub disk_bytes: u64,
    pub changes: ChangeCounts,
    pub warnings: Vec<WorkspaceWarning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct WorkspacesResponse {
    pub ok: bool,
    pub workspaces: Vec<WorkspaceEntry>,
}

/// One changed file of a workspace against its base commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct FileDiff {
    pub path: String,
    /// The path before a rename.
    pub old_path: Option<String>,
    pub status: FileChangeStatus,
    pub additions: u32,
    pub deletions: u32,
    pub binary: bool,
    /// The patch was cut at 256 KiB.
    pub truncated: bool,
    /// The unified diff of this file (empty for binary files).
    pub patch: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct DepartmentDiffResponse {
    pub ok: bool,
    pub session_id: String,
    pub base_commit: String,
    pub files: Vec<FileDiff>,
}

/// The launcher's verification of a department's result: the commands the governance rules give
/// for its changed paths, run one after another in its workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Verification {
    pub status: VerificationStatus,
    pub base_commit: Option<String>,
    /// The commit verified: the workspace's changes committed on its branch first.
    pub head_commit: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub commands: Vec<VerificationCommand>,
    /// The read-only browser terminal the commands run in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<String>,
    /// Its page (with the viewer token), as `browser_terminal_url` is for sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct VerificationCommand {
    pub command: String,
    /// None: killed at the timeout, or could not start.
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// The last 8 KiB of its output.
    pub output_tail: String,
    #[serde(default)]
    pub timed_out: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct VerifyDepartmentRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct VerifyDepartmentResponse {
    pub ok: bool,
    pub session_id: String,
    pub report_id: String,
    pub verification: Verification,
}

/// `POST /api/verify_department {session_id}`: runs the department's verification again.
#[server(prefix = "/api", endpoint = "verify_department", input = Json)]
pub async fn verify_department(
    #[server(flatten)] request: VerifyDepartmentRequest,
) -> Result<VerifyDepartmentResponse, ApiError> {
    off_reactor(move |engine| engine.verify_department(request)).await
}

fn squash() -> MergeStrategy {
    MergeStrategy::Squash
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct MergeDepartmentRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub session_id: String,
    #[serde(default = "squash")]
    pub strategy: MergeStrategy,
    /// Delete the department's branch after the merge (kept by default).
    #[serde(default)]
    pub delete_branch: bool,
    /// Merge although the verification did not pass for the current head (audited).
    #[serde(default)]
    pub force_unverified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct MergeDepartmentResponse {
    pub ok: bool,
    pub session_id: String,
    pub merged_commit: String,
    pub base_branch: String,
    /// The paths the merge changed on the base branch.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RemoveWorkspaceRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub session_id: String,
    /// Remove it although it holds changes that are not merged.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RemoveWorkspaceResponse {
    pub ok: bool,
    pub session_id: String,
    pub workspace: Workspace,
}

/// `POST /api/merge_department {session_id, strategy?, delete_branch?, force_unverified?}`.
#[server(prefix = "/api", endpoint = "merge_department", input = Json)]
pub async fn merge_department(
    #[server(flatten)] request: MergeDepartmentRequest,
) -> Result<MergeDepartmentResponse, ApiError> {
    off_reactor(move |engine| engine.merge_department(request)).await
}

/// `POST /api/remove_workspace {session_id, force?}`.
#[server(prefix = "/api", endpoint = "remove_workspace", input = Json)]
pub async fn remove_workspace(
    #[server(flatten)] request: RemoveWorkspaceRequest,
) -> Result<RemoveWorkspaceResponse, ApiError> {
    off_reactor(move |engine| engine.remove_workspace(request)).await
}

/// `GET /api/workspaces`: every department worktree, newest first.
#[server(prefix = "/api", endpoint = "workspaces", input = GetUrl)]
pub async fn workspaces() -> Result<WorkspacesResponse, ApiError> {
    off_reactor(move |engine| engine.workspaces()).await
}

/// `GET /api/department_diff?session_id=`: a department's workspace against its base commit.
#[server(prefix = "/api", endpoint = "department_diff", input = GetUrl)]
pub async fn department_diff(
    #[server(default)] session_id: String,
) -> Result<DepartmentDiffResponse, ApiError> {
    off_reactor(move |engine| engine.department_diff(session_id)).await
}

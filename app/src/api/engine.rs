//! The seam between the API contract (this crate) and the engine (the `server` crate).
//! Server functions reach the engine through an [`EngineHandle`] provided as Leptos context.

use std::sync::Arc;

use super::*;

/// Everything the API routes ask of the launcher engine. Methods validate their input and
/// answer a 400 [`ApiError`] with a clear message when it is wrong.
pub trait EngineApi: Send + Sync + 'static {
    fn status(&self) -> ApiResult<StatusPayload>;
    fn start_zhongshu(&self, request: StartZhongshuRequest) -> ApiResult<StartedSession>;
    fn restart_zhongshu(&self, request: RestartZhongshuRequest) -> ApiResult<RestartResponse>;
    fn report_plan(&self, request: ReportPlanRequest) -> ApiResult<ReportPlanResponse>;
    fn start_assignments(
        &self,
        request: StartAssignmentsRequest,
    ) -> ApiResult<StartAssignmentsResponse>;
    /// `require_parent`: the `/api/start_department_for_zhongshu` alias insists on a parent.
    fn start_department(
        &self,
        request: StartDepartmentRequest,
        require_parent: bool,
    ) -> ApiResult<StartedSession>;
    fn session_input(&self, request: SessionInputRequest) -> ApiResult<SessionResponse>;
    fn close_session(&self, request: SessionIdRequest) -> ApiResult<SessionResponse>;
    fn zhongshu_sessions(&self) -> ApiResult<ZhongshuSessionsResponse>;
    fn zhongshu_plan(&self, id: String) -> ApiResult<ZhongshuPlanResponse>;
    fn zhongshu_inbox(&self, id: String, peek: bool) -> ApiResult<InboxResponse>;
    fn zhongshu_context(&self, id: String) -> ApiResult<ContextResponse>;
    /// `id`: the Zhongshu session; `report_id`: one of its results.
    fn handoff_packet(&self, id: String, report_id: String) -> ApiResult<HandoffPacketResponse>;
    /// `mode`: worktree (default), staged, base (needs `base`).
    fn report(&self, mode: Option<String>, base: Option<String>) -> ApiResult<ReportResponse>;
    fn plan_assignments(
        &self,
        request: PlanAssignmentsRequest,
    ) -> ApiResult<PlanAssignmentsResponse>;
    fn browser_terminals(&self) -> ApiResult<TerminalsResponse>;
    fn start_browser_terminal(&self, request: StartTerminalRequest) -> ApiResult<TerminalResponse>;
    fn close_browser_terminal(&self, request: TerminalIdRequest) -> ApiResult<TerminalResponse>;
    fn start_session_terminal(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse>;
    /// A terminal of a running session that takes keystrokes from the viewer holding control.
    fn start_session_control(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse>;
    /// Every department worktree, with its change counts and warnings.
    fn workspaces(&self) -> ApiResult<WorkspacesResponse>;
    /// A department's workspace against its base commit, file by file.
    fn department_diff(&self, session_id: String) -> ApiResult<DepartmentDiffResponse>;
    /// Merges a verified department's branch into its plan's base branch.
    fn merge_department(
        &self,
        request: MergeDepartmentRequest,
    ) -> ApiResult<MergeDepartmentResponse>;
    /// Removes a department's worktree (its branch stays).
    fn remove_workspace(
        &self,
        request: RemoveWorkspaceRequest,
    ) -> ApiResult<RemoveWorkspaceResponse>;
    /// Runs a department's verification again (its latest result).
    fn verify_department(
        &self,
        request: VerifyDepartmentRequest,
    ) -> ApiResult<VerifyDepartmentResponse>;
}

/// Shared handle to the engine, cheap to clone into every request's context.
#[derive(Clone)]
pub struct EngineHandle(pub Arc<dyn EngineApi>);

/// The engine of the current request, or a 500 when the server was wired without one.
pub fn engine() -> ApiResult<Arc<dyn EngineApi>> {
    leptos::prelude::use_context::<EngineHandle>()
        .map(|handle| handle.0)
        .ok_or_else(|| ApiError::internal("launcher engine is not available"))
}

/// Runs an engine call on tokio's blocking pool. The engine touches SQLite, spawns processes and
/// reads files under its lock; none of that may stall the reactor that serves the push stream,
/// the terminals and every other connection, however slow the disk is.
#[cfg(feature = "ssr")]
pub async fn off_reactor<T: Send + 'static>(
    call: impl FnOnce(&dyn EngineApi) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let engine = engine()?;
    tokio::task::spawn_blocking(move || call(engine.as_ref()))
        .await
        .unwrap_or_else(|err| Err(ApiError::internal(format!("engine call failed: {err}"))))
}

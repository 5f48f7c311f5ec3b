//! The API contract's seam, implemented by the engine: each route's method forwards to the
//! engine method of the same name.

use app::api::*;

use super::Engine;

impl EngineApi for Engine {
    fn status(&self) -> ApiResult<StatusPayload> {
        Ok(Engine::status(self))
    }

    fn start_zhongshu(&self, request: StartZhongshuRequest) -> ApiResult<StartedSession> {
        Engine::start_zhongshu(self, request)
    }

    fn restart_zhongshu(&self, request: RestartZhongshuRequest) -> ApiResult<RestartResponse> {
        Engine::restart_zhongshu(self, request)
    }

    fn report_plan(&self, request: ReportPlanRequest) -> ApiResult<ReportPlanResponse> {
        Engine::report_plan(self, request)
    }

    fn start_assignments(
        &self,
        request: StartAssignmentsRequest,
    ) -> ApiResult<StartAssignmentsResponse> {
        Engine::start_assignments(self, request)
    }

    fn start_department(
        &self,
        request: StartDepartmentRequest,
        require_parent: bool,
    ) -> ApiResult<StartedSession> {
        Engine::start_department(self, request, require_parent)
    }

    fn session_input(&self, request: SessionInputRequest) -> ApiResult<SessionResponse> {
        Engine::session_input(self, request)
    }

    fn close_session(&self, request: SessionIdRequest) -> ApiResult<SessionResponse> {
        Engine::close_session(self, request)
    }

    fn zhongshu_sessions(&self) -> ApiResult<ZhongshuSessionsResponse> {
        Ok(Engine::zhongshu_sessions(self))
    }

    fn zhongshu_plan(&self, id: String) -> ApiResult<ZhongshuPlanResponse> {
        Engine::zhongshu_plan(self, &id)
    }

    fn zhongshu_inbox(&self, id: String, peek: bool) -> ApiResult<InboxResponse> {
        Engine::zhongshu_inbox(self, &id, peek)
    }

    fn zhongshu_context(&self, id: String) -> ApiResult<ContextResponse> {
        Engine::zhongshu_context(self, &id)
    }

    fn handoff_packet(&self, id: String, report_id: String) -> ApiResult<HandoffPacketResponse> {
        Engine::handoff_packet(self, &id, &report_id)
    }

    fn report(&self, mode: Option<String>, base: Option<String>) -> ApiResult<ReportResponse> {
        Engine::report(self, mode, base)
    }

    fn plan_assignments(
        &self,
        request: PlanAssignmentsRequest,
    ) -> ApiResult<PlanAssignmentsResponse> {
        Engine::plan_assignments(self, request)
    }

    fn browser_terminals(&self) -> ApiResult<TerminalsResponse> {
        Ok(Engine::browser_terminals(self))
    }

    fn start_browser_terminal(&self, request: StartTerminalRequest) -> ApiResult<TerminalResponse> {
        Engine::start_browser_terminal(self, request)
    }

    fn close_browser_terminal(&self, request: TerminalIdRequest) -> ApiResult<TerminalResponse> {
        Engine::close_browser_terminal(self, request)
    }

    fn start_session_terminal(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse> {
        Engine::start_session_terminal(self, request)
    }

    fn start_session_control(
        &self,
        request: SessionIdRequest,
    ) -> ApiResult<SessionTerminalResponse> {
        Engine::start_session_control(self, request)
    }

    fn workspaces(&self) -> ApiResult<WorkspacesResponse> {
        Engine::workspaces(self)
    }

    fn department_diff(&self, session_id: String) -> ApiResult<DepartmentDiffResponse> {
        Engine::department_diff(self, &session_id)
    }

    fn verify_department(
        &self,
        request: VerifyDepartmentRequest,
    ) -> ApiResult<VerifyDepartmentResponse> {
        Engine::verify_department(self, request)
    }

    fn merge_department(
        &self,
        request: MergeDepartmentRequest,
    ) -> ApiResult<MergeDepartmentResponse> {
        Engine::merge_department(self, request)
    }

    fn remove_workspace(
        &self,
        request: RemoveWorkspaceRequest,
    ) -> ApiResult<RemoveWorkspaceResponse> {
        Engine::remove_workspace(self, request)
    }
}

//! The documented JSON API: payload types and the server functions mounted at `/api/...`.
//! GET routes take query parameters; POST routes take a JSON object body whose fields are the
//! request struct's (flattened, so the body is exactly what SPEC shows).

mod dto;
#[cfg(feature = "ssr")]
mod engine;
mod error;
mod flow;
#[cfg(feature = "ssr")]
pub mod openapi;
mod report;
mod states;
mod terminals;
mod workspaces;

pub use dto::*;
#[cfg(feature = "ssr")]
use engine::off_reactor;
#[cfg(feature = "ssr")]
pub use engine::{engine, EngineApi, EngineHandle};
pub use error::{ApiError, ApiResult};
pub use flow::*;
pub use report::*;
pub use states::*;
pub use terminals::*;
pub use workspaces::*;

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

/// `peek=1|true|yes` reads the inbox without marking results read.
pub fn is_peek(value: Option<&str>) -> bool {
    matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("1" | "true" | "yes")
    )
}

/// `GET /api/status`: launcher state, sessions, queue, API version, models, limits.
#[server(prefix = "/api", endpoint = "status", input = GetUrl)]
pub async fn get_status() -> Result<StatusPayload, ApiError> {
    off_reactor(move |engine| engine.status()).await
}

/// `GET /api/sessions`: same payload as `/api/status` (kept for the reference's clients).
#[server(prefix = "/api", endpoint = "sessions", input = GetUrl)]
pub async fn get_sessions() -> Result<StatusPayload, ApiError> {
    off_reactor(move |engine| engine.status()).await
}

/// `GET /api/zhongshu_sessions`: Zhongshu sessions with their departments and queue.
#[server(prefix = "/api", endpoint = "zhongshu_sessions", input = GetUrl)]
pub async fn zhongshu_sessions() -> Result<ZhongshuSessionsResponse, ApiError> {
    off_reactor(move |engine| engine.zhongshu_sessions()).await
}

/// `GET /api/zhongshu_plan?id=`: the latest plan of a Zhongshu session.
#[server(prefix = "/api", endpoint = "zhongshu_plan", input = GetUrl)]
pub async fn zhongshu_plan(
    #[server(default)] id: String,
) -> Result<ZhongshuPlanResponse, ApiError> {
    off_reactor(move |engine| engine.zhongshu_plan(id)).await
}

/// `GET /api/zhongshu_inbox?id=&peek=`: unread and read results; marks them read unless peek.
#[server(prefix = "/api", endpoint = "zhongshu_inbox", input = GetUrl)]
pub async fn zhongshu_inbox(
    #[server(default)] id: String,
    #[server(default)] peek: Option<String>,
) -> Result<InboxResponse, ApiError> {
    off_reactor(move |engine| engine.zhongshu_inbox(id, is_peek(peek.as_deref()))).await
}

/// `GET /api/zhongshu_context?id=`: restart snapshot (task, plan, recent reports, children).
#[server(prefix = "/api", endpoint = "zhongshu_context", input = GetUrl)]
pub async fn zhongshu_context(#[server(default)] id: String) -> Result<ContextResponse, ApiError> {
    off_reactor(move |engine| engine.zhongshu_context(id)).await
}

/// `GET /api/handoff_packet?id=&report_id=`: the Markdown handoff packet of one result.
#[server(prefix = "/api", endpoint = "handoff_packet", input = GetUrl)]
pub async fn handoff_packet(
    #[server(default)] id: String,
    #[server(default)] report_id: String,
) -> Result<HandoffPacketResponse, ApiError> {
    off_reactor(move |engine| engine.handoff_packet(id, report_id)).await
}

/// `GET /api/report?mode=worktree|staged|base&base=REF`: the governance report from Git state.
#[server(prefix = "/api", endpoint = "report", input = GetUrl)]
pub async fn get_report(
    #[server(default)] mode: Option<String>,
    #[server(default)] base: Option<String>,
) -> Result<ReportResponse, ApiError> {
    off_reactor(move |engine| engine.report(mode, base)).await
}

/// `POST /api/plan_assignments {task}`: a suggested plan from the worktree report.
#[server(prefix = "/api", endpoint = "plan_assignments", input = Json)]
pub async fn plan_assignments(
    #[server(flatten)] request: PlanAssignmentsRequest,
) -> Result<PlanAssignmentsResponse, ApiError> {
    off_reactor(move |engine| engine.plan_assignments(request)).await
}

/// `GET /api/browser_terminals`: every browser terminal of this server run and before.
#[server(prefix = "/api", endpoint = "browser_terminals", input = GetUrl)]
pub async fn browser_terminals() -> Result<TerminalsResponse, ApiError> {
    off_reactor(move |engine| engine.browser_terminals()).await
}

/// `POST /api/browser_terminal/start {shell?, shell_args?}`: an interactive shell in the repo
/// (the running one is reused).
#[server(prefix = "/api", endpoint = "browser_terminal/start", input = Json)]
pub async fn start_browser_terminal(
    #[server(flatten)] request: StartTerminalRequest,
) -> Result<TerminalResponse, ApiError> {
    off_reactor(move |engine| engine.start_browser_terminal(request)).await
}

/// `POST /api/browser_terminal/close {id}`: ends the terminal (and its shell's process group).
#[server(prefix = "/api", endpoint = "browser_terminal/close", input = Json)]
pub async fn close_browser_terminal(
    #[server(flatten)] request: TerminalIdRequest,
) -> Result<TerminalResponse, ApiError> {
    off_reactor(move |engine| engine.close_browser_terminal(request)).await
}

/// `POST /api/session_browser_terminal/start {session_id}`: a read-only live view of a session.
#[server(prefix = "/api", endpoint = "session_browser_terminal/start", input = Json)]
pub async fn start_session_browser_terminal(
    #[server(flatten)] request: SessionIdRequest,
) -> Result<SessionTerminalResponse, ApiError> {
    off_reactor(move |engine| engine.start_session_terminal(request)).await
}

/// `POST /api/session_control/start {session_id}`: a terminal of a running session that accepts
/// keystrokes from the one viewer holding control (each viewer that connects takes it).
#[server(prefix = "/api", endpoint = "session_control/start", input = Json)]
pub async fn start_session_control(
    #[server(flatten)] request: SessionIdRequest,
) -> Result<SessionTerminalResponse, ApiError> {
    off_reactor(move |engine| engine.start_session_control(request)).await
}

/// `POST /api/start_zhongshu_session {task, model?, agent?}`.
#[server(prefix = "/api", endpoint = "start_zhongshu_session", input = Json)]
pub async fn start_zhongshu_session(
    #[server(flatten)] request: StartZhongshuRequest,
) -> Result<StartedSession, ApiError> {
    off_reactor(move |engine| engine.start_zhongshu(request)).await
}

/// `POST /api/start_zhongshu`: alias of `/api/start_zhongshu_session`.
#[server(prefix = "/api", endpoint = "start_zhongshu", input = Json)]
pub async fn start_zhongshu(
    #[server(flatten)] request: StartZhongshuRequest,
) -> Result<StartedSession, ApiError> {
    off_reactor(move |engine| engine.start_zhongshu(request)).await
}

/// `POST /api/restart_zhongshu_session {session_id, model?}`.
#[server(prefix = "/api", endpoint = "restart_zhongshu_session", input = Json)]
pub async fn restart_zhongshu_session(
    #[server(flatten)] request: RestartZhongshuRequest,
) -> Result<RestartResponse, ApiError> {
    off_reactor(move |engine| engine.restart_zhongshu(request)).await
}

/// `POST /api/report_zhongshu_plan {session_id, summary, assignments}`.
#[server(prefix = "/api", endpoint = "report_zhongshu_plan", input = Json)]
pub async fn report_zhongshu_plan(
    #[server(flatten)] request: ReportPlanRequest,
) -> Result<ReportPlanResponse, ApiError> {
    off_reactor(move |engine| engine.report_plan(request)).await
}

/// `POST /api/start_assignments {parent_session_id, assignments}`: the confirmation gate.
#[server(prefix = "/api", endpoint = "start_assignments", input = Json)]
pub async fn start_assignments(
    #[server(flatten)] request: StartAssignmentsRequest,
) -> Result<StartAssignmentsResponse, ApiError> {
    off_reactor(move |engine| engine.start_assignments(request)).await
}

/// `POST /api/start_department {department, task, parent_session_id?, model?}`.
#[server(prefix = "/api", endpoint = "start_department", input = Json)]
pub async fn start_department(
    #[server(flatten)] request: StartDepartmentRequest,
) -> Result<StartedSession, ApiError> {
    off_reactor(move |engine| engine.start_department(request, false)).await
}

/// `POST /api/start_department_for_zhongshu`: like start_department, parent required.
#[server(prefix = "/api", endpoint = "start_department_for_zhongshu", input = Json)]
pub async fn start_department_for_zhongshu(
    #[server(flatten)] request: StartDepartmentRequest,
) -> Result<StartedSession, ApiError> {
    off_reactor(move |engine| engine.start_department(request, true)).await
}

/// `POST /api/session_input {session_id, input}`: types a line into a running session.
#[server(prefix = "/api", endpoint = "session_input", input = Json)]
pub async fn session_input(
    #[server(flatten)] request: SessionInputRequest,
) -> Result<SessionResponse, ApiError> {
    off_reactor(move |engine| engine.session_input(request)).await
}

/// `POST /api/close_session {session_id}`: ends the session's whole process group.
#[server(prefix = "/api", endpoint = "close_session", input = Json)]
pub async fn close_session(
    #[server(flatten)] request: SessionIdRequest,
) -> Result<SessionResponse, ApiError> {
    off_reactor(move |engine| engine.close_session(request)).await
}

#[cfg(test)]
mod wire_tests {
    use super::*;

    #[test]
    fn post_bodies_are_the_flattened_request() {
        let args: StartZhongshuSession =
            serde_json::from_str(r#"{"task":"hello","model":"m"}"#).unwrap();
        assert_eq!(args.request.task, "hello");
        assert_eq!(args.request.model.as_deref(), Some("m"));
    }
}

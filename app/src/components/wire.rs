//! The dashboard's calls to the JSON API, read into its own slim view types.
//!
//! The API's payloads (`crate::api`) are the contract with external tools and carry much the
//! dashboard never shows. Deserializing them whole put a deserializer for every field, nested
//! type and `flatten` into the wasm (a session alone was compiled three times: from JSON, from
//! buffered content, and flattened into its Zhongshu entry). The types here name only the fields
//! the views read, with no `flatten`: everything else is skipped while parsing. Their names are the
//! wire names, so they read the very answers the server functions send.
//!
//! In the browser each call is one `fetch` through the server functions' own client; on the
//! server (rendering the page) it runs the server function and converts its answer, so the page
//! carries the same view types for hydration.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::api::{
    AgentState, ApiError, Assignment, AssignmentInput, ChangeCounts, DepartmentDiffResponse,
    DepartmentInfo, Heartbeat, MergeStrategy, OwnershipWarning, PlanStatus, RejectedReport,
    ReportResponse, ReportStatus, ResultSource, SessionStatus, TerminalStatus, VerificationStatus,
    WorkspaceMode, WorkspaceSetting, WorkspaceStatus, WorkspaceWarning,
};

/// A list entry the dashboard only counts: parsed as `{}` (its fields skipped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {}

/// A session named by its id (in answers that carry a whole session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
}

// ---- GET /api/status ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub api_version: u32,
    pub repo: String,
    pub project_name: String,
    #[serde(with = "crate::api::department_map")]
    pub departments: Vec<DepartmentInfo>,
    pub active_department_sessions: u32,
    pub active_zhongshu_sessions: u32,
    pub max_department_sessions: u32,
    pub model_choices: Vec<String>,
    pub zhongshu_model: String,
    pub agent: AgentView,
    pub dispatch: String,
    pub workspace: WorkspaceSetting,
    #[serde(default)]
    pub pty_host: Option<PtyHostView>,
    pub queue: Vec<Item>,
    pub sessions: Vec<PaneSession>,
}

/// The PTY host that keeps agents across server restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtyHostView {
    pub pid: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentView {
    pub name: String,
    pub available: bool,
}

/// A session as the terminal wall needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaneSession {
    pub id: String,
    pub title: String,
    pub status: SessionStatus,
    pub browser_terminal_url: Option<String>,
    pub browser_terminal_status: Option<TerminalStatus>,
}

// ---- GET /api/zhongshu_sessions ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsView {
    pub active_department_sessions: u32,
    pub max_department_sessions: u32,
    pub queue: Vec<Item>,
    pub zhongshu_sessions: Vec<ZhongshuView>,
}

/// A Zhongshu entry: the session's own fields and its departments, side by side on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZhongshuView {
    pub id: String,
    pub title: String,
    pub task: String,
    pub status: SessionStatus,
    #[serde(default)]
    pub agent_state: AgentState,
    #[serde(default)]
    pub unread_result_count: u32,
    pub plan_status: Option<PlanStatus>,
    pub plan_reported_at: Option<String>,
    pub child_departments: Vec<DepartmentView>,
    pub queued_departments: Vec<QueuedView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentView {
    pub id: String,
    pub title: String,
    pub status: SessionStatus,
    pub heartbeat_status: Heartbeat,
    pub idle_seconds: Option<u64>,
    #[serde(default)]
    pub agent_state: AgentState,
    pub transcript_preview: Vec<String>,
    pub report_status: Option<ReportStatus>,
    pub workspace: Option<WorkspaceView>,
    pub changes: Option<ChangeCounts>,
    #[serde(default)]
    pub warnings: Vec<WorkspaceWarning>,
}

impl DepartmentView {
    /// Works in a worktree of its own (so it has a diff to review).
    pub fn worktree(&self) -> Option<&WorkspaceView> {
        self.workspace
            .as_ref()
            .filter(|w| w.mode == WorkspaceMode::Worktree)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceView {
    pub mode: WorkspaceMode,
    pub branch: Option<String>,
    pub status: WorkspaceStatus,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedView {
    pub title: String,
    pub task: String,
}

// ---- GET /api/zhongshu_plan ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanResponseView {
    pub session: Named,
    pub plan: PlanData,
    pub model_choices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanData {
    pub summary: String,
    pub reported_at: Option<String>,
    pub ready: bool,
    pub assignments: Vec<Assignment>,
    #[serde(default)]
    pub ownership_warnings: Vec<OwnershipWarning>,
}

// ---- GET /api/zhongshu_inbox, /api/handoff_packet ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxView {
    pub session: Named,
    pub unread_results: Vec<ResultView>,
    pub read_results: Vec<ResultView>,
    pub running_departments: Vec<Item>,
    pub completed_departments: Vec<Item>,
    pub queued_departments: Vec<Item>,
    pub unread_count: u32,
    pub rejected: Vec<RejectedReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultView {
    pub report_id: String,
    pub department: String,
    pub summary: String,
    pub changed_files: Vec<String>,
    pub verifications_run: Vec<String>,
    pub risks: Vec<String>,
    pub needs_user_confirmation: bool,
    pub next_action: String,
    pub reported_at: String,
    pub source: ResultSource,
    pub handoff_packet: Option<String>,
    pub department_session_id: String,
    pub verification: Option<VerificationView>,
}

/// The launcher's verification of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationView {
    pub status: VerificationStatus,
    pub head_commit: Option<String>,
    pub commands: Vec<CommandView>,
    pub terminal_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandView {
    pub command: String,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub output_tail: String,
    #[serde(default)]
    pub timed_out: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketView {
    pub markdown: String,
}

// ---- answers of actions ----

/// `start_zhongshu_session`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartedView {
    pub session: Named,
    pub pid: Option<u32>,
}

/// `restart_zhongshu_session`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartView {
    pub resumed_inline: bool,
    pub source_session_id: String,
    pub session: Named,
}

/// `close_session`, `session_input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionAnswer {
    pub session: Named,
}

/// `start_assignments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchedView {
    pub started: Vec<Item>,
    pub queued_count: u32,
}

/// The three terminal starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalAnswer {
    pub terminal: TerminalRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalRef {
    pub id: String,
    pub url: String,
}

/// `merge_department`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedView {
    pub merged_commit: String,
    pub base_branch: String,
    pub files: Vec<String>,
}

// ---- the calls ----

/// The server function's answer as a view type (on the server, while rendering the page).
#[cfg(feature = "ssr")]
fn view_of<F: Serialize, T: DeserializeOwned>(answer: Result<F, ApiError>) -> Result<T, ApiError> {
    let json = serde_json::to_vec(&answer?).map_err(|e| ApiError::internal(e.to_string()))?;
    parse(&json)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::internal(e.to_string()))
}

/// One request to `/api/<route>`: GET with `query`, or POST with a JSON `body`. The answer's
/// bytes, or the failure the server reported (`{"ok": false, "error": ...}`).
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
async fn fetch(route: &str, query: &str, body: Option<String>) -> Result<Vec<u8>, ApiError> {
    use leptos::server_fn::{
        client::{browser::BrowserClient, Client},
        error::FromServerFnError,
        request::{browser::BrowserRequest, ClientReq},
        response::ClientRes,
    };
    let path = ["/api/", route].concat();
    const JSON: &str = "application/json";
    let request = match body {
        None => <BrowserRequest as ClientReq<ApiError>>::try_new_req_query(
            &path,
            "application/x-www-form-urlencoded",
            JSON,
            query,
            http::Method::GET,
        ),
        Some(body) => <BrowserRequest as ClientReq<ApiError>>::try_new_req_text(
            &path,
            JSON,
            JSON,
            body,
            http::Method::POST,
        ),
    }?;
    let response = <BrowserClient as Client<ApiError>>::send(request).await?;
    let status = ClientRes::<ApiError>::status(&response);
    let bytes = ClientRes::<ApiError>::try_into_bytes(response).await?;
    if (400..=599).contains(&status) {
        return Err(ApiError::de(bytes));
    }
    Ok(bytes.to_vec())
}

#[cfg(not(any(feature = "hydrate", feature = "ssr")))]
async fn fetch(_route: &str, _query: &str, _body: Option<String>) -> Result<Vec<u8>, ApiError> {
    Err(ApiError::internal("no client in this build"))
}

/// `GET /api/<route>?<name>=<value>&...`.
#[cfg(not(feature = "ssr"))]
async fn get<T: DeserializeOwned>(route: &str, params: &[(&str, &str)]) -> Result<T, ApiError> {
    let mut query = String::new();
    // An empty value is the same as none to the server functions.
    for (name, value) in params.iter().filter(|(_, value)| !value.is_empty()) {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        #[cfg(feature = "hydrate")]
        query.push_str(&String::from(js_sys::encode_uri_component(value)));
        #[cfg(not(feature = "hydrate"))]
        query.push_str(value);
    }
    parse(&fetch(route, &query, None).await?)
}

/// `POST /api/<route>` with `request` as the JSON body.
#[cfg(not(feature = "ssr"))]
async fn post<T: DeserializeOwned>(route: &str, request: &impl Serialize) -> Result<T, ApiError> {
    let body = serde_json::to_string(request).map_err(|e| ApiError::internal(e.to_string()))?;
    parse(&fetch(route, "", Some(body)).await?)
}

/// Each call: on the server the server function, in the browser a request to its route.
macro_rules! calls {
    ($(
        $(#[$meta:meta])*
        $name:ident($($arg:ident: $ty:ty),*) -> $out:ty {
            ssr: $ssr:expr,
            $method:ident($route:literal, $request:expr)
        }
    )*) => {$(
        $(#[$meta])*
        #[allow(unused_variables)]
        pub async fn $name($($arg: $ty),*) -> Result<$out, ApiError> {
            #[cfg(feature = "ssr")]
            {
                view_of($ssr.await)
            }
            #[cfg(not(feature = "ssr"))]
            {
                $method($route, $request).await
            }
        }
    )*};
}

use crate::api as a;

calls! {
    /// `GET /api/status`.
    status() -> StatusView {
        ssr: a::get_status(),
        get("status", &[])
    }
    /// `GET /api/zhongshu_sessions`.
    zhongshu_sessions() -> SessionsView {
        ssr: a::zhongshu_sessions(),
        get("zhongshu_sessions", &[])
    }
    /// `GET /api/zhongshu_plan?id=`.
    zhongshu_plan(id: String) -> PlanResponseView {
        ssr: a::zhongshu_plan(id.clone()),
        get("zhongshu_plan", &[("id", &id)])
    }
    /// `GET /api/zhongshu_inbox?id=&peek=1`: never marks results read.
    zhongshu_inbox(id: String) -> InboxView {
        ssr: a::zhongshu_inbox(id.clone(), Some("1".into())),
        get("zhongshu_inbox", &[("id", &id), ("peek", "1")])
    }
    /// `GET /api/handoff_packet?id=&report_id=`.
    handoff_packet(id: String, report_id: String) -> PacketView {
        ssr: a::handoff_packet(id.clone(), report_id.clone()),
        get("handoff_packet", &[("id", &id), ("report_id", &report_id)])
    }
    /// `GET /api/report?mode=&base=`.
    report(mode: String, base: Option<String>) -> ReportResponse {
        ssr: a::get_report(Some(mode.clone()), base.clone()),
        get("report", &[("mode", &mode), ("base", base.as_deref().unwrap_or_default())])
    }
    /// `GET /api/department_diff?session_id=`.
    department_diff(session_id: String) -> DepartmentDiffResponse {
        ssr: a::department_diff(session_id.clone()),
        get("department_diff", &[("session_id", &session_id)])
    }
    /// `POST /api/verify_department`: runs the department's verification again.
    verify_department(session_id: String) -> Item {
        ssr: a::verify_department(a::VerifyDepartmentRequest { session_id: session_id.clone() }),
        post("verify_department", &a::VerifyDepartmentRequest { session_id })
    }
    /// `POST /api/merge_department`: the merge gate.
    merge_department(session_id: String, strategy: MergeStrategy, delete_branch: bool, force_unverified: bool) -> MergedView {
        ssr: a::merge_department(a::MergeDepartmentRequest { session_id: session_id.clone(), strategy, delete_branch, force_unverified }),
        post("merge_department", &a::MergeDepartmentRequest { session_id, strategy, delete_branch, force_unverified })
    }
    /// `POST /api/start_zhongshu_session`.
    start_zhongshu(task: String, model: Option<String>) -> StartedView {
        ssr: a::start_zhongshu_session(a::StartZhongshuRequest { task: task.clone(), model: model.clone(), agent: None }),
        post("start_zhongshu_session", &a::StartZhongshuRequest { task, model, agent: None })
    }
    /// `POST /api/restart_zhongshu_session`.
    restart_zhongshu(session_id: String) -> RestartView {
        ssr: a::restart_zhongshu_session(a::RestartZhongshuRequest { session_id: session_id.clone(), model: None }),
        post("restart_zhongshu_session", &a::RestartZhongshuRequest { session_id, model: None })
    }
    /// `POST /api/close_session`.
    close_session(session_id: String) -> SessionAnswer {
        ssr: a::close_session(a::SessionIdRequest { session_id: session_id.clone() }),
        post("close_session", &a::SessionIdRequest { session_id })
    }
    /// `POST /api/session_input`: types `input` into the session's terminal.
    session_input(session_id: String, input: String) -> SessionAnswer {
        ssr: a::session_input(a::SessionInputRequest { session_id: session_id.clone(), input: input.clone() }),
        post("session_input", &a::SessionInputRequest { session_id, input })
    }
    /// `POST /api/start_assignments`: the confirmation gate.
    start_assignments(parent_session_id: String, assignments: Vec<AssignmentInput>) -> DispatchedView {
        ssr: a::start_assignments(a::StartAssignmentsRequest { parent_session_id: parent_session_id.clone(), assignments: assignments.clone() }),
        post("start_assignments", &a::StartAssignmentsRequest { parent_session_id, assignments })
    }
    /// `POST /api/browser_terminal/start`: the user's shell (the running one is reused).
    start_shell() -> TerminalAnswer {
        ssr: a::start_browser_terminal(a::StartTerminalRequest::default()),
        post("browser_terminal/start", &a::StartTerminalRequest::default())
    }
    /// `POST /api/session_browser_terminal/start`: a read-only view of a session.
    start_session_view(session_id: String) -> TerminalAnswer {
        ssr: a::start_session_browser_terminal(a::SessionIdRequest { session_id: session_id.clone() }),
        post("session_browser_terminal/start", &a::SessionIdRequest { session_id })
    }
    /// `POST /api/session_control/start`: the session's terminal that takes keystrokes.
    start_session_control(session_id: String) -> TerminalAnswer {
        ssr: a::start_session_control(a::SessionIdRequest { session_id: session_id.clone() }),
        post("session_control/start", &a::SessionIdRequest { session_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view types read the API's own payloads (what the server functions send).
    #[test]
    fn views_read_the_api_payloads() {
        let entry = serde_json::json!({
            "ok": true, "active_department_sessions": 1, "active_zhongshu_sessions": 1,
            "max_department_sessions": 2, "queue": [{"department": "x", "title": "t"}],
            "zhongshu_sessions": [{
                "id": "zhongshu-1", "title": "中书省", "task": "t", "status": "running",
                "agent_state": "working", "unread_result_count": 2,
                "plan_status": "awaiting_confirmation", "plan_reported_at": null,
                "child_department_ids": ["d-1"], "input_history": [],
                "child_departments": [{
                    "id": "d-1", "title": "工程部", "status": "running",
                    "heartbeat_status": "active", "idle_seconds": 3, "agent_state": "unknown",
                    "transcript_preview": ["a", "b"], "report_status": "pending",
                    "mailbox": {"root": "r", "incoming": "i", "archive": "a"},
                    "workspace": {"mode": "worktree", "path": "/w", "branch": "governance/z/d",
                        "base_commit": "abc", "head_commit": "abc", "status": "failed", "reason": "r"},
                    "changes": {"files": 1, "additions": 2, "deletions": 3},
                    "warnings": [{"kind": "boundary", "path": "p", "departments": ["a", "b"], "message": "m"}]
                }],
                "queued_departments": [{"department": "q", "title": "Q", "task": "qt",
                    "model": "m", "parent_session_id": "zhongshu-1", "queued_at": "now"}],
                "report_count": 0
            }]
        });
        let view: SessionsView = serde_json::from_value(entry).unwrap();
        assert_eq!(view.queue.len(), 1);
        let z = &view.zhongshu_sessions[0];
        assert_eq!(z.plan_status, Some(PlanStatus::AwaitingConfirmation));
        assert_eq!(z.unread_result_count, 2);
        let d = &z.child_departments[0];
        let ws = d.worktree().unwrap();
        assert_eq!(
            (ws.status, ws.reason.as_deref()),
            (WorkspaceStatus::Failed, Some("r"))
        );
        assert_eq!(d.changes.unwrap().deletions, 3);
        assert_eq!(d.warnings[0].message, "m");
        assert_eq!(z.queued_departments[0].task, "qt");
        // What the server renders into the page reads back the same (hydration).
        let again: SessionsView =
            serde_json::from_slice(&serde_json::to_vec(&view).unwrap()).unwrap();
        assert_eq!(again, view);
    }
}

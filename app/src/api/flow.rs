//! Payloads of plans, assignments, department results and the inbox (SPEC §Plans, §Mailbox).

use super::states::*;
use super::workspaces::{OwnershipWarning, Verification};
use serde::{Deserialize, Deserializer, Serialize};

use super::{QueuedAssignment, Session};

/// Accepts a list of strings, a single string, or null; objects and numbers become their
/// compact JSON text. Agents write reports by hand, so the shape is forgiving.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde_json::Value;
    fn text(value: Value) -> Option<String> {
        match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            // A risk written as {"level": "...", "message": "..."} reads best as its message.
            Value::Object(ref map) => map
                .get("message")
                .and_then(Value::as_str)
                .map(|m| match map.get("level").and_then(Value::as_str) {
                    Some(level) => format!("[{level}] {m}"),
                    None => m.to_string(),
                })
                .or_else(|| Some(value.to_string())),
            other => Some(other.to_string()),
        }
    }
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.into_iter().filter_map(text).collect(),
        other => text(other)
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .collect(),
    })
}

/// What [`string_list`] accepts, for the OpenAPI document.
#[cfg(feature = "ssr")]
pub fn string_list_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    // Any JSON value is read: the schema cannot be narrower than the reader.
    schemars::json_schema!({
        "description": "A list of strings. Any other JSON is accepted too: a single string is a list of one, null an empty list, an object with `message` reads as that message, anything else as its JSON text."
    })
}

/// One department assignment of a plan, after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Assignment {
    pub department: String,
    pub title: String,
    pub duty: String,
    pub task: String,
    pub model: String,
    pub files: Vec<String>,
    /// Files or globs the department intends to touch (ownership is checked against them).
    #[serde(default)]
    pub paths: Vec<String>,
    pub verify: Vec<String>,
    pub reason: String,
    pub model_reason: String,
    pub selected: bool,
}

/// An assignment as callers send it (plan reports, the confirmation dialog).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AssignmentInput {
    /// A department key of the status payload's `departments`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub department: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub task: String,
    /// One of `model_choices`; the department default when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// Files the assignment is about.
    #[serde(default, deserialize_with = "string_list")]
    #[cfg_attr(feature = "ssr", schemars(schema_with = "string_list_schema"))]
    pub files: Vec<String>,
    /// Files or globs the department intends to touch.
    #[serde(default, deserialize_with = "string_list")]
    #[cfg_attr(feature = "ssr", schemars(schema_with = "string_list_schema"))]
    pub paths: Vec<String>,
    /// Verification commands (also accepted as `verify_commands`).
    #[serde(default, alias = "verify_commands", deserialize_with = "string_list")]
    #[cfg_attr(feature = "ssr", schemars(schema_with = "string_list_schema"))]
    pub verify: Vec<String>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub model_reason: String,
    /// Whether the assignment runs when the plan is confirmed (default: yes).
    #[serde(default)]
    pub selected: Option<bool>,
}

impl From<&Assignment> for AssignmentInput {
    fn from(a: &Assignment) -> Self {
        AssignmentInput {
            department: a.department.clone(),
            task: a.task.clone(),
            model: Some(a.model.clone()),
            files: a.files.clone(),
            paths: a.paths.clone(),
            verify: a.verify.clone(),
            reason: a.reason.clone(),
            model_reason: a.model_reason.clone(),
            selected: Some(a.selected),
        }
    }
}

/// What auto-dispatch did when the plan registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AutoDispatch {
    pub started: Vec<String>,
    pub queued_count: u32,
    pub active: u32,
}

/// A Zhongshu session's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Plan {
    pub session_id: String,
    pub summary: String,
    pub reported_at: Option<String>,
    pub source: PlanSource,
    pub ready: bool,
    pub needs_confirmation: bool,
    pub assignments: Vec<Assignment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_dispatch: Option<AutoDispatch>,
    /// Paths the assignments name that the governance rules route to another department, or
    /// that two assignments both name: shown before the user confirms.
    #[serde(default)]
    pub ownership_warnings: Vec<OwnershipWarning>,
    /// Worktree mode: the commit and branch the departments' worktrees start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
}

/// A department's result, registered from the mailbox, HTTP, or the launcher's fallback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct DepartmentResult {
    pub report_id: String,
    pub parent_session_id: String,
    pub department_session_id: String,
    pub department: String,
    pub summary: String,
    pub changed_files: Vec<String>,
    pub verifications_run: Vec<String>,
    pub verifications_skipped: Vec<String>,
    pub risks: Vec<String>,
    pub needs_user_confirmation: bool,
    pub next_action: String,
    pub reported_at: String,
    pub source: ResultSource,
    pub read: bool,
    pub mailbox_file: Option<String>,
    pub handoff_packet: Option<String>,
    /// The launcher's own run of the verification commands the governance rules give for the
    /// department's changed paths (not the agent's word).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// A mailbox file that could not be registered, kept under `rejected/` with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RejectedReport {
    pub file: String,
    pub error: String,
    pub rejected_at: String,
}

// ---- requests ----

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct StartZhongshuRequest {
    /// What the Zhongshu plans for.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub task: String,
    /// One of `model_choices`; `zhongshu_model` when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// The agent CLI; only the server's own (`status.agent.name`) is accepted.
    #[serde(default)]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RestartZhongshuRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub session_id: String,
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PlanBody {
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub assignments: Option<Vec<AssignmentInput>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ReportPlanRequest {
    /// The Zhongshu session (also accepted as `parent_session_id` or `zhongshu_session_id`); the
    /// running Zhongshu when absent.
    #[serde(default, alias = "parent_session_id", alias = "zhongshu_session_id")]
    pub session_id: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    /// The plan's assignments (or `plan.assignments`); one of the two is required.
    #[serde(default)]
    pub assignments: Option<Vec<AssignmentInput>>,
    #[serde(default)]
    pub plan: Option<PlanBody>,
    /// Wait for the user's confirmation before dispatching (the server's `dispatch` decides
    /// when absent).
    #[serde(default)]
    pub needs_confirmation: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct StartAssignmentsRequest {
    /// The Zhongshu whose plan is confirmed (also accepted as `zhongshu_session_id`).
    #[serde(default, alias = "zhongshu_session_id")]
    pub parent_session_id: String,
    /// The assignments to start, as confirmed (unselected ones are skipped).
    #[serde(default)]
    pub assignments: Vec<AssignmentInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct StartDepartmentRequest {
    /// A department key of the status payload's `departments`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub department: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub task: String,
    /// The Zhongshu it reports to (also accepted as `zhongshu_session_id`); when absent, the one
    /// running Zhongshu.
    #[serde(default, alias = "zhongshu_session_id")]
    pub parent_session_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SessionInputRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub session_id: String,
    /// The line to type (sent as a bracketed paste, then Enter).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub input: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SessionIdRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub session_id: String,
}

// ---- responses ----

/// Session counters that several responses repeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Counters {
    pub active_department_sessions: u32,
    pub active_zhongshu_sessions: u32,
    pub max_department_sessions: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct StartedSession {
    pub ok: bool,
    pub prompt_path: String,
    pub pid: Option<u32>,
    pub session: Session,
    pub browser_terminal: Option<super::BrowserTerminal>,
    #[serde(flatten)]
    pub counters: Counters,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RestartResponse {
    pub ok: bool,
    pub resumed_inline: bool,
    pub source_session_id: String,
    pub session: Session,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ReportPlanResponse {
    pub ok: bool,
    pub session_id: String,
    pub plan: Plan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct StartAssignmentsResponse {
    pub ok: bool,
    pub started: Vec<StartedSession>,
    pub queued: Vec<QueuedAssignment>,
    pub queued_count: u32,
    pub active: u32,
    #[serde(flatten)]
    pub counters: Counters,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ZhongshuPlanResponse {
    pub ok: bool,
    pub session: Session,
    pub plan: PlanView,
    #[serde(flatten)]
    pub counters: Counters,
    pub model_choices: Vec<String>,
}

/// A plan as `GET /api/zhongshu_plan` shows it: with the slot counters and model choices inside
/// `plan` too, where the original dashboard reads them for its confirmation dialog. Read back as
/// a plain [`Plan`] (the extra fields are the response's own too), which keeps flattening out of
/// the dashboard's deserializers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(from = "Plan")]
pub struct PlanView {
    #[serde(flatten)]
    pub plan: Plan,
    #[serde(flatten)]
    pub counters: Counters,
    pub model_choices: Vec<String>,
}

impl From<Plan> for PlanView {
    fn from(plan: Plan) -> PlanView {
        PlanView {
            plan,
            counters: Counters::default(),
            model_choices: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct InboxResponse {
    pub ok: bool,
    pub session: Session,
    pub unread_results: Vec<DepartmentResult>,
    pub read_results: Vec<DepartmentResult>,
    pub running_departments: Vec<Session>,
    pub completed_departments: Vec<Session>,
    pub queued_departments: Vec<QueuedAssignment>,
    pub unread_count: u32,
    pub rejected: Vec<RejectedReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ZhongshuContextSnapshot {
    pub session: Session,
    pub task: String,
    pub plan: Plan,
    pub reports: Vec<DepartmentResult>,
    pub children: Vec<Session>,
}

/// One result's Markdown handoff packet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HandoffPacketResponse {
    pub ok: bool,
    pub report_id: String,
    pub path: String,
    pub markdown: String,
    /// The file was larger than the server sends (1 MiB); `markdown` is its beginning.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ContextResponse {
    pub ok: bool,
    pub context: ZhongshuContextSnapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ZhongshuEntry {
    #[serde(flatten)]
    pub session: Session,
    pub child_departments: Vec<Session>,
    pub queued_departments: Vec<QueuedAssignment>,
    pub report_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ZhongshuSessionsResponse {
    pub ok: bool,
    #[serde(flatten)]
    pub counters: Counters,
    pub queue: Vec<QueuedAssignment>,
    pub zhongshu_sessions: Vec<ZhongshuEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SessionResponse {
    pub ok: bool,
    pub session: Session,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_inputs_accept_aliases_and_loose_lists() {
        let input: AssignmentInput = serde_json::from_str(
            r#"{"department":"zhilibu","task":"t","files":"README.md","verify_commands":["a", null, 3]}"#,
        )
        .unwrap();
        assert_eq!(input.files, vec!["README.md"]);
        assert_eq!(input.verify, vec!["a", "3"]);
        assert_eq!(input.selected, None);
    }

    #[test]
    fn risk_objects_read_as_their_message() {
        #[derive(Deserialize)]
        struct R {
            #[serde(deserialize_with = "string_list")]
            risks: Vec<String>,
        }
        let r: R =
            serde_json::from_str(r#"{"risks":[{"level":"high","message":"m"},"plain"]}"#).unwrap();
        assert_eq!(r.risks, vec!["[high] m", "plain"]);
    }

    #[test]
    fn plan_reports_accept_the_session_id_aliases() {
        for key in ["session_id", "parent_session_id", "zhongshu_session_id"] {
            let body = format!(r#"{{"{key}":"zhongshu-1","assignments":[]}}"#);
            let req: ReportPlanRequest = serde_json::from_str(&body).unwrap();
            assert_eq!(req.session_id.as_deref(), Some("zhongshu-1"));
        }
    }
}

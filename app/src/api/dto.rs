//! Payloads of the JSON API, serialised exactly as SPEC §Status / §Sessions / §Terminals show.
//! These types are the contract with external tools: rename nothing.

use serde::{ser::SerializeMap, Deserialize, Deserializer, Serialize, Serializer};

use super::states::*;
use super::workspaces::{ChangeCounts, Workspace, WorkspaceSetting, WorkspaceWarning};

/// Version of the JSON API; bumped when a payload changes incompatibly.
pub const API_VERSION: u32 = 9;

/// One entry of the `departments` map: key → `[title, duty]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentInfo {
    pub key: String,
    pub title: String,
    pub duty: String,
}

/// Serialises a department list as the `{key: [title, duty]}` object of the status payload,
/// keeping configuration order.
pub mod department_map {
    use super::*;

    pub fn serialize<S: Serializer>(list: &[DepartmentInfo], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(list.len()))?;
        for d in list {
            map.serialize_entry(&d.key, &[&d.title, &d.duty])?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DepartmentInfo>, D::Error> {
        // serde_json keeps no order in a plain map; a Vec of pairs through a visitor keeps it.
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<DepartmentInfo>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of department key to [title, duty]")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((key, [title, duty])) = access.next_entry::<String, [String; 2]>()? {
                    out.push(DepartmentInfo { key, title, duty });
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visitor)
    }

    #[cfg(feature = "ssr")]
    pub fn schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "prefixItems": [
                    {"type": "string", "description": "title"},
                    {"type": "string", "description": "duty"}
                ],
                "items": false,
                "minItems": 2
            }
        })
    }
}

/// The PTY host (`pty_host` in the status payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PtyHostStatus {
    pub pid: u32,
    /// Its protocol version.
    pub version: u32,
    pub started_at: String,
    /// Sessions of this server that run in it.
    pub sessions: u32,
}

/// Which agent CLI runs the sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AgentInfo {
    pub name: String,
    pub available: bool,
    pub command: String,
    /// What the launcher had to leave out for the installed agent (e.g. a flag it lacks).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Mailbox directories of a Zhongshu session (departments report into their parent's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct MailboxPaths {
    pub root: String,
    pub incoming: String,
    pub archive: String,
}

/// One line the user sent into a session's terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct InputRecord {
    pub text: String,
    pub sent_at: String,
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
}

/// An agent session (Zhongshu or department), as every session list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Session {
    pub id: String,
    pub session_kind: SessionKind,
    pub role: SessionKind,
    pub department: String,
    pub title: String,
    pub task: String,
    pub model: String,
    pub agent: String,
    pub pid: Option<u32>,
    pub status: SessionStatus,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub prompt_path: String,
    pub log_path: String,
    #[serde(default)]
    pub parent_session_id: Option<String>,
    pub mailbox: MailboxPaths,
    pub heartbeat_status: Heartbeat,
    pub idle_seconds: Option<u64>,
    pub last_activity_at: Option<String>,
    pub browser_terminal_id: Option<String>,
    pub browser_terminal_status: Option<TerminalStatus>,
    pub browser_terminal_url: Option<String>,
    pub browser_terminal_title: Option<String>,
    pub transcript_preview: Vec<String>,
    /// What the agent says it is doing (`working`, `waiting_for_input`, `done`, `unknown`).
    #[serde(default)]
    pub agent_state: AgentState,
    #[serde(default)]
    pub agent_state_since: Option<String>,
    /// Department-only fields (`report_status`, `reported_at`, ...).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub department_fields: Option<DepartmentFields>,
    /// Zhongshu-only fields (`unread_result_count`, `plan_status`, ...).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub zhongshu_fields: Option<ZhongshuFields>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct DepartmentFields {
    pub report_status: ReportStatus,
    pub reported_at: Option<String>,
    pub last_report_id: Option<String>,
    pub auto_closed: bool,
    pub auto_close_reason: Option<String>,
    /// Where the department works (a worktree of its own, or the shared repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Workspace>,
    /// A running worktree's changes against its base (counts), kept live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeCounts>,
    /// Boundary and collision warnings of a running worktree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<WorkspaceWarning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ZhongshuFields {
    pub unread_result_count: u32,
    pub child_department_ids: Vec<String>,
    pub plan_status: PlanStatus,
    pub plan_reported_at: Option<String>,
    pub input_history: Vec<InputRecord>,
    pub resumed_from_session_id: Option<String>,
    /// Worktree mode: the commit and branch its departments' worktrees start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
}

/// An assignment waiting for a free department slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct QueuedAssignment {
    pub department: String,
    pub title: String,
    pub task: String,
    pub model: String,
    pub parent_session_id: String,
    pub queued_at: String,
}

/// A PTY viewable in the browser (an interactive shell or a session preview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct BrowserTerminal {
    pub id: String,
    pub status: TerminalStatus,
    pub pid: Option<u32>,
    pub url: String,
    pub host: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub shell: String,
    pub shell_args: Vec<String>,
    pub cwd: String,
    pub scope: TerminalScope,
    pub kind: TerminalKind,
    pub read_only: bool,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// `GET /api/status`: everything the dashboard header and session lists need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct StatusPayload {
    pub ok: bool,
    pub api_version: u32,
    pub repo: String,
    pub project_name: String,
    pub workflow_doc: String,
    /// Department key → `[title, duty]`, in configuration order.
    #[serde(with = "department_map")]
    #[cfg_attr(feature = "ssr", schemars(schema_with = "department_map::schema"))]
    pub departments: Vec<DepartmentInfo>,
    pub active_terminals: u32,
    pub active_department_sessions: u32,
    pub active_zhongshu_sessions: u32,
    pub active_sessions_total: u32,
    pub max_terminals: u32,
    pub max_department_sessions: u32,
    pub model_choices: Vec<String>,
    pub zhongshu_model: String,
    pub department_model: String,
    pub agent: AgentInfo,
    pub dispatch: String,
    /// How the server keeps the worktree report current: `events` or `polling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_watch: Option<ReportWatch>,
    /// Where department sessions work, and a warning when worktrees cannot be made.
    pub workspace: WorkspaceSetting,
    /// The PTY host that keeps the agent sessions across server restarts (absent when agents
    /// run inside the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty_host: Option<PtyHostStatus>,
    pub browser_terminals: Vec<BrowserTerminal>,
    pub queue: Vec<QueuedAssignment>,
    pub department_queue: Vec<QueuedAssignment>,
    pub sessions: Vec<Session>,
    pub zhongshu_sessions: Vec<Session>,
    pub department_sessions: Vec<Session>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_serialise_as_an_ordered_key_to_pair_map() {
        let list = vec![
            DepartmentInfo {
                key: "menxia".into(),
                title: "门下省".into(),
                duty: "review".into(),
            },
            DepartmentInfo {
                key: "zhilibu".into(),
                title: "治理部".into(),
                duty: "docs".into(),
            },
        ];
        #[derive(Serialize, Deserialize)]
        struct Wrap(#[serde(with = "department_map")] Vec<DepartmentInfo>);
        let text = serde_json::to_string(&Wrap(list.clone())).unwrap();
        assert_eq!(
            text,
            r#"{"menxia":["门下省","review"],"zhilibu":["治理部","docs"]}"#
        );
        let back: Wrap = serde_json::from_str(&text).unwrap();
        assert_eq!(back.0, list);
    }
}

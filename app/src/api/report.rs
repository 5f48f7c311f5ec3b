//! The governance report (SPEC §Report): a contract shared with the reference tool — same keys,
//! same meaning.

use super::states::*;
use serde::{Deserialize, Serialize};

use super::{Assignment, Counters};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Province {
    pub key: String,
    pub title: String,
    pub duty: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ReportDepartment {
    pub key: String,
    pub title: String,
    pub duty: String,
    pub files: Vec<String>,
    pub verify: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RiskHit {
    pub path: String,
    pub name: String,
    pub level: RiskLevel,
    pub message: String,
}

/// One machine-local reference found in a governance surface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PortabilityMatch {
    pub path: String,
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    pub pattern: String,
    pub excerpt: String,
    pub classification: Classification,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PortabilityScan {
    pub decision: Decision,
    pub scope: String,
    pub scanned_files: Vec<String>,
    pub violations: Vec<PortabilityMatch>,
    pub exceptions: Vec<PortabilityMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PreflightChecks {
    pub portability_reference_scan: PortabilityScan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Preflight {
    pub checks: PreflightChecks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct GovernanceReport {
    pub title: String,
    /// `worktree`, `staged` or `base`.
    pub mode: String,
    pub base: Option<String>,
    pub changed_count: u32,
    pub changed_paths: Vec<String>,
    pub provinces: Vec<Province>,
    pub departments: Vec<ReportDepartment>,
    pub uncategorized: Vec<String>,
    pub risks: Vec<RiskHit>,
    pub verify_commands: Vec<String>,
    pub preflight: Preflight,
    /// Served reports: `index` (the server's live change index) or `scan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ReportSource>,
    /// Served reports: when the answer was computed (RFC 3339, milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ReportResponse {
    pub ok: bool,
    pub report: GovernanceReport,
}

/// A plan suggested from the worktree report (`POST /api/plan_assignments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SuggestedPlan {
    pub summary: String,
    pub menxia_required: bool,
    pub assignments: Vec<Assignment>,
    #[serde(flatten)]
    pub counters: Counters,
    pub model_choices: Vec<String>,
    pub zhongshu_model: String,
    pub department_model: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PlanAssignmentsResponse {
    pub ok: bool,
    pub plan: SuggestedPlan,
    pub report: GovernanceReport,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PlanAssignmentsRequest {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(!default, length(min = 1)))]
    pub task: String,
}

//! The governance report as the API serves it, and plans suggested from it.

use app::api::*;

use super::{internal, text, Engine};
use crate::report;

/// `mode`/`base` query parameters as a report mode (400 when they do not fit together).
fn report_mode(mode: Option<&str>, base: Option<String>) -> ApiResult<report::Mode> {
    let base = base.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
    // Exactly the documented values (or empty): a padded mode is refused, not guessed at.
    match (mode.filter(|m| !m.is_empty()), base) {
        (None | Some("worktree"), None) => Ok(report::Mode::Worktree),
        (Some("staged"), None) => Ok(report::Mode::Staged),
        (None | Some("base"), Some(base)) => Ok(report::Mode::Base(base)),
        (Some("base"), None) => Err(ApiError::bad_request("base is required when mode=base")),
        (Some(mode @ ("worktree" | "staged")), Some(_)) => Err(ApiError::bad_request(format!(
            "base only applies to mode=base, not {mode}"
        ))),
        (Some(other), _) => Err(ApiError::bad_request(format!(
            "unknown mode: {other} (worktree, staged, base)"
        ))),
    }
}

impl Engine {
    /// The report of this mode: from the live change index when it runs, from a scan otherwise.
    fn governance_report(&self, mode: &report::Mode) -> ApiResult<GovernanceReport> {
        let outcome = match (mode, self.shared.index.get()) {
            (report::Mode::Worktree, Some(index)) => index.report(),
            (report::Mode::Staged, Some(index)) => index.staged_report(),
            (report::Mode::Base(base), Some(index)) => index.base_report(base),
            _ => report::build(
                &self.shared.config.repo,
                &self.shared.governance,
                mode,
                Some(&self.shared.paths.root),
            )
            .map(|mut report| {
                report.source = Some(ReportSource::Scan);
                report.computed_at = Some(text::now_text());
                report
            }),
        };
        outcome.map_err(|err| match err {
            report::ReportError::UnknownRef(_) => ApiError::bad_request(err.to_string()),
            report::ReportError::Repository(err) => internal(err),
        })
    }

    pub(super) fn report(
        &self,
        mode: Option<String>,
        base: Option<String>,
    ) -> ApiResult<ReportResponse> {
        let mode = report_mode(mode.as_deref(), base)?;
        Ok(ReportResponse {
            ok: true,
            report: self.governance_report(&mode)?,
        })
    }

    pub(super) fn plan_assignments(
        &self,
        request: PlanAssignmentsRequest,
    ) -> ApiResult<PlanAssignmentsResponse> {
        let task = text::normalize(&request.task);
        if task.is_empty() {
            return Err(ApiError::bad_request("task is required"));
        }
        let report = self.governance_report(&report::Mode::Worktree)?;
        let config = &self.shared.config;
        let (menxia_required, assignments) = report::suggest_assignments(
            &task,
            &report,
            &report::ModelPolicy {
                zhongshu_model: &config.zhongshu_model,
                department_model: &config.department_model,
            },
        );
        let counters = self.counters(&self.lock());
        Ok(PlanAssignmentsResponse {
            ok: true,
            plan: SuggestedPlan {
                summary: format!(
                    "Suggested plan from the worktree report: {} assignment(s).",
                    assignments.len()
                ),
                menxia_required,
                assignments,
                counters,
                model_choices: config.models.clone(),
                zhongshu_model: config.zhongshu_model.clone(),
                department_model: config.department_model.clone(),
            },
            report,
        })
    }
}

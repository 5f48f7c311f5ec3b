//! Registering a department result: once per report id (a real report replaces the launcher's
//! fallback), audited before the commit, the department marked reported and closed after its
//! turn, the Zhongshu notified.

use app::api::*;
use serde_json::json;

use super::paths::Mailbox;
use super::{Engine, State};

impl Engine {
    /// Registers a result: dedupe by report id, handoff packet, department marked reported and
    /// closed, audit, notice. Committed to the database before returning.
    pub(super) fn register_result(
        &self,
        state: &mut State,
        mut result: DepartmentResult,
        mailbox: &Mailbox,
    ) -> ApiResult<()> {
        let owner = result.parent_session_id.clone();
        let existing = state
            .results
            .get(&owner)
            .and_then(|rs| rs.iter().position(|r| r.report_id == result.report_id));
        if let Some(index) = existing {
            let current = state.results[&owner][index].clone();
            let replaces_fallback = current.source == ResultSource::LauncherFallback
                && result.source != ResultSource::LauncherFallback;
            let updated = if replaces_fallback {
                result.handoff_packet = self.write_handoff(state, &result, mailbox);
                result
            } else {
                DepartmentResult {
                    source: result.source,
                    mailbox_file: result.mailbox_file,
                    ..current
                }
            };
            state
                .store
                .write(|w| w.result(&owner, &updated.report_id, &updated))
                .map_err(super::internal)?;
            if replaces_fallback {
                self.shared.audit.record(
                    "result_updated",
                    json!({"parent_session_id": owner, "report_id": updated.report_id, "source": updated.source, "replaced": "launcher_fallback"}),
                );
                self.mark_reported(state, &updated);
                self.queue_notice(state, &updated);
                self.verify_later(&owner, &updated.report_id);
            }
            if let Some(slot) = state
                .results
                .get_mut(&owner)
                .and_then(|rs| rs.get_mut(index))
            {
                *slot = updated;
            }
            return Ok(());
        }

        result.handoff_packet = self.write_handoff(state, &result, mailbox);
        // Audited before the commit: a crash in between re-registers the file on restart, so
        // the event is logged at least once, never lost.
        self.shared.audit.record(
            "result_registered",
            json!({
                "parent_session_id": owner,
                "report_id": result.report_id,
                "department": result.department,
                "source": result.source,
                "needs_user_confirmation": result.needs_user_confirmation,
                "risk_count": result.risks.len(),
            }),
        );
        state
            .store
            .write(|w| w.result(&owner, &result.report_id, &result))
            .map_err(super::internal)?;
        self.mark_reported(state, &result);
        self.queue_notice(state, &result);
        let verify = result.source != ResultSource::LauncherFallback;
        let report_id = result.report_id.clone();
        state
            .results
            .entry(owner.clone())
            .or_default()
            .insert(0, result);
        // The launcher checks the work itself (once the state lock is released).
        if verify {
            self.verify_later(&owner, &report_id);
        }
        Ok(())
    }
    /// The reporting department is done: mark it, and close its session once its turn ends.
    fn mark_reported(&self, state: &mut State, result: &DepartmentResult) {
        let id = result.department_session_id.clone();
        let Some(record) = state.session_mut(&id) else {
            return;
        };
        record.report_status = ReportStatus::Reported;
        record.reported_at = Some(result.reported_at.clone());
        record.last_report_id = Some(result.report_id.clone());
        if let Err(err) = state.save_session(&id) {
            tracing::error!("{err:#}");
        }
        if result.source != ResultSource::LauncherFallback {
            self.close_after_turn(state, &id);
        }
    }
}

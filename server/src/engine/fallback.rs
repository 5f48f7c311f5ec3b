//! The launcher's fallback result for a department that ended without writing a report.

use app::api::*;

use super::{text, Engine};

/// How long after a department exits before the launcher reports for it.
const FALLBACK_GRACE_MS: i64 = 3_000;
impl Engine {
    /// Departments that ended without a report get a `launcher_fallback` result.
    pub(super) fn apply_fallbacks(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let due: Vec<(String, String)> = {
            let state = self.lock();
            state
                .sessions
                .iter()
                .filter(|s| {
                    !s.is_zhongshu() && !s.is_running() && !s.is_reported() && !s.fallback_done
                })
                .filter(|s| s.ended_at_ms.is_some_and(|t| now - t >= FALLBACK_GRACE_MS))
                .filter_map(|s| s.parent_session_id.clone().map(|p| (s.id.clone(), p)))
                .collect()
        };
        for (department_id, parent) in due {
            self.collect_mailbox(&parent);
            let mut state = self.lock();
            let Some(record) = state.session(&department_id).cloned() else {
                continue;
            };
            if record.is_reported() || record.fallback_done {
                continue;
            }
            if let Some(r) = state.session_mut(&department_id) {
                r.fallback_done = true;
            }
            if let Err(err) = state.save_session(&department_id) {
                tracing::error!("{err:#}");
            }
            let Ok(mailbox) = self.shared.paths.create_mailbox(&parent) else {
                continue;
            };
            let how = match record.status {
                SessionStatus::Interrupted => {
                    "was interrupted when the previous launcher stopped".to_string()
                }
                SessionStatus::Exited | SessionStatus::Running => format!(
                    "exited with code {}",
                    record.exit_code.map_or("unknown".into(), |c| c.to_string())
                ),
            };
            let result = DepartmentResult {
                report_id: record.id.clone(),
                parent_session_id: parent.clone(),
                department_session_id: record.id.clone(),
                department: record.department.clone(),
                summary: format!(
                    "Launcher fallback: department {} session {} {how} without writing a mailbox report.",
                    record.department, record.id
                ),
                changed_files: Vec::new(),
                verifications_run: Vec::new(),
                verifications_skipped: Vec::new(),
                risks: vec!["No department report: its work is unverified; check the transcript and git status.".into()],
                needs_user_confirmation: true,
                next_action: format!("Inspect {} and re-dispatch the {} assignment if needed.", record.log_path, record.department),
                reported_at: text::now_text(),
                source: ResultSource::LauncherFallback,
                read: false,
                mailbox_file: None,
                handoff_packet: None,
                verification: None,
            };
            if let Err(err) = self.register_result(&mut state, result, &mailbox) {
                tracing::error!("fallback registration failed: {}", err.message);
            }
            drop(state);
            self.emit("results", Some(&parent));
        }
    }
}

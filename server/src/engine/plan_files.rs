//! Plans reported as files: a Zhongshu whose sandbox cannot reach the launcher over the network
//! (Codex's `workspace-write` cuts loopback too) writes its plan into its own mailbox instead, as
//! a JSON object with `"kind": "zhongshu_plan"` and the body of `POST /api/report_zhongshu_plan`.
//! It is validated exactly as that route validates, then archived, or rejected with the reason.

use std::path::Path;

use app::api::{PlanSource, ReportPlanRequest};
use serde_json::Value;

use super::paths::Mailbox;
use super::{Engine, State};

/// The `kind` that marks a mailbox file as a plan rather than a department report.
pub const PLAN_KIND: &str = "zhongshu_plan";

/// Whether a parsed mailbox file is a plan.
pub(super) fn is_plan(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some(PLAN_KIND)
}

impl Engine {
    /// Registers a plan file of `owner`'s mailbox; returns whether anything changed.
    pub(super) fn take_plan_file(
        &self,
        state: &mut State,
        owner: &str,
        mailbox: &Mailbox,
        file: &Path,
        value: Value,
    ) -> bool {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let outcome = serde_json::from_value::<ReportPlanRequest>(value)
            .map_err(|err| format!("invalid plan: {err}"))
            .and_then(|mut request| {
                match request.session_id.as_deref().map(str::trim) {
                    None | Some("") => request.session_id = Some(owner.to_string()),
                    Some(id) if id == owner => {}
                    Some(id) => {
                        return Err(format!(
                            "plan session_id {id} does not match this mailbox ({owner})"
                        ))
                    }
                }
                self.register_plan_locked(state, request, PlanSource::Mailbox)
                    .map_err(|err| err.message)
            });
        match outcome {
            Ok(_) => {
                let destination = super::mailbox::unique_destination(&mailbox.archive, &name);
                if let Err(err) = self.shared.paths.move_inside(file, &destination) {
                    tracing::error!("cannot archive plan file: {err:#}");
                }
            }
            Err(reason) => self.reject(state, owner, mailbox, file, &name, &reason),
        }
        true
    }
}

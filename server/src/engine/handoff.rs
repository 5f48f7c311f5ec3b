//! Handoff packets: the Markdown summary of a registered result, written beside the archived
//! report for whoever picks the work up next.

use std::fmt::Write as _;

use app::api::*;

use super::paths::Mailbox;
use super::{text, Engine, State};
use crate::ids;

fn section(out: &mut String, heading: &str, items: &[String], empty: &str) {
    let _ = writeln!(out, "\n## {heading}\n");
    if items.is_empty() {
        let _ = writeln!(out, "{empty}");
    }
    for item in items {
        let _ = writeln!(out, "- {item}");
    }
}

/// The Markdown handoff packet of a registered result.
pub(super) fn handoff_markdown(result: &DepartmentResult, objective: &str) -> String {
    let mut out = String::from("# Codex Department Handoff\n\n");
    for (key, value) in [
        ("parent_session_id", &result.parent_session_id),
        ("department_session_id", &result.department_session_id),
        ("department", &result.department),
        ("source", &result.source.to_string()),
        ("reported_at", &result.reported_at),
    ] {
        let _ = writeln!(out, "{key}: {value}");
    }
    let objective = if objective.is_empty() {
        "No objective recorded."
    } else {
        objective
    };
    let _ = writeln!(out, "\n## Objective\n\n{objective}");
    let _ = writeln!(out, "\n## Summary\n\n{}", result.summary);
    section(
        &mut out,
        "Changed Files",
        &result.changed_files,
        "No changed files reported.",
    );
    section(
        &mut out,
        "Verification",
        &result.verifications_run,
        "No verification reported.",
    );
    if !result.verifications_skipped.is_empty() {
        let _ = writeln!(out, "\nSkipped:\n");
        for item in &result.verifications_skipped {
            let _ = writeln!(out, "- {item}");
        }
    }
    section(&mut out, "Risks", &result.risks, "No risks reported.");
    let next = if result.next_action.is_empty() {
        "No next action reported."
    } else {
        &result.next_action
    };
    let _ = writeln!(out, "\n## Next Action\n\n{next}");
    out
}

impl Engine {
    pub(super) fn write_handoff(
        &self,
        state: &State,
        result: &DepartmentResult,
        mailbox: &Mailbox,
    ) -> Option<String> {
        let objective = state
            .session(&result.department_session_id)
            .map(|s| s.task.clone())
            .unwrap_or_default();
        let path = mailbox.archive.join(format!(
            "handoff-{}-{}.md",
            text::safe_name(&result.department_session_id),
            ids::unix_nanos()
        ));
        let packet = handoff_markdown(result, &objective);
        match self.shared.paths.write_new(&path, packet.as_bytes()) {
            Ok(()) => Some(path.display().to_string()),
            Err(err) => {
                tracing::error!("cannot write handoff packet: {err:#}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_packets_name_every_section() {
        let result = DepartmentResult {
            report_id: "r".into(),
            parent_session_id: "zhongshu-1".into(),
            department_session_id: "zhilibu-2".into(),
            department: "zhilibu".into(),
            summary: "Docs updated".into(),
            changed_files: vec!["README.md".into()],
            verifications_run: vec![],
            verifications_skipped: vec!["cargo test (docs only)".into()],
            risks: vec![],
            needs_user_confirmation: false,
            next_action: String::new(),
            reported_at: "2026-01-01T00:00:00+00:00".into(),
            source: ResultSource::Mailbox,
            read: false,
            mailbox_file: None,
            handoff_packet: None,
            verification: None,
        };
        let md = handoff_markdown(&result, "Update docs");
        for needle in [
            "# Codex Department Handoff",
            "parent_session_id: zhongshu-1",
            "department_session_id: zhilibu-2",
            "## Objective\n\nUpdate docs",
            "## Changed Files\n\n- README.md",
            "## Verification\n\nNo verification reported.",
            "Skipped:\n\n- cargo test (docs only)",
            "## Risks\n\nNo risks reported.",
            "## Next Action\n\nNo next action reported.",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
    }
}

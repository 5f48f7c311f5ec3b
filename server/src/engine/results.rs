//! Department results: the file mailbox (register exactly once, archive, reject with a reason),
//! handoff packets, the launcher's fallback for silent departments, and batched notices to the
//! Zhongshu terminal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use app::api::*;

use crate::ids;
use serde_json::{json, Value};

use super::paths::Mailbox;
use super::records::*;
use super::{prompts, text, Engine, Notice, State};

/// A file that does not parse yet may still be being written; judge it after this long.
const HALF_WRITTEN_GRACE: Duration = Duration::from_secs(2);
/// How long after a department exits before the launcher reports for it.
const FALLBACK_GRACE_MS: i64 = 3_000;
/// Notices to a Zhongshu are batched over this window.
const NOTICE_BATCH: Duration = Duration::from_millis(1_000);

/// A mailbox file read from disk.
enum Parsed {
    Report(Box<DepartmentResult>),
    /// Not valid yet; retry until the grace period is over.
    Incomplete(String),
    Invalid(String),
}

fn required(value: &Value, key: &str) -> Result<String, String> {
    match value.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(format!("missing required field: {key}"))
        }
        Some(_) => Err(format!("field {key} must be a string")),
    }
}

fn list(value: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .find_map(|k| value.get(*k))
        .and_then(|v| string_list(v.clone()).ok())
        .unwrap_or_default()
}

fn parse_report(
    bytes: &[u8],
    file_name: &str,
    mailbox_owner: &str,
    known_department: impl Fn(&str) -> bool,
) -> Parsed {
    let value: Value = match std::str::from_utf8(bytes) {
        Err(err) => return Parsed::Invalid(format!("not UTF-8: {err}")),
        Ok(s) => match serde_json::from_str(s) {
            Ok(v) => v,
            Err(err) => return Parsed::Incomplete(format!("invalid JSON: {err}")),
        },
    };
    if !value.is_object() {
        return Parsed::Invalid("a report must be a JSON object".into());
    }
    let fields = (|| -> Result<DepartmentResult, String> {
        let parent = required(&value, "parent_session_id")?;
        let department_session_id = required(&value, "department_session_id")?;
        let department = required(&value, "department")?;
        let summary = required(&value, "summary")?;
        if parent != mailbox_owner {
            return Err(format!(
                "parent_session_id {parent} does not match this mailbox ({mailbox_owner})"
            ));
        }
        if !known_department(&department) {
            return Err(format!("unknown department: {department}"));
        }
        let report_id = value
            .get("report_id")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| department_session_id.clone());
        Ok(DepartmentResult {
            report_id: if report_id.is_empty() {
                file_name.to_string()
            } else {
                report_id
            },
            parent_session_id: parent,
            department_session_id,
            department,
            summary,
            changed_files: list(&value, &["changed_files", "files"]),
            verifications_run: list(&value, &["verifications_run", "verification"]),
            verifications_skipped: list(&value, &["verifications_skipped"]),
            risks: list(&value, &["risks"]),
            needs_user_confirmation: value
                .get("needs_user_confirmation")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            next_action: value
                .get("next_action")
                .and_then(Value::as_str)
                .map(text::normalize)
                .unwrap_or_default(),
            reported_at: text::now_text(),
            source: "mailbox".into(),
            read: false,
            mailbox_file: None,
            handoff_packet: None,
        })
    })();
    match fields {
        Ok(result) => Parsed::Report(Box::new(result)),
        Err(reason) => Parsed::Invalid(reason),
    }
}

/// `string_list` from the API contract, for a `Value` already in hand.
fn string_list(value: Value) -> Result<Vec<String>, serde_json::Error> {
    app::api::string_list(value)
}

/// A free file name in `dir` for `name` (a clash gets a numeric suffix).
pub(super) fn unique_destination(dir: &Path, name: &str) -> PathBuf {
    let candidate = dir.join(name);
    if !candidate.exists() {
        return candidate;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), format!(".{e}")),
        None => (name.to_string(), String::new()),
    };
    let mut n = 1u64;
    loop {
        let candidate = dir.join(format!("{stem}-{n}{ext}"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

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
fn handoff_markdown(result: &DepartmentResult, objective: &str) -> String {
    let mut out = String::from("# Codex Department Handoff\n\n");
    for (key, value) in [
        ("parent_session_id", &result.parent_session_id),
        ("department_session_id", &result.department_session_id),
        ("department", &result.department),
        ("source", &result.source),
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
    pub(super) fn collect_all_mailboxes(&self) {
        let owners: Vec<String> = {
            let state = self.lock();
            state
                .sessions
                .iter()
                .filter(|s| s.is_zhongshu())
                .map(|s| s.id.clone())
                .collect()
        };
        for id in owners {
            self.collect_mailbox(&id);
        }
    }

    /// Registers every complete report in a Zhongshu's `incoming/` (idempotent, serialised by
    /// the state lock).
    pub(super) fn collect_mailbox(&self, zhongshu_id: &str) {
        let mut state = self.lock();
        if state.session(zhongshu_id).is_none_or(|s| !s.is_zhongshu()) {
            return;
        }
        let Ok(mailbox) = self.shared.paths.create_mailbox(zhongshu_id) else {
            tracing::warn!(
                zhongshu_id,
                "mailbox unusable (outside the state directory?)"
            );
            return;
        };
        let Ok(entries) = std::fs::read_dir(&mailbox.incoming) else {
            return;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .filter(|p| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                !name.starts_with('.') && name.ends_with(".json")
            })
            .collect();
        files.sort();
        let mut changed = false;
        for file in files {
            changed |= self.take_mailbox_file(&mut state, zhongshu_id, &mailbox, &file);
        }
        drop(state);
        if changed {
            self.emit("results", Some(zhongshu_id));
            self.pump_queue();
        }
    }

    /// Handles one incoming file; returns whether anything was registered or rejected.
    fn take_mailbox_file(
        &self,
        state: &mut State,
        owner: &str,
        mailbox: &Mailbox,
        file: &Path,
    ) -> bool {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(bytes) = std::fs::read(file) else {
            return false;
        };
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            if super::plan_files::is_plan(&value) {
                state.waiting_files.remove(file);
                return self.take_plan_file(state, owner, mailbox, file, value);
            }
        }
        let parsed = parse_report(&bytes, &name, owner, |d| self.department_config(d).is_ok());
        let parsed = match parsed {
            Parsed::Incomplete(reason) => {
                let modified = std::fs::metadata(file)
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::now());
                let first_seen = *state
                    .waiting_files
                    .entry(file.to_path_buf())
                    .or_insert_with(Instant::now);
                let age = modified
                    .elapsed()
                    .unwrap_or_default()
                    .min(first_seen.elapsed());
                if age < HALF_WRITTEN_GRACE {
                    return false;
                }
                Parsed::Invalid(reason)
            }
            other => other,
        };
        state.waiting_files.remove(file);
        match parsed {
            Parsed::Report(mut result) => {
                let destination = unique_destination(&mailbox.archive, &name);
                result.mailbox_file = Some(destination.display().to_string());
                if let Err(err) = self.register_result(state, *result, mailbox) {
                    // Left in incoming/: the next scan retries it.
                    tracing::error!(file = %file.display(), "registering report failed: {}", err.message);
                    return false;
                }
                // Moved only after the registration is committed: a crash in between leaves
                // the file in incoming/, and registering it again only updates the result.
                if let Err(err) = self.shared.paths.move_inside(file, &destination) {
                    tracing::error!("cannot archive report: {err:#}");
                }
                true
            }
            Parsed::Invalid(reason) => {
                self.reject(state, owner, mailbox, file, &name, &reason);
                true
            }
            Parsed::Incomplete(_) => unreachable!("turned into Invalid above"),
        }
    }

    pub(super) fn reject(
        &self,
        state: &mut State,
        owner: &str,
        mailbox: &Mailbox,
        file: &Path,
        name: &str,
        reason: &str,
    ) {
        let destination = unique_destination(&mailbox.rejected, name);
        let record = RejectedReport {
            file: destination.display().to_string(),
            error: reason.to_string(),
            rejected_at: text::now_text(),
        };
        if let Err(err) = state.store.write(|w| w.rejected(owner, &record)) {
            tracing::error!("{err:#}");
            return;
        }
        let note = destination.with_file_name(format!(
            "{}.error.txt",
            destination
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        ));
        if let Err(err) = self.shared.paths.move_inside(file, &destination) {
            tracing::error!("cannot move rejected report: {err:#}");
        } else if let Err(err) = self
            .shared
            .paths
            .write_new(&note, format!("{reason}\n").as_bytes())
        {
            tracing::error!("{err:#}");
        }
        self.shared.audit.record(
            "result_rejected",
            json!({"parent_session_id": owner, "file": record.file, "error": reason}),
        );
        state
            .rejected
            .entry(owner.to_string())
            .or_default()
            .insert(0, record);
    }

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
            let replaces_fallback =
                current.source == "launcher_fallback" && result.source != "launcher_fallback";
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
        state.results.entry(owner).or_default().insert(0, result);
        Ok(())
    }

    fn write_handoff(
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

    /// The reporting department is done: mark it, and close its session once its turn ends.
    fn mark_reported(&self, state: &mut State, result: &DepartmentResult) {
        let id = result.department_session_id.clone();
        let Some(record) = state.session_mut(&id) else {
            return;
        };
        record.report_status = REPORTED.into();
        record.reported_at = Some(result.reported_at.clone());
        record.last_report_id = Some(result.report_id.clone());
        if let Err(err) = state.save_session(&id) {
            tracing::error!("{err:#}");
        }
        if result.source != "launcher_fallback" {
            self.close_after_turn(state, &id);
        }
    }

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
            let how = match record.status.as_str() {
                INTERRUPTED => "was interrupted when the previous launcher stopped".to_string(),
                _ => format!(
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
                source: "launcher_fallback".into(),
                read: false,
                mailbox_file: None,
                handoff_packet: None,
            };
            if let Err(err) = self.register_result(&mut state, result, &mailbox) {
                tracing::error!("fallback registration failed: {}", err.message);
            }
            drop(state);
            self.emit("results", Some(&parent));
        }
    }

    fn queue_notice(&self, state: &mut State, result: &DepartmentResult) {
        let owner = result.parent_session_id.clone();
        if !state.session(&owner).is_some_and(|s| s.is_running()) {
            return;
        }
        state
            .notices
            .entry(owner)
            .or_insert_with(|| Notice {
                first_at: Instant::now(),
                results: Vec::new(),
            })
            .results
            .push(result.clone());
    }

    /// Types one concise line per batch into each notified Zhongshu terminal.
    pub(super) fn flush_notices(&self, force: bool) {
        let mut state = self.lock();
        let due: Vec<String> = state
            .notices
            .iter()
            .filter(|(_, n)| force || n.first_at.elapsed() >= NOTICE_BATCH)
            .map(|(id, _)| id.clone())
            .collect();
        for owner in due {
            let Some(notice) = state.notices.remove(&owner) else {
                continue;
            };
            let line = self.notice_line(&state, &owner, &notice.results);
            let agent = state.session(&owner).map(|s| s.agent.clone());
            if let (Some(process), Some(agent)) = (state.processes.get(&owner), agent) {
                self.type_notice(process, &agent, &line);
            }
        }
    }

    fn notice_line(&self, state: &State, owner: &str, results: &[DepartmentResult]) -> String {
        let departments: Vec<&str> = results.iter().map(|r| r.department.as_str()).collect();
        let summary = results
            .iter()
            .map(|r| r.summary.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        let risks: Vec<String> = results
            .iter()
            .flat_map(|r| r.risks.iter().cloned())
            .take(3)
            .collect();
        let children = state
            .sessions
            .iter()
            .filter(|s| s.parent_session_id.as_deref() == Some(owner));
        let (mut completed, mut running) = (0, 0);
        for child in children {
            if child.is_reported() || !child.is_running() {
                completed += 1;
            } else {
                running += 1;
            }
        }
        let queued = state
            .queue
            .iter()
            .filter(|(_, q)| q.parent_session_id == owner)
            .count();
        let next = results
            .iter()
            .map(|r| r.next_action.as_str())
            .find(|a| !a.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| {
                if running + queued == 0 {
                    "summarise if all done".into()
                } else {
                    "wait for the remaining departments".into()
                }
            });
        let risks = if risks.is_empty() {
            String::new()
        } else {
            format!(" Risks: {}.", risks.join("; "))
        };
        text::normalize(&format!(
            "[launcher] Result from {}: {}.{risks} Completed {completed}, running {running}, queued {queued}. Inbox: {}. Next: {}",
            departments.join(", "),
            text::clip(&summary, 220),
            prompts::inbox_url(&self.prompt_context(), owner, true),
            text::clip(&next, 200),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Parsed {
        parse_report(json.as_bytes(), "r.json", "zhongshu-1", |d| d == "zhilibu")
    }

    #[test]
    fn a_complete_report_parses_with_aliases() {
        let Parsed::Report(r) = parse(
            r#"{"parent_session_id":"zhongshu-1","department_session_id":"zhilibu-2","department":"zhilibu",
               "summary":"done","files":["a"],"verification":"cargo test","risks":[{"level":"low","message":"m"}]}"#,
        ) else {
            panic!("not parsed")
        };
        assert_eq!(r.report_id, "zhilibu-2");
        assert_eq!(r.changed_files, ["a"]);
        assert_eq!(r.verifications_run, ["cargo test"]);
        assert_eq!(r.risks, ["[low] m"]);
    }

    #[test]
    fn broken_reports_say_why() {
        assert!(matches!(
            parse(r#"{"parent_session_id":"zh"#),
            Parsed::Incomplete(_)
        ));
        let Parsed::Invalid(reason) = parse(
            r#"{"parent_session_id":"zhongshu-1","department_session_id":"x","department":"zhilibu"}"#,
        ) else {
            panic!()
        };
        assert_eq!(reason, "missing required field: summary");
        let Parsed::Invalid(reason) = parse(
            r#"{"parent_session_id":"zhongshu-9","department_session_id":"x","department":"zhilibu","summary":"s"}"#,
        ) else {
            panic!()
        };
        assert!(reason.contains("does not match"), "{reason}");
        assert!(matches!(parse("[1]"), Parsed::Invalid(_)));
        assert!(matches!(
            parse_report(b"\xff\xfe", "r.json", "z", |_| true),
            Parsed::Invalid(_)
        ));
    }

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
            source: "mailbox".into(),
            read: false,
            mailbox_file: None,
            handoff_packet: None,
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

    #[test]
    fn archive_names_never_clash() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.json"), "x").unwrap();
        assert_eq!(
            unique_destination(dir.path(), "r.json"),
            dir.path().join("r-1.json")
        );
        assert_eq!(
            unique_destination(dir.path(), "q.json"),
            dir.path().join("q.json")
        );
    }
}

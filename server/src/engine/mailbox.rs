//! The file mailbox: department reports (and plan files) arrive in a Zhongshu's `incoming/`;
//! each complete report registers exactly once and is archived after the commit, and an invalid
//! one moves to `rejected/` with the reason beside it. A file still being written is retried.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use app::api::*;
use serde_json::{json, Value};

use super::paths::Mailbox;
use super::{text, Engine, State};

/// A file that does not parse yet may still be being written; judge it after this long.
const HALF_WRITTEN_GRACE: Duration = Duration::from_secs(2);
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
            source: ResultSource::Mailbox,
            read: false,
            mailbox_file: None,
            handoff_packet: None,
            verification: None,
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

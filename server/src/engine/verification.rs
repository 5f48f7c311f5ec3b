//! Verified completion: when a department's result registers, the launcher itself runs the
//! verification commands the governance rules give for the department's changed paths, in its
//! workspace (a worktree's changes are committed on its branch first), inside a read-only
//! browser terminal. The outcome is recorded on the result; a failure is typed into the
//! department's session while it runs.

use std::path::PathBuf;
use std::sync::Arc;

use app::api::*;
use serde_json::json;

use super::records::SessionRecord;
use super::{internal, text, Engine, State};
use crate::ids;
use crate::pty::{PtyProcess, SpawnSpec};
use crate::workspace::verify::{CommandOutcome, VerifySpec};

/// What a verification works on, read from the state before any Git or process work.
struct Subject {
    owner: String,
    report_id: String,
    session: SessionRecord,
    changed_files: Vec<String>,
}

impl Engine {
    /// Starts verifying a result that just registered (a real report, not the fallback).
    pub(super) fn verify_later(&self, owner: &str, report_id: &str) {
        let engine = self.clone();
        let (owner, report_id) = (owner.to_string(), report_id.to_string());
        let spawned = std::thread::Builder::new()
            .name("verification".into())
            .spawn(move || {
                if let Err(err) = engine.verify(&owner, &report_id) {
                    tracing::warn!("verification of {report_id}: {}", err.message);
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "no verification thread");
        }
    }

    /// `POST /api/verify_department {session_id}`: verifies the department's latest result again.
    pub(super) fn verify_department(
        &self,
        request: VerifyDepartmentRequest,
    ) -> ApiResult<VerifyDepartmentResponse> {
        let id = self
            .require_id(&request.session_id, "session_id")?
            .to_string();
        let (owner, report_id) = {
            let state = self.lock_to_read();
            let record = state
                .session(&id)
                .ok_or_else(|| ApiError::not_found(format!("unknown session_id: {id}")))?;
            if record.is_zhongshu() {
                return Err(ApiError::bad_request(format!(
                    "{id} is a Zhongshu session; only departments are verified"
                )));
            }
            let owner = record.parent_session_id.clone().unwrap_or_default();
            let report_id = record
                .last_report_id
                .clone()
                .ok_or_else(|| ApiError::new(409, format!("{id} has not reported a result yet")))?;
            (owner, report_id)
        };
        let verification = self.verify(&owner, &report_id)?;
        Ok(VerifyDepartmentResponse {
            ok: true,
            session_id: id,
            report_id,
            verification,
        })
    }

    /// Marks the result's verification running and starts its commands; returns the running
    /// (or, with no command to run, skipped) verification.
    fn verify(&self, owner: &str, report_id: &str) -> ApiResult<Verification> {
        let subject = {
            let state = self.lock_to_read();
            let result = find_result(&state, owner, report_id)?;
            if result
                .verification
                .as_ref()
                .is_some_and(|v| v.status == VerificationStatus::Running)
            {
                return Err(ApiError::new(
                    409,
                    format!("the verification of {report_id} is running"),
                ));
            }
            Subject {
                owner: owner.to_string(),
                report_id: report_id.to_string(),
                session: state.known_session(&result.department_session_id)?,
                changed_files: result.changed_files.clone(),
            }
        };
        let workspace = subject.session.workspace.clone();
        let worktree = workspace.as_ref().filter(|w| w.is_worktree());
        let dir = worktree.map_or_else(
            || self.shared.config.repo.clone(),
            |w| PathBuf::from(&w.path),
        );
        // A worktree's changes become a commit on its branch: that commit is what is verified,
        // and what a merge would take.
        let head_commit = match worktree {
            Some(w) if dir.is_dir() => Some(
                crate::workspace::commit::commit_all(
                    &dir,
                    &format!(
                        "governance: {} work for {} (report {})",
                        subject.session.department, subject.owner, subject.report_id
                    ),
                )
                .map_err(|err| {
                    ApiError::new(
                        409,
                        format!("cannot commit the worktree of {}: {err}", w.path),
                    )
                })?,
            ),
            Some(w) => {
                return Err(ApiError::new(
                    409,
                    format!("the worktree {} is not there any more", w.path),
                ))
            }
            None => crate::workspace::commit::head_commit(&dir),
        };
        let base_commit = worktree.and_then(|w| w.base_commit.clone());
        let changed = match (&base_commit, worktree) {
            (Some(base), Some(_)) => crate::workspace::diff::changed_paths(&dir, base, None)
                .map_err(|err| internal(err.into()))?,
            _ => subject.changed_files.clone(),
        };
        let commands = crate::report::verify_commands_for(&self.shared.governance, &changed)
            .map_err(internal)?;
        let mut verification = Verification {
            status: VerificationStatus::Running,
            base_commit,
            head_commit,
            started_at: text::now_text(),
            finished_at: None,
            commands: Vec::new(),
            terminal_id: None,
            terminal_url: None,
        };
        if commands.is_empty() {
            verification.status = VerificationStatus::Skipped;
            verification.finished_at = Some(text::now_text());
            self.record_skipped_verification(&subject, verification.clone())?;
            return Ok(verification);
        }
        let mut state = self.lock();
        let (terminal_id, terminal_url) =
            self.start_verification_terminal(&mut state, &subject, &dir, &commands)?;
        verification.terminal_id = Some(terminal_id);
        verification.terminal_url = Some(terminal_url);
        self.store_verification(&mut state, &subject, verification.clone())?;
        drop(state);
        self.emit("results", Some(&subject.owner));
        Ok(verification)
    }

    /// The commands run by this binary's `verify-workspace` in a read-only browser terminal;
    /// when it ends, its results file completes the verification.
    fn start_verification_terminal(
        &self,
        state: &mut State,
        subject: &Subject,
        dir: &std::path::Path,
        commands: &[String],
    ) -> ApiResult<(String, String)> {
        let shared = &self.shared;
        let run = ids::new_id("verify");
        let results = shared.paths.worktrees.join(format!("{run}.results.json"));
        let spec_path = shared.paths.worktrees.join(format!("{run}.json"));
        let spec = VerifySpec {
            dir: dir.to_path_buf(),
            commands: commands.to_vec(),
            timeout_seconds: shared.governance.verify_timeout_seconds,
            results: results.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&spec).map_err(|err| internal(err.into()))?;
        shared
            .paths
            .write_new(&spec_path, &bytes)
            .map_err(internal)?;
        let args = vec![
            "verify-workspace".to_string(),
            spec_path.display().to_string(),
        ];
        let mut spawn = SpawnSpec::new(shared.self_exe.clone(), args.clone(), dir.to_path_buf());
        spawn.ring_bytes = shared.config.scrollback_bytes;
        let terminal_id = ids::new_id("term");
        let token = ids::random_token()
            .map_err(|err| internal(anyhow::anyhow!("no random token: {err}")))?;
        let weak = Arc::downgrade(&self.shared);
        let (owner, report_id, exit_terminal) = (
            subject.owner.clone(),
            subject.report_id.clone(),
            terminal_id.clone(),
        );
        let process = PtyProcess::spawn(spawn, move |code| {
            if let Some(shared) = weak.upgrade() {
                let engine = Engine { shared };
                engine.on_terminal_exit(&exit_terminal, code);
                engine.finish_verification(&owner, &report_id, &results);
            }
        })
        .map_err(|err| internal(anyhow::anyhow!("cannot start the verification: {err}")))?;
        let record = BrowserTerminal {
            id: terminal_id.clone(),
            status: TerminalStatus::Running,
            pid: Some(process.pid()),
            url: self.terminal_url(&terminal_id, &token),
            host: "127.0.0.1".into(),
            started_at: text::now_text(),
            ended_at: None,
            shell: shared.self_exe.clone(),
            shell_args: args,
            cwd: dir.display().to_string(),
            scope: TerminalScope::Session,
            kind: TerminalKind::Verification,
            read_only: true,
            title: format!("Verification: {}", subject.session.department),
            session_id: Some(subject.session.id.clone()),
        };
        let url = record.url.clone();
        self.insert_terminal(state, record, token, Some(process))?;
        Ok((terminal_id, url))
    }

    /// The commands ended: record their outcomes, tell the department when they failed.
    fn finish_verification(&self, owner: &str, report_id: &str, results: &std::path::Path) {
        let outcomes: Vec<CommandOutcome> = std::fs::read(results)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let mut state = self.lock();
        let Ok(result) = find_result(&state, owner, report_id) else {
            return;
        };
        let Some(mut verification) = result.verification.clone() else {
            return;
        };
        let Ok(session) = state.known_session(&result.department_session_id) else {
            return;
        };
        let all_passed = !outcomes.is_empty()
            && outcomes.iter().all(|o| o.exit_code == Some(0))
            && !outcomes.iter().any(|o| o.timed_out);
        verification.commands = outcomes
            .into_iter()
            .map(|o| VerificationCommand {
                command: o.command,
                exit_code: o.exit_code,
                duration_ms: o.duration_ms,
                output_tail: o.output_tail,
                timed_out: o.timed_out,
            })
            .collect();
        verification.status = if all_passed {
            VerificationStatus::Passed
        } else {
            VerificationStatus::Failed
        };
        verification.finished_at = Some(text::now_text());
        let subject = Subject {
            owner: owner.to_string(),
            report_id: report_id.to_string(),
            session,
            changed_files: Vec::new(),
        };
        if let Err(err) = self.store_verification(&mut state, &subject, verification.clone()) {
            tracing::warn!(
                "cannot record the verification of {report_id}: {}",
                err.message
            );
            return;
        }
        self.audit_verification(&subject, &verification);
        if verification.status == VerificationStatus::Failed {
            self.type_feedback(&state, &subject, &verification);
        }
        drop(state);
        let _ = std::fs::remove_file(results);
        self.emit("results", Some(owner));
    }

    /// A verification with no command to run is finished as soon as it starts.
    fn record_skipped_verification(
        &self,
        subject: &Subject,
        verification: Verification,
    ) -> ApiResult<()> {
        let mut state = self.lock();
        self.store_verification(&mut state, subject, verification.clone())?;
        drop(state);
        self.audit_verification(subject, &verification);
        self.emit("results", Some(&subject.owner));
        Ok(())
    }

    fn store_verification(
        &self,
        state: &mut State,
        subject: &Subject,
        verification: Verification,
    ) -> ApiResult<()> {
        let Some(result) = state
            .results
            .get_mut(&subject.owner)
            .and_then(|rs| rs.iter_mut().find(|r| r.report_id == subject.report_id))
        else {
            return Err(ApiError::not_found(format!(
                "unknown report_id: {}",
                subject.report_id
            )));
        };
        result.verification = Some(verification);
        let result = result.clone();
        state
            .store
            .write(|w| w.result(&subject.owner, &result.report_id, &result))
            .map_err(internal)
    }

    fn audit_verification(&self, subject: &Subject, verification: &Verification) {
        self.shared.audit.record(
            "verification_finished",
            json!({
                "parent_session_id": subject.owner,
                "report_id": subject.report_id,
                "department_session_id": subject.session.id,
                "status": verification.status,
                "head_commit": verification.head_commit,
                "commands": verification.commands.iter().map(|c| json!({"command": c.command, "exit_code": c.exit_code, "duration_ms": c.duration_ms, "timed_out": c.timed_out})).collect::<Vec<_>>(),
            }),
        );
    }

    /// A failed verification is feedback for the department while it still runs.
    fn type_feedback(&self, state: &State, subject: &Subject, verification: &Verification) {
        let Some(failed) = verification
            .commands
            .iter()
            .find(|c| c.exit_code != Some(0))
        else {
            return;
        };
        let Some(process) = state.processes.get(&subject.session.id) else {
            return;
        };
        let how = match (failed.timed_out, failed.exit_code) {
            (true, _) => "was killed at its timeout".to_string(),
            (false, Some(code)) => format!("exited with status {code}"),
            (false, None) => "could not run".to_string(),
        };
        let line = text::normalize(&format!(
            "[launcher] Verification failed: `{}` {how}. Last output: {}. Fix it and report again.",
            failed.command,
            text::clip(failed.output_tail.trim(), 300)
        ));
        self.type_notice(process, &subject.session.agent, &line);
    }
}

fn find_result(state: &State, owner: &str, report_id: &str) -> ApiResult<DepartmentResult> {
    state
        .results
        .get(owner)
        .and_then(|rs| rs.iter().find(|r| r.report_id == report_id))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("unknown report_id: {report_id}")))
}

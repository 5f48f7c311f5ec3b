//! Starting, restarting, typing into and closing agent sessions; reacting to their exit.

use app::api::*;

use crate::ids;
use serde_json::json;

use super::agent::{AgentProfile, CommandValues};
use super::records::*;
use super::{internal, prompts, text, Engine, State, SHUTTING_DOWN};
use crate::governance::{MENXIA_DUTY, MENXIA_KEY, MENXIA_TITLE};
use crate::pty::SpawnSpec;

/// Everything needed to launch one session.
pub(super) struct Launch {
    pub kind: SessionKind,
    pub department: String,
    pub title: String,
    pub task: String,
    pub model: String,
    pub agent: AgentProfile,
    pub parent_session_id: Option<String>,
    pub resumed_from_session_id: Option<String>,
}

pub(super) const ZHONGSHU_TITLE: &str = "中书省 Zhongshu";

impl Launch {
    /// A Zhongshu session (new, or resumed from an ended one).
    fn zhongshu(
        task: String,
        model: String,
        agent: AgentProfile,
        resumed_from: Option<String>,
    ) -> Launch {
        Launch {
            kind: SessionKind::Zhongshu,
            department: ZHONGSHU.into(),
            title: ZHONGSHU_TITLE.into(),
            task,
            model,
            agent,
            parent_session_id: None,
            resumed_from_session_id: resumed_from,
        }
    }
}

impl Engine {
    /// Starts a session's process on a PTY and records it. The caller holds the state lock.
    pub(super) fn launch(&self, state: &mut State, launch: Launch) -> ApiResult<StartedSession> {
        if self.is_shutting_down() {
            // Only the engine's own queue pump can get here then: HTTP stops first.
            return Err(ApiError::new(SHUTTING_DOWN, "the server is shutting down"));
        }
        let max_zhongshu = self.shared.config.max_zhongshu_sessions;
        if launch.kind == SessionKind::Zhongshu && state.active_zhongshu() >= max_zhongshu {
            return Err(ApiError::bad_request(format!(
                "{max_zhongshu} Zhongshu sessions are running (--max-zhongshu-sessions): close one first"
            )));
        }
        let shared = &self.shared;
        let id = ids::new_id(if launch.kind == SessionKind::Zhongshu {
            ZHONGSHU
        } else {
            &launch.department
        });
        let mailbox_owner = launch
            .parent_session_id
            .clone()
            .unwrap_or_else(|| id.clone());
        let mailbox = shared
            .paths
            .create_mailbox(&mailbox_owner)
            .map_err(internal)?;

        // Departments: where the agent works (a worktree of its own, or the repository).
        let workspace = match launch.kind {
            SessionKind::Zhongshu => None,
            SessionKind::Department => Some(self.plan_workspace(
                state,
                &id,
                launch.parent_session_id.as_deref(),
                &launch.department,
            )?),
        };
        let worktree = workspace
            .as_ref()
            .filter(|w| w.record.is_worktree())
            .map(|w| {
                (
                    w.record.path.as_str(),
                    w.record.branch.as_deref().unwrap_or_default(),
                    w.record.base_commit.as_deref().unwrap_or_default(),
                )
            });
        let ctx = self.prompt_context();
        let prompt = if launch.kind == SessionKind::Zhongshu {
            prompts::zhongshu(
                &ctx,
                &id,
                &launch.task,
                &mailbox.incoming.display().to_string(),
                &shared.governance.department_titles(),
            )
        } else {
            let department = self.department_config(&launch.department)?;
            prompts::department(
                &ctx,
                &prompts::DepartmentPrompt {
                    session_id: &id,
                    parent_session_id: &mailbox_owner,
                    department: &department,
                    task: &launch.task,
                    mailbox_incoming: &mailbox.incoming.display().to_string(),
                    worktree,
                },
            )
        };
        let prefix = &launch.department;
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let prompt_path = shared
            .paths
            .prompts
            .join(format!("{stamp}-{}-{prefix}.txt", ids::unix_nanos()));
        let log_path = shared.paths.logs.join(format!("{id}-{prefix}.log"));
        shared.paths.check_inside(&log_path).map_err(internal)?;
        shared
            .paths
            .write_new(&prompt_path, prompt.as_bytes())
            .map_err(internal)?;

        let work_dir = workspace
            .as_ref()
            .map_or_else(|| shared.config.repo.clone(), |w| w.dir.clone());
        let work_dir_text = work_dir.display().to_string();
        let prompt_file = prompt_path.display().to_string();
        let mailbox_dir = mailbox.incoming.display().to_string();
        let (program, args) = launch.agent.command(&CommandValues {
            model: &launch.model,
            repo: &work_dir_text,
            prompt: &prompt,
            prompt_file: &prompt_file,
            mailbox: &mailbox_dir,
            self_exe: shared.self_exe.clone(),
        });
        // A worktree is created and set up in the session's terminal before the agent starts.
        let (program, args) = match workspace.as_ref().filter(|w| w.record.is_worktree()) {
            Some(planned) => self.preparation_command(&id, planned, program, args)?,
            None => (program, args),
        };
        let mut spec = SpawnSpec::new(program.clone(), args, shared.config.repo.clone());
        spec.transcript = Some(log_path.clone());
        spec.ring_bytes = shared.config.scrollback_bytes;
        spec.answer_state_query = launch.agent.announces_state;
        spec.env = vec![
            ("CODEX_GOVERNANCE_URL".into(), shared.launcher_url.clone()),
            ("CODEX_GOVERNANCE_SESSION_ID".into(), id.clone()),
            ("CODEX_GOVERNANCE_ROLE".into(), launch.kind.to_string()),
            (
                "CODEX_GOVERNANCE_DEPARTMENT".into(),
                launch.department.clone(),
            ),
            (
                "CODEX_GOVERNANCE_MAILBOX".into(),
                mailbox.incoming.display().to_string(),
            ),
            ("CODEX_GOVERNANCE_PROMPT_FILE".into(), prompt_file.clone()),
            ("CODEX_GOVERNANCE_MODEL".into(), launch.model.clone()),
        ];
        if let Some(parent) = &launch.parent_session_id {
            spec.env
                .push(("CODEX_GOVERNANCE_PARENT_SESSION_ID".into(), parent.clone()));
        }
        if workspace.is_some() {
            spec.env.push((
                "CODEX_GOVERNANCE_WORKSPACE_DIR".into(),
                work_dir_text.clone(),
            ));
        }

        let (on_signal, on_exit) = self.session_callbacks(&id);
        let process = self
            .spawn_process(&id, spec, on_signal, on_exit)
            .map_err(|err| {
                ApiError::bad_request(format!(
                    "cannot start agent `{}` ({program}): {err}",
                    launch.agent.name
                ))
            })?;

        let zhongshu_base = match launch.kind {
            SessionKind::Zhongshu => self.plan_base(),
            SessionKind::Department => (None, None),
        };
        let seq = state.next_seq;
        state.next_seq += 1;
        let record = SessionRecord {
            id: id.clone(),
            seq,
            kind: launch.kind,
            department: launch.department.clone(),
            title: launch.title,
            task: launch.task,
            model: launch.model.clone(),
            agent: launch.agent.name.clone(),
            pid: Some(process.pid()),
            status: SessionStatus::Running,
            exit_code: None,
            started_at: text::now_text(),
            ended_at: None,
            ended_at_ms: None,
            prompt_path: prompt_file.clone(),
            log_path: log_path.display().to_string(),
            parent_session_id: launch.parent_session_id.clone(),
            report_status: ReportStatus::Pending,
            reported_at: None,
            last_report_id: None,
            auto_closed: false,
            auto_close_reason: None,
            input_history: Vec::new(),
            resumed_from_session_id: launch.resumed_from_session_id,
            final_preview: Vec::new(),
            last_output_ms: None,
            fallback_done: false,
            agent_state: AgentState::Unknown,
            agent_state_since: None,
            close_after_ms: None,
            base_commit: zhongshu_base.0,
            base_branch: zhongshu_base.1,
            workspace: workspace.map(|w| w.record),
        };
        let record_workspace = record.workspace.as_ref().map(|w| {
            json!({"mode": w.mode, "path": w.path, "branch": w.branch, "base_commit": w.base_commit})
        });
        state.sessions.push(record);
        state.processes.insert(id.clone(), process.clone());
        state.save_session(&id).map_err(internal)?;
        shared.audit.record(
            "session_started",
            json!({
                "session_id": id,
                "session_kind": launch.kind,
                "department": launch.department,
                "parent_session_id": launch.parent_session_id,
                "model": launch.model,
                "agent": launch.agent.name,
                "pid": process.pid(),
                "workspace": record_workspace,
            }),
        );
        // Every agent session is watchable from its start (as the original launcher's were).
        let record = state.known_session(&id)?;
        let browser_terminal =
            self.new_session_terminal(state, &record, TerminalKind::SessionPreview)?;
        self.emit("sessions", Some(&id));
        Ok(StartedSession {
            ok: true,
            prompt_path: prompt_file,
            pid: Some(process.pid()),
            session: self.session_view(state, &record),
            browser_terminal: Some(browser_terminal),
            counters: self.counters(state),
        })
    }

    /// The process of a session ended (called from its waiter thread).
    pub(super) fn on_exit(&self, id: &str, code: i32) {
        {
            let mut state = self.lock();
            state.processes.remove(id);
            let Some(record) = state.session_mut(id) else {
                return;
            };
            // A session whose PTY host died was ended by it (SIGHUP), not by itself.
            record.status = if code == crate::pty::host::HOST_LOST {
                SessionStatus::Interrupted
            } else {
                SessionStatus::Exited
            };
            record.exit_code = Some(code);
            record.pid = None;
            record.ended_at = Some(text::now_text());
            record.ended_at_ms = Some(chrono::Utc::now().timestamp_millis());
            record.close_after_ms = None;
            Self::close_workspace(record, code);
            let kind = record.kind;
            Self::forget_live_changes(&mut state, id);
            if let Err(err) = state.save_session(id) {
                tracing::error!("{err:#}");
            }
            self.end_session_views(&mut state, id);
            self.shared.audit.record(
                "session_exited",
                json!({"session_id": id, "session_kind": kind, "exit_code": code}),
            );
        }
        self.emit("sessions", Some(id));
        self.untrack_workspace(id);
        // A department may have written its report just before exiting.
        let parent = self
            .lock()
            .session(id)
            .and_then(|s| s.parent_session_id.clone());
        if let Some(parent) = parent {
            self.collect_mailbox(&parent);
        }
        self.pump_queue();
    }

    pub(super) fn start_zhongshu(
        &self,
        request: StartZhongshuRequest,
    ) -> ApiResult<StartedSession> {
        let task = text::normalize(&request.task);
        if task.is_empty() {
            return Err(ApiError::bad_request("task is required"));
        }
        let model =
            self.pick_model(request.model.as_deref(), &self.shared.config.zhongshu_model)?;
        let agent = match request
            .agent
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            None => self.shared.agent.clone(),
            Some(name) => self.agent_profile(name).map_err(ApiError::bad_request)?,
        };
        let mut state = self.lock();
        let started = self.launch(&mut state, Launch::zhongshu(task, model, agent, None))?;
        let id = started.session.id.clone();
        let plan = self.empty_plan(&id);
        state
            .store
            .write(|w| w.plan(&id, &plan))
            .map_err(internal)?;
        state.plans.insert(id, plan);
        Ok(started)
    }

    pub(super) fn restart_zhongshu(
        &self,
        request: RestartZhongshuRequest,
    ) -> ApiResult<RestartResponse> {
        let source_id = self
            .require_id(&request.session_id, "session_id")?
            .to_string();
        let mut state = self.lock();
        let source = self.zhongshu(&state, &source_id)?.clone();
        let model = self.pick_model(request.model.as_deref(), &source.model)?;

        if source.is_running() {
            let resume = self.resume_prompt(&state, &source);
            drop(state);
            self.type_line(&source_id, &resume)?;
            let state = self.lock();
            self.shared.audit.record(
                "session_resumed",
                json!({"session_id": source_id, "inline": true}),
            );
            let session = self.session_view(&state, &source);
            return Ok(RestartResponse {
                ok: true,
                resumed_inline: true,
                source_session_id: source_id,
                session,
                prompt_path: None,
                pid: None,
            });
        }

        let agent = self
            .agent_profile(&source.agent)
            .unwrap_or_else(|_| self.shared.agent.clone());
        let launch = Launch::zhongshu(source.task.clone(), model, agent, Some(source_id.clone()));
        let started = self.launch(&mut state, launch)?;
        let new_id = started.session.id.clone();
        // The new session inherits the plan and the results (already read).
        let mut plan = state
            .plans
            .get(&source_id)
            .cloned()
            .unwrap_or_else(|| self.empty_plan(&new_id));
        plan.session_id = new_id.clone();
        let copied: Vec<DepartmentResult> = state
            .results
            .get(&source_id)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut r| {
                r.parent_session_id = new_id.clone();
                r.read = true;
                r
            })
            .collect();
        state
            .store
            .write(|w| {
                w.plan(&new_id, &plan)?;
                for r in copied.iter().rev() {
                    w.result(&new_id, &r.report_id, r)?;
                }
                Ok(())
            })
            .map_err(internal)?;
        state.plans.insert(new_id.clone(), plan);
        state.results.insert(new_id.clone(), copied);
        self.shared.audit.record(
            "session_resumed",
            json!({"session_id": new_id, "source_session_id": source_id, "inline": false}),
        );
        let record = state.known_session(&new_id)?;
        Ok(RestartResponse {
            ok: true,
            resumed_inline: false,
            source_session_id: source_id,
            session: self.session_view(&state, &record),
            prompt_path: Some(started.prompt_path),
            pid: started.pid,
        })
    }

    fn resume_prompt(&self, state: &State, source: &SessionRecord) -> String {
        let plan_summary = state
            .plans
            .get(&source.id)
            .filter(|p| p.ready)
            .map(|p| text::clip(&p.summary, 300))
            .unwrap_or_else(|| "no plan reported yet".into());
        let children: Vec<String> = state
            .sessions
            .iter()
            .filter(|s| s.parent_session_id.as_deref() == Some(&source.id))
            .map(|s| {
                format!(
                    "{} {} ({}, {})",
                    s.department, s.id, s.status, s.report_status
                )
            })
            .collect();
        let results: Vec<String> = state
            .results
            .get(&source.id)
            .map(|rs| {
                rs.iter()
                    .take(5)
                    .map(|r| format!("{}: {}", r.department, text::clip(&r.summary, 160)))
                    .collect()
            })
            .unwrap_or_default();
        prompts::resume(
            &self.prompt_context(),
            &source.id,
            &source.task,
            &plan_summary,
            &children,
            &results,
        )
    }

    pub(super) fn close_session(&self, request: SessionIdRequest) -> ApiResult<SessionResponse> {
        let id = self
            .require_id(&request.session_id, "session_id")?
            .to_string();
        let state = self.lock();
        let record = state
            .session(&id)
            .ok_or_else(|| ApiError::bad_request(format!("unknown session: {id}")))?
            .clone();
        if let Some(process) = state.processes.get(&id) {
            process.terminate();
            self.shared.audit.record(
                "session_closed",
                json!({"session_id": id, "session_kind": record.kind, "reason": "user"}),
            );
        }
        Ok(SessionResponse {
            ok: true,
            session: self.session_view(&state, &record),
        })
    }

    /// Department config by key; Menxia is always known.
    pub(super) fn department_config(&self, key: &str) -> ApiResult<crate::governance::Department> {
        if key == MENXIA_KEY {
            return Ok(crate::governance::Department {
                key: MENXIA_KEY.into(),
                title: MENXIA_TITLE.into(),
                duty: MENXIA_DUTY.into(),
                globs: Vec::new(),
                verify: Vec::new(),
            });
        }
        self.shared
            .governance
            .departments
            .iter()
            .find(|d| d.key == key)
            .cloned()
            .ok_or_else(|| ApiError::bad_request(format!("unknown department: {key}")))
    }
}

//! API payloads derived from the engine state: session views (with heartbeat and preview),
//! status, Zhongshu lists, plan, inbox and context.

use app::api::*;
use chrono::TimeZone;

use super::records::*;
use super::{internal, text, Engine, State};

/// Bytes of transcript tail looked at for the preview.
pub(super) const PREVIEW_BYTES: usize = 8 * 1024;
/// Handoff packets are a few KB; a larger file is cut rather than read whole into memory.
const MAX_PACKET_BYTES: u64 = 1024 * 1024;

fn rfc3339_from_ms(ms: i64) -> String {
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default()
}

impl Engine {
    /// The API view of one session.
    pub(super) fn session_view(&self, state: &State, record: &SessionRecord) -> Session {
        let (preview, last_output_ms) = match state.processes.get(&record.id) {
            Some(p) => (
                text::transcript_preview(&p.output().tail(PREVIEW_BYTES), 6),
                p.output().last_output_ms(),
            ),
            None => (record.final_preview.clone(), record.last_output_ms),
        };
        let terminal = self.session_terminal_record(state, &record.id);
        let now = chrono::Utc::now().timestamp_millis();
        let idle_seconds = last_output_ms.map(|t| ((now - t).max(0) / 1000) as u64);
        let heartbeat = if record.is_zhongshu() {
            Heartbeat::NotApplicable
        } else if !record.is_running() {
            Heartbeat::Exited
        } else {
            match idle_seconds {
                // An agent that says it waits at its prompt is quiet, not stuck.
                Some(_) if record.agent_state.is_at_rest() => Heartbeat::Active,
                None => Heartbeat::Unknown,
                Some(idle) if idle < self.shared.config.stale_seconds => Heartbeat::Active,
                Some(_) => Heartbeat::Stalled,
            }
        };
        let mailbox = self
            .shared
            .paths
            .mailbox(record.parent_session_id.as_deref().unwrap_or(&record.id))
            .map(|m| MailboxPaths {
                root: m.root.display().to_string(),
                incoming: m.incoming.display().to_string(),
                archive: m.archive.display().to_string(),
            })
            .unwrap_or_default();
        let (department_fields, zhongshu_fields) = if record.is_zhongshu() {
            let plan = state.plans.get(&record.id);
            let plan_status = match plan {
                Some(p) if p.ready && p.needs_confirmation => PlanStatus::AwaitingConfirmation,
                Some(p) if p.ready => PlanStatus::Confirmed,
                _ => PlanStatus::Waiting,
            };
            let unread = state
                .results
                .get(&record.id)
                .map(|rs| rs.iter().filter(|r| !r.read).count())
                .unwrap_or(0);
            (
                None,
                Some(ZhongshuFields {
                    unread_result_count: unread as u32,
                    child_department_ids: self
                        .children(state, &record.id)
                        .map(|c| c.id.clone())
                        .collect(),
                    plan_status,
                    plan_reported_at: plan.and_then(|p| p.reported_at.clone()),
                    input_history: record.input_history.clone(),
                    resumed_from_session_id: record.resumed_from_session_id.clone(),
                    base_commit: record.base_commit.clone(),
                    base_branch: record.base_branch.clone(),
                }),
            )
        } else {
            // Borrowed: the status view is rebuilt often, and a change set can be long.
            let live = state.live_workspaces.get(&record.id);
            (
                Some(DepartmentFields {
                    report_status: record.report_status,
                    reported_at: record.reported_at.clone(),
                    last_report_id: record.last_report_id.clone(),
                    auto_closed: record.auto_closed,
                    auto_close_reason: record.auto_close_reason.clone(),
                    workspace: Self::workspace_view(record),
                    changes: live.map(|l| l.counts),
                    warnings: live.map(|l| l.warnings.clone()).unwrap_or_default(),
                }),
                None,
            )
        };
        Session {
            id: record.id.clone(),
            session_kind: record.kind,
            role: record.kind,
            department: record.department.clone(),
            title: record.title.clone(),
            task: record.task.clone(),
            model: record.model.clone(),
            agent: record.agent.clone(),
            pid: record.pid,
            status: record.status,
            exit_code: record.exit_code,
            started_at: record.started_at.clone(),
            ended_at: record.ended_at.clone(),
            prompt_path: record.prompt_path.clone(),
            log_path: record.log_path.clone(),
            parent_session_id: record.parent_session_id.clone(),
            mailbox,
            heartbeat_status: heartbeat,
            idle_seconds,
            last_activity_at: last_output_ms.map(rfc3339_from_ms),
            browser_terminal_id: terminal.map(|t| t.id.clone()),
            browser_terminal_status: terminal.map(|t| t.status),
            browser_terminal_url: terminal.map(|t| t.url.clone()),
            browser_terminal_title: terminal.map(|t| t.title.clone()),
            transcript_preview: preview,
            agent_state: record.agent_state,
            agent_state_since: record.agent_state_since.clone(),
            department_fields,
            zhongshu_fields,
        }
    }

    fn children<'s>(
        &self,
        state: &'s State,
        parent: &'s str,
    ) -> impl Iterator<Item = &'s SessionRecord> + 's {
        state
            .sessions
            .iter()
            .filter(move |s| s.parent_session_id.as_deref() == Some(parent))
    }

    fn queued_for(state: &State, parent: &str) -> Vec<QueuedAssignment> {
        state
            .queue
            .iter()
            .filter(|(_, q)| q.parent_session_id == parent)
            .map(|(_, q)| q.clone())
            .collect()
    }

    pub(super) fn status(&self) -> StatusPayload {
        self.status_of(&self.lock_to_read())
    }

    /// The status payload of this state.
    pub(super) fn status_of(&self, state: &State) -> StatusPayload {
        let config = &self.shared.config;
        // Newest first, as the original launcher lists them (its dashboard takes [0] as latest).
        let sessions: Vec<Session> = state
            .sessions
            .iter()
            .rev()
            .map(|r| self.session_view(state, r))
            .collect();
        let (zhongshu_sessions, department_sessions): (Vec<Session>, Vec<Session>) = sessions
            .iter()
            .cloned()
            .partition(|s| s.session_kind == SessionKind::Zhongshu);
        let counters = self.counters(state);
        let queue: Vec<QueuedAssignment> = state.queue.iter().map(|(_, q)| q.clone()).collect();
        StatusPayload {
            ok: true,
            api_version: API_VERSION,
            repo: config.repo.display().to_string(),
            project_name: config.project_name.clone(),
            workflow_doc: config.workflow_doc.clone(),
            departments: self
                .shared
                .governance
                .department_titles()
                .into_iter()
                .map(|(key, title, duty)| DepartmentInfo { key, title, duty })
                .collect(),
            active_terminals: state
                .terminals
                .iter()
                .filter(|t| t.record.status == TerminalStatus::Running)
                .count() as u32,
            active_department_sessions: counters.active_department_sessions,
            active_zhongshu_sessions: counters.active_zhongshu_sessions,
            active_sessions_total: state.sessions.iter().filter(|s| s.is_running()).count() as u32,
            max_terminals: config.max_departments,
            max_department_sessions: config.max_departments,
            model_choices: config.models.clone(),
            zhongshu_model: config.zhongshu_model.clone(),
            department_model: config.department_model.clone(),
            agent: AgentInfo {
                name: self.shared.agent.name.clone(),
                available: self.shared.agent.available(),
                command: self.shared.agent.command_line(),
                warnings: self.shared.agent.warnings.clone(),
            },
            dispatch: config.dispatch.as_str().into(),
            report_watch: self.shared.index.get().map(|index| index.mode()),
            pty_host: self.pty_host_status(),
            workspace: WorkspaceSetting {
                mode: config.workspace,
                warning: state.worktree_fallback.clone(),
            },
            browser_terminals: state.terminals.iter().map(|t| t.record.clone()).collect(),
            department_queue: queue.clone(),
            queue,
            sessions,
            zhongshu_sessions,
            department_sessions,
        }
    }

    pub(super) fn zhongshu_sessions(&self) -> ZhongshuSessionsResponse {
        self.zhongshu_sessions_of(&self.lock_to_read())
    }

    pub(super) fn zhongshu_sessions_of(&self, state: &State) -> ZhongshuSessionsResponse {
        let zhongshu_sessions = state
            .sessions
            .iter()
            .rev()
            .filter(|s| s.is_zhongshu())
            .map(|record| ZhongshuEntry {
                session: self.session_view(state, record),
                child_departments: self
                    .children(state, &record.id)
                    .map(|c| self.session_view(state, c))
                    .collect(),
                queued_departments: Self::queued_for(state, &record.id),
                report_count: state.results.get(&record.id).map_or(0, |r| r.len()) as u32,
            })
            .collect();
        ZhongshuSessionsResponse {
            ok: true,
            counters: self.counters(state),
            queue: state.queue.iter().map(|(_, q)| q.clone()).collect(),
            zhongshu_sessions,
        }
    }

    pub(super) fn zhongshu_plan(&self, id: &str) -> ApiResult<ZhongshuPlanResponse> {
        let id = self.require_id(id, "id")?;
        let state = self.lock();
        let record = self.zhongshu(&state, id)?;
        let plan = state
            .plans
            .get(id)
            .cloned()
            .unwrap_or_else(|| self.empty_plan(id));
        let counters = self.counters(&state);
        let model_choices = self.shared.config.models.clone();
        Ok(ZhongshuPlanResponse {
            ok: true,
            session: self.session_view(&state, record),
            plan: PlanView {
                plan,
                counters,
                model_choices: model_choices.clone(),
            },
            counters,
            model_choices,
        })
    }

    pub(super) fn zhongshu_inbox(&self, id: &str, peek: bool) -> ApiResult<InboxResponse> {
        let id = self.require_id(id, "id")?.to_string();
        self.zhongshu(&self.lock(), &id)?;
        self.collect_mailbox(&id);
        let mut state = self.lock();
        let results = state.results.get(&id).cloned().unwrap_or_default();
        let (unread_results, read_results): (Vec<_>, Vec<_>) =
            results.into_iter().partition(|r| !r.read);
        if !peek && !unread_results.is_empty() {
            let now_read: Vec<DepartmentResult> = unread_results
                .iter()
                .cloned()
                .map(|r| DepartmentResult { read: true, ..r })
                .collect();
            state
                .store
                .write(|w| {
                    now_read
                        .iter()
                        .try_for_each(|r| w.result(&id, &r.report_id, r))
                })
                .map_err(internal)?;
            if let Some(list) = state.results.get_mut(&id) {
                list.iter_mut().for_each(|r| r.read = true);
            }
            self.emit("results", Some(&id));
        }
        let record = state.known_session(&id)?;
        let (running, completed): (Vec<&SessionRecord>, Vec<&SessionRecord>) = self
            .children(&state, &id)
            .partition(|c| c.is_running() && !c.is_reported());
        Ok(InboxResponse {
            ok: true,
            session: self.session_view(&state, &record),
            unread_count: unread_results.len() as u32,
            unread_results,
            read_results,
            running_departments: running
                .into_iter()
                .map(|c| self.session_view(&state, c))
                .collect(),
            completed_departments: completed
                .into_iter()
                .map(|c| self.session_view(&state, c))
                .collect(),
            queued_departments: Self::queued_for(&state, &id),
            rejected: state.rejected.get(&id).cloned().unwrap_or_default(),
        })
    }

    /// The packet of one of this Zhongshu's results. The path comes from the registered
    /// result, never from the request, and is read only if it is inside the state directory.
    pub(super) fn handoff_packet(
        &self,
        id: &str,
        report_id: &str,
    ) -> ApiResult<HandoffPacketResponse> {
        let id = self.require_id(id, "id")?;
        let report_id = report_id.trim();
        if report_id.is_empty() {
            return Err(ApiError::bad_request("report_id is required"));
        }
        let path = {
            let state = self.lock();
            self.zhongshu(&state, id)?;
            let result = state
                .results
                .get(id)
                .and_then(|results| results.iter().find(|r| r.report_id == report_id))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "unknown report_id: {}",
                        text::clip(report_id, 80)
                    ))
                })?;
            result
                .handoff_packet
                .clone()
                .ok_or_else(|| ApiError::bad_request("this result has no handoff packet"))?
        };
        // Deleted or replaced since registration: the user's state, not a server fault.
        let unavailable = |reason: String| {
            ApiError::not_found(format!("handoff packet {path} is not available: {reason}"))
        };
        let (markdown, truncated) = self
            .shared
            .paths
            .read_capped(std::path::Path::new(&path), MAX_PACKET_BYTES)
            .map_err(|e| unavailable(format!("{e:#}")))?;
        Ok(HandoffPacketResponse {
            ok: true,
            report_id: report_id.to_string(),
            path,
            markdown,
            truncated,
        })
    }

    pub(super) fn zhongshu_context(&self, id: &str) -> ApiResult<ContextResponse> {
        let id = self.require_id(id, "id")?;
        let state = self.lock();
        let record = self.zhongshu(&state, id)?;
        Ok(ContextResponse {
            ok: true,
            context: ZhongshuContextSnapshot {
                session: self.session_view(&state, record),
                task: record.task.clone(),
                plan: state
                    .plans
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| self.empty_plan(id)),
                reports: state
                    .results
                    .get(id)
                    .map(|r| r.iter().take(10).cloned().collect())
                    .unwrap_or_default(),
                children: self
                    .children(&state, id)
                    .map(|c| self.session_view(&state, c))
                    .collect(),
            },
        })
    }
}

//! Plans, the confirmation gate, and the department queue with its concurrency limit.

use app::api::*;
use serde_json::json;

use super::records::*;
use super::sessions::Launch;
use super::{internal, text, Engine, State, SHUTTING_DOWN};
use crate::config::DispatchMode;

impl Engine {
    pub(super) fn empty_plan(&self, session_id: &str) -> Plan {
        Plan {
            session_id: session_id.to_string(),
            summary: "Zhongshu has not reported a plan yet.".into(),
            reported_at: None,
            source: PlanSource::Launcher,
            ready: false,
            needs_confirmation: false,
            assignments: Vec::new(),
            auto_dispatch: None,
            ownership_warnings: Vec::new(),
            base_commit: None,
            base_branch: None,
        }
    }

    /// Ownership warnings of a plan: each assignment's `paths`, and its `files` too (the paths
    /// the plan already says it will change).
    fn ownership_warnings(&self, assignments: &[Assignment]) -> Vec<OwnershipWarning> {
        let named: Vec<Vec<String>> = assignments
            .iter()
            .map(|a| a.paths.iter().chain(&a.files).cloned().collect())
            .collect();
        let intents: Vec<crate::report::ownership::Intent> = assignments
            .iter()
            .zip(&named)
            .map(|(a, paths)| crate::report::ownership::Intent {
                department: &a.department,
                paths,
            })
            .collect();
        crate::report::ownership::ownership_warnings(&self.shared.governance, &intents)
    }

    /// Validates and completes one assignment (SPEC §Plans).
    fn normalize_assignment(
        &self,
        input: &AssignmentInput,
        unknown: &str,
    ) -> ApiResult<Assignment> {
        let key = input.department.trim();
        let department = self
            .department_config(key)
            .map_err(|_| ApiError::bad_request(format!("{unknown}: {}", text::clip(key, 80))))?;
        let task = text::normalize(&input.task);
        if task.is_empty() {
            return Err(ApiError::bad_request(format!(
                "task is required for department {key}"
            )));
        }
        let clean = |items: &[String]| -> Vec<String> {
            items
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Ok(Assignment {
            model: self.pick_model(input.model.as_deref(), &self.shared.config.department_model)?,
            department: department.key,
            title: department.title,
            duty: department.duty,
            task,
            files: clean(&input.files),
            paths: clean(&input.paths),
            verify: clean(&input.verify),
            reason: text::normalize(&input.reason),
            model_reason: text::normalize(&input.model_reason),
            selected: input.selected.unwrap_or(true),
        })
    }

    /// The Zhongshu a request names, or the most recent running one when it names none.
    fn resolve_zhongshu(&self, state: &State, id: Option<&str>) -> ApiResult<String> {
        match id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => {
                let id = self.require_id(id, "session_id")?;
                Ok(self.zhongshu(state, id)?.id.clone())
            }
            None => state
                .sessions
                .iter()
                .rev()
                .find(|s| s.is_zhongshu() && s.is_running())
                .map(|s| s.id.clone())
                .ok_or_else(|| {
                    ApiError::bad_request("session_id is required (no Zhongshu session is running)")
                }),
        }
    }

    /// `POST /api/report_zhongshu_plan`.
    pub(super) fn report_plan(&self, request: ReportPlanRequest) -> ApiResult<ReportPlanResponse> {
        let mut state = self.lock();
        self.register_plan_locked(&mut state, request, PlanSource::Http)
    }

    /// Registers a plan (from the route or the mailbox) with the state lock already held.
    pub(super) fn register_plan_locked(
        &self,
        state: &mut State,
        request: ReportPlanRequest,
        source: PlanSource,
    ) -> ApiResult<ReportPlanResponse> {
        let session_id = self.resolve_zhongshu(state, request.session_id.as_deref())?;
        let body = request.plan.unwrap_or_default();
        let inputs = request
            .assignments
            .or(body.assignments)
            .ok_or_else(|| ApiError::bad_request("assignments is required"))?;
        let assignments = inputs
            .iter()
            .map(|a| self.normalize_assignment(a, "unknown department in plan"))
            .collect::<ApiResult<Vec<_>>>()?;
        let summary = text::normalize(request.summary.or(body.summary).as_deref().unwrap_or(""));
        let auto = self.shared.config.dispatch == DispatchMode::Auto;
        let mut plan = Plan {
            session_id: session_id.clone(),
            summary: if summary.is_empty() {
                "(no summary)".into()
            } else {
                summary
            },
            reported_at: Some(text::now_text()),
            source,
            ready: true,
            // An empty plan never asks to confirm nothing.
            needs_confirmation: !assignments.is_empty()
                && !auto
                && request.needs_confirmation.unwrap_or(true),
            ownership_warnings: self.ownership_warnings(&assignments),
            base_commit: state
                .session(&session_id)
                .and_then(|s| s.base_commit.clone()),
            base_branch: state
                .session(&session_id)
                .and_then(|s| s.base_branch.clone()),
            assignments,
            auto_dispatch: None,
        };
        state
            .store
            .write(|w| w.plan(&session_id, &plan))
            .map_err(internal)?;
        state.plans.insert(session_id.clone(), plan.clone());

        let (mut auto_started, mut auto_queued) = (0, 0);
        if auto {
            let selected: Vec<Assignment> = plan
                .assignments
                .iter()
                .filter(|a| a.selected)
                .cloned()
                .collect();
            let seqs = self.enqueue(state, &session_id, &selected)?;
            let started = self.pump_locked(state);
            let started_ids: Vec<String> = started
                .iter()
                .filter(|(seq, _)| seqs.contains(seq))
                .map(|(_, s)| s.session.id.clone())
                .collect();
            auto_started = started_ids.len();
            auto_queued = seqs.len() - auto_started;
            plan.auto_dispatch = Some(AutoDispatch {
                started: started_ids,
                queued_count: auto_queued as u32,
                active: state.active_departments(),
            });
            state
                .store
                .write(|w| w.plan(&session_id, &plan))
                .map_err(internal)?;
            state.plans.insert(session_id.clone(), plan.clone());
        }
        self.shared.audit.record(
            "zhongshu_plan_registered",
            json!({
                "session_id": session_id,
                "source": source.as_str(),
                "assignment_count": plan.assignments.len(),
                "auto_started": auto_started,
                "auto_queued": auto_queued,
            }),
        );
        self.emit("plan", Some(&session_id));
        Ok(ReportPlanResponse {
            ok: true,
            session_id,
            plan,
        })
    }

    /// The user's confirmed selection: queue it, start what fits.
    pub(super) fn start_assignments(
        &self,
        request: StartAssignmentsRequest,
    ) -> ApiResult<StartAssignmentsResponse> {
        let parent = self
            .require_id(&request.parent_session_id, "parent_session_id")?
            .to_string();
        let mut state = self.lock();
        self.zhongshu(&state, &parent)?;
        let assignments = request
            .assignments
            .iter()
            .map(|a| self.normalize_assignment(a, "unknown department"))
            .collect::<ApiResult<Vec<_>>>()?;
        let selected: Vec<Assignment> = assignments.into_iter().filter(|a| a.selected).collect();
        if selected.is_empty() {
            return Err(ApiError::bad_request("no assignment is selected"));
        }
        let seqs = self.enqueue(&mut state, &parent, &selected)?;
        if let Some(plan) = state.plans.get_mut(&parent) {
            plan.needs_confirmation = false;
            let plan = plan.clone();
            state
                .store
                .write(|w| w.plan(&parent, &plan))
                .map_err(internal)?;
        }
        let started: Vec<StartedSession> = self
            .pump_locked(&mut state)
            .into_iter()
            .filter(|(seq, _)| seqs.contains(seq))
            .map(|(_, s)| s)
            .collect();
        let queued: Vec<QueuedAssignment> = state
            .queue
            .iter()
            .filter(|(seq, _)| seqs.contains(seq))
            .map(|(_, q)| q.clone())
            .collect();
        self.emit("plan", Some(&parent));
        let counters = self.counters(&state);
        Ok(StartAssignmentsResponse {
            ok: true,
            queued_count: queued.len() as u32,
            active: counters.active_department_sessions,
            started,
            queued,
            counters,
        })
    }

    /// Appends assignments to the persistent FIFO queue; returns their sequence numbers.
    fn enqueue(
        &self,
        state: &mut State,
        parent: &str,
        assignments: &[Assignment],
    ) -> ApiResult<Vec<i64>> {
        let items: Vec<QueuedAssignment> = assignments
            .iter()
            .map(|a| QueuedAssignment {
                department: a.department.clone(),
                title: a.title.clone(),
                task: a.task.clone(),
                model: a.model.clone(),
                parent_session_id: parent.to_string(),
                queued_at: text::now_text(),
            })
            .collect();
        let seqs = state
            .store
            .write(|w| {
                items
                    .iter()
                    .map(|item| w.queue_push(item))
                    .collect::<anyhow::Result<Vec<i64>>>()
            })
            .map_err(internal)?;
        for (seq, item) in seqs.iter().zip(items) {
            self.shared.audit.record(
                "assignment_queued",
                json!({
                    "parent_session_id": item.parent_session_id,
                    "department": item.department,
                    "model": item.model,
                    "queue_length": state.queue.len() + 1,
                }),
            );
            state.queue.push_back((*seq, item));
        }
        self.emit("queue", Some(parent));
        Ok(seqs)
    }

    /// Starts queued assignments while department slots are free.
    pub(super) fn pump_queue(&self) {
        let mut state = self.lock();
        self.pump_locked(&mut state);
    }

    fn pump_locked(&self, state: &mut State) -> Vec<(i64, StartedSession)> {
        let mut started = Vec::new();
        while state.active_departments() < self.shared.config.max_departments {
            let Some((seq, item)) = state.queue.front().cloned() else {
                break;
            };
            let outcome = self.launch_department(
                state,
                &item.department,
                &item.task,
                &item.model,
                &item.parent_session_id,
            );
            // A stopping server keeps the queue for the next one: an agent started now would
            // outlive it (the flag may be set while this pump runs, so `launch` checks it too).
            if matches!(&outcome, Err(err) if err.status == SHUTTING_DOWN) {
                break;
            }
            state.queue.pop_front();
            if let Err(err) = state.store.write(|w| w.queue_remove(seq)) {
                tracing::error!("{err:#}");
            }
            match outcome {
                Ok(session) => started.push((seq, session)),
                Err(err) => {
                    // Dropped, not retried forever: the audit log and the server log say why.
                    tracing::error!(
                        department = item.department,
                        "queued assignment failed to start: {}",
                        err.message
                    );
                    self.shared.audit.record(
                        "assignment_failed",
                        json!({"parent_session_id": item.parent_session_id, "department": item.department, "error": err.message}),
                    );
                }
            }
            self.emit("queue", Some(&item.parent_session_id));
        }
        started
    }

    fn launch_department(
        &self,
        state: &mut State,
        key: &str,
        task: &str,
        model: &str,
        parent: &str,
    ) -> ApiResult<StartedSession> {
        let department = self.department_config(key)?;
        let parent_agent = state.session(parent).map(|p| p.agent.clone());
        let agent = parent_agent
            .and_then(|name| self.agent_profile(&name).ok())
            .unwrap_or_else(|| self.shared.agent.clone());
        self.launch(
            state,
            Launch {
                kind: SessionKind::Department,
                department: department.key,
                title: department.title,
                task: task.to_string(),
                model: model.to_string(),
                agent,
                parent_session_id: Some(parent.to_string()),
                resumed_from_session_id: None,
            },
        )
    }

    /// `POST /api/start_department`: start now, or 400 when every slot is taken.
    pub(super) fn start_department(
        &self,
        request: StartDepartmentRequest,
        require_parent: bool,
    ) -> ApiResult<StartedSession> {
        let key = request.department.trim().to_string();
        self.department_config(&key)?;
        let task = text::normalize(&request.task);
        if task.is_empty() {
            return Err(ApiError::bad_request("task is required"));
        }
        let model = self.pick_model(
            request.model.as_deref(),
            &self.shared.config.department_model,
        )?;
        let mut state = self.lock();
        let named = request
            .parent_session_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if require_parent && named.is_none() {
            return Err(ApiError::bad_request("parent_session_id is required"));
        }
        let parent =
            match named {
                Some(id) => self
                    .zhongshu(&state, self.require_id(id, "parent_session_id")?)?
                    .id
                    .clone(),
                None => {
                    let running: Vec<&SessionRecord> = state
                        .sessions
                        .iter()
                        .filter(|s| s.is_zhongshu() && s.is_running())
                        .collect();
                    match running.as_slice() {
                        [only] => only.id.clone(),
                        [] => {
                            return Err(ApiError::bad_request(
                                "parent_session_id is required (no Zhongshu session is running)",
                            ))
                        }
                        _ => return Err(ApiError::bad_request(
                            "parent_session_id is required (several Zhongshu sessions are running)",
                        )),
                    }
                }
            };
        let max = self.shared.config.max_departments;
        if state.active_departments() >= max {
            return Err(ApiError::bad_request(format!(
                "department limit reached: {max} running; confirm a plan to queue instead"
            )));
        }
        self.launch_department(&mut state, &key, &task, &model, &parent)
    }
}

//! The session tree: Zhongshu sessions with their departments and queue, heartbeat, report and
//! unread badges; restart, close and input. Departments in worktrees show their workspace, their
//! live change counts and warnings, and open the review panel.

use leptos::prelude::*;

use crate::api::{
    Heartbeat, PlanStatus, ReportStatus, SessionStatus, WorkspaceStatus, WorkspaceWarningKind,
};

use crate::i18n::use_lang;

use super::shared::{agent_state_badge, change_counts, heartbeat_badge, use_shared, Badge};
use super::wire::{self, DepartmentView, ZhongshuView};

#[component]
pub fn SessionsPanel() -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();

    // A newly reported plan opens the confirmation dialog (once per plan).
    Effect::new(move |_| {
        let Some(Ok(data)) = shared.sessions.get() else {
            return;
        };
        if shared.plan_open.get_untracked().is_some() {
            return;
        }
        let dismissed = shared.plan_dismissed.get_untracked();
        let waiting = data.zhongshu_sessions.iter().find(|z| {
            let key = format!(
                "{}@{}",
                z.id,
                z.plan_reported_at.as_deref().unwrap_or_default()
            );
            z.plan_status == Some(PlanStatus::AwaitingConfirmation) && !dismissed.contains(&key)
        });
        if let Some(entry) = waiting {
            shared.plan_open.set(Some(entry.id.clone()));
        }
    });

    // A browser notification (if the user allowed them) when a session starts waiting for input,
    // or the Zhongshu finishes a turn and so waits for the user.
    #[cfg(feature = "hydrate")]
    {
        let waiting = StoredValue::new(std::collections::HashSet::<String>::new());
        Effect::new(move |_| {
            let Some(Ok(data)) = shared.sessions.get() else {
                return;
            };
            use crate::api::AgentState;
            let running = |status, state| {
                status == SessionStatus::Running && state == AgentState::WaitingForInput
            };
            let mut now = std::collections::HashSet::<String>::new();
            for z in &data.zhongshu_sessions {
                // A Zhongshu that finished its turn waits for the user too.
                if running(z.status, z.agent_state)
                    || (z.status == SessionStatus::Running && z.agent_state == AgentState::Done)
                {
                    now.insert(format!("{} {}", z.title, z.id));
                }
                for d in &z.child_departments {
                    if running(d.status, d.agent_state) {
                        now.insert(format!("{} {}", d.title, d.id));
                    }
                }
            }
            let before = waiting.get_value();
            for label in now.difference(&before) {
                super::notify::show(lang.tr("Needs input", "等待输入"), label);
            }
            waiting.set_value(now);
        });
    }

    view! {
        <section class="panel sessions" aria-labelledby="sessions-heading">
            <header class="panel-head">
                <h2 id="sessions-heading">{lang.tr("Sessions", "会话")}</h2>
                <super::notify::NotifyToggle/>
            </header>
            <Transition fallback=move || view! { <p class="muted">{lang.tr("Loading sessions…", "正在加载会话…")}</p> }>
                {move || Suspend::new(async move {
                    match shared.sessions.await {
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                        Ok(data) if data.zhongshu_sessions.is_empty() => view! {
                            <p class="muted" data-testid="no-sessions">{lang.tr(
                                "No Zhongshu session yet: start one with a task above.",
                                "还没有中书省会话:在上方输入任务来启动一个。",
                            )}</p>
                        }.into_any(),
                        Ok(data) => view! {
                            <p class="muted">
                                {
                                    let busy = data.active_department_sessions;
                                    let slots = data.max_department_sessions;
                                    let queued = data.queue.len();
                                    lang.tr(
                                        format!("{busy} / {slots} department slots busy · {queued} queued"),
                                        format!("部门并发 {busy} / {slots} · 排队 {queued}"),
                                    )
                                }
                            </p>
                            <ul class="zhongshu-list">
                                {data.zhongshu_sessions.into_iter().map(|entry| view! { <ZhongshuCard entry/> }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ZhongshuCard(entry: ZhongshuView) -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    let unread = entry.unread_result_count;
    let plan_status = entry.plan_status.unwrap_or(PlanStatus::Waiting);
    let id = entry.id.clone();
    let running = entry.status == SessionStatus::Running;
    let input = RwSignal::new(String::new());

    let select = {
        let id = id.clone();
        move |_| shared.selected.set(Some(id.clone()))
    };
    let review = {
        let id = id.clone();
        move |_| shared.plan_open.set(Some(id.clone()))
    };
    let restart = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            leptos::task::spawn_local(async move {
                let outcome = wire::restart_zhongshu(id).await;
                shared.report(&outcome, |r| {
                    let (source, new) = (&r.source_session_id, &r.session.id);
                    if r.resumed_inline {
                        lang.tr(
                            format!("Resume prompt sent to {source}"),
                            format!("已向 {source} 发送续接提示"),
                        )
                    } else {
                        lang.tr(format!("Restarted as {new}"), format!("已重启为 {new}"))
                    }
                });
                if let Ok(r) = outcome {
                    shared.selected.set(Some(r.session.id));
                }
            });
        }
    };
    let close = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            leptos::task::spawn_local(async move {
                let outcome = wire::close_session(id).await;
                shared.report(&outcome, |r| {
                    let id = &r.session.id;
                    lang.tr(format!("Closing {id}"), format!("正在关闭 {id}"))
                });
            });
        }
    };
    let send = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let (id, line) = (id.clone(), input.get_untracked());
            leptos::task::spawn_local(async move {
                let outcome = wire::session_input(id, line).await;
                shared.report(&outcome, |_| {
                    lang.tr("Input sent", "输入已发送").to_string()
                });
                if outcome.is_ok() {
                    input.set(String::new());
                }
            });
        }
    };

    view! {
        <li class="zhongshu-card" data-testid="zhongshu-card" data-session-id=id.clone()>
            <div class="card-head">
                <strong>{entry.title.clone()}</strong>
                <code>{id.clone()}</code>
                {heartbeat_badge(entry.status, if running { Heartbeat::Active } else { Heartbeat::Exited }, None)}
                {agent_state_badge(entry.status, entry.agent_state)}
                <Badge kind="info" text=format!("{}{}", lang.tr("plan: ", "计划:"), plan_status.as_str().replace('_', " "))/>
                <span data-testid="unread-count">
                    <Badge kind={if unread > 0 { "warn" } else { "muted" }} text=lang.tr(format!("{unread} unread"), format!("{unread} 条未读"))/>
                </span>
            </div>
            <p class="task">{entry.task.clone()}</p>
            <div class="row actions">
                <button type="button" class="ghost" on:click=select>{lang.tr("Inbox", "收件箱")}</button>
                {(plan_status == PlanStatus::AwaitingConfirmation).then(|| view! {
                    <button type="button" on:click=review data-testid="review-plan">{lang.tr("Review plan", "审阅计划")}</button>
                })}
                <button type="button" class="ghost" on:click=restart data-testid="restart-zhongshu">{lang.tr("Restart", "重启")}</button>
                {running.then(|| view! { <button type="button" class="ghost" on:click=close>{lang.tr("Close", "关闭")}</button> })}
            </div>
            {running.then(|| view! {
                <form class="row" on:submit=send>
                    <label class="sr-only" for=format!("input-{id}")>{lang.tr("Input for this session", "发送到此会话的输入")}</label>
                    <input id=format!("input-{id}") type="text" placeholder=lang.tr("Type a line into this session", "向此会话输入一行")
                        prop:value=move || input.get() on:input=move |ev| input.set(event_target_value(&ev))/>
                    <button type="submit" class="ghost">{lang.tr("Send", "发送")}</button>
                </form>
            })}
            <ul class="departments-tree">
                {entry.child_departments.into_iter().map(|d| view! { <DepartmentRow session=d/> }).collect_view()}
                {entry.queued_departments.into_iter().map(|q| view! {
                    <li class="department-row queued" data-testid="queued-department">
                        <strong>{q.title}</strong> " " <Badge kind="muted" text=lang.tr("queued", "排队中")/> " " <span class="muted">{q.task}</span>
                    </li>
                }).collect_view()}
            </ul>
        </li>
    }
}

#[component]
fn DepartmentRow(session: DepartmentView) -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    let report = session.report_status.unwrap_or(ReportStatus::Pending);
    let last_line = session
        .transcript_preview
        .last()
        .cloned()
        .unwrap_or_default();
    let running = session.status == SessionStatus::Running;
    let workspace = session.worktree().cloned().map(|ws| {
        let (kind, text) = match ws.status {
            WorkspaceStatus::Preparing => ("info", lang.tr("preparing", "准备中")),
            WorkspaceStatus::Ready => ("ok", lang.tr("ready", "就绪")),
            WorkspaceStatus::Failed => ("bad", lang.tr("failed", "失败")),
            WorkspaceStatus::Closed => ("muted", lang.tr("closed", "已关闭")),
            WorkspaceStatus::Merged => ("ok", lang.tr("merged", "已合并")),
            WorkspaceStatus::Removed => ("muted", lang.tr("removed", "已移除")),
        };
        // A merged or removed worktree is gone: nothing left to review.
        let reviewable = !matches!(ws.status, WorkspaceStatus::Merged | WorkspaceStatus::Removed);
        let branch = ws.branch.unwrap_or_default();
        let branch_title = branch.clone();
        let changes = session.changes.filter(|_| running);
        let warned = if running { session.warnings.len() } else { 0 };
        let id = session.id.clone();
        view! {
            <div class="workspace-line" data-testid="workspace" data-workspace-status=ws.status.as_str()>
                <Badge kind=kind text=[lang.tr("worktree ", "工作树 "), text].concat()/>
                <code class="branch" title=branch_title>{branch}</code>
                {changes.map(|c| change_counts(c, true))}
                {(warned > 0).then(|| view! {
                    <Badge kind="warn" text=lang.tr(format!("{warned} warning(s)"), format!("{warned} 条警告"))/>
                })}
                {reviewable.then(|| view! {
                    <button type="button" class="ghost small" data-testid="review-department"
                        on:click=move |_| shared.review.set(Some(id.clone()))>{lang.tr("Review", "审阅")}</button>
                })}
            </div>
            {ws.reason.map(|reason| view! { <p class="error small" data-testid="workspace-reason">{reason}</p> })}
        }
    });
    let warnings = running
        .then_some(session.warnings)
        .filter(|w| !w.is_empty());
    view! {
        <li class="department-row" data-testid="department-row" data-status=session.status.as_str() data-session-id=session.id.clone()>
            <strong>{session.title.clone()}</strong>
            " " <code>{session.id.clone()}</code> " "
            {heartbeat_badge(session.status, session.heartbeat_status, session.idle_seconds)}
            " " {agent_state_badge(session.status, session.agent_state)}
            " " <Badge kind={if report == ReportStatus::Reported { "ok" } else { "muted" }} text=report.as_str()/>
            {workspace}
            {warnings.map(|warnings| view! {
                <ul class="ws-warnings" data-testid="workspace-warnings">
                    {warnings.into_iter().map(|w| {
                        let kind = match w.kind {
                            WorkspaceWarningKind::Boundary => lang.tr("boundary", "越界"),
                            WorkspaceWarningKind::Collision => lang.tr("collision", "冲突"),
                        };
                        view! { <li data-kind=w.kind.as_str()><Badge kind="warn" text=kind/> " " {w.message}</li> }
                    }).collect_view()}
                </ul>
            })}
            <div class="preview muted">{last_line}</div>
        </li>
    }
}

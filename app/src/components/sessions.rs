//! The session tree: Zhongshu sessions with their departments and queue, heartbeat, report and
//! unread badges; restart, close and input.

use leptos::prelude::*;

use crate::api::{
    close_session, restart_zhongshu_session, session_input, Heartbeat, PlanStatus, ReportStatus,
    RestartZhongshuRequest, Session, SessionIdRequest, SessionInputRequest, SessionStatus,
    ZhongshuEntry,
};

use crate::i18n::use_lang;

use super::shared::{agent_state_badge, heartbeat_badge, use_shared, Badge};

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
            let fields = z.session.zhongshu_fields.as_ref();
            let key = format!(
                "{}@{}",
                z.session.id,
                fields
                    .and_then(|f| f.plan_reported_at.clone())
                    .unwrap_or_default()
            );
            fields.is_some_and(|f| f.plan_status == PlanStatus::AwaitingConfirmation)
                && !dismissed.contains(&key)
        });
        if let Some(entry) = waiting {
            shared.plan_open.set(Some(entry.session.id.clone()));
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
            let now: std::collections::HashSet<String> = data
                .zhongshu_sessions
                .iter()
                .flat_map(|z| std::iter::once(&z.session).chain(z.child_departments.iter()))
                .filter(|s| {
                    use crate::api::AgentState;
                    s.status == SessionStatus::Running
                        && (s.agent_state == AgentState::WaitingForInput
                            || (s.agent_state == AgentState::Done && s.zhongshu_fields.is_some()))
                })
                .map(|s| format!("{} {}", s.title, s.id))
                .collect();
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
                                    let busy = data.counters.active_department_sessions;
                                    let slots = data.counters.max_department_sessions;
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
fn ZhongshuCard(entry: ZhongshuEntry) -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    let session = entry.session.clone();
    let fields = session.zhongshu_fields.clone();
    let unread = fields.as_ref().map_or(0, |f| f.unread_result_count);
    let plan_status = fields
        .as_ref()
        .map_or(PlanStatus::Waiting, |f| f.plan_status);
    let id = session.id.clone();
    let running = session.status == SessionStatus::Running;
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
            let request = RestartZhongshuRequest {
                session_id: id.clone(),
                model: None,
            };
            leptos::task::spawn_local(async move {
                let outcome = restart_zhongshu_session(request).await;
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
            let request = SessionIdRequest {
                session_id: id.clone(),
            };
            leptos::task::spawn_local(async move {
                let outcome = close_session(request).await;
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
            let request = SessionInputRequest {
                session_id: id.clone(),
                input: input.get_untracked(),
            };
            leptos::task::spawn_local(async move {
                let outcome = session_input(request).await;
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
                <strong>{session.title.clone()}</strong>
                <code>{id.clone()}</code>
                {heartbeat_badge(session.status, if running { Heartbeat::Active } else { Heartbeat::Exited }, None)}
                {agent_state_badge(&session)}
                <Badge kind="info" text=format!("{}{}", lang.tr("plan: ", "计划:"), plan_status.as_str().replace('_', " "))/>
                <span data-testid="unread-count">
                    <Badge kind={if unread > 0 { "warn" } else { "muted" }} text=lang.tr(format!("{unread} unread"), format!("{unread} 条未读"))/>
                </span>
            </div>
            <p class="task">{session.task.clone()}</p>
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
fn DepartmentRow(session: Session) -> impl IntoView {
    let report = session
        .department_fields
        .as_ref()
        .map_or(ReportStatus::Pending, |f| f.report_status);
    let last_line = session
        .transcript_preview
        .last()
        .cloned()
        .unwrap_or_default();
    view! {
        <li class="department-row" data-testid="department-row" data-status=session.status.as_str()>
            <strong>{session.title.clone()}</strong>
            " " <code>{session.id.clone()}</code> " "
            {heartbeat_badge(session.status, session.heartbeat_status, session.idle_seconds)}
            " " {agent_state_badge(&session)}
            " " <Badge kind={if report == ReportStatus::Reported { "ok" } else { "muted" }} text=report.as_str()/>
            <div class="preview muted">{last_line}</div>
        </li>
    }
}

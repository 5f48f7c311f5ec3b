//! The launcher status panel: project, agent, models and concurrency at a glance.

use leptos::prelude::*;

use crate::api::StatusPayload;

use super::push::use_push;
use super::shared::use_shared;

#[component]
pub fn StatusPanel() -> impl IntoView {
    let status = use_shared().status;
    let push = use_push();

    view! {
        <section class="panel status-panel" aria-labelledby="status-heading">
            <header class="panel-head">
                <h2 id="status-heading">"Launcher status"</h2>
                <span class="muted" data-testid="push-state">
                    {move || if push.connected.get() { "live" } else { "connecting…" }}
                </span>
                <button type="button" class="ghost" data-testid="refresh-status"
                    on:click=move |_| status.refetch()>
                    "Refresh"
                </button>
            </header>
            <Transition fallback=|| view! { <p class="muted">"Loading status…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(payload) => view! { <StatusFacts payload/> }.into_any(),
                        Err(err) => view! {
                            <p class="error" role="alert" data-testid="status-error">
                                "Launcher unavailable: " {err.message}
                            </p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StatusFacts(payload: StatusPayload) -> impl IntoView {
    let agent_state = if payload.agent.available {
        "available"
    } else {
        "not found on PATH"
    };
    view! {
        <dl class="facts" data-testid="status-facts">
            <dt>"Project"</dt>
            <dd data-testid="project-name">{payload.project_name}</dd>
            <dt>"Repository"</dt>
            <dd><code>{payload.repo}</code></dd>
            <dt>"Agent"</dt>
            <dd data-testid="agent-name">{payload.agent.name} " (" {agent_state} ")"</dd>
            <dt>"Dispatch"</dt>
            <dd>{payload.dispatch}</dd>
            <dt>"Models"</dt>
            <dd>{payload.model_choices.join(", ")}</dd>
            <dt>"Departments running"</dt>
            <dd data-testid="department-slots">
                {payload.active_department_sessions} " / " {payload.max_department_sessions}
            </dd>
            <dt>"Zhongshu 中书省 sessions"</dt>
            <dd data-testid="zhongshu-count">{payload.active_zhongshu_sessions}</dd>
            <dt>"Queued"</dt>
            <dd>{payload.queue.len()}</dd>
            <dt>"API version"</dt>
            <dd>{payload.api_version}</dd>
        </dl>
        <ul class="departments" data-testid="department-list">
            {payload.departments.into_iter().map(|d| view! {
                <li><strong>{d.title}</strong> " " <code>{d.key}</code> " — " {d.duty}</li>
            }).collect_view()}
        </ul>
    }
}

//! The launcher panel: task, agent and model, "Start Zhongshu".

use leptos::prelude::*;

use crate::api::{start_zhongshu_session, StartZhongshuRequest};

use super::shared::use_shared;

#[component]
pub fn LauncherPanel() -> impl IntoView {
    let shared = use_shared();
    let task = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let start = move |_| {
        let request = StartZhongshuRequest {
            task: task.get_untracked(),
            model: Some(model.get_untracked()).filter(|m| !m.is_empty()),
            agent: None,
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            let outcome = start_zhongshu_session(request).await;
            shared.report(&outcome, |s| {
                format!(
                    "Zhongshu {} started (pid {})",
                    s.session.id,
                    s.pid.unwrap_or(0)
                )
            });
            if let Ok(started) = &outcome {
                shared.selected.set(Some(started.session.id.clone()));
                task.set(String::new());
            }
            busy.set(false);
        });
    };

    view! {
        <section class="panel launcher" aria-labelledby="launcher-heading">
            <header class="panel-head"><h2 id="launcher-heading">"中书省 Zhongshu — new task"</h2></header>
            <label for="task-input">"Task"</label>
            <textarea id="task-input" rows="3" placeholder="Describe the change you want; Zhongshu plans it into department assignments."
                prop:value=move || task.get()
                on:input=move |ev| task.set(event_target_value(&ev))></textarea>
            <div class="row">
                <label for="model-select">"Model"</label>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let status = shared.status.await.ok();
                        let choices = status.as_ref().map(|s| s.model_choices.clone()).unwrap_or_default();
                        let default = status.as_ref().map(|s| s.zhongshu_model.clone()).unwrap_or_default();
                        let agent = status
                            .map(|s| (s.agent.name, s.agent.available))
                            .unwrap_or_default();
                        if model.get_untracked().is_empty() {
                            model.set(default);
                        }
                        view! {
                            <select id="model-select" on:change=move |ev| model.set(event_target_value(&ev))
                                prop:value=move || model.get()>
                                {choices.into_iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                            </select>
                            <span class="muted" data-testid="launcher-agent">
                                "agent: " {agent.0} {(!agent.1).then_some(" (not found on PATH)")}
                            </span>
                        }
                    })}
                </Transition>
                <button type="button" data-testid="start-zhongshu" disabled=move || busy.get() on:click=start>
                    {move || if busy.get() { "Starting…" } else { "Start Zhongshu" }}
                </button>
            </div>
            {move || shared.notice.get().map(|(ok, text)| view! {
                <p class={if ok { "notice ok" } else { "notice error" }} role="status" data-testid="notice">{text}</p>
            })}
        </section>
    }
}

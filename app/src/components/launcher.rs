//! The launcher panel: task, agent and model, "Start Zhongshu".

use leptos::prelude::*;

use crate::i18n::use_lang;

use super::shared::use_shared;
use super::wire;

#[component]
pub fn LauncherPanel() -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    let task = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let start = move |_| {
        let task_text = task.get_untracked();
        let chosen = Some(model.get_untracked()).filter(|m| !m.is_empty());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let outcome = wire::start_zhongshu(task_text, chosen).await;
            shared.report(&outcome, |s| {
                let (id, pid) = (&s.session.id, s.pid.unwrap_or(0));
                lang.tr(
                    format!("Zhongshu {id} started (pid {pid})"),
                    format!("中书省会话 {id} 已启动(pid {pid})"),
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
            <header class="panel-head"><h2 id="launcher-heading">{lang.tr("中书省 Zhongshu — new task", "中书省 — 新任务")}</h2></header>
            <label for="task-input">{lang.tr("Task", "任务")}</label>
            <textarea id="task-input" rows="3" placeholder=lang.tr(
                "Describe the change you want; Zhongshu plans it into department assignments.",
                "描述你想要的改动;中书省会把它规划为各部门的任务分派。",
            )
                prop:value=move || task.get()
                on:input=move |ev| task.set(event_target_value(&ev))></textarea>
            <div class="row">
                <label for="model-select">{lang.tr("Model", "模型")}</label>
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
                                {lang.tr("agent: ", "智能体:")} {agent.0}
                                {(!agent.1).then_some(lang.tr(" (not found on PATH)", "(PATH 中未找到)"))}
                            </span>
                        }
                    })}
                </Transition>
                <button type="button" data-testid="start-zhongshu" disabled=move || busy.get() on:click=start>
                    {move || if busy.get() { lang.tr("Starting…", "启动中…") } else { lang.tr("Start Zhongshu", "启动中书省") }}
                </button>
            </div>
            {move || shared.notice.get().map(|(ok, text)| view! {
                <p class={if ok { "notice ok" } else { "notice error" }} role="status" data-testid="notice">{text}</p>
            })}
        </section>
    }
}

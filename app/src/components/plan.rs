//! The plan confirmation dialog: each assignment's task, model and selection are editable;
//! Confirm sends the edited selection to `start_assignments`, Cancel keeps the plan waiting.

use leptos::prelude::*;

use crate::api::{
    start_assignments, zhongshu_plan, Assignment, AssignmentInput, StartAssignmentsRequest,
};

use crate::i18n::use_lang;

use super::shared::{load, or_dash, use_shared};

#[component]
pub fn PlanDialog() -> impl IntoView {
    let shared = use_shared();
    let plan = load(
        move || shared.plan_open.get(),
        |id| async move {
            match id {
                Some(id) => zhongshu_plan(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(Some(response)) if response.plan.plan.ready => {
                        view! { <PlanForm assignments=response.plan.plan.assignments.clone() summary=response.plan.plan.summary.clone()
                            session_id=response.session.id.clone() reported_at=response.plan.plan.reported_at.clone().unwrap_or_default()
                            models=response.model_choices.clone()/> }.into_any()
                    }
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanForm(
    assignments: Vec<Assignment>,
    summary: String,
    session_id: String,
    reported_at: String,
    models: Vec<String>,
) -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    // Edits go straight into the drafts without re-rendering the form (no focus loss).
    let drafts = StoredValue::new(assignments.clone());
    let busy = RwSignal::new(false);
    let dismiss_key = format!("{session_id}@{reported_at}");

    let cancel = {
        let key = dismiss_key.clone();
        move |_| {
            shared.plan_dismissed.update(|d| d.push(key.clone()));
            shared.plan_open.set(None);
        }
    };
    let confirm = {
        let key = dismiss_key.clone();
        let session_id = session_id.clone();
        move |_| {
            let request = StartAssignmentsRequest {
                parent_session_id: session_id.clone(),
                assignments: drafts
                    .get_value()
                    .iter()
                    .map(AssignmentInput::from)
                    .collect(),
            };
            busy.set(true);
            let key = key.clone();
            leptos::task::spawn_local(async move {
                let outcome = start_assignments(request).await;
                shared.report(&outcome, |r| {
                    let (started, queued) = (r.started.len(), r.queued_count);
                    lang.tr(
                        format!("{started} started, {queued} queued"),
                        format!("已启动 {started},排队 {queued}"),
                    )
                });
                busy.set(false);
                if outcome.is_ok() {
                    shared.plan_dismissed.update(|d| d.push(key));
                    shared.plan_open.set(None);
                }
            });
        }
    };

    let rows = assignments.into_iter().enumerate().map(|(i, a)| {
        let task_id = format!("plan-task-{i}");
        let model_id = format!("plan-model-{i}");
        let models = models.clone();
        let current_model = a.model.clone();
        view! {
            <fieldset class="assignment" data-testid="plan-assignment">
                <legend>
                    <label>
                        <input type="checkbox" prop:checked=a.selected
                            on:change=move |ev| drafts.update_value(|d| d[i].selected = event_target_checked(&ev))/>
                        " " <strong>{a.title.clone()}</strong> " " <code>{a.department.clone()}</code>
                    </label>
                </legend>
                <label for=task_id.clone()>{lang.tr("Task", "任务")}</label>
                <textarea id=task_id rows="3" data-testid="plan-task" prop:value=a.task.clone()
                    on:input=move |ev| drafts.update_value(|d| d[i].task = event_target_value(&ev))></textarea>
                <div class="row">
                    <label for=model_id.clone()>{lang.tr("Model", "模型")}</label>
                    <select id=model_id on:change=move |ev| drafts.update_value(|d| d[i].model = event_target_value(&ev))>
                        {models.into_iter().map(|m| {
                            let selected = m == current_model;
                            view! { <option value=m.clone() selected=selected>{m.clone()}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <dl class="facts small">
                    <dt>{lang.tr("Files", "文件")}</dt><dd>{or_dash(a.files.join(", "))}</dd>
                    <dt>{lang.tr("Verify", "验证")}</dt><dd>{or_dash(a.verify.join("; "))}</dd>
                    <dt>{lang.tr("Why", "理由")}</dt><dd>{a.reason.clone()}</dd>
                    <dt>{lang.tr("Model reason", "模型理由")}</dt><dd>{a.model_reason.clone()}</dd>
                </dl>
            </fieldset>
        }
    }).collect_view();

    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="plan-heading" data-testid="plan-dialog">
                <h2 id="plan-heading">{lang.tr("Confirm the plan of ", "确认计划:")} <code>{session_id.clone()}</code></h2>
                <p>{summary}</p>
                {rows}
                <div class="row actions">
                    <button type="button" data-testid="confirm-plan" disabled=move || busy.get() on:click=confirm>{lang.tr("Confirm and start", "确认并启动")}</button>
                    <button type="button" class="ghost" on:click=cancel>{lang.tr("Not now", "暂不")}</button>
                </div>
            </div>
        </div>
    }
}

//! The plan confirmation dialog: each assignment's task, model and selection are editable;
//! Confirm sends the edited selection to `start_assignments`, Cancel keeps the plan waiting.
//! The plan's ownership warnings (paths the rules give to another department, or that two
//! assignments both name) are listed before the user confirms, their assignments marked.

use leptos::prelude::*;

use crate::api::{AssignmentInput, OwnershipKind, OwnershipWarning};

use crate::i18n::{use_lang, Lang};

use super::shared::{load, or_dash, use_shared, Badge};
use super::wire::{self, PlanResponseView};

#[component]
pub fn PlanDialog() -> impl IntoView {
    let shared = use_shared();
    let plan = load(
        move || shared.plan_open.get(),
        |id| async move {
            match id {
                Some(id) => wire::zhongshu_plan(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(Some(response)) if response.plan.ready => view! { <PlanForm response/> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanForm(response: PlanResponseView) -> impl IntoView {
    let PlanResponseView {
        session,
        plan,
        model_choices: models,
    } = response;
    let (assignments, warnings) = (plan.assignments, plan.ownership_warnings);
    let session_id = session.id;
    let reported_at = plan.reported_at.unwrap_or_default();
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
            let inputs = drafts
                .get_value()
                .iter()
                .map(AssignmentInput::from)
                .collect();
            let parent = session_id.clone();
            busy.set(true);
            let key = key.clone();
            leptos::task::spawn_local(async move {
                let outcome = wire::start_assignments(parent, inputs).await;
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
        let flagged = warnings.iter().filter(|w| w.assignment_index as usize == i).count();
        view! {
            <fieldset class="assignment" class:flagged={flagged > 0} data-testid="plan-assignment">
                <legend>
                    <label>
                        <input type="checkbox" prop:checked=a.selected
                            on:change=move |ev| drafts.update_value(|d| d[i].selected = event_target_checked(&ev))/>
                        " " <strong>{a.title.clone()}</strong> " " <code>{a.department.clone()}</code>
                    </label>
                    {(flagged > 0).then(|| view! { " " <span data-testid="assignment-warned"><Badge kind="warn" text=lang.tr("ownership warning", "归属警告")/></span> })}
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
                    {(!a.paths.is_empty()).then(|| view! { <dt>{lang.tr("Paths", "路径")}</dt><dd>{a.paths.join(", ")}</dd> })}
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
                <p>{plan.summary}</p>
                {rows}
                {ownership_warnings(lang, warnings)}
                <div class="row actions">
                    <button type="button" data-testid="confirm-plan" disabled=move || busy.get() on:click=confirm>{lang.tr("Confirm and start", "确认并启动")}</button>
                    <button type="button" class="ghost" on:click=cancel>{lang.tr("Not now", "暂不")}</button>
                </div>
            </div>
        </div>
    }
}

/// The plan's ownership warnings, each with the server's message; nothing when there are none.
fn ownership_warnings(lang: Lang, warnings: Vec<OwnershipWarning>) -> impl IntoView {
    (!warnings.is_empty()).then(|| {
        view! {
            <div class="warn-box" role="alert" data-testid="ownership-warnings">
                <h3>{lang.tr("Ownership warnings", "归属警告")}</h3>
                <ul>
                    {warnings.into_iter().map(|w| {
                        let kind = match w.kind {
                            OwnershipKind::OwnedByOther => lang.tr("owned by another department", "属于其他部门"),
                            OwnershipKind::Overlap => lang.tr("overlap", "重叠"),
                        };
                        view! {
                            <li data-testid="ownership-warning" data-kind=w.kind.as_str()>
                                <Badge kind="warn" text=kind/> " " {w.message}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </div>
        }
    })
}

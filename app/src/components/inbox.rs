//! The inbox of the selected Zhongshu: unread and read department results, rejected files.

use leptos::prelude::*;

use crate::api::{zhongshu_inbox, DepartmentResult};

use super::push::use_push;
use super::shared::{load, use_shared, Badge};

#[component]
pub fn InboxPanel() -> impl IntoView {
    let shared = use_shared();
    let push = use_push();
    // Peek: looking at the dashboard does not mark results read for Zhongshu.
    let inbox = load(
        move || (shared.selected.get(), push.sessions.get()),
        |(id, _)| async move {
            match id {
                Some(id) => zhongshu_inbox(id, Some("1".into())).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="panel inbox" aria-labelledby="inbox-heading">
            <header class="panel-head"><h2 id="inbox-heading">"Inbox"</h2></header>
            <Transition fallback=|| view! { <p class="muted">"Loading inbox…"</p> }>
                {move || Suspend::new(async move {
                    match inbox.await {
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                        Ok(None) => view! { <p class="muted">"Pick a Zhongshu session (Inbox) to see its results."</p> }.into_any(),
                        Ok(Some(data)) => view! {
                            <p class="muted">
                                <code>{data.session.id.clone()}</code>
                                {format!(" · {} unread · {} running · {} completed · {} queued",
                                    data.unread_count, data.running_departments.len(),
                                    data.completed_departments.len(), data.queued_departments.len())}
                            </p>
                            <ul class="results" data-testid="inbox-results">
                                {data.unread_results.into_iter().map(|r| view! { <ResultItem result=r unread=true/> }).collect_view()}
                                {data.read_results.into_iter().map(|r| view! { <ResultItem result=r unread=false/> }).collect_view()}
                            </ul>
                            {(!data.rejected.is_empty()).then(|| view! {
                                <h3>"Rejected mailbox files"</h3>
                                <ul class="rejected">
                                    {data.rejected.into_iter().map(|r| view! { <li><code>{r.file}</code> ": " {r.error}</li> }).collect_view()}
                                </ul>
                            })}
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ResultItem(result: DepartmentResult, unread: bool) -> impl IntoView {
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "—".to_string()
        } else {
            items.join(", ")
        }
    };
    view! {
        <li class="result" data-testid="inbox-result" data-source=result.source.clone()>
            <div class="card-head">
                <strong>{result.department.clone()}</strong>
                {unread.then(|| view! { <Badge kind="warn" text="unread"/> })}
                {(result.source == "launcher_fallback").then(|| view! { <Badge kind="bad" text="launcher fallback"/> })}
                {result.needs_user_confirmation.then(|| view! { <Badge kind="warn" text="needs confirmation"/> })}
                <span class="muted">{result.reported_at.clone()}</span>
            </div>
            <p>{result.summary.clone()}</p>
            <dl class="facts small">
                <dt>"Changed files"</dt><dd>{list(result.changed_files.clone())}</dd>
                <dt>"Verification"</dt><dd>{list(result.verifications_run.clone())}</dd>
                <dt>"Risks"</dt><dd>{list(result.risks.clone())}</dd>
                <dt>"Next action"</dt><dd>{if result.next_action.is_empty() { "—".to_string() } else { result.next_action.clone() }}</dd>
                <dt>"Handoff packet"</dt><dd><code>{result.handoff_packet.clone().unwrap_or_default()}</code></dd>
            </dl>
        </li>
    }
}

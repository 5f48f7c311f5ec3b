//! The inbox of the selected Zhongshu: unread and read department results, rejected files.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::api::ResultSource;

use crate::i18n::use_lang;

use super::push::use_push;
use super::shared::{load, or_dash, use_shared, Badge};
use super::wire::{self, ResultView};

#[component]
pub fn InboxPanel() -> impl IntoView {
    let shared = use_shared();
    let push = use_push();
    let lang = use_lang();
    // Open handoff packets. Kept here, not in each result: the list is rebuilt on every push
    // refetch, and an open packet must stay open.
    let packets = RwSignal::new(OpenPackets::new());
    // Peek: looking at the dashboard does not mark results read for Zhongshu.
    let inbox = load(
        move || (shared.selected.get(), push.sessions.get()),
        |(id, _)| async move {
            match id {
                Some(id) => wire::zhongshu_inbox(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="panel inbox" aria-labelledby="inbox-heading">
            <header class="panel-head"><h2 id="inbox-heading">{lang.tr("Inbox", "收件箱")}</h2></header>
            <Transition fallback=move || view! { <p class="muted">{lang.tr("Loading inbox…", "正在加载收件箱…")}</p> }>
                {move || Suspend::new(async move {
                    match inbox.await {
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                        Ok(None) => view! { <p class="muted">{lang.tr(
                            "Pick a Zhongshu session (Inbox) to see its results.",
                            "选择一个中书省会话(收件箱)查看其结果。",
                        )}</p> }.into_any(),
                        Ok(Some(data)) => {
                            let owner = data.session.id.clone();
                            let item = move |result: ResultView, unread: bool| {
                                view! { <ResultItem result unread owner=owner.clone() packets/> }
                            };
                            view! {
                            <p class="muted">
                                <code>{data.session.id.clone()}</code>
                                {
                                    let unread = data.unread_count;
                                    let running = data.running_departments.len();
                                    let completed = data.completed_departments.len();
                                    let queued = data.queued_departments.len();
                                    lang.tr(
                                        format!(" · {unread} unread · {running} running · {completed} completed · {queued} queued"),
                                        format!(" · 未读 {unread} · 运行中 {running} · 已完成 {completed} · 排队 {queued}"),
                                    )
                                }
                            </p>
                            <ul class="results" data-testid="inbox-results">
                                {data.unread_results.into_iter().map(|r| item(r, true)).collect_view()}
                                {data.read_results.into_iter().map(|r| item(r, false)).collect_view()}
                            </ul>
                            {(!data.rejected.is_empty()).then(|| view! {
                                <h3>{lang.tr("Rejected mailbox files", "被拒绝的邮箱文件")}</h3>
                                <ul class="rejected">
                                    {data.rejected.into_iter().map(|r| view! { <li><code>{r.file}</code> ": " {r.error}</li> }).collect_view()}
                                </ul>
                            })}
                        }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// Loaded packets by (Zhongshu id, report id): a restarted Zhongshu carries the same report ids.
type OpenPackets = HashMap<(String, String), Result<String, String>>;

#[component]
fn ResultItem(
    result: ResultView,
    unread: bool,
    /// The Zhongshu whose inbox this is.
    owner: String,
    packets: RwSignal<OpenPackets>,
) -> impl IntoView {
    let lang = use_lang();
    // The packet's Markdown, loaded when the user asks for it.
    let key = (owner, result.report_id.clone());
    let packet = {
        let key = key.clone();
        Memo::new(move |_| packets.with(|open| open.get(&key).cloned()))
    };
    let is_open = move || packet.with(Option::is_some);
    let toggle_packet = move |_| {
        if packets.with_untracked(|open| open.contains_key(&key)) {
            packets.update(|open| {
                open.remove(&key);
            });
            return;
        }
        let key = key.clone();
        leptos::task::spawn_local(async move {
            let loaded = wire::handoff_packet(key.0.clone(), key.1.clone()).await;
            let loaded = loaded.map(|p| p.markdown).map_err(|e| e.message);
            packets.update(|open| {
                open.insert(key, loaded);
            });
        });
    };
    view! {
        <li class="result" data-testid="inbox-result" data-source=result.source.as_str()>
            <div class="card-head">
                <strong>{result.department.clone()}</strong>
                {unread.then(|| view! { <Badge kind="warn" text=lang.tr("unread", "未读")/> })}
                {(result.source == ResultSource::LauncherFallback).then(|| view! { <Badge kind="bad" text=lang.tr("launcher fallback", "启动器兜底")/> })}
                {result.needs_user_confirmation.then(|| view! { <Badge kind="warn" text=lang.tr("needs confirmation", "需要确认")/> })}
                <span class="muted">{result.reported_at.clone()}</span>
            </div>
            <p>{result.summary.clone()}</p>
            <dl class="facts small">
                <dt>{lang.tr("Changed files", "改动的文件")}</dt><dd>{or_dash(result.changed_files.join(", "))}</dd>
                <dt>{lang.tr("Verification", "验证")}</dt><dd>{or_dash(result.verifications_run.join(", "))}</dd>
                <dt>{lang.tr("Risks", "风险")}</dt><dd>{or_dash(result.risks.join(", "))}</dd>
                <dt>{lang.tr("Next action", "下一步")}</dt><dd>{or_dash(result.next_action.clone())}</dd>
                <dt>{lang.tr("Handoff packet", "交接包")}</dt>
                <dd>
                    <code>{result.handoff_packet.clone().unwrap_or_default()}</code>
                    {result.handoff_packet.is_some().then(|| view! {
                        " " <button type="button" class="ghost small" data-testid="show-packet"
                            aria-expanded=move || is_open().to_string() on:click=toggle_packet>
                            {move || if is_open() { lang.tr("Hide", "收起") } else { lang.tr("Show", "查看") }}
                        </button>
                    })}
                </dd>
            </dl>
            {move || packet.get().map(|loaded| match loaded {
                Ok(markdown) => view! { <pre class="packet" data-testid="handoff-packet">{markdown}</pre> }.into_any(),
                Err(error) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
            })}
        </li>
    }
}

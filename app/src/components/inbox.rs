//! The inbox of the selected Zhongshu: unread and read department results with the launcher's
//! verification of each (commands, exit codes, output, its terminal, "Verify again") and the
//! merge gate of departments in worktrees; rejected files.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::api::{MergeStrategy, ResultSource, VerificationStatus, WorkspaceStatus};

use crate::i18n::{use_lang, Lang};

use super::push::use_push;
use super::shared::{load, or_dash, push_escaped, use_shared, Badge};
use super::wire::{self, CommandView, ResultView, VerificationView};

/// What the user set or learned on a result's card, by department session: kept here, not in
/// each card, because the list is rebuilt on every push refetch.
#[derive(Clone, Default, PartialEq)]
struct CardUi {
    /// Merge with a merge commit instead of squashing.
    merge_commit: bool,
    delete_branch: bool,
    busy: bool,
    /// The last action's outcome (ok, message).
    note: Option<(bool, String)>,
    /// Open command outputs (`<report id>/<index>`).
    tails: Vec<String>,
}

/// The inbox's own state, shared by its cards.
#[derive(Clone, Copy)]
struct InboxUi {
    packets: RwSignal<OpenPackets>,
    /// By department session id (a few: a plain list).
    cards: RwSignal<Vec<(String, CardUi)>>,
}

impl InboxUi {
    fn card(&self, id: &str) -> CardUi {
        self.cards.with_untracked(|c| {
            let found = c.iter().find(|(k, _)| k == id);
            found.map(|(_, card)| card.clone()).unwrap_or_default()
        })
    }

    fn edit(&self, id: &str, f: impl FnOnce(&mut CardUi)) {
        self.cards.update(|c| {
            let at = match c.iter().position(|(k, _)| k == id) {
                Some(at) => at,
                None => {
                    c.push((id.to_string(), CardUi::default()));
                    c.len() - 1
                }
            };
            f(&mut c[at].1)
        });
    }
}

#[component]
pub fn InboxPanel() -> impl IntoView {
    let shared = use_shared();
    let push = use_push();
    let lang = use_lang();
    // Open handoff packets. Kept here, not in each result: the list is rebuilt on every push
    // refetch, and an open packet must stay open.
    let ui = InboxUi {
        packets: RwSignal::new(OpenPackets::new()),
        cards: RwSignal::new(Vec::new()),
    };
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
                                view! { <ResultItem result unread owner=owner.clone() ui/> }
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
    ui: InboxUi,
) -> impl IntoView {
    let lang = use_lang();
    let packets = ui.packets;
    let verification = verification_view(lang, ui, &result);
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
            {verification}
        </li>
    }
}

/// The first 8 characters of a commit id.
fn short(commit: &str) -> &str {
    commit.get(..8).unwrap_or(commit)
}

/// `850 ms`, `12.3 s` (no float formatting: it would cost wasm).
fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{} s", ms / 1000, ms % 1000 / 100)
    }
}

/// The launcher's verification of a result, "Verify again", its terminal, and the merge gate
/// when the department works in a worktree that is still there. Rendered as HTML text with one
/// click and one change handler for all its controls (`data-act`): a view per control cost
/// about 20 KB of wasm.
fn verification_view(lang: Lang, ui: InboxUi, result: &ResultView) -> impl IntoView {
    let shared = use_shared();
    let id = result.department_session_id.clone();
    let check = result.verification.as_ref();
    let status = check.map(|v| v.status);
    let passed = status == Some(VerificationStatus::Passed);
    // The department's worktree status, live from the session list (None: not a worktree).
    let worktree = {
        let id = id.clone();
        move || {
            let s = shared.sessions.get()?.ok()?;
            let d = s
                .zhongshu_sessions
                .into_iter()
                .flat_map(|z| z.child_departments)
                .find(|d| d.id == id)?;
            d.worktree().map(|w| w.status)
        }
    };
    let body = body_html(lang, &ui.card(&id).tails, &result.report_id, check);
    let merge_html = {
        let id = id.clone();
        move || match worktree()? {
            WorkspaceStatus::Merged => Some(badge("ok", lang.tr("merged", "已合并"))),
            WorkspaceStatus::Removed => {
                Some(badge("muted", lang.tr("worktree removed", "工作树已移除")))
            }
            _ => Some(merge_controls(lang, &ui.card(&id), passed)),
        }
    };

    let click = {
        let id = id.clone();
        move |ev: leptos::ev::MouseEvent| {
            use leptos::web_sys::Element;
            let target = event_target::<Element>(&ev);
            let Some(el) = target.closest("[data-act]").ok().flatten() else {
                return;
            };
            let act = el.get_attribute("data-act").unwrap_or_default();
            let id = id.clone();
            match act.as_str() {
                // A command's output opened or closed: kept open across refetches.
                "tail" => {
                    let key = el.get_attribute("data-key").unwrap_or_default();
                    let open = !el.parent_element().is_some_and(|d| d.has_attribute("open"));
                    // Untracked but for the card's creation: the browser shows it already.
                    ui.edit(&id, |_| {});
                    ui.cards.update_untracked(|cards| {
                        for (k, c) in cards.iter_mut() {
                            c.tails.retain(|t| *t != key);
                            if open && *k == id {
                                c.tails.push(key.clone());
                            }
                        }
                    });
                }
                "verify" => {
                    ui.edit(&id, |c| c.note = None);
                    leptos::task::spawn_local(async move {
                        let outcome = wire::verify_department(id.clone()).await;
                        let note = match outcome {
                            Ok(_) => (true, lang.tr("Verification started", "已开始验证").into()),
                            Err(err) => (false, err.message),
                        };
                        ui.edit(&id, |c| c.note = Some(note));
                    });
                }
                "merge" | "force" => merge(lang, ui, id, act == "force"),
                _ => {}
            }
        }
    };
    let change = move |ev: leptos::ev::Event| {
        let target = event_target::<leptos::web_sys::Element>(&ev);
        match target.get_attribute("data-act").as_deref() {
            Some("strategy") => {
                let merge_commit = event_target_value(&ev) == "merge";
                ui.edit(&id, |c| c.merge_commit = merge_commit);
            }
            Some("delete") => {
                let on = event_target_checked(&ev);
                ui.edit(&id, |c| c.delete_branch = on);
            }
            _ => {}
        }
    };
    let note = {
        let id = result.department_session_id.clone();
        move || {
            ui.cards.track();
            ui.card(&id).note
        }
    };
    view! {
        <div class="verification" data-testid="verification" data-status=status.map(|s| s.as_str()).unwrap_or("none")
            on:click=click on:change=change>
            <div inner_html=body></div>
            <div data-testid="merge-area" inner_html=move || merge_html().unwrap_or_default()></div>
            {move || note().map(|(ok, text)| view! {
                <p class=if ok { "notice ok" } else { "notice error" } role="status" data-testid="merge-note">{text}</p>
            })}
        </div>
    }
}

/// Merges the department's branch (after a confirm() when forced); the outcome is the card's note.
fn merge(lang: Lang, ui: InboxUi, id: String, force: bool) {
    #[cfg(feature = "hydrate")]
    if force
        && !window()
            .confirm_with_message(lang.tr(
                "The verification did not pass. Merge this department's work anyway?",
                "验证未通过。仍要合并该部门的工作吗?",
            ))
            .unwrap_or(false)
    {
        return;
    }
    let card = ui.card(&id);
    if card.busy {
        return;
    }
    let strategy = if card.merge_commit {
        MergeStrategy::Merge
    } else {
        MergeStrategy::Squash
    };
    ui.edit(&id, |c| {
        c.busy = true;
        c.note = None;
    });
    leptos::task::spawn_local(async move {
        let outcome = wire::merge_department(id.clone(), strategy, card.delete_branch, force).await;
        let note = match outcome {
            Ok(m) => {
                let (commit, base, n) = (short(&m.merged_commit), &m.base_branch, m.files.len());
                (
                    true,
                    lang.tr(
                        format!("Merged into {base} as {commit} · {n} file(s)"),
                        format!("已合并到 {base},提交 {commit} · {n} 个文件"),
                    ),
                )
            }
            Err(err) => (false, err.message),
        };
        ui.edit(&id, |c| {
            c.busy = false;
            c.note = Some(note);
        });
    });
}

fn badge(kind: &str, text: &str) -> String {
    let mut html = String::new();
    push_badge(&mut html, kind, text);
    html
}

fn push_badge(html: &mut String, kind: &str, text: &str) {
    html.push_str("<span class=\"badge badge-");
    html.push_str(kind);
    html.push_str("\">");
    push_escaped(html, text);
    html.push_str("</span>");
}

/// The status line and the commands: exit code (or "timed out"), duration, output on demand.
fn body_html(
    lang: Lang,
    open_tails: &[String],
    report_id: &str,
    check: Option<&VerificationView>,
) -> String {
    let (kind, text) = match check.map(|v| v.status) {
        Some(VerificationStatus::Running) => ("info", lang.tr("running", "运行中")),
        Some(VerificationStatus::Passed) => ("ok", lang.tr("passed", "通过")),
        Some(VerificationStatus::Failed) => ("bad", lang.tr("failed", "失败")),
        Some(VerificationStatus::Skipped) => (
            "muted",
            lang.tr("skipped: no command applies", "跳过:没有适用的命令"),
        ),
        None => ("muted", lang.tr("not verified", "未验证")),
    };
    let running = check.is_some_and(|v| v.status == VerificationStatus::Running);
    let mut html = String::from("<div class=\"card-head\"><span class=\"muted\">");
    html.push_str(lang.tr("Launcher verification", "启动器验证"));
    html.push_str("</span><span data-testid=\"verification-status\">");
    push_badge(&mut html, kind, text);
    html.push_str("</span>");
    if let Some(head) = check.and_then(|v| v.head_commit.as_deref()) {
        html.push_str("<code class=\"muted\">");
        push_escaped(&mut html, short(head));
        html.push_str("</code>");
    }
    html.push_str("<button type=\"button\" class=\"ghost small\" data-testid=\"verify-again\" data-act=\"verify\"");
    if running {
        html.push_str(" disabled");
    }
    html.push('>');
    html.push_str(lang.tr("Verify again", "重新验证"));
    html.push_str("</button>");
    // The terminal the commands ran in, as a page of its own.
    if let Some((id, token)) = check
        .and_then(|v| v.terminal_url.as_deref())
        .and_then(super::wall::parse_url)
    {
        html.push_str("<a class=\"button ghost small\" target=\"_blank\" rel=\"noopener\" data-testid=\"verify-terminal\" href=\"/terminal/");
        push_escaped(&mut html, &id);
        html.push_str("?token=");
        push_escaped(&mut html, &token);
        html.push_str("\">");
        html.push_str(lang.tr("Terminal", "终端"));
        html.push_str("</a>");
    }
    html.push_str("</div>");
    let commands = check.map(|v| v.commands.as_slice()).unwrap_or_default();
    if commands.is_empty() {
        return html;
    }
    html.push_str("<ul class=\"verify-commands\">");
    for (i, c) in commands.iter().enumerate() {
        command_html(
            &mut html,
            lang,
            open_tails,
            &[report_id, "/", &i.to_string()].concat(),
            c,
        );
    }
    html.push_str("</ul>");
    html
}

fn command_html(html: &mut String, lang: Lang, open_tails: &[String], key: &str, c: &CommandView) {
    let (kind, text) = match (c.exit_code, c.timed_out) {
        (_, true) => ("bad", lang.tr("timed out", "超时").to_string()),
        (Some(0), _) => ("ok", lang.tr("exit 0", "退出码 0").to_string()),
        (Some(code), _) => (
            "bad",
            lang.tr(format!("exit {code}"), format!("退出码 {code}")),
        ),
        (None, _) => ("bad", lang.tr("no exit code", "无退出码").to_string()),
    };
    html.push_str("<li data-testid=\"verify-command\" data-exit-code=\"");
    if let Some(code) = c.exit_code {
        html.push_str(&code.to_string());
    }
    html.push_str("\"><code>");
    push_escaped(html, &c.command);
    html.push_str("</code> ");
    push_badge(html, kind, &text);
    html.push_str(" <span class=\"muted\">");
    html.push_str(&duration(c.duration_ms));
    html.push_str("</span>");
    if !c.output_tail.is_empty() {
        html.push_str("<details");
        if open_tails.iter().any(|k| k == key) {
            html.push_str(" open");
        }
        html.push_str("><summary data-act=\"tail\" data-key=\"");
        push_escaped(html, key);
        html.push_str("\">");
        html.push_str(lang.tr("Output", "输出"));
        html.push_str("</summary><pre class=\"packet\" data-testid=\"verify-output\">");
        push_escaped(html, &c.output_tail);
        html.push_str("</pre></details>");
    }
    html.push_str("</li>");
}

/// Strategy, "delete branch", Merge (when the verification passed) or a marked "Merge anyway".
fn merge_controls(lang: Lang, card: &CardUi, passed: bool) -> String {
    let mut html = String::from("<div class=\"row\" data-testid=\"merge\"><label>");
    html.push_str(lang.tr("Strategy", "方式"));
    html.push_str(" <select data-testid=\"merge-strategy\" data-act=\"strategy\"><option value=\"squash\">squash</option><option value=\"merge\"");
    if card.merge_commit {
        html.push_str(" selected");
    }
    html.push_str(">merge</option></select></label><label><input type=\"checkbox\" data-testid=\"merge-delete-branch\" data-act=\"delete\"");
    if card.delete_branch {
        html.push_str(" checked");
    }
    html.push_str("> ");
    html.push_str(lang.tr("delete branch", "删除分支"));
    html.push_str(
        "</label><button type=\"button\" data-testid=\"merge-button\" data-act=\"merge\"",
    );
    if !passed {
        html.push_str(" disabled title=\"");
        html.push_str(lang.tr("The verification has not passed", "验证尚未通过"));
        html.push('"');
    }
    html.push('>');
    html.push_str(lang.tr("Merge", "合并"));
    html.push_str("</button>");
    if !passed {
        html.push_str("<button type=\"button\" class=\"danger small\" data-testid=\"merge-anyway\" data-act=\"force\">");
        html.push_str(lang.tr("Merge anyway (unverified)", "仍然合并(未验证)"));
        html.push_str("</button>");
    }
    html.push_str("</div>");
    html
}

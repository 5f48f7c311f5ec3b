//! The terminal wall: a live xterm pane per running session (read-only views) plus the user's
//! own shell. Panes are keyed by session, so list changes never reload a pane.

use leptos::prelude::*;

use crate::api::{ControlHolder, TerminalStatus};
use crate::i18n::use_lang;
use crate::terminal::TerminalView;

use super::shared::use_shared;
use super::wire;

/// `(id, token)` of a terminal URL `.../terminal/<id>?token=<token>`.
pub(super) fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.split("/terminal/").nth(1)?;
    let (id, query) = rest.split_once('?')?;
    let token = crate::terminal::token_param(query)?;
    Some((id.to_string(), token.to_string()))
}

#[derive(Clone, PartialEq)]
struct Pane {
    session_id: String,
    title: String,
    url: Option<String>,
}

#[component]
pub fn TerminalWall() -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    // Panes exist only in the browser: nothing to render on the server or at hydration time.
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    let panes = Memo::new(move |_| {
        if !mounted.get() {
            return Vec::new();
        }
        shared
            .status
            .get()
            .and_then(|r| r.ok())
            .map(|s| {
                s.sessions
                    .into_iter()
                    .filter(|x| x.status == crate::api::SessionStatus::Running)
                    .map(|x| Pane {
                        title: format!("{} · {}", x.title, x.id),
                        session_id: x.id,
                        // A closed view is not watchable: the pane opens a new one.
                        url: x
                            .browser_terminal_url
                            .filter(|_| x.browser_terminal_status == Some(TerminalStatus::Running)),
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    let shell = RwSignal::new(None::<(String, String)>);
    let open_shell = move |_| {
        leptos::task::spawn_local(async move {
            let outcome = wire::start_shell().await;
            shared.report(&outcome, |t| {
                let id = &t.terminal.id;
                lang.tr(format!("Shell {id} ready"), format!("Shell {id} 已就绪"))
            });
            if let Ok(t) = outcome {
                shell.set(parse_url(&t.terminal.url));
            }
        });
    };

    view! {
        <section class="panel wall" aria-labelledby="wall-heading">
            <header class="panel-head">
                <h2 id="wall-heading">{lang.tr("Terminals", "终端")}</h2>
                <button type="button" class="ghost" on:click=open_shell data-testid="open-shell">{lang.tr("Open shell", "打开 shell")}</button>
            </header>
            <div class="panes">
                {move || shell.get().map(|(id, token)| view! {
                    <figure class="pane" data-testid="shell-pane">
                        <figcaption>{lang.tr("Your shell", "你的 shell")}</figcaption>
                        <TerminalView id=id token=token/>
                    </figure>
                })}
                <For each=move || panes.get() key=|p| p.session_id.clone() children=move |pane| view! { <SessionPane pane/> }/>
            </div>
            {move || (mounted.get() && panes.get().is_empty() && shell.get().is_none()).then(|| view! {
                <p class="muted">{lang.tr("Running sessions appear here live.", "运行中的会话会实时显示在这里。")}</p>
            })}
        </section>
    }
}

/// A running session's pane: a read-only view by default; "Take control" switches it to the
/// session's control terminal, whose keystrokes reach the agent (approvals, arrows, Ctrl-C).
/// One viewer holds control at a time; the pane says when another one has it.
#[component]
fn SessionPane(pane: Pane) -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    let view_terminal = RwSignal::new(pane.url.as_deref().and_then(parse_url));
    if view_terminal.get_untracked().is_none() {
        let session_id = pane.session_id.clone();
        leptos::task::spawn_local(async move {
            if let Ok(view) = wire::start_session_view(session_id).await {
                view_terminal.set(parse_url(&view.terminal.url));
            }
        });
    }
    // Set while this pane shows the control terminal.
    let control_terminal = RwSignal::new(None::<(String, String)>);
    let holder = RwSignal::new(None::<ControlHolder>);
    let take = {
        let session_id = pane.session_id.clone();
        move |_| {
            let session_id = session_id.clone();
            leptos::task::spawn_local(async move {
                let outcome = wire::start_session_control(session_id).await;
                shared.report(&outcome, |_| {
                    lang.tr(
                        "You have control: keys go to the agent",
                        "你已接管:按键会发送给代理",
                    )
                    .to_string()
                });
                if let Ok(control) = outcome {
                    holder.set(None);
                    control_terminal.set(parse_url(&control.terminal.url));
                }
            });
        }
    };
    let release = move |_| {
        holder.set(None);
        control_terminal.set(None);
    };
    let shown = move || control_terminal.get().or_else(|| view_terminal.get());
    view! {
        <figure class="pane" data-testid="session-pane" data-session-id=pane.session_id.clone()
            class:controlling=move || control_terminal.get().is_some() && holder.get() == Some(ControlHolder::You)>
            <figcaption>
                <span>{pane.title.clone()}</span>
                <span class="pane-control" data-testid="control-state">
                    {move || match (control_terminal.get().is_some(), holder.get()) {
                        (true, Some(ControlHolder::You)) => lang.tr("you have control", "你已接管"),
                        (_, Some(ControlHolder::Other)) => lang.tr("another viewer has control", "其他查看者已接管"),
                        _ => "",
                    }}
                </span>
                {move || if control_terminal.get().is_some() {
                    view! { <button type="button" class="ghost small" on:click=release data-testid="release-control">{lang.tr("Release", "释放")}</button> }.into_any()
                } else {
                    view! { <button type="button" class="ghost small" on:click=take.clone() data-testid="take-control">{lang.tr("Take control", "接管")}</button> }.into_any()
                }}
            </figcaption>
            {move || shown().map(|(id, token)| view! { <TerminalView id=id token=token control=holder/> })}
        </figure>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn terminal_urls_split_into_id_and_token() {
        assert_eq!(
            super::parse_url("http://127.0.0.1:6211/terminal/term-1?token=abc"),
            Some(("term-1".into(), "abc".into()))
        );
        assert_eq!(super::parse_url("http://x/other"), None);
    }
}

//! State shared by the dashboard views: the status resource (refetched by push) and the
//! Zhongshu session the user is looking at.

use std::future::Future;

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};

use crate::api::{AgentState, ApiError, SessionStatus};

use crate::i18n::use_lang;

use super::push::use_push;
use super::wire::{self, SessionsView, StatusView};

/// The JSON codec of the dashboard's resources. Leptos' default codec parses the data sent along
/// with the page with `serde_json::from_str`, while server function responses are parsed with
/// `from_slice`: each reader type got its own copy of every deserializer in the wasm. Parsing
/// both from bytes keeps a single copy (measured: 24 KB less gzipped wasm).
pub struct WireJson;

impl<T: Serialize> Encoder<T> for WireJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for WireJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// Data loaded through a server function, rendered on the server and hydrated in the browser.
pub type Loaded<T> = Resource<Result<T, ApiError>, WireJson>;

/// A resource that refetches whenever `source` changes (see [`WireJson`]).
pub fn load<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Loaded<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[derive(Clone, Copy)]
pub struct Shared {
    pub status: Loaded<StatusView>,
    pub sessions: Loaded<SessionsView>,
    /// The Zhongshu session whose inbox is shown.
    pub selected: RwSignal<Option<String>>,
    /// The Zhongshu session whose plan dialog is open.
    pub plan_open: RwSignal<Option<String>>,
    /// Plans (session id + reported_at) the user closed without confirming.
    pub plan_dismissed: RwSignal<Vec<String>>,
    /// A one-line message for the user (last action's outcome).
    pub notice: RwSignal<Option<(bool, String)>>,
    /// The department session whose worktree is under review.
    pub review: RwSignal<Option<String>>,
}

pub fn provide_shared() -> Shared {
    let push = use_push();
    let shared = Shared {
        status: load(move || push.sessions.get(), |_| wire::status()),
        sessions: load(move || push.sessions.get(), |_| wire::zhongshu_sessions()),
        selected: RwSignal::new(None),
        plan_open: RwSignal::new(None),
        plan_dismissed: RwSignal::new(Vec::new()),
        notice: RwSignal::new(None),
        review: RwSignal::new(None),
    };
    provide_context(shared);
    shared
}

pub fn use_shared() -> Shared {
    expect_context::<Shared>()
}

impl Shared {
    /// Shows the outcome of an action.
    pub fn report<T>(&self, outcome: &Result<T, ApiError>, success: impl FnOnce(&T) -> String) {
        self.notice.set(Some(match outcome {
            Ok(value) => (true, success(value)),
            Err(err) => (false, err.message.clone()),
        }));
    }
}

/// A value for display: "—" when there is none.
pub fn or_dash(text: String) -> String {
    if text.is_empty() {
        "—".to_string()
    } else {
        text
    }
}

/// `text` as HTML element content or attribute value.
pub fn push_escaped(html: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            c => html.push(c),
        }
    }
}

/// A small coloured badge.
#[component]
pub fn Badge(#[prop(into)] kind: String, #[prop(into)] text: String) -> impl IntoView {
    view! { <span class=format!("badge badge-{kind}")>{text}</span> }
}

/// What a running agent says: "needs input" while it waits at its prompt, "turn done" after a
/// turn (Codex then waits for the next message too).
pub fn agent_state_badge(status: SessionStatus, state: AgentState) -> Option<impl IntoView> {
    let lang = use_lang();
    if status != SessionStatus::Running {
        return None;
    }
    let (kind, text, test_id) = match state {
        AgentState::WaitingForInput => ("warn", lang.tr("needs input", "等待输入"), "needs-input"),
        AgentState::Done => ("info", lang.tr("turn done", "本轮完成"), "turn-done"),
        AgentState::Working | AgentState::Unknown => return None,
    };
    Some(view! { <span data-testid=test_id><Badge kind=kind text=text/></span> })
}

/// The heartbeat badge of a session: active / stalled (with idle time) / exited / interrupted.
pub fn heartbeat_badge(
    status: crate::api::SessionStatus,
    heartbeat: crate::api::Heartbeat,
    idle: Option<u64>,
) -> impl IntoView {
    use crate::api::{Heartbeat, SessionStatus};
    let lang = use_lang();
    let (kind, text) = match (status, heartbeat) {
        (SessionStatus::Interrupted, _) => ("bad", lang.tr("interrupted", "已中断").to_string()),
        (_, Heartbeat::Active) => ("ok", lang.tr("active", "活跃").to_string()),
        (_, Heartbeat::Stalled) => {
            let idle = idle.unwrap_or(0);
            (
                "warn",
                lang.tr(format!("stalled {idle}s"), format!("停滞 {idle} 秒")),
            )
        }
        (_, Heartbeat::Exited) | (SessionStatus::Exited, _) => {
            ("muted", lang.tr("exited", "已退出").to_string())
        }
        (_, Heartbeat::Unknown) => ("muted", lang.tr("starting", "启动中").to_string()),
        (SessionStatus::Running, Heartbeat::NotApplicable) => {
            ("muted", status.as_str().to_string())
        }
    };
    view! { <Badge kind=kind text=text/> }
}

/// `+additions −deletions` coloured, then `· N file(s)` when `files`.
pub fn change_counts(counts: crate::api::ChangeCounts, files: bool) -> impl IntoView {
    let lang = use_lang();
    let crate::api::ChangeCounts {
        files: count,
        additions,
        deletions,
    } = counts;
    view! {
        <span class="changes" data-testid="changes">
            <span class="add">"+" {additions}</span> " " <span class="del">"−" {deletions}</span>
            {files.then(|| view! { " · " {count} {lang.tr(" file(s)", " 个文件")} })}
        </span>
    }
}

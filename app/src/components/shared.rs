//! State shared by the dashboard views: the status resource (refetched by push) and the
//! Zhongshu session the user is looking at.

use leptos::prelude::*;

use crate::api::{
    get_status, zhongshu_sessions, ApiError, StatusPayload, ZhongshuSessionsResponse,
};

use super::push::use_push;

#[derive(Clone, Copy)]
pub struct Shared {
    pub status: Resource<Result<StatusPayload, ApiError>>,
    pub sessions: Resource<Result<ZhongshuSessionsResponse, ApiError>>,
    /// The Zhongshu session whose inbox is shown.
    pub selected: RwSignal<Option<String>>,
    /// The Zhongshu session whose plan dialog is open.
    pub plan_open: RwSignal<Option<String>>,
    /// Plans (session id + reported_at) the user closed without confirming.
    pub plan_dismissed: RwSignal<Vec<String>>,
    /// A one-line message for the user (last action's outcome).
    pub notice: RwSignal<Option<(bool, String)>>,
}

pub fn provide_shared() -> Shared {
    let push = use_push();
    let shared = Shared {
        status: Resource::new(move || push.sessions.get(), |_| get_status()),
        sessions: Resource::new(move || push.sessions.get(), |_| zhongshu_sessions()),
        selected: RwSignal::new(None),
        plan_open: RwSignal::new(None),
        plan_dismissed: RwSignal::new(Vec::new()),
        notice: RwSignal::new(None),
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

/// A small coloured badge.
#[component]
pub fn Badge(#[prop(into)] kind: String, #[prop(into)] text: String) -> impl IntoView {
    view! { <span class=format!("badge badge-{kind}")>{text}</span> }
}

/// The heartbeat badge of a session: active / stalled (with idle time) / exited / interrupted.
pub fn heartbeat_badge(status: &str, heartbeat: &str, idle: Option<u64>) -> impl IntoView {
    let (kind, text) = match (status, heartbeat) {
        ("interrupted", _) => ("bad", "interrupted".to_string()),
        (_, "active") => ("ok", "active".to_string()),
        (_, "stalled") => ("warn", format!("stalled {}s", idle.unwrap_or(0))),
        (_, "exited") | ("exited", _) => ("muted", "exited".to_string()),
        (_, "unknown") => ("muted", "starting".to_string()),
        _ => ("muted", status.to_string()),
    };
    view! { <Badge kind=kind text=text/> }
}

//! Live updates: the server's push stream (`/api/events`, Server-Sent Events) bumps a version
//! counter per topic group; views key their resources on it and refetch exactly when something
//! changed. No polling.

use leptos::prelude::*;

/// Version counters, provided as context by [`provide_push`].
#[derive(Clone, Copy)]
pub struct Push {
    /// Sessions, queue, plans, results, workspace changes and warnings: everything the session
    /// views show.
    pub sessions: RwSignal<u64>,
    /// Browser terminals.
    pub terminals: RwSignal<u64>,
    /// The worktree report changed (the server's change index saw it).
    pub report: RwSignal<u64>,
    /// The push stream is connected.
    pub connected: RwSignal<bool>,
}

pub fn use_push() -> Push {
    expect_context::<Push>()
}

/// Creates the counters and, in the browser, subscribes to the push stream.
pub fn provide_push() -> Push {
    let push = Push {
        sessions: RwSignal::new(0),
        terminals: RwSignal::new(0),
        report: RwSignal::new(0),
        connected: RwSignal::new(false),
    };
    provide_context(push);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| subscribe(push));
    push
}

#[cfg(feature = "hydrate")]
fn subscribe(push: Push) {
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    let Ok(source) = web_sys::EventSource::new("/api/events") else {
        return;
    };
    let listen = |topic: &str, bump: Box<dyn Fn()>| {
        let callback = Closure::<dyn FnMut(JsValue)>::new(move |_| bump());
        let _ = source.add_event_listener_with_callback(topic, callback.as_ref().unchecked_ref());
        // One stream per page for its whole life.
        callback.forget();
    };
    let bump_sessions = move || push.sessions.update(|v| *v += 1);
    let bump_terminals = move || push.terminals.update(|v| *v += 1);
    let bump_report = move || push.report.update(|v| *v += 1);
    listen("report", Box::new(bump_report));
    for topic in ["sessions", "plan", "results", "queue", "workspaces"] {
        listen(topic, Box::new(bump_sessions));
    }
    listen(
        "terminals",
        Box::new(move || {
            bump_terminals();
            bump_sessions();
        }),
    );
    listen(
        "hello",
        Box::new(move || {
            push.connected.set(true);
            bump_sessions();
            bump_terminals();
            bump_report();
        }),
    );
    let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_| push.connected.set(false));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    std::mem::forget(source);
}

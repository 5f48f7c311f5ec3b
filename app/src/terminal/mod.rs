//! A terminal pane: xterm.js in the browser, connected to a server-hosted PTY.

#[cfg(feature = "hydrate")]
mod client;
#[cfg(feature = "hydrate")]
mod xterm;

use leptos::prelude::*;

/// The `token` parameter of a terminal URL's query string. Tokens are hex, so no percent-decoding
/// is needed (the server's page guard decodes, and a token never changes by it).
pub fn token_param(query: &str) -> Option<&str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// One live terminal filling its container. Renders an empty host on the server; the browser
/// attaches xterm.js once hydrated and detaches when the pane goes away. `control` is told who
/// holds control of a session's terminal.
#[component]
pub fn TerminalView(
    #[prop(into)] id: String,
    #[prop(into)] token: String,
    #[prop(optional)] control: Option<RwSignal<Option<crate::api::ControlHolder>>>,
) -> impl IntoView {
    let host = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let live = StoredValue::new_local(None::<client::LiveTerminal>);
        let lang = crate::i18n::use_lang();
        Effect::new(move |_| {
            if let Some(element) = host.get() {
                if live.with_value(|l| l.is_none()) {
                    let on_control = control.map(|signal| {
                        Box::new(move |holder| signal.set(Some(holder)))
                            as Box<dyn Fn(crate::api::ControlHolder)>
                    });
                    match client::attach(&element, &id, &token, lang, on_control) {
                        Ok(terminal) => live.set_value(Some(terminal)),
                        Err(err) => leptos::logging::error!("terminal {id}: {err:?}"),
                    }
                }
            }
        });
        on_cleanup(move || {
            live.try_update_value(|l| *l = None);
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, token, control);
    view! { <div class="terminal-host" node_ref=host data-testid="terminal-host"></div> }
}

//! codex-governance UI and API contract, shared by the server (SSR) and the browser (hydrate).
#![recursion_limit = "512"]

pub mod api;
pub mod components;
pub mod terminal;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    hooks::{use_params_map, use_query_map},
    ParamSegment, StaticSegment,
};

use components::{
    push::provide_push, shared::provide_shared, InboxPanel, LauncherPanel, PlanDialog, ReportPanel,
    SessionsPanel, StatusPanel, TerminalWall,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" href="/vendor/xterm/xterm.css"/>
                <script src="/vendor/xterm/xterm.js"></script>
                <script src="/vendor/xterm/addon-fit.js"></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/codex-governance.css"/>
        <Title text="codex-governance — 中书省 dashboard"/>
        <Router>
            <Routes fallback=|| view! { <p class="muted">"Page not found."</p> }>
                <Route path=StaticSegment("") view=Dashboard/>
                <Route path=(StaticSegment("terminal"), ParamSegment("id")) view=TerminalPage/>
            </Routes>
        </Router>
    }
}

/// The dashboard page.
#[component]
fn Dashboard() -> impl IntoView {
    // Set only in the browser, once the wasm has taken over the server-rendered markup;
    // end-to-end tests wait for it.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    provide_push();
    provide_shared();

    view! {
        <div class="page" data-hydrated=move || hydrated.get().to_string()>
            <header class="top">
                <h1>"codex-governance" <span class="subtitle">" 中书省 · 门下省 · 尚书省"</span></h1>
                <p class="muted">"A governed team of coding-agent sessions on one Git repository."</p>
            </header>
            <main class="layout">
                <div class="column">
                    <LauncherPanel/>
                    <SessionsPanel/>
                    <InboxPanel/>
                </div>
                <div class="column">
                    <StatusPanel/>
                    <ReportPanel/>
                </div>
                <div class="wide">
                    <TerminalWall/>
                </div>
            </main>
            <PlanDialog/>
        </div>
    }
}

/// `/terminal/<id>?token=...`: one terminal, full size, iframe-friendly. The server refuses the
/// page without the terminal's token.
#[component]
fn TerminalPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = params.read_untracked().get("id").unwrap_or_default();
    let token = query.read_untracked().get("token").unwrap_or_default();
    view! {
        <Title text=format!("Terminal {id} — codex-governance")/>
        <div class="terminal-page">
            <terminal::TerminalView id=id token=token/>
        </div>
    }
}

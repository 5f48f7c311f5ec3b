//! codex-governance UI and API contract, shared by the server (SSR) and the browser (hydrate).
#![recursion_limit = "512"]

pub mod api;
pub mod components;
pub mod i18n;
pub mod terminal;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Html, MetaTags, Stylesheet, Title};

use components::{
    push::provide_push, shared::provide_shared, InboxPanel, LauncherPanel, PlanDialog, ReportPanel,
    ReviewPanel, SessionsPanel, StatusPanel, TerminalWall,
};
use i18n::{provide_lang, LangToggle};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
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
    let lang = provide_lang();

    view! {
        <Html {..} lang=lang.tag()/>
        <Stylesheet id="leptos" href="/pkg/codex-governance.css"/>
        <Title text=lang.tr("codex-governance — 中书省 dashboard", "codex-governance — 中书省 控制台")/>
        {match Page::current() {
            Page::Dashboard => view! { <Dashboard/> }.into_any(),
            Page::Terminal { id, token } => view! { <TerminalPage id token/> }.into_any(),
            Page::NotFound => view! { <p class="muted">{lang.tr("Page not found.", "页面不存在。")}</p> }.into_any(),
        }}
    }
}

/// The pages, chosen by path. With two pages and no navigation between them, a match on the path
/// replaces a client-side router (leptos_router cost 54 KB of the gzipped wasm).
#[derive(Debug, PartialEq)]
enum Page {
    Dashboard,
    Terminal { id: String, token: String },
    NotFound,
}

/// The server-rendered paths ([`Page`]), for the server's route table.
pub const PAGE_PATHS: [&str; 2] = ["/", "/terminal/{id}"];

impl Page {
    /// Exactly the paths of [`PAGE_PATHS`]: anything else (`//`, a trailing slash) is not a page
    /// the server routes with the engine, so it must not render as one.
    fn from_location(path: &str, query: &str) -> Page {
        if path == "/" {
            return Page::Dashboard;
        }
        match path.strip_prefix("/terminal/") {
            Some(id) if !id.is_empty() && !id.contains('/') => Page::Terminal {
                id: id.to_string(),
                token: terminal::token_param(query).unwrap_or_default().to_string(),
            },
            _ => Page::NotFound,
        }
    }

    /// On the server, the request being rendered; in the browser, the window's location.
    fn current() -> Page {
        #[cfg(feature = "ssr")]
        let (path, query) = use_context::<http::request::Parts>()
            .map(|parts| {
                let query = parts.uri.query().unwrap_or_default().to_string();
                (parts.uri.path().to_string(), query)
            })
            .unwrap_or_default();
        #[cfg(not(feature = "ssr"))]
        let (path, query) = {
            let location = window().location();
            let search = location.search().unwrap_or_default();
            let query = search.trim_start_matches('?').to_string();
            (location.pathname().unwrap_or_default(), query)
        };
        Page::from_location(&path, &query)
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
    let lang = i18n::use_lang();

    view! {
        <div class="page" data-hydrated=move || hydrated.get().to_string()>
            <header class="top">
                <div class="title-row">
                    <h1>"codex-governance" <span class="subtitle">" 中书省 · 门下省 · 尚书省"</span></h1>
                    <LangToggle/>
                </div>
                <p class="muted">{lang.tr(
                    "A governed team of coding-agent sessions on one Git repository.",
                    "在一个 Git 仓库上协同工作、受治理的编码智能体会话团队。",
                )}</p>
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
                    <ReviewPanel/>
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
fn TerminalPage(id: String, token: String) -> impl IntoView {
    let title = i18n::use_lang().tr("Terminal", "终端");
    view! {
        <Title text=format!("{title} {id} — codex-governance")/>
        <div class="terminal-page">
            <terminal::TerminalView id=id token=token/>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn pages_are_chosen_by_path() {
        assert_eq!(Page::from_location("/", "x=1"), Page::Dashboard);
        assert_eq!(Page::from_location("//", ""), Page::NotFound);
        assert_eq!(
            Page::from_location("/terminal/term-1", "a=b&token=abc"),
            Page::Terminal {
                id: "term-1".into(),
                token: "abc".into()
            }
        );
        assert_eq!(Page::from_location("/terminal/term-1/", ""), Page::NotFound);
        assert_eq!(Page::from_location("/terminal/", ""), Page::NotFound);
        assert_eq!(Page::from_location("/terminal/a/b", ""), Page::NotFound);
        assert_eq!(Page::from_location("/elsewhere", ""), Page::NotFound);
    }
}

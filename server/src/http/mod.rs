//! HTTP surface: the Leptos app (SSR pages and `/api` server functions), static assets, and the
//! security guard in front of all of it.

mod assets;
mod events;
mod failure;
mod openapi;
mod security;
mod serve;
mod site;
mod status;
mod terminal;

use std::sync::Arc;

use app::api::EngineHandle;

use crate::engine::Engine;
use app::shell;
use axum::extract::Request;
use axum::routing::{any, get, MethodRouter};
use axum::Router;
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes};

pub use site::Site;

use failure::failure;
pub use security::SecurityPolicy;
pub use serve::serve;

/// Builds the whole router; `site` is where the dashboard's wasm, JS and CSS come from.
pub fn router(engine: Engine, policy: SecurityPolicy, site: &Site) -> Router {
    let options = LeptosOptions::builder()
        .output_name("codex-governance")
        .site_root(site.disk_root())
        .site_pkg_dir("pkg")
        .build();
    let routes = app::PAGE_PATHS
        .iter()
        .map(|path| {
            AxumRouteListing::new(
                path.to_string(),
                Default::default(),
                [leptos_router::Method::Get],
                vec![],
            )
        })
        .collect();
    let handle = EngineHandle(Arc::new(engine.clone()));
    let provide_engine = move || provide_context(handle.clone());
    let live: Router = live_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            router.route(path, route)
        })
        .with_state(engine.clone());

    let mut app = Router::new()
        .leptos_routes_with_context(&options, routes, provide_engine, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .route("/api/{*rest}", any(unknown_api_route))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .merge(live);
    if *site == Site::Embedded {
        app = app.layer(axum::middleware::from_fn(site::serve_embedded));
    }
    app.layer(axum::middleware::from_fn_with_state(
        engine.clone(),
        terminal::page_guard,
    ))
    .layer(axum::middleware::from_fn_with_state(
        engine,
        status::cached_status,
    ))
    .layer(axum::middleware::from_fn_with_state(
        Arc::new(policy),
        security::guard,
    ))
}

/// The routes besides the pages and the server functions (which the server function registry
/// lists); the OpenAPI document must describe each one under `/api/` (tested in `openapi.rs`).
fn live_routes() -> Vec<(&'static str, MethodRouter<Engine>)> {
    vec![
        (terminal::SOCKET_PATH, get(terminal::upgrade)),
        (app::api::openapi::EVENTS_PATH, get(events::stream)),
        (app::api::openapi::OPENAPI_PATH, get(openapi::document)),
    ]
}

async fn unknown_api_route(request: Request) -> axum::response::Response {
    failure(
        StatusCode::NOT_FOUND,
        format!(
            "unknown API route: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

//! The documented JSON API: payload types and the server functions mounted at `/api/...`.

mod dto;
#[cfg(feature = "ssr")]
mod engine;
mod error;

pub use dto::*;
#[cfg(feature = "ssr")]
pub use engine::{engine, EngineApi, EngineHandle};
pub use error::{ApiError, ApiResult};

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

/// `GET /api/status`: launcher state, sessions, queue, API version, models, limits.
#[server(prefix = "/api", endpoint = "status", input = GetUrl)]
pub async fn get_status() -> Result<StatusPayload, ApiError> {
    engine()?.0.status()
}

/// `GET /api/sessions`: same payload as `/api/status` (kept for the reference's clients).
#[server(prefix = "/api", endpoint = "sessions", input = GetUrl)]
pub async fn get_sessions() -> Result<StatusPayload, ApiError> {
    engine()?.0.status()
}

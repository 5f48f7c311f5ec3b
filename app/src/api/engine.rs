//! The seam between the API contract (this crate) and the engine (the `server` crate).
//! Server functions reach the engine through an [`EngineHandle`] provided as Leptos context.

use std::sync::Arc;

use super::{ApiError, ApiResult, StatusPayload};

/// Everything the API routes ask of the launcher engine.
pub trait EngineApi: Send + Sync + 'static {
    /// `GET /api/status`.
    fn status(&self) -> ApiResult<StatusPayload>;
}

/// Shared handle to the engine, cheap to clone into every request's context.
#[derive(Clone)]
pub struct EngineHandle(pub Arc<dyn EngineApi>);

/// The engine of the current request, or a 500 when the server was wired without one.
pub fn engine() -> ApiResult<EngineHandle> {
    leptos::prelude::use_context::<EngineHandle>()
        .ok_or_else(|| ApiError::internal("launcher engine is not available"))
}

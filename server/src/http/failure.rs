//! Failure responses outside server functions, in the same `{"ok": false, "error": ...}` shape.

use app::api::ApiError;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;

pub fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ApiError::new(status.as_u16(), message))).into_response()
}

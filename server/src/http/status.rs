//! `GET /api/status` (and `/api/sessions`) from the engine's maintained view: bytes that are
//! rebuilt only when something they show changed, with an `ETag` so pollers (the original
//! dashboard polls) get `304 Not Modified` while nothing did.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use crate::engine::Engine;

pub async fn cached_status(State(engine): State<Engine>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() != Method::GET || (path != "/api/status" && path != "/api/sessions") {
        return next.run(request).await;
    }
    let known = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match tokio::task::spawn_blocking(move || engine.status_body()).await {
        Ok(body) => body,
        Err(_) => return next.run(request).await,
    };
    let etag = HeaderValue::from_str(&body.etag).ok();
    let unchanged = known.is_some_and(|k| k.split(',').any(|tag| tag.trim() == &*body.etag));
    let mut response = if unchanged {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::from(body.json.to_vec()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    };
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

//! `GET /api/status` (and `/api/sessions`, `/api/zhongshu_sessions`) from the engine's maintained view: bytes that are
//! rebuilt only when something they show changed, with an `ETag` so pollers (the original
//! dashboard polls) get `304 Not Modified` while nothing did.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use crate::engine::{Engine, View};

pub async fn cached_status(State(engine): State<Engine>, request: Request, next: Next) -> Response {
    let view = View::of_path(request.uri().path());
    let Some(view) = view.filter(|_| request.method() == Method::GET) else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let known = text(header::IF_NONE_MATCH);
    let gzip = text(header::ACCEPT_ENCODING).is_some_and(|accepted| {
        accepted
            .split(',')
            .any(|coding| coding.split(';').next().unwrap_or("").trim() == "gzip")
    });
    // A current body is served on the reactor; a rebuild (which locks the engine state) is not.
    let body = match engine.view_body_if_current(view) {
        Some(body) => body,
        None => match tokio::task::spawn_blocking(move || engine.view_body(view)).await {
            Ok(body) => body,
            Err(_) => return next.run(request).await,
        },
    };
    let (bytes, tag) = if gzip {
        (body.gzip, body.gzip_etag)
    } else {
        (body.json, body.etag)
    };
    let etag = HeaderValue::from_str(&tag).ok();
    let unchanged = known.is_some_and(|k| k.split(',').any(|t| t.trim() == &*tag));
    let mut response = if unchanged {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        // The bytes are shared with the cache: no copy per request.
        let mut response = Response::new(Body::from(bytes));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if gzip {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

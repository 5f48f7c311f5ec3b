//! Request guard for every route (SPEC §Security): Host allow-list against DNS rebinding,
//! Origin check on state-changing requests and WebSocket upgrades, JSON-only bodies with a size
//! limit, the bearer token for non-loopback binds, and CORS only for configured origins.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};

use super::failure::failure;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    /// Lower-case `host:port` values accepted in the Host header.
    allowed_hosts: Vec<String>,
    /// Exact browser origins (`scheme://host:port`) allowed besides our own.
    extra_origins: Vec<String>,
    /// Bearer token every request must carry (non-loopback binds only).
    api_token: Option<String>,
}

impl SecurityPolicy {
    pub fn new(
        port: u16,
        extra_hosts: &[String],
        extra_origins: &[String],
        api_token: Option<String>,
    ) -> Self {
        let mut allowed_hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        for host in extra_hosts {
            let host = host.to_ascii_lowercase();
            // A configured name without a port means "on our port".
            if host
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                && !host.ends_with(']')
            {
                allowed_hosts.push(host);
            } else {
                allowed_hosts.push(format!("{host}:{port}"));
            }
        }
        SecurityPolicy {
            allowed_hosts,
            extra_origins: extra_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            api_token,
        }
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(|host| {
                self.allowed_hosts
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(host))
            })
            .unwrap_or(false)
    }

    fn is_extra_origin(&self, origin: &str) -> bool {
        self.extra_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Same-origin (`http://` + an allowed host) or explicitly configured.
    fn origin_allowed(&self, origin: &str) -> bool {
        let same_origin = origin.strip_prefix("http://").is_some_and(|host| {
            self.allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
        });
        same_origin || self.is_extra_origin(origin)
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.api_token else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        bearer.is_some_and(|given| crate::ids::tokens_equal(given.as_bytes(), expected.as_bytes()))
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

pub async fn guard(
    State(policy): State<Arc<SecurityPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    // Refusals carry the same hardening headers as every other answer (no CORS).
    let refuse = |status, message: &str| decorate(&policy, None, false, failure(status, message));
    if !policy.host_allowed(headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden: Host header is not allowed",
        );
    }
    if !policy.token_ok(headers) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized: bearer token required",
        );
    }
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("").to_string());

    if request.method() == Method::OPTIONS {
        return preflight(&policy, origin.as_deref());
    }
    if changes_state(request.method()) || is_websocket_upgrade(headers) {
        if let Some(origin) = origin.as_deref() {
            if !policy.origin_allowed(origin) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "forbidden: cross-origin request refused",
                );
            }
        }
    }

    // A method no documented route has is a 405 with `Allow`, before any body is asked for.
    if let Some(allowed) = super::openapi::allowed_methods(request.uri().path()) {
        let method = request.method();
        let head_of_get = method == Method::HEAD && allowed.contains(&Method::GET);
        if !allowed.contains(method) && !head_of_get {
            let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            let allow = HeaderValue::from_str(&names.join(", ")).ok();
            return decorate(&policy, None, false, method_not_allowed(allow));
        }
    }
    let is_api = request.uri().path().starts_with("/api/");
    // Terminal pages may be framed by the listed origins (the original dashboard's iframes).
    let frameable = request.uri().path().starts_with("/terminal/");
    let request = if changes_state(request.method()) {
        match json_body(request).await {
            Ok(request) => request,
            Err(response) => return decorate(&policy, None, false, response),
        }
    } else {
        request
    };

    let mut response = next.run(request).await;
    if is_api && response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = method_not_allowed(allow);
    }
    decorate(&policy, origin.as_deref(), frameable, response)
}

/// 405 in the failure shape, saying in `Allow` which methods the route takes.
fn method_not_allowed(allow: Option<HeaderValue>) -> Response {
    let mut response = failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed for this route",
    );
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// Buffers a state-changing request's body: JSON only, at most [`BODY_LIMIT`] bytes, well-formed.
async fn json_body(request: Request) -> Result<Request, Response> {
    if !is_json(request.headers()) {
        return Err(failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request body must be application/json",
        ));
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Err(failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds {BODY_LIMIT} bytes"),
            ))
        }
        Err(err) => {
            return Err(failure(
                StatusCode::BAD_REQUEST,
                format!("could not read request body: {err}"),
            ))
        }
    };
    if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            format!("malformed JSON: {err}"),
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn preflight(policy: &SecurityPolicy, origin: Option<&str>) -> Response {
    match origin {
        Some(origin) if policy.is_extra_origin(origin) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type, authorization"),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            decorate(policy, Some(origin), false, response)
        }
        _ => decorate(
            policy,
            None,
            false,
            failure(
                StatusCode::FORBIDDEN,
                "forbidden: cross-origin request refused",
            ),
        ),
    }
}

/// Hardening headers on every response; CORS only for a configured origin, echoed exactly.
/// `frameable` responses may be framed by this server's pages and the listed origins
/// (`frame-ancestors`, since `X-Frame-Options` cannot name other origins); all others only by
/// this server's own pages.
fn decorate(
    policy: &SecurityPolicy,
    origin: Option<&str>,
    frameable: bool,
    mut response: Response,
) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if frameable {
        let ancestors = std::iter::once("'self'")
            .chain(policy.extra_origins.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        if let Ok(value) = HeaderValue::from_str(&format!("frame-ancestors {ancestors}")) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    } else {
        headers.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
    }
    // Terminal URLs carry tokens: never leak them through Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin.filter(|o| policy.is_extra_origin(o)) {
        if let Ok(value) = HeaderValue::from_str(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn hosts_must_name_loopback_on_our_port() {
        let policy = SecurityPolicy::new(6211, &["dash.internal".into()], &[], None);
        for ok in [
            "127.0.0.1:6211",
            "localhost:6211",
            "[::1]:6211",
            "LOCALHOST:6211",
            "dash.internal:6211",
        ] {
            assert!(policy.host_allowed(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "attacker.example:6211",
            "localhost.attacker.example:6211",
            "0.0.0.0:6211",
            "127.0.0.1:6212",
            "127.0.0.1",
        ] {
            assert!(!policy.host_allowed(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!policy.host_allowed(&HeaderMap::new()));
    }

    #[test]
    fn origins_are_same_origin_or_listed() {
        let policy = SecurityPolicy::new(6211, &[], &["https://tools.example".into()], None);
        assert!(policy.origin_allowed("http://127.0.0.1:6211"));
        assert!(policy.origin_allowed("https://tools.example"));
        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:6211.evil.example",
            "http://127.0.0.1:9999",
            "https://127.0.0.1:6211",
        ] {
            assert!(!policy.origin_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn bearer_token_is_required_when_configured() {
        let policy = SecurityPolicy::new(1, &[], &[], Some("s3cret".into()));
        assert!(policy.token_ok(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(!policy.token_ok(&headers(&[("authorization", "Bearer s3cre")])));
        assert!(!policy.token_ok(&HeaderMap::new()));
    }
}

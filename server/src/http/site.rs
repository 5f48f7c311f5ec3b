//! The dashboard's static files (wasm, JS, CSS, xterm.js, icons). A release binary built by
//! `cargo xtask build --release` carries them: served from memory with an `ETag`, as brotli or
//! gzip when the browser takes it (compressed at build time). Otherwise (development, or
//! `LEPTOS_SITE_ROOT`) they come from a directory on disk.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::Hasher;
use std::path::PathBuf;
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use super::assets::locate_site_root;

/// One file of the site, compiled into the binary (`build.rs` writes the list).
pub struct EmbeddedFile {
    /// The URL path, e.g. `/pkg/codex-governance.wasm`.
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/embedded_site.rs"));

/// Where the site comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    Embedded,
    Disk(PathBuf),
}

impl Site {
    /// `LEPTOS_SITE_ROOT` when set (development, cargo-leptos), else the embedded site, else a
    /// built site on disk beside the binary.
    pub fn locate() -> Result<Site, String> {
        let overridden = std::env::var_os("LEPTOS_SITE_ROOT").is_some_and(|v| !v.is_empty());
        if !overridden && !FILES.is_empty() {
            return Ok(Site::Embedded);
        }
        locate_site_root().map(Site::Disk)
    }

    /// The directory Leptos' file handler looks in: the site on disk, or (embedded) a path that
    /// can never be a directory, so that it only renders the not-found page.
    pub fn disk_root(&self) -> String {
        match self {
            Site::Disk(root) => root.display().to_string(),
            Site::Embedded => "/dev/null/no-site".into(),
        }
    }
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Site::Embedded => write!(f, "embedded ({} files)", FILES.len()),
            Site::Disk(root) => write!(f, "{}", root.display()),
        }
    }
}

/// The embedded files by URL path, each with its entity tag.
fn files() -> &'static HashMap<&'static str, (&'static EmbeddedFile, String)> {
    static FILES_BY_PATH: OnceLock<HashMap<&'static str, (&'static EmbeddedFile, String)>> =
        OnceLock::new();
    FILES_BY_PATH.get_or_init(|| {
        FILES
            .iter()
            .map(|file| {
                let mut hasher = DefaultHasher::new();
                hasher.write(file.bytes);
                (file.path, (file, format!("\"{:016x}\"", hasher.finish())))
            })
            .collect()
    })
}

/// Answers GET and HEAD requests for embedded files; everything else goes on.
pub async fn serve_embedded(request: Request, next: Next) -> Response {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return next.run(request).await;
    }
    let Some((file, etag)) = files().get(request.uri().path()) else {
        return next.run(request).await;
    };
    answer(file, etag, request.headers(), method == Method::HEAD)
}

fn answer(file: &EmbeddedFile, etag: &str, headers: &HeaderMap, head: bool) -> Response {
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let (status, encoding, bytes) = if unchanged {
        (StatusCode::NOT_MODIFIED, None, &[][..])
    } else {
        match (
            accepts(headers, "br"),
            file.brotli,
            accepts(headers, "gzip"),
            file.gzip,
        ) {
            (true, Some(brotli), _, _) => (StatusCode::OK, Some("br"), brotli),
            (_, _, true, Some(gzip)) => (StatusCode::OK, Some("gzip"), gzip),
            _ => (StatusCode::OK, None, file.bytes),
        }
    };
    let length = bytes.len();
    let mut response = Response::new(if head {
        Body::empty()
    } else {
        Body::from(bytes)
    });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, tag);
    }
    // The names carry no hash: a browser keeps the file and asks again with its tag (a 304).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if status == StatusCode::OK {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(file.path)),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
    }
    response
}

/// Whether `Accept-Encoding` takes this coding (and not with `q=0`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(coding))
                && !parts.any(|p| p.replace(' ', "").starts_with("q=0") && !p.contains("q=0."))
        })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "wasm" => "application/wasm",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(encoding).unwrap(),
        );
        headers
    }

    #[test]
    fn codings_are_taken_unless_refused_with_q_zero() {
        assert!(accepts(&with("gzip, deflate, br"), "br"));
        assert!(accepts(&with("gzip;q=0.5"), "gzip"));
        assert!(!accepts(&with("gzip;q=0, br"), "gzip"));
        assert!(accepts(&with("gzip;q=0.0001"), "gzip"));
        assert!(!accepts(&with("identity"), "gzip"));
    }

    static FILE: EmbeddedFile = EmbeddedFile {
        path: "/pkg/app.wasm",
        bytes: b"plain",
        gzip: Some(b"gz"),
        brotli: Some(b"br"),
    };

    #[test]
    fn answers_the_best_accepted_copy_and_304_for_a_known_tag() {
        let response = answer(&FILE, "\"t\"", &with("gzip, br"), false);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(response.headers()[header::ETAG], "\"t\"");
        let response = answer(&FILE, "\"t\"", &with("gzip"), false);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let response = answer(&FILE, "\"t\"", &HeaderMap::new(), false);
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "5");
        let mut known = with("br");
        known.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"t\""));
        assert_eq!(
            answer(&FILE, "\"t\"", &known, false).status(),
            StatusCode::NOT_MODIFIED
        );
    }
}

//! The status payloads (`/api/status`, `/api/zhongshu_sessions`) as maintained views: serialised once and served as bytes until something
//! it shows changes. It changes when the state is locked for a change (the generation), when a
//! running session prints (its preview and activity), and every second (idle times). A request
//! in between costs a copy of bytes, however many sessions are recorded.

use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::Engine;
use crate::sync::LockOrRecover;

/// The serialised status payload, also gzip-compressed once per rebuild (browsers accept it,
/// and with a hundred sessions the payload is ~350 KB), and the entity tag of each.
#[derive(Debug, Clone)]
pub struct StatusBody {
    pub json: bytes::Bytes,
    /// A strong `ETag` of the content (quoted).
    pub etag: Arc<str>,
    pub gzip: bytes::Bytes,
    pub gzip_etag: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    generation: u64,
    second: i64,
    /// Bytes printed by every terminal so far (running sessions' previews and last activity
    /// follow it).
    printed: u64,
}

/// A view of the engine state served as maintained bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `GET /api/status` and `GET /api/sessions`.
    Status,
    /// `GET /api/zhongshu_sessions`.
    ZhongshuSessions,
}

impl View {
    /// The view a `GET` of this path answers, if it is one.
    pub fn of_path(path: &str) -> Option<View> {
        match path {
            "/api/status" | "/api/sessions" => Some(View::Status),
            "/api/zhongshu_sessions" => Some(View::ZhongshuSessions),
            _ => None,
        }
    }
}

#[derive(Default)]
pub(super) struct StatusCache {
    status: ViewCache,
    zhongshu_sessions: ViewCache,
}

impl StatusCache {
    fn of(&self, view: View) -> &ViewCache {
        match view {
            View::Status => &self.status,
            View::ZhongshuSessions => &self.zhongshu_sessions,
        }
    }
}

#[derive(Default)]
struct ViewCache {
    current: Mutex<Option<Cached>>,
    /// Held by the one request that rebuilds; the others wait for it or, when only the clock
    /// or terminal output moved, serve the body before.
    rebuilding: Mutex<()>,
}

struct Cached {
    key: Key,
    body: StatusBody,
}

impl Engine {
    fn status_key(&self) -> Key {
        Key {
            generation: self.shared.generation.load(Ordering::SeqCst),
            second: chrono::Utc::now().timestamp(),
            printed: crate::pty::bytes_printed(),
        }
    }

    /// The maintained body when it is current, without touching the engine state: reading it
    /// costs two atomics, the clock and a copy of two pointers. `None`: a rebuild is due
    /// (call [`Engine::status_body`], which may block).
    pub fn view_body_if_current(&self, view: View) -> Option<StatusBody> {
        let key = self.status_key();
        let cache = self.shared.status_cache.of(view);
        let current = cache.current.lock_or_recover();
        let cached = current.as_ref()?;
        if cached.key == key {
            return Some(cached.body.clone());
        }
        // Only idle times or previews moved, and someone is already rebuilding: the body of a
        // moment ago is as good. A state change (the generation) always waits for the rebuild,
        // so a client reads its own writes.
        let rebuilding = matches!(
            cache.rebuilding.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        );
        (rebuilding && cached.key.generation == key.generation).then(|| cached.body.clone())
    }

    /// The view as bytes, rebuilt only when what it shows has changed.
    pub fn view_body(&self, view: View) -> StatusBody {
        if let Some(body) = self.view_body_if_current(view) {
            return body;
        }
        let cache = self.shared.status_cache.of(view);
        let _rebuilding = cache.rebuilding.lock_or_recover();
        // The key is read before the state: a change that lands after it makes the next key
        // differ, so a body is never kept for longer than what it shows.
        let key = self.status_key();
        if let Some(cached) = cache.current.lock_or_recover().as_ref() {
            if cached.key == key {
                return cached.body.clone();
            }
        }
        let json = {
            let state = self.lock_to_read();
            match view {
                View::Status => serde_json::to_vec(&self.status_of(&state)),
                View::ZhongshuSessions => serde_json::to_vec(&self.zhongshu_sessions_of(&state)),
            }
        }
        .unwrap_or_default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        json.hash(&mut hasher);
        let tag = format!("{:016x}-{}", hasher.finish(), json.len());
        let body = StatusBody {
            etag: format!("\"{tag}\"").into(),
            gzip_etag: format!("\"{tag}-gz\"").into(),
            gzip: gzip(&json).into(),
            json: json.into(),
        };
        *cache.current.lock_or_recover() = Some(Cached {
            key,
            body: body.clone(),
        });
        body
    }
}

/// Fast gzip: the payload is rebuilt about once a second at most, and compresses ~10 to 1.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

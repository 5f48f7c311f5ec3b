//! The status payload as a maintained view: serialised once and served as bytes until something
//! it shows changes. It changes when the state is locked for a change (the generation), when a
//! running session prints (its preview and activity), and every second (idle times). A request
//! in between costs a copy of bytes, however many sessions are recorded.

use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Engine;
use crate::sync::LockOrRecover;

/// The serialised status payload and its entity tag.
#[derive(Debug, Clone)]
pub struct StatusBody {
    pub json: Arc<[u8]>,
    /// A strong `ETag` of the content (quoted).
    pub etag: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    generation: u64,
    second: i64,
    /// The running sessions' output so far (their previews and last activity follow it).
    output: u64,
}

pub(super) struct Cached {
    key: Key,
    body: StatusBody,
}

impl Engine {
    /// `GET /api/status` as bytes, rebuilt only when what it shows has changed.
    pub fn status_body(&self) -> StatusBody {
        let state = self.lock_to_read();
        let key = Key {
            generation: self.shared.generation.load(Ordering::SeqCst),
            second: chrono::Utc::now().timestamp(),
            output: state
                .processes
                .values()
                .map(|p| p.output().end())
                .fold(0u64, u64::wrapping_add),
        };
        let mut cache = self.shared.status_cache.lock_or_recover();
        if let Some(cached) = cache.as_ref().filter(|c| c.key == key) {
            return cached.body.clone();
        }
        let payload = self.status_of(&state);
        drop(state);
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        json.hash(&mut hasher);
        let body = StatusBody {
            etag: format!("\"{:016x}-{}\"", hasher.finish(), json.len()).into(),
            json: json.into(),
        };
        *cache = Some(Cached {
            key,
            body: body.clone(),
        });
        body
    }
}

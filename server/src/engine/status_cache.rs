//! The status payload as a maintained view: serialised once and served as bytes until something
//! it shows changes. It changes when the state is locked for a change (the generation), when a
//! running session prints (its preview and activity), and every second (idle times). A request
//! in between costs a copy of bytes, however many sessions are recorded.

use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

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
        let tag = format!("{:016x}-{}", hasher.finish(), json.len());
        let body = StatusBody {
            etag: format!("\"{tag}\"").into(),
            gzip_etag: format!("\"{tag}-gz\"").into(),
            gzip: gzip(&json).into(),
            json: json.into(),
        };
        *cache = Some(Cached {
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

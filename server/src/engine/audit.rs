//! The JSON Lines audit log: one object per line, keys sorted, each line one `write` so a crash
//! never leaves a torn line behind (a torn tail from an older crash is cut at start-up).

use crate::sync::LockOrRecover;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Result;
use serde_json::{Map, Value};

pub struct Audit {
    file: Mutex<File>,
}

impl Audit {
    pub fn open(path: &Path) -> Result<Audit> {
        repair_torn_tail(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Audit {
            file: Mutex::new(file),
        })
    }

    /// Appends `{"ts", "event", ...fields}`. Failures are logged, never fatal to the caller.
    pub fn record(&self, event: &str, fields: Value) {
        // serde_json's Map is ordered by key, which gives the sorted keys of the contract.
        let mut line = match fields {
            Value::Object(map) => map,
            other => Map::from_iter([("value".to_string(), other)]),
        };
        line.insert("ts".into(), Value::String(super::text::now_text()));
        line.insert("event".into(), Value::String(event.into()));
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let mut file = self.file.lock_or_recover();
        if let Err(err) = file.write_all(text.as_bytes()) {
            tracing::error!(%err, event, "audit append failed");
        }
    }
}

/// Cuts a partial last line (no trailing newline) left by a crash mid-write.
fn repair_torn_tail(path: &Path) -> Result<()> {
    let Ok(mut file) = OpenOptions::new().read(true).write(true).open(path) else {
        return Ok(());
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let window = len.min(1 << 20);
    file.seek(SeekFrom::Start(len - window))?;
    let mut tail = Vec::with_capacity(window as usize);
    file.read_to_end(&mut tail)?;
    if tail.last() == Some(&b'\n') {
        return Ok(());
    }
    let keep = match tail.iter().rposition(|b| *b == b'\n') {
        Some(i) => len - window + i as u64 + 1,
        None if window == len => 0,
        None => return Ok(()),
    };
    tracing::warn!(
        cut = len - keep,
        "audit log ended in a torn line; cutting it"
    );
    file.set_len(keep)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_sorted_keys_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let audit = Audit::open(&path).unwrap();
        audit.record(
            "session_started",
            serde_json::json!({"session_id": "z-1", "model": "m"}),
        );
        drop(audit);
        let text = std::fs::read_to_string(&path).unwrap();
        let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(text.trim())
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["event", "model", "session_id", "ts"]);
        assert!(text.find("\"event\"").unwrap() < text.find("\"ts\"").unwrap());

        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"torn")
            .unwrap();
        Audit::open(&path)
            .unwrap()
            .record("x", serde_json::json!({}));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        for line in text.lines() {
            serde_json::from_str::<Value>(line).unwrap();
        }
    }
}

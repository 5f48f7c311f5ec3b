//! Identifiers and secrets: session and terminal ids (which reach file paths, so they are
//! validated), random tokens, and comparing tokens in constant time. A leaf: used by the engine,
//! the report, the HTTP layer and `main`; uses none of them.

use std::sync::atomic::{AtomicI64, Ordering};

use subtle::ConstantTimeEq;

/// Nanoseconds since the Unix epoch.
pub fn unix_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

/// `<prefix>-<unix nanos>`, strictly increasing within this process so ids never collide.
pub fn new_id(prefix: &str) -> String {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let mut now = unix_nanos();
    loop {
        let last = LAST.load(Ordering::SeqCst);
        if now <= last {
            now = last + 1;
        }
        if LAST
            .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return format!("{prefix}-{now}");
        }
    }
}

/// Ids that reach file paths: `^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$` (SPEC §Security).
pub fn is_valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// 128 random bits from the operating system, hex encoded (terminal and API tokens).
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares secrets without leaking through timing where they differ.
pub fn tokens_equal(given: &[u8], expected: &[u8]) -> bool {
    given.ct_eq(expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_validated() {
        let a = new_id("zhongshu");
        let b = new_id("zhongshu");
        assert_ne!(a, b);
        assert!(is_valid_id(&a));
        for bad in [
            "",
            "../x",
            "a/b",
            "a\\b",
            "%2e%2e",
            "a\0b",
            "-lead",
            &"a".repeat(129),
            "a.b",
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert!(is_valid_id(&"a".repeat(128)));
    }

    #[test]
    fn tokens_are_random_hex_and_compared_exactly() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(tokens_equal(a.as_bytes(), a.clone().as_bytes()));
        assert!(!tokens_equal(a.as_bytes(), b.as_bytes()));
        assert!(!tokens_equal(a.as_bytes(), &a.as_bytes()[1..]));
    }
}

//! One lock policy for the whole server: a panic while a lock was held must not take every later
//! user of that lock down with it (a panicking PTY reader would otherwise make every viewer
//! panic). The data behind these locks stays consistent across a panic (rings, files, caches
//! and the engine state, whose changes are committed to SQLite before they count).

use std::sync::{Mutex, MutexGuard, PoisonError};

pub trait LockOrRecover<T> {
    /// Locks, recovering the guard from a poisoned lock.
    fn lock_or_recover(&self) -> MutexGuard<'_, T>;
}

impl<T> LockOrRecover<T> for Mutex<T> {
    fn lock_or_recover(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_locks() {
        let lock = std::sync::Arc::new(Mutex::new(1));
        let clone = lock.clone();
        let _ = std::thread::spawn(move || {
            let _guard = clone.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(lock.is_poisoned());
        *lock.lock_or_recover() += 1;
        assert_eq!(*lock.lock_or_recover(), 2);
    }
}

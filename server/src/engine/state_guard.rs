//! The engine state's lock guard that tells maintained views when the state changed: the first
//! mutable access through it bumps the generation, so a lock taken only to read (a mailbox scan
//! that finds nothing, a heartbeat tick) leaves the views valid.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::MutexGuard;

/// Guards the engine's `State` (generic only so it can be tested on its own).
pub(super) struct StateGuard<'a, T> {
    state: MutexGuard<'a, T>,
    generation: &'a AtomicU64,
    changed: bool,
}

impl<'a, T> StateGuard<'a, T> {
    pub(super) fn new(state: MutexGuard<'a, T>, generation: &'a AtomicU64) -> Self {
        StateGuard {
            state,
            generation,
            changed: false,
        }
    }
}

impl<T> Deref for StateGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.state
    }
}

impl<T> DerefMut for StateGuard<'_, T> {
    /// Bumps the generation before the first change is made: a view rebuilt from here on waits
    /// for this lock, and one keyed before it is rebuilt on its next read.
    fn deref_mut(&mut self) -> &mut T {
        if !self.changed {
            self.changed = true;
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        &mut self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn only_a_mutable_access_moves_the_generation() {
        let state = Mutex::new(vec![1, 2, 3]);
        let generation = AtomicU64::new(7);
        {
            let guard = StateGuard::new(state.lock().unwrap(), &generation);
            assert_eq!(guard.len(), 3);
        }
        assert_eq!(generation.load(Ordering::SeqCst), 7);
        {
            let mut guard = StateGuard::new(state.lock().unwrap(), &generation);
            guard.push(4);
            guard.retain(|n| n % 2 == 0);
        }
        assert_eq!(generation.load(Ordering::SeqCst), 8);
    }
}

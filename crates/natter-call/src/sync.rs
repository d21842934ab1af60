//! Locks that outlive a panic. State shared between a participant's engine task and the rest of
//! the app (reports, the window's stats) must stay readable if that task panics while holding a
//! lock: one participant's crash must not take every caller of `snapshot` down with it. Every
//! update to such state is a plain field write, so the data behind a poisoned lock is still
//! consistent.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// `lock()` that ignores poisoning (see the module doc).
pub trait Locked<T> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

//! The session's own read queue: payments an API read must confirm or refresh soonest
//! ("check now", an expiry, a resync, a push that could not be recorded), and the
//! payments whose countdown already ran out. The read loop drains it; everything else in
//! the session fills it.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub(crate) struct ReadQueue {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    ids: Mutex<BTreeSet<String>>,
    expired: Mutex<HashSet<String>>,
    /// Holds one permit when a request arrives while nobody waits.
    notify: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ReadQueue {
    /// Asks for an API read of `id` as soon as the read policy allows.
    pub fn request(&self, id: &str) {
        lock(&self.inner.ids).insert(id.to_owned());
        self.inner.notify.notify_one();
    }

    /// Everything asked for since the last call.
    pub fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *lock(&self.inner.ids))
    }

    /// Resolves when something was requested (perhaps before this call).
    pub async fn requested(&self) {
        self.inner.notify.notified().await;
    }

    /// Marks `id`'s countdown as run out. True only the first time.
    pub fn mark_expired(&self, id: &str) -> bool {
        lock(&self.inner.expired).insert(id.to_owned())
    }

    pub fn is_expired(&self, id: &str) -> bool {
        lock(&self.inner.expired).contains(id)
    }

    /// Forgets payments that are no longer followed.
    pub fn retain(&self, followed: &[String]) {
        lock(&self.inner.expired).retain(|id| followed.contains(id));
    }
}

//! The journal's own thread: async code never waits on an fsync.
//!
//! Every call from the till's async code (the tracker's writes, the terminal's intents and
//! requests, History) is queued to one thread that owns the [`Journal`] and answered
//! through a oneshot channel. The queue is bounded, so a disk that stalls slows callers
//! down instead of piling up memory; the thread ends when the last handle is dropped,
//! after finishing what was queued.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Journal, JournalError, Result};

/// How many calls may wait for the journal's thread.
const QUEUE: usize = 256;

type Job = Box<dyn FnOnce(&Journal) + Send>;

/// A cheap, clonable way to the journal from async code.
#[derive(Clone)]
pub struct JournalHandle {
    tx: mpsc::Sender<Job>,
    journal: Arc<Journal>,
}

impl std::fmt::Debug for JournalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalHandle")
            .field("journal", &self.journal)
            .finish()
    }
}

impl JournalHandle {
    /// Starts the journal's thread.
    pub fn spawn(journal: Arc<Journal>) -> Result<JournalHandle> {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let owned = journal.clone();
        std::thread::Builder::new()
            .name("paydesk-journal".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(&owned);
                }
            })
            .map_err(JournalError::Write)?;
        Ok(JournalHandle { tx, journal })
    }

    /// Runs `f` on the journal's thread and returns its answer.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Journal) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |j| {
            let _ = reply.send(f(j));
        });
        self.tx.send(job).await.map_err(|_| JournalError::Stopped)?;
        answer.await.map_err(|_| JournalError::Stopped)?
    }

    /// The journal itself, for code that already runs off the async threads.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }
}

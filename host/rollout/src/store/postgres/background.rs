//! Tasks that must finish before the process exits: the event writer and
//! the lease heartbeat. A [`Finishing`] spawns one, and its owner's `Drop`
//! waits a little for it ([`FLUSH_LIMIT`]) after telling it to stop.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use super::super::StoreError;

/// The longest a drop waits for its task: events still queued after it are
/// lost (they are informational; the audit log is the record).
pub const FLUSH_LIMIT: Duration = Duration::from_secs(3);

/// A spawned task and the signal that it has ended.
pub struct Finishing {
    done: std::sync::Mutex<mpsc::Receiver<()>>,
}

impl Finishing {
    /// Spawns `task` on the current runtime.
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Result<Finishing, StoreError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::Io(format!("no async runtime for a background task: {e}")))?;
        let (tx, done) = mpsc::channel();
        runtime.spawn(async move {
            task.await;
            let _ = tx.send(());
        });
        Ok(Finishing {
            done: std::sync::Mutex::new(done),
        })
    }

    /// Waits up to [`FLUSH_LIMIT`] for the task to end, letting the
    /// runtime's other workers run it meanwhile.
    pub fn wait(&self) {
        let wait = || {
            if let Ok(done) = self.done.lock() {
                let _ = done.recv_timeout(FLUSH_LIMIT);
            }
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            // A single-threaded runtime could not run the task while this
            // thread waits: do not wait for it.
            Ok(_) => {}
            Err(_) => wait(),
        }
    }
}

//! Durability and announcement: a write is on disk (with a state directory) before it is
//! acknowledged, and its events reach the broadcast in resourceVersion order.

use super::{EventType, Inner, Store, StoreEvent};
use std::collections::VecDeque;
use std::sync::{Arc, MutexGuard};

/// Events leave in resourceVersion order, each once it is durable. Writers commit under
/// the store's lock but make their writes durable (and announce them) after releasing
/// it; without this queue two writers could announce out of order, and a watch, which
/// skips events older than the last one it sent, would lose the later-announced one.
#[derive(Default)]
pub(super) struct Outbox {
    queue: VecDeque<Arc<StoreEvent>>,
    /// Every event up to this resourceVersion is durable.
    durable_upto: u64,
}

/// A write that cannot be made durable must not be acknowledged: stop the process.
fn fatal(log: &crate::persist::Log, e: &std::io::Error) -> ! {
    eprintln!(
        "kube-sandbox: cannot write the state log in {}: {e}; stopping",
        log.dir().display()
    );
    std::process::abort()
}

impl Store {
    /// Appends the pending events to the state log, releases the lock, waits until they
    /// are durable, then announces every event that is.
    pub(super) fn flush(&self, mut inner: MutexGuard<'_, Inner>) {
        let pending = std::mem::take(&mut inner.pending);
        let mut sync_to = None;
        if let Some(log) = &self.log
            && !pending.is_empty()
        {
            // Appended under the store lock, so the log is in resourceVersion order.
            let records = pending.iter().map(|ev| {
                let t = if ev.event_type == EventType::Deleted {
                    "del"
                } else {
                    "put"
                };
                (t, ev.rv, ev.storage_key.as_str(), &*ev.object)
            });
            match log.append(records) {
                Ok(rv) => sync_to = Some(rv),
                Err(e) => fatal(log, &e),
            }
            if log.needs_compaction() {
                let objects = inner
                    .objects
                    .iter()
                    .flat_map(|(k, m)| m.values().map(move |o| (k.as_str(), &**o)));
                if let Err(e) = log.compact(inner.rv, objects) {
                    fatal(log, &e);
                }
            }
        }
        // Queued while the store is locked, so the queue is in resourceVersion order.
        let last_rv = pending.last().map(|e| e.rv);
        self.outbox().queue.extend(pending);
        drop(inner);
        // The write is acknowledged only once it is on disk; concurrent writers share syncs.
        if let (Some(log), Some(rv)) = (&self.log, sync_to)
            && let Err(e) = log.sync(rv)
        {
            fatal(log, &e);
        }
        // A sync up to `rv` also made every earlier write durable, other writers' too.
        let durable = if self.log.is_some() { sync_to } else { last_rv };
        let mut outbox = self.outbox();
        if let Some(rv) = durable {
            outbox.durable_upto = outbox.durable_upto.max(rv);
        }
        let durable_upto = outbox.durable_upto;
        while outbox.queue.front().is_some_and(|ev| ev.rv <= durable_upto) {
            if let Some(ev) = outbox.queue.pop_front() {
                let _ = self.tx.send(ev);
            }
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }
}

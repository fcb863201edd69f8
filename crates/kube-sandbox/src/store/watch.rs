//! The start of a watch: the current objects, or the events after a resourceVersion.

use super::{Store, WatchStart, with_version_arc};
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::util::str_at;

impl Store {
    /// Starts a watch of `rt`: from `from_rv` (events after it) or, when `None`, with the
    /// current objects as initial state.
    pub fn watch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        from_rv: Option<u64>,
    ) -> Result<WatchStart, ApiError> {
        let inner = self.lock();
        let receiver = self.tx.subscribe();
        let key = rt.storage_key();
        match from_rv {
            Some(rv) => {
                if rv < inner.compacted {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        inner.compacted + 1
                    )));
                }
                let backlog = inner
                    .history
                    .iter()
                    .filter(|e| e.rv > rv && e.storage_key == key)
                    .filter(|e| ns.is_none_or(|n| str_at(&e.object, "metadata.namespace") == n))
                    .cloned()
                    .collect();
                Ok(WatchStart {
                    initial: vec![],
                    backlog,
                    rv: inner.rv.max(rv),
                    receiver,
                })
            }
            None => {
                let initial = inner
                    .objects
                    .get(&key)
                    .into_iter()
                    .flat_map(|m| m.iter())
                    .filter(|((ons, _), _)| ns.is_none_or(|n| n == ons))
                    .map(|(_, o)| with_version_arc(o, rt))
                    .collect();
                Ok(WatchStart {
                    initial,
                    backlog: vec![],
                    rv: inner.rv,
                    receiver,
                })
            }
        }
    }
}

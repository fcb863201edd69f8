//! Lists: pages, `continue` tokens, and the objects as they were at a past
//! resourceVersion, rebuilt from the event history.

use super::{ListOpts, ListPage, ObjKey, Store, StoreEvent, with_version_arc};
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::util::str_at;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The message of a `continue` token whose snapshot has left the history.
const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// The answer to a read at a resourceVersion the store has not reached.
pub fn too_large_resource_version(asked: u64, current: u64) -> ApiError {
    let mut e = ApiError::new(
        504,
        "Timeout",
        format!("Too large resource version: {asked}, current: {current}"),
    );
    e.details = Some(json!({
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }));
    e
}

/// A `continue` token: the resourceVersion of the list's snapshot (0 once it expired:
/// continue with the current objects) and the last key returned.
struct ContinueToken;

impl ContinueToken {
    fn encode(rv: u64, (ns, name): &ObjKey) -> String {
        hex(&format!("{rv}\u{0}{ns}\u{0}{name}"))
    }

    fn decode(token: &str) -> Result<(u64, ObjKey), ApiError> {
        let bad = || ApiError::bad_request(format!("invalid continue token: {token:?}"));
        let decoded = unhex(token).ok_or_else(bad)?;
        let mut parts = decoded.splitn(3, '\u{0}');
        let rv = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
        let ns = parts.next().ok_or_else(bad)?.to_string();
        let name = parts.next().ok_or_else(bad)?.to_string();
        Ok((rv, (ns, name)))
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let chunks = s.as_bytes().chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> = chunks
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

impl Store {
    /// A page of the objects of `rt` as they are now, or as they were at
    /// `opts.resource_version` (or at the first page's resourceVersion, for a `continue`
    /// token): a paged list is a consistent snapshot, as etcd's revisions make it on a real
    /// server. The past is rebuilt from the event history; a state older than it is
    /// `410 Expired`.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOpts,
    ) -> Result<ListPage, ApiError> {
        let inner = self.lock();
        let mut at = opts.resource_version;
        let start: Option<ObjKey> = match &opts.continue_token {
            Some(t) if !t.is_empty() => {
                let (rv, key) = ContinueToken::decode(t)?;
                // A token of an expired list continues with the objects as they are now.
                at = (rv > 0).then_some(rv);
                Some(key)
            }
            _ => None,
        };
        let at = at.unwrap_or(inner.rv);
        if at > inner.rv {
            return Err(too_large_resource_version(at, inner.rv));
        }
        let key = rt.storage_key();
        let empty = BTreeMap::new();
        let map = inner.objects.get(&key).unwrap_or(&empty);
        // What changed since `at`: each object's state before its first change after it.
        let mut past: BTreeMap<&ObjKey, Option<&Arc<Value>>> = BTreeMap::new();
        let mut past_keys: Vec<ObjKey> = Vec::new();
        if at < inner.rv {
            if at < inner.compacted {
                return Err(match start {
                    Some(k) => {
                        let mut e = ApiError::gone(EXPIRED_CONTINUE);
                        e.list_continue = Some(ContinueToken::encode(0, &k));
                        e
                    }
                    None => ApiError::gone("The resourceVersion for the provided list is too old."),
                });
            }
            let changes: Vec<&Arc<StoreEvent>> = inner
                .history
                .iter()
                .rev()
                .take_while(|e| e.rv > at)
                .filter(|e| e.storage_key == key)
                .collect();
            for ev in changes.iter().rev() {
                past_keys.push((
                    str_at(&ev.object, "metadata.namespace").to_string(),
                    str_at(&ev.object, "metadata.name").to_string(),
                ));
            }
            // The oldest change of each object comes last, so it is the one kept.
            for (ev, k) in changes.iter().zip(past_keys.iter().rev()) {
                past.insert(k, ev.previous.as_ref());
            }
        }
        let in_scope = |(ons, oname): &ObjKey| {
            ns.is_none_or(|n| n == ons)
                && start
                    .as_ref()
                    .is_none_or(|(sns, sname)| (ons, oname) > (sns, sname))
        };
        let objects: Box<dyn Iterator<Item = (&ObjKey, &Arc<Value>)>> = if past.is_empty() {
            Box::new(map.iter())
        } else {
            let mut view: BTreeMap<&ObjKey, &Arc<Value>> = map.iter().collect();
            for (k, before) in past {
                match before {
                    Some(o) => view.insert(k, o),
                    None => view.remove(k),
                };
            }
            Box::new(view.into_iter())
        };
        let mut matched = objects
            .filter(|(k, _)| in_scope(k))
            .map(|(_, o)| o)
            .filter(|o| opts.labels.matches(o) && opts.fields.matches(o));
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = None;
        for o in matched.by_ref() {
            items.push(with_version_arc(o, rt));
            if opts.limit.is_some_and(|l| items.len() >= l) {
                break;
            }
        }
        if opts.limit.is_some() {
            let left = matched.count() as u64;
            if left > 0 {
                let last = items.last().expect("limit > 0");
                let last = (
                    str_at(last, "metadata.namespace").to_string(),
                    str_at(last, "metadata.name").to_string(),
                );
                continue_token = Some(ContinueToken::encode(at, &last));
                remaining = Some(left);
            }
        }
        Ok(ListPage {
            items,
            resource_version: at,
            continue_token,
            remaining,
        })
    }
}

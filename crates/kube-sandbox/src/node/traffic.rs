//! How simulated apps answer HTTP requests: the request part of each pod's behaviour
//! (`errors=`, `latency=`) and the deterministic sequence that decides which requests fail.
//!
//! A pod's behaviour string comes from its `dev.slipway.sandbox/behavior` annotation, else
//! from its image's label of the same name (recorded here by the kubelet once the image is
//! resolved, keyed by pod UID, which is unique across sandboxes in one process).
//!
//! Errors are not random: the `n`-th request (counted from 0) a pod answers on one stream
//! fails when `floor((n + 1) × errors) > floor(n × errors)`, so after `N` requests exactly
//! `floor(N × errors)` have failed. The service proxy and the simulated ingress traffic
//! count on separate streams, so neither disturbs the other's share.

use super::behavior::{BEHAVIOR_KEY, Traffic};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Which sequence of requests a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Requests through the API server's service proxy.
    Proxy,
    /// The simulated ingress controller's traffic.
    Ingress,
}

#[derive(Default)]
struct Book {
    /// The image label's behaviour string per pod UID.
    labels: HashMap<String, String>,
    /// Requests answered so far per pod UID and stream.
    counts: HashMap<(String, Stream), u64>,
}

fn with<T>(f: impl FnOnce(&mut Book) -> T) -> T {
    static BOOK: OnceLock<Mutex<Book>> = OnceLock::new();
    let book = BOOK.get_or_init(|| Mutex::new(Book::default()));
    f(&mut book.lock().unwrap_or_else(|p| p.into_inner()))
}

/// The kubelet resolved an image of pod `uid` whose config carries this behaviour label.
pub(crate) fn record_image_behavior(uid: &str, label: &str) {
    with(|b| {
        b.labels
            .entry(uid.to_string())
            .or_insert_with(|| label.to_string());
    });
}

/// The pod is gone.
pub(crate) fn forget(uid: &str) {
    with(|b| {
        b.labels.remove(uid);
        b.counts.retain(|(u, _), _| u != uid);
    });
}

/// The request behaviour of `pod`: from its annotation, else its image label; an invalid
/// or missing string answers every request at once with 200.
pub fn of_pod(pod: &Value) -> Traffic {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let spec = match pod["metadata"]["annotations"][BEHAVIOR_KEY].as_str() {
        Some(s) => Some(s.to_string()),
        None => with(|b| b.labels.get(uid).cloned()),
    };
    spec.as_deref().and_then(Traffic::parse).unwrap_or_default()
}

/// Whether the next request `pod_uid` answers on `stream` fails, given its error share.
pub fn next_fails(pod_uid: &str, stream: Stream, errors: f64) -> bool {
    let n = with(|b| {
        let c = b.counts.entry((pod_uid.to_string(), stream)).or_insert(0);
        let n = *c;
        *c += 1;
        n
    });
    fails_at(n, errors)
}

/// Whether request `n` (from 0) of a sequence with this error share fails.
pub fn fails_at(n: u64, errors: f64) -> bool {
    ((n + 1) as f64 * errors).floor() > (n as f64 * errors).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_share_is_exact_to_within_rounding() {
        for (errors, n, failed) in [(0.2, 100, 20), (0.2, 7, 1), (0.0, 50, 0), (1.0, 9, 9)] {
            let got = (0..n).filter(|i| fails_at(*i, errors)).count();
            assert_eq!(got, failed, "{errors} over {n}");
        }
        assert!(!fails_at(0, 0.2) && fails_at(4, 0.2));
    }
}

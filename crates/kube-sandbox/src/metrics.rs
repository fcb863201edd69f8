//! `/metrics`: the API server's own metrics in the Prometheus text format, under the
//! real apiserver's names and labels — `apiserver_request_total` and
//! `apiserver_request_duration_seconds` per verb, group, version, resource, subresource,
//! scope (and code), `apiserver_current_inflight_requests` and
//! `apiserver_storage_objects` per resource.
//!
//! Written by hand: the exposition format is a few lines of text, and the metrics need
//! the real names and label sets, which a metrics library would only wrap.

use crate::store::Store;
use axum::http::Method;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The upper bounds (seconds) of the request duration histogram, the real apiserver's.
const BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// What a request is, as the apiserver's metrics label it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestLabels {
    pub verb: String,
    pub dry_run: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub scope: String,
}

impl RequestLabels {
    /// The labels of a request to `path`. Requests outside the resource API (discovery,
    /// `/healthz`, `/openapi/v3` …) carry their path as `subresource`, as the real
    /// server's do.
    pub fn of(method: &Method, path: &str, watch: bool, dry_run: bool, apply: bool) -> Self {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] if !rest.is_empty() => ("", *v, rest),
            ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
            _ => {
                return RequestLabels {
                    verb: method.as_str().to_string(),
                    dry_run: String::new(),
                    group: String::new(),
                    version: String::new(),
                    resource: String::new(),
                    subresource: if path.is_empty() {
                        "/".into()
                    } else {
                        path.into()
                    },
                    scope: String::new(),
                };
            }
        };
        let (namespaced, parts): (bool, &[&str]) = match rest {
            ["namespaces", _, _, ..] => (true, &rest[2..]),
            _ => (false, rest),
        };
        let resource = parts.first().copied().unwrap_or_default();
        let named = parts.len() > 1;
        let subresource = parts.get(2).copied().unwrap_or_default();
        let verb = match *method {
            // The proxy subresource is a connecter: counted as CONNECT, whatever the method.
            _ if subresource == "proxy" => "CONNECT",
            Method::GET | Method::HEAD if !named && watch => "WATCH",
            Method::GET | Method::HEAD if !named => "LIST",
            Method::GET | Method::HEAD => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH if apply => "APPLY",
            Method::PATCH => "PATCH",
            Method::DELETE if !named => "DELETECOLLECTION",
            Method::DELETE => "DELETE",
            ref m => m.as_str(),
        };
        let scope = if named {
            "resource"
        } else if namespaced {
            "namespace"
        } else {
            "cluster"
        };
        RequestLabels {
            verb: verb.into(),
            dry_run: if dry_run { "All".into() } else { String::new() },
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            scope: scope.into(),
        }
    }

    fn render(&self) -> String {
        format!(
            "component=\"apiserver\",dry_run=\"{}\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"",
            self.dry_run,
            self.group,
            self.resource,
            self.scope,
            self.subresource,
            self.verb,
            self.version
        )
    }

    fn mutating(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION"
        )
    }
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The server's request metrics.
#[derive(Default)]
pub struct Metrics {
    totals: Mutex<BTreeMap<(RequestLabels, u16), u64>>,
    durations: Mutex<BTreeMap<RequestLabels, Histogram>>,
    inflight_read: AtomicI64,
    inflight_mutating: AtomicI64,
}

/// A request being served; counted in flight until [`Metrics::finish`].
pub struct InFlight {
    labels: RequestLabels,
    started: std::time::Instant,
}

impl Metrics {
    pub fn start(&self, labels: RequestLabels) -> InFlight {
        self.gauge(&labels).fetch_add(1, Ordering::Relaxed);
        InFlight {
            labels,
            started: std::time::Instant::now(),
        }
    }

    /// Counts a request answered with `code`. Watches count when they start.
    pub fn finish(&self, request: InFlight, code: u16) {
        self.gauge(&request.labels).fetch_sub(1, Ordering::Relaxed);
        let took = request.started.elapsed();
        self.observe(&request.labels, took);
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        *totals.entry((request.labels, code)).or_default() += 1;
    }

    fn gauge(&self, labels: &RequestLabels) -> &AtomicI64 {
        if labels.mutating() {
            &self.inflight_mutating
        } else {
            &self.inflight_read
        }
    }

    fn observe(&self, labels: &RequestLabels, took: Duration) {
        let secs = took.as_secs_f64();
        let mut durations = self.durations.lock().unwrap_or_else(|p| p.into_inner());
        let h = durations.entry(labels.clone()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The exposition text.
    pub fn render(&self, store: &Store) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_current_inflight_requests [STABLE] Maximal number of currently used inflight request limit of this apiserver per request kind in last second.\n# TYPE apiserver_current_inflight_requests gauge\n");
        let _ = writeln!(
            out,
            "apiserver_current_inflight_requests{{request_kind=\"mutating\"}} {}",
            self.inflight_mutating.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "apiserver_current_inflight_requests{{request_kind=\"readOnly\"}} {}",
            self.inflight_read.load(Ordering::Relaxed)
        );
        out.push_str("# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n# TYPE apiserver_request_duration_seconds histogram\n");
        for (labels, h) in self
            .durations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let l = labels.render();
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{{l}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{{l}}} {}",
                h.count
            );
        }
        out.push_str("# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n# TYPE apiserver_request_total counter\n");
        for ((labels, code), n) in self.totals.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "apiserver_request_total{{code=\"{code}\",{}}} {n}",
                labels.render()
            );
        }
        out.push_str("# HELP apiserver_storage_objects [STABLE] Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.\n# TYPE apiserver_storage_objects gauge\n");
        for (key, n) in store.object_counts() {
            let (group, resource) = key.split_once('/').unwrap_or(("", &key));
            let name = if group.is_empty() {
                resource.to_string()
            } else {
                format!("{resource}.{group}")
            };
            let _ = writeln!(out, "apiserver_storage_objects{{resource=\"{name}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_labelled_as_the_apiserver_labels_them() {
        let l = RequestLabels::of(
            &Method::GET,
            "/api/v1/namespaces/a/pods",
            false,
            false,
            false,
        );
        assert_eq!(
            (l.verb.as_str(), l.resource.as_str(), l.scope.as_str()),
            ("LIST", "pods", "namespace")
        );
        let l = RequestLabels::of(
            &Method::PATCH,
            "/apis/apps/v1/namespaces/a/deployments/web/scale",
            false,
            true,
            false,
        );
        assert_eq!(
            (
                l.verb.as_str(),
                l.group.as_str(),
                l.subresource.as_str(),
                l.scope.as_str(),
                l.dry_run.as_str()
            ),
            ("PATCH", "apps", "scale", "resource", "All")
        );
        let l = RequestLabels::of(&Method::GET, "/healthz", false, false, false);
        assert_eq!(
            (l.verb.as_str(), l.subresource.as_str()),
            ("GET", "/healthz")
        );
        let l = RequestLabels::of(&Method::GET, "/api/v1/nodes", true, false, false);
        assert_eq!((l.verb.as_str(), l.scope.as_str()), ("WATCH", "cluster"));
        let l = RequestLabels::of(
            &Method::GET,
            "/api/v1/namespaces/a/services/web:80/proxy/healthz",
            false,
            false,
            false,
        );
        assert_eq!(
            (l.verb.as_str(), l.resource.as_str(), l.subresource.as_str()),
            ("CONNECT", "services", "proxy")
        );
    }
}

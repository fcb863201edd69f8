//! The deploy lock: one `coordination.k8s.io/v1` Lease per app and namespace, held by
//! the deploy that writes, renewed while it works, and released at the end. A deploy
//! that dies leaves a lease that expires by itself; the next deploy takes it over then —
//! there is never a lock to clean up by hand.
//!
//! This module decides, from the lease as the cluster returns it, what a deploy may do;
//! the cluster side performs the decision with optimistic concurrency (the lease's
//! `resourceVersion`), so two deploys can never both win.

use jiff::Timestamp;
use serde_json::{Value, json};

/// How long a lease lasts without renewal.
pub const LEASE_SECONDS: i64 = 30;

/// The Lease name for `app`.
pub fn lease_name(app: &str) -> String {
    format!("slipway-lock-{app}")
}

/// What a deploy may do with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No lease yet: create it.
    Create,
    /// The lease is free, expired or already ours: take it (update with the given
    /// `resourceVersion`). `previous` names a holder whose lease expired.
    Take {
        resource_version: String,
        previous: Option<String>,
    },
    /// Someone else holds it.
    Held {
        holder: String,
        /// When they took it (RFC 3339), if recorded.
        since: Option<String>,
        /// Seconds until the lease expires unless renewed.
        expires_in: i64,
    },
}

/// Decides what `me` may do with `lease` at `now`.
pub fn decide(lease: Option<&Value>, me: &str, now: Timestamp) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let resource_version = lease
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let spec = lease.get("spec").cloned().unwrap_or(Value::Null);
    let holder = spec
        .get("holderIdentity")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty());
    let Some(holder) = holder else {
        return Decision::Take {
            resource_version,
            previous: None,
        };
    };
    if holder == me {
        return Decision::Take {
            resource_version,
            previous: None,
        };
    }
    let duration = spec
        .get("leaseDurationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(LEASE_SECONDS);
    let renewed = ["renewTime", "acquireTime"]
        .iter()
        .filter_map(|f| spec.get(*f).and_then(Value::as_str))
        .find_map(|t| t.parse::<Timestamp>().ok());
    let expires_in = match renewed {
        Some(renewed) => duration - now.duration_since(renewed).as_secs(),
        // A lease without any time was never renewed: treat it as expired.
        None => 0,
    };
    if expires_in <= 0 {
        return Decision::Take {
            resource_version,
            previous: Some(holder.to_string()),
        };
    }
    Decision::Held {
        holder: holder.to_string(),
        since: spec
            .get("acquireTime")
            .and_then(Value::as_str)
            .map(str::to_string),
        expires_in,
    }
}

/// The lease held by `me` from `now`, for create or update (with `resource_version`
/// when updating, so that a concurrent change makes the write fail).
pub fn lease_object(
    app: &str,
    namespace: &str,
    me: &str,
    now: Timestamp,
    resource_version: Option<&str>,
) -> Value {
    let time = micro_time(now);
    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": lease_name(app),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "slipway", "slipway.dev/app": app},
        },
        "spec": {
            "holderIdentity": me,
            "leaseDurationSeconds": LEASE_SECONDS,
            "acquireTime": time,
            "renewTime": time,
        },
    });
    if let Some(rv) = resource_version {
        lease["metadata"]["resourceVersion"] = json!(rv);
    }
    lease
}

/// Kubernetes `MicroTime`: RFC 3339 with microseconds, UTC.
pub fn micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn lease(holder: &str, renewed: &str) -> Value {
        json!({
            "metadata": {"resourceVersion": "42"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30,
                     "acquireTime": "2026-11-22T11:50:00.000000Z", "renewTime": renewed}
        })
    }

    #[test]
    fn missing_lease_is_created() {
        assert_eq!(decide(None, "me", now()), Decision::Create);
    }

    #[test]
    fn live_lease_of_another_deploy_is_held_and_names_the_holder() {
        let d = decide(
            Some(&lease("ci@runner-7", "2026-11-22T11:59:50.000000Z")),
            "me",
            now(),
        );
        assert_eq!(
            d,
            Decision::Held {
                holder: "ci@runner-7".into(),
                since: Some("2026-11-22T11:50:00.000000Z".into()),
                expires_in: 20,
            }
        );
    }

    #[test]
    fn expired_lease_of_a_dead_deploy_is_taken_over() {
        let d = decide(
            Some(&lease("ci@runner-7", "2026-11-22T11:59:00.000000Z")),
            "me",
            now(),
        );
        assert_eq!(
            d,
            Decision::Take {
                resource_version: "42".into(),
                previous: Some("ci@runner-7".into()),
            }
        );
    }

    #[test]
    fn released_or_own_lease_is_taken() {
        for holder in ["", "me"] {
            let d = decide(
                Some(&lease(holder, "2026-11-22T11:59:59.000000Z")),
                "me",
                now(),
            );
            assert!(
                matches!(d, Decision::Take { previous: None, .. }),
                "{holder}: {d:?}"
            );
        }
    }

    #[test]
    fn lease_object_carries_holder_times_and_version() {
        let l = lease_object("shop", "prod", "me", now(), Some("42"));
        assert_eq!(l["metadata"]["name"], "slipway-lock-shop");
        assert_eq!(l["metadata"]["resourceVersion"], "42");
        assert_eq!(l["spec"]["renewTime"], "2026-11-22T12:00:00.000000Z");
        assert_eq!(l["spec"]["holderIdentity"], "me");
    }
}

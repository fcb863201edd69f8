//! The deploy lock: one `coordination.k8s.io/v1` Lease per app and namespace, held by
//! the deploy that writes, renewed while it works, and released at the end. A deploy
//! that dies leaves a lease that expires by itself; the next deploy takes it over then —
//! there is never a lock to clean up by hand. The holder's identity names its user, its
//! process id and its host (`ci@example.com/4242@runner-7`), so that a lease left by a
//! process of this same machine that no longer exists (a `kill -9`) is taken over at
//! once instead of after the lease's duration.
//!
//! This module decides, from the lease as the cluster returns it, what a deploy may do;
//! the cluster side performs the decision with optimistic concurrency (the lease's
//! `resourceVersion`), so two deploys can never both win.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cluster::{Cluster, ClusterError};

/// How long a lease lasts without renewal.
pub const LEASE_SECONDS: i64 = 30;

/// The Lease name for `app`.
pub fn lease_name(app: &str) -> String {
    format!("slipway-lock-{app}")
}

/// The identity a deploy of `user` holds the lock under: `user/pid@host`.
pub fn holder_identity(user: &str) -> String {
    let host = local_host().unwrap_or_else(|| "unknown-host".into());
    format!("{user}/{}@{host}", std::process::id())
}

/// This machine's host name, as the kernel reports it.
fn local_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
}

/// The process id and host named by a holder identity (`user/pid@host`).
fn holder_process(holder: &str) -> Option<(u32, &str)> {
    let (rest, host) = holder.rsplit_once('@')?;
    let (_, pid) = rest.rsplit_once('/')?;
    Some((pid.parse().ok()?, host))
}

/// Whether `holder` names a process of this machine that no longer exists. Anything
/// that cannot be told for certain (another host, no `/proc`, an identity of another
/// form) is not gone: its lease is left to expire.
pub fn holder_gone(holder: &str) -> bool {
    let Some((pid, host)) = holder_process(holder) else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    local_host().as_deref() == Some(host)
        && proc.join("self").exists()
        && !proc.join(pid.to_string()).exists()
}

/// Why a lease held by another deploy was taken over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeOver {
    /// Its lease was not renewed in time.
    Expired { holder: String },
    /// Its process no longer runs on this machine (killed), before the lease expired.
    HolderGone { holder: String },
}

impl TakeOver {
    /// The identity of the deploy whose lease was taken over.
    pub fn holder(&self) -> &str {
        match self {
            TakeOver::Expired { holder } | TakeOver::HolderGone { holder } => holder,
        }
    }
}

impl std::fmt::Display for TakeOver {
    /// `` `holder`, whose lease expired ``.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TakeOver::Expired { holder } => write!(f, "`{holder}`, whose lease expired"),
            TakeOver::HolderGone { holder } => write!(
                f,
                "`{holder}` at once: its process no longer runs on this machine"
            ),
        }
    }
}

/// What a deploy may do with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No lease yet: create it.
    Create,
    /// The lease is free, expired, left by a process that is gone, or already ours:
    /// take it (update with the given `resourceVersion`). `previous` names the holder
    /// whose lease is taken over, and why.
    Take {
        resource_version: String,
        previous: Option<TakeOver>,
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

/// Decides what `me` may do with `lease` at `now`; `gone` tells whether a holder is a
/// process known to have exited ([`holder_gone`]).
pub fn decide(
    lease: Option<&Value>,
    me: &str,
    now: Timestamp,
    gone: impl Fn(&str) -> bool,
) -> Decision {
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
            previous: Some(TakeOver::Expired {
                holder: holder.to_string(),
            }),
        };
    }
    if gone(holder) {
        return Decision::Take {
            resource_version,
            previous: Some(TakeOver::HolderGone {
                holder: holder.to_string(),
            }),
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

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another deploy holds it.
    #[error("another deploy holds the lock of `{app}` in `{namespace}`: `{holder}`{}, expires in {expires_in}s unless renewed", since.as_deref().map(|s| format!(" since {s}")).unwrap_or_default())]
    Held {
        app: String,
        namespace: String,
        holder: String,
        since: Option<String>,
        expires_in: i64,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// A held lock. It is renewed in the background until [`LockGuard::release`]; if the
/// process dies, renewal stops and the lease expires by itself.
pub struct LockGuard {
    cluster: Arc<Cluster>,
    app: String,
    namespace: String,
    me: String,
    renewal: tokio::task::JoinHandle<()>,
    /// The holder whose lease was taken over, and why, if any.
    pub took_over_from: Option<TakeOver>,
}

/// Takes the lock of `app` in `namespace` for `me`, waiting up to `wait` for another
/// deploy to finish.
///
/// # Errors
///
/// [`LockError::Held`] when another deploy still holds it after `wait`.
pub async fn acquire(
    cluster: Arc<Cluster>,
    app: &str,
    namespace: &str,
    me: &str,
    wait: Duration,
) -> Result<LockGuard, LockError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let current = cluster
            .get(
                "coordination.k8s.io/v1",
                "Lease",
                namespace,
                &lease_name(app),
            )
            .await?;
        let result = match decide(current.as_ref(), me, Timestamp::now(), holder_gone) {
            Decision::Create => cluster
                .create(
                    &lease_object(app, namespace, me, Timestamp::now(), None),
                    namespace,
                )
                .await
                .map(|_| None),
            Decision::Take {
                resource_version,
                previous,
            } => cluster
                .replace(
                    &lease_object(
                        app,
                        namespace,
                        me,
                        Timestamp::now(),
                        Some(&resource_version),
                    ),
                    namespace,
                )
                .await
                .map(|_| previous),
            Decision::Held {
                holder,
                since,
                expires_in,
            } => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(LockError::Held {
                        app: app.to_string(),
                        namespace: namespace.to_string(),
                        holder,
                        since,
                        expires_in,
                    });
                }
                // Look again when the lease could have expired, or sooner if the
                // holder releases it.
                let pause = Duration::from_secs(expires_in.clamp(1, 2) as u64);
                tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
                continue;
            }
        };
        match result {
            Ok(took_over_from) => {
                let renewal = tokio::spawn(renew(
                    Arc::clone(&cluster),
                    app.to_string(),
                    namespace.to_string(),
                    me.to_string(),
                ));
                return Ok(LockGuard {
                    cluster,
                    app: app.to_string(),
                    namespace: namespace.to_string(),
                    me: me.to_string(),
                    renewal,
                    took_over_from,
                });
            }
            // Someone else wrote the lease between our read and our write: read again.
            Err(e) if e.is_conflict() || matches!(&e, ClusterError::Api { code: 409, .. }) => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Renews the lease every third of its duration while the guard lives.
async fn renew(cluster: Arc<Cluster>, app: String, namespace: String, me: String) {
    let period = Duration::from_secs((LEASE_SECONDS / 3) as u64);
    loop {
        tokio::time::sleep(period).await;
        let Ok(Some(mut lease)) = cluster
            .get(
                "coordination.k8s.io/v1",
                "Lease",
                &namespace,
                &lease_name(&app),
            )
            .await
        else {
            continue;
        };
        if lease
            .pointer("/spec/holderIdentity")
            .and_then(Value::as_str)
            != Some(me.as_str())
        {
            return;
        }
        lease["spec"]["renewTime"] = json!(micro_time(Timestamp::now()));
        // A failed renewal is retried at the next period; the lease outlives a few.
        let _ = cluster.replace(&lease, &namespace).await;
    }
}

impl LockGuard {
    /// Stops renewing and frees the lease for the next deploy. A write that loses a race
    /// (the lease changed since it was read, e.g. by a renewal, or by a retried request
    /// that had in fact succeeded) is tried again on a fresh read.
    pub async fn release(self) -> Result<(), ClusterError> {
        self.renewal.abort();
        let mut attempts = 0;
        loop {
            let Some(mut lease) = self
                .cluster
                .get(
                    "coordination.k8s.io/v1",
                    "Lease",
                    &self.namespace,
                    &lease_name(&self.app),
                )
                .await?
            else {
                return Ok(());
            };
            if lease
                .pointer("/spec/holderIdentity")
                .and_then(Value::as_str)
                != Some(self.me.as_str())
            {
                return Ok(());
            }
            lease["spec"]["holderIdentity"] = json!("");
            match self.cluster.replace(&lease, &self.namespace).await {
                Err(e) if e.is_conflict() && attempts < 3 => attempts += 1,
                result => return result.map(|_| ()),
            }
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.renewal.abort();
    }
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
        assert_eq!(decide(None, "me", now(), |_| false), Decision::Create);
    }

    #[test]
    fn live_lease_of_another_deploy_is_held_and_names_the_holder() {
        let d = decide(
            Some(&lease("ci@runner-7", "2026-11-22T11:59:50.000000Z")),
            "me",
            now(),
            |_| false,
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
            |_| false,
        );
        assert_eq!(
            d,
            Decision::Take {
                resource_version: "42".into(),
                previous: Some(TakeOver::Expired {
                    holder: "ci@runner-7".into()
                }),
            }
        );
    }

    #[test]
    fn live_lease_of_a_process_that_is_gone_is_taken_over_at_once() {
        let live = lease("ci/4242@runner-7", "2026-11-22T11:59:50.000000Z");
        let d = decide(Some(&live), "me", now(), |h| h == "ci/4242@runner-7");
        assert_eq!(
            d,
            Decision::Take {
                resource_version: "42".into(),
                previous: Some(TakeOver::HolderGone {
                    holder: "ci/4242@runner-7".into()
                }),
            }
        );
    }

    #[test]
    fn a_holder_is_gone_only_when_its_process_of_this_host_has_exited() {
        let here = local_host().unwrap();
        let me = holder_identity("ci@example.com");
        assert!(me.starts_with(&format!("ci@example.com/{}@", std::process::id())));
        assert_eq!(
            holder_process(&me),
            Some((std::process::id(), here.as_str()))
        );
        assert!(!holder_gone(&me), "this process runs");
        // A pid no process has: far above the kernel's default `pid_max`.
        let dead = format!("ci@example.com/999999999@{here}");
        assert!(holder_gone(&dead));
        assert!(!holder_gone("ci@example.com/999999999@another-host"));
        assert!(!holder_gone("ci@example.com/not-a-pid"));
        assert!(!holder_gone("ci@runner-7"));
    }

    #[test]
    fn released_or_own_lease_is_taken() {
        for holder in ["", "me"] {
            let d = decide(
                Some(&lease(holder, "2026-11-22T11:59:59.000000Z")),
                "me",
                now(),
                |_| true,
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

//! Removing an app's release from one namespace, as `helm uninstall` does:
//!
//! 1. take the deploy lock (so no release runs meanwhile);
//! 2. find the members of the app's ApplySet: every object labelled
//!    `applyset.kubernetes.io/part-of=<id>`, of every kind a release record names, of the
//!    kinds a release usually has, and hook Jobs — whether a release finished, failed or
//!    was interrupted;
//! 3. delete them, workloads first (the reverse of the apply order), then the ApplySet's
//!    parent Secret;
//! 4. the release records: deleted on request; by default kept for `history`, with a
//!    record left `pending` concluded as failed and the current release marked
//!    `superseded`, its outcome saying when and by whom it was uninstalled, so that
//!    nothing claims to run any more and the next deploy is a first install;
//! 5. release the lock and remove the Lease.
//!
//! The namespace stays (other things may live in it), and so do objects the app did
//! not create: PersistentVolumeClaims made from a StatefulSet's `volumeClaimTemplates`
//! carry no ApplySet label and keep their data.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Apply, Cluster, ClusterError, object_name};
use crate::lock::{self, LockError};
use crate::order;
use crate::record::{self, Release, ReleaseStatus};

/// What to remove.
#[derive(Debug, Clone)]
pub struct UninstallInput {
    pub app: String,
    pub environment: String,
    pub namespace: String,
    /// Who uninstalls (`user@host`), for the lock and the records.
    pub user: String,
    /// What the records become.
    pub records: Records,
    /// List what would be removed; remove nothing, take no lock.
    pub dry_run: bool,
    /// How long to wait for another deploy's lock.
    pub wait_lock: Duration,
}

/// What becomes of the release records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// Kept for `history`, marked as no longer running.
    Keep,
    /// Deleted with the release.
    Delete,
}

/// What was (or, in a dry run, would be) removed.
#[derive(Debug, Clone, Default)]
pub struct Uninstalled {
    /// `Deployment/api`, in the order they were removed.
    pub objects: Vec<String>,
    /// The revisions whose records were deleted.
    pub deleted_records: Vec<u64>,
    /// The revisions whose records were kept.
    pub kept_records: Vec<u64>,
}

/// Why an uninstall stopped.
#[derive(Debug, thiserror::Error)]
pub enum UninstallError {
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A request of one step failed (after its retries); the step is named.
    #[error("{step}: {source}")]
    Step { step: String, source: ClusterError },
    #[error("release record: {0}")]
    Record(#[from] record::RecordError),
}

/// Kinds a release usually has, looked for even when no record names them (a release
/// whose record is gone). Hook Jobs are among them.
const USUAL_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"),
    ("networking.k8s.io/v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget"),
];

/// The label that marks the members of `app`'s ApplySet in `namespace`.
pub fn member_selector(app: &str, namespace: &str) -> String {
    let id = slipway_render::applyset::id(
        &slipway_render::release::applyset_parent_name(app),
        namespace,
        "Secret",
        "",
    );
    format!("{}={id}", slipway_render::applyset::PART_OF_LABEL)
}

/// Removes the app's release from one namespace. See the module documentation.
///
/// # Errors
///
/// [`UninstallError::Lock`] when another deploy holds the lock; a cluster error,
/// naming its step. What was removed before an error stays removed: running the same
/// command again finishes the job.
pub async fn uninstall(
    cluster: Arc<Cluster>,
    input: &UninstallInput,
    report: &(dyn Fn(&str) + Send + Sync),
) -> Result<Uninstalled, UninstallError> {
    let namespace = cluster
        .get("v1", "Namespace", "", &input.namespace)
        .await
        .map_err(|source| UninstallError::Step {
            step: format!("reading namespace `{}`", input.namespace),
            source,
        })?;
    if namespace.is_none() {
        // Never deployed here, or already gone with its namespace: nothing to remove.
        return Ok(Uninstalled::default());
    }
    if input.dry_run {
        let (records, members) = survey(&cluster, input).await?;
        let mut objects: Vec<String> = members.iter().map(label).collect();
        objects.extend(applyset_parent(&cluster, input).await?);
        return Ok(Uninstalled {
            objects,
            deleted_records: match input.records {
                Records::Delete => records.iter().map(|r| r.revision).collect(),
                Records::Keep => vec![],
            },
            kept_records: match input.records {
                Records::Keep => records.iter().map(|r| r.revision).collect(),
                Records::Delete => vec![],
            },
        });
    }
    let me = format!("{}/{}", input.user, std::process::id());
    let guard = lock::acquire(
        Arc::clone(&cluster),
        &input.app,
        &input.namespace,
        &me,
        input.wait_lock,
    )
    .await?;
    let result = uninstall_locked(&cluster, input, report).await;
    let _ = guard.release().await;
    if result.is_ok() {
        // Nothing of the app is left to lock; a failure only leaves a free Lease.
        let _ = cluster
            .delete(
                "coordination.k8s.io/v1",
                "Lease",
                &input.namespace,
                &lock::lease_name(&input.app),
            )
            .await;
    }
    result
}

async fn uninstall_locked(
    cluster: &Arc<Cluster>,
    input: &UninstallInput,
    report: &(dyn Fn(&str) + Send + Sync),
) -> Result<Uninstalled, UninstallError> {
    let ns = &input.namespace;
    let (mut records, members) = survey(cluster, input).await?;
    let mut done = Uninstalled::default();
    for obj in &members {
        let (api_version, kind, name) = identity(obj);
        let namespace = if slipway_render::release::CLUSTER_SCOPED.contains(&kind) {
            ""
        } else {
            ns
        };
        cluster
            .delete(api_version, kind, namespace, name)
            .await
            .map_err(|source| UninstallError::Step {
                step: format!("removing {}", label(obj)),
                source,
            })?;
        report(&label(obj));
        done.objects.push(label(obj));
    }
    if let Some(parent_label) = applyset_parent(cluster, input).await? {
        let parent = slipway_render::release::applyset_parent_name(&input.app);
        cluster
            .delete("v1", "Secret", ns, &parent)
            .await
            .map_err(|source| UninstallError::Step {
                step: format!("removing the ApplySet parent Secret/{parent}"),
                source,
            })?;
        report(&parent_label);
        done.objects.push(parent_label);
    }
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for r in &mut records {
        let step = |what: &str| format!("{what} the record of revision {}", r.revision);
        match input.records {
            Records::Delete => {
                cluster
                    .delete(
                        "v1",
                        "Secret",
                        ns,
                        &record::record_name(&input.app, r.revision),
                    )
                    .await
                    .map_err(|source| UninstallError::Step {
                        step: step("deleting"),
                        source,
                    })?;
                done.deleted_records.push(r.revision);
            }
            Records::Keep => {
                if let Some(marked) = mark_uninstalled(r, &now, &input.user) {
                    cluster
                        .apply(&record::to_secret(&marked), ns, Apply::Force)
                        .await
                        .map_err(|source| UninstallError::Step {
                            step: step("updating"),
                            source,
                        })?;
                }
                done.kept_records.push(r.revision);
            }
        }
    }
    Ok(done)
}

/// A kept record as it reads after the uninstall, or `None` when it stays as it is:
/// the current release becomes `superseded`, a record left `pending` is concluded as
/// failed, each saying when and by whom the release was uninstalled.
pub fn mark_uninstalled(r: &Release, now: &str, user: &str) -> Option<Release> {
    let mut marked = r.clone();
    let note = format!("uninstalled {now} by {user}");
    match r.status {
        ReleaseStatus::Deployed => {
            marked.status = ReleaseStatus::Superseded;
            marked.outcome = format!("{}; {note}", r.outcome);
        }
        ReleaseStatus::Pending => {
            marked.status = ReleaseStatus::Failed;
            marked.outcome = format!("interrupted: the deploy stopped before it finished; {note}");
            marked.finished.get_or_insert_with(|| now.to_string());
        }
        ReleaseStatus::Paused => {
            marked.status = ReleaseStatus::Failed;
            marked.outcome = format!("{}; {note} while paused", r.outcome);
            marked.finished.get_or_insert_with(|| now.to_string());
        }
        ReleaseStatus::Superseded | ReleaseStatus::Failed | ReleaseStatus::RolledBack => {
            return None;
        }
    }
    Some(marked)
}

/// `Secret/slipway-applyset-<app>`, the ApplySet's parent, when it exists.
async fn applyset_parent(
    cluster: &Arc<Cluster>,
    input: &UninstallInput,
) -> Result<Option<String>, UninstallError> {
    let parent = slipway_render::release::applyset_parent_name(&input.app);
    let found = cluster
        .get("v1", "Secret", &input.namespace, &parent)
        .await
        .map_err(|source| UninstallError::Step {
            step: format!("reading the ApplySet parent Secret/{parent}"),
            source,
        })?;
    Ok(found.map(|_| format!("Secret/{parent}")))
}

/// The records of the app in the namespace and the members of its ApplySet found on
/// the cluster, in the order they are removed (the reverse of the apply order).
async fn survey(
    cluster: &Arc<Cluster>,
    input: &UninstallInput,
) -> Result<(Vec<Release>, Vec<Value>), UninstallError> {
    let ns = &input.namespace;
    let step = |what: String| {
        move |source| UninstallError::Step {
            step: what.clone(),
            source,
        }
    };
    let secrets = cluster
        .list(
            "v1",
            "Secret",
            ns,
            &record::selector(&input.app, &input.environment),
        )
        .await
        .map_err(step("reading the release records".into()))?;
    let mut records = secrets
        .iter()
        .map(record::from_secret)
        .collect::<Result<Vec<_>, _>>()?;
    records.sort_by_key(|r| r.revision);

    let mut kinds: BTreeSet<(String, String)> = USUAL_KINDS
        .iter()
        .map(|(a, k)| (a.to_string(), k.to_string()))
        .collect();
    for obj in records.iter().flat_map(|r| &r.manifest) {
        let api_version = obj.get("apiVersion").and_then(Value::as_str);
        let kind = obj.get("kind").and_then(Value::as_str);
        if let (Some(a), Some(k)) = (api_version, kind)
            && k != "Namespace"
        {
            kinds.insert((a.to_string(), k.to_string()));
        }
    }
    let selector = member_selector(&input.app, ns);
    let mut members = Vec::new();
    for (api_version, kind) in &kinds {
        let namespace = if slipway_render::release::CLUSTER_SCOPED.contains(&kind.as_str()) {
            ""
        } else {
            ns.as_str()
        };
        let found = match cluster.list(api_version, kind, namespace, &selector).await {
            Ok(found) => found,
            // A kind this cluster does not serve has no member here.
            Err(ClusterError::UnknownKind { .. }) => continue,
            Err(source) => {
                return Err(UninstallError::Step {
                    step: format!("listing the {kind}s of `{}`", input.app),
                    source,
                });
            }
        };
        for obj in found {
            let Some(name) = object_name(&obj) else {
                continue;
            };
            members.push(json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"name": name},
            }));
        }
    }
    order::sort_for_apply(&mut members);
    members.reverse();
    Ok((records, members))
}

fn identity(obj: &Value) -> (&str, &str, &str) {
    (
        obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
        obj.get("kind").and_then(Value::as_str).unwrap_or(""),
        object_name(obj).unwrap_or(""),
    )
}

fn label(obj: &Value) -> String {
    let (_, kind, name) = identity(obj);
    format!("{kind}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(revision: u64, status: ReleaseStatus) -> Release {
        Release {
            app: "shop".into(),
            environment: "dev".into(),
            namespace: "shop-dev".into(),
            revision,
            status,
            started: "2026-01-01T00:00:00Z".into(),
            finished: None,
            user: "a@b".into(),
            git_commit: None,
            git_dirty: false,
            images: vec![],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: "revision 1 rolled out".into(),
            manifest: vec![],
            failed_check: None,
            paused: None,
            switch_window: None,
        }
    }

    #[test]
    fn kept_records_no_longer_claim_to_run() {
        let now = "2026-02-01T00:00:00Z";
        let current = mark_uninstalled(&release(1, ReleaseStatus::Deployed), now, "u@h").unwrap();
        assert_eq!(current.status, ReleaseStatus::Superseded);
        assert_eq!(
            current.outcome,
            "revision 1 rolled out; uninstalled 2026-02-01T00:00:00Z by u@h"
        );
        let pending = mark_uninstalled(&release(2, ReleaseStatus::Pending), now, "u@h").unwrap();
        assert_eq!(pending.status, ReleaseStatus::Failed);
        assert_eq!(pending.finished.as_deref(), Some(now));
        assert!(mark_uninstalled(&release(3, ReleaseStatus::Failed), now, "u@h").is_none());
        // A paused release no longer waits for `deploy --resume`: its canary went too.
        let paused = mark_uninstalled(&release(4, ReleaseStatus::Paused), now, "u@h").unwrap();
        assert_eq!(paused.status, ReleaseStatus::Failed);
        assert!(
            paused.outcome.ends_with("while paused"),
            "{}",
            paused.outcome
        );
    }

    #[test]
    fn members_are_found_by_the_applyset_label_of_the_namespace() {
        let a = member_selector("shop", "shop-dev");
        assert!(
            a.starts_with("applyset.kubernetes.io/part-of=applyset-"),
            "{a}"
        );
        assert_ne!(a, member_selector("shop", "shop-prod"));
    }
}

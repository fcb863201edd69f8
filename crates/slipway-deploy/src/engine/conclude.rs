//! The end of a release: what it concludes and records. A pending record a killed deploy
//! left is concluded first; a release stopped before anything changed is recorded as
//! failed; a finished release is recorded `deployed` (superseding the previous one and
//! pruning what it dropped) or `failed`, in which case the previous release is restored
//! exactly — unless the environment says not to — and both outcomes are recorded.

use std::sync::Arc;

use serde_json::Value;

use super::{
    DeployError, DeployInput, During, Event, Outcome, delete_object, now, object_label, rollout,
    write_record,
};
use crate::cluster::Cluster;
use crate::record::{self, Release, ReleaseStatus};
use crate::track::Diagnosis;

/// Concludes every record a killed deploy left `pending` as failed: a record is never
/// left pending.
pub(super) async fn pending(
    cluster: &Arc<Cluster>,
    releases: &mut [Release],
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), DeployError> {
    for r in releases
        .iter_mut()
        .filter(|r| r.status == ReleaseStatus::Pending)
    {
        r.status = ReleaseStatus::Failed;
        r.outcome = "interrupted: the deploy stopped before it finished".into();
        // Inside a blue-green delay: traffic back on the previous version first.
        if let Some(done) = super::window::after_kill(cluster, r).await {
            r.outcome = format!("{}; {done}", r.outcome);
            r.switch_window = None;
        }
        r.finished.get_or_insert_with(now);
        write_record(cluster, r)
            .await
            .during(format!("concluding revision {}", r.revision))?;
        report(Event::Concluded {
            revision: r.revision,
        });
    }
    Ok(())
}

/// Records a release that stopped before any workload changed as failed.
pub(super) async fn stopped(
    cluster: &Arc<Cluster>,
    release: &mut Release,
    outcome: String,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), DeployError> {
    release.status = ReleaseStatus::Failed;
    release.outcome = outcome;
    release.finished = Some(now());
    record_final(cluster, release, report).await
}

/// A release that ran: its record, the release it replaces, and what it prunes.
pub(super) struct Concluding {
    /// The release's record, still `pending`.
    pub(super) release: Release,
    /// The current release before this one, if any.
    pub(super) previous: Option<Release>,
    /// What the previous release had and this one does not, in apply order.
    pub(super) prune: Vec<Value>,
    /// Every record of the namespace, as read at the start.
    pub(super) releases: Vec<Release>,
}

/// Records how the release ended: on success `deployed`, the previous release
/// superseded, its dropped objects pruned; on failure `failed`, then the previous
/// release restored under `rollback-on-failure`.
pub(super) async fn finish(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    concluding: Concluding,
    result: Result<(), Box<Diagnosis>>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    match result {
        Ok(()) => succeeded(cluster, input, concluding, report).await,
        Err(diagnosis) => failed(cluster, input, concluding, diagnosis, report).await,
    }
}

async fn succeeded(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    concluding: Concluding,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let Concluding {
        mut release,
        previous,
        prune,
        ..
    } = concluding;
    let revision = release.revision;
    release.status = ReleaseStatus::Deployed;
    release.outcome = format!("revision {revision} rolled out");
    release.finished = Some(now());
    write_record(cluster, &release)
        .await
        .during(format!("recording revision {revision}"))?;
    if let Some(mut prev) = previous {
        prev.status = ReleaseStatus::Superseded;
        write_record(cluster, &prev).await.during(format!(
            "recording revision {} as superseded",
            prev.revision
        ))?;
    }
    for obj in prune.iter().rev() {
        delete_object(cluster, obj, &input.namespace)
            .await
            .during(format!("pruning {}", object_label(obj)))?;
    }
    report(Event::Recorded {
        revision,
        status: release.status,
    });
    Ok(Outcome::Deployed { revision })
}

async fn failed(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    concluding: Concluding,
    diagnosis: Box<Diagnosis>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let Concluding {
        mut release,
        previous,
        releases,
        ..
    } = concluding;
    let ns = &input.namespace;
    let revision = release.revision;
    report(Event::Failed(diagnosis.clone()));
    release.status = ReleaseStatus::Failed;
    release.outcome = format!(
        "{}: {}: {}",
        diagnosis.workload, diagnosis.reason, diagnosis.message
    );
    release.failed_check = diagnosis.check.as_deref().cloned();
    release.finished = Some(now());
    // A `rollback` asked for inside a blue-green delay restores the previous release
    // whatever `rollback-on-failure` says.
    let asked = diagnosis.reason == super::bluegreen::ROLLBACK_REQUESTED;
    let Some(prev) = previous.filter(|_| input.rollback_on_failure || asked) else {
        record_final(cluster, &release, report).await?;
        return Ok(Outcome::Failed {
            revision,
            diagnosis,
            rollback_failed: None,
        });
    };
    report(Event::RollingBack {
        to_revision: prev.revision,
    });
    if let Err(rollback) = restore(cluster, input, &prev, report).await {
        release.outcome = format!(
            "{}; restoring revision {} failed too: {}: {}",
            release.outcome, prev.revision, rollback.reason, rollback.message
        );
        record_final(cluster, &release, report).await?;
        return Ok(Outcome::Failed {
            revision,
            diagnosis,
            rollback_failed: Some(rollback),
        });
    }
    // What only the failed release had goes too: the previous release is restored
    // exactly.
    let added = super::plan::prune_candidates(Some(&release), &prev.manifest, &releases, ns);
    for obj in added.iter().rev() {
        if obj.get("kind").and_then(Value::as_str) != Some("Namespace") {
            delete_object(cluster, obj, ns)
                .await
                .during(format!("removing {}", object_label(obj)))?;
        }
    }
    release.status = ReleaseStatus::RolledBack;
    release.outcome = format!("{}; revision {} restored", release.outcome, prev.revision);
    record_final(cluster, &release, report).await?;
    Ok(Outcome::RolledBack {
        revision,
        restored: prev.revision,
        diagnosis,
    })
}

/// Writes the release's last record and reports it.
async fn record_final(
    cluster: &Arc<Cluster>,
    release: &Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), DeployError> {
    write_record(cluster, release)
        .await
        .during(format!("recording revision {}", release.revision))?;
    report(Event::Recorded {
        revision: release.revision,
        status: release.status,
    });
    Ok(())
}

/// Re-applies a recorded release exactly and follows it with a fresh time budget; not
/// interrupted, so that the lock is released and no record is left pending.
async fn restore(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    prev: &Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let objects = record::reappliable(&prev.manifest);
    rollout::apply_and_track(cluster, input, &objects, None, false, report).await
}

//! Apply and track: the one sequence every release runs, and the restore of a previous
//! release after a failure runs again. Objects are applied in dependency order — the
//! objects of one kind at the same time, kinds one after the other — then every workload
//! among them is followed until it is current, fails, or the time budget is spent.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use jiff::Timestamp;
use serde_json::Value;

use super::{
    Change, DeployError, DeployInput, During, Event, IN_FLIGHT, delete_object, interrupted,
    is_immutable, object_label, unless_interrupted,
};
use crate::cluster::{Apply, Cluster, ClusterError};
use crate::fielddiff::changed_fields;
use crate::order;
use crate::track::{self, Diagnosis, Progress, TrackOptions, Workload};

/// Applies `objects` (in apply order) and tracks every workload among them, changed by
/// this apply or not: a killed deploy may have applied the same spec and left it never
/// ready, and a release is only `deployed` when all of it runs what it records. `before`
/// is each object as the plan read it (read again when absent). Only an `interruptible`
/// run stops at Ctrl-C; the restore after a failure runs to its end.
///
/// # Errors
///
/// The diagnosis of what failed: an object the cluster refused (`ApplyFailed`), a
/// workload that failed or did not become ready in time, or an interruption.
pub(super) async fn apply_and_track(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    objects: &[Value],
    before: Option<Vec<Option<Value>>>,
    interruptible: bool,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let ns = &input.namespace;
    let since = Timestamp::now();
    let applied = super::timed("apply", apply_all(cluster, input, objects, before, report));
    if let Err(e) = applied.await {
        return Err(Box::new(Diagnosis {
            workload: "apply".into(),
            reason: "ApplyFailed".into(),
            message: e.to_string(),
            pod: None,
            container: None,
            events: vec![],
            logs: vec![],
            check: None,
        }));
    }
    let mut workloads: Vec<Workload> = Vec::new();
    for w in objects.iter().filter_map(|o| Workload::of(o, ns)) {
        if !workloads.contains(&w) {
            workloads.push(w);
        }
    }
    let options = TrackOptions {
        timeout: input.timeout,
        crashloop_tolerance: input.crashloop_tolerance,
        since,
        settle: input.settle,
    };
    let progress = |p: &Progress| report(Event::Progress(p.clone()));
    let tracking = super::timed(
        "track",
        track::track(cluster, ns, &workloads, &options, &progress),
    );
    if !interruptible {
        return tracking.await;
    }
    unless_interrupted(&input.interrupt, tracking)
        .await
        .unwrap_or_else(|| Err(interrupted("rollout", "every workload was ready")))
}

/// Applies every object in dependency order — the objects of one kind at the same time,
/// kinds one after the other; a conflict with another manager is reported and the
/// fields are taken back. `before` is each object as the plan read it (read again when
/// absent).
async fn apply_all(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    objects: &[Value],
    before: Option<Vec<Option<Value>>>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), DeployError> {
    let mut before = before.map(Vec::into_iter);
    let mut items = Vec::with_capacity(objects.len());
    for obj in objects {
        let known = before.as_mut().map(|it| it.next().flatten());
        items.push((obj, known));
    }
    let mut rest = &mut items[..];
    while !rest.is_empty() {
        let rank = order::rank(crate::value::kind(rest[0].0));
        let len = rest
            .iter()
            .position(|(o, _)| order::rank(crate::value::kind(o)) != rank)
            .unwrap_or(rest.len());
        let (tier, tail) = rest.split_at_mut(len);
        rest = tail;
        let results: Vec<Result<(), DeployError>> = stream::iter(tier.iter_mut())
            .map(|(obj, known)| {
                let known = known.take();
                async move {
                    apply_one(cluster, input, obj, known, report)
                        .await
                        .during(format!("applying {}", object_label(obj)))
                }
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), _>>()?;
    }
    Ok(())
}

/// Applies one object and reports how it changed; `before` is `Some` when the plan
/// already read it.
async fn apply_one(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    obj: &Value,
    before: Option<Option<Value>>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), ClusterError> {
    let ns = &input.namespace;
    let before = match before {
        Some(known) => known,
        None => super::plan::get_live(cluster, obj, ns).await?,
    };
    // An object of a Helm release is taken over: its fields are Helm's, so the apply
    // is forced at once (the plan reported it) rather than reported field by field.
    let mode = if before
        .as_ref()
        .is_some_and(|b| super::plan::helm_release(b).is_some())
    {
        Apply::Force
    } else {
        Apply::Strict
    };
    let applied = match cluster.apply(obj, ns, mode).await {
        Ok(applied) => applied,
        Err(ClusterError::Conflict { fields, .. }) => {
            report(Event::Conflict {
                object: object_label(obj),
                fields,
            });
            cluster.apply(obj, ns, Apply::Force).await?
        }
        Err(e) if is_immutable(&e) && input.recreate.contains(&object_label(obj)) => {
            let ClusterError::Api { message, .. } = e else {
                unreachable!("is_immutable matched an API error")
            };
            recreate(cluster, input, obj).await?;
            report(Event::Applied {
                object: object_label(obj),
                change: Change::Recreate(message),
            });
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let change = match &before {
        None => Change::Create,
        Some(before) => {
            let fields = changed_fields(before, &applied);
            if fields.is_empty() {
                Change::Unchanged
            } else {
                Change::Update(fields)
            }
        }
    };
    report(Event::Applied {
        object: object_label(obj),
        change,
    });
    Ok(())
}

/// Deletes `obj` (its pods go with it), waits until it is gone, and creates it again as
/// the release has it.
///
/// # Errors
///
/// A cluster error, or [`ClusterError::Api`] 504 when the old object is not gone within
/// the release's timeout (a finalizer holds it).
async fn recreate(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    obj: &Value,
) -> Result<(), ClusterError> {
    let ns = &input.namespace;
    delete_object(cluster, obj, ns).await?;
    let deadline = std::time::Instant::now() + input.timeout;
    while super::plan::get_live(cluster, obj, ns).await?.is_some() {
        if std::time::Instant::now() > deadline {
            return Err(ClusterError::Api {
                code: 504,
                reason: "Timeout".into(),
                message: format!(
                    "{} was deleted to be created again, but is still there after {}s (a finalizer holds it)",
                    object_label(obj),
                    input.timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    cluster.apply(obj, ns, Apply::Strict).await.map(|_| ())
}

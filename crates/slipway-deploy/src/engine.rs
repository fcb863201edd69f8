//! One release into one namespace, in order, stopping at the first failure with nothing
//! half-done:
//!
//! 1. take the deploy lock (a Lease; a dead deploy's lease is taken over once expired);
//! 2. read the release records; a record a killed deploy left `pending` is concluded;
//! 3. plan: server-side dry run of every object, compared with what the cluster has
//!    (a dry run does only this, without the lock or concluding records: it writes
//!    nothing);
//! 4. record the new revision as `pending`;
//! 5. run the pre-deploy hooks (migration Jobs) to completion under names unique to the
//!    release — a failed hook stops the release before any workload changes;
//! 6. apply every object in dependency order with server-side apply; a field another
//!    manager changed (`kubectl set image`) is reported, then taken back;
//! 7. track the workloads that changed until they are all current, or a failure is
//!    certain, or the time budget is spent; then run the post-deploy hooks (smoke
//!    tests), whose failure fails the release;
//! 8. on success: record `deployed`, supersede the previous release, prune what the
//!    previous release had and this one does not;
//!    on failure: record `failed`, and unless told otherwise re-apply the previous
//!    release exactly, track it with a fresh time budget, and record both outcomes.
//!
//! The lock is released at the end whatever happened.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cluster::{Cluster, ClusterError, object_name, object_namespace};
use crate::fielddiff::{FieldChange, changed_fields};
use crate::lock::{self, LockError};
use crate::order;
use crate::record::{self, Release, ReleaseImage, ReleaseStatus};
use crate::track::{self, Diagnosis, Progress, TrackOptions, Workload};
use tokio_util::sync::CancellationToken;

/// A hook: a Job run to completion before anything else changes (pre-deploy), or once
/// every workload is ready (post-deploy, e.g. a smoke test). A failing pre-deploy hook
/// leaves the workloads as they were; a failing post-deploy hook fails the release like a
/// failed rollout, which is then rolled back.
#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    /// The Job; its name is made unique per release.
    pub job: Value,
    pub timeout: Duration,
    /// Runs after the rollout instead of before it.
    pub post_deploy: bool,
}

/// Everything one release into one namespace needs.
#[derive(Debug, Clone)]
pub struct DeployInput {
    pub app: String,
    pub environment: String,
    pub namespace: String,
    /// Rendered, pinned and validated objects.
    pub objects: Vec<Value>,
    pub hooks: Vec<Hook>,
    pub images: Vec<ReleaseImage>,
    pub timeout: Duration,
    pub rollback_on_failure: bool,
    pub crashloop_tolerance: u32,
    /// How long the pods of a ready rollout are watched for a restart (see
    /// [`TrackOptions::settle`]).
    pub settle: Duration,
    pub user: String,
    pub git_commit: Option<String>,
    pub git_dirty: bool,
    /// `deploy`, `rollback`, `promote`, `restart`.
    pub action: String,
    /// The revision whose content this release re-applies, if any.
    pub source_revision: Option<u64>,
    pub dry_run: bool,
    /// How long to wait for another deploy's lock.
    pub wait_lock: Duration,
    /// Cancelled when the user interrupts (Ctrl-C, SIGTERM): see [`INTERRUPTED`].
    pub interrupt: CancellationToken,
}

/// The [`Diagnosis::reason`] of a release stopped by an interruption. An interruption
/// before anything was applied stops the release with [`DeployError::Interrupted`]; once
/// objects were applied, it fails the release like a failed rollout, so the previous
/// release is restored under `rollback-on-failure`. The restore itself is not
/// interrupted: the lock is released and no record is left pending.
pub const INTERRUPTED: &str = "Interrupted";

/// How an object changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create,
    /// The changed fields, each with its path (`spec.template.spec.containers[0].image`)
    /// and its values before and after (a Secret's values as hashes).
    Update(Vec<FieldChange>),
    Unchanged,
}

/// One planned object.
#[derive(Debug, Clone)]
pub struct Planned {
    /// `Deployment/api`.
    pub object: String,
    pub change: Change,
}

/// Something that happened during a release, for the progress display.
#[derive(Debug, Clone)]
pub enum Event {
    LockTaken {
        took_over_from: Option<String>,
    },
    Concluded {
        revision: u64,
    },
    Planned(Vec<Planned>),
    Pruning(Vec<String>),
    HookStarted {
        name: String,
        job: String,
    },
    HookFinished {
        name: String,
        logs: Vec<String>,
    },
    Conflict {
        object: String,
        fields: Vec<(String, String)>,
    },
    Applied {
        object: String,
        change: Change,
    },
    Progress(Progress),
    Failed(Box<Diagnosis>),
    RollingBack {
        to_revision: u64,
    },
    Recorded {
        revision: u64,
        status: ReleaseStatus,
    },
}

/// How a release ended (errors before anything changed are [`DeployError`]s).
#[derive(Debug)]
pub enum Outcome {
    /// Stopped after the plan, as asked.
    Planned(Vec<Planned>),
    Deployed {
        revision: u64,
    },
    /// The release failed; the previous one was re-applied and is healthy.
    RolledBack {
        revision: u64,
        restored: u64,
        diagnosis: Box<Diagnosis>,
    },
    /// The release failed and stays as it is.
    Failed {
        revision: u64,
        diagnosis: Box<Diagnosis>,
        rollback_failed: Option<Box<Diagnosis>>,
    },
}

/// Why a release did not start, or stopped before touching workloads.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A request of one step failed (after its retries); the step is named.
    #[error("{step}: {source}")]
    Step { step: String, source: ClusterError },
    #[error("hook `{name}` failed; no workload was changed")]
    HookFailed {
        name: String,
        diagnosis: Box<Diagnosis>,
    },
    #[error("release record: {0}")]
    Record(#[from] record::RecordError),
    #[error("revision {0} is not recorded")]
    UnknownRevision(u64),
    /// Interrupted before any workload changed.
    #[error("interrupted {during}; no workload was changed")]
    Interrupted { during: String },
}

impl DeployError {
    /// Names the step a cluster error happened in.
    fn during(self, step: impl Into<String>) -> DeployError {
        match self {
            DeployError::Cluster(source) => DeployError::Step {
                step: step.into(),
                source,
            },
            other => other,
        }
    }
}

/// `?` with the step named: `cluster.get(…).await.during("reading …")?`.
trait During<T> {
    fn during(self, step: impl Into<String>) -> Result<T, DeployError>;
}

impl<T, E: Into<DeployError>> During<T> for Result<T, E> {
    fn during(self, step: impl Into<String>) -> Result<T, DeployError> {
        self.map_err(|e| e.into().during(step))
    }
}

/// Reads every release record of the app in this environment and namespace, oldest
/// first.
///
/// # Errors
///
/// A cluster error, or a damaged record.
pub async fn history(
    cluster: &Cluster,
    app: &str,
    environment: &str,
    namespace: &str,
) -> Result<Vec<Release>, DeployError> {
    let secrets = cluster
        .list(
            "v1",
            "Secret",
            namespace,
            &record::selector(app, environment),
        )
        .await?;
    let mut releases = secrets
        .iter()
        .map(record::from_secret)
        .collect::<Result<Vec<_>, _>>()?;
    releases.sort_by_key(|r| r.revision);
    Ok(releases)
}

/// Runs one release. See the module documentation for the steps.
///
/// # Errors
///
/// [`DeployError`] when the release could not start (lock, cluster, a failed hook);
/// a failed rollout is an [`Outcome`].
pub async fn deploy(
    cluster: Arc<Cluster>,
    input: DeployInput,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let ns = input.namespace.clone();
    // The target namespace is part of the environment: it is created when missing.
    if cluster.get("v1", "Namespace", "", &ns).await?.is_none() {
        if input.dry_run {
            let mut plan = vec![Planned {
                object: format!("Namespace/{ns}"),
                change: Change::Create,
            }];
            let mut objects = input.objects.clone();
            order::sort_for_apply(&mut objects);
            plan.extend(objects.iter().map(|o| Planned {
                object: object_label(o),
                change: Change::Create,
            }));
            report(Event::Planned(plan.clone()));
            return Ok(Outcome::Planned(plan));
        }
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        });
        cluster
            .apply(&namespace, &ns, false, false)
            .await
            .during(format!("creating namespace `{ns}`"))?;
    }
    if input.dry_run {
        // A dry run writes nothing: it takes no lock and leaves even an interrupted
        // deploy's pending record for the next real deploy to conclude.
        let planning = async {
            let releases = history(&cluster, &input.app, &input.environment, &ns)
                .await
                .during("reading the release records")?;
            prepare(&cluster, &input, &releases, report).await
        };
        let planned = unless_interrupted(&input.interrupt, planning)
            .await
            .ok_or_else(|| DeployError::Interrupted {
                during: "while planning".into(),
            })??;
        return Ok(Outcome::Planned(planned.plan));
    }
    let me = format!("{}/{}", input.user, std::process::id());
    let acquire = lock::acquire(Arc::clone(&cluster), &input.app, &ns, &me, input.wait_lock);
    let guard = unless_interrupted(&input.interrupt, acquire)
        .await
        .ok_or_else(|| DeployError::Interrupted {
            during: "while waiting for the lock".into(),
        })??;
    report(Event::LockTaken {
        took_over_from: guard.took_over_from.clone(),
    });
    let result = deploy_locked(&cluster, &input, report).await;
    // The lock is released whatever happened; a failure to release only means the
    // lease expires by itself.
    let _ = guard.release().await;
    result
}

async fn deploy_locked(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let ns = &input.namespace;
    let mut releases = history(cluster, &input.app, &input.environment, ns)
        .await
        .during("reading the release records")?;
    // A pending record means a deploy was killed: it is concluded, never left pending.
    for r in releases
        .iter_mut()
        .filter(|r| r.status == ReleaseStatus::Pending)
    {
        r.status = ReleaseStatus::Failed;
        r.outcome = "interrupted: the deploy stopped before it finished".into();
        r.finished.get_or_insert_with(now);
        write_record(cluster, r)
            .await
            .during(format!("concluding revision {}", r.revision))?;
        report(Event::Concluded {
            revision: r.revision,
        });
    }
    let previous = record::current(&releases).cloned();
    let Prepared {
        objects,
        plan,
        live,
        prune,
    } = prepare(cluster, input, &releases, report).await?;

    let revision = record::next_revision(&releases);
    let started = Instant::now();
    let mut release = Release {
        app: input.app.clone(),
        environment: input.environment.clone(),
        namespace: ns.clone(),
        revision,
        status: ReleaseStatus::Pending,
        started: now(),
        finished: None,
        user: input.user.clone(),
        git_commit: input.git_commit.clone(),
        git_dirty: input.git_dirty,
        images: input.images.clone(),
        source_revision: input.source_revision,
        action: input.action.clone(),
        durations: vec![],
        outcome: String::new(),
        manifest: record::redact_secrets(&objects),
    };
    write_record(cluster, &release)
        .await
        .during(format!("recording revision {revision}"))?;

    // Pre-deploy hooks.
    let hooks_started = Instant::now();
    let (post_hooks, pre_hooks): (Vec<&Hook>, Vec<&Hook>) =
        input.hooks.iter().partition(|h| h.post_deploy);
    for hook in &pre_hooks {
        let run = run_hook(cluster, ns, hook, revision, report);
        let (outcome, error) = match unless_interrupted(&input.interrupt, run).await {
            Some(Ok(())) => continue,
            Some(Err(diagnosis)) => (
                format!("hook `{}` failed: {}", hook.name, diagnosis.message),
                DeployError::HookFailed {
                    name: hook.name.clone(),
                    diagnosis,
                },
            ),
            None => (
                format!(
                    "interrupted while hook `{}` ran; its Job may still be running",
                    hook.name
                ),
                DeployError::Interrupted {
                    during: format!("while hook `{}` ran", hook.name),
                },
            ),
        };
        record_stopped(cluster, &mut release, outcome, report).await?;
        return Err(error);
    }
    if !pre_hooks.is_empty() {
        release
            .durations
            .push(("hooks".into(), hooks_started.elapsed().as_secs_f64()));
    }

    // Interrupted while planning or between hooks: stop before anything is applied.
    if input.interrupt.is_cancelled() {
        let outcome = "interrupted before anything was applied".to_owned();
        record_stopped(cluster, &mut release, outcome, report).await?;
        return Err(DeployError::Interrupted {
            during: "before anything was applied".into(),
        });
    }

    // Apply, then track what changed.
    let since = Timestamp::now();
    let applied = apply_all(cluster, &objects, ns, Some(live), report).await;
    let result = match applied {
        Ok(changed) => {
            let workloads: Vec<Workload> = objects
                .iter()
                .zip(&plan)
                .filter(|(_, p)| p.change != Change::Unchanged)
                .filter_map(|(o, _)| Workload::of(o, ns))
                .chain(changed)
                .fold(Vec::new(), |mut acc, w| {
                    if !acc.contains(&w) {
                        acc.push(w);
                    }
                    acc
                });
            let options = TrackOptions {
                timeout: input.timeout,
                crashloop_tolerance: input.crashloop_tolerance,
                since,
                settle: input.settle,
            };
            let progress = |p: &Progress| report(Event::Progress(p.clone()));
            let tracking = track::track(cluster, ns, &workloads, &options, &progress);
            unless_interrupted(&input.interrupt, tracking)
                .await
                .unwrap_or_else(|| Err(interrupted("rollout", "every workload was ready")))
        }
        Err(e) => Err(Box::new(Diagnosis {
            workload: "apply".into(),
            reason: "ApplyFailed".into(),
            message: e.to_string(),
            pod: None,
            container: None,
            events: vec![],
            logs: vec![],
        })),
    };
    release
        .durations
        .push(("rollout".into(), started.elapsed().as_secs_f64()));

    // Post-deploy hooks, once every workload is ready: a failure fails the release.
    let result = match result {
        Ok(()) if !post_hooks.is_empty() => {
            let post_started = Instant::now();
            let mut result = Ok(());
            for hook in &post_hooks {
                let run = run_hook(cluster, ns, hook, revision, report);
                result = unless_interrupted(&input.interrupt, run)
                    .await
                    .unwrap_or_else(|| {
                        Err(interrupted(&format!("hook `{}`", hook.name), "it finished"))
                    });
                if result.is_err() {
                    break;
                }
            }
            release.durations.push((
                "post-deploy hooks".into(),
                post_started.elapsed().as_secs_f64(),
            ));
            result
        }
        other => other,
    };

    match result {
        Ok(()) => {
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
                delete_object(cluster, obj, ns)
                    .await
                    .during(format!("pruning {}", object_label(obj)))?;
            }
            report(Event::Recorded {
                revision,
                status: release.status,
            });
            Ok(Outcome::Deployed { revision })
        }
        Err(diagnosis) => {
            report(Event::Failed(diagnosis.clone()));
            release.status = ReleaseStatus::Failed;
            release.outcome = format!(
                "{}: {}: {}",
                diagnosis.workload, diagnosis.reason, diagnosis.message
            );
            release.finished = Some(now());
            let rollback_to = previous.filter(|_| input.rollback_on_failure);
            let Some(prev) = rollback_to else {
                write_record(cluster, &release)
                    .await
                    .during(format!("recording revision {revision}"))?;
                report(Event::Recorded {
                    revision,
                    status: release.status,
                });
                return Ok(Outcome::Failed {
                    revision,
                    diagnosis,
                    rollback_failed: None,
                });
            };
            report(Event::RollingBack {
                to_revision: prev.revision,
            });
            match restore(cluster, input, &prev, report).await {
                Ok(()) => {
                    // What only the failed release had goes too: the previous release
                    // is restored exactly.
                    let added = prune_candidates(Some(&release), &prev.manifest, &releases, ns);
                    for obj in added.iter().rev() {
                        if obj.get("kind").and_then(Value::as_str) != Some("Namespace") {
                            delete_object(cluster, obj, ns)
                                .await
                                .during(format!("removing {}", object_label(obj)))?;
                        }
                    }
                    release.status = ReleaseStatus::RolledBack;
                    release.outcome =
                        format!("{}; revision {} restored", release.outcome, prev.revision);
                    write_record(cluster, &release)
                        .await
                        .during(format!("recording revision {revision}"))?;
                    report(Event::Recorded {
                        revision,
                        status: release.status,
                    });
                    Ok(Outcome::RolledBack {
                        revision,
                        restored: prev.revision,
                        diagnosis,
                    })
                }
                Err(rollback) => {
                    release.outcome = format!(
                        "{}; restoring revision {} failed too: {}: {}",
                        release.outcome, prev.revision, rollback.reason, rollback.message
                    );
                    write_record(cluster, &release)
                        .await
                        .during(format!("recording revision {revision}"))?;
                    report(Event::Recorded {
                        revision,
                        status: release.status,
                    });
                    Ok(Outcome::Failed {
                        revision,
                        diagnosis,
                        rollback_failed: Some(rollback),
                    })
                }
            }
        }
    }
}

/// Records a release that stopped before any workload changed as failed.
async fn record_stopped(
    cluster: &Arc<Cluster>,
    release: &mut Release,
    outcome: String,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), DeployError> {
    release.status = ReleaseStatus::Failed;
    release.outcome = outcome;
    release.finished = Some(now());
    write_record(cluster, release)
        .await
        .during(format!("recording revision {}", release.revision))?;
    report(Event::Recorded {
        revision: release.revision,
        status: release.status,
    });
    Ok(())
}

/// `work`, unless `interrupt` is cancelled first (then `None`, and `work` is dropped).
async fn unless_interrupted<T>(
    interrupt: &CancellationToken,
    work: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        biased;
        () = interrupt.cancelled() => None,
        result = work => Some(result),
    }
}

/// The failure of a release whose `what` was interrupted before `until`.
fn interrupted(what: &str, until: &str) -> Box<Diagnosis> {
    Box::new(Diagnosis {
        workload: what.into(),
        reason: INTERRUPTED.into(),
        message: format!("stopped by Ctrl-C or SIGTERM before {until}"),
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
    })
}

/// What a release would change.
struct Prepared {
    /// The release's objects, in their namespace, in apply order.
    objects: Vec<Value>,
    /// One entry per object, in the same order.
    plan: Vec<Planned>,
    /// Each object as the cluster has it, in the same order.
    live: Vec<Option<Value>>,
    /// What the current release has that this one does not, in apply order.
    prune: Vec<Value>,
}

/// Plans a release against the cluster and reports the plan; writes nothing.
async fn prepare(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    releases: &[Release],
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Prepared, DeployError> {
    let ns = &input.namespace;
    let mut objects = input.objects.clone();
    for o in &mut objects {
        set_namespace_if_namespaced(o, ns);
    }
    order::sort_for_apply(&mut objects);
    let (plan, live) = plan(cluster, &objects, ns).await?;
    let prune = prune_candidates(record::current(releases), &objects, releases, ns);
    report(Event::Planned(plan.clone()));
    if !prune.is_empty() {
        report(Event::Pruning(prune.iter().map(object_label).collect()));
    }
    Ok(Prepared {
        objects,
        plan,
        live,
        prune,
    })
}

/// Re-applies a recorded release exactly and follows it with a fresh time budget.
async fn restore(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    prev: &Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let ns = &input.namespace;
    let since = Timestamp::now();
    let objects = record::reappliable(&prev.manifest);
    let workloads: Vec<Workload> = objects.iter().filter_map(|o| Workload::of(o, ns)).collect();
    if let Err(e) = apply_all(cluster, &objects, ns, None, report).await {
        return Err(Box::new(Diagnosis {
            workload: "apply".into(),
            reason: "ApplyFailed".into(),
            message: e.to_string(),
            pod: None,
            container: None,
            events: vec![],
            logs: vec![],
        }));
    }
    let options = TrackOptions {
        timeout: input.timeout,
        crashloop_tolerance: input.crashloop_tolerance,
        since,
        settle: input.settle,
    };
    let progress = |p: &Progress| report(Event::Progress(p.clone()));
    track::track(cluster, ns, &workloads, &options, &progress).await
}

/// How many requests a release keeps in flight: enough to hide the round trips of a
/// remote API server, few enough not to be throttled by it.
const IN_FLIGHT: usize = 8;

/// Server-side dry run of every object, compared with the cluster; several objects at a
/// time. Returns the plan and each object as the cluster had it.
async fn plan(
    cluster: &Arc<Cluster>,
    objects: &[Value],
    ns: &str,
) -> Result<(Vec<Planned>, Vec<Option<Value>>), DeployError> {
    let results: Vec<Result<(Planned, Option<Value>), DeployError>> = stream::iter(objects)
        .map(|obj| async move {
            let step = || format!("planning {}", object_label(obj));
            let live = get_live(cluster, obj, ns).await.during(step())?;
            let change = match &live {
                None => Change::Create,
                Some(live) => {
                    let dry = cluster.apply(obj, ns, true, true).await.during(step())?;
                    let fields = changed_fields(live, &dry);
                    if fields.is_empty() {
                        Change::Unchanged
                    } else {
                        Change::Update(fields)
                    }
                }
            };
            let planned = Planned {
                object: object_label(obj),
                change,
            };
            Ok((planned, live))
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut plan = Vec::with_capacity(objects.len());
    let mut live = Vec::with_capacity(objects.len());
    for r in results {
        let (p, l) = r?;
        plan.push(p);
        live.push(l);
    }
    Ok((plan, live))
}

async fn get_live(
    cluster: &Arc<Cluster>,
    obj: &Value,
    ns: &str,
) -> Result<Option<Value>, ClusterError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = object_name(obj).unwrap_or("");
    cluster
        .get(api_version, kind, object_namespace(obj).unwrap_or(ns), name)
        .await
}

/// Applies every object in dependency order — the objects of one kind at the same time,
/// kinds one after the other; a conflict with another manager is reported and the
/// fields are taken back. `before` is each object as the plan read it (read again when
/// absent). Returns the workloads whose spec changed.
async fn apply_all(
    cluster: &Arc<Cluster>,
    objects: &[Value],
    ns: &str,
    before: Option<Vec<Option<Value>>>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Vec<Workload>, DeployError> {
    let mut before = before.map(Vec::into_iter);
    let mut items = Vec::with_capacity(objects.len());
    for obj in objects {
        let known = before.as_mut().map(|it| it.next().flatten());
        items.push((obj, known));
    }
    let mut changed = Vec::new();
    let mut rest = &mut items[..];
    while !rest.is_empty() {
        let rank = order::rank(crate::value::kind(rest[0].0));
        let len = rest
            .iter()
            .position(|(o, _)| order::rank(crate::value::kind(o)) != rank)
            .unwrap_or(rest.len());
        let (tier, tail) = rest.split_at_mut(len);
        rest = tail;
        let results: Vec<Result<Option<Workload>, DeployError>> = stream::iter(tier.iter_mut())
            .map(|(obj, known)| {
                let known = known.take();
                async move {
                    apply_one(cluster, obj, ns, known, report)
                        .await
                        .during(format!("applying {}", object_label(obj)))
                }
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        for r in results {
            changed.extend(r?);
        }
    }
    Ok(changed)
}

/// Applies one object; `before` is `Some` when the plan already read it. Returns the
/// workload when its spec changed.
async fn apply_one(
    cluster: &Arc<Cluster>,
    obj: &Value,
    ns: &str,
    before: Option<Option<Value>>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Option<Workload>, ClusterError> {
    let before = match before {
        Some(known) => known,
        None => get_live(cluster, obj, ns).await?,
    };
    let applied = match cluster.apply(obj, ns, false, false).await {
        Ok(applied) => applied,
        Err(ClusterError::Conflict { fields, .. }) => {
            report(Event::Conflict {
                object: object_label(obj),
                fields,
            });
            cluster.apply(obj, ns, true, false).await?
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
    // The plan's copy may be older than the apply (hooks ran in between): a generation
    // that moved for another reason only means one more workload is followed.
    let generation_moved = before.as_ref().map(generation) != Some(generation(&applied));
    report(Event::Applied {
        object: object_label(obj),
        change,
    });
    Ok(Workload::of(obj, ns).filter(|_| generation_moved))
}

fn generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

async fn delete_object(cluster: &Arc<Cluster>, obj: &Value, ns: &str) -> Result<(), ClusterError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = object_name(obj).unwrap_or("");
    cluster
        .delete(api_version, kind, object_namespace(obj).unwrap_or(ns), name)
        .await
}

/// Runs a hook Job to completion under a name unique to the release.
async fn run_hook(
    cluster: &Arc<Cluster>,
    ns: &str,
    hook: &Hook,
    revision: u64,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let mut job = hook.job.clone();
    let base = object_name(&job).unwrap_or(&hook.name).to_string();
    let name = format!("{base}-r{revision}");
    job["metadata"]["name"] = json!(name);
    set_namespace_if_namespaced(&mut job, ns);
    report(Event::HookStarted {
        name: hook.name.clone(),
        job: name.clone(),
    });
    let workload = Workload {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        namespace: ns.to_string(),
        name: name.clone(),
    };
    let since = Timestamp::now();
    // A Job of the same release may exist from an interrupted run: apply is idempotent.
    if let Err(e) = cluster.apply(&job, ns, true, false).await {
        return Err(Box::new(Diagnosis {
            workload: workload.label(),
            reason: "ApplyFailed".into(),
            message: e.to_string(),
            pod: None,
            container: None,
            events: vec![],
            logs: vec![],
        }));
    }
    let options = TrackOptions {
        timeout: hook.timeout,
        crashloop_tolerance: u32::MAX,
        since,
        settle: Duration::ZERO,
    };
    let progress = |p: &Progress| report(Event::Progress(p.clone()));
    let result = track::track(
        cluster,
        ns,
        std::slice::from_ref(&workload),
        &options,
        &progress,
    )
    .await;
    let logs = job_logs(cluster, ns, &name).await;
    report(Event::HookFinished {
        name: hook.name.clone(),
        logs: logs.clone(),
    });
    match result {
        Ok(()) => Ok(()),
        Err(mut d) => {
            if d.logs.is_empty() {
                d.logs = logs;
            }
            Err(d)
        }
    }
}

async fn job_logs(cluster: &Arc<Cluster>, ns: &str, job: &str) -> Vec<String> {
    let pods = cluster
        .list("v1", "Pod", ns, &format!("job-name={job}"))
        .await
        .unwrap_or_default();
    let mut lines = Vec::new();
    for pod in pods {
        if let Some(name) = object_name(&pod) {
            lines.extend(track::last_logs(cluster, ns, name, None).await);
        }
    }
    lines
}

/// Objects of the previous release that this one no longer has. ConfigMaps and Secrets
/// that any kept record still refers to stay, so that a rollback finds them.
fn prune_candidates(
    previous: Option<&Release>,
    objects: &[Value],
    all: &[Release],
    ns: &str,
) -> Vec<Value> {
    let Some(previous) = previous else {
        return vec![];
    };
    let key = |o: &Value| {
        (
            o.get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            o.get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            object_namespace(o).unwrap_or(ns).to_string(),
            object_name(o).unwrap_or("").to_string(),
        )
    };
    let wanted: BTreeSet<_> = objects.iter().map(key).collect();
    let kept_config: BTreeSet<_> = all
        .iter()
        .filter(|r| r.revision != previous.revision)
        .flat_map(|r| r.manifest.iter())
        .filter(|o| {
            matches!(
                o.get("kind").and_then(Value::as_str),
                Some("ConfigMap" | "Secret")
            )
        })
        .map(key)
        .collect();
    let mut prune: Vec<Value> = previous
        .manifest
        .iter()
        .filter(|o| !wanted.contains(&key(o)))
        .filter(|o| {
            let k = key(o);
            !(matches!(k.1.as_str(), "ConfigMap" | "Secret") && kept_config.contains(&k))
        })
        .cloned()
        .collect();
    order::sort_for_apply(&mut prune);
    prune
}

/// Cluster-scoped kinds never get a namespace.
fn set_namespace_if_namespaced(obj: &mut Value, ns: &str) {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if slipway_render::release::CLUSTER_SCOPED.contains(&kind) {
        return;
    }
    if object_namespace(obj).is_none() {
        obj["metadata"]["namespace"] = json!(ns);
    }
}

async fn write_record(cluster: &Arc<Cluster>, release: &Release) -> Result<(), ClusterError> {
    let secret = record::to_secret(release);
    cluster
        .apply(&secret, &release.namespace, true, false)
        .await
        .map(|_| ())
}

fn object_label(obj: &Value) -> String {
    format!(
        "{}/{}",
        obj.get("kind").and_then(Value::as_str).unwrap_or("?"),
        object_name(obj).unwrap_or("?")
    )
}

fn now() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release_with(revision: u64, objects: Vec<Value>) -> Release {
        Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "shop".into(),
            revision,
            status: ReleaseStatus::Deployed,
            started: String::new(),
            finished: None,
            user: String::new(),
            git_commit: None,
            git_dirty: false,
            images: vec![],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: String::new(),
            manifest: objects,
        }
    }

    fn obj(kind: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}})
    }

    #[test]
    fn prune_removes_what_the_new_release_dropped_but_keeps_config_older_records_use() {
        let older = release_with(1, vec![obj("ConfigMap", "cfg-aaa")]);
        let previous = release_with(
            2,
            vec![
                obj("ConfigMap", "cfg-aaa"),
                obj("ConfigMap", "cfg-bbb"),
                obj("Service", "old"),
            ],
        );
        let now = vec![obj("ConfigMap", "cfg-ccc")];
        let prune = prune_candidates(Some(&previous), &now, &[older, previous.clone()], "shop");
        let names: Vec<&str> = prune.iter().map(|o| object_name(o).unwrap()).collect();
        assert_eq!(names, ["cfg-bbb", "old"]);
    }

    #[test]
    fn namespaces_are_set_only_on_namespaced_kinds() {
        let mut ns = obj("Namespace", "shop");
        set_namespace_if_namespaced(&mut ns, "shop");
        assert!(ns["metadata"].get("namespace").is_none());
        let mut svc = obj("Service", "api");
        set_namespace_if_namespaced(&mut svc, "shop");
        assert_eq!(svc["metadata"]["namespace"], "shop");
    }
}

//! One release into one namespace, in order, stopping at the first failure with nothing
//! half-done. [`deploy`] reads as the list of its steps; each step has its own module:
//!
//! 1. take the deploy lock (a Lease; a dead deploy's lease is taken over once expired, or
//!    at once when its process of this same machine no longer exists);
//! 2. read the release records; a record a killed deploy left `pending` is concluded
//!    ([`conclude::pending`]);
//! 3. plan ([`plan`]): server-side dry run of every object, compared with what the
//!    cluster has (a dry run does only this, without the lock or concluding records: it
//!    writes nothing);
//! 4. record the new revision as `pending`;
//! 5. pre-deploy hooks ([`hooks`]): wait for the hook Jobs of earlier releases that still
//!    run (a killed deploy's migration), then run the migration Jobs to completion under
//!    names unique to the release — a failed hook stops the release before any workload
//!    changes;
//! 6. apply and track ([`rollout`]): every object in dependency order with server-side
//!    apply (a field another manager changed, such as `kubectl set image`, is reported,
//!    then taken back), then every workload of the release — changed by this run or not,
//!    since a killed deploy may have applied the same spec — until they are all current,
//!    or a failure is certain, or the time budget is spent;
//! 7. post-deploy hooks (smoke tests), whose failure fails the release;
//! 8. conclude ([`conclude`]): on success record `deployed`, supersede the previous
//!    release, prune what the previous release had and this one does not; on failure
//!    record `failed`, and unless told otherwise re-apply the previous release exactly
//!    (the same apply-and-track step, with a fresh time budget) and record both outcomes.
//!
//! The lock is released at the end whatever happened. A new step (a canary phase, a
//! blue-green switch) is a module of its own called from [`deploy_locked`].
//!
//! A canary step without a pause ends the run early: the release is recorded `paused`
//! with its step ([`record::PausedAt`]), its canary left at that weight, and nothing is
//! concluded. [`run`] with [`Mode::Resume`] continues it later (from any machine: the
//! record holds its objects) from the next step, and [`Mode::Abort`] removes its canary
//! and concludes it as failed; a new release is refused while one is paused.

mod analysis;
mod bluegreen;
mod canary;
mod conclude;
mod copies;
mod hooks;
mod plan;
mod rollout;
mod warnings;
mod window;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::cluster::{Apply, Cluster, ClusterError, object_name, object_namespace};
use crate::fielddiff::FieldChange;
use crate::lock::{self, LockError, TakeOver};
use crate::record::{self, PausedAt, Release, ReleaseImage, ReleaseStatus};
use crate::track::{Diagnosis, Progress};

pub use analysis::{ANALYSIS_OF, Check, Measured, Provider, Verdict};
pub use bluegreen::{BlueGreen, PREVIEW_OF, ROLLBACK_REQUESTED};
pub use canary::{CANARY_OF, Canary, CanaryStep, CanaryTraffic};
pub use warnings::WARNING_EVENT;
pub use window::{Conclusion, SwitchedBack, await_conclusion, switch_back};

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
    /// Deletes the Job once it succeeded (a chart's `hook-delete-policy: hook-succeeded`).
    pub delete_on_success: bool,
    /// Deletes the Job once it failed, after its logs were read (`hook-failed`).
    pub delete_on_failure: bool,
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
    /// Deployments rolled out as canaries when their pod template changes.
    pub canaries: Vec<Canary>,
    /// Deployments rolled out blue-green when their pod template changes.
    pub blue_greens: Vec<BlueGreen>,
    /// Objects (`Kind/name`) deleted and created again when the release changes a field
    /// that cannot change in place.
    pub recreate: Vec<String>,
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
    /// Deleted and created again: the release changes a field the cluster does not let
    /// change in place (the server's message), and the object is in `recreate`.
    Recreate(String),
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
        took_over_from: Option<TakeOver>,
    },
    Concluded {
        revision: u64,
    },
    Planned(Vec<Planned>),
    Pruning(Vec<String>),
    /// Objects of a Helm release (`app.kubernetes.io/managed-by: Helm` with
    /// `meta.helm.sh/release-name`) this release takes over, as `(Kind/name, release)`:
    /// they are applied with force, whoever owned their fields.
    Adopting(Vec<(String, String)>),
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
    /// A canary step started: `replicas` canary pods take `weight` percent of the
    /// traffic, watched for `pause`.
    CanaryStep {
        deployment: String,
        step: usize,
        steps: usize,
        weight: u32,
        replicas: u64,
        /// `None`: the release pauses at this step once its pods are ready.
        pause: Option<Duration>,
    },
    /// A canary failed or was interrupted; its objects were removed (unless `removed` is
    /// false), so all traffic is on the stable pods.
    CanaryAborted {
        deployment: String,
        removed: bool,
    },
    /// Every step passed: the Deployment itself is rolled to the new version.
    CanaryPromoted {
        deployment: String,
    },
    /// The new version of a blue-green Deployment runs behind its preview Service.
    BlueGreenPreview {
        deployment: String,
        preview_service: String,
    },
    /// The active Service was switched to the new version in one write; the previous
    /// version's pods stay for `delay`.
    BlueGreenSwitched {
        deployment: String,
        service: String,
        delay: Duration,
    },
    /// A blue-green release failed: the active Service was switched back to the
    /// previous version (unless `switched_back` is false) and the preview removed.
    BlueGreenAborted {
        deployment: String,
        switched_back: bool,
    },
    /// `rollback` switched the active Service of a release inside its scale-down delay
    /// back to the previous version's pods, in one write.
    SwitchedBack {
        revision: u64,
        deployment: String,
        service: String,
    },
    /// One measurement of an analysis check, passed or not.
    Measured(Measured),
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
    /// The release stopped at a canary step without a pause and is recorded `paused`:
    /// the canary's objects run at that step's weight until `deploy --resume` or `abort`.
    Paused {
        revision: u64,
        at: PausedAt,
    },
}

/// What [`run`] does under the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A new release.
    Deploy,
    /// Continues the paused release (its recorded objects) after the step it paused at.
    Resume,
    /// Removes the paused release's canary and records it failed ("aborted by USER");
    /// the previous release is restored under `rollback-on-failure`.
    Abort,
}

/// The [`Diagnosis::reason`] of a paused release that `abort` stopped.
pub const ABORTED: &str = "Aborted";

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
    /// A record's blue-green window names a Service its manifest lacks (edited by hand).
    #[error("revision {revision} records no service `{service}` to switch back")]
    UnknownService { revision: u64, service: String },
    /// The deploy of a release switched back by `rollback` did not conclude it in time.
    #[error(
        "revision {revision} is still concluded by `{holder}`, which holds the lock; its traffic is back on the previous version"
    )]
    StillRunning { revision: u64, holder: String },
    /// Interrupted before any workload changed.
    #[error("interrupted {during}; no workload was changed")]
    Interrupted { during: String },
    /// The identity of the kubeconfig context may not do what the release needs (each
    /// `verb resource in namespace`), found before anything was written.
    #[error("this identity may not {}; nothing was written", .denied.join(" nor "))]
    Forbidden { denied: Vec<String> },
    /// The cluster refuses an object of the release as it is (an invalid name, a value
    /// too large, a kind it does not serve), found before any hook ran or any object was
    /// applied: running the same release again cannot succeed.
    #[error("the cluster refuses `{object}`: {message}")]
    Refused { object: String, message: String },
    /// A release is paused at a canary step: a new release would stack on it.
    #[error("revision {revision} is paused at {}", .at.line())]
    Paused { revision: u64, at: PausedAt },
    /// `deploy --resume` or `abort` found no paused release.
    #[error("no release is paused in `{namespace}`")]
    NothingPaused { namespace: String },
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

/// How many requests a release keeps in flight: enough to hide the round trips of a
/// remote API server, few enough not to be throttled by it.
const IN_FLIGHT: usize = 8;

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
    run(cluster, input, Mode::Deploy, report).await
}

/// Runs one release ([`Mode::Deploy`], see [`deploy`]), or continues or aborts the
/// paused one under the lock. For [`Mode::Resume`] and [`Mode::Abort`], `input.objects`
/// are the paused release's recorded objects and `input.canaries` its canaries.
///
/// # Errors
///
/// As [`deploy`]; [`DeployError::NothingPaused`] when resuming or aborting finds no
/// paused release.
pub async fn run(
    cluster: Arc<Cluster>,
    input: DeployInput,
    mode: Mode,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    // A kind the cluster does not serve is refused before anything is written.
    timed("served kinds", plan::served_kinds(&cluster, &input.objects)).await?;
    if input.dry_run {
        return plan::dry_run(&cluster, &input, report).await;
    }
    // So is a right the identity lacks: not even the lock is taken.
    timed("rights", plan::rights(&cluster, &input)).await?;
    timed("namespace", ensure_namespace(&cluster, &input.namespace)).await?;
    let me = lock::holder_identity(&input.user);
    let acquire = lock::acquire(
        Arc::clone(&cluster),
        &input.app,
        &input.namespace,
        &me,
        input.wait_lock,
    );
    let guard = timed("lock", unless_interrupted(&input.interrupt, acquire))
        .await
        .ok_or_else(|| DeployError::Interrupted {
            during: "while waiting for the lock".into(),
        })??;
    report(Event::LockTaken {
        took_over_from: guard.took_over_from.clone(),
    });
    let result = match mode {
        Mode::Deploy => deploy_locked(&cluster, &input, report).await,
        Mode::Resume => resume_locked(&cluster, &input, report).await,
        Mode::Abort => abort_locked(&cluster, &input, report).await,
    };
    // The lock is released whatever happened; a failure to release only means the
    // lease expires by itself.
    let _ = guard.release().await;
    result
}

/// The target namespace is part of the environment: it is created when missing.
async fn ensure_namespace(cluster: &Arc<Cluster>, ns: &str) -> Result<(), DeployError> {
    if cluster.get("v1", "Namespace", "", ns).await?.is_some() {
        return Ok(());
    }
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": "slipway"}},
    });
    cluster
        .apply(&namespace, ns, Apply::Strict)
        .await
        .during(format!("creating namespace `{ns}`"))?;
    Ok(())
}

/// Whether the cluster refused a change of a field that cannot change in place.
fn is_immutable(e: &ClusterError) -> bool {
    matches!(e, ClusterError::Api { code: 422, message, .. } if message.contains("field is immutable"))
}

/// The steps of a release once the lock is held.
async fn deploy_locked(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let records = history(cluster, &input.app, &input.environment, &input.namespace);
    let mut releases = timed("records", records)
        .await
        .during("reading the release records")?;
    conclude::pending(cluster, &mut releases, report).await?;
    if let Some(paused) = record::paused(&releases) {
        return Err(DeployError::Paused {
            revision: paused.revision,
            at: paused.paused.clone().unwrap_or_else(unknown_pause),
        });
    }
    let previous = record::current(&releases).cloned();
    let prepared = timed("plan", plan::prepare(cluster, input, &releases, report)).await?;
    let pending = record_pending(cluster, input, &releases, &prepared.objects);
    let mut release = timed("pending record", pending).await?;

    timed(
        "pre-deploy hooks",
        hooks::pre_deploy(cluster, input, &mut release, report),
    )
    .await?;
    // Interrupted while planning or between hooks: stop before anything is applied.
    if input.interrupt.is_cancelled() {
        let outcome = "interrupted before anything was applied".to_owned();
        conclude::stopped(cluster, &mut release, outcome, report).await?;
        return Err(DeployError::Interrupted {
            during: "before anything was applied".into(),
        });
    }

    let canaries = canary::applicable(input, &prepared.plan);
    let blue_greens = bluegreen::applicable(input, &prepared.plan);
    let result = if canaries.is_empty() && blue_greens.is_empty() {
        let rollout_started = Instant::now();
        let objects = &prepared.objects;
        let before = Some(prepared.live);
        let mut result =
            rollout::apply_and_track(cluster, input, objects, before, true, report).await;
        release
            .durations
            .push(("rollout".into(), rollout_started.elapsed().as_secs_f64()));
        // A canary or preview a killed release left behind still runs: it goes now.
        for canary in &input.canaries {
            if result.is_ok() {
                result = canary::remove(cluster, input, canary, objects).await;
            }
        }
        for bg in &input.blue_greens {
            if result.is_ok() {
                result = bluegreen::remove(cluster, input, bg).await;
            }
        }
        result.map(|()| None)
    } else {
        let strategies = Strategies {
            canaries: &canaries,
            blue_greens: &blue_greens,
        };
        progressive_rollout(
            cluster,
            input,
            &prepared.objects,
            strategies,
            None,
            &mut release,
            report,
        )
        .await
    };
    let concluding = conclude::Concluding {
        release,
        previous,
        prune: prepared.prune,
        releases,
    };
    after_rollout(cluster, input, concluding, result, report).await
}

/// The end of a rollout: paused (recorded so, nothing concluded), or the post-deploy
/// hooks and the conclusion.
async fn after_rollout(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    mut concluding: conclude::Concluding,
    result: Result<Option<PausedAt>, Box<Diagnosis>>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let result = match result {
        Ok(Some(at)) => {
            let release = &mut concluding.release;
            release.status = ReleaseStatus::Paused;
            release.outcome = format!("paused at {}", at.line());
            release.paused = Some(at.clone());
            write_record(cluster, release)
                .await
                .during(format!("recording revision {} as paused", release.revision))?;
            report(Event::Recorded {
                revision: release.revision,
                status: release.status,
            });
            return Ok(Outcome::Paused {
                revision: release.revision,
                at,
            });
        }
        Ok(None) => hooks::post_deploy(cluster, input, &mut concluding.release, report).await,
        Err(failed) => Err(failed),
    };
    timed(
        "conclude",
        conclude::finish(cluster, input, concluding, result, report),
    )
    .await
}

/// A paused record without its step (written by hand): named as such.
fn unknown_pause() -> PausedAt {
    PausedAt {
        deployment: "?".into(),
        step: 0,
        steps: 0,
        weight: 0,
        replicas: 0,
        since: String::new(),
        measurements: vec![],
    }
}

/// The paused release of a namespace, for `deploy --resume` and `abort`.
struct Paused {
    /// Every release of the namespace, interrupted ones concluded.
    releases: Vec<Release>,
    release: Release,
    at: PausedAt,
    /// The current (deployed) release, restored if the paused one fails.
    previous: Option<Release>,
}

/// Reads the namespace's records (concluding interrupted releases) and finds the paused
/// one.
///
/// # Errors
///
/// [`DeployError::NothingPaused`] when no release is paused; a cluster error.
async fn paused_release(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Paused, DeployError> {
    let records = history(cluster, &input.app, &input.environment, &input.namespace);
    let mut releases = timed("records", records)
        .await
        .during("reading the release records")?;
    conclude::pending(cluster, &mut releases, report).await?;
    let Some(release) = record::paused(&releases).cloned() else {
        return Err(DeployError::NothingPaused {
            namespace: input.namespace.clone(),
        });
    };
    let at = release.paused.clone().unwrap_or_else(unknown_pause);
    let previous = record::current(&releases).cloned();
    Ok(Paused {
        releases,
        release,
        at,
        previous,
    })
}

/// `deploy --resume`: the paused release continues with its recorded objects from the
/// step after the one it paused at, through the promotion, and is concluded as any
/// release.
async fn resume_locked(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let Paused {
        releases,
        release: paused,
        at,
        previous,
    } = paused_release(cluster, input, report).await?;
    let prepared = timed("plan", plan::prepare(cluster, input, &releases, report)).await?;
    let mut release = paused;
    // Pending again while it runs: a killed resume is concluded by the next deploy.
    release.status = ReleaseStatus::Pending;
    release.paused = None;
    write_record(cluster, &release)
        .await
        .during(format!("recording revision {}", release.revision))?;
    let canaries: Vec<&Canary> = input
        .canaries
        .iter()
        .filter(|c| {
            c.deployment == at.deployment || canary::template_changes(&prepared.plan, &c.deployment)
        })
        .collect();
    let blue_greens = bluegreen::applicable(input, &prepared.plan);
    let strategies = Strategies {
        canaries: &canaries,
        blue_greens: &blue_greens,
    };
    let result = progressive_rollout(
        cluster,
        input,
        &prepared.objects,
        strategies,
        Some((&at.deployment, at.step)),
        &mut release,
        report,
    )
    .await;
    let concluding = conclude::Concluding {
        release,
        previous,
        prune: prepared.prune,
        releases,
    };
    after_rollout(cluster, input, concluding, result, report).await
}

/// `abort`: the paused release's canaries are removed — all traffic back on the stable
/// pods — and it is recorded failed, "aborted by USER"; the previous release is then
/// restored under `rollback-on-failure` (what the paused release applied beside the
/// canary goes).
async fn abort_locked(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let Paused {
        releases,
        release: paused,
        at,
        previous,
    } = paused_release(cluster, input, report).await?;
    let mut objects = input.objects.clone();
    for o in &mut objects {
        set_namespace_if_namespaced(o, &input.namespace);
    }
    let mut removed = Ok(());
    for canary in &input.canaries {
        let r = canary::remove(cluster, input, canary, &objects).await;
        report(Event::CanaryAborted {
            deployment: canary.deployment.clone(),
            removed: r.is_ok(),
        });
        if removed.is_ok() {
            removed = r;
        }
    }
    let mut release = paused;
    release.paused = None;
    let aborted = Box::new(Diagnosis {
        workload: format!("canary of deployment/{}", at.deployment),
        reason: ABORTED.into(),
        message: format!("aborted by {} at {}", input.user, at.line()),
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
        check: None,
    });
    let result = match removed {
        Ok(()) => Err(aborted),
        Err(mut failed) => {
            failed.message = format!("{}; {}", aborted.message, failed.message);
            Err(failed)
        }
    };
    let concluding = conclude::Concluding {
        release,
        previous,
        prune: vec![],
        releases,
    };
    timed(
        "conclude",
        conclude::finish(cluster, input, concluding, result, report),
    )
    .await
}

/// Awaits one step of a release and logs how long it took, at debug level under the
/// target `slipway::timing` (`SLIPWAY_LOG=slipway::timing=debug`): where a release's
/// own time goes, apart from the time its pods take.
async fn timed<T>(step: &str, future: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = future.await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(target: "slipway::timing", step, ms = format!("{ms:.1}"));
    out
}

/// The Deployments of a release that roll out by a strategy.
#[derive(Clone, Copy)]
struct Strategies<'a> {
    canaries: &'a [&'a Canary],
    blue_greens: &'a [&'a BlueGreen],
}

impl Strategies<'_> {
    /// Whether `obj` waits for its strategy: a canary's or blue-green's Deployment, or a
    /// blue-green's active Service (whose selector the switch writes).
    fn holds_back(&self, obj: &Value) -> bool {
        let kind = obj.get("kind").and_then(Value::as_str);
        let name = object_name(obj);
        let deployment = |d: &str| kind == Some("Deployment") && name == Some(d);
        self.canaries.iter().any(|c| deployment(&c.deployment))
            || self.blue_greens.iter().any(|b| {
                deployment(&b.deployment)
                    || (kind == Some("Service") && name == Some(b.service.as_str()))
            })
    }
}

/// A release with canaries or blue-green Deployments: every other object is applied and
/// tracked first, the stable Deployments keep running as they are; then each canary
/// runs its steps and each blue-green its preview and switch; then the Deployments
/// themselves are rolled (a blue-green one without traffic, its Service still on the
/// preview), the whole release is applied (the Services get their rendered selectors)
/// and the canaries' and previews' objects are removed. A failing strategy stops the
/// release there: its objects are removed, traffic is back on the stable pods, and the
/// Deployments are as they were.
async fn progressive_rollout(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    objects: &[Value],
    strategies: Strategies<'_>,
    resume: Option<(&str, usize)>,
    release: &mut Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Option<PausedAt>, Box<Diagnosis>> {
    let Strategies {
        canaries,
        blue_greens,
    } = strategies;
    let started = Instant::now();
    let others: Vec<Value> = objects
        .iter()
        .filter(|o| !strategies.holds_back(o))
        .cloned()
        .collect();
    rollout::apply_and_track(cluster, input, &others, None, true, report).await?;
    release
        .durations
        .push(("rollout".into(), started.elapsed().as_secs_f64()));
    // What passed so far, undone if a later strategy fails.
    let mut switched: Vec<(&BlueGreen, String)> = Vec::new();
    let undo = async |passed_canaries: &[&Canary], switched: &[(&BlueGreen, String)]| {
        for canary in passed_canaries {
            let _ = canary::remove(cluster, input, canary, objects).await;
        }
        for (bg, stable) in switched {
            bluegreen::revert(cluster, input, bg, objects, stable, report).await;
        }
    };
    // A resumed release skips the canaries that passed before the pause (their objects
    // still run) and continues the paused one after its step.
    let first = resume.map_or(0, |(deployment, _)| {
        canaries
            .iter()
            .position(|c| c.deployment == deployment)
            .unwrap_or(0)
    });
    for (i, canary) in canaries.iter().enumerate().skip(first) {
        let canary_started = Instant::now();
        let from = match resume {
            Some((deployment, step)) if canary.deployment == deployment => step,
            _ => 0,
        };
        let result = canary::run(
            cluster,
            input,
            canary,
            objects,
            release.revision,
            from,
            report,
        )
        .await;
        release.durations.push((
            format!("canary {}", canary.deployment),
            canary_started.elapsed().as_secs_f64(),
        ));
        match result {
            Err(failure) => {
                undo(&canaries[..i], &switched).await;
                return Err(failure);
            }
            Ok(Some(paused)) => return Ok(Some(paused)),
            Ok(None) => {}
        }
        report(Event::CanaryPromoted {
            deployment: canary.deployment.clone(),
        });
    }
    for bg in blue_greens {
        let bg_started = Instant::now();
        let result = bluegreen::run(cluster, input, bg, objects, release, report).await;
        release.durations.push((
            format!("blue-green {}", bg.deployment),
            bg_started.elapsed().as_secs_f64(),
        ));
        match result {
            Ok(stable) => switched.push((bg, stable)),
            Err(failure) => {
                undo(canaries, &switched).await;
                return Err(failure);
            }
        }
    }
    let promote_started = Instant::now();
    // The Deployments first: a blue-green's Service still selects its preview's pods. Its
    // rendered selector is applied last, once every pod it selects runs the new version.
    let (services, rest): (Vec<Value>, Vec<Value>) = objects.iter().cloned().partition(|o| {
        o.get("kind").and_then(Value::as_str) == Some("Service")
            && blue_greens
                .iter()
                .any(|b| object_name(o) == Some(b.service.as_str()))
    });
    let mut promoted = rollout::apply_and_track(cluster, input, &rest, None, true, report).await;
    if promoted.is_ok() && !services.is_empty() {
        promoted = rollout::apply_and_track(cluster, input, &services, None, true, report).await;
    }
    // The canaries' and previews' objects go whatever happened: after a failed promotion
    // the previous release is restored without them.
    let mut removed = Ok(());
    for canary in canaries {
        let r = canary::remove(cluster, input, canary, objects).await;
        if removed.is_ok() {
            removed = r;
        }
    }
    for bg in blue_greens {
        let r = bluegreen::remove(cluster, input, bg).await;
        if removed.is_ok() {
            removed = r;
        }
    }
    release
        .durations
        .push(("promotion".into(), promote_started.elapsed().as_secs_f64()));
    promoted.and(removed).map(|()| None)
}

/// Records the new revision as `pending`, with the objects it applies (Secret values
/// redacted), before anything changes.
async fn record_pending(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    releases: &[Release],
    objects: &[Value],
) -> Result<Release, DeployError> {
    let revision = record::next_revision(releases);
    let release = Release {
        app: input.app.clone(),
        environment: input.environment.clone(),
        namespace: input.namespace.clone(),
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
        manifest: record::redact_secrets(objects),
        failed_check: None,
        paused: None,
        switch_window: None,
    };
    write_record(cluster, &release)
        .await
        .during(format!("recording revision {revision}"))?;
    Ok(release)
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
        check: None,
    })
}

async fn delete_object(cluster: &Arc<Cluster>, obj: &Value, ns: &str) -> Result<(), ClusterError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = object_name(obj).unwrap_or("");
    cluster
        .delete(api_version, kind, object_namespace(obj).unwrap_or(ns), name)
        .await
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
        .apply(&secret, &release.namespace, Apply::Force)
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

    fn obj(kind: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}})
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

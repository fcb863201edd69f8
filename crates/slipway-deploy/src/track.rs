//! Following a rollout from watches until every changed workload is `Current`, one of
//! them certainly failed, or the time budget is spent — whichever comes first.
//!
//! Workloads are read through watches (a resumed or re-listed watch after a dropped
//! connection is handled by `kube_runtime::watcher`); the pods created by this rollout
//! are read the same way, so an image that cannot be pulled or a container that keeps
//! crashing ends the rollout at once, with the pod, the reason, the last events and the
//! last log lines. A one-second clock only re-evaluates time-based rules (an
//! unschedulable pod's grace window, the deadline); nothing polls the API.
//!
//! A watch that fails is restarted with kube-runtime's exponential back-off with jitter
//! (from 0.8 s up to 30 s), never at once; and when no watch has had an answer for
//! [`UNREACHABLE_AFTER`], the cluster counts as unreachable and tracking fails then,
//! whatever time budget is left.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use crate::cluster::{Cluster, ClusterError, object_name};
use crate::diagnose::{self, EventLine, PodProblem};
use crate::status::{self, State};

/// A workload whose rollout is followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Workload {
    pub fn of(obj: &Value, namespace: &str) -> Option<Workload> {
        let kind = obj.get("kind")?.as_str()?;
        if !is_tracked_kind(kind) {
            return None;
        }
        Some(Workload {
            api_version: obj.get("apiVersion")?.as_str()?.to_string(),
            kind: kind.to_string(),
            namespace: crate::cluster::object_namespace(obj)
                .unwrap_or(namespace)
                .to_string(),
            name: object_name(obj)?.to_string(),
        })
    }

    /// `deployment/api`, as kubectl names it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind.to_ascii_lowercase(), self.name)
    }
}

/// Kinds whose rollout takes time and is followed.
pub fn is_tracked_kind(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Job")
}

/// Progress of one workload, as reported while tracking.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub workload: String,
    pub state: State,
    pub message: String,
}

/// Why a rollout failed, root cause first.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// `deployment/api`.
    pub workload: String,
    /// The decisive reason: `ImagePullBackOff`, `CrashLoopBackOff`, `Unschedulable`,
    /// `ProgressDeadlineExceeded`, `BackoffLimitExceeded`, `Timeout`, …
    pub reason: String,
    pub message: String,
    pub pod: Option<String>,
    pub container: Option<String>,
    /// The last events of the pod (or workload), oldest first.
    pub events: Vec<EventLine>,
    /// The last log lines of the failing container.
    pub logs: Vec<String>,
    /// The analysis check whose failure this is, with what it measured.
    pub check: Option<Box<crate::record::FailedCheck>>,
}

impl Diagnosis {
    /// The diagnosis as lines for a terminal: one screen, root cause first.
    pub fn render(&self) -> String {
        let mut out = format!("{}: {}: {}\n", self.workload, self.reason, self.message);
        if let Some(pod) = &self.pod {
            out.push_str(&format!("  pod: {pod}"));
            if let Some(c) = &self.container {
                out.push_str(&format!(" (container `{c}`)"));
            }
            out.push('\n');
        }
        if !self.events.is_empty() {
            out.push_str("  last events:\n");
            for e in &self.events {
                let kind = if e.warning { "Warning" } else { "Normal" };
                let count = if e.count > 1 {
                    format!(" (x{})", e.count)
                } else {
                    String::new()
                };
                out.push_str(&format!("    {kind} {}: {}{count}\n", e.reason, e.message));
            }
        }
        if !self.logs.is_empty() {
            out.push_str("  last log lines:\n");
            for l in &self.logs {
                out.push_str(&format!("    {l}\n"));
            }
        }
        out
    }
}

/// What tracking needs to know besides the workloads.
#[derive(Debug, Clone)]
pub struct TrackOptions {
    pub timeout: Duration,
    pub crashloop_tolerance: u32,
    /// Pods created before this are from an earlier rollout and are not judged.
    pub since: Timestamp,
    /// Once every workload is current, how long their pods are watched more: a
    /// container that restarts in that window fails the rollout. Zero ends at once.
    pub settle: Duration,
}

/// How long every watch may fail without an answer before the cluster counts as
/// unreachable and tracking fails (`ClusterUnreachable`), whatever the timeout.
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(30);

enum Update {
    Workload(usize, Option<Value>),
    Pod(Value),
    PodGone(String),
    Tick,
    /// A watch (re)started or resynced: the cluster answered.
    Restarted,
    /// A watch failed; it is retried after a back-off.
    WatchFailed(String),
}

/// Follows `workloads` (all in one namespace) until they are all current.
///
/// # Errors
///
/// The [`Diagnosis`] of the first certain failure, or of the state at the deadline.
pub async fn track(
    cluster: &Arc<Cluster>,
    namespace: &str,
    workloads: &[Workload],
    options: &TrackOptions,
    on_progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    if workloads.is_empty() {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut streams: Vec<BoxStream<'static, Update>> = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        let api = cluster
            .api(&w.api_version, &w.kind, Some(&w.namespace))
            .await
            .map_err(|e| cluster_failure(w, e))?;
        let config = watcher::Config::default().fields(&format!("metadata.name={}", w.name));
        let s = watcher::watcher(api, config)
            .default_backoff()
            .map(move |event| match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    Update::Workload(i, serde_json::to_value(o).ok())
                }
                Ok(watcher::Event::Delete(_)) => Update::Workload(i, None),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => Update::Restarted,
                Err(e) => Update::WatchFailed(e.to_string()),
            });
        streams.push(s.boxed());
    }
    let pods: Api<DynamicObject> = cluster
        .api("v1", "Pod", Some(namespace))
        .await
        .map_err(|e| cluster_failure(&workloads[0], e))?;
    streams.push(
        watcher::watcher(pods, watcher::Config::default())
            .default_backoff()
            .map(|event| match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    serde_json::to_value(o).map_or(Update::Restarted, Update::Pod)
                }
                Ok(watcher::Event::Delete(o)) => {
                    Update::PodGone(o.metadata.name.unwrap_or_default())
                }
                Ok(watcher::Event::Init | watcher::Event::InitDone) => Update::Restarted,
                Err(e) => Update::WatchFailed(e.to_string()),
            })
            .boxed(),
    );
    let ticks = tokio_stream_interval(Duration::from_secs(1));
    streams.push(ticks);
    let mut updates = stream::select_all(streams);

    let mut current: Vec<Option<Value>> = vec![None; workloads.len()];
    let mut pod_cache: BTreeMap<String, Value> = BTreeMap::new();
    let mut reported: Vec<Option<(State, String)>> = vec![None; workloads.len()];
    // Each workload's state when last judged (`None` until the cluster has shown it).
    let mut judged: Vec<Option<State>> = vec![None; workloads.len()];
    // Each container's restarts when the rollout started (see `restarts_before`): the
    // restarts beyond these count against the crash-loop tolerance.
    let mut at_start: BTreeMap<String, i64> = BTreeMap::new();
    // Once every workload is current with a settle window: when it ends, and each
    // container's restarts at the moment the rollout was ready.
    let mut settling: Option<(tokio::time::Instant, BTreeMap<String, i64>)> = None;
    // Since when every answer was a failure, and the last one.
    let mut failing: Option<(tokio::time::Instant, String)> = None;

    loop {
        let until = settling.as_ref().map_or(deadline, |(end, _)| *end);
        let update = tokio::select! {
            u = updates.next() => u,
            () = tokio::time::sleep_until(until) => None,
        };
        if update.is_none()
            && let Some((end, _)) = &settling
            && tokio::time::Instant::now() >= *end
        {
            let settled = workloads.iter().enumerate().all(|(i, _)| {
                current[i]
                    .as_ref()
                    .is_some_and(|o| status::compute(o, 0.0).state == State::Current)
            });
            if settled {
                return Ok(());
            }
            return Err(Box::new(
                timeout_diagnosis(cluster, workloads, &current, &pod_cache, options).await,
            ));
        }
        match &update {
            Some(Update::WatchFailed(error)) => {
                let since = failing
                    .as_ref()
                    .map_or_else(tokio::time::Instant::now, |f| f.0);
                failing = Some((since, error.clone()));
            }
            Some(Update::Tick) | None => {}
            Some(_) => failing = None,
        }
        if let Some((since, error)) = &failing
            && since.elapsed() >= UNREACHABLE_AFTER
        {
            return Err(Box::new(Diagnosis {
                workload: workloads[0].label(),
                reason: "ClusterUnreachable".into(),
                message: format!(
                    "the cluster has not answered for {}s: {error}",
                    UNREACHABLE_AFTER.as_secs()
                ),
                pod: None,
                container: None,
                events: vec![],
                logs: vec![],
                check: None,
            }));
        }
        // Which workloads this update can change: the one it is about, or those whose
        // selector takes the pod; every one on a tick (what time alone decides, such as
        // a pod pending for too long) and when a watch restarts. Judging only these
        // keeps each event's work small: a release of many workloads sees many events.
        let affected: Vec<usize> = match &update {
            Some(Update::Workload(i, _)) => vec![*i],
            Some(Update::Pod(p)) => selecting(&current, p),
            Some(Update::PodGone(name)) => pod_cache
                .get(name)
                .map_or_else(Vec::new, |p| selecting(&current, p)),
            _ => (0..workloads.len()).collect(),
        };
        match update {
            Some(Update::Workload(i, obj)) => current[i] = obj,
            Some(Update::Pod(p)) => {
                for (key, restarts) in restarts_before(&p, options.since) {
                    at_start.entry(key).or_insert(restarts);
                }
                if let Some(name) = object_name(&p) {
                    pod_cache.insert(name.to_string(), p);
                }
            }
            Some(Update::PodGone(name)) => {
                pod_cache.remove(&name);
            }
            Some(Update::Tick | Update::Restarted | Update::WatchFailed(_)) => {}
            None => {
                // The deadline passed (or every stream ended).
                return Err(Box::new(
                    timeout_diagnosis(cluster, workloads, &current, &pod_cache, options).await,
                ));
            }
        }

        let now = Timestamp::now();
        for i in affected {
            let w = &workloads[i];
            let Some(obj) = &current[i] else {
                judged[i] = None;
                continue;
            };
            let st = status::compute(obj, 0.0);
            judged[i] = Some(st.state);
            let message = if st.state == State::InProgress {
                progress_message(&w.kind, obj, &pods_of(obj, &pod_cache))
                    .unwrap_or_else(|| st.message.clone())
            } else {
                st.message.clone()
            };
            let key = (st.state, message);
            if reported[i].as_ref() != Some(&key) {
                on_progress(&Progress {
                    workload: w.label(),
                    state: st.state,
                    message: key.1.clone(),
                });
                reported[i] = Some(key);
            }
            let restart = match &settling {
                Some((_, baseline)) => restarted(obj, &pod_cache, baseline, Restarts::AfterReady),
                None => restarted(
                    obj,
                    &pod_cache,
                    &at_start,
                    Restarts::DuringRollout(options.crashloop_tolerance),
                ),
            };
            if let Some((pod, problem)) = restart {
                let (reason, message) = (problem.reason.clone(), problem.message.clone());
                return Err(Box::new(
                    diagnosis(cluster, w, &reason, &message, Some(&pod), Some(problem)).await,
                ));
            }
            match st.state {
                State::Current => continue,
                State::Failed => {
                    let (pod, problem) = worst_pod(obj, &pod_cache, options, now)
                        .map_or((None, None), |(p, pr)| (Some(p), Some(pr)));
                    return Err(Box::new(
                        diagnosis(cluster, w, &st.reason, &st.message, pod.as_ref(), problem).await,
                    ));
                }
                State::InProgress | State::Terminating => {
                    if let Some((pod, problem)) = worst_pod(obj, &pod_cache, options, now)
                        && problem.certain
                    {
                        let reason = problem.reason.clone();
                        let message = problem.message.clone();
                        return Err(Box::new(
                            diagnosis(cluster, w, &reason, &message, Some(&pod), Some(problem))
                                .await,
                        ));
                    }
                }
            }
        }
        let all_current = judged.iter().all(|s| *s == Some(State::Current));
        if all_current && settling.is_none() {
            let pods: Vec<&Value> = current
                .iter()
                .flatten()
                .flat_map(|obj| pods_of(obj, &pod_cache))
                .collect();
            // Pods that have been ready for the whole window already (a workload this
            // release did not change) need not be watched again — when every pod the
            // workloads want has been seen; otherwise the whole window is watched.
            let all_seen = current
                .iter()
                .flatten()
                .all(|obj| pods_of(obj, &pod_cache).len() as i64 >= desired_pods(obj));
            // Without a settle window there is nothing left to watch, whether or not
            // the pods' watch has shown every pod yet.
            if options.settle.is_zero()
                || (all_seen && settle_left(&pods, options.settle, now).is_zero())
            {
                return Ok(());
            }
            let left = options.settle;
            let mut baseline = BTreeMap::new();
            for pod in &pods {
                for (container, restarts, _) in container_restarts(pod) {
                    baseline.insert(container, restarts);
                }
            }
            for w in workloads {
                on_progress(&Progress {
                    workload: w.label(),
                    state: State::Current,
                    message: format!(
                        "ready; watching its pods for restarts for {}s",
                        left.as_secs_f64()
                    ),
                });
            }
            settling = Some((tokio::time::Instant::now() + left, baseline));
        }
    }
}

/// Every container of `pod` as `pod/container`, with its restart count and how its
/// last run ended (`exit code 1, Error`).
fn container_restarts(pod: &Value) -> Vec<(String, i64, String)> {
    let name = object_name(pod).unwrap_or("");
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|statuses| {
            statuses
                .iter()
                .map(|c| {
                    let container = c.get("name").and_then(Value::as_str).unwrap_or("");
                    let restarts = c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
                    let last = c
                        .pointer("/lastState/terminated")
                        .map_or(String::new(), ended_text);
                    (format!("{name}/{container}"), restarts, last)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Which restarts of a rollout's containers fail it.
#[derive(Debug, Clone, Copy)]
enum Restarts {
    /// While the rollout progresses: more restarts than the crash-loop tolerance, from
    /// the counts when the rollout started, whatever state the container is in now (a
    /// pod that passes its readiness probe for a moment and then crashes is ready now
    /// and then, but never healthy). Reported as `CrashLoopBackOff`.
    DuringRollout(u32),
    /// Once every workload was ready (the settle window): any restart, or a container
    /// that is down.
    AfterReady,
}

/// How a container run ended, from its `terminated` state: `exit code 1, Error`.
fn ended_text(terminated: &Value) -> String {
    format!(
        "exit code {}, {}",
        terminated
            .get("exitCode")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        terminated
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("terminated")
    )
}

/// A container of the rollout that restarted more than `rule` allows since `baseline`
/// (a container missing from it counts from zero).
fn restarted(
    workload: &Value,
    pods: &BTreeMap<String, Value>,
    baseline: &BTreeMap<String, i64>,
    rule: Restarts,
) -> Option<(Value, PodProblem)> {
    for pod in pods_of(workload, pods) {
        let statuses = pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array);
        for (key, restarts, last) in container_restarts(pod) {
            let before = baseline.get(&key).copied().unwrap_or(0);
            let (pod_name, container) = key.split_once('/').unwrap_or((&key, ""));
            let status = statuses.and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(container))
            });
            let terminated = status.and_then(|c| c.pointer("/state/terminated"));
            let crash_looping = status
                .and_then(|c| c.pointer("/state/waiting/reason"))
                .and_then(Value::as_str)
                == Some("CrashLoopBackOff");
            // How the container ended: now, if it is down, else its last run.
            let ended = match terminated {
                Some(t) => format!(" ({})", ended_text(t)),
                None if !last.is_empty() => format!(" ({last})"),
                None => String::new(),
            };
            let (reason, message) = match rule {
                Restarts::DuringRollout(tolerance) if restarts - before > i64::from(tolerance) => {
                    ("CrashLoopBackOff", {
                        let exit = terminated
                            .or_else(|| status.and_then(|c| c.pointer("/lastState/terminated")))
                            .and_then(|t| t.get("exitCode"))
                            .and_then(Value::as_i64);
                        let exited = exit.map_or(String::new(), |code| {
                            format!("exited with code {code} and ")
                        });
                        format!(
                            "container {exited}was restarted {} times during the rollout, more than the {tolerance} tolerated (`crashloop-tolerance`)",
                            restarts - before
                        )
                    })
                }
                Restarts::AfterReady
                    if restarts > before || terminated.is_some() || crash_looping =>
                {
                    (
                        "RestartedAfterReady",
                        format!(
                            "container `{container}` of pod `{pod_name}` restarted after the rollout was ready{ended}"
                        ),
                    )
                }
                _ => continue,
            };
            return Some((
                pod.clone(),
                PodProblem {
                    pod: pod_name.to_string(),
                    container: Some(container.to_string()),
                    reason: reason.into(),
                    message,
                    certain: true,
                    restarts,
                },
            ));
        }
    }
    None
}

/// How many pods a workload wants running: its replicas, or a DaemonSet's scheduled
/// pods; none for a Job.
fn desired_pods(obj: &Value) -> i64 {
    match obj.get("kind").and_then(Value::as_str) {
        Some("Deployment" | "StatefulSet") => obj
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1),
        Some("DaemonSet") => obj
            .pointer("/status/desiredNumberScheduled")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        _ => 0,
    }
}

/// How much longer `pods` must be watched so that each has been ready for `settle`;
/// zero when every one has (or there is none). A pod without a readiness time counts
/// as ready from `now`.
fn settle_left(pods: &[&Value], settle: Duration, now: Timestamp) -> Duration {
    if settle.is_zero() {
        return Duration::ZERO;
    }
    pods.iter()
        .map(|pod| {
            let ready_since = crate::value::condition(pod, "Ready")
                .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"))
                .and_then(|c| c.get("lastTransitionTime"))
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<Timestamp>().ok())
                .unwrap_or(now);
            let ready_for = Duration::try_from(now.duration_since(ready_since)).unwrap_or_default();
            settle.saturating_sub(ready_for)
        })
        .max()
        .unwrap_or(Duration::ZERO)
}

fn tokio_stream_interval(period: Duration) -> BoxStream<'static, Update> {
    stream::unfold(tokio::time::interval(period), |mut interval| async move {
        interval.tick().await;
        Some((Update::Tick, interval))
    })
    .boxed()
}

fn cluster_failure(w: &Workload, e: ClusterError) -> Box<Diagnosis> {
    Box::new(Diagnosis {
        workload: w.label(),
        reason: "ClusterError".into(),
        message: e.to_string(),
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
        check: None,
    })
}

/// What a rollout in progress shows: the replica set of this rollout (named by the
/// owner of its pods) and its updated, ready and available replicas against desired.
/// Ready counts only `pods`, the pods of the current template, so an old pod that is
/// still ready never counts, and no count goes above desired. `None` for kinds without
/// replica counts, and while the controller has not observed the latest spec (its
/// counts still describe the previous one).
fn progress_message(kind: &str, obj: &Value, pods: &[&Value]) -> Option<String> {
    let int = |path: &str| obj.pointer(path).and_then(Value::as_i64).unwrap_or(0);
    if let (Some(generation), Some(observed)) = (
        obj.pointer("/metadata/generation").and_then(Value::as_i64),
        obj.pointer("/status/observedGeneration")
            .and_then(Value::as_i64),
    ) && observed < generation
    {
        return None;
    }
    let (desired, updated, available) = match kind {
        "Deployment" | "StatefulSet" => {
            let updated = int("/status/updatedReplicas");
            // Old pods count in `availableReplicas` too: at least this many are new.
            let old = (int("/status/replicas") - updated).max(0);
            (
                obj.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1),
                updated,
                (int("/status/availableReplicas") - old).max(0),
            )
        }
        "DaemonSet" => (
            int("/status/desiredNumberScheduled"),
            int("/status/updatedNumberScheduled"),
            int("/status/numberAvailable"),
        ),
        _ => return None,
    };
    let live: Vec<&&Value> = pods
        .iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect();
    let ready = live
        .iter()
        .filter(|p| {
            crate::value::condition_parts(p, "Ready").is_some_and(|(status, _, _)| status == "True")
        })
        .count() as i64;
    let clamp = |n: i64| n.clamp(0, desired.max(0));
    let (updated, ready) = (clamp(updated), clamp(ready));
    let available = clamp(available).min(ready);
    let counts = format!(
        "updated {updated}/{desired}, ready {ready}/{desired}, available {available}/{desired}"
    );
    let replica_set = (kind == "Deployment")
        .then(|| {
            live.iter().find_map(|p| {
                p.pointer("/metadata/ownerReferences")?
                    .as_array()?
                    .iter()
                    .find(|o| o.get("kind").and_then(Value::as_str) == Some("ReplicaSet"))?
                    .get("name")?
                    .as_str()
            })
        })
        .flatten();
    Some(match replica_set {
        Some(rs) => format!("replica set {rs}: {counts}"),
        None => counts,
    })
}

/// The `(container, image)` pairs of a pod spec, sorted.
fn images_of(spec: Option<&Value>) -> Vec<(String, String)> {
    let mut images = crate::value::containers(spec);
    images.sort();
    images
}

/// Pods that belong to `workload` (by its selector) and were made from its current
/// template: the same images, and every label and annotation of the template; a
/// canary's or preview's pods only to the canary or preview. A pod of
/// the release being replaced is never judged for this one, while a pod a killed deploy
/// created from the same template is.
fn pods_of<'a>(workload: &Value, pods: &'a BTreeMap<String, Value>) -> Vec<&'a Value> {
    let selector = workload
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let template_images = images_of(workload.pointer("/spec/template/spec"));
    let carries = |pod: &Value, field: &str| {
        let wanted = workload
            .pointer(&format!("/spec/template/metadata/{field}"))
            .and_then(Value::as_object);
        let have = pod
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_object);
        wanted.is_none_or(|w| {
            w.iter()
                .all(|(k, v)| have.is_some_and(|h| h.get(k) == Some(v)))
        })
    };
    pods.values()
        .filter(|p| images_of(p.get("spec")) == template_images)
        .filter(|p| carries(p, "labels") && carries(p, "annotations"))
        .filter(|p| {
            let labels = p.pointer("/metadata/labels").and_then(Value::as_object);
            let matches = labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)));
            // A canary's or preview's pods carry the stable pods' labels and template:
            // they belong only to their own Deployment, whose selector names them.
            let copy = [crate::engine::CANARY_OF, crate::engine::PREVIEW_OF]
                .iter()
                .any(|label| {
                    labels.is_some_and(|l| l.contains_key(*label)) && !selector.contains_key(*label)
                });
            matches && !copy && !selector.is_empty()
        })
        .collect()
}

/// The workloads (by index; those the cluster has shown) whose selector takes `pod`:
/// the only ones whose judgement an update of the pod can change.
fn selecting(current: &[Option<Value>], pod: &Value) -> Vec<usize> {
    let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
    current
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            let selector = w
                .as_ref()
                .and_then(|w| w.pointer("/spec/selector/matchLabels"))
                .and_then(Value::as_object);
            selector.is_some_and(|s| {
                !s.is_empty()
                    && s.iter()
                        .all(|(k, v)| labels.is_some_and(|l| l.get(k) == Some(v)))
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// The restart count of every container of `pod` as it was when the rollout started: a
/// pod created since counts from zero, an older pod from what it had when first seen.
fn restarts_before(pod: &Value, since: Timestamp) -> Vec<(String, i64)> {
    let created = pod
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    // Creation times have one-second precision: allow that much.
    let fresh = created.is_none_or(|c| c.as_second() >= since.as_second() - 1);
    container_restarts(pod)
        .into_iter()
        .map(|(key, restarts, _)| (key, if fresh { 0 } else { restarts }))
        .collect()
}

/// The most telling problem among the rollout's pods: certain ones first.
fn worst_pod(
    workload: &Value,
    pods: &BTreeMap<String, Value>,
    options: &TrackOptions,
    now: Timestamp,
) -> Option<(Value, PodProblem)> {
    let mut best: Option<(Value, PodProblem)> = None;
    for pod in pods_of(workload, pods) {
        let age = pod
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map_or(0.0, |c| now.duration_since(c).as_secs_f64());
        if let Some(problem) = diagnose::pod_problem(pod, options.crashloop_tolerance, age)
            && best
                .as_ref()
                .is_none_or(|(_, b)| !b.certain && problem.certain)
        {
            best = Some((pod.clone(), problem));
        }
    }
    best
}

async fn diagnosis(
    cluster: &Arc<Cluster>,
    w: &Workload,
    reason: &str,
    message: &str,
    pod: Option<&Value>,
    problem: Option<PodProblem>,
) -> Diagnosis {
    let (events, logs) = match pod {
        Some(pod) => {
            let name = object_name(pod).unwrap_or("");
            (
                events_about(cluster, &w.namespace, "Pod", name).await,
                last_logs(
                    cluster,
                    &w.namespace,
                    name,
                    problem.as_ref().and_then(|p| p.container.as_deref()),
                )
                .await,
            )
        }
        None => (
            events_about(cluster, &w.namespace, &w.kind, &w.name).await,
            vec![],
        ),
    };
    Diagnosis {
        workload: w.label(),
        reason: problem
            .as_ref()
            .map_or(reason.to_string(), |p| p.reason.clone()),
        message: problem
            .as_ref()
            .map_or(message.to_string(), |p| p.message.clone()),
        pod: pod.and_then(object_name).map(str::to_string),
        container: problem.and_then(|p| p.container),
        events,
        logs,
        check: None,
    }
}

async fn timeout_diagnosis(
    cluster: &Arc<Cluster>,
    workloads: &[Workload],
    current: &[Option<Value>],
    pods: &BTreeMap<String, Value>,
    options: &TrackOptions,
) -> Diagnosis {
    let now = Timestamp::now();
    for (i, w) in workloads.iter().enumerate() {
        let Some(obj) = &current[i] else {
            return Diagnosis {
                workload: w.label(),
                reason: "Timeout".into(),
                message: format!(
                    "not seen on the cluster within {}s",
                    options.timeout.as_secs()
                ),
                pod: None,
                container: None,
                events: vec![],
                logs: vec![],
                check: None,
            };
        };
        let st = status::compute(obj, 0.0);
        if st.state == State::Current {
            continue;
        }
        let worst = worst_pod(obj, pods, options, now);
        let mut d = diagnosis(
            cluster,
            w,
            &st.reason,
            &st.message,
            worst.as_ref().map(|(p, _)| p),
            worst.as_ref().map(|(_, pr)| pr.clone()),
        )
        .await;
        d.message = if d.message == st.message {
            format!(
                "not ready within {}s: {}",
                options.timeout.as_secs(),
                d.message
            )
        } else {
            format!(
                "not ready within {}s: {} ({})",
                options.timeout.as_secs(),
                d.message,
                st.message
            )
        };
        if worst.is_none() {
            d.reason = "Timeout".into();
        }
        return d;
    }
    Diagnosis {
        workload: workloads[0].label(),
        reason: "Timeout".into(),
        message: format!(
            "rollout not confirmed within {}s",
            options.timeout.as_secs()
        ),
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
        check: None,
    }
}

/// The last events about an object (best effort: an error yields none).
pub async fn events_about(
    cluster: &Arc<Cluster>,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Vec<EventLine> {
    match cluster.list("v1", "Event", namespace, "").await {
        Ok(events) => diagnose::events_for(&events, kind, name, 5),
        Err(_) => vec![],
    }
}

/// The last log lines of a pod's container (best effort).
pub async fn last_logs(
    cluster: &Arc<Cluster>,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
) -> Vec<String> {
    let api: Api<Pod> = Api::namespaced(cluster.client().clone(), namespace);
    let params = LogParams {
        container: container.map(str::to_string),
        tail_lines: Some(10),
        ..LogParams::default()
    };
    match api.logs(pod, &params).await {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(_) => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ready_pod(name: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-6d9f7c"}]},
               "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    #[test]
    fn progress_names_the_new_replica_set_and_counts_against_desired() {
        let d = json!({
            "spec": {"replicas": 3},
            "status": {"replicas": 3, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 2},
        });
        let (a, b) = (ready_pod("a", true), ready_pod("b", false));
        assert_eq!(
            progress_message("Deployment", &d, &[&a, &b]).as_deref(),
            Some("replica set api-6d9f7c: updated 2/3, ready 1/3, available 1/3")
        );
        assert_eq!(
            progress_message("Deployment", &d, &[]).as_deref(),
            Some("updated 2/3, ready 0/3, available 0/3")
        );
        let ds = json!({"status": {"desiredNumberScheduled": 1, "numberReady": 0}});
        assert_eq!(
            progress_message("DaemonSet", &ds, &[]).as_deref(),
            Some("updated 0/1, ready 0/1, available 0/1")
        );
        assert_eq!(progress_message("Job", &d, &[]), None);
    }

    #[test]
    fn progress_counts_only_new_pods_and_never_above_desired() {
        // Two old pods ready, one new pod not ready (surge of one): not `ready 2/2`.
        let d = json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
                       "readyReplicas": 2, "availableReplicas": 2},
        });
        let new = ready_pod("new", false);
        assert_eq!(
            progress_message("Deployment", &d, &[&new]).as_deref(),
            Some("replica set api-6d9f7c: updated 1/2, ready 0/2, available 0/2")
        );
        // More ready pods seen than desired (one is on its way out): at most desired.
        let (a, b, c) = (
            ready_pod("a", true),
            ready_pod("b", true),
            ready_pod("c", true),
        );
        let mut done = d.clone();
        done["status"] = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                                "readyReplicas": 3, "availableReplicas": 3});
        assert_eq!(
            progress_message("Deployment", &done, &[&a, &b, &c]).as_deref(),
            Some("replica set api-6d9f7c: updated 2/2, ready 2/2, available 2/2")
        );
        // Counts of a spec the controller has not seen yet are not shown.
        let mut stale = d.clone();
        stale["metadata"]["generation"] = json!(3);
        assert_eq!(progress_message("Deployment", &stale, &[&new]), None);
    }

    #[test]
    fn restarts_during_the_rollout_count_against_the_tolerance() {
        let deploy = json!({"spec": {"selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}},
                         "spec": {"containers": [{"name": "api", "image": "r/api:2"}]}}}});
        let pod = |restarts: i64, state: Value| {
            json!({"metadata": {"name": "p", "labels": {"app": "api", "pod-template-hash": "x"}},
                   "spec": {"containers": [{"name": "api", "image": "r/api:2"}]},
                   "status": {"containerStatuses": [{"name": "api", "restartCount": restarts,
                       "state": state,
                       "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}})
        };
        let running = json!({"running": {}});
        let at = |p: Value| BTreeMap::from([("p".to_string(), p)]);
        let none = BTreeMap::new();
        let rule = Restarts::DuringRollout(2);
        // Running and ready again after two restarts: tolerated.
        assert!(restarted(&deploy, &at(pod(2, running.clone())), &none, rule).is_none());
        let (_, problem) = restarted(&deploy, &at(pod(3, running.clone())), &none, rule).unwrap();
        assert_eq!(problem.reason, "CrashLoopBackOff");
        assert_eq!(
            problem.message,
            "container exited with code 1 and was restarted 3 times during the rollout, \
             more than the 2 tolerated (`crashloop-tolerance`)"
        );
        // Restarts an old pod had before the rollout started do not count.
        let before = BTreeMap::from([("p/api".to_string(), 5)]);
        assert!(restarted(&deploy, &at(pod(7, running.clone())), &before, rule).is_none());
        // After the rollout was ready, a container that is down fails it at once.
        let down = pod(0, json!({"terminated": {"exitCode": 1}}));
        let (_, problem) = restarted(&deploy, &at(down), &none, Restarts::AfterReady).unwrap();
        assert_eq!(problem.reason, "RestartedAfterReady");
    }

    #[test]
    fn desired_pods_by_kind() {
        let d = json!({"kind": "Deployment", "spec": {"replicas": 3}});
        assert_eq!(desired_pods(&d), 3);
        let ds = json!({"kind": "DaemonSet", "status": {"desiredNumberScheduled": 1}});
        assert_eq!(desired_pods(&ds), 1);
        assert_eq!(desired_pods(&json!({"kind": "Job"})), 0);
    }

    #[test]
    fn settle_waits_only_as_long_as_the_youngest_ready_pod_needs() {
        let now: Timestamp = "2026-11-22T12:00:30Z".parse().unwrap();
        let ready_at = |t: &str| json!({"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]}});
        let old = ready_at("2026-11-22T11:00:00Z");
        let young = ready_at("2026-11-22T12:00:25Z");
        let settle = Duration::from_secs(15);
        assert_eq!(settle_left(&[&old], settle, now), Duration::ZERO);
        assert_eq!(
            settle_left(&[&old, &young], settle, now),
            Duration::from_secs(10)
        );
        assert_eq!(settle_left(&[], settle, now), Duration::ZERO);
        assert_eq!(settle_left(&[&young], Duration::ZERO, now), Duration::ZERO);
    }

    #[test]
    fn only_workload_kinds_are_tracked() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}});
        let w = Workload::of(&d, "shop").unwrap();
        assert_eq!(w.label(), "deployment/api");
        assert_eq!(w.namespace, "shop");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(Workload::of(&cm, "shop"), None);
    }

    #[test]
    fn pods_of_a_rollout_are_those_of_its_current_template() {
        let deploy = json!({"spec": {"selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"},
                                      "annotations": {"behavior": "new"}},
                         "spec": {"containers": [{"name": "api", "image": "r/api:2"}]}}}});
        let pod = |name: &str, app: &str, image: &str, behavior: &str| {
            json!({"metadata": {"name": name, "labels": {"app": app, "pod-template-hash": "h"},
                                "annotations": {"behavior": behavior}},
                   "spec": {"containers": [{"name": "api", "image": image}]}})
        };
        let mut pods = BTreeMap::new();
        for p in [
            pod("new", "api", "r/api:2", "new"),
            pod("old-image", "api", "r/api:1", "new"),
            pod("old-template", "api", "r/api:2", "old"),
            pod("other", "web", "r/api:2", "new"),
        ] {
            pods.insert(p["metadata"]["name"].as_str().unwrap().to_string(), p);
        }
        let names: Vec<&str> = pods_of(&deploy, &pods)
            .iter()
            .map(|p| object_name(p).unwrap())
            .collect();
        assert_eq!(names, ["new"]);
    }

    #[test]
    fn restarts_before_a_rollout_are_those_of_older_pods_only() {
        let since: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
        let pod = |created: &str| {
            json!({"metadata": {"name": "p", "creationTimestamp": created},
                   "status": {"containerStatuses": [{"name": "api", "restartCount": 4}]}})
        };
        assert_eq!(
            restarts_before(&pod("2026-11-22T11:00:00Z"), since),
            [("p/api".to_string(), 4)]
        );
        assert_eq!(
            restarts_before(&pod("2026-11-22T12:00:03Z"), since),
            [("p/api".to_string(), 0)]
        );
    }

    #[test]
    fn diagnosis_renders_root_cause_first_then_events_and_logs() {
        let d = Diagnosis {
            workload: "deployment/api".into(),
            reason: "ImagePullBackOff".into(),
            message: "Back-off pulling image \"r/api:2\"".into(),
            pod: Some("api-7f9-x2".into()),
            container: Some("api".into()),
            events: vec![EventLine {
                time: "t".into(),
                warning: true,
                reason: "Failed".into(),
                message: "Failed to pull image".into(),
                count: 3,
            }],
            logs: vec![],
            check: None,
        };
        let text = d.render();
        assert!(
            text.starts_with("deployment/api: ImagePullBackOff: Back-off pulling image"),
            "{text}"
        );
        assert!(
            text.contains("  pod: api-7f9-x2 (container `api`)\n"),
            "{text}"
        );
        assert!(
            text.contains("    Warning Failed: Failed to pull image (x3)\n"),
            "{text}"
        );
    }
}

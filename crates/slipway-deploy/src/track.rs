//! Following a rollout from watches until every changed workload is `Current`, one of
//! them certainly failed, or the time budget is spent — whichever comes first.
//!
//! Workloads are read through watches (a resumed or re-listed watch after a dropped
//! connection is handled by `kube_runtime::watcher`); the pods created by this rollout
//! are read the same way, so an image that cannot be pulled or a container that keeps
//! crashing ends the rollout at once, with the pod, the reason, the last events and the
//! last log lines. A one-second clock only re-evaluates time-based rules (an
//! unschedulable pod's grace window, the deadline); nothing polls the API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, LogParams};
use kube::runtime::watcher;
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

enum Update {
    Workload(usize, Option<Value>),
    Pod(Value),
    PodGone(String),
    Tick,
    Restarted,
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
        let s = watcher::watcher(api, config).map(move |event| match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                Update::Workload(i, serde_json::to_value(o).ok())
            }
            Ok(watcher::Event::Delete(_)) => Update::Workload(i, None),
            Ok(watcher::Event::Init | watcher::Event::InitDone) | Err(_) => Update::Restarted,
        });
        streams.push(s.boxed());
    }
    let pods: Api<DynamicObject> = cluster
        .api("v1", "Pod", Some(namespace))
        .await
        .map_err(|e| cluster_failure(&workloads[0], e))?;
    streams.push(
        watcher::watcher(pods, watcher::Config::default())
            .map(|event| match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    serde_json::to_value(o).map_or(Update::Restarted, Update::Pod)
                }
                Ok(watcher::Event::Delete(o)) => {
                    Update::PodGone(o.metadata.name.unwrap_or_default())
                }
                _ => Update::Restarted,
            })
            .boxed(),
    );
    let ticks = tokio_stream_interval(Duration::from_secs(1));
    streams.push(ticks);
    let mut updates = stream::select_all(streams);

    let mut current: Vec<Option<Value>> = vec![None; workloads.len()];
    let mut pod_cache: BTreeMap<String, Value> = BTreeMap::new();
    let mut reported: Vec<Option<(State, String)>> = vec![None; workloads.len()];
    // Once every workload is current with a settle window: when it ends, and each
    // container's restarts at the moment the rollout was ready.
    let mut settling: Option<(tokio::time::Instant, BTreeMap<String, i64>)> = None;

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
        match update {
            Some(Update::Workload(i, obj)) => current[i] = obj,
            Some(Update::Pod(p)) => {
                if let Some(name) = object_name(&p) {
                    pod_cache.insert(name.to_string(), p);
                }
            }
            Some(Update::PodGone(name)) => {
                pod_cache.remove(&name);
            }
            Some(Update::Tick | Update::Restarted) => {}
            None => {
                // The deadline passed (or every stream ended).
                return Err(Box::new(
                    timeout_diagnosis(cluster, workloads, &current, &pod_cache, options).await,
                ));
            }
        }

        let now = Timestamp::now();
        let mut all_current = true;
        for (i, w) in workloads.iter().enumerate() {
            let Some(obj) = &current[i] else {
                all_current = false;
                continue;
            };
            let st = status::compute(obj, 0.0);
            let message = if st.state == State::InProgress {
                progress_message(&w.kind, obj, &pods_of(obj, &pod_cache, options.since))
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
            if let Some((_, baseline)) = &settling
                && let Some((pod, problem)) = restarted(obj, &pod_cache, options.since, baseline)
            {
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
                    all_current = false;
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
        if all_current && settling.is_none() {
            if options.settle.is_zero() {
                return Ok(());
            }
            let mut baseline = BTreeMap::new();
            for (i, w) in workloads.iter().enumerate() {
                let Some(obj) = &current[i] else { continue };
                for pod in pods_of(obj, &pod_cache, options.since) {
                    for (container, restarts, _) in container_restarts(pod) {
                        baseline.insert(container, restarts);
                    }
                }
                on_progress(&Progress {
                    workload: w.label(),
                    state: State::Current,
                    message: format!(
                        "ready; watching its pods for restarts for {}s",
                        options.settle.as_secs_f64()
                    ),
                });
            }
            settling = Some((tokio::time::Instant::now() + options.settle, baseline));
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
                        .map_or(String::new(), |t| {
                            format!(
                                "exit code {}, {}",
                                t.get("exitCode").and_then(Value::as_i64).unwrap_or(0),
                                t.get("reason")
                                    .and_then(Value::as_str)
                                    .unwrap_or("terminated")
                            )
                        });
                    (format!("{name}/{container}"), restarts, last)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A container of the rollout that restarted after the rollout was ready (more restarts
/// than `baseline` recorded then; a pod created since counts from zero).
fn restarted(
    workload: &Value,
    pods: &BTreeMap<String, Value>,
    since: Timestamp,
    baseline: &BTreeMap<String, i64>,
) -> Option<(Value, PodProblem)> {
    for pod in pods_of(workload, pods, since) {
        for (key, restarts, last) in container_restarts(pod) {
            let before = baseline.get(&key).copied().unwrap_or(0);
            if restarts > before {
                let (pod_name, container) = key.split_once('/').unwrap_or((&key, ""));
                let ended = if last.is_empty() {
                    String::new()
                } else {
                    format!(" ({last})")
                };
                return Some((
                    pod.clone(),
                    PodProblem {
                        pod: pod_name.to_string(),
                        container: Some(container.to_string()),
                        reason: "RestartedAfterReady".into(),
                        message: format!(
                            "container `{container}` of pod `{pod_name}` restarted after the rollout was ready{ended}"
                        ),
                        certain: true,
                        restarts,
                    },
                ));
            }
        }
    }
    None
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
    })
}

/// What a rollout in progress shows: the replica set of this rollout (named by the
/// owner of its pods) and the updated, ready and available replicas against desired.
/// `None` for kinds without replica counts.
fn progress_message(kind: &str, obj: &Value, pods: &[&Value]) -> Option<String> {
    let int = |path: &str| obj.pointer(path).and_then(Value::as_i64).unwrap_or(0);
    let (desired, updated, ready, available) = match kind {
        "Deployment" | "StatefulSet" => (
            obj.pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            int("/status/updatedReplicas"),
            int("/status/readyReplicas"),
            int("/status/availableReplicas"),
        ),
        "DaemonSet" => (
            int("/status/desiredNumberScheduled"),
            int("/status/updatedNumberScheduled"),
            int("/status/numberReady"),
            int("/status/numberAvailable"),
        ),
        _ => return None,
    };
    let counts = format!(
        "updated {updated}/{desired}, ready {ready}/{desired}, available {available}/{desired}"
    );
    let replica_set = (kind == "Deployment")
        .then(|| {
            pods.iter().find_map(|p| {
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

/// Pods that belong to `workload` (by its selector), run its current template's images
/// (so a pod of the release being replaced is never judged for this one), and were
/// created by this rollout.
fn pods_of<'a>(
    workload: &Value,
    pods: &'a BTreeMap<String, Value>,
    since: Timestamp,
) -> Vec<&'a Value> {
    let selector = workload
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let template_images = images_of(workload.pointer("/spec/template/spec"));
    pods.values()
        .filter(|p| images_of(p.get("spec")) == template_images)
        .filter(|p| {
            let labels = p.pointer("/metadata/labels").and_then(Value::as_object);
            let matches = labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)));
            let created = p
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<Timestamp>().ok());
            // Creation times have one-second precision: allow that much.
            let fresh = created.is_none_or(|c| c.as_second() >= since.as_second() - 1);
            matches && fresh && !selector.is_empty()
        })
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
    for pod in pods_of(workload, pods, options.since) {
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

    #[test]
    fn progress_names_the_new_replica_set_and_counts_against_desired() {
        let d = json!({
            "spec": {"replicas": 3},
            "status": {"updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 1},
        });
        let pod = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-6d9f7c"}
        ]}});
        assert_eq!(
            progress_message("Deployment", &d, &[&pod]).as_deref(),
            Some("replica set api-6d9f7c: updated 2/3, ready 3/3, available 1/3")
        );
        assert_eq!(
            progress_message("Deployment", &d, &[]).as_deref(),
            Some("updated 2/3, ready 3/3, available 1/3")
        );
        let ds = json!({"status": {"desiredNumberScheduled": 1, "numberReady": 0}});
        assert_eq!(
            progress_message("DaemonSet", &ds, &[]).as_deref(),
            Some("updated 0/1, ready 0/1, available 0/1")
        );
        assert_eq!(progress_message("Job", &d, &[]), None);
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
    fn pods_of_a_rollout_match_the_selector_and_are_new() {
        let deploy = json!({"spec": {"selector": {"matchLabels": {"app": "api"}},
            "template": {"spec": {"containers": [{"name": "api", "image": "r/api:2"}]}}}});
        let since: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
        let pod = |name: &str, app: &str, created: &str| {
            let image = if name == "replaced" {
                "r/api:1"
            } else {
                "r/api:2"
            };
            json!({"metadata": {"name": name, "labels": {"app": app}, "creationTimestamp": created},
                   "spec": {"containers": [{"name": "api", "image": image}]}})
        };
        let mut pods = BTreeMap::new();
        for p in [
            pod("old", "api", "2026-11-22T11:00:00Z"),
            pod("new", "api", "2026-11-22T12:00:05Z"),
            pod("other", "web", "2026-11-22T12:00:05Z"),
            pod("replaced", "api", "2026-11-22T12:00:00Z"),
        ] {
            pods.insert(p["metadata"]["name"].as_str().unwrap().to_string(), p);
        }
        let names: Vec<&str> = pods_of(&deploy, &pods, since)
            .iter()
            .map(|p| object_name(p).unwrap())
            .collect();
        assert_eq!(names, ["new"]);
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

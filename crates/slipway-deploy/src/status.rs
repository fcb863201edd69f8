//! Whether an object has reached the state its spec asks for.
//!
//! The rules are those of kstatus (`sigs.k8s.io/cli-utils/pkg/kstatus`), which is what
//! `kubectl rollout status`, Flux and kapp-style tools agree on:
//!
//! - an object being deleted is `Terminating`;
//! - an object whose controller has not seen its latest spec
//!   (`status.observedGeneration < metadata.generation`) is `InProgress`;
//! - a `Reconciling=True` condition means `InProgress`, `Stalled=True` means `Failed`;
//! - then per kind: Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, Pods,
//!   PersistentVolumeClaims, Services, CustomResourceDefinitions, PodDisruptionBudgets;
//! - any other kind is `Current` as soon as it exists.
//!
//! The verdict for a Deployment whose progress deadline passed is `Failed` — the
//! controller itself gave up — and never a time-out of the tool.

use serde_json::Value;

use crate::value::{self, condition_parts, int, str};

/// How far an object is from what its spec asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Reached: nothing more to wait for.
    Current,
    /// Still moving towards its spec.
    InProgress,
    /// Will not reach its spec without a change.
    Failed,
    /// Being deleted.
    Terminating,
}

/// A verdict with the reason for it, in the words a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    /// A short machine-friendly reason (`LessAvailable`, `ProgressDeadlineExceeded`).
    pub reason: String,
    /// What is missing, for people (`Available: 1/3`).
    pub message: String,
}

impl Status {
    fn new(state: State, reason: &str, message: impl Into<String>) -> Self {
        Status {
            state,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    fn current(message: impl Into<String>) -> Self {
        Self::new(State::Current, "Current", message)
    }

    fn in_progress(reason: &str, message: impl Into<String>) -> Self {
        Self::new(State::InProgress, reason, message)
    }

    fn failed(reason: &str, message: impl Into<String>) -> Self {
        Self::new(State::Failed, reason, message)
    }
}

/// The status of `obj` as the cluster returned it.
///
/// `age_seconds` is how long ago the object was created; it only matters for a Pod
/// that cannot be scheduled, which is given [`SCHEDULE_WINDOW_SECONDS`] before it
/// counts as failed (a rolling update can briefly lack room for a surge pod).
pub fn compute(obj: &Value, age_seconds: f64) -> Status {
    if value::at(obj, "metadata.deletionTimestamp").is_some_and(|v| !v.is_null()) {
        return Status::new(State::Terminating, "Terminating", "being deleted");
    }
    if let (Some(generation), Some(observed)) = (
        int(obj, "metadata.generation"),
        int(obj, "status.observedGeneration"),
    ) && observed < generation
    {
        return Status::in_progress(
            "LatestGenerationNotObserved",
            format!("waiting for the controller to observe generation {generation}"),
        );
    }
    if let Some(("True", reason, message)) = condition_parts(obj, "Stalled") {
        return Status::failed(or(reason, "Stalled"), message);
    }
    if let Some(("True", reason, message)) = condition_parts(obj, "Reconciling") {
        return Status::in_progress(or(reason, "Reconciling"), message);
    }

    match (value::group(obj), value::kind(obj)) {
        ("apps" | "extensions", "Deployment") => deployment(obj),
        ("apps" | "extensions", "ReplicaSet") => replica_set(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps" | "extensions", "DaemonSet") => daemon_set(obj),
        ("batch", "Job") => job(obj),
        ("", "Pod") => pod(obj, age_seconds),
        ("", "PersistentVolumeClaim") => match str(obj, "status.phase") {
            Some("Bound") => Status::current("bound"),
            phase => {
                Status::in_progress("NotBound", format!("phase {}", phase.unwrap_or("unknown")))
            }
        },
        ("", "Service") => service(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj),
        ("policy", "PodDisruptionBudget") => {
            if int(obj, "status.observedGeneration").is_none() {
                Status::in_progress("NotObserved", "waiting for the disruption controller")
            } else {
                Status::current("observed")
            }
        }
        _ => Status::current("exists"),
    }
}

/// The replicas of a workload that run its current spec and are ready, for `status`.
///
/// `readyReplicas` also counts the pods of the previous template while a rollout is
/// under way, so a Deployment whose new pod never becomes ready would look ready. A
/// Deployment counts as ready only as `kubectl rollout status` decides: the latest spec
/// observed, every replica updated, no old replica left, every updated one available;
/// until then only the available replicas that must be new are counted.
pub fn ready_replicas(obj: &Value) -> i64 {
    let ready = int(obj, "status.readyReplicas").unwrap_or(0);
    if value::kind(obj) != "Deployment" {
        return ready;
    }
    let spec = int(obj, "spec.replicas").unwrap_or(1);
    let replicas = int(obj, "status.replicas").unwrap_or(0);
    let updated = int(obj, "status.updatedReplicas").unwrap_or(0);
    let available = int(obj, "status.availableReplicas").unwrap_or(0);
    let observed = match (
        int(obj, "metadata.generation"),
        int(obj, "status.observedGeneration"),
    ) {
        (Some(generation), Some(observed)) => observed >= generation,
        (Some(_), None) => false,
        _ => true,
    };
    if !observed {
        return 0;
    }
    let complete = updated >= spec && replicas <= updated && available >= updated;
    if complete {
        return ready.min(spec);
    }
    (available - (replicas - updated).max(0)).clamp(0, updated.min(spec))
}

/// How long a Pod may stay unschedulable before that counts as a failure.
pub const SCHEDULE_WINDOW_SECONDS: f64 = 15.0;

fn or<'a>(reason: &'a str, default: &'a str) -> &'a str {
    if reason.is_empty() { default } else { reason }
}

fn deployment(obj: &Value) -> Status {
    // Without a progress deadline the controller never reports progress; treat it as
    // progressing, as the controller does.
    let mut progressing =
        int(obj, "spec.progressDeadlineSeconds").is_none_or(|d| d == i64::from(i32::MAX));
    let mut available = false;
    if let Some((status, reason, message)) = condition_parts(obj, "Progressing") {
        if reason == "ProgressDeadlineExceeded" {
            return Status::failed(reason, message);
        }
        if status == "True" && reason == "NewReplicaSetAvailable" {
            progressing = true;
        }
    }
    if let Some(("True", _, _)) = condition_parts(obj, "Available") {
        available = true;
    }
    let spec = int(obj, "spec.replicas").unwrap_or(1);
    let replicas = int(obj, "status.replicas").unwrap_or(0);
    let updated = int(obj, "status.updatedReplicas").unwrap_or(0);
    let ready = int(obj, "status.readyReplicas").unwrap_or(0);
    let avail = int(obj, "status.availableReplicas").unwrap_or(0);

    if spec > replicas {
        return Status::in_progress("LessReplicas", format!("replicas: {replicas}/{spec}"));
    }
    if spec > updated {
        return Status::in_progress("LessUpdated", format!("updated: {updated}/{spec}"));
    }
    if replicas > spec {
        return Status::in_progress(
            "ExtraPods",
            format!("old replicas pending termination: {}", replicas - spec),
        );
    }
    if updated > avail {
        return Status::in_progress("LessAvailable", format!("available: {avail}/{updated}"));
    }
    if spec > ready {
        return Status::in_progress("LessReady", format!("ready: {ready}/{spec}"));
    }
    if !progressing {
        return Status::in_progress("ReplicaSetNotAvailable", "new replica set not available");
    }
    if !available {
        return Status::in_progress("DeploymentNotAvailable", "deployment not available");
    }
    Status::current(format!("{replicas}/{spec} replicas available"))
}

fn replica_set(obj: &Value) -> Status {
    if let Some(("True", _, message)) = condition_parts(obj, "ReplicaFailure") {
        return Status::in_progress("ReplicaFailure", message);
    }
    let spec = int(obj, "spec.replicas").unwrap_or(1);
    let replicas = int(obj, "status.replicas").unwrap_or(0);
    let labelled = int(obj, "status.fullyLabeledReplicas").unwrap_or(0);
    let ready = int(obj, "status.readyReplicas").unwrap_or(0);
    let avail = int(obj, "status.availableReplicas").unwrap_or(0);
    if spec > labelled {
        return Status::in_progress("LessLabelled", format!("labelled: {labelled}/{spec}"));
    }
    if spec > avail {
        return Status::in_progress("LessAvailable", format!("available: {avail}/{spec}"));
    }
    if spec > ready {
        return Status::in_progress("LessReady", format!("ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return Status::in_progress(
            "ExtraPods",
            format!("pending termination: {}", replicas - spec),
        );
    }
    Status::current(format!("{replicas}/{spec} replicas available"))
}

fn stateful_set(obj: &Value) -> Status {
    if str(obj, "spec.updateStrategy.type") == Some("OnDelete") {
        return Status::current("updated by deleting pods (OnDelete)");
    }
    let spec = int(obj, "spec.replicas").unwrap_or(1);
    let replicas = int(obj, "status.replicas").unwrap_or(0);
    let ready = int(obj, "status.readyReplicas").unwrap_or(0);
    let current = int(obj, "status.currentReplicas").unwrap_or(0);
    let updated = int(obj, "status.updatedReplicas").unwrap_or(0);
    if spec > replicas {
        return Status::in_progress("LessReplicas", format!("replicas: {replicas}/{spec}"));
    }
    if spec > ready {
        return Status::in_progress("LessReady", format!("ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return Status::in_progress(
            "ExtraPods",
            format!("pending termination: {}", replicas - spec),
        );
    }
    if let Some(partition) = int(obj, "spec.updateStrategy.rollingUpdate.partition") {
        return if updated < spec - partition {
            Status::in_progress(
                "PartitionRollout",
                format!("updated: {updated}/{}", spec - partition),
            )
        } else {
            Status::current(format!("partition rollout complete: {updated} updated"))
        };
    }
    if spec > current {
        return Status::in_progress("LessCurrent", format!("current: {current}/{spec}"));
    }
    if str(obj, "status.currentRevision") != str(obj, "status.updateRevision") {
        return Status::in_progress(
            "RevisionMismatch",
            "waiting for the update revision to become current",
        );
    }
    Status::current(format!("{replicas}/{spec} replicas ready"))
}

fn daemon_set(obj: &Value) -> Status {
    if int(obj, "status.observedGeneration").is_none() {
        return Status::in_progress("NoObservedGeneration", "waiting for the controller");
    }
    let Some(desired) = int(obj, "status.desiredNumberScheduled") else {
        return Status::in_progress("NoDesiredNumber", "waiting for the controller");
    };
    let fields = [
        ("status.currentNumberScheduled", "LessCurrent", "current"),
        ("status.updatedNumberScheduled", "LessUpdated", "updated"),
        ("status.numberAvailable", "LessAvailable", "available"),
        ("status.numberReady", "LessReady", "ready"),
    ];
    for (path, reason, label) in fields {
        let have = int(obj, path).unwrap_or(0);
        if desired > have {
            return Status::in_progress(reason, format!("{label}: {have}/{desired}"));
        }
    }
    Status::current(format!("{desired} scheduled as expected"))
}

fn job(obj: &Value) -> Status {
    for (kind, state) in [("Failed", State::Failed), ("Complete", State::Current)] {
        if let Some(("True", reason, message)) = condition_parts(obj, kind) {
            let reason = or(reason, kind);
            let message = if message.is_empty() { kind } else { message };
            return Status::new(state, reason, message);
        }
    }
    if value::at(obj, "status.startTime").is_none() {
        return Status::in_progress("JobNotStarted", "job not started");
    }
    let succeeded = int(obj, "status.succeeded").unwrap_or(0);
    let completions = int(obj, "spec.completions").unwrap_or(1);
    Status::in_progress(
        "JobInProgress",
        format!("succeeded: {succeeded}/{completions}"),
    )
}

fn pod(obj: &Value, age_seconds: f64) -> Status {
    match str(obj, "status.phase").unwrap_or("") {
        "Succeeded" => Status::current("completed"),
        "Failed" => Status::current("completed, not successfully"),
        "Running" => {
            if let Some(("True", _, _)) = condition_parts(obj, "Ready") {
                return Status::current("ready");
            }
            let crashing: Vec<&str> = value::list(obj, "status.containerStatuses")
                .iter()
                .filter(|c| value::str(c, "state.waiting.reason") == Some("CrashLoopBackOff"))
                .filter_map(|c| value::str(c, "name"))
                .collect();
            if crashing.is_empty() {
                Status::in_progress("PodRunningNotReady", "running, not ready")
            } else {
                Status::failed(
                    "ContainerCrashLooping",
                    format!("containers in CrashLoopBackOff: {}", crashing.join(", ")),
                )
            }
        }
        "Pending" => match condition_parts(obj, "PodScheduled") {
            Some(("False", "Unschedulable", message)) => {
                if age_seconds < SCHEDULE_WINDOW_SECONDS {
                    Status::in_progress("PodNotScheduled", message)
                } else {
                    Status::failed("PodUnschedulable", message)
                }
            }
            _ => Status::in_progress("PodPending", "pending"),
        },
        _ => Status::in_progress("PodUnknown", "phase not reported yet"),
    }
}

fn service(obj: &Value) -> Status {
    if str(obj, "spec.type") == Some("LoadBalancer")
        && value::list(obj, "status.loadBalancer.ingress").is_empty()
    {
        return Status::in_progress("NoIPAssigned", "waiting for a load balancer address");
    }
    Status::current("service ready")
}

fn crd(obj: &Value) -> Status {
    if let Some(("True", _, _)) = condition_parts(obj, "NamesAccepted") {
        if let Some(("True", _, _)) = condition_parts(obj, "Established") {
            return Status::current("established");
        }
        return Status::in_progress("NotEstablished", "waiting to be established");
    }
    if let Some(("False", reason, message)) = condition_parts(obj, "NamesAccepted") {
        return Status::failed(or(reason, "NamesNotAccepted"), message);
    }
    Status::in_progress("NotEstablished", "waiting to be established")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_with(status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "generation": 2},
            "spec": {"replicas": 3, "progressDeadlineSeconds": 600},
            "status": status,
        })
    }

    fn complete() -> Value {
        json!({
            "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
            "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        })
    }

    #[test]
    fn deployment_complete_is_current() {
        assert_eq!(
            compute(&deployment_with(complete()), 0.0).state,
            State::Current
        );
    }

    #[test]
    fn deployment_not_yet_observed_is_in_progress() {
        let mut status = complete();
        status["observedGeneration"] = json!(1);
        let s = compute(&deployment_with(status), 0.0);
        assert_eq!(
            (s.state, s.reason.as_str()),
            (State::InProgress, "LatestGenerationNotObserved")
        );
    }

    #[test]
    fn deployment_past_progress_deadline_is_failed_with_the_controller_message() {
        let mut status = complete();
        status["availableReplicas"] = json!(2);
        status["conditions"][1] = json!({
            "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"api-5d4f\" has timed out progressing.",
        });
        let s = compute(&deployment_with(status), 0.0);
        assert_eq!(s.state, State::Failed);
        assert_eq!(s.reason, "ProgressDeadlineExceeded");
        assert!(s.message.contains("api-5d4f"));
    }

    #[test]
    fn deployment_with_old_pods_still_terminating_is_in_progress() {
        let mut status = complete();
        status["replicas"] = json!(4);
        let s = compute(&deployment_with(status), 0.0);
        assert_eq!(
            (s.state, s.reason.as_str()),
            (State::InProgress, "ExtraPods")
        );
    }

    #[test]
    fn deployment_with_unavailable_updated_pods_is_in_progress() {
        let mut status = complete();
        status["availableReplicas"] = json!(2);
        let s = compute(&deployment_with(status), 0.0);
        assert_eq!(s.reason, "LessAvailable");
        assert_eq!(s.message, "available: 2/3");
    }

    #[test]
    fn deployment_counts_but_no_new_replica_set_available_condition_is_in_progress() {
        let mut status = complete();
        status["conditions"][1]["reason"] = json!("ReplicaSetUpdated");
        let s = compute(&deployment_with(status), 0.0);
        assert_eq!(s.reason, "ReplicaSetNotAvailable");
    }

    #[test]
    fn ready_replicas_never_count_an_old_pod_of_a_rollout() {
        // A surge pod of a new version that never becomes ready beside two old pods.
        let mut status = complete();
        status["replicas"] = json!(4);
        status["updatedReplicas"] = json!(1);
        status["readyReplicas"] = json!(3);
        status["availableReplicas"] = json!(3);
        assert_eq!(ready_replicas(&deployment_with(status.clone())), 0);
        status["availableReplicas"] = json!(4);
        assert_eq!(ready_replicas(&deployment_with(status)), 1);
        assert_eq!(ready_replicas(&deployment_with(complete())), 3);
        let mut unobserved = complete();
        unobserved["observedGeneration"] = json!(1);
        assert_eq!(ready_replicas(&deployment_with(unobserved)), 0);
    }

    #[test]
    fn deployment_defaults_to_one_replica() {
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"generation": 1}, "spec": {},
            "status": {"observedGeneration": 1}
        });
        assert_eq!(compute(&obj, 0.0).message, "replicas: 0/1");
    }

    #[test]
    fn stalled_condition_fails_any_kind() {
        let obj = json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "status": {"conditions": [{"type": "Stalled", "status": "True", "reason": "BadSpec", "message": "no"}]}
        });
        assert_eq!(compute(&obj, 0.0).state, State::Failed);
    }

    #[test]
    fn unknown_kinds_are_current_once_they_exist() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(compute(&obj, 0.0).state, State::Current);
    }

    #[test]
    fn deleted_object_is_terminating() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(compute(&obj, 0.0).state, State::Terminating);
    }

    #[test]
    fn job_complete_failed_and_running() {
        let job = |status: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "spec": {"completions": 1}, "status": status});
        let done = job(json!({"startTime": "t", "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}]}));
        assert_eq!(compute(&done, 0.0).state, State::Current);
        let failed = job(json!({"startTime": "t", "failed": 1, "conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}));
        let s = compute(&failed, 0.0);
        assert_eq!(
            (s.state, s.reason.as_str()),
            (State::Failed, "BackoffLimitExceeded")
        );
        let running = job(json!({"startTime": "t", "active": 1}));
        assert_eq!(compute(&running, 0.0).message, "succeeded: 0/1");
        assert_eq!(compute(&job(json!({})), 0.0).reason, "JobNotStarted");
    }

    #[test]
    fn crash_looping_pod_is_failed() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "api", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
        }});
        let s = compute(&pod, 0.0);
        assert_eq!(s.state, State::Failed);
        assert_eq!(s.message, "containers in CrashLoopBackOff: api");
    }

    #[test]
    fn unschedulable_pod_fails_only_after_the_schedule_window() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu."}]
        }});
        assert_eq!(compute(&pod, 3.0).state, State::InProgress);
        let s = compute(&pod, 20.0);
        assert_eq!(s.state, State::Failed);
        assert!(s.message.contains("Insufficient cpu"));
    }

    #[test]
    fn statefulset_waits_for_revision_to_match() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 2},
            "status": {"replicas": 2, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2,
                "currentRevision": "a", "updateRevision": "b"}});
        assert_eq!(compute(&sts, 0.0).reason, "RevisionMismatch");
    }

    #[test]
    fn daemonset_without_observed_generation_is_in_progress() {
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1},
            "status": {"desiredNumberScheduled": 1, "numberReady": 1}});
        assert_eq!(compute(&ds, 0.0).reason, "NoObservedGeneration");
    }
}

//! The built-in check on warning events: while a canary step or a blue-green phase
//! watches its new pods (once they are ready), a `Warning` event about one of them fails
//! it — a volume that fails to mount, a liveness probe that fails below its threshold, an
//! OOM kill, an eviction, a failing lifecycle hook: what readiness and restarts alone do
//! not show yet.
//!
//! Readiness probe failures (`Unhealthy`, "Readiness probe failed") are left to the
//! readiness check: a probe may fail a few times by design before the pod is taken out
//! of its Service, and a pod that does stop being ready fails the phase there.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::diagnose;
use crate::track::{Diagnosis, Workload};

/// How often the namespace's events are read.
const POLL: Duration = Duration::from_secs(1);

/// The [`Diagnosis::reason`] of a phase failed by a warning event.
pub const WARNING_EVENT: &str = "WarningEvent";

/// Resolves with the diagnosis of the first warning event about a pod of `workload`
/// (a Deployment) that happened after `since`; never resolves without one. Events that
/// cannot be read are read again at the next poll.
pub(super) async fn first(
    cluster: &Arc<Cluster>,
    workload: &Workload,
    since: Timestamp,
) -> Box<Diagnosis> {
    loop {
        if let Ok(events) = cluster.list("v1", "Event", &workload.namespace, "").await
            && let Some(event) = events.iter().find(|e| fails(e, &workload.name, since))
        {
            return diagnosis(workload, event, &events);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether `event` is a warning about a pod of the Deployment `deployment`, after
/// `since`, that the readiness check does not already judge.
fn fails(event: &Value, deployment: &str, since: Timestamp) -> bool {
    let text = |at: &str| event.pointer(at).and_then(Value::as_str).unwrap_or("");
    text("/type") == "Warning"
        && text("/involvedObject/kind") == "Pod"
        && is_pod_of(text("/involvedObject/name"), deployment)
        && !(text("/reason") == "Unhealthy" && text("/message").starts_with("Readiness probe"))
        && time(event).is_some_and(|t| t > since)
}

/// Whether `pod` is named as a pod of the Deployment `deployment`'s ReplicaSets:
/// `<deployment>-<template hash>-<suffix>`.
fn is_pod_of(pod: &str, deployment: &str) -> bool {
    pod.strip_prefix(deployment)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('-').collect();
            parts.len() == 2 && parts.iter().all(|p| !p.is_empty())
        })
}

/// When the event last happened: its series' last observation, its `lastTimestamp`, its
/// `eventTime`, or when it was created.
fn time(event: &Value) -> Option<Timestamp> {
    [
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|at| event.pointer(at).and_then(Value::as_str))
    .find_map(|t| t.parse::<Timestamp>().ok())
}

fn diagnosis(workload: &Workload, event: &Value, events: &[Value]) -> Box<Diagnosis> {
    let text = |at: &str| event.pointer(at).and_then(Value::as_str).unwrap_or("");
    let pod = text("/involvedObject/name").to_owned();
    let container = text("/involvedObject/fieldPath")
        .strip_prefix("spec.containers{")
        .and_then(|c| c.strip_suffix('}'))
        .map(str::to_owned);
    Box::new(Diagnosis {
        workload: format!("deployment/{}", workload.name),
        reason: WARNING_EVENT.into(),
        message: format!(
            "pod {pod}: Warning {}: {}",
            text("/reason"),
            text("/message")
        ),
        events: diagnose::events_for(events, "Pod", &pod, 8),
        pod: Some(pod),
        container,
        logs: vec![],
        check: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, name: &str, reason: &str, message: &str, at: &str) -> Value {
        json!({"type": "Warning", "reason": reason, "message": message, "lastTimestamp": at,
            "involvedObject": {"kind": kind, "name": name, "fieldPath": "spec.containers{api}"}})
    }

    #[test]
    fn a_later_warning_about_a_pod_of_the_deployment_fails_it() {
        let since: Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
        let mount = event(
            "Pod",
            "api-canary-5d9f8-x2x7q",
            "FailedMount",
            "secret \"tls\" not found",
            "2026-12-03T10:00:05Z",
        );
        assert!(fails(&mount, "api-canary", since));
        // Not one of its pods: the stable Deployment's, or another kind.
        assert!(!fails(&mount, "api", since));
        let mut rs = mount.clone();
        rs["involvedObject"]["kind"] = json!("ReplicaSet");
        assert!(!fails(&rs, "api-canary", since));
        // Before the pods were ready, or a normal event.
        let mut early = mount.clone();
        early["lastTimestamp"] = json!("2026-12-03T09:59:59Z");
        assert!(!fails(&early, "api-canary", since));
        let mut normal = mount.clone();
        normal["type"] = json!("Normal");
        assert!(!fails(&normal, "api-canary", since));
        // Readiness is judged by readiness; a failing liveness probe is a warning.
        let readiness = event(
            "Pod",
            "api-canary-5d9f8-x2x7q",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            "2026-12-03T10:00:05Z",
        );
        assert!(!fails(&readiness, "api-canary", since));
        let mut liveness = readiness.clone();
        liveness["message"] = json!("Liveness probe failed: connection refused");
        assert!(fails(&liveness, "api-canary", since));

        let w = Workload {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "shop".into(),
            name: "api-canary".into(),
        };
        let d = diagnosis(&w, &mount, std::slice::from_ref(&mount));
        assert_eq!(d.reason, WARNING_EVENT);
        assert_eq!(
            d.message,
            "pod api-canary-5d9f8-x2x7q: Warning FailedMount: secret \"tls\" not found"
        );
        assert_eq!(d.container.as_deref(), Some("api"));
    }

    #[test]
    fn pods_are_told_by_their_names() {
        assert!(is_pod_of("web-preview-69879b5dd6-kzxg6", "web-preview"));
        assert!(!is_pod_of("web-preview-69879b5dd6-kzxg6", "web"));
        assert!(!is_pod_of("web-69879b5dd6", "web"));
        assert!(!is_pod_of("webx-69879b5dd6-kzxg6", "web"));
    }
}

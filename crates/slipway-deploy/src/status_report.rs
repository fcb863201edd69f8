//! What runs now compared with what the current release recorded: per workload the
//! ready and desired replicas and the images, and every drift — a field someone changed
//! on the cluster after the release (`kubectl set image`, `kubectl scale`), named with
//! the field manager that changed it, read from the object's managed fields.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use kube::runtime::watcher;
use serde_json::Value;

use crate::cluster::{Cluster, ClusterError, object_name};
use crate::record::Release;
use crate::track::is_tracked_kind;

/// A field that differs from the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub field: String,
    pub recorded: String,
    pub live: String,
    /// The field manager that owns the live value (`kubectl-set`, `kubectl`, …).
    pub manager: String,
}

/// One workload of the release as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadStatus {
    pub workload: String,
    pub ready: i64,
    pub desired: i64,
    pub images: Vec<String>,
    pub drift: Vec<Drift>,
    /// The workload is in the release but not on the cluster.
    pub missing: bool,
}

/// Compares every workload of `release` with the cluster.
pub async fn workloads(
    cluster: &Arc<Cluster>,
    namespace: &str,
    release: &Release,
) -> Vec<WorkloadStatus> {
    let mut out = Vec::new();
    for recorded in &release.manifest {
        let kind = recorded.get("kind").and_then(Value::as_str).unwrap_or("");
        if !is_tracked_kind(kind) || kind == "Job" {
            continue;
        }
        let api_version = recorded
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = object_name(recorded).unwrap_or("");
        let label = format!("{}/{name}", kind.to_ascii_lowercase());
        match cluster.get(api_version, kind, namespace, name).await {
            Ok(Some(live)) => out.push(compare(&label, recorded, &live)),
            _ => out.push(WorkloadStatus {
                workload: label,
                ready: 0,
                desired: 0,
                images: vec![],
                drift: vec![],
                missing: true,
            }),
        }
    }
    out
}

/// The workloads on the cluster that carry `label` (`key=value`, such as the app's
/// ApplySet membership), as they run: for a namespace where objects of the app run but
/// no release is recorded. Nothing to compare them with, so no drift.
///
/// # Errors
///
/// A cluster error when a kind cannot be listed.
pub async fn labelled(
    cluster: &Arc<Cluster>,
    namespace: &str,
    label: &str,
) -> Result<Vec<WorkloadStatus>, ClusterError> {
    let mut out = Vec::new();
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        let mut items = cluster.list("apps/v1", kind, namespace, label).await?;
        items.sort_by(|a, b| object_name(a).cmp(&object_name(b)));
        for live in &items {
            let label = format!(
                "{}/{}",
                kind.to_ascii_lowercase(),
                object_name(live).unwrap_or("")
            );
            out.push(compare(&label, live, live));
        }
    }
    Ok(out)
}

/// A stream that yields whenever something `status` shows may have changed in
/// `namespace`: a workload, a pod, or a release record. Built on watches (a dropped
/// watch is resumed or re-listed by `kube_runtime::watcher`, which also yields then).
///
/// # Errors
///
/// A cluster error when a kind cannot be resolved.
pub async fn changes(
    cluster: &Arc<Cluster>,
    namespace: &str,
) -> Result<BoxStream<'static, ()>, ClusterError> {
    let kinds = [
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("v1", "Pod"),
        // Release records: a new revision, or a status that moved.
        ("v1", "Secret"),
    ];
    let mut streams = Vec::new();
    for (api_version, kind) in kinds {
        let api = cluster.api(api_version, kind, Some(namespace)).await?;
        let config = if kind == "Secret" {
            watcher::Config::default().labels(&format!("{}=slipway", crate::record::MANAGED_BY))
        } else {
            watcher::Config::default()
        };
        // Only that something happened matters; the objects are read again.
        streams.push(watcher::watcher(api, config).map(|_| ()).boxed());
    }
    Ok(stream::select_all(streams).boxed())
}

/// Compares one recorded workload with its live object.
pub fn compare(label: &str, recorded: &Value, live: &Value) -> WorkloadStatus {
    let containers = |o: &Value| crate::value::containers(o.pointer("/spec/template/spec"));
    let mut drift = Vec::new();
    let live_containers = containers(live);
    for (name, image) in containers(recorded) {
        if let Some((_, live_image)) = live_containers.iter().find(|(n, _)| *n == name)
            && *live_image != image
        {
            let path = [
                "f:spec",
                "f:template",
                "f:spec",
                "f:containers",
                &format!("k:{{\"name\":\"{name}\"}}"),
                "f:image",
            ];
            drift.push(Drift {
                field: format!("spec.template.spec.containers[{name}].image"),
                recorded: image,
                live: live_image.clone(),
                manager: manager_of(live, &path),
            });
        }
    }
    let recorded_replicas = recorded.pointer("/spec/replicas").and_then(Value::as_i64);
    let live_replicas = live.pointer("/spec/replicas").and_then(Value::as_i64);
    if let (Some(r), Some(l)) = (recorded_replicas, live_replicas)
        && r != l
    {
        drift.push(Drift {
            field: "spec.replicas".into(),
            recorded: r.to_string(),
            live: l.to_string(),
            manager: manager_of(live, &["f:spec", "f:replicas"]),
        });
    }
    WorkloadStatus {
        workload: label.to_string(),
        ready: live
            .pointer("/status/readyReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        desired: live_replicas.unwrap_or(1),
        images: live_containers.into_iter().map(|(_, i)| i).collect(),
        drift,
        missing: false,
    }
}

/// The manager owning the field at `path` in `managedFields`, other managers before
/// slipway (the last one to set it wins).
fn manager_of(live: &Value, path: &[&str]) -> String {
    let entries = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let owns = |e: &Value| {
        let mut node = e.get("fieldsV1");
        for step in path {
            node = node.and_then(|n| n.get(*step));
        }
        node.is_some()
    };
    entries
        .iter()
        .filter(|e| owns(e))
        .filter_map(|e| e.get("manager").and_then(Value::as_str))
        .find(|m| *m != crate::cluster::FIELD_MANAGER)
        .unwrap_or("unknown")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_changed_by_another_manager_is_drift_naming_it() {
        let recorded = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "api", "image": "r/api:1"}]}}}});
        let live = json!({
            "metadata": {"managedFields": [
                {"manager": "slipway", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kubectl-set", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"api\"}": {"f:image": {}}}}}}}}
            ]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "api", "image": "r/api:hotfix"}]}}},
            "status": {"readyReplicas": 1}
        });
        let s = compare("deployment/api", &recorded, &live);
        assert_eq!(
            s.drift,
            [Drift {
                field: "spec.template.spec.containers[api].image".into(),
                recorded: "r/api:1".into(),
                live: "r/api:hotfix".into(),
                manager: "kubectl-set".into(),
            }]
        );
        assert_eq!((s.ready, s.desired), (1, 1));
    }

    #[test]
    fn matching_workload_has_no_drift() {
        let obj = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "api", "image": "r/api:1"}]}}}});
        assert!(compare("deployment/api", &obj, &obj).drift.is_empty());
    }
}

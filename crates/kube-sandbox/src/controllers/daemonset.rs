//! The DaemonSet controller (`pkg/controller/daemon/`), for the one node `sandbox-node`:
//! a DaemonSet whose `nodeSelector` matches the node's labels runs one pod there, made from
//! its template with `generateName: <ds>-`, a controller ownerReference, the labels
//! `controller-revision-hash` (the hash of the template's revision) and
//! `pod-template-generation`, and the node affinity and tolerations the real controller adds.
//! A DaemonSet that should not run on the node deletes its pod there; a Failed or Succeeded
//! pod is replaced, and of several running pods all but the oldest are deleted.
//!
//! Templates are kept as ControllerRevisions exactly as for StatefulSets (see
//! [`super::statefulset`]), but labelled `controller-revision-hash`. With the
//! `RollingUpdate` strategy (maxUnavailable 1, no surge) a pod of another revision is deleted
//! and, once it is gone, the new one is created; with `OnDelete` a pod is only replaced
//! after it has been deleted. Status: `desiredNumberScheduled`, `currentNumberScheduled`,
//! `updatedNumberScheduled`, `numberReady`, `numberAvailable` (Ready for
//! `minReadySeconds`), `numberUnavailable`, `numberMisscheduled`, `observedGeneration`.
//! `pod-template-generation` is the DaemonSet's `metadata.generation` (the real API server
//! keeps a separate template generation).

use super::events::Component;
use super::replicaset::pod_from_template;
use super::statefulset::{REVISION_LABEL, sync_revisions, truncate_history};
use super::{Ctx, is_terminating, pod_ready};
use crate::NODE_NAME;
use crate::util::{parse_rfc3339, str_at};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const GENERATION_LABEL: &str = "pod-template-generation";

/// The tolerations the real controller adds to every daemon pod.
const TOLERATIONS: [(&str, &str); 6] = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];

/// Whether the DaemonSet's pods belong on `node` (its `nodeSelector` matches the labels).
fn should_run(ds: &Value, node: &Value) -> bool {
    ds["spec"]["template"]["spec"]["nodeSelector"]
        .as_object()
        .is_none_or(|sel| sel.iter().all(|(k, v)| &node["metadata"]["labels"][k] == v))
}

fn new_pod(ds: &Value, hash: &str) -> Value {
    let name = str_at(ds, "metadata.name");
    let mut pod = pod_from_template(ds, &ds["spec"]["template"], &format!("{name}-"));
    let generation = ds["metadata"]["generation"].as_i64().unwrap_or(1);
    let labels = pod["metadata"]
        .as_object_mut()
        .expect("metadata")
        .entry("labels")
        .or_insert_with(|| json!({}));
    labels[REVISION_LABEL] = json!(hash);
    labels[GENERATION_LABEL] = json!(generation.to_string());
    // Bind to the node through affinity, as `ReplaceDaemonSetPodNodeNameNodeAffinity` does.
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [NODE_NAME]}
        ]}]
    });
    let mut tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (key, effect) in TOLERATIONS {
        if !tolerations
            .iter()
            .any(|t| t["key"] == key && t["effect"] == effect)
        {
            tolerations.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
    pod["spec"]["tolerations"] = json!(tolerations);
    pod
}

fn is_updated(pod: &Value, hash: &str) -> bool {
    pod["metadata"]["labels"][REVISION_LABEL] == json!(hash)
}

pub(crate) fn sync(ctx: &Ctx, ns: &str, name: &str) -> Option<Duration> {
    let ds = ctx.get(&ctx.daemonsets, ns, name)?;
    if is_terminating(&ds) {
        return None;
    }
    let (_, hash, collisions) = sync_revisions(ctx, &ds, REVISION_LABEL);
    let wanted = ctx
        .get(&ctx.nodes, "", NODE_NAME)
        .is_some_and(|node| should_run(&ds, &node));
    let rolling = ds["spec"]["updateStrategy"]["type"] != "OnDelete";
    let pods = ctx.owned(&ctx.pods, &ds);
    let mut running: Vec<&Value> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| !is_terminating(p))
        .collect();
    running.sort_by_key(|p| {
        (
            parse_rfc3339(str_at(p, "metadata.creationTimestamp")).unwrap_or(0),
            str_at(p, "metadata.name").to_string(),
        )
    });
    let deleted = |p: &Value| {
        ctx.delete(&ctx.pods, p);
        let msg = format!("Deleted pod: {}", str_at(p, "metadata.name"));
        ctx.events
            .normal(Component::DaemonSet, &ds, "SuccessfulDelete", &msg);
    };
    if !wanted {
        for p in &running {
            deleted(p);
        }
    } else {
        // Finished pods are replaced; of several running ones, the oldest stays.
        let (finished, alive): (Vec<&Value>, Vec<&Value>) = running
            .iter()
            .partition(|p| matches!(str_at(p, "status.phase"), "Failed" | "Succeeded"));
        for p in finished.iter().chain(alive.iter().skip(1)) {
            deleted(p);
        }
        match alive.first() {
            // RollingUpdate with maxUnavailable 1 and one node: the old pod goes first.
            Some(p) if rolling && !is_updated(p, &hash) => deleted(p),
            Some(_) => {}
            // A new pod once every old one (also the terminating ones) is gone.
            None if pods.len() == finished.len() => {
                if let Some(pod) = ctx.create(&ctx.pods, ns, new_pod(&ds, &hash)) {
                    let msg = format!("Created pod: {}", str_at(&pod, "metadata.name"));
                    ctx.events
                        .normal(Component::DaemonSet, &ds, "SuccessfulCreate", &msg);
                }
            }
            None => {}
        }
    }

    // Status, from the pods that now exist.
    let pods = ctx.owned(&ctx.pods, &ds);
    let mut live: Vec<&Value> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| !is_terminating(p))
        .collect();
    live.sort_by_key(|p| parse_rfc3339(str_at(p, "metadata.creationTimestamp")).unwrap_or(0));
    let min_ready = ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let desired = i64::from(wanted);
    let (mut current, mut ready, mut available, mut updated, mut misscheduled) = (0, 0, 0, 0, 0);
    let mut requeue = None;
    match live.first() {
        Some(p) if wanted => {
            current = 1;
            if pod_ready(p) {
                ready = 1;
                let (ok, wait) = ctx.pod_available(p, min_ready);
                available = i64::from(ok);
                requeue = wait;
            }
            updated = i64::from(is_updated(p, &hash));
        }
        Some(_) => misscheduled = 1,
        None => {}
    }
    let mut status = json!({
        "desiredNumberScheduled": desired, "currentNumberScheduled": current,
        "numberReady": ready, "numberMisscheduled": misscheduled,
        "observedGeneration": ds["metadata"]["generation"],
    });
    for (k, v) in [
        ("updatedNumberScheduled", updated),
        ("numberAvailable", available),
        ("numberUnavailable", desired - available),
        ("collisionCount", collisions),
    ] {
        if v > 0 {
            status[k] = json!(v);
        }
    }
    ctx.write_status(&ctx.daemonsets, &ds, status);

    // Revisions that no pod uses, other than the current one, go beyond the history limit.
    let in_use: BTreeSet<String> = ctx
        .owned(&ctx.pods, &ds)
        .iter()
        .filter_map(|p| p["metadata"]["labels"][REVISION_LABEL].as_str())
        .chain([hash.as_str()])
        .map(str::to_string)
        .collect();
    truncate_history(ctx, &ds, |r| {
        r["metadata"]["labels"][REVISION_LABEL]
            .as_str()
            .is_some_and(|h| in_use.contains(h))
    });
    requeue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_selector_decides_where_pods_run() {
        let node = json!({"metadata": {"labels": {"kubernetes.io/os": "linux"}}});
        let ds = |sel: Value| json!({"spec": {"template": {"spec": {"nodeSelector": sel}}}});
        assert!(should_run(&json!({"spec": {}}), &node));
        assert!(should_run(&ds(json!({"kubernetes.io/os": "linux"})), &node));
        assert!(!should_run(
            &ds(json!({"kubernetes.io/os": "windows"})),
            &node
        ));
        assert!(!should_run(&ds(json!({"disk": "ssd"})), &node));
    }

    #[test]
    fn daemon_pods_carry_revision_generation_affinity_and_tolerations() {
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default", "uid": "u1", "generation": 3},
            "spec": {"template": {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "i"}],
                    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]}}}});
        let pod = new_pod(&ds, "abc");
        assert_eq!(pod["metadata"]["generateName"], "agent-");
        assert_eq!(
            pod["metadata"]["labels"],
            json!({"app": "agent", "controller-revision-hash": "abc", "pod-template-generation": "3"})
        );
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 6);
        assert_eq!(
            pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                ["nodeSelectorTerms"][0]["matchFields"][0]["values"][0],
            NODE_NAME
        );
    }
}

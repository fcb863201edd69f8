//! The ReplicaSet controller (`pkg/controller/replicaset/replica_set.go`): keeps
//! `spec.replicas` active pods, made from `spec.template` with `generateName: <rs>-` and a
//! controller ownerReference; when there are too many it deletes the least valuable first
//! (unscheduled, then pending, then not ready, then ready for the shortest time, then the
//! most restarted, then the newest — the ranking of `ActivePodsWithRanks`). It writes
//! `status.replicas`, `fullyLabeledReplicas`, `readyReplicas`, `availableReplicas` (Ready
//! for `minReadySeconds`) and `observedGeneration`, and records `SuccessfulCreate` /
//! `SuccessfulDelete` events. Pods are never adopted or released: this sandbox's pods carry
//! their controller from birth.

use super::events::Component;
use super::{Ctx, active_pods, int_at, is_terminating, owner_ref, pod_ready, ready_since};
use crate::util::{parse_rfc3339, str_at};
use serde_json::{Map, Value, json};
use std::cmp::Reverse;
use std::time::Duration;

/// A pod made from a template, controlled by `owner`.
pub(crate) fn pod_from_template(owner: &Value, template: &Value, generate_name: &str) -> Value {
    let mut meta = Map::new();
    meta.insert("generateName".into(), json!(generate_name));
    meta.insert("namespace".into(), owner["metadata"]["namespace"].clone());
    for k in ["labels", "annotations"] {
        if let Some(v) = template["metadata"].get(k).filter(|v| v.is_object()) {
            meta.insert(k.into(), v.clone());
        }
    }
    meta.insert("ownerReferences".into(), json!([owner_ref(owner)]));
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"].clone()})
}

fn phase_rank(pod: &Value) -> u8 {
    match str_at(pod, "status.phase") {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

fn restarts(pod: &Value) -> i64 {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .max()
        .unwrap_or(0)
}

/// Orders pods so that the first ones are the best to delete.
pub(crate) fn deletion_order(pods: &mut [&Value]) {
    pods.sort_by_key(|p| {
        (
            !str_at(p, "spec.nodeName").is_empty(),
            phase_rank(p),
            pod_ready(p),
            Reverse(ready_since(p).unwrap_or(0)),
            Reverse(restarts(p)),
            Reverse(parse_rfc3339(str_at(p, "metadata.creationTimestamp")).unwrap_or(0)),
            Reverse(str_at(p, "metadata.name").to_string()),
        )
    });
}

pub(crate) fn sync(ctx: &Ctx, ns: &str, name: &str) -> Option<Duration> {
    let rs = ctx.get(&ctx.replicasets, ns, name)?;
    let pods = ctx.owned(&ctx.pods, &rs);
    let active = active_pods(&pods);
    if !is_terminating(&rs) {
        let want = int_at(&rs, "spec.replicas").max(0);
        let have = active.len() as i64;
        if have < want {
            for _ in 0..(want - have).min(500) {
                let pod = pod_from_template(&rs, &rs["spec"]["template"], &format!("{name}-"));
                match ctx.create(&ctx.pods, ns, pod) {
                    Some(p) => ctx.events.normal(
                        Component::ReplicaSet,
                        &rs,
                        "SuccessfulCreate",
                        &format!("Created pod: {}", str_at(&p, "metadata.name")),
                    ),
                    None => break,
                }
            }
        } else if have > want {
            let mut victims = active.clone();
            deletion_order(&mut victims);
            for p in victims.into_iter().take((have - want) as usize) {
                ctx.delete(&ctx.pods, p);
                ctx.events.normal(
                    Component::ReplicaSet,
                    &rs,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", str_at(p, "metadata.name")),
                );
            }
        }
    }
    // Status from what is there now.
    let pods = ctx.owned(&ctx.pods, &rs);
    let active = active_pods(&pods);
    let min_ready = int_at(&rs, "spec.minReadySeconds");
    let template_sel = json!({"matchLabels": rs["spec"]["template"]["metadata"]["labels"]});
    let mut fully = 0;
    let mut ready = 0;
    let mut available = 0;
    let mut requeue: Option<Duration> = None;
    for p in &active {
        if super::labels_match(&template_sel, p) {
            fully += 1;
        }
        if pod_ready(p) {
            ready += 1;
        }
        let (avail, later) = ctx.pod_available(p, min_ready);
        if avail {
            available += 1;
        }
        if let Some(l) = later {
            requeue = Some(requeue.map_or(l, |r| r.min(l)));
        }
    }
    let mut status = json!({"replicas": active.len()});
    for (k, v) in [
        ("fullyLabeledReplicas", fully),
        ("readyReplicas", ready),
        ("availableReplicas", available),
    ] {
        if v > 0 {
            status[k] = json!(v);
        }
    }
    status["observedGeneration"] = rs["metadata"]["generation"].clone();
    if let Some(c) = rs["status"].get("conditions") {
        status["conditions"] = c.clone();
    }
    ctx.write_status(&ctx.replicasets, &rs, status);
    requeue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_down_prefers_unscheduled_then_unready_then_newest() {
        let pending = json!({"metadata": {"name": "a", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {}, "status": {"phase": "Pending"}});
        let unready = json!({"metadata": {"name": "b", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"nodeName": "n"}, "status": {"phase": "Running"}});
        let old_ready = json!({"metadata": {"name": "c", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"nodeName": "n"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:05Z"}]}});
        let new_ready = json!({"metadata": {"name": "d", "creationTimestamp": "2024-01-01T00:01:00Z"}, "spec": {"nodeName": "n"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:01:05Z"}]}});
        let mut pods = vec![&old_ready, &new_ready, &unready, &pending];
        deletion_order(&mut pods);
        let names: Vec<&str> = pods.iter().map(|p| str_at(p, "metadata.name")).collect();
        assert_eq!(names, ["a", "b", "d", "c"]);
    }

    #[test]
    fn template_pods_carry_labels_and_a_controller_reference() {
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-abc", "namespace": "ns", "uid": "u1"}});
        let tpl = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let pod = pod_from_template(&rs, &tpl, "web-abc-");
        assert_eq!(pod["metadata"]["generateName"], "web-abc-");
        assert_eq!(pod["metadata"]["labels"]["app"], "web");
        let r = &pod["metadata"]["ownerReferences"][0];
        assert_eq!(
            (
                r["kind"].as_str(),
                r["controller"].as_bool(),
                r["blockOwnerDeletion"].as_bool()
            ),
            (Some("ReplicaSet"), Some(true), Some(true))
        );
    }
}

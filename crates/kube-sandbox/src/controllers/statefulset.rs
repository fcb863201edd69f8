//! The StatefulSet controller (`pkg/controller/statefulset/`), for the default
//! `OrderedReady` pod management: pods `<sts>-0 … <sts>-N-1` are created one at a time,
//! each only once all lower ordinals are Running and Ready; scale-down removes the highest
//! ordinal first; a `RollingUpdate` replaces pods whose `controller-revision-hash` is not
//! the update revision, from the highest ordinal down to `partition`, one at a time. The
//! revision is `<sts>-<hash of the template>`; status carries `currentRevision`,
//! `updateRevision` and the replica counts. ControllerRevision objects are not written.

use super::deployment::template_hash;
use super::events::Component;
use super::replicaset::pod_from_template;
use super::{Ctx, int_at, is_terminating, pod_ready};
use crate::util::str_at;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const REVISION_LABEL: &str = "controller-revision-hash";

fn ordinal(sts_name: &str, pod: &Value) -> Option<i64> {
    str_at(pod, "metadata.name")
        .strip_prefix(sts_name)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

pub(crate) fn sync(ctx: &Ctx, ns: &str, name: &str) -> Option<Duration> {
    let sts = ctx.get(&ctx.statefulsets, ns, name)?;
    if is_terminating(&sts) {
        return None;
    }
    // The API server's defaults, when it did not write them (kubectl's rollout status needs
    // the strategy type).
    if sts["spec"]["updateStrategy"]["type"].is_null()
        || sts["spec"]["podManagementPolicy"].is_null()
    {
        ctx.mutate(&ctx.statefulsets, &sts, |o| {
            if o["spec"]["updateStrategy"]["type"].is_null() {
                o["spec"]["updateStrategy"] =
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
            }
            if o["spec"]["podManagementPolicy"].is_null() {
                o["spec"]["podManagementPolicy"] = json!("OrderedReady");
            }
            if o["spec"]["revisionHistoryLimit"].is_null() {
                o["spec"]["revisionHistoryLimit"] = json!(10);
            }
        });
        return None;
    }
    let replicas = sts["spec"]["replicas"].as_i64().unwrap_or(1);
    let update_revision = format!("{name}-{}", template_hash(&sts["spec"]["template"], 0));
    let mut current_revision = sts["status"]["currentRevision"]
        .as_str()
        .unwrap_or(&update_revision)
        .to_string();
    let pods: BTreeMap<i64, Value> = ctx
        .owned(&ctx.pods, &sts)
        .into_iter()
        .filter_map(|p| Some((ordinal(name, &p)?, (*p).clone())))
        .collect();
    let healthy =
        |p: &Value| !is_terminating(p) && str_at(p, "status.phase") == "Running" && pod_ready(p);
    // Replace failed pods, create missing ones in order, each after its predecessors are ready.
    let mut blocked = false;
    for i in 0..replicas {
        match pods.get(&i) {
            Some(p)
                if matches!(str_at(p, "status.phase"), "Failed" | "Succeeded")
                    && !is_terminating(p) =>
            {
                ctx.delete(&ctx.pods, p);
                blocked = true;
                break;
            }
            Some(p) if healthy(p) => {}
            Some(_) => {
                blocked = true;
                break;
            }
            None => {
                let mut pod = pod_from_template(&sts, &sts["spec"]["template"], "");
                let pod_name = format!("{name}-{i}");
                let meta = pod["metadata"].as_object_mut().expect("metadata");
                meta.remove("generateName");
                meta.insert("name".into(), json!(pod_name));
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                labels[REVISION_LABEL] = json!(update_revision);
                labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
                labels["apps.kubernetes.io/pod-index"] = json!(i.to_string());
                pod["spec"]["hostname"] = json!(pod_name);
                if let Some(svc) = sts["spec"]["serviceName"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                {
                    pod["spec"]["subdomain"] = json!(svc);
                }
                if ctx.create(&ctx.pods, ns, pod).is_some() {
                    let msg = format!("create Pod {pod_name} in StatefulSet {name} successful");
                    ctx.events
                        .normal(Component::StatefulSet, &sts, "SuccessfulCreate", &msg);
                }
                blocked = true;
                break;
            }
        }
    }
    if !blocked {
        // Scale down from the highest ordinal, one at a time.
        if let Some((_, p)) = pods
            .iter()
            .rev()
            .find(|(i, p)| **i >= replicas && !is_terminating(p))
        {
            ctx.delete(&ctx.pods, p);
            let msg = format!(
                "delete Pod {} in StatefulSet {name} successful",
                str_at(p, "metadata.name")
            );
            ctx.events
                .normal(Component::StatefulSet, &sts, "SuccessfulDelete", &msg);
        } else if sts["spec"]["updateStrategy"]["type"] != "OnDelete" {
            let partition = int_at(&sts, "spec.updateStrategy.rollingUpdate.partition");
            let stale = pods
                .iter()
                .rev()
                .filter(|(i, _)| **i < replicas && **i >= partition)
                .find(|(_, p)| p["metadata"]["labels"][REVISION_LABEL] != json!(update_revision));
            if let Some((_, p)) = stale
                && !is_terminating(p)
            {
                ctx.delete(&ctx.pods, p);
            }
        }
    }
    // Status.
    let pods = ctx.owned(&ctx.pods, &sts);
    let live: Vec<&Value> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| !is_terminating(p))
        .collect();
    let count = |f: &dyn Fn(&Value) -> bool| live.iter().filter(|p| f(p)).count() as i64;
    let ready = count(&|p| pod_ready(p));
    let updated = count(&|p| p["metadata"]["labels"][REVISION_LABEL] == json!(update_revision));
    if updated == replicas && ready == replicas {
        current_revision = update_revision.clone();
    }
    let current = count(&|p| p["metadata"]["labels"][REVISION_LABEL] == json!(current_revision));
    let mut status = json!({"replicas": live.len(), "observedGeneration": sts["metadata"]["generation"],
        "currentRevision": current_revision, "updateRevision": update_revision, "collisionCount": 0,
        "availableReplicas": ready});
    for (k, v) in [
        ("readyReplicas", ready),
        ("currentReplicas", current),
        ("updatedReplicas", updated),
    ] {
        if v > 0 {
            status[k] = json!(v);
        }
    }
    ctx.write_status(&ctx.statefulsets, &sts, status);
    None
}

//! The StatefulSet controller (`pkg/controller/statefulset/`), for the default
//! `OrderedReady` pod management: pods `<sts>-0 … <sts>-N-1` are created one at a time,
//! each only once all lower ordinals are Running and Ready; scale-down removes the highest
//! ordinal first; a `RollingUpdate` replaces pods whose `controller-revision-hash` is not
//! the update revision, from the highest ordinal down to `partition`, one at a time. The
//! revision is `<sts>-<hash of the revision data>`; status carries `currentRevision`,
//! `updateRevision`, `collisionCount` and the replica counts.
//!
//! Every template the StatefulSet has had is kept as a ControllerRevision (as the real
//! `getStatefulSetRevisions` and `truncateHistory` do): named after the revision, labelled
//! with the template's labels and `controller.kubernetes.io/hash`, controlled by the
//! StatefulSet, its `data` the strategic merge patch that restores the template
//! (`{"spec":{"template":{"$patch":"replace",…}}}`) and its `revision` a number that grows
//! with each new template. Going back to an earlier template (`kubectl rollout undo`)
//! renumbers that revision as the newest instead of writing a new one. Revisions that no
//! pod uses and that are neither current nor the update revision are deleted, oldest
//! first, beyond `revisionHistoryLimit`.

use super::deployment::{template_hash, without_nulls};
use super::events::Component;
use super::replicaset::pod_from_template;
use super::{Ctx, controller_uid, int_at, is_terminating, owner_ref, pod_ready};
use crate::util::str_at;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub(crate) const REVISION_LABEL: &str = "controller-revision-hash";
const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The `data` of a ControllerRevision for `template`, as the real controller writes it: a
/// strategic merge patch that replaces the template, encoded as the typed API object is (an
/// empty `creationTimestamp` and `resources` are written out), so that kubectl's byte
/// comparison in `rollout undo` finds a template it already has.
fn revision_data(template: &Value) -> Value {
    let mut t = without_nulls(template);
    if !t.is_object() {
        t = json!({});
    }
    if !t["metadata"].is_object() {
        t["metadata"] = json!({});
    }
    t["metadata"]["creationTimestamp"] = Value::Null;
    for list in ["initContainers", "containers"] {
        if let Some(cs) = t
            .get_mut("spec")
            .and_then(|s| s.get_mut(list))
            .and_then(Value::as_array_mut)
        {
            for c in cs {
                if c.is_object() && c.get("resources").is_none() {
                    c["resources"] = json!({});
                }
            }
        }
    }
    t["$patch"] = json!("replace");
    json!({"spec": {"template": t}})
}

fn revision_number(rev: &Value) -> i64 {
    rev["revision"].as_i64().unwrap_or(0)
}

/// Makes the ControllerRevision of the current template of `owner` (a StatefulSet or a
/// DaemonSet) exist and be the newest; returns its name, its hash (also the value of its
/// `hash_label`) and the collision count used for it.
pub(crate) fn sync_revisions(ctx: &Ctx, owner: &Value, hash_label: &str) -> (String, String, i64) {
    let sts = owner;
    let ns = str_at(sts, "metadata.namespace");
    let name = str_at(sts, "metadata.name");
    let template = &sts["spec"]["template"];
    let data = revision_data(template);
    let mut owned = ctx.owned(&ctx.controllerrevisions, sts);
    owned.sort_by_key(|r| revision_number(r));
    let next = owned.last().map_or(1, |r| revision_number(r) + 1);
    let mut collisions = sts["status"]["collisionCount"].as_i64().unwrap_or(0);
    loop {
        // Of the data, as the real `HashControllerRevision`: a template restored from a
        // revision hashes as the one it was recorded from.
        let hash = template_hash(&data, collisions);
        let rev_name = format!("{name}-{hash}");
        match ctx.get(&ctx.controllerrevisions, ns, &rev_name) {
            Some(existing)
                if controller_uid(&existing) == Some(str_at(sts, "metadata.uid"))
                    && existing["data"] == data =>
            {
                let newest = owned.last().map(|r| str_at(r, "metadata.name").to_string());
                if newest.as_deref() != Some(rev_name.as_str()) {
                    ctx.mutate(&ctx.controllerrevisions, &existing, |o| {
                        o["revision"] = json!(next)
                    });
                }
                return (rev_name, hash, collisions);
            }
            // A revision of that name with other content: a hash collision.
            Some(_) if collisions < 100 => collisions += 1,
            Some(_) => return (rev_name, hash, collisions),
            None => {
                let mut labels = template["metadata"]["labels"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                labels.insert(hash_label.into(), json!(hash));
                let rev = json!({
                    "apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": {"name": rev_name, "namespace": ns, "labels": labels,
                        "ownerReferences": [owner_ref(sts)]},
                    "data": data, "revision": next,
                });
                ctx.create(&ctx.controllerrevisions, ns, rev);
                return (rev_name, hash, collisions);
            }
        }
    }
}

/// Deletes, oldest first, the revisions of `owner` beyond its `revisionHistoryLimit` for
/// which `in_use` is false.
pub(crate) fn truncate_history(ctx: &Ctx, owner: &Value, in_use: impl Fn(&Value) -> bool) {
    let limit = owner["spec"]["revisionHistoryLimit"]
        .as_i64()
        .unwrap_or(10)
        .max(0) as usize;
    let mut old: Vec<_> = ctx
        .owned(&ctx.controllerrevisions, owner)
        .into_iter()
        .filter(|r| !in_use(r))
        .collect();
    if old.len() <= limit {
        return;
    }
    old.sort_by_key(|r| revision_number(r));
    let excess = old.len() - limit;
    for r in &old[..excess] {
        ctx.delete(&ctx.controllerrevisions, r);
    }
}

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
    let (update_revision, _, collisions) = sync_revisions(ctx, &sts, HASH_LABEL);
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
        "currentRevision": current_revision, "updateRevision": update_revision, "collisionCount": collisions,
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
    // Revisions that no pod uses and that are neither current nor the update revision go.
    let in_use: BTreeSet<String> = ctx
        .owned(&ctx.pods, &sts)
        .iter()
        .filter_map(|p| p["metadata"]["labels"][REVISION_LABEL].as_str())
        .chain([current_revision.as_str(), update_revision.as_str()])
        .map(str::to_string)
        .collect();
    truncate_history(ctx, &sts, |r| in_use.contains(str_at(r, "metadata.name")));
    None
}

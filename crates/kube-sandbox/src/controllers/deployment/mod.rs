//! The Deployment controller (`pkg/controller/deployment/`): owns ReplicaSets named
//! `<deployment>-<pod-template-hash>` and moves pods from the old ones to the new one.
//!
//! One sync follows the real `syncDeployment`:
//! 1. the `Progressing` condition notes a pause (`DeploymentPaused`) or resume;
//! 2. a paused Deployment, or one whose replica count changed (a ReplicaSet's
//!    `desired-replicas` annotation differs), is only scaled — proportionally across
//!    ReplicaSets mid-rollout — and its status refreshed;
//! 3. otherwise the strategy runs: `RollingUpdate` grows the new ReplicaSet up to
//!    `replicas + maxSurge` and shrinks old ones while `replicas - maxUnavailable` pods stay
//!    available (arithmetic in [`math`]); `Recreate` scales old ReplicaSets to zero, waits
//!    until their pods are gone, then scales the new one up;
//! 4. once complete, old ReplicaSets beyond `revisionHistoryLimit` are deleted;
//! 5. the status is computed as `calculateStatus` does and the `Progressing` condition
//!    moves through `NewReplicaSetCreated` / `FoundNewReplicaSet` / `ReplicaSetUpdated` /
//!    `NewReplicaSetAvailable`, or to `False ProgressDeadlineExceeded` once
//!    `progressDeadlineSeconds` (÷ speed) pass without progress — the only timer.
//!
//! The "new" ReplicaSet is the oldest one whose template equals the Deployment's, ignoring
//! the hash label; it gets revision = highest old revision + 1, and a reused (rolled back)
//! ReplicaSet keeps its former numbers in `deployment.kubernetes.io/revision-history`.

pub mod math;

use super::events::Component;
use super::{Ctx, int_at, is_terminating, owner_ref};
use crate::util::{now_rfc3339, parse_rfc3339, str_at};
use math::{IntOrPercent, RsCounts, ScaleInput, Strategy};
use serde_json::{Map, Value, json};
use std::time::Duration;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const HASH_LABEL: &str = "pod-template-hash";

const SKIPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// JSON with sorted keys, so equal templates hash equally whatever their key order.
pub fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical_json(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The `pod-template-hash` of a template: FNV-1a (32 bit) of the template and the
/// collision count, written with the "safe" alphabet of `rand.SafeEncodeString`.
pub fn template_hash(template: &Value, collision_count: i64) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(canonical_json(&without_nulls(template)).as_bytes());
    if collision_count > 0 {
        feed(&collision_count.to_le_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// A copy without null-valued fields: the API server's decoding makes `null` and absent
/// the same (kubectl sends `creationTimestamp: null` in templates).
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Whether a ReplicaSet's template equals the Deployment's, ignoring the hash label.
pub fn templates_equal(rs_template: &Value, d_template: &Value) -> bool {
    let strip = |t: &Value| {
        let mut t = without_nulls(t);
        if let Some(l) = t["metadata"]["labels"].as_object_mut() {
            l.remove(HASH_LABEL);
        }
        if t["metadata"]["labels"]
            .as_object()
            .is_some_and(Map::is_empty)
        {
            t["metadata"].as_object_mut().map(|m| m.remove("labels"));
        }
        t
    };
    strip(rs_template) == strip(d_template)
}

fn annotation<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o["metadata"]["annotations"][k].as_str()
}

fn revision(rs: &Value) -> i64 {
    annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn created(o: &Value) -> (i64, String) {
    (
        parse_rfc3339(str_at(o, "metadata.creationTimestamp")).unwrap_or(0),
        str_at(o, "metadata.name").to_string(),
    )
}

/// The rolling-update parameters of a Deployment.
pub fn strategy_of(d: &Value) -> Strategy {
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    if d["spec"]["strategy"]["type"] == "Recreate" {
        return Strategy {
            replicas,
            rolling: None,
        };
    }
    let ru = &d["spec"]["strategy"]["rollingUpdate"];
    let surge = IntOrPercent::from_json(&ru["maxSurge"]).unwrap_or(IntOrPercent::Percent(25));
    let unavailable =
        IntOrPercent::from_json(&ru["maxUnavailable"]).unwrap_or(IntOrPercent::Percent(25));
    Strategy {
        replicas,
        rolling: Some((surge, unavailable)),
    }
}

fn has_deadline(d: &Value) -> bool {
    d["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .is_some_and(|s| s != i64::from(i32::MAX))
}

fn condition<'a>(status: &'a Value, type_: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// SetDeploymentCondition: no change when status and reason are the same; the transition
/// time survives when only the reason changes; the condition moves to the end.
fn set_condition(status: &mut Value, type_: &str, st: &str, reason: &str, message: &str) {
    let now = now_rfc3339();
    let mut transition = json!(now);
    if let Some(cur) = condition(status, type_) {
        if cur["status"] == st && cur["reason"] == reason {
            return;
        }
        if cur["status"] == st {
            transition = cur["lastTransitionTime"].clone();
        }
    }
    remove_condition(status, type_);
    let cond = json!({"type": type_, "status": st, "lastUpdateTime": now, "lastTransitionTime": transition,
        "reason": reason, "message": message});
    match status["conditions"].as_array_mut() {
        Some(a) => a.push(cond),
        None => status["conditions"] = json!([cond]),
    }
}

fn remove_condition(status: &mut Value, type_: &str) {
    if let Some(a) = status["conditions"].as_array_mut() {
        a.retain(|c| c["type"] != type_);
    }
}

struct State {
    d: Value,
    strategy: Strategy,
    /// Owned ReplicaSets, oldest first.
    rss: Vec<Value>,
    new: Option<usize>,
}

impl State {
    fn olds(&self) -> impl Iterator<Item = (usize, &Value)> {
        self.rss
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != self.new)
    }

    fn counts(rs: &Value) -> RsCounts {
        RsCounts {
            spec: int_at(rs, "spec.replicas"),
            available: int_at(rs, "status.availableReplicas"),
        }
    }

    fn name(&self) -> &str {
        str_at(&self.d, "metadata.name")
    }
}

pub(crate) fn sync(ctx: &Ctx, ns: &str, name: &str) -> Option<Duration> {
    let d = ctx.get(&ctx.deployments, ns, name)?;
    if is_terminating(&d) || d["spec"]["selector"].as_object().is_none_or(Map::is_empty) {
        return None;
    }
    let mut rss: Vec<Value> = ctx
        .owned(&ctx.replicasets, &d)
        .into_iter()
        .filter(|r| !is_terminating(r))
        .map(|r| (*r).clone())
        .collect();
    rss.sort_by_key(created);
    let strategy = strategy_of(&d);
    let mut st = State {
        d,
        strategy,
        rss,
        new: None,
    };
    check_paused_conditions(ctx, &mut st);
    let paused = st.d["spec"]["paused"] == json!(true);
    if paused || is_scaling_event(&st) {
        return sync_scale(ctx, st, paused);
    }
    if st.strategy.rolling.is_none() {
        rollout_recreate(ctx, st)
    } else {
        rollout_rolling(ctx, st)
    }
}

fn write_status(ctx: &Ctx, st: &mut State, status: Value) {
    ctx.write_status(&ctx.deployments, &st.d, status.clone());
    st.d["status"] = status;
}

fn check_paused_conditions(ctx: &Ctx, st: &mut State) {
    if !has_deadline(&st.d) {
        return;
    }
    let reason = condition(&st.d["status"], "Progressing")
        .map(|c| c["reason"].as_str().unwrap_or_default().to_string());
    if reason.as_deref() == Some("ProgressDeadlineExceeded") {
        return;
    }
    let paused = st.d["spec"]["paused"] == json!(true);
    let mut status = st.d["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    if paused && reason.as_deref() != Some("DeploymentPaused") {
        set_condition(
            &mut status,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
        );
    } else if !paused && reason.as_deref() == Some("DeploymentPaused") {
        set_condition(
            &mut status,
            "Progressing",
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed",
        );
    } else {
        return;
    }
    write_status(ctx, st, status);
}

fn find_new(st: &State) -> Option<usize> {
    let t = &st.d["spec"]["template"];
    st.rss
        .iter()
        .position(|rs| templates_equal(&rs["spec"]["template"], t))
}

fn is_scaling_event(st: &State) -> bool {
    let replicas = st.strategy.replicas;
    st.rss
        .iter()
        .filter(|rs| int_at(rs, "spec.replicas") > 0)
        .any(|rs| {
            annotation(rs, DESIRED_REPLICAS)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v != replicas)
        })
}

fn copied_annotations(d: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(a) = d["metadata"]["annotations"].as_object() {
        for (k, v) in a {
            if !SKIPPED_ANNOTATIONS.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// getAllReplicaSetsAndSyncRevision: finds (or creates) the new ReplicaSet, gives it the
/// next revision, and copies that revision onto the Deployment.
fn sync_revision(ctx: &Ctx, st: &mut State, create: bool) {
    st.new = find_new(st);
    let max_old = st.olds().map(|(_, r)| revision(r)).max().unwrap_or(0);
    let new_rev = max_old + 1;
    let deadline = has_deadline(&st.d);
    match st.new {
        Some(i) => {
            let rs = st.rss[i].clone();
            let mut annotations = rs["metadata"]["annotations"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let before = annotations.clone();
            annotations.extend(copied_annotations(&st.d));
            let old_rev = revision(&rs);
            if old_rev < new_rev {
                annotations.insert(REVISION.into(), json!(new_rev.to_string()));
                if annotations.contains_key(REVISION) && old_rev > 0 {
                    let history = annotations
                        .get(REVISION_HISTORY)
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let joined = if history.is_empty() {
                        old_rev.to_string()
                    } else {
                        format!("{history},{old_rev}")
                    };
                    annotations.insert(REVISION_HISTORY.into(), json!(joined));
                }
            }
            let min_ready = st.d["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
            if (annotations != before || int_at(&rs, "spec.minReadySeconds") != min_ready)
                && let Some(updated) = ctx.mutate(&ctx.replicasets, &rs, |o| {
                    o["metadata"]["annotations"] = Value::Object(annotations);
                    if min_ready > 0 {
                        o["spec"]["minReadySeconds"] = json!(min_ready);
                    } else if let Some(s) = o["spec"].as_object_mut() {
                        s.remove("minReadySeconds");
                    }
                })
            {
                st.rss[i] = updated;
            }
            if deadline && condition(&st.d["status"], "Progressing").is_none() {
                let mut status = st.d["status"].clone();
                let msg = format!(
                    "Found new replica set {:?}",
                    str_at(&st.rss[i], "metadata.name")
                );
                set_condition(
                    &mut status,
                    "Progressing",
                    "True",
                    "FoundNewReplicaSet",
                    &msg,
                );
                write_status(ctx, st, status);
            }
        }
        None if create => {
            let template = without_nulls(&st.d["spec"]["template"]);
            let collisions = st.d["status"]["collisionCount"].as_i64().unwrap_or(0);
            let hash = template_hash(&template, collisions);
            let rs_name = format!("{}-{hash}", st.name());
            let mut tpl = template;
            tpl["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut selector = st.d["spec"]["selector"].clone();
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let all_specs: i64 = st.rss.iter().map(|r| int_at(r, "spec.replicas")).sum();
            let replicas = math::new_rs_new_replicas(&st.strategy, all_specs, 0);
            let mut annotations = copied_annotations(&st.d);
            annotations.insert(REVISION.into(), json!(new_rev.to_string()));
            annotations.insert(
                DESIRED_REPLICAS.into(),
                json!(st.strategy.replicas.to_string()),
            );
            annotations.insert(
                MAX_REPLICAS.into(),
                json!(st.strategy.max_replicas().to_string()),
            );
            let mut spec = json!({"replicas": replicas, "selector": selector, "template": tpl});
            if let Some(m) = st.d["spec"]["minReadySeconds"].as_i64().filter(|m| *m > 0) {
                spec["minReadySeconds"] = json!(m);
            }
            let rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": str_at(&st.d, "metadata.namespace"),
                    "labels": tpl["metadata"]["labels"], "annotations": annotations,
                    "ownerReferences": [owner_ref(&st.d)]},
                "spec": spec,
            });
            let Some(created_rs) =
                ctx.create(&ctx.replicasets, str_at(&st.d, "metadata.namespace"), rs)
            else {
                return;
            };
            if replicas > 0 {
                ctx.events.normal(
                    Component::Deployment,
                    &st.d,
                    "ScalingReplicaSet",
                    &format!("Scaled up replica set {rs_name} from 0 to {replicas}"),
                );
            }
            st.rss.push(created_rs);
            st.new = Some(st.rss.len() - 1);
            if deadline {
                let mut status = st.d["status"].clone();
                if !status.is_object() {
                    status = json!({});
                }
                let msg = format!("Created new replica set {rs_name:?}");
                set_condition(
                    &mut status,
                    "Progressing",
                    "True",
                    "NewReplicaSetCreated",
                    &msg,
                );
                write_status(ctx, st, status);
            }
        }
        None => {}
    }
    if let Some(i) = st.new {
        let rev = annotation(&st.rss[i], REVISION)
            .unwrap_or_default()
            .to_string();
        if !rev.is_empty()
            && annotation(&st.d, REVISION) != Some(rev.as_str())
            && let Some(updated) = ctx.mutate(&ctx.deployments, &st.d, |o| {
                o["metadata"]["annotations"][REVISION] = json!(rev);
            })
        {
            st.d = updated;
        }
    }
}

/// Scales one ReplicaSet (and refreshes its replica annotations); true when its size changed.
fn scale_rs(ctx: &Ctx, st: &mut State, i: usize, size: i64) -> bool {
    let rs = st.rss[i].clone();
    let from = int_at(&rs, "spec.replicas");
    let desired = st.strategy.replicas.to_string();
    let max = st.strategy.max_replicas().to_string();
    if from == size
        && annotation(&rs, DESIRED_REPLICAS) == Some(&desired)
        && annotation(&rs, MAX_REPLICAS) == Some(&max)
    {
        return false;
    }
    let Some(updated) = ctx.mutate(&ctx.replicasets, &rs, |o| {
        o["spec"]["replicas"] = json!(size);
        o["metadata"]["annotations"][DESIRED_REPLICAS] = json!(desired);
        o["metadata"]["annotations"][MAX_REPLICAS] = json!(max);
    }) else {
        return false;
    };
    st.rss[i] = updated;
    if from != size {
        let dir = if size > from { "up" } else { "down" };
        ctx.events.normal(
            Component::Deployment,
            &st.d,
            "ScalingReplicaSet",
            &format!(
                "Scaled {dir} replica set {} from {from} to {size}",
                str_at(&rs, "metadata.name")
            ),
        );
    }
    from != size
}

fn rollout_rolling(ctx: &Ctx, mut st: State) -> Option<Duration> {
    sync_revision(ctx, &mut st, true);
    let Some(n) = st.new else {
        return sync_rollout_status(ctx, &mut st);
    };
    let olds: Vec<(usize, RsCounts)> = st.olds().map(|(i, r)| (i, State::counts(r))).collect();
    let old_counts: Vec<RsCounts> = olds.iter().map(|(_, c)| *c).collect();
    let new_counts = State::counts(&st.rss[n]);
    if let Some(target) = math::reconcile_new(&st.strategy, &old_counts, new_counts)
        && scale_rs(ctx, &mut st, n, target)
    {
        return sync_rollout_status(ctx, &mut st);
    }
    let sizes = math::reconcile_old(&st.strategy, &old_counts, new_counts);
    let mut scaled = false;
    for ((i, c), size) in olds.iter().zip(sizes) {
        if size != c.spec {
            scaled |= scale_rs(ctx, &mut st, *i, size);
        }
    }
    if scaled {
        return sync_rollout_status(ctx, &mut st);
    }
    if complete(&st.d, &st.d["status"]) {
        cleanup(ctx, &st);
    }
    sync_rollout_status(ctx, &mut st)
}

fn rollout_recreate(ctx: &Ctx, mut st: State) -> Option<Duration> {
    sync_revision(ctx, &mut st, false);
    let active_olds: Vec<usize> = st
        .olds()
        .filter(|(_, r)| int_at(r, "spec.replicas") > 0)
        .map(|(i, _)| i)
        .collect();
    if !active_olds.is_empty() {
        for i in active_olds {
            scale_rs(ctx, &mut st, i, 0);
        }
        return sync_rollout_status(ctx, &mut st);
    }
    let old_pods_running = st.olds().any(|(_, rs)| {
        ctx.owned(&ctx.pods, rs)
            .iter()
            .any(|p| !matches!(str_at(p, "status.phase"), "Succeeded" | "Failed"))
    });
    if old_pods_running {
        return sync_rollout_status(ctx, &mut st);
    }
    if st.new.is_none() {
        sync_revision(ctx, &mut st, true);
    }
    if let Some(n) = st.new {
        let replicas = st.strategy.replicas;
        scale_rs(ctx, &mut st, n, replicas);
    }
    if complete(&st.d, &st.d["status"]) {
        cleanup(ctx, &st);
    }
    sync_rollout_status(ctx, &mut st)
}

/// The `sync` path: scaling only (paused Deployments and replica-count changes).
fn sync_scale(ctx: &Ctx, mut st: State, paused: bool) -> Option<Duration> {
    sync_revision(ctx, &mut st, false);
    scale(ctx, &mut st);
    if paused {
        cleanup(ctx, &st);
    }
    let status = calculate_status(&st);
    write_status(ctx, &mut st, status);
    None
}

fn scale(ctx: &Ctx, st: &mut State) {
    let replicas = st.strategy.replicas;
    let active: Vec<usize> = (0..st.rss.len())
        .filter(|&i| int_at(&st.rss[i], "spec.replicas") > 0)
        .collect();
    let target = match active.len() {
        1 => Some(active[0]),
        0 => st.new.or(st.rss.len().checked_sub(1)),
        _ => None,
    };
    if let Some(i) = target {
        scale_rs(ctx, st, i, replicas);
        return;
    }
    if let Some(n) = st.new {
        let rs = &st.rss[n];
        let saturated = int_at(rs, "spec.replicas") == replicas
            && annotation(rs, DESIRED_REPLICAS) == Some(&replicas.to_string())
            && int_at(rs, "status.availableReplicas") == replicas;
        if saturated {
            let olds: Vec<usize> = st.olds().map(|(i, _)| i).collect();
            for i in olds {
                scale_rs(ctx, st, i, 0);
            }
            return;
        }
    }
    if st.strategy.rolling.is_some() {
        let inputs: Vec<ScaleInput> = st
            .rss
            .iter()
            .enumerate()
            .map(|(i, rs)| ScaleInput {
                spec: int_at(rs, "spec.replicas"),
                annotated_max: annotation(rs, MAX_REPLICAS).and_then(|v| v.parse().ok()),
                age_rank: i,
            })
            .collect();
        let sizes =
            math::proportional_sizes(&st.strategy, int_at(&st.d, "status.replicas"), &inputs);
        for (i, size) in sizes.into_iter().enumerate() {
            if inputs[i].spec > 0 {
                scale_rs(ctx, st, i, size);
            }
        }
    }
}

/// cleanupDeployment: deletes the oldest fully scaled-down ReplicaSets beyond
/// `revisionHistoryLimit`.
fn cleanup(ctx: &Ctx, st: &State) {
    let Some(limit) = st.d["spec"]["revisionHistoryLimit"].as_i64() else {
        return;
    };
    let mut olds: Vec<&Value> = st.olds().map(|(_, r)| r).collect();
    let diff = olds.len() as i64 - limit;
    if diff <= 0 {
        return;
    }
    olds.sort_by_key(|r| (revision(r), created(r)));
    for rs in olds.into_iter().take(diff as usize) {
        if int_at(rs, "status.replicas") != 0
            || int_at(rs, "spec.replicas") != 0
            || int_at(rs, "metadata.generation") > int_at(rs, "status.observedGeneration")
        {
            continue;
        }
        ctx.delete(&ctx.replicasets, rs);
    }
}

fn calculate_status(st: &State) -> Value {
    let sum = |path: &str| st.rss.iter().map(|r| int_at(r, path)).sum::<i64>();
    let replicas = sum("status.replicas");
    let updated = st
        .new
        .map(|n| int_at(&st.rss[n], "status.replicas"))
        .unwrap_or(0);
    let ready = sum("status.readyReplicas");
    let available = sum("status.availableReplicas");
    let unavailable = (sum("spec.replicas") - available).max(0);
    let mut status = json!({});
    status["observedGeneration"] = st.d["metadata"]["generation"].clone();
    for (k, v) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ] {
        if v != 0 {
            status[k] = json!(v);
        }
    }
    if let Some(c) = st.d["status"].get("conditions") {
        status["conditions"] = c.clone();
    }
    if let Some(c) = st.d["status"].get("collisionCount") {
        status["collisionCount"] = c.clone();
    }
    if available >= st.strategy.replicas - st.strategy.max_unavailable() {
        set_condition(
            &mut status,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        );
    } else {
        set_condition(
            &mut status,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        );
    }
    status
}

/// DeploymentComplete.
fn complete(d: &Value, status: &Value) -> bool {
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    int_at(status, "updatedReplicas") == replicas
        && int_at(status, "replicas") == replicas
        && int_at(status, "availableReplicas") == replicas
        && int_at(status, "observedGeneration") >= int_at(d, "metadata.generation")
}

/// DeploymentProgressing: more updated, ready or available pods, or fewer old ones.
fn progressing(old: &Value, new: &Value) -> bool {
    let old_olds = int_at(old, "replicas") - int_at(old, "updatedReplicas");
    let new_olds = int_at(new, "replicas") - int_at(new, "updatedReplicas");
    int_at(new, "updatedReplicas") > int_at(old, "updatedReplicas")
        || new_olds < old_olds
        || int_at(new, "readyReplicas") > int_at(old, "readyReplicas")
        || int_at(new, "availableReplicas") > int_at(old, "availableReplicas")
}

fn sync_rollout_status(ctx: &Ctx, st: &mut State) -> Option<Duration> {
    let mut status = calculate_status(st);
    let deadline = has_deadline(&st.d);
    let new_name = st
        .new
        .map(|n| str_at(&st.rss[n], "metadata.name").to_string());
    let what = match &new_name {
        Some(n) => format!("ReplicaSet {n:?}"),
        None => format!("Deployment {:?}", st.name()),
    };
    if !deadline {
        remove_condition(&mut status, "Progressing");
    }
    let current = condition(&st.d["status"], "Progressing").cloned();
    let reason = |c: &Option<Value>| {
        c.as_ref()
            .and_then(|c| c["reason"].as_str().map(str::to_string))
    };
    let already_complete = int_at(&status, "replicas") == int_at(&status, "updatedReplicas")
        && reason(&current).as_deref() == Some("NewReplicaSetAvailable");
    let deadline_secs = st.d["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .unwrap_or(600);
    if deadline && !already_complete {
        if complete(&st.d, &status) {
            set_condition(
                &mut status,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("{what} has successfully progressed."),
            );
        } else if progressing(&st.d["status"], &status) {
            let transition = current
                .as_ref()
                .filter(|c| c["status"] == "True")
                .map(|c| c["lastTransitionTime"].clone());
            remove_condition(&mut status, "Progressing");
            set_condition(
                &mut status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("{what} is progressing."),
            );
            if let Some(t) = transition
                && let Some(c) = status["conditions"]
                    .as_array_mut()
                    .and_then(|a| a.last_mut())
            {
                c["lastTransitionTime"] = t;
            }
        } else if let Some(c) = condition(&status, "Progressing") {
            let timed_out = match c["reason"].as_str() {
                Some("NewReplicaSetAvailable") => false,
                Some("ProgressDeadlineExceeded") => true,
                _ => {
                    let from = c["lastUpdateTime"]
                        .as_str()
                        .and_then(parse_rfc3339)
                        .unwrap_or(0) as f64;
                    from + deadline_secs as f64 / ctx.speed < super::now_f64()
                }
            };
            if timed_out {
                set_condition(
                    &mut status,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("{what} has timed out progressing."),
                );
            }
        }
    }
    write_status(ctx, st, status);
    // requeueStuckDeployment
    let c = condition(&st.d["status"], "Progressing")?;
    if !deadline
        || matches!(
            c["reason"].as_str(),
            Some("NewReplicaSetAvailable" | "ProgressDeadlineExceeded")
        )
        || complete(&st.d, &st.d["status"])
    {
        return None;
    }
    let from = c["lastUpdateTime"]
        .as_str()
        .and_then(parse_rfc3339)
        .unwrap_or(0) as f64;
    let due = from + deadline_secs as f64 / ctx.speed - super::now_f64();
    Some(Duration::from_secs_f64(due.max(0.0) + 0.05))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_ignores_key_order_and_changes_with_content() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}});
        let b = json!({"spec": {"containers": [{"image": "i:1", "name": "c"}]}, "metadata": {"labels": {"app": "web"}}});
        let c = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i:2"}]}});
        assert_eq!(template_hash(&a, 0), template_hash(&b, 0));
        assert_ne!(template_hash(&a, 0), template_hash(&c, 0));
        assert_ne!(template_hash(&a, 0), template_hash(&a, 1));
        assert!(
            template_hash(&a, 0)
                .chars()
                .all(|ch| "bcdfghjklmnpqrstvwxz2456789".contains(ch))
        );
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let d = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"x": 1}});
        let rs = json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {"x": 1}});
        assert!(templates_equal(&rs, &d));
        let other = json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": {"x": 2}});
        assert!(!templates_equal(&other, &d));
        let with_null = json!({"metadata": {"creationTimestamp": null, "labels": {"app": "web"}}, "spec": {"x": 1}});
        assert!(templates_equal(&rs, &with_null));
        assert_eq!(template_hash(&with_null, 0), template_hash(&d, 0));
    }

    #[test]
    fn strategy_defaults_to_quarter_surge_and_unavailability() {
        let d = json!({"spec": {"replicas": 10, "strategy": {"type": "RollingUpdate"}}});
        let s = strategy_of(&d);
        assert_eq!((s.max_surge(), s.max_unavailable()), (3, 2));
        let r = strategy_of(&json!({"spec": {"replicas": 2, "strategy": {"type": "Recreate"}}}));
        assert!(r.rolling.is_none());
    }

    #[test]
    fn progress_is_more_updated_ready_or_available_or_fewer_old_pods() {
        let old = json!({"replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3});
        assert!(!progressing(&old, &old));
        assert!(progressing(
            &old,
            &json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3})
        ));
        assert!(progressing(
            &old,
            &json!({"replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3})
        ));
    }
}

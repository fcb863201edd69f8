//! Canary: the new version of a Deployment runs beside the stable one, which keeps its
//! pods and its capacity, and takes a growing share of the traffic step by step. Each
//! step is watched for its pause with the built-in checks — the canary's pods must be
//! ready, must not restart, and must stay ready — and the canary's analysis checks
//! ([`super::analysis`]); a failing check aborts: the canary's objects are removed, which
//! sends all traffic back to the stable pods at once.
//! A step without a pause stops the release once its pods are ready and its checks were
//! measured: the canary's objects stay at that weight until the release is resumed (the
//! steps continue from the next one) or aborted ([`remove`]).
//! After the last step the Deployment itself is rolled to the new version (the release's
//! usual apply-and-track), and then the canary's objects are removed: a completed release
//! leaves exactly the rendered manifests.
//!
//! The canary's objects are named after what they copy — `<deployment>-canary`,
//! `<service>-canary`, `<ingress>-canary` — and labelled [`CANARY_OF`] and as members of
//! the release's ApplySet (the labels of the copied object), so that `uninstall` finds
//! them and the next release removes any an interrupted one left.
//!
//! How the traffic is split:
//! - [`CanaryTraffic::Replicas`]: the canary's pods carry the stable pods' labels, so the
//!   Deployment's own Service sends them a share of the requests close to their share of
//!   the pods: `n = ⌈S·w/(100−w)⌉` canary pods beside `S` stable ones for `w` %;
//! - [`CanaryTraffic::Nginx`]: a copy of the Service that selects only the canary's pods,
//!   and a copy of the Ingress that sends to it, marked as ingress-nginx's canary with its
//!   weight; `⌈S·w/100⌉` canary pods;
//! - [`CanaryTraffic::Gateway`]: the same Service copy, and the HTTPRoute's backend of
//!   the Service split between the two by weight; `⌈S·w/100⌉` canary pods.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::analysis::{self, Check, Subject};
use super::copies::{self, find};
use super::{Change, DeployInput, Event, Planned, delete_object, interrupted, unless_interrupted};
use crate::cluster::{Apply, Cluster, ClusterError, object_name};
use crate::record::PausedAt;
use crate::track::{Diagnosis, TrackOptions, Workload};

/// The label on a canary's objects, naming the Deployment they are the canary of.
pub const CANARY_OF: &str = "slipway.dev/canary-of";

/// How a Deployment is rolled out as a canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// The Deployment's name.
    pub deployment: String,
    pub traffic: CanaryTraffic,
    pub steps: Vec<CanaryStep>,
    /// The checks run during every step's pause, beside the built-in ones.
    pub analysis: Vec<Check>,
}

/// How the canary's share of the traffic is set (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanaryTraffic {
    Replicas,
    Nginx { ingress: String, service: String },
    Gateway { route: String, service: String },
}

/// One step: a share of the traffic, watched for `pause`; without one the release
/// pauses there (the canary's objects stay) until `deploy --resume` or `abort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryStep {
    /// Percent, 1 to 99.
    pub weight: u32,
    pub pause: Option<Duration>,
}

/// The canaries of this release: those whose Deployment the cluster runs already and
/// whose pod template this release changes (as the plan's server-side dry run says). A
/// first install, or a change of replicas only, rolls as usual.
pub(super) fn applicable<'c>(input: &'c DeployInput, plan: &[Planned]) -> Vec<&'c Canary> {
    input
        .canaries
        .iter()
        .filter(|c| template_changes(plan, &c.deployment))
        .collect()
}

/// Whether the plan changes the pod template of the Deployment `name`.
pub(super) fn template_changes(plan: &[Planned], name: &str) -> bool {
    let label = format!("Deployment/{name}");
    plan.iter().any(|p| {
        p.object == label
            && matches!(&p.change, Change::Update(fields)
                if fields.iter().any(|f| f.path.starts_with("spec.template")))
    })
}

/// Runs the steps of `canary` for the new Deployment among `objects` from step `from`
/// (0-based; a resumed release starts after the step it paused at), and removes the
/// canary's objects when it fails; on success they stay until the Deployment itself is
/// rolled ([`remove`]). A step without a pause stops there once its pods are ready and
/// its checks measured: `Ok(Some(_))`, the canary's objects left at that weight.
///
/// # Errors
///
/// The diagnosis of the check that failed, or of the interruption.
pub(super) async fn run(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    canary: &Canary,
    objects: &[Value],
    revision: u64,
    from: usize,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Option<PausedAt>, Box<Diagnosis>> {
    let steps = async {
        if from == 0 {
            // Whatever an interrupted release left goes first.
            remove(cluster, input, canary, objects).await?;
        }
        for (i, step) in canary.steps.iter().enumerate().skip(from) {
            let at = Step {
                index: i,
                step: *step,
                revision,
            };
            if step.pause.is_some() {
                run_step(cluster, input, canary, objects, at, report).await?;
                continue;
            }
            // The step's measurements are kept in the record of the pause.
            let measured: std::sync::Mutex<Vec<String>> = std::sync::Mutex::default();
            let keep = |e: Event| {
                if let Event::Measured(m) = &e
                    && let Ok(mut lines) = measured.lock()
                {
                    lines.retain(|l| !l.starts_with(&format!("{} {} ", m.provider, m.check)));
                    lines.push(format!(
                        "{} {} [{}/{}] = {} ({}) {} at {}",
                        m.provider,
                        m.check,
                        m.measurement,
                        m.count,
                        m.value,
                        m.condition,
                        m.verdict.as_str(),
                        m.time
                    ));
                }
                report(e);
            };
            let replicas = run_step(cluster, input, canary, objects, at, &keep).await?;
            let measurements = measured.into_inner().unwrap_or_default();
            return Ok(Some(PausedAt {
                deployment: canary.deployment.clone(),
                step: i + 1,
                steps: canary.steps.len(),
                weight: step.weight,
                replicas,
                since: super::now(),
                measurements,
            }));
        }
        Ok(None)
    };
    let result = unless_interrupted(&input.interrupt, steps)
        .await
        .unwrap_or_else(|| {
            Err(interrupted(
                &format!("canary of deployment/{}", canary.deployment),
                "its last step",
            ))
        });
    if result.is_err() {
        // All traffic back on the stable pods: the canary's objects go.
        let removed = remove(cluster, input, canary, objects).await;
        report(Event::CanaryAborted {
            deployment: canary.deployment.clone(),
            removed: removed.is_ok(),
        });
    }
    result
}

/// Which step of which release runs.
#[derive(Clone, Copy)]
struct Step {
    index: usize,
    step: CanaryStep,
    revision: u64,
}

/// One step: the canary's objects set for the step's weight, its pods ready, then
/// watched for the step's pause (none for a step that pauses the release) while the
/// analysis checks are measured. The number of canary pods.
async fn run_step(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    canary: &Canary,
    objects: &[Value],
    at: Step,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<u64, Box<Diagnosis>> {
    let Step { index, step, .. } = at;
    let ns = &input.namespace;
    let deployment = find(objects, "Deployment", &canary.deployment).ok_or_else(|| {
        apply_failed(
            canary,
            "the release".into(),
            ClusterError::Malformed("the canary's Deployment"),
        )
    })?;
    let stable_replicas = stable_replicas(cluster, ns, canary).await?;
    let replicas = canary_replicas(&canary.traffic, stable_replicas, step.weight);
    let started = Instant::now();
    let since = Timestamp::now();
    let copies = step_copies(canary, objects, deployment, replicas, step.weight)?;
    apply_copies(cluster, ns, canary, &copies).await?;
    report(Event::CanaryStep {
        deployment: canary.deployment.clone(),
        step: index + 1,
        steps: canary.steps.len(),
        weight: step.weight,
        replicas,
        pause: step.pause,
    });
    watch_step(cluster, input, canary, at, since, report)
        .await
        .map_err(|mut d| {
            d.message = format!(
                "step {} of {} ({} %, {}s in): {}",
                index + 1,
                canary.steps.len(),
                step.weight,
                started.elapsed().as_secs(),
                d.message
            );
            d
        })?;
    Ok(replicas)
}

/// The diagnosis of a canary object that could not be read or applied: `what` was
/// being done when the cluster answered `e`.
fn apply_failed(canary: &Canary, what: String, e: ClusterError) -> Box<Diagnosis> {
    Box::new(Diagnosis {
        workload: format!("deployment/{}-canary", canary.deployment),
        reason: "CanaryApplyFailed".into(),
        message: format!("{what}: {e}"),
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
        check: None,
    })
}

/// How many pods the stable Deployment has in the cluster (1 when it says none).
async fn stable_replicas(
    cluster: &Arc<Cluster>,
    ns: &str,
    canary: &Canary,
) -> Result<u64, Box<Diagnosis>> {
    let stable = cluster
        .get("apps/v1", "Deployment", ns, &canary.deployment)
        .await
        .map_err(|e| {
            apply_failed(
                canary,
                format!("reading deployment/{}", canary.deployment),
                e,
            )
        })?;
    Ok(stable
        .as_ref()
        .and_then(|d| d.pointer("/spec/replicas"))
        .and_then(Value::as_u64)
        .unwrap_or(1))
}

/// The canary's objects for a step at `weight`: the canary Deployment with `replicas`
/// pods (`deployment` is the release's new one), and the copies that split the traffic.
fn step_copies(
    canary: &Canary,
    objects: &[Value],
    deployment: &Value,
    replicas: u64,
    weight: u32,
) -> Result<Vec<Value>, Box<Diagnosis>> {
    let mut copies = vec![canary_deployment(deployment, &canary.deployment, replicas)];
    match &canary.traffic {
        CanaryTraffic::Replicas => {}
        CanaryTraffic::Nginx { ingress, service } => {
            copies.push(canary_service(objects, service, &canary.deployment)?);
            let ing =
                find(objects, "Ingress", ingress).ok_or_else(|| missing("Ingress", ingress))?;
            copies.push(canary_ingress(ing, service, &canary.deployment, weight));
        }
        CanaryTraffic::Gateway { route, service } => {
            copies.push(canary_service(objects, service, &canary.deployment)?);
            let r = find(objects, "HTTPRoute", route).ok_or_else(|| missing("HTTPRoute", route))?;
            copies.push(weighted_route(r, service, weight));
        }
    }
    Ok(copies)
}

/// Applies the canary's objects in order, stopping at the first the cluster refuses.
async fn apply_copies(
    cluster: &Arc<Cluster>,
    ns: &str,
    canary: &Canary,
    copies: &[Value],
) -> Result<(), Box<Diagnosis>> {
    for copy in copies {
        cluster
            .apply(copy, ns, Apply::Force)
            .await
            .map_err(|e| apply_failed(canary, format!("applying {}", label(copy)), e))?;
    }
    Ok(())
}

/// Watches the canary's pods for the step: the built-in checks (ready within the
/// release's time budget, then no restart and still ready through the pause, counted
/// from `since`) and the analysis checks beside them.
async fn watch_step(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    canary: &Canary,
    at: Step,
    since: Timestamp,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let workload = Workload {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: input.namespace.clone(),
        name: format!("{}-canary", canary.deployment),
    };
    let options = TrackOptions {
        timeout: input.timeout,
        crashloop_tolerance: input.crashloop_tolerance,
        since,
        settle: at.step.pause.unwrap_or(Duration::ZERO),
    };
    let subject = step_subject(canary, &workload, at);
    analysis::watch(
        cluster,
        &workload,
        &options,
        &canary.analysis,
        &subject,
        report,
    )
    .await
}

/// What the analysis checks of the step measure: the canary `workload`, and the
/// stable and canary Services when the traffic is split by one.
fn step_subject(canary: &Canary, workload: &Workload, at: Step) -> Subject {
    let Step {
        index,
        step,
        revision,
    } = at;
    let service = match &canary.traffic {
        CanaryTraffic::Replicas => None,
        CanaryTraffic::Nginx { service, .. } | CanaryTraffic::Gateway { service, .. } => {
            Some(service.clone())
        }
    };
    Subject {
        strategy: "canary",
        deployment: canary.deployment.clone(),
        phase: format!(
            "step {}/{} ({}%)",
            index + 1,
            canary.steps.len(),
            step.weight
        ),
        phase_tag: format!("s{}", index + 1),
        namespace: workload.namespace.clone(),
        canary_service: service.as_ref().map(|s| format!("{s}-canary")),
        service,
        canary_deployment: workload.name.clone(),
        revision,
    }
}

/// How many canary pods stand beside `stable` pods for `weight` percent.
fn canary_replicas(traffic: &CanaryTraffic, stable: u64, weight: u32) -> u64 {
    let (w, s) = (u64::from(weight), stable.max(1));
    let n = match traffic {
        CanaryTraffic::Replicas => (s * w).div_ceil(100 - w),
        CanaryTraffic::Nginx { .. } | CanaryTraffic::Gateway { .. } => (s * w).div_ceil(100),
    };
    n.max(1)
}

/// Removes the canary's objects and gives a Gateway route its rendered backends back.
///
/// # Errors
///
/// The diagnosis naming the object that could not be removed.
pub(super) async fn remove(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    canary: &Canary,
    objects: &[Value],
) -> Result<(), Box<Diagnosis>> {
    let ns = &input.namespace;
    let name = |n: &str| format!("{n}-canary");
    let mut doomed = vec![("apps/v1", "Deployment", name(&canary.deployment))];
    match &canary.traffic {
        CanaryTraffic::Replicas => {}
        CanaryTraffic::Nginx { ingress, service } => {
            doomed.push(("networking.k8s.io/v1", "Ingress", name(ingress)));
            doomed.push(("v1", "Service", name(service)));
        }
        CanaryTraffic::Gateway { route, service } => {
            if let Some(r) = find(objects, "HTTPRoute", route) {
                cluster
                    .apply(r, ns, Apply::Force)
                    .await
                    .map_err(|e| removal_failed(&format!("HTTPRoute/{route}"), e))?;
            }
            doomed.push(("v1", "Service", name(service)));
        }
    }
    for (api_version, kind, name) in doomed {
        let obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        match delete_object(cluster, &obj, ns).await {
            Ok(()) | Err(ClusterError::Api { code: 404, .. }) => {}
            Err(e) => return Err(removal_failed(&format!("{kind}/{name}"), e)),
        }
    }
    let checks: Vec<&Check> = canary.analysis.iter().collect();
    analysis::remove_jobs(cluster, ns, &canary.deployment, &checks)
        .await
        .map_err(|e| removal_failed("analysis Jobs", e))
}

fn removal_failed(object: &str, e: ClusterError) -> Box<Diagnosis> {
    Box::new(Diagnosis {
        workload: object.into(),
        reason: "CanaryRemovalFailed".into(),
        message: format!("removing the canary's {object}: {e}"),
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
        check: None,
    })
}

fn missing(kind: &str, name: &str) -> Box<Diagnosis> {
    Box::new(Diagnosis {
        workload: format!("{}/{name}", kind.to_ascii_lowercase()),
        reason: "CanaryMisconfigured".into(),
        message: format!(
            "the canary splits the traffic of {kind} `{name}`, which the release does not have"
        ),
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
        check: None,
    })
}

fn label(obj: &Value) -> String {
    format!(
        "{}/{}",
        obj.get("kind").and_then(Value::as_str).unwrap_or("?"),
        object_name(obj).unwrap_or("?")
    )
}

/// The canary Deployment: the new template with `replicas` pods, whose selector and
/// labels add [`CANARY_OF`], so that it never counts the stable pods as its own.
fn canary_deployment(new: &Value, deployment: &str, replicas: u64) -> Value {
    let name = format!("{deployment}-canary");
    let mut copy = copies::deployment(new, &name, CANARY_OF, deployment);
    copy["spec"]["replicas"] = json!(replicas);
    copy
}

/// A copy of the Service `service` that selects only the canary's pods.
fn canary_service(
    objects: &[Value],
    service: &str,
    deployment: &str,
) -> Result<Value, Box<Diagnosis>> {
    let svc = find(objects, "Service", service).ok_or_else(|| missing("Service", service))?;
    let name = format!("{service}-canary");
    Ok(copies::service(svc, &name, CANARY_OF, deployment))
}

/// ingress-nginx's canary Ingress: a copy of `ingress` whose backends of `service` go to
/// its canary copy, marked canary with `weight`.
fn canary_ingress(ingress: &Value, service: &str, deployment: &str, weight: u32) -> Value {
    let name = format!("{}-canary", object_name(ingress).unwrap_or_default());
    let mut copy = copies::renamed(ingress, &name, CANARY_OF, deployment);
    let annotations = &mut copy["metadata"]["annotations"];
    annotations["nginx.ingress.kubernetes.io/canary"] = json!("true");
    annotations["nginx.ingress.kubernetes.io/canary-weight"] = json!(weight.to_string());
    let canary = format!("{service}-canary");
    retarget_backends(&mut copy["spec"], service, &canary);
    copy
}

/// Points every `service.name == from` backend under `node` at `to`.
fn retarget_backends(node: &mut Value, from: &str, to: &str) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(svc)) = map.get_mut("service")
                && svc.get("name").and_then(Value::as_str) == Some(from)
            {
                svc.insert("name".into(), json!(to));
            }
            for v in map.values_mut() {
                retarget_backends(v, from, to);
            }
        }
        Value::Array(items) => {
            for v in items {
                retarget_backends(v, from, to);
            }
        }
        _ => {}
    }
}

/// The HTTPRoute with each backend of `service` split: `100 − weight` to it, `weight` to
/// its canary copy (same port).
fn weighted_route(route: &Value, service: &str, weight: u32) -> Value {
    let mut copy = route.clone();
    if let Some(rules) = copy["spec"]["rules"].as_array_mut() {
        for rule in rules {
            let Some(refs) = rule["backendRefs"].as_array_mut() else {
                continue;
            };
            let mut added = Vec::new();
            for r in refs.iter_mut() {
                if r.get("name").and_then(Value::as_str) == Some(service)
                    && r.get("kind").and_then(Value::as_str).unwrap_or("Service") == "Service"
                {
                    let mut canary = r.clone();
                    canary["name"] = json!(format!("{service}-canary"));
                    canary["weight"] = json!(weight);
                    r["weight"] = json!(100 - weight);
                    added.push(canary);
                }
            }
            refs.extend(added);
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_pods_follow_the_weight() {
        let r = CanaryTraffic::Replicas;
        // 10 % beside 2 stable pods: one pod (a third of them: approximate).
        assert_eq!(canary_replicas(&r, 2, 10), 1);
        assert_eq!(canary_replicas(&r, 2, 50), 2);
        assert_eq!(canary_replicas(&r, 9, 25), 3);
        let n = CanaryTraffic::Nginx {
            ingress: "web".into(),
            service: "web".into(),
        };
        assert_eq!(canary_replicas(&n, 4, 10), 1);
        assert_eq!(canary_replicas(&n, 4, 50), 2);
        assert_eq!(canary_replicas(&n, 0, 50), 1);
    }

    #[test]
    fn the_canary_deployment_never_selects_the_stable_pods() {
        let new = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "labels": {"app": "api"}, "resourceVersion": "7"},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "api"}},
                "template": {"metadata": {"labels": {"app": "api"}}, "spec": {}}}});
        let c = canary_deployment(&new, "api", 1);
        assert_eq!(c["metadata"]["name"], "api-canary");
        assert_eq!(c["spec"]["replicas"], 1);
        assert_eq!(c["spec"]["selector"]["matchLabels"][CANARY_OF], "api");
        assert_eq!(
            c["spec"]["template"]["metadata"]["labels"][CANARY_OF],
            "api"
        );
        assert_eq!(c["spec"]["template"]["metadata"]["labels"]["app"], "api");
        assert!(c["metadata"].get("resourceVersion").is_none());
    }

    #[test]
    fn nginx_gets_a_canary_ingress_to_a_canary_service() {
        let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web"},
            "spec": {"rules": [{"host": "shop.example", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                {"path": "/other", "pathType": "Prefix", "backend": {"service": {"name": "other", "port": {"number": 80}}}}]}}]}});
        let c = canary_ingress(&ing, "web", "web", 10);
        assert_eq!(c["metadata"]["name"], "web-canary");
        assert_eq!(
            c["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
            "10"
        );
        let paths = &c["spec"]["rules"][0]["http"]["paths"];
        assert_eq!(paths[0]["backend"]["service"]["name"], "web-canary");
        assert_eq!(paths[1]["backend"]["service"]["name"], "other");
    }

    #[test]
    fn a_route_splits_the_service_backend_by_weight() {
        let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "web"},
            "spec": {"rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}});
        let r = weighted_route(&route, "web", 20);
        let refs = &r["spec"]["rules"][0]["backendRefs"];
        assert_eq!(refs[0], json!({"name": "web", "port": 80, "weight": 80}));
        assert_eq!(
            refs[1],
            json!({"name": "web-canary", "port": 80, "weight": 20})
        );
    }
}

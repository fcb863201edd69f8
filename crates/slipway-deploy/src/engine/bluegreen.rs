//! Blue-green: the new version of a Deployment runs fully ready behind a preview Service
//! before any user traffic reaches it; then one write switches the active Service to it.
//! At no moment does the active Service select pods of both versions: before the switch
//! its selector is pinned to the stable pods' `pod-template-hash`, the switch changes
//! that one label to the new pods' hash, and a failing check switches it back the same
//! way. The previous version's pods stay through the scale-down delay, while the new
//! version is watched under traffic. The pre-switch analysis checks run on the preview
//! before the switch, the post-switch ones under traffic after it ([`super::analysis`]). Then the Deployment itself is rolled to the new
//! version (without traffic: the Service still selects the preview's pods), the Service
//! is given its rendered selector (both sets of pods run the new version then) and the
//! preview's objects are removed: the cluster holds exactly the rendered manifests.
//!
//! The preview's objects are `<deployment>-preview` (the new pod template, its selector
//! and pod labels extended with [`PREVIEW_OF`]) and the preview Service, which selects
//! only them.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::analysis::{self, Check, Subject};
use super::copies::{self, find};
use super::{DeployInput, Event, Planned, delete_object, window};
use crate::cluster::{Apply, Cluster, ClusterError};
use crate::record::{Release, SwitchWindow};
use crate::track::{Diagnosis, TrackOptions, Workload};

/// The label on a preview's objects, naming the Deployment they preview.
pub const PREVIEW_OF: &str = "slipway.dev/preview-of";

/// The [`Diagnosis::reason`] of a release that `rollback` switched back inside its
/// scale-down delay.
pub const ROLLBACK_REQUESTED: &str = "RollbackRequested";

/// How a Deployment is rolled out blue-green.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueGreen {
    /// The Deployment's name.
    pub deployment: String,
    /// The active Service.
    pub service: String,
    /// The preview Service's name.
    pub preview_service: String,
    /// How long the preview is watched before the switch.
    pub pre_switch: Duration,
    /// How long the previous version's pods stay after the switch.
    pub scale_down_delay: Duration,
    /// Checks run on the preview before the switch.
    pub pre_switch_analysis: Vec<Check>,
    /// Checks run under traffic after the switch.
    pub post_switch_analysis: Vec<Check>,
}

/// The blue-green Deployments of this release: those the cluster runs already and whose
/// pod template this release changes (as the plan's dry run says).
pub(super) fn applicable<'b>(input: &'b DeployInput, plan: &[Planned]) -> Vec<&'b BlueGreen> {
    input
        .blue_greens
        .iter()
        .filter(|b| super::canary::template_changes(plan, &b.deployment))
        .collect()
}

/// The label every pod of a ReplicaSet carries, which the switch selects by.
const HASH: &str = "pod-template-hash";

/// Runs the preview and the switch, and watches the new version under traffic through
/// the scale-down delay, which the release's record holds while it runs (see
/// [`window`]). On failure — a check, or a `rollback` inside the delay — the active
/// Service is switched back (when it was switched) and the preview's objects are
/// removed; on success they stay until the Deployment itself is rolled, and the stable
/// pods' hash is returned for [`revert`].
///
/// # Errors
///
/// The diagnosis of the check that failed, or of the rollback asked for.
pub(super) async fn run(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    bg: &BlueGreen,
    objects: &[Value],
    release: &mut Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<String, Box<Diagnosis>> {
    let ns = &input.namespace;
    let service = find(objects, "Service", &bg.service)
        .ok_or_else(|| misconfigured(bg, format!("the release has no Service `{}`", bg.service)))?;
    let deployment = find(objects, "Deployment", &bg.deployment).ok_or_else(|| {
        misconfigured(
            bg,
            format!("the release has no Deployment `{}`", bg.deployment),
        )
    })?;
    let stable_hash = current_hash(cluster, ns, &bg.deployment, None)
        .await
        .map_err(|e| failed(bg, "reading the stable ReplicaSet", e))?
        .ok_or_else(|| {
            misconfigured(
                bg,
                format!(
                    "deployment/{} runs no ReplicaSet to keep serving",
                    bg.deployment
                ),
            )
        })?;
    // Before anything else runs: the active Service selects the stable pods only.
    apply(cluster, ns, &pinned(service, &stable_hash))
        .await
        .map_err(|e| failed(bg, "pinning the active Service to the stable pods", e))?;
    let objects_of = (deployment, service);
    let result = preview_and_switch(
        cluster,
        input,
        bg,
        objects_of,
        &stable_hash,
        release,
        report,
    )
    .await;
    if let Err(diagnosis) = result {
        release.switch_window = None;
        revert(cluster, input, bg, objects, &stable_hash, report).await;
        return Err(diagnosis);
    }
    Ok(stable_hash)
}

/// Switches the active Service back to the stable pods (`stable_hash`) in one write,
/// removes the preview, and gives the Service its rendered selector again.
pub(super) async fn revert(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    bg: &BlueGreen,
    objects: &[Value],
    stable_hash: &str,
    report: &(dyn Fn(Event) + Send + Sync),
) {
    let ns = &input.namespace;
    let Some(service) = find(objects, "Service", &bg.service) else {
        return;
    };
    let back = apply(cluster, ns, &pinned(service, stable_hash)).await;
    let removed = remove(cluster, input, bg).await;
    report(Event::BlueGreenAborted {
        deployment: bg.deployment.clone(),
        switched_back: back.is_ok(),
    });
    // The Service as rendered selects the stable pods only once the preview's are gone
    // (terminating pods are no endpoints).
    if back.is_ok() && removed.is_ok() {
        let _ = apply(cluster, ns, service).await;
    }
}

async fn preview_and_switch(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    bg: &BlueGreen,
    (deployment, service): (&Value, &Value),
    stable_hash: &str,
    release: &mut Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let ns = &input.namespace;
    let revision = release.revision;
    let since = Timestamp::now();
    let preview = preview_deployment(deployment, &bg.deployment);
    apply(cluster, ns, &preview)
        .await
        .map_err(|e| failed(bg, "applying the preview Deployment", e))?;
    let preview_service = preview_service(service, &bg.preview_service, &bg.deployment);
    apply(cluster, ns, &preview_service)
        .await
        .map_err(|e| failed(bg, "applying the preview Service", e))?;
    report(Event::BlueGreenPreview {
        deployment: bg.deployment.clone(),
        preview_service: bg.preview_service.clone(),
    });
    let workload = Workload {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: ns.clone(),
        name: format!("{}-preview", bg.deployment),
    };
    let subject = |phase: &str, tag: &str| Subject {
        strategy: "blue-green",
        deployment: bg.deployment.clone(),
        phase: phase.into(),
        phase_tag: tag.into(),
        namespace: ns.clone(),
        service: Some(bg.service.clone()),
        canary_deployment: workload.name.clone(),
        canary_service: Some(bg.preview_service.clone()),
        revision,
    };
    let pre = Phase {
        since,
        window: bg.pre_switch,
        checks: &bg.pre_switch_analysis,
        subject: subject("pre-switch", "pre"),
        when: "before the switch",
    };
    watch(cluster, input, &workload, pre, report).await?;
    let new_hash = current_hash(cluster, ns, &workload.name, Some(&bg.deployment))
        .await
        .map_err(|e| failed(bg, "reading the preview's ReplicaSet", e))?
        .ok_or_else(|| misconfigured(bg, "the preview runs no ReplicaSet".into()))?;
    // The record holds the window before the switch, so that a `rollback` (or whoever
    // concludes a killed deploy) can switch back from it.
    let until = Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(bg.scale_down_delay).unwrap_or_default())
        .unwrap_or_else(|_| Timestamp::now());
    let opened = SwitchWindow {
        deployment: bg.deployment.clone(),
        service: bg.service.clone(),
        preview_service: bg.preview_service.clone(),
        stable_hash: stable_hash.to_owned(),
        until: until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    };
    window::open(cluster, release, opened)
        .await
        .map_err(|e| failed(bg, "recording the scale-down delay", e))?;
    apply(cluster, ns, &pinned(service, &new_hash))
        .await
        .map_err(|e| failed(bg, "switching the active Service", e))?;
    report(Event::BlueGreenSwitched {
        deployment: bg.deployment.clone(),
        service: bg.service.clone(),
        delay: bg.scale_down_delay,
    });
    let post = Phase {
        since: Timestamp::now(),
        window: bg.scale_down_delay,
        checks: &bg.post_switch_analysis,
        subject: subject("post-switch", "post"),
        when: "after the switch",
    };
    let requested = tokio::select! {
        watched = watch(cluster, input, &workload, post, report) => {
            watched?;
            match window::close(cluster, release).await {
                Ok(None) => return Ok(()),
                Ok(Some(user)) => user,
                Err(e) => return Err(failed(bg, "ending the scale-down delay in the record", e)),
            }
        }
        user = window::requested(cluster, release) => user,
    };
    if let Some(opened) = &release.switch_window {
        window::await_switch(cluster, ns, opened).await;
    }
    Err(rollback_requested(bg, &requested))
}

/// The failure of a release switched back by `rollback` inside its delay.
fn rollback_requested(bg: &BlueGreen, user: &str) -> Box<Diagnosis> {
    let mut diagnosis = misconfigured(
        bg,
        format!(
            "rolled back by {user} during the scale-down delay; service/{} serves the previous version again",
            bg.service
        ),
    );
    diagnosis.reason = ROLLBACK_REQUESTED.into();
    diagnosis
}

/// One watched phase of the preview: before or after the switch.
struct Phase<'a> {
    since: Timestamp,
    window: Duration,
    checks: &'a [Check],
    subject: Subject,
    when: &'static str,
}

/// The built-in checks on the preview's pods — ready within the release's time budget,
/// then no restart and still ready for the phase's window — and the phase's analysis
/// checks beside them.
async fn watch(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    workload: &Workload,
    phase: Phase<'_>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let options = TrackOptions {
        timeout: input.timeout,
        crashloop_tolerance: input.crashloop_tolerance,
        since: phase.since,
        settle: phase.window,
    };
    analysis::watch(
        cluster,
        workload,
        &options,
        phase.checks,
        &phase.subject,
        report,
    )
    .await
    .map_err(|mut d| {
        d.message = format!("{}: {}", phase.when, d.message);
        d
    })
}

/// Removes the preview Deployment and Service.
///
/// # Errors
///
/// The diagnosis naming the object that could not be removed.
pub(super) async fn remove(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    bg: &BlueGreen,
) -> Result<(), Box<Diagnosis>> {
    let ns = &input.namespace;
    for (api_version, kind, name) in [
        (
            "apps/v1",
            "Deployment",
            format!("{}-preview", bg.deployment),
        ),
        ("v1", "Service", bg.preview_service.clone()),
    ] {
        let obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        match delete_object(cluster, &obj, ns).await {
            Ok(()) | Err(ClusterError::Api { code: 404, .. }) => {}
            Err(e) => return Err(failed(bg, &format!("removing {kind}/{name}"), e)),
        }
    }
    let checks: Vec<&Check> = bg
        .pre_switch_analysis
        .iter()
        .chain(&bg.post_switch_analysis)
        .collect();
    analysis::remove_jobs(cluster, ns, &bg.deployment, &checks)
        .await
        .map_err(|e| failed(bg, "removing the analysis Jobs", e))
}

/// The `pod-template-hash` of the newest ReplicaSet with replicas that `deployment` owns
/// (for a preview, one labelled [`PREVIEW_OF`] `preview_of`).
async fn current_hash(
    cluster: &Arc<Cluster>,
    ns: &str,
    deployment: &str,
    preview_of: Option<&str>,
) -> Result<Option<String>, ClusterError> {
    let selector = preview_of
        .map(|d| format!("{PREVIEW_OF}={d}"))
        .unwrap_or_default();
    let sets = cluster.list("apps/v1", "ReplicaSet", ns, &selector).await?;
    let revision = |rs: &Value| {
        rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
            .and_then(Value::as_str)
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(sets
        .iter()
        .filter(|rs| owned_by(rs, deployment))
        .filter(|rs| {
            rs.pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                > 0
        })
        .max_by_key(|rs| revision(rs))
        .and_then(|rs| rs.pointer(&format!("/metadata/labels/{HASH}")))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

fn owned_by(obj: &Value, deployment: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r.get("kind").and_then(Value::as_str) == Some("Deployment")
                    && r.get("name").and_then(Value::as_str) == Some(deployment)
            })
        })
}

async fn apply(cluster: &Arc<Cluster>, ns: &str, obj: &Value) -> Result<(), ClusterError> {
    cluster.apply(obj, ns, Apply::Force).await.map(|_| ())
}

/// The active Service as rendered, its selector narrowed to the pods of one ReplicaSet.
pub(super) fn pinned(service: &Value, hash: &str) -> Value {
    let mut pinned = service.clone();
    pinned["spec"]["selector"][HASH] = json!(hash);
    pinned
}

/// The preview Deployment: the new template, whose selector and pod labels add
/// [`PREVIEW_OF`] so that it never counts the stable pods as its own.
fn preview_deployment(new: &Value, deployment: &str) -> Value {
    let name = format!("{deployment}-preview");
    copies::deployment(new, &name, PREVIEW_OF, deployment)
}

/// The preview Service: the active Service's ports, selecting only the preview's pods.
fn preview_service(service: &Value, name: &str, deployment: &str) -> Value {
    copies::service(service, name, PREVIEW_OF, deployment)
}

fn failed(bg: &BlueGreen, what: &str, e: ClusterError) -> Box<Diagnosis> {
    misconfigured(bg, format!("{what}: {e}"))
}

fn misconfigured(bg: &BlueGreen, message: String) -> Box<Diagnosis> {
    Box::new(Diagnosis {
        workload: format!("deployment/{}", bg.deployment),
        reason: "BlueGreenFailed".into(),
        message,
        pod: None,
        container: None,
        events: vec![],
        logs: vec![],
        check: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_narrows_the_rendered_selector_to_one_replica_set() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
        let p = pinned(&svc, "5d9f");
        assert_eq!(p["spec"]["selector"], json!({"app": "web", HASH: "5d9f"}));
        assert_eq!(p["spec"]["ports"], svc["spec"]["ports"]);
    }

    #[test]
    fn the_preview_selects_only_its_own_pods() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.9", "selector": {"app": "web"},
                "ports": [{"port": 80, "nodePort": 30080}]}});
        let p = preview_service(&svc, "web-preview", "web");
        assert_eq!(p["metadata"]["name"], "web-preview");
        assert_eq!(
            p["spec"]["selector"],
            json!({"app": "web", PREVIEW_OF: "web"})
        );
        assert_eq!(p["spec"]["type"], "ClusterIP");
        assert!(p["spec"].get("clusterIP").is_none());
        assert!(p["spec"]["ports"][0].get("nodePort").is_none());
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}}}});
        let d = preview_deployment(&dep, "web");
        assert_eq!(d["metadata"]["name"], "web-preview");
        assert_eq!(d["spec"]["selector"]["matchLabels"][PREVIEW_OF], "web");
        assert_eq!(
            d["spec"]["template"]["metadata"]["labels"][PREVIEW_OF],
            "web"
        );
    }
}

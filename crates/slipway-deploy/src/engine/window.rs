//! The scale-down delay of a blue-green switch, seen from both sides: the deploy that
//! runs it, and a `rollback` started anywhere else while it runs.
//!
//! Before the switch the deploy records the window in its `pending` record
//! ([`SwitchWindow`]: the Service, the previous version's `pod-template-hash`, the end of
//! the delay). A `rollback` that finds such a record asks for the switch back by
//! annotating the record ([`ROLLBACK_REQUESTED_BY`]) and then writes the active Service
//! itself, pinned to the previous version's pods, which still run: one write, no pod to
//! start. The deploy sees the request within a quarter of a second, waits until that
//! write is visible (so that none of its own writes can land before it), removes the
//! preview and concludes the release as rolled back.
//!
//! The end of the delay and the request cannot cross: both are writes of the record
//! with its `resourceVersion` ([`close`] and [`switch_back`]), so exactly one of them
//! wins. When the request wins, the deploy stops before it rolls the Deployment; when the
//! end wins, the `rollback` finds no window and rolls back as after any release.
//!
//! A deploy killed inside the window leaves the record `pending`; whoever concludes it
//! switches the Service back and removes the preview ([`after_kill`]).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{DeployError, During, Event, write_record};
use crate::cluster::{Apply, Cluster, ClusterError};
use crate::lock::{self, Decision};
use crate::record::{self, ROLLBACK_REQUESTED_BY, Release, ReleaseStatus, SwitchWindow};

/// How often the deploy looks for a rollback request during the delay.
const POLL: Duration = Duration::from_millis(250);

/// Records the window in the pending record, before the switch is written.
pub(super) async fn open(
    cluster: &Arc<Cluster>,
    release: &mut Release,
    window: SwitchWindow,
) -> Result<(), ClusterError> {
    release.switch_window = Some(window);
    write_record(cluster, release).await
}

/// Resolves with who asked once the release's record carries a rollback request. A
/// record that cannot be read is looked at again at the next poll.
pub(super) async fn requested(cluster: &Arc<Cluster>, release: &Release) -> String {
    let name = record::record_name(&release.app, release.revision);
    loop {
        if let Ok(Some(secret)) = cluster.get("v1", "Secret", &release.namespace, &name).await
            && let Some(user) = requester(&secret)
        {
            return user;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Ends the window in the record (it no longer holds one), unless a rollback asked for
/// the switch back first: then who asked.
pub(super) async fn close(
    cluster: &Arc<Cluster>,
    release: &mut Release,
) -> Result<Option<String>, ClusterError> {
    let name = record::record_name(&release.app, release.revision);
    loop {
        let current = cluster
            .get("v1", "Secret", &release.namespace, &name)
            .await?;
        if let Some(user) = current.as_ref().and_then(requester) {
            return Ok(Some(user));
        }
        let mut closed = release.clone();
        closed.switch_window = None;
        let mut secret = record::to_secret(&closed);
        if let Some(version) = current
            .as_ref()
            .and_then(|s| s.pointer("/metadata/resourceVersion"))
        {
            secret["metadata"]["resourceVersion"] = version.clone();
        }
        match cluster.replace(&secret, &release.namespace).await {
            Ok(_) => {
                release.switch_window = None;
                return Ok(None);
            }
            // The record changed since it was read (a request): read it again.
            Err(e) if e.is_conflict() || matches!(&e, ClusterError::Api { code: 409, .. }) => {}
            Err(e) => return Err(e),
        }
    }
}

/// After a request: waits (at most a few seconds) until the rollback's own write of the
/// active Service is visible — it comes right after the request — so that no write of
/// the deploy (the Service as rendered, when the preview is gone) can land before it and
/// be undone by it. A rollback that died between the two is not waited for longer: the
/// deploy's own switch back follows.
pub(super) async fn await_switch(cluster: &Arc<Cluster>, namespace: &str, window: &SwitchWindow) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(service)) = cluster
            .get("v1", "Service", namespace, &window.service)
            .await
            && service
                .pointer("/spec/selector/pod-template-hash")
                .and_then(Value::as_str)
                == Some(window.stable_hash.as_str())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Who asked for the switch back, from a record's annotation.
fn requester(secret: &Value) -> Option<String> {
    secret
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ROLLBACK_REQUESTED_BY))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A release switched back inside its scale-down delay by `rollback`.
#[derive(Debug, Clone)]
pub struct SwitchedBack {
    pub revision: u64,
    pub window: SwitchWindow,
}

/// `rollback` inside a blue-green scale-down delay: asks the deploy running it to stop
/// (the request in its record) and switches the active Service back to the previous
/// version's pods in one write. `None` when no release of the namespace is in a delay.
///
/// # Errors
///
/// A cluster error reading or writing the record or the Service.
pub async fn switch_back(
    cluster: &Arc<Cluster>,
    app: &str,
    environment: &str,
    namespace: &str,
    user: &str,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Option<SwitchedBack>, DeployError> {
    let releases = super::history(cluster, app, environment, namespace).await?;
    let Some(release) = releases
        .iter()
        .rev()
        .find(|r| r.status == ReleaseStatus::Pending && r.switch_window.is_some())
    else {
        return Ok(None);
    };
    let name = record::record_name(app, release.revision);
    let (release, window) = loop {
        let Some(mut secret) = cluster
            .get("v1", "Secret", namespace, &name)
            .await
            .during("reading the release record")?
        else {
            return Ok(None);
        };
        let release = record::from_secret(&secret)?;
        let Some(window) = release.switch_window.clone() else {
            // The delay ended meanwhile: nothing to switch back in one write.
            return Ok(None);
        };
        if release.status != ReleaseStatus::Pending {
            return Ok(None);
        }
        if requester(&secret).is_some() {
            break (release, window);
        }
        secret["metadata"]["annotations"][ROLLBACK_REQUESTED_BY] = json!(user);
        match cluster.replace(&secret, namespace).await {
            Ok(_) => break (release, window),
            Err(e) if e.is_conflict() || matches!(&e, ClusterError::Api { code: 409, .. }) => {}
            Err(e) => return Err(e).during("asking the deploy to switch back"),
        }
    };
    let service = active_service(&release, &window).ok_or_else(|| DeployError::UnknownService {
        revision: release.revision,
        service: window.service.clone(),
    })?;
    cluster
        .apply(
            &super::bluegreen::pinned(service, &window.stable_hash),
            namespace,
            Apply::Force,
        )
        .await
        .during(format!("switching service/{} back", window.service))?;
    report(Event::SwitchedBack {
        revision: release.revision,
        deployment: window.deployment.clone(),
        service: window.service.clone(),
    });
    Ok(Some(SwitchedBack {
        revision: release.revision,
        window,
    }))
}

/// The active Service of `window` as the release rendered it.
fn active_service<'r>(release: &'r Release, window: &SwitchWindow) -> Option<&'r Value> {
    release.manifest.iter().find(|o| {
        o.get("kind").and_then(Value::as_str) == Some("Service")
            && crate::cluster::object_name(o) == Some(window.service.as_str())
    })
}

/// How a release switched back by `rollback` ended.
#[derive(Debug)]
pub enum Conclusion {
    /// Its deploy concluded it: the record as written, and the current release then
    /// (the one restored).
    Concluded {
        release: Box<Release>,
        current: Option<u64>,
    },
    /// Its deploy no longer holds the lock and left the record pending (killed): the
    /// next release under the lock concludes it.
    DeployGone,
}

/// Waits up to `timeout` for the deploy running `revision` to conclude it, or to be
/// gone.
///
/// # Errors
///
/// A cluster error; [`DeployError::StillRunning`] after `timeout`.
pub async fn await_conclusion(
    cluster: &Arc<Cluster>,
    app: &str,
    environment: &str,
    namespace: &str,
    revision: u64,
    timeout: Duration,
) -> Result<Conclusion, DeployError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // The lease first: a deploy writes its last record before it frees the lease,
        // so a free lease read before the records never hides a conclusion.
        let lease = cluster
            .get(
                "coordination.k8s.io/v1",
                "Lease",
                namespace,
                &lock::lease_name(app),
            )
            .await?;
        let holder = match lock::decide(lease.as_ref(), "", Timestamp::now(), lock::holder_gone) {
            Decision::Held { holder, .. } => Some(holder),
            Decision::Create | Decision::Take { .. } => None,
        };
        let releases = super::history(cluster, app, environment, namespace).await?;
        let current = record::current(&releases).map(|r| r.revision);
        match releases.into_iter().find(|r| r.revision == revision) {
            Some(r) if r.status != ReleaseStatus::Pending => {
                return Ok(Conclusion::Concluded {
                    release: Box::new(r),
                    current,
                });
            }
            Some(_) => {}
            None => return Err(DeployError::UnknownRevision(revision)),
        }
        let Some(holder) = holder else {
            return Ok(Conclusion::DeployGone);
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(DeployError::StillRunning { revision, holder });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A pending record a killed deploy left inside a scale-down delay: the active Service
/// selects the previous version's pods again and the preview goes. Returns what was
/// done, for the record's outcome.
pub(super) async fn after_kill(cluster: &Arc<Cluster>, release: &Release) -> Option<String> {
    let window = release.switch_window.as_ref()?;
    let ns = &release.namespace;
    let service = active_service(release, window)?;
    let pinned = super::bluegreen::pinned(service, &window.stable_hash);
    let back = cluster.apply(&pinned, ns, Apply::Force).await.is_ok();
    for (api_version, kind, name) in [
        (
            "apps/v1",
            "Deployment",
            format!("{}-preview", window.deployment),
        ),
        ("v1", "Service", window.preview_service.clone()),
    ] {
        let _ = cluster.delete(api_version, kind, ns, &name).await;
    }
    Some(if back {
        format!(
            "service/{} switched back to the previous version of deployment/{}; its preview removed",
            window.service, window.deployment
        )
    } else {
        format!(
            "service/{} could not be switched back to the previous version of deployment/{}",
            window.service, window.deployment
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_sandbox::{Sandbox, SandboxOptions};

    fn pending(revision: u64) -> Release {
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 80}]}});
        Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "default".into(),
            revision,
            status: ReleaseStatus::Pending,
            started: "2026-12-03T10:00:00Z".into(),
            finished: None,
            user: "ci@runner".into(),
            git_commit: None,
            git_dirty: false,
            images: vec![],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: String::new(),
            manifest: vec![service],
            failed_check: None,
            paused: None,
            switch_window: Some(SwitchWindow {
                deployment: "api".into(),
                service: "api".into(),
                preview_service: "api-preview".into(),
                stable_hash: "stable1".into(),
                until: "2026-12-03T10:05:00Z".into(),
            }),
        }
    }

    async fn selector(cluster: &Arc<Cluster>) -> Option<Value> {
        let svc = cluster
            .get("v1", "Service", "default", "api")
            .await
            .unwrap();
        svc.and_then(|s| s.pointer("/spec/selector").cloned())
    }

    /// The end of the delay and a rollback's request are both writes of the record with
    /// its `resourceVersion`: whichever comes second sees the first.
    #[tokio::test]
    async fn the_end_of_the_delay_and_a_rollback_request_never_both_win() {
        let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig).unwrap();
        let cluster = Arc::new(Cluster::connect(Some(&kubeconfig), None).await.unwrap());
        let quiet = |_: Event| {};

        // The request first: the Service is pinned to the previous pods in one write,
        // and the deploy's end of the delay finds the request instead of closing.
        let mut first = pending(1);
        write_record(&cluster, &first).await.unwrap();
        let back = switch_back(&cluster, "shop", "prod", "default", "ops@laptop", &quiet)
            .await
            .unwrap()
            .expect("a release in its delay");
        assert_eq!(back.revision, 1);
        assert_eq!(
            selector(&cluster).await,
            Some(json!({"app": "api", "pod-template-hash": "stable1"}))
        );
        assert_eq!(
            close(&cluster, &mut first).await.unwrap().as_deref(),
            Some("ops@laptop")
        );
        assert!(first.switch_window.is_some());

        // The end first: the record no longer holds the window, and a rollback then
        // writes nothing of the Service.
        cluster
            .delete("v1", "Service", "default", "api")
            .await
            .unwrap();
        let mut second = pending(2);
        first.status = ReleaseStatus::RolledBack;
        write_record(&cluster, &first).await.unwrap();
        write_record(&cluster, &second).await.unwrap();
        assert_eq!(close(&cluster, &mut second).await.unwrap(), None);
        assert!(second.switch_window.is_none());
        let none = switch_back(&cluster, "shop", "prod", "default", "ops@laptop", &quiet)
            .await
            .unwrap();
        assert!(none.is_none());
        assert_eq!(selector(&cluster).await, None);
        sandbox.shutdown().await;
    }
}

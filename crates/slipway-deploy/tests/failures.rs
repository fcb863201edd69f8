//! The failure matrix: a release that cannot become healthy, for each way a rollout
//! fails on a cluster — a workload that never becomes ready, a pod no node can take, an
//! image missing from the registry, a container that exits at start, a Job of the
//! release that fails. Each is diagnosed by resource and reason, then rolled back; the
//! cluster, read with the real `kubectl`, runs exactly the previous images and
//! configuration on every ready replica, and the release records tell both outcomes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kube_sandbox::SandboxOptions;
use serde_json::{Value, json};
use slipway_deploy::engine::{self, DeployInput, Outcome};
use slipway_deploy::record::ReleaseStatus;
use slipway_deploy::track::Diagnosis;

mod common;

use common::{Env, collect};

const NS: &str = "shop";
const GOOD_IMAGE: &str = "registry.example.com/shop/api:1";
const NEXT_IMAGE: &str = "registry.example.com/shop/api:2";

/// A sandbox at high speed with its registry, a kubeconfig for `kubectl`, and the
/// engine's connection. The tests run on a multi-threaded runtime: `kubectl` is run
/// while the sandbox serves from the same runtime.
async fn env() -> Env {
    Env::start(SandboxOptions {
        speed: 20.0,
        registry_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..SandboxOptions::default()
    })
    .await
}

impl Env {
    /// `kubectl -n shop get …` with a JSONPath; panics unless kubectl succeeds.
    fn kubectl_get(&self, what: &[&str], jsonpath: &str) -> String {
        kubectl(&self.kubeconfig(), what, jsonpath)
    }
}

fn kubectl(kubeconfig: &Path, what: &[&str], jsonpath: &str) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", NS, "get"])
        .args(what)
        .arg(format!("-o=jsonpath={jsonpath}"))
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl get {what:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn config_map(version: u32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("api-config-v{version}")},
        "data": {"VERSION": version.to_string()}
    })
}

/// Two replicas that never take one down during an update, reading their configuration
/// from `api-config-v<version>`.
fn deployment(image: &str, version: u32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "api"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "api"},
                             "annotations": {"dev.slipway.sandbox/behavior": "ready"}},
                "spec": {"containers": [{
                    "name": "api", "image": image,
                    "envFrom": [{"configMapRef": {"name": format!("api-config-v{version}")}}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
                }]}
            }
        }
    })
}

fn service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
           "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

/// The healthy release every case starts from.
fn good_release() -> Vec<Value> {
    vec![config_map(1), service(), deployment(GOOD_IMAGE, 1)]
}

/// The next release: new image, new configuration, and whatever the case breaks.
fn next_release(image: &str) -> Vec<Value> {
    vec![config_map(2), service(), deployment(image, 2)]
}

fn input(objects: Vec<Value>, image: &str) -> DeployInput {
    common::input(NS, image, Duration::from_secs(60), objects)
}

/// Deploys the healthy release, then `broken`, and returns the diagnosis of the rolled
/// back failure after checking what every case shares: the previous release runs on
/// every ready replica with its configuration, what only the failed release had is
/// gone, and the records say revision 2 failed and revision 1 was restored.
async fn fails_and_rolls_back(env: &Env, broken: Vec<Value>, image: &str) -> Box<Diagnosis> {
    let (_, report) = collect();
    let first = engine::deploy(
        env.cluster.clone(),
        input(good_release(), GOOD_IMAGE),
        &report,
    )
    .await
    .unwrap();
    assert!(
        matches!(first, Outcome::Deployed { revision: 1 }),
        "{first:?}"
    );

    let (log, report) = collect();
    let outcome = engine::deploy(env.cluster.clone(), input(broken, image), &report)
        .await
        .unwrap();
    let events = log.lock().unwrap().join("\n");
    let diagnosis = match outcome {
        Outcome::RolledBack {
            revision: 2,
            restored: 1,
            diagnosis,
        } => diagnosis,
        other => panic!("expected revision 2 rolled back to 1, got {other:?}\n{events}"),
    };
    // The failure was reported before the rollback started, and both are recorded.
    let failed_at = events.find("Failed(").expect(&events);
    let rolling_back = events
        .find("RollingBack { to_revision: 1 }")
        .expect(&events);
    assert!(failed_at < rolling_back, "{events}");
    assert!(
        events.contains("Recorded { revision: 2, status: RolledBack }"),
        "{events}"
    );

    // Every workload runs exactly the previous image and configuration, and all of its
    // replicas are ready on that template.
    let deployment = |path: &str| env.kubectl_get(&["deployment", "api"], path);
    assert_eq!(
        deployment("{.spec.template.spec.containers[0].image}"),
        GOOD_IMAGE
    );
    assert_eq!(
        deployment("{.spec.template.spec.containers[0].envFrom[0].configMapRef.name}"),
        "api-config-v1"
    );
    assert_eq!(
        deployment(
            "{.status.replicas}/{.status.updatedReplicas}/{.status.readyReplicas}/{.status.availableReplicas}"
        ),
        "2/2/2/2"
    );
    assert_eq!(
        deployment("{.metadata.generation}"),
        deployment("{.status.observedGeneration}")
    );
    assert_eq!(
        env.kubectl_get(&["configmap", "api-config-v1"], "{.data.VERSION}"),
        "1"
    );
    // The ReplicaSets the controller keeps scaled up all run the previous image.
    let replica_sets = env.kubectl_get(
        &["replicasets", "-l", "app=api"],
        "{range .items[?(@.spec.replicas>0)]}{.spec.template.spec.containers[0].image}{\"\\n\"}{end}",
    );
    assert!(
        !replica_sets.is_empty() && replica_sets.lines().all(|l| l == GOOD_IMAGE),
        "{replica_sets}"
    );
    // What only the failed release had is gone.
    assert_eq!(
        env.kubectl_get(&["configmaps"], "{.items[*].metadata.name}")
            .split_whitespace()
            .filter(|n| n.starts_with("api-config-"))
            .collect::<Vec<_>>(),
        ["api-config-v1"]
    );

    // The records: revision 1 is live again, revision 2 says why it failed and that 1
    // was restored.
    let history = engine::history(&env.cluster, "shop", "prod", NS)
        .await
        .unwrap();
    let statuses: Vec<_> = history.iter().map(|r| (r.revision, r.status)).collect();
    assert_eq!(
        statuses,
        [(1, ReleaseStatus::Deployed), (2, ReleaseStatus::RolledBack)]
    );
    let outcome = &history[1].outcome;
    assert!(
        outcome.starts_with(&format!("{}: {}: ", diagnosis.workload, diagnosis.reason)),
        "{outcome}"
    );
    assert!(outcome.ends_with("; revision 1 restored"), "{outcome}");
    assert!(history[1].finished.is_some());
    assert_eq!(history[1].images[0].reference, image);
    assert_eq!(history[0].images[0].reference, GOOD_IMAGE);
    diagnosis
}

fn event_reasons(d: &Diagnosis) -> Vec<&str> {
    d.events.iter().map(|e| e.reason.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_ready_release_fails_at_its_progress_deadline_and_is_rolled_back() {
    let env = env().await;
    let mut broken = next_release(NEXT_IMAGE);
    let d = &mut broken[2];
    d["spec"]["template"]["metadata"]["annotations"]["dev.slipway.sandbox/behavior"] =
        json!("never-ready");
    // 200 s of the cluster's time: 10 s at the sandbox's speed.
    d["spec"]["progressDeadlineSeconds"] = json!(200);
    let diagnosis = fails_and_rolls_back(&env, broken, NEXT_IMAGE).await;

    assert_eq!(diagnosis.workload, "deployment/api");
    // The controller gave up (progress deadline); the pod says why: it never passed
    // its readiness probe.
    assert_eq!(diagnosis.reason, "ReadinessProbeFailing", "{diagnosis:?}");
    assert_eq!(diagnosis.message, "container is running but not ready");
    assert!(
        diagnosis
            .pod
            .as_deref()
            .is_some_and(|p| p.starts_with("api-")),
        "{diagnosis:?}"
    );
    assert_eq!(diagnosis.container.as_deref(), Some("api"));
    assert!(
        event_reasons(&diagnosis).contains(&"Unhealthy"),
        "{:#?}",
        diagnosis.events
    );
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_no_node_can_fit_is_diagnosed_unschedulable_and_rolled_back() {
    let env = env().await;
    let mut broken = next_release(NEXT_IMAGE);
    // The node has 4 CPUs.
    broken[2]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] =
        json!("64");
    let diagnosis = fails_and_rolls_back(&env, broken, NEXT_IMAGE).await;

    assert_eq!(diagnosis.workload, "deployment/api");
    assert_eq!(diagnosis.reason, "Unschedulable", "{diagnosis:?}");
    assert!(
        diagnosis.message.contains("Insufficient cpu"),
        "{diagnosis:?}"
    );
    assert!(
        diagnosis
            .pod
            .as_deref()
            .is_some_and(|p| p.starts_with("api-")),
        "{diagnosis:?}"
    );
    let scheduling = diagnosis
        .events
        .iter()
        .find(|e| e.reason == "FailedScheduling")
        .unwrap_or_else(|| panic!("{:#?}", diagnosis.events));
    assert!(scheduling.warning);
    assert!(
        scheduling.message.contains("0/1 nodes are available"),
        "{scheduling:?}"
    );
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_missing_from_the_registry_is_diagnosed_and_rolled_back() {
    let env = env().await;
    let registry = env.sandbox.registry_addr().unwrap();
    let missing = format!("{registry}/shop/api:never-pushed");
    let diagnosis = fails_and_rolls_back(&env, next_release(&missing), &missing).await;

    assert_eq!(diagnosis.workload, "deployment/api");
    assert_eq!(diagnosis.reason, "ImagePullBackOff", "{diagnosis:?}");
    assert!(diagnosis.message.contains(&missing), "{diagnosis:?}");
    assert_eq!(diagnosis.container.as_deref(), Some("api"));
    let failed_pull = diagnosis
        .events
        .iter()
        .find(|e| e.reason == "Failed" && e.message.contains(&missing))
        .unwrap_or_else(|| panic!("{:#?}", diagnosis.events));
    assert!(failed_pull.warning);
    assert!(
        diagnosis.render().contains("(container `api`)"),
        "{}",
        diagnosis.render()
    );
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_exiting_at_start_is_diagnosed_with_its_exit_code_and_rolled_back() {
    // `tests/engine.rs` checks a crash's reason and the image restored; this checks the
    // exit code, the events and the configuration restored with it.
    let env = env().await;
    let mut broken = next_release(NEXT_IMAGE);
    let d = &mut broken[2];
    d["spec"]["template"]["metadata"]["annotations"]["dev.slipway.sandbox/behavior"] =
        json!("exit=7");
    // The app answers only after a few seconds: it exits before it is ever ready.
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["initialDelaySeconds"] =
        json!(5);
    let diagnosis = fails_and_rolls_back(&env, broken, NEXT_IMAGE).await;

    assert_eq!(diagnosis.workload, "deployment/api");
    assert_eq!(diagnosis.reason, "CrashLoopBackOff", "{diagnosis:?}");
    assert!(
        diagnosis
            .message
            .starts_with("container exited with code 7"),
        "{diagnosis:?}"
    );
    assert_eq!(diagnosis.container.as_deref(), Some("api"));
    assert!(
        event_reasons(&diagnosis).contains(&"BackOff"),
        "{:#?}",
        diagnosis.events
    );
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_job_of_the_release_is_diagnosed_and_the_release_rolled_back() {
    let env = env().await;
    // The new Deployment itself is healthy; the release's Job is not.
    let mut broken = next_release(NEXT_IMAGE);
    broken.push(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "seed"},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"annotations": {"dev.slipway.sandbox/behavior": "exit=3"}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "seed", "image": NEXT_IMAGE}]}}}
    }));
    let diagnosis = fails_and_rolls_back(&env, broken, NEXT_IMAGE).await;

    assert_eq!(diagnosis.workload, "job/seed");
    assert_eq!(diagnosis.reason, "BackoffLimitExceeded", "{diagnosis:?}");
    assert!(diagnosis.message.contains("backoff limit"), "{diagnosis:?}");
    // The Job belonged only to the failed release: it is removed with it.
    let jobs = env.kubectl_get(&["jobs"], "{.items[*].metadata.name}");
    assert_eq!(jobs, "", "{jobs}");
    env.sandbox.shutdown().await;
}

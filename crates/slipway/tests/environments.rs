//! Environments through the real binary: an environment of two clusters is released on
//! both at once, `status --watch` follows the cluster as it changes, custom resources
//! are checked against the cluster's CRDs, the settle window, `diff` with a hotfix image,
//! and a post-deploy hook. The clusters are sandboxes served by `slipway sandbox serve`;
//! the judge is the real `kubectl`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::sandbox::{self, Served};

/// Images given with `--image`, pinned by digest as the policy asks.
const API_1: &str = "api=registry.example.com/shop/api:1@sha256:1111111111111111111111111111111111111111111111111111111111111111";
const API_2: &str = "api=other.example.org/shop/api:2@sha256:2222222222222222222222222222222222222222222222222222222222222222";
/// A second version in the same (unchecked) registry as the first.
const API_2_OK: &str = "api=registry.example.com/shop/api:2@sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// `slipway sandbox serve` at a high speed, with `extra` flags.
fn serve(dir: &Path, name: &str, extra: &[&str]) -> Served {
    let mut args = vec!["--speed", "20"];
    args.extend_from_slice(extra);
    Served::start(dir, name, &args)
}

/// A kubeconfig naming each sandbox as its own context.
fn kubeconfig(path: &Path, clusters: &[(&str, &Served)]) {
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, s) in clusters {
        text.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {}\n",
            s.server
        ));
    }
    text.push_str("users:\n- name: nobody\n  user: {}\ncontexts:\n");
    for (name, _) in clusters {
        text.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: nobody\n"
        ));
    }
    text.push_str(&format!("current-context: {}\n", clusters[0].0));
    fs::write(path, text).unwrap();
}

/// A project whose one image comes from `--image`, with one Deployment.
fn project(dir: &Path, environments: &str) {
    fs::create_dir_all(dir.join("k8s")).unwrap();
    fs::write(
        dir.join("slipway.yaml"),
        format!(
            "app: shop\nregistry: registry.example.com/shop\nimages:\n  api:\n    files:\n      base: scratch\n      copy: []\nmanifests: k8s\ndefaults:\n  timeout: 2m\nenvironments:\n{environments}"
        ),
    )
    .unwrap();
    fs::write(
        dir.join("k8s/kustomization.yaml"),
        "resources:\n  - api.yaml\n",
    )
    .unwrap();
    fs::write(
        dir.join("k8s/api.yaml"),
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  strategy:
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: api
          ports:
            - containerPort: 8080
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {memory: 64Mi}
          readinessProbe:
            httpGet: {path: /, port: 8080}
",
    )
    .unwrap();
}

/// One sandbox, and a project whose environment `dev` deploys to its namespace `shop`.
fn one_cluster_project(dir: &Path) -> Served {
    let served = serve(dir, "one", &[]);
    kubeconfig(&dir.join("kubeconfig"), &[("one", &served)]);
    project(
        dir,
        "  dev:\n    context: one\n    kubeconfig: kubeconfig\n    namespace: shop\n",
    );
    served
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn an_environment_of_two_clusters_is_released_on_both_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // Every request to the first cluster is slow: released one after the other, the
    // second cluster could only start once the first was done.
    let slow = serve(dir.path(), "slow", &["--latency", "150ms"]);
    let fast = serve(dir.path(), "fast", &["--registry", "other.example.org"]);
    kubeconfig(
        &dir.path().join("kubeconfig"),
        &[("slow", &slow), ("fast", &fast)],
    );
    project(
        dir.path(),
        "  prod:\n    targets:\n      - { context: slow, kubeconfig: kubeconfig, namespace: shop }\n      - { context: fast, kubeconfig: kubeconfig, namespace: shop-b }\n",
    );

    let out = sandbox::run(
        dir.path(),
        &["deploy", "prod", "--yes", "-o", "json", "--image", API_1],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let done: Vec<String> = json_lines(&out)
        .iter()
        .filter(|e| e["event"] == "done")
        .map(|e| e["namespace"].as_str().unwrap().to_string())
        .collect();
    // The fast cluster finished first although it comes second in the environment.
    assert_eq!(done, ["shop-b", "shop"], "{stderr}");
    // Lines name their namespace when several run at once.
    assert!(
        stderr.contains("[shop] revision 1 is live in `shop`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[shop-b] revision 1 is live in `shop-b`"),
        "{stderr}"
    );
    for (served, ns) in [(&slow, "shop"), (&fast, "shop-b")] {
        let image = served.kubectl(&[
            "-n",
            ns,
            "get",
            "deployment/api",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ]);
        assert_eq!(image, &API_1[4..]);
        let ready = served.kubectl(&[
            "-n",
            ns,
            "get",
            "deployment/api",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ]);
        assert_eq!(ready, "2");
    }

    // An image only the fast cluster finds missing: that cluster fails and rolls back,
    // the other (already under way) finishes; the error says where each one stands.
    let out = sandbox::run(dir.path(), &["deploy", "prod", "--yes", "--image", API_2]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("[shop-b] rollout failed: deployment/api: ErrImagePull")
            || stderr.contains("[shop-b] rollout failed: deployment/api: ImagePullBackOff"),
        "{stderr}"
    );
    assert!(
        stderr.contains("namespaces: `shop`: done, `shop-b`: failed (exit code 4)"),
        "{stderr}"
    );
    let image = |served: &Served, ns: &str| {
        served.kubectl(&[
            "-n",
            ns,
            "get",
            "deployment/api",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    };
    assert_eq!(image(&slow, "shop"), &API_2[4..]);
    assert_eq!(image(&fast, "shop-b"), &API_1[4..]);
}

#[test]
fn status_watch_shows_a_change_made_with_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let served = one_cluster_project(dir.path());
    let out = sandbox::run(dir.path(), &["deploy", "dev", "--image", API_1]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut watch = sandbox::command(dir.path(), &["status", "dev", "--watch", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> serde_json::Value {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no status line: {what}"));
        serde_json::from_str(&line).expect("one JSON document per line")
    };
    let first = next("the first view");
    let workload = &first["namespaces"][0]["workloads"][0];
    assert_eq!(workload["workload"], "deployment/api");
    assert_eq!(workload["images"][0], &API_1[4..]);
    assert_eq!(workload["drift"], serde_json::json!([]));

    served.kubectl(&[
        "-n",
        "shop",
        "set",
        "image",
        "deployment/api",
        "api=registry.example.com/shop/api:hotfix",
    ]);
    // Views follow until one shows the drift, naming kubectl's field manager.
    let mut drift = serde_json::Value::Null;
    for _ in 0..50 {
        let view = next("a view with the drift");
        let d = &view["namespaces"][0]["workloads"][0]["drift"];
        if d.as_array().is_some_and(|a| !a.is_empty()) {
            drift = d[0].clone();
            break;
        }
    }
    assert_eq!(
        drift["live"], "registry.example.com/shop/api:hotfix",
        "{drift}"
    );
    assert_eq!(drift["recorded"], &API_1[4..]);
    assert!(
        drift["manager"].as_str().unwrap().starts_with("kubectl"),
        "{drift}"
    );
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn custom_resources_are_checked_against_the_clusters_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let served = one_cluster_project(dir.path());
    // The definition is the cluster's (installed by its operator), not the release's.
    let crd = dir.path().join("crd.yaml");
    fs::write(
        &crd,
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: { kind: Widget, plural: widgets, singular: widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: { type: integer }
",
    )
    .unwrap();
    served.kubectl(&["apply", "-f", crd.to_str().unwrap()]);
    fs::write(
        dir.path().join("k8s/kustomization.yaml"),
        "resources:\n  - api.yaml\n  - widget.yaml\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("k8s/widget.yaml"),
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  sise: 3\n",
    )
    .unwrap();
    let out = sandbox::run(dir.path(), &["deploy", "dev", "--image", API_1]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("widget.yaml:6:3"), "{stderr}");
    assert!(stderr.contains("spec.sise"), "{stderr}");
    // Nothing was written: the namespace does not even exist.
    let namespaces = served.kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(!namespaces.contains("namespace/shop"), "{namespaces}");
}

#[test]
fn settle_catches_a_release_that_crashes_after_it_was_ready() {
    let dir = tempfile::tempdir().unwrap();
    let served = one_cluster_project(dir.path());
    let out = sandbox::run(dir.path(), &["deploy", "dev", "--image", API_1]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The next version is ready at once and crashes 5 s (100 simulated) after each start:
    // its rollout completes, and only the settle window can see the crash.
    let manifest = dir.path().join("k8s/api.yaml");
    let text = fs::read_to_string(&manifest).unwrap().replace(
        "      labels: {app: api}\n    spec:",
        "      labels: {app: api}\n      annotations: {dev.slipway.sandbox/behavior: crash-after=100s}\n    spec:",
    );
    fs::write(&manifest, text).unwrap();
    let out = sandbox::run(
        dir.path(),
        &["deploy", "dev", "--image", API_2_OK, "--settle", "10s"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("watching its pods for restarts for 10s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("deployment/api: RestartedAfterReady"),
        "{stderr}"
    );
    let image = served.kubectl(&[
        "-n",
        "shop",
        "get",
        "deployment/api",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, &API_1[4..], "the previous release runs again");

    // A duration that is not one is refused before anything is written.
    let out = sandbox::run(dir.path(), &["deploy", "dev", "--settle", "soon"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`--settle soon`"), "{stderr}");
}

#[test]
fn diff_shows_what_a_hotfix_image_would_change_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let served = one_cluster_project(dir.path());
    let out = sandbox::run(dir.path(), &["deploy", "dev", "--image", API_1]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = || {
        served.kubectl(&[
            "-n",
            "shop",
            "get",
            "secrets,leases",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}@{.metadata.resourceVersion} {end}",
        ])
    };
    let before = records();

    let out = sandbox::run(
        dir.path(),
        &["diff", "dev", "--image", API_2_OK, "-o", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = json_lines(&out)
        .into_iter()
        .find(|e| e["event"] == "done")
        .expect("a done event");
    assert_eq!(done["outcome"], "planned", "{done}");
    let api = done["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["object"] == "Deployment/api")
        .expect("the Deployment is planned");
    assert_eq!(api["change"], "update", "{done}");
    assert_eq!(records(), before, "diff wrote to the cluster");

    // `--only` names images of slipway.yaml.
    let out = sandbox::run(dir.path(), &["diff", "dev", "--only", "nope"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Adds a `post-deploy` hook `smoke` to `slipway.yaml`, whose Job's pod behaves as
/// `behavior` says.
fn smoke_test(dir: &Path, behavior: &str) {
    let config = fs::read_to_string(dir.join("slipway.yaml")).unwrap();
    if !config.contains("hooks:") {
        let config = config.replace(
            "manifests: k8s\n",
            "manifests: k8s\nhooks:\n  smoke:\n    when: post-deploy\n    job: smoke.yaml\n    timeout: 1m\n",
        );
        fs::write(dir.join("slipway.yaml"), config).unwrap();
    }
    fs::write(
        dir.join("smoke.yaml"),
        format!(
            "apiVersion: batch/v1
kind: Job
metadata:
  name: smoke
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {{dev.slipway.sandbox/behavior: \"{behavior}\"}}
    spec:
      restartPolicy: Never
      containers:
        - name: smoke
          image: registry.example.com/shop/smoke:1@sha256:{}
          resources:
            requests: {{cpu: 10m, memory: 16Mi}}
            limits: {{memory: 64Mi}}
",
            "3".repeat(64)
        ),
    )
    .unwrap();
}

#[test]
fn post_deploy_hook_of_slipway_yaml_runs_after_the_rollout_and_its_failure_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let served = one_cluster_project(dir.path());
    smoke_test(dir.path(), "complete-after=1s");
    let out = sandbox::run(dir.path(), &["deploy", "dev", "--image", API_1]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let ready = stderr
        .find("deployment/api ready")
        .unwrap_or_else(|| panic!("{stderr}"));
    let hook = stderr
        .find("hook `smoke`: running job `smoke-r1`")
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        ready < hook,
        "the hook ran before the rollout was ready:\n{stderr}"
    );

    // A failing smoke test fails the release: the previous image comes back.
    smoke_test(dir.path(), "exit=1");
    let out = sandbox::run(dir.path(), &["deploy", "dev", "--image", API_2_OK]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("revision 2 failed in `shop` and revision 1 was restored: job/smoke-r2"),
        "{stderr}"
    );
    let image = served.kubectl(&[
        "-n",
        "shop",
        "get",
        "deployment/api",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(format!("api={image}"), API_1);
}

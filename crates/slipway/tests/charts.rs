//! A Helm chart as the manifests of a project, through the binary against the project's
//! sandbox: built with the native builder into the sandbox's registry, installed with
//! the image pinned in the chart's objects, upgraded with its `pre-upgrade` migration
//! run before anything rolls, a failing migration stopping the release, a crashing
//! release rolled back, and `slipway rollback`. Then `slipway init` on a repository
//! with a chart.

use std::fs;
use std::path::Path;

mod common;

use common::sandbox::{kubectl_get, run};
use common::{Project, SERIAL, free_port, git};

/// 4: the release failed and the previous one was restored.
const ROLLED_BACK: i32 = 4;
/// 9: a pre-deploy hook failed; nothing was applied.
const HOOK_FAILED: i32 = 9;

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-api
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: { app: {{ .Release.Name }}-api }
  template:
    metadata:
      labels: { app: {{ .Release.Name }}-api }
      annotations:
        dev.slipway.sandbox/behavior: {{ .Values.behavior | quote }}
        checksum/info: {{ .Values.greeting | sha256sum | trunc 12 | quote }}
    spec:
      securityContext: { runAsNonRoot: true, runAsUser: 65532 }
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          envFrom:
            - configMapRef: { name: {{ .Release.Name }}-info }
          resources:
            requests: { cpu: 50m, memory: 64Mi }
            limits: { memory: 128Mi }
          ports:
            - { name: http, containerPort: 8080 }
          readinessProbe:
            tcpSocket: { port: http }
            periodSeconds: 1
"#;

const INFO: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-info
data:
  GREETING: {{ .Values.greeting | quote }}
  REVISION: {{ .Release.Revision | quote }}
  UPGRADE: {{ .Release.IsUpgrade | quote }}
  NAMESPACE: {{ .Release.Namespace | quote }}
  KUBE: {{ .Capabilities.KubeVersion.Version | quote }}
"#;

const MIGRATE: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        dev.slipway.sandbox/behavior: {{ .Values.migrate.behavior | quote }}
    spec:
      restartPolicy: Never
      securityContext: { runAsNonRoot: true, runAsUser: 65532 }
      containers:
        - name: migrate
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          args: [migrate, {{ .Values.greeting | quote }}]
          resources:
            requests: { cpu: 50m, memory: 64Mi }
            limits: { memory: 128Mi }
"#;

/// A second pre-upgrade Job, after the migration by weight, deleted once it succeeded.
const SEED: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-seed
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: hook-succeeded
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        dev.slipway.sandbox/behavior: complete-after=1s
    spec:
      restartPolicy: Never
      securityContext: { runAsNonRoot: true, runAsUser: 65532 }
      containers:
        - name: seed
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          resources:
            requests: { cpu: 50m, memory: 64Mi }
            limits: { memory: 128Mi }
"#;

const TEST_HOOK: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
    dev.slipway.sandbox/behavior: {{ .Values.testBehavior | default "complete-after=1s" | quote }}
spec:
  restartPolicy: Never
  containers:
    - name: test
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"#;

const CACHE_SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-cache
spec:
  selector: { app: {{ .Release.Name }}-api }
  ports:
    - { name: cache, port: {{ .Values.port }} }
"#;

/// The project `shop`: one image `api` built natively, the chart `deploy/chart` (with
/// the subchart `cache` in its `charts/` folder) as its manifests, and the sandbox
/// environment `dev` with its own values file.
fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let port = free_port();
    write(
        root,
        "slipway.yaml",
        &format!(
            "app: shop
registry: 127.0.0.1:{port}/shop
images:
  api:
    files:
      base: scratch
      copy:
        - {{ src: app.txt, dest: /app/app.txt }}
      entrypoint: [/app/api]
manifests:
  chart: deploy/chart
  release: web
  values: [deploy/values.yaml]
  set: {{ cache.port: 6380 }}
  images:
    api: image
environments:
  dev:
    cluster: sandbox
    namespace: shop-dev
    timeout: 60s
    settle: 2s
    crashloop-tolerance: 0
    chart:
      values: [deploy/values-dev.yaml]
"
        ),
    );
    write(root, "app.txt", "shop\n");
    write(
        root,
        "deploy/chart/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    );
    write(
        root,
        "deploy/chart/values.yaml",
        "replicaCount: 1\nbehavior: ready\ngreeting: hello\nimage:\n  repository: nginx\n  tag: \"1.0\"\nmigrate:\n  behavior: ready\n",
    );
    write(root, "deploy/chart/templates/deployment.yaml", DEPLOYMENT);
    write(root, "deploy/chart/templates/info.yaml", INFO);
    write(root, "deploy/chart/templates/migrate.yaml", MIGRATE);
    write(root, "deploy/chart/templates/seed.yaml", SEED);
    write(root, "deploy/chart/templates/tests/test.yaml", TEST_HOOK);
    write(
        root,
        "deploy/chart/templates/NOTES.txt",
        "{{ .Release.Name }} is at revision {{ .Release.Revision }} in {{ .Release.Namespace }}.\n",
    );
    write(
        root,
        "deploy/chart/charts/cache/Chart.yaml",
        "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
    );
    write(
        root,
        "deploy/chart/charts/cache/values.yaml",
        "port: 6379\n",
    );
    write(
        root,
        "deploy/chart/charts/cache/templates/service.yaml",
        CACHE_SERVICE,
    );
    write(
        root,
        "deploy/values.yaml",
        "greeting: hi\nmigrate:\n  behavior: complete-after=1s\n",
    );
    write(root, "deploy/values-dev.yaml", "replicaCount: 2\n");
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "shop"]);
    Project { dir }
}

/// Runs slipway in the project; exit code, standard output and standard error.
fn slipway(p: &Project, args: &[&str]) -> (i32, String, String) {
    let out = run(p.path(), args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kubectl -n shop-dev get <what> -o jsonpath=<path>`, which must succeed.
fn get(p: &Project, what: &[&str], jsonpath: &str) -> String {
    let out = kubectl_get(&p.kubeconfig(), "shop-dev", what, jsonpath);
    assert!(
        out.status.success(),
        "kubectl get {what:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn info(p: &Project, key: &str) -> String {
    get(p, &["configmap", "web-info"], &format!("{{.data.{key}}}"))
}

/// Rewrites the environment's values file.
fn dev_values(p: &Project, text: &str) {
    write(p.path(), "deploy/values-dev.yaml", text);
}

fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn position(events: &[serde_json::Value], wanted: impl Fn(&serde_json::Value) -> bool) -> usize {
    events
        .iter()
        .position(wanted)
        .unwrap_or_else(|| panic!("no such event in {events:#?}"))
}

#[test]
fn a_chart_is_built_installed_upgraded_behind_its_migration_and_rolled_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project();

    // Install: built, pushed to the sandbox's registry, pinned in the chart's objects.
    let (code, _, err) = slipway(&p, &["deploy", "dev", "--build"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("revision 1 is live in `shop-dev`"), "{err}");
    assert!(
        err.contains("NOTES:") && err.contains("web is at revision 1 in shop-dev."),
        "{err}"
    );
    assert!(
        !err.contains("running job `web-migrate")
            && err.contains(
                "note: the chart's hook Job/web-migrate (pre-upgrade) is not run by this release"
            ),
        "a pre-upgrade hook does not run on install: {err}"
    );
    assert!(
        err.contains("hook `web-seed`: running job `web-seed-r1`"),
        "{err}"
    );
    let image = get(
        &p,
        &["deployment", "web-api"],
        "{.spec.template.spec.containers[0].image}",
    );
    assert!(
        image.starts_with("127.0.0.1:")
            && image.contains("/shop/api:")
            && image.contains("@sha256:"),
        "{image}"
    );
    assert_eq!(
        get(&p, &["deployment", "web-api"], "{.spec.replicas}"),
        "2",
        "the environment's values"
    );
    assert_eq!(info(&p, "GREETING"), "hi");
    assert_eq!(info(&p, "REVISION"), "1");
    assert_eq!(info(&p, "UPGRADE"), "false");
    assert_eq!(info(&p, "NAMESPACE"), "shop-dev");
    // `.Capabilities.KubeVersion` is the cluster's, as `kubectl version` reads it.
    let version = p.kubectl(&["version", "-o", "json"]);
    let version: serde_json::Value = serde_json::from_slice(&version.stdout).unwrap();
    let server = version["serverVersion"]["gitVersion"].as_str().unwrap();
    assert!(server.starts_with(&info(&p, "KUBE")), "{server}");
    // The subchart's object, and slipway's labels on the chart's objects.
    assert_eq!(
        get(&p, &["service", "web-cache"], "{.spec.ports[0].port}"),
        "6380",
        "`set` reaches the subchart"
    );
    assert_eq!(
        get(
            &p,
            &["deployment", "web-api"],
            "{.metadata.labels.app\\.kubernetes\\.io/managed-by}"
        ),
        "slipway"
    );
    // The test hook is not applied.
    let pods = get(&p, &["pods"], "{.items[*].metadata.name}");
    assert!(!pods.contains("web-test"), "{pods}");

    // `render` prints the chart's objects with the pinned image of the last build.
    let (code, out, err) = slipway(&p, &["render", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("name: web-api") && out.contains("name: web-cache"),
        "{out}"
    );
    assert!(out.contains(&format!("image: {image}")), "{out}");
    assert!(
        err.contains("note: the chart's hook Pod/web-test (test: `slipway test` runs it) is not run by this release"),
        "{err}"
    );

    // `slipway test` runs the chart's test hooks against the current release.
    let (code, out, err) = slipway(&p, &["test", "dev", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("test `web-test`: passed (Succeeded)"), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["tests"][0]["passed"], true, "{doc}");
    assert_eq!(
        get(&p, &["pod", "web-test"], "{.spec.containers[0].image}"),
        image,
        "the test runs the release's image"
    );

    // Upgrade: the migration runs before anything is applied.
    dev_values(&p, "replicaCount: 2\ngreeting: hello again\n");
    let (code, out, err) = slipway(&p, &["deploy", "dev", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let ev = events(&out);
    let hook = position(&ev, |e| {
        e["event"] == "hook-started" && e["job"] == "web-migrate-r2"
    });
    let finished = position(&ev, |e| e["event"] == "hook-finished");
    // By weight: the migration (-5), then the seed (0), then the rollout.
    let seed = position(&ev, |e| {
        e["event"] == "hook-started" && e["job"] == "web-seed-r2"
    });
    let applied = position(&ev, |e| e["event"] == "applied");
    assert!(
        hook < finished && finished < seed && seed < applied,
        "{ev:#?}"
    );
    // `hook-succeeded`: the seed's Job is gone; the migration's is kept.
    let jobs = get(&p, &["jobs"], "{.items[*].metadata.name}");
    assert!(!jobs.contains("web-seed-r2"), "{jobs}");
    assert!(!err.contains("NOTES:"), "no notes with -o json: {err}");
    assert_eq!(info(&p, "REVISION"), "2");
    assert_eq!(info(&p, "UPGRADE"), "true");
    assert_eq!(info(&p, "GREETING"), "hello again");
    let migrate_image = get(
        &p,
        &["job", "web-migrate-r2"],
        "{.spec.template.spec.containers[0].image}",
    );
    assert_eq!(migrate_image, image, "the hook runs the pinned image");

    // A failing migration stops the release before anything rolls.
    dev_values(
        &p,
        "replicaCount: 2\ngreeting: never\nmigrate:\n  behavior: exit=1\n",
    );
    let (code, _, err) = slipway(&p, &["deploy", "dev"]);
    assert_eq!(code, HOOK_FAILED, "{err}");
    assert!(err.contains("web-migrate"), "{err}");
    assert_eq!(info(&p, "GREETING"), "hello again");
    assert_eq!(info(&p, "REVISION"), "2");

    // A release whose pods crash fails and the previous one is restored.
    dev_values(&p, "replicaCount: 2\ngreeting: crashing\nbehavior: crash\n");
    let (code, _, err) = slipway(&p, &["deploy", "dev"]);
    assert_eq!(code, ROLLED_BACK, "{err}");
    assert_eq!(info(&p, "GREETING"), "hello again");
    assert_eq!(
        get(
            &p,
            &["deployment", "web-api"],
            "{.spec.template.metadata.annotations.dev\\.slipway\\.sandbox/behavior}"
        ),
        "ready"
    );

    // `slipway rollback` goes back to revision 1's objects.
    let (code, _, err) = slipway(&p, &["rollback", "dev", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(info(&p, "GREETING"), "hi");
    assert_eq!(info(&p, "REVISION"), "1");
    let (code, out, err) = slipway(&p, &["history", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rollback"), "{out}");

    // A failing test fails `slipway test`.
    dev_values(&p, "replicaCount: 2\ntestBehavior: exit=1\n");
    let (code, _, err) = slipway(&p, &["test", "dev"]);
    assert_eq!(code, HOOK_FAILED, "{err}");
    assert!(err.contains("test `web-test`: failed (Failed)"), "{err}");
}

#[test]
fn init_on_a_repository_with_a_chart_writes_a_file_that_renders_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    fs::create_dir(&root).unwrap();
    write(&root, "Dockerfile", "FROM scratch\nCOPY app.txt /app.txt\n");
    write(&root, "app.txt", "shop\n");
    write(
        &root,
        "helm/Chart.yaml",
        "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    );
    write(
        &root,
        "helm/values.yaml",
        "image:\n  repository: nginx\n  tag: latest\n",
    );
    write(
        &root,
        "helm/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector:\n    matchLabels: { app: shop }\n  template:\n    metadata:\n      labels: { app: shop }\n    spec:\n      containers:\n        - name: shop\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
    );
    let out = run(&root, &["init"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Helm chart in `helm`: deployed as the manifests"),
        "{err}"
    );
    let written = fs::read_to_string(root.join("slipway.yaml")).unwrap();
    let config = slipway_config::load(&root.join("slipway.yaml"))
        .unwrap_or_else(|e| panic!("{e:?}\n{written}"));
    let chart = config.chart.as_ref().expect("a chart");
    assert_eq!(chart.path, root.join("helm"), "{written}");
    assert_eq!(chart.release, config.app);
    let image = &config.images[0];
    assert_eq!(chart.images[0].image, image.name, "{written}");
    assert_eq!(
        chart.images[0].repository.as_deref(),
        Some("image.repository")
    );

    // The file renders the chart, running the image's repository.
    let out = run(&root, &["render", "dev"]);
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{err}\n{written}");
    assert!(stdout.contains("kind: Deployment"), "{stdout}");
    assert!(
        stdout.contains(&format!("image: {}:latest", image.repository)),
        "{stdout}"
    );
}

/// What `helm upgrade --install` leaves in a namespace: objects labelled as Helm's, with
/// the release's name, written by the `helm` field manager.
const HELM_OBJECTS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: web-info
  namespace: shop-dev
  labels: { app.kubernetes.io/managed-by: Helm }
  annotations: { meta.helm.sh/release-name: web, meta.helm.sh/release-namespace: shop-dev }
data: { GREETING: from-helm }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-api
  namespace: shop-dev
  labels: { app.kubernetes.io/managed-by: Helm }
  annotations: { meta.helm.sh/release-name: web, meta.helm.sh/release-namespace: shop-dev }
spec:
  replicas: 1
  selector:
    matchLabels: { app: web-api }
  template:
    metadata:
      labels: { app: web-api }
    spec:
      containers:
        - name: api
          image: docker.io/library/nginx:1.27
"#;

#[test]
fn the_objects_of_a_helm_release_are_taken_over_and_named() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project();
    // The sandbox starts with the first command that needs it.
    let (code, _, err) = slipway(&p, &["status", "dev"]);
    assert!(err.contains("started the sandbox"), "{code}: {err}");
    assert!(
        p.kubectl(&["create", "namespace", "shop-dev"])
            .status
            .success()
    );
    write(p.path(), "helm-objects.yaml", HELM_OBJECTS);
    let created = p.kubectl(&[
        "create",
        "--field-manager",
        "helm",
        "-f",
        &p.path().join("helm-objects.yaml").display().to_string(),
    ]);
    assert!(created.status.success(), "{created:?}");

    // `diff` names what a deploy would take.
    let (code, _, err) = slipway(&p, &["build"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, err) = slipway(&p, &["diff", "dev"]);
    assert!(
        format!("{out}{err}").contains("taking over Deployment/web-api from Helm release `web`"),
        "{out}\n{err}"
    );

    let (code, _, err) = slipway(&p, &["deploy", "dev"]);
    assert_eq!(code, 0, "{err}");
    for object in ["ConfigMap/web-info", "Deployment/web-api"] {
        assert!(
            err.contains(&format!(
                "taking over {object} from Helm release `web` (server-side apply with force)"
            )),
            "{err}"
        );
    }
    assert!(!err.contains("Service/web-cache from Helm"), "{err}");
    assert_eq!(info(&p, "GREETING"), "hi");
    assert_eq!(
        get(
            &p,
            &["deployment", "web-api"],
            "{.metadata.labels.app\\.kubernetes\\.io/managed-by}"
        ),
        "slipway"
    );
    let image = get(
        &p,
        &["deployment", "web-api"],
        "{.spec.template.spec.containers[0].image}",
    );
    assert!(
        image.contains("/shop/api:") && image.contains("@sha256:"),
        "{image}"
    );
    // Taken once: the next release is an ordinary one.
    let (code, _, err) = slipway(&p, &["deploy", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("taking over"), "{err}");
}

/// The common "don't regenerate a password" pattern, a `lookup` of a list, and a
/// ServiceMonitor rendered only where the cluster serves the kind.
const CLUSTER_TEMPLATE: &str = r#"{{- $old := lookup "v1" "Secret" .Release.Namespace (printf "%s-password" .Release.Name) }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-password
  annotations:
    configmaps: {{ (lookup "v1" "ConfigMap" .Release.Namespace "").items | default list | len | quote }}
type: Opaque
data:
  password: {{ if $old }}{{ index $old.data "password" }}{{ else }}{{ randAlphaNum 24 | b64enc }}{{ end }}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .Release.Name }}-api
spec:
  selector:
    matchLabels: { app: {{ .Release.Name }}-api }
  endpoints:
    - port: http
{{- end }}
"#;

const SERVICE_MONITOR_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names:
    kind: ServiceMonitor
    listKind: ServiceMonitorList
    plural: servicemonitors
    singular: servicemonitor
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

#[test]
fn lookup_and_api_versions_read_the_cluster_on_deploy_and_not_on_render() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project();
    write(
        p.path(),
        "deploy/chart/templates/cluster.yaml",
        CLUSTER_TEMPLATE,
    );
    git(p.path(), &["add", "."]);
    git(p.path(), &["commit", "-q", "-m", "lookup"]);

    // First release: no Secret yet, so the password is generated; the cluster serves no
    // ServiceMonitor, so the chart renders none.
    let (code, _, err) = slipway(&p, &["deploy", "dev", "--build"]);
    assert_eq!(code, 0, "{err}");
    let password = get(&p, &["secret", "web-password"], "{.data.password}");
    assert_eq!(password.len(), 32, "{password}");
    let monitors = p.kubectl(&["-n", "shop-dev", "get", "servicemonitors"]);
    assert!(!monitors.status.success(), "no such kind yet");

    // The CRD installed: the next release keeps the password (`lookup` reads the Secret
    // from the cluster when the template asks) and renders the ServiceMonitor.
    write(p.path(), "crd.yaml", SERVICE_MONITOR_CRD);
    let applied = p.kubectl(&[
        "apply",
        "-f",
        &p.path().join("crd.yaml").display().to_string(),
    ]);
    assert!(applied.status.success(), "{applied:?}");
    let (code, out, err) = slipway(&p, &["diff", "dev"]);
    assert!(
        format!("{out}{err}").contains("ServiceMonitor/web-api"),
        "{code}\n{out}\n{err}"
    );
    let (code, _, err) = slipway(&p, &["deploy", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        get(&p, &["secret", "web-password"], "{.data.password}"),
        password,
        "kept across releases"
    );
    assert_eq!(
        get(
            &p,
            &["servicemonitor", "web-api"],
            "{.spec.endpoints[0].port}"
        ),
        "http"
    );
    // The list `lookup` saw the release's ConfigMaps.
    let counted = get(
        &p,
        &["secret", "web-password"],
        "{.metadata.annotations.configmaps}",
    );
    assert!(counted.parse::<usize>().unwrap() >= 1, "{counted}");

    // `render` reads no cluster: `lookup` finds nothing, the API versions are built in.
    let (code, out, err) = slipway(&p, &["render", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("kind: ServiceMonitor"), "{out}");
    assert!(out.contains("name: web-password"), "{out}");
}

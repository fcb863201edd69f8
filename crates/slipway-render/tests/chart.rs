//! A Helm chart as an environment's manifests: rendered as one release, with the images
//! of the release written into the chart's values and pinned, its hooks mapped onto
//! slipway's hooks by install or upgrade, and its notes kept.

use std::fs;
use std::path::Path;

use slipway_render::ImagePin;
use slipway_render::release::{ChartRelease, Rendered, render_environment};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn project(images: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "slipway.yaml",
        &format!(
            "app: shop
registry: registry.example.com/shop
images:
  api: {{ files: {{ base: scratch }} }}
  worker: {{ files: {{ base: scratch }} }}
manifests:
  chart: chart
  release: web
  set: {{ worker.enabled: true }}
  images:
{images}environments:
  prod:
    context: prod
    namespace: shop
"
        ),
    );
    write(
        root,
        "chart/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    );
    write(
        root,
        "chart/values.yaml",
        "image: { repository: nginx, tag: \"1\", digest: \"\" }\nworker: { enabled: false, image: { repo: busybox, tag: \"1\" } }\n",
    );
    write(
        root,
        "chart/templates/api.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata: { name: {{ .Release.Name }}-api, labels: { rev: {{ .Release.Revision | quote }}, upgrade: {{ .Release.IsUpgrade | quote }}, kube: {{ .Capabilities.KubeVersion.Version | quote }} } }
spec:
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: \"{{ .Values.image.repository }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag }}{{ end }}\"
{{- if .Values.worker.enabled }}
        - name: worker
          image: \"{{ .Values.worker.image.repo }}:{{ .Values.worker.image.tag }}\"
{{- end }}
",
    );
    write(
        root,
        "chart/templates/hooks.yaml",
        "apiVersion: batch/v1
kind: Job
metadata:
  name: late
  annotations: { helm.sh/hook: \"pre-install,pre-upgrade\", helm.sh/hook-weight: \"5\" }
spec: { template: { spec: { restartPolicy: Never, containers: [{ name: m, image: api }] } } }
---
apiVersion: batch/v1
kind: Job
metadata:
  name: early
  annotations: { helm.sh/hook: pre-upgrade, helm.sh/hook-weight: \"-1\" }
spec: { template: { spec: { restartPolicy: Never, containers: [{ name: m, image: api }] } } }
---
apiVersion: batch/v1
kind: Job
metadata:
  name: smoke
  annotations: { helm.sh/hook: \"post-install,post-upgrade\" }
spec: { template: { spec: { restartPolicy: Never, containers: [{ name: m, image: api }] } } }
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: migrate-config
  annotations: { helm.sh/hook: pre-install }
data: { a: b }
---
apiVersion: v1
kind: Pod
metadata:
  name: test
  annotations: { helm.sh/hook: test }
spec: { containers: [{ name: t, image: api }] }
",
    );
    write(
        root,
        "chart/templates/NOTES.txt",
        "{{ .Release.Name }} r{{ .Release.Revision }}\n",
    );
    dir
}

fn pins() -> Vec<ImagePin> {
    ["api", "worker"]
        .iter()
        .map(|n| ImagePin {
            name: (*n).into(),
            repository: format!("registry.example.com/shop/{n}"),
            reference: format!("registry.example.com/shop/{n}:7@sha256:{}", "c".repeat(64)),
        })
        .collect()
}

fn render(root: &Path, pins: &[ImagePin], at: ChartRelease) -> Rendered {
    let config = slipway_config::load(&root.join("slipway.yaml")).unwrap();
    let env = config.environment("prod").unwrap().clone();
    render_environment(&config, &env, "shop", pins, &|_| None, &[7; 32], at)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn deployment(r: &Rendered) -> &serde_json::Value {
    &r.objects
        .iter()
        .find(|o| o.kind() == "Deployment")
        .unwrap()
        .value
}

#[test]
fn images_are_written_into_the_values_and_pinned() {
    let dir = project(
        "    api: image\n    worker: { repository: worker.image.repo, tag: worker.image.tag }\n",
    );
    let r = render(dir.path(), &pins(), ChartRelease::default());
    let d = deployment(&r);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let digest = "c".repeat(64);
    // The chart declares `image.digest`: the digest goes there, and the container runs
    // the pinned reference.
    assert_eq!(
        containers[0]["image"],
        format!("registry.example.com/shop/api:7@sha256:{digest}")
    );
    assert_eq!(
        containers[1]["image"],
        format!("registry.example.com/shop/worker:7@sha256:{digest}")
    );
    assert_eq!(r.pins.pinned.len(), 2 + 2, "{:?}", r.pins);
    assert!(r.pins.foreign.is_empty(), "{:?}", r.pins.foreign);
    assert_eq!(d["metadata"]["name"], "web-api");
    assert_eq!(d["metadata"]["namespace"], "shop");
    assert_eq!(d["metadata"]["labels"]["rev"], "1");
    assert_eq!(d["metadata"]["labels"]["upgrade"], "false");
    assert_eq!(
        d["metadata"]["labels"]["kube"], "v1.33.0",
        "the default version"
    );
    assert_eq!(r.notes.as_deref(), Some("web r1"));
}

#[test]
fn without_a_build_only_the_repository_is_written() {
    let dir = project("    api: image\n");
    let r = render(dir.path(), &[], ChartRelease::default());
    let d = deployment(&r);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop/api:1"
    );
}

#[test]
fn hooks_follow_install_or_upgrade_and_their_weights() {
    let dir = project("    api: image\n");
    let hooks = |r: &Rendered| -> Vec<(String, bool)> {
        r.hooks
            .iter()
            .map(|h| (h.name.clone(), h.pre_deploy))
            .collect()
    };
    let install = render(dir.path(), &pins(), ChartRelease::default());
    // In weight order; the deploy runs the pre-deploy ones before, the others after.
    assert_eq!(
        hooks(&install),
        [("smoke".to_string(), false), ("late".to_string(), true)]
    );
    assert_eq!(
        install.skipped_hooks,
        [
            "Job/early (pre-upgrade)",
            "Pod/test (test: `slipway test` runs it)"
        ]
    );
    // Test hooks are kept apart for `slipway test`, in the namespace, not applied.
    let tests: Vec<&str> = install.tests.iter().map(|t| t.job.name()).collect();
    assert_eq!(tests, ["test"]);
    assert_eq!(install.tests[0].job.value["metadata"]["namespace"], "shop");
    // A hook's objects of other kinds belong to the release.
    assert!(install.objects.iter().any(|o| o.name() == "migrate-config"));
    // The hook Jobs run the pinned image too.
    assert_eq!(
        install.hooks[0].job.value["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("registry.example.com/shop/api:7@sha256:{}", "c".repeat(64))
    );

    let upgrade = render(
        dir.path(),
        &pins(),
        ChartRelease {
            revision: 4,
            upgrade: true,
            kube_version: Some("v1.29.3".into()),
            ..ChartRelease::default()
        },
    );
    assert_eq!(
        hooks(&upgrade),
        [
            ("early".to_string(), true),
            ("smoke".to_string(), false),
            ("late".to_string(), true)
        ]
    );
    assert!(upgrade.objects.iter().any(|o| o.name() == "migrate-config"));
    let d = deployment(&upgrade);
    assert_eq!(d["metadata"]["labels"]["rev"], "4");
    assert_eq!(d["metadata"]["labels"]["upgrade"], "true");
    assert_eq!(
        d["metadata"]["labels"]["kube"], "v1.29.3",
        "the cluster's version"
    );
    assert_eq!(upgrade.notes.as_deref(), Some("web r4"));
}

/// A template that keeps a Secret's password when the cluster has it, counts the
/// namespace's ConfigMaps, and renders a ServiceMonitor only where the cluster serves it.
const CLUSTER_TEMPLATE: &str = r#"{{- $old := lookup "v1" "Secret" .Release.Namespace (printf "%s-password" .Release.Name) }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-password
  annotations:
    configmaps: {{ (lookup "v1" "ConfigMap" .Release.Namespace "").items | default list | len | quote }}
    apps: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
data:
  password: {{ if $old }}{{ index $old.data "password" }}{{ else }}{{ "generated" | b64enc }}{{ end }}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .Release.Name }}-api
spec:
  selector: { matchLabels: { app: api } }
  endpoints: [{ port: http }]
{{- end }}
"#;

fn find<'r>(r: &'r Rendered, kind: &str) -> Option<&'r serde_json::Value> {
    r.objects
        .iter()
        .find(|o| o.kind() == kind)
        .map(|o| &o.value)
}

#[test]
fn lookup_and_api_versions_come_from_the_cluster_when_given() {
    use std::sync::{Arc, Mutex};

    use slipway_render::chart::ClusterLookup;

    let dir = project("    api: image\n");
    write(dir.path(), "chart/templates/cluster.yaml", CLUSTER_TEMPLATE);

    // Without a cluster (`render`): `lookup` finds nothing, the built-in API versions.
    let r = render(dir.path(), &pins(), ChartRelease::default());
    let secret = find(&r, "Secret").unwrap();
    assert_eq!(secret["data"]["password"], "Z2VuZXJhdGVk");
    assert_eq!(secret["metadata"]["annotations"]["configmaps"], "0");
    assert_eq!(secret["metadata"]["annotations"]["apps"], "true");
    assert!(find(&r, "ServiceMonitor").is_none());

    // With one: each call asks it, when the template runs.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let lookup = ClusterLookup(Arc::new(move |api_version, kind, ns, name| {
        seen.lock()
            .unwrap()
            .push(format!("{api_version} {kind} {ns} {name}"));
        Ok(match (kind, name) {
            ("Secret", "web-password") => serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": "web-password", "namespace": ns },
                "data": { "password": "a2VwdA==" }
            }),
            ("ConfigMap", "") => serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMapList", "metadata": {},
                "items": [{ "metadata": { "name": "a" } }, { "metadata": { "name": "b" } }]
            }),
            _ => serde_json::json!({}),
        })
    }));
    let at = ChartRelease {
        revision: 2,
        upgrade: true,
        api_versions: Some(vec![
            "v1".into(),
            "v1/Secret".into(),
            "monitoring.coreos.com/v1".into(),
            "monitoring.coreos.com/v1/ServiceMonitor".into(),
        ]),
        lookup: Some(lookup),
        ..ChartRelease::default()
    };
    let r = render(dir.path(), &pins(), at);
    let secret = find(&r, "Secret").unwrap();
    assert_eq!(secret["data"]["password"], "a2VwdA==", "kept");
    assert_eq!(secret["metadata"]["annotations"]["configmaps"], "2");
    // The cluster's list replaces the built-in one: this cluster serves no apps/v1.
    assert_eq!(secret["metadata"]["annotations"]["apps"], "false");
    let monitor = find(&r, "ServiceMonitor").expect("the cluster serves ServiceMonitor");
    assert_eq!(monitor["metadata"]["name"], "web-api");
    assert_eq!(
        *calls.lock().unwrap(),
        ["v1 Secret shop web-password", "v1 ConfigMap shop "]
    );

    // A cluster that refuses: the render fails, naming the template.
    let refusing = ChartRelease {
        lookup: Some(ClusterLookup(Arc::new(|_, _, _, _| {
            Err("secrets is forbidden: User \"ci\" cannot get resource \"secrets\"".into())
        }))),
        ..ChartRelease::default()
    };
    let config = slipway_config::load(&dir.path().join("slipway.yaml")).unwrap();
    let env = config.environment("prod").unwrap().clone();
    let err = render_environment(
        &config,
        &env,
        "shop",
        &pins(),
        &|_| None,
        &[7; 32],
        refusing,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("web/templates/cluster.yaml"), "{err}");
    assert!(err.contains("lookup"), "{err}");
    assert!(err.contains("secrets is forbidden"), "{err}");
}

//! The oracle corpus: every case is a small kustomization tree, built both by the native
//! renderer and by the real `kubectl kustomize`, and the two must give the same objects
//! in the same order. kubectl's output is never stored; it is produced on every run.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use slipway_render::{RenderError, kustomize, parse_objects, to_yaml};

/// Write `files` (path, content) under a fresh temporary directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn kubectl(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    parse_objects(&text, Path::new("kubectl-output"))
        .unwrap()
        .into_iter()
        .map(|o| o.value)
        .collect()
}

fn describe(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| {
            format!(
                "{}/{}",
                v["kind"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Build `root` (relative to the tree) both ways and assert the results are equal. Also
/// checks that the native YAML output parses back to the same objects.
fn assert_same(files: &[(&str, &str)], root: &str) -> Vec<Value> {
    let t = tree(files);
    let dir = t.path().join(root);
    let expected = kubectl(&dir);
    let native = kustomize(&dir).unwrap_or_else(|e| panic!("native build failed: {e}"));
    let values: Vec<Value> = native.iter().map(|o| o.value.clone()).collect();
    assert_eq!(
        describe(&values),
        describe(&expected),
        "object order differs"
    );
    for (n, k) in values.iter().zip(&expected) {
        assert_eq!(n, k, "object differs:\nnative:  {n}\nkubectl: {k}");
    }
    let reparsed: Vec<Value> = parse_objects(&to_yaml(&native), Path::new("native-output"))
        .unwrap()
        .into_iter()
        .map(|o| o.value)
        .collect();
    assert_eq!(reparsed, values, "native YAML does not parse back");
    expected
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      serviceAccountName: runner
      initContainers:
      - name: init
        image: busybox:1.36
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - name: MODE
          valueFrom:
            configMapKeyRef:
              name: settings
              key: mode
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              name: creds
              key: password
        envFrom:
        - configMapRef:
            name: settings
        volumeMounts:
        - name: config
          mountPath: /etc/config
      volumes:
      - name: config
        configMap:
          name: settings
      - name: data
        persistentVolumeClaim:
          claimName: data
      - name: proj
        projected:
          sources:
          - configMap:
              name: settings
          - secret:
              name: creds
      imagePullSecrets:
      - name: pull
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
"#;

const SUPPORT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"#;

fn base_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("base/deployment.yaml", DEPLOYMENT),
        ("base/service.yaml", SERVICE),
        ("base/support.yaml", SUPPORT),
        (
            "base/kustomization.yaml",
            "resources:\n- deployment.yaml\n- service.yaml\n- support.yaml\n",
        ),
    ]
}

fn with_overlay(
    kustomization: &'static str,
    extra: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut files = base_files();
    files.push(("overlay/kustomization.yaml", kustomization));
    files.extend_from_slice(extra);
    files
}

#[test]
fn plain_resources_come_out_in_legacy_kind_order() {
    let out = assert_same(
        &[
            ("kustomization.yaml", "resources:\n- all.yaml\n"),
            (
                "all.yaml",
                "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: hook\nwebhooks: []\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: z\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            ),
        ],
        ".",
    );
    assert_eq!(out[0]["kind"], "Namespace");
}

#[test]
fn a_base_directory_is_built_before_the_overlay_applies() {
    assert_same(&with_overlay("resources:\n- ../base\n", &[]), "overlay");
}

#[test]
fn namespace_applies_to_namespaced_objects_and_default_subjects() {
    assert_same(
        &[
            (
                "kustomization.yaml",
                "namespace: shop\nresources:\n- rbac.yaml\n",
            ),
            (
                "rbac.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: old\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: reader\nsubjects:\n- kind: ServiceAccount\n  name: default\n- kind: ServiceAccount\n  name: other\n  namespace: elsewhere\n- kind: User\n  name: alice\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: before\n",
            ),
        ],
        ".",
    );
}

#[test]
fn name_prefix_updates_config_map_references_in_env_from() {
    let out = assert_same(
        &with_overlay(
            "resources:\n- ../base\nnamePrefix: shop-\nnameSuffix: -v2\n",
            &[],
        ),
        "overlay",
    );
    let d = out.iter().find(|v| v["kind"] == "Deployment").unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
        "shop-settings-v2"
    );
}

#[test]
fn name_prefix_updates_service_account_claim_secret_and_role_references() {
    assert_same(
        &with_overlay(
            "resources:\n- ../base\n- rbac.yaml\nnamePrefix: p-\nnamespace: team\n",
            &[(
                "overlay/rbac.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: edit\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: edit\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: edit\nsubjects:\n- kind: ServiceAccount\n  name: runner\n",
            )],
        ),
        "overlay",
    );
}

#[test]
fn name_prefix_updates_ingress_backends_and_tls_secrets() {
    assert_same(
        &[
            (
                "kustomization.yaml",
                "namePrefix: x-\nresources:\n- svc.yaml\n- ing.yaml\nsecretGenerator:\n- name: tls\n  literals: [crt=abc]\n",
            ),
            ("svc.yaml", SERVICE),
            (
                "ing.yaml",
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  defaultBackend:\n    service:\n      name: web\n      port:\n        number: 80\n  tls:\n  - secretName: tls\n  rules:\n  - host: a.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            port:\n              number: 80\n      - path: /other\n        pathType: Prefix\n        backend:\n          service:\n            name: external\n            port:\n              number: 80\n",
            ),
        ],
        ".",
    );
}

const WORKLOADS: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: web
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: postgres:16
  volumeClaimTemplates:
  - metadata:
      name: pgdata
    spec:
      accessModes: [ReadWriteOnce]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: m
        image: shop/api
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: n
            image: shop/api:old
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: web
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
  - from:
    - podSelector:
        matchLabels:
          role: client
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: a
        image: agent:1
"#;

fn workload_files(kustomization: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("kustomization.yaml", kustomization),
        ("d.yaml", DEPLOYMENT),
        ("s.yaml", SERVICE),
        ("w.yaml", WORKLOADS),
    ]
}

#[test]
fn common_labels_reach_selectors_and_pod_templates() {
    let out = assert_same(
        &workload_files("resources: [d.yaml, s.yaml, w.yaml]\ncommonLabels:\n  team: shop\n"),
        ".",
    );
    let svc = out.iter().find(|v| v["kind"] == "Service").unwrap();
    assert_eq!(svc["spec"]["selector"]["team"], "shop");
}

#[test]
fn labels_without_selectors_only_touch_metadata() {
    assert_same(
        &workload_files("resources: [d.yaml, s.yaml, w.yaml]\nlabels:\n- pairs:\n    team: shop\n"),
        ".",
    );
}

#[test]
fn labels_with_include_templates_reach_pod_templates_but_not_selectors() {
    assert_same(
        &workload_files(
            "resources: [d.yaml, s.yaml, w.yaml]\nlabels:\n- pairs:\n    team: shop\n  includeTemplates: true\n",
        ),
        ".",
    );
}

#[test]
fn labels_with_include_selectors_behave_like_common_labels() {
    assert_same(
        &workload_files(
            "resources: [d.yaml, s.yaml, w.yaml]\nlabels:\n- pairs:\n    team: shop\n  includeSelectors: true\n- pairs:\n    tier: web\n",
        ),
        ".",
    );
}

#[test]
fn common_annotations_reach_pod_templates() {
    assert_same(
        &workload_files(
            "resources: [d.yaml, s.yaml, w.yaml]\ncommonAnnotations:\n  owner: \"team shop\"\n  note: \"1\"\n",
        ),
        ".",
    );
}

#[test]
fn images_change_name_tag_and_digest_in_containers_and_init_containers() {
    assert_same(
        &workload_files(
            "resources: [d.yaml, s.yaml, w.yaml]\nimages:\n- name: nginx\n  newTag: \"1.27\"\n- name: busybox\n  newName: registry.example.com/busybox\n- name: shop/api\n  newName: registry.example.com/shop/api\n  digest: sha256:0000000000000000000000000000000000000000000000000000000000000001\n- name: postgres\n  newName: pg\n  newTag: \"17\"\n",
        ),
        ".",
    );
}

#[test]
fn replicas_override_the_count_of_named_workloads() {
    assert_same(
        &workload_files(
            "resources: [d.yaml, s.yaml, w.yaml]\nreplicas:\n- name: web\n  count: 3\n- name: db\n  count: 2\n",
        ),
        ".",
    );
}

#[test]
fn config_map_generator_reads_literals_files_and_env_files() {
    assert_same(
        &[
            (
                "kustomization.yaml",
                "configMapGenerator:\n- name: app\n  literals:\n  - MODE=fast\n  - QUOTED=\"a b\"\n  - EMPTY=\n  files:\n  - app.properties\n  - renamed.txt=raw.txt\n  envs:\n  - vars.env\n  options:\n    labels:\n      kind: config\n    annotations:\n      note: generated\n",
            ),
            ("app.properties", "a=1\nb=<&>\n"),
            ("raw.txt", "line one\nline two\n"),
            (
                "vars.env",
                "# comment\nHOST=db\n\nPORT=5432\nURL=http://x?a=b\n",
            ),
        ],
        ".",
    );
}

#[test]
fn secret_generator_encodes_data_and_keeps_its_type() {
    assert_same(
        &[
            (
                "kustomization.yaml",
                "secretGenerator:\n- name: db\n  literals: [user=admin, password=s3cr3t]\n- name: tls\n  type: kubernetes.io/tls\n  files:\n  - tls.crt\n  - tls.key\n",
            ),
            ("tls.crt", "CERT\n"),
            ("tls.key", "KEY\n"),
        ],
        ".",
    );
}

#[test]
fn generator_options_disable_the_hash_and_add_labels() {
    assert_same(
        &[(
            "kustomization.yaml",
            "generatorOptions:\n  disableNameSuffixHash: true\n  labels:\n    gen: \"yes\"\n  annotations:\n    a: b\nconfigMapGenerator:\n- name: one\n  literals: [k=v]\n  options:\n    labels:\n      gen: local\n      own: x\nsecretGenerator:\n- name: two\n  literals: [k=v]\n",
        )],
        ".",
    );
}

#[test]
fn generator_merge_behavior_extends_the_base_config_map() {
    assert_same(
        &[
            (
                "base/kustomization.yaml",
                "resources: [d.yaml]\nconfigMapGenerator:\n- name: settings\n  literals: [mode=slow, level=1]\n  options:\n    labels:\n      from: base\n",
            ),
            ("base/d.yaml", DEPLOYMENT),
            (
                "overlay/kustomization.yaml",
                "resources: [../base]\nnamePrefix: prod-\nconfigMapGenerator:\n- name: settings\n  behavior: merge\n  literals: [mode=fast, extra=yes]\n  options:\n    labels:\n      from: overlay\n",
            ),
        ],
        "overlay",
    );
}

#[test]
fn generator_replace_behavior_swaps_the_base_secret() {
    assert_same(
        &[
            (
                "base/kustomization.yaml",
                "resources: [d.yaml]\nnamespace: shop\nsecretGenerator:\n- name: creds\n  literals: [password=old, user=u]\n",
            ),
            ("base/d.yaml", DEPLOYMENT),
            (
                "overlay/kustomization.yaml",
                "resources: [../base]\nsecretGenerator:\n- name: creds\n  namespace: shop\n  behavior: replace\n  literals: [password=new]\n",
            ),
        ],
        "overlay",
    );
}

#[test]
fn patches_strategic_merge_from_a_file_merges_containers_by_name() {
    assert_same(
        &with_overlay(
            "resources: [../base]\nnamespace: prod\npatchesStrategicMerge:\n- patch.yaml\n",
            &[(
                "overlay/patch.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n  template:\n    spec:\n      containers:\n      - name: web\n        resources:\n          limits:\n            memory: 256Mi\n        env:\n        - name: EXTRA\n          value: \"1\"\n        - name: MODE\n          value: override\n      - name: sidecar\n        image: envoy:1\n      imagePullSecrets: null\n",
            )],
        ),
        "overlay",
    );
}

#[test]
fn inline_strategic_merge_patches_can_delete_list_elements_and_fields() {
    assert_same(
        &with_overlay(
            "resources: [../base]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      template:\n        spec:\n          volumes:\n          - name: data\n            $patch: delete\n          initContainers: null\n          containers:\n          - name: web\n            ports:\n            - containerPort: 8080\n              name: alt\n",
            &[],
        ),
        "overlay",
    );
}

#[test]
fn patch_targets_select_by_kind_name_pattern_and_labels() {
    assert_same(
        &workload_files(
            "resources: [d.yaml, s.yaml, w.yaml]\npatches:\n- target:\n    kind: (Deployment|StatefulSet|DaemonSet)\n    name: \".*\"\n  patch: |-\n    apiVersion: apps/v1\n    kind: Whatever\n    metadata:\n      name: ignored\n      annotations:\n        patched: \"true\"\n- target:\n    labelSelector: app=web\n  patch: |-\n    - op: add\n      path: /metadata/labels/selected\n    \n      value: by-label\n- target:\n    group: batch\n    annotationSelector: \"!nothing\"\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value: {batch: \"yes\"}\n",
        ),
        ".",
    );
}

#[test]
fn json6902_patches_in_patches_apply_operations_in_order() {
    assert_same(
        &with_overlay(
            "resources: [../base]\npatches:\n- target:\n    group: apps\n    version: v1\n    kind: Deployment\n    name: web\n  patch: |-\n    [{\"op\": \"replace\", \"path\": \"/spec/replicas\", \"value\": 5},\n     {\"op\": \"add\", \"path\": \"/spec/template/spec/containers/0/args\", \"value\": [\"--fast\"]},\n     {\"op\": \"remove\", \"path\": \"/spec/template/spec/initContainers\"},\n     {\"op\": \"copy\", \"from\": \"/metadata/labels\", \"path\": \"/metadata/annotations\"},\n     {\"op\": \"move\", \"from\": \"/spec/template/spec/imagePullSecrets\", \"path\": \"/spec/template/spec/extraSecrets\"}]\n",
            &[],
        ),
        "overlay",
    );
}

#[test]
fn patches_json6902_reads_operations_from_a_yaml_file() {
    assert_same(
        &with_overlay(
            "resources: [../base]\npatchesJson6902:\n- target:\n    version: v1\n    kind: Service\n    name: web\n  path: svc-patch.yaml\n",
            &[(
                "overlay/svc-patch.yaml",
                "- op: add\n  path: /spec/ports/-\n  value:\n    name: metrics\n    port: 9090\n- op: replace\n  path: /spec/type\n  value: NodePort\n- op: test\n  path: /spec/ports/0/port\n  value: 80\n",
            )],
        ),
        "overlay",
    );
}

#[test]
fn a_delete_patch_removes_the_object() {
    let out = assert_same(
        &with_overlay(
            "resources: [../base]\npatchesStrategicMerge:\n- |-\n  apiVersion: v1\n  kind: Service\n  metadata:\n    name: web\n  $patch: delete\n",
            &[],
        ),
        "overlay",
    );
    assert!(out.iter().all(|v| v["kind"] != "Service"));
}

#[test]
fn components_add_resources_generators_and_patches_to_the_parent() {
    assert_same(
        &[
            ("base/kustomization.yaml", "resources: [d.yaml]\n"),
            ("base/d.yaml", DEPLOYMENT),
            (
                "components/metrics/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [sm.yaml]\nconfigMapGenerator:\n- name: metrics\n  literals: [port=9090]\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: add\n      path: /spec/template/metadata/annotations\n      value: {scrape: \"true\"}\n",
            ),
            (
                "components/metrics/sm.yaml",
                "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: web\nspec:\n  endpoints:\n  - port: metrics\n",
            ),
            (
                "overlay/kustomization.yaml",
                "resources: [../base]\ncomponents: [../components/metrics]\nnamePrefix: c-\n",
            ),
        ],
        "overlay",
    );
}

#[test]
fn prefixes_of_base_and_overlay_stack_and_references_follow_generated_names() {
    assert_same(
        &[
            (
                "base/kustomization.yaml",
                "resources: [d.yaml, support.yaml]\nnamePrefix: base-\nconfigMapGenerator:\n- name: generated\n  literals: [a=b]\n",
            ),
            (
                "base/d.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        envFrom:\n        - configMapRef:\n            name: generated\n        - configMapRef:\n            name: settings\n        - secretRef:\n            name: not-in-build\n",
            ),
            ("base/support.yaml", SUPPORT),
            (
                "overlay/kustomization.yaml",
                "resources: [../base]\nnamePrefix: top-\nnameSuffix: -s\nnamespace: prod\n",
            ),
        ],
        "overlay",
    );
}

#[test]
fn two_overlays_of_one_base_under_a_parent_keep_their_own_references() {
    assert_same(
        &[
            (
                "base/kustomization.yaml",
                "resources: [d.yaml, support.yaml]\n",
            ),
            ("base/d.yaml", DEPLOYMENT),
            ("base/support.yaml", SUPPORT),
            (
                "blue/kustomization.yaml",
                "resources: [../base]\nnameSuffix: -blue\n",
            ),
            (
                "green/kustomization.yaml",
                "resources: [../base]\nnameSuffix: -green\n",
            ),
            ("all/kustomization.yaml", "resources: [../blue, ../green]\n"),
        ],
        "all",
    );
}

#[test]
fn fifo_sort_option_keeps_input_order_and_lists_are_expanded() {
    let out = assert_same(
        &[
            (
                "kustomization.yaml",
                "sortOptions:\n  order: fifo\nresources: [list.yaml, more.yaml]\n",
            ),
            (
                "list.yaml",
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: s\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n",
            ),
            (
                "more.yaml",
                "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n---\n---\n",
            ),
        ],
        ".",
    );
    assert_eq!(out[0]["kind"], "Service");
}

#[test]
fn tricky_scalars_survive_the_round_trip() {
    assert_same(
        &[
            ("kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tricky\n  annotations:\n    a: \"true\"\n    b: \"0x10\"\n    c: \"a: b\"\n    d: \" lead\"\n    e: \"*star\"\n    f: \"\"\n    g: \"~\"\ndata:\n  script: |\n    #!/bin/sh\n    echo \"hi\" # comment\n  yes: \"no\"\n  num: \"1.50\"\n",
            ),
        ],
        ".",
    );
}

fn native_error(files: &[(&str, &str)]) -> RenderError {
    let t = tree(files);
    kustomize(t.path()).expect_err("the build must fail")
}

#[test]
fn unsupported_fields_are_refused_with_the_field_name_and_the_kubectl_hint() {
    for field in ["helmCharts", "helmGlobals", "validators"] {
        let k = format!("resources: []\n{field}: []\n");
        let err = native_error(&[("kustomization.yaml", &k)]);
        match &err {
            RenderError::Unsupported { field: f, line, .. } => {
                assert_eq!(f, field);
                assert_eq!(*line, 2);
            }
            other => panic!("expected unsupported, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(&format!("`{field}`")), "{message}");
        assert!(message.contains("kustomize: kubectl"), "{message}");
    }
}

#[test]
fn unknown_fields_and_patch_options_are_refused_with_their_path() {
    let err = native_error(&[(
        "kustomization.yaml",
        "resources: []\npatches:\n- patch: 'x: 1'\n  options:\n    allowEverything: true\n",
    )]);
    assert!(
        matches!(&err, RenderError::Invalid { field, line: 5, .. } if field == "patches[0].options.allowEverything"),
        "{err:?}"
    );
    let err = native_error(&[("kustomization.yaml", "resourcez: []\n")]);
    assert!(
        matches!(&err, RenderError::Invalid { field, line: 1, .. } if field == "resourcez"),
        "{err:?}"
    );
}

#[test]
fn kustomizations_that_include_each_other_are_reported_as_a_cycle() {
    let err = native_error(&[
        ("kustomization.yaml", "resources: [a]\n"),
        ("a/kustomization.yaml", "resources: [../b]\n"),
        ("b/kustomization.yaml", "resources: [../a]\n"),
    ]);
    match err {
        RenderError::Cycle { chain } => {
            assert_eq!(chain.len(), 3);
            assert_eq!(chain.first(), chain.last());
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
}

#[test]
fn yaml_errors_in_resources_name_file_line_and_column() {
    let err = native_error(&[
        ("kustomization.yaml", "resources: [bad.yaml]\n"),
        ("bad.yaml", "kind: ConfigMap\nmetadata: [\n"),
    ]);
    match err {
        RenderError::Yaml { file, line, .. } => {
            assert!(file.ends_with("bad.yaml"));
            assert!(line >= 2);
        }
        other => panic!("expected a YAML error, got {other:?}"),
    }
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let t = tree(&with_overlay(
        "resources: [../base]\nnamePrefix: p-\ncommonLabels: {a: b}\nconfigMapGenerator:\n- name: g\n  literals: [x=1, y=2]\n",
        &[],
    ));
    let dir = t.path().join("overlay");
    let first = to_yaml(&kustomize(&dir).unwrap());
    let second = to_yaml(&kustomize(&dir).unwrap());
    assert_eq!(first, second);
    assert!(first.contains("name: p-g-"));
}

#[test]
fn native_yaml_is_byte_identical_to_kubectl_for_a_typical_overlay() {
    let t = tree(&with_overlay(
        "resources: [../base]\nnamePrefix: p-\nnamespace: prod\nimages:\n- name: nginx\n  newTag: \"1.27\"\n",
        &[],
    ));
    let dir = t.path().join("overlay");
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        to_yaml(&kustomize(&dir).unwrap()),
        String::from_utf8(out.stdout).unwrap()
    );
}

//! Findings name the line and column of their field in the file it is written in, as
//! rendered from real files by `slipway-render`; a field set by a patch falls back to
//! the line of its object's document, and says so.

use std::fs;
use std::path::{Path, PathBuf};

use slipway_check::{CheckOptions, Manifest, RULES, Report, check};
use slipway_render::{Document, Object};

/// A directory of manifests written for one test.
struct Dir {
    _temp: tempfile::TempDir,
    /// The canonical path, as the renderer names files.
    root: PathBuf,
}

fn dir(files: &[(&str, &str)]) -> Dir {
    let temp = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(temp.path()).unwrap();
    for (name, text) in files {
        fs::write(root.join(name), text).unwrap();
    }
    Dir { _temp: temp, root }
}

/// The manifests the binary hands to the checker: value, file, line and document.
fn manifests(objects: &[Object]) -> Vec<Manifest> {
    objects
        .iter()
        .map(|o| Manifest {
            object: o.value.clone(),
            file: o.source.file.clone(),
            line: o.source.line,
            document: o.source.document.as_ref().map(Document::shared),
        })
        .collect()
}

fn kustomize(d: &Dir, options: &CheckOptions) -> Report {
    let objects = slipway_render::kustomize(&d.root).unwrap();
    check(&manifests(&objects), options)
}

/// Every finding of the given rules as printed, with paths relative to the directory.
fn shown(d: &Dir, report: &Report, rules: &[&str]) -> Vec<String> {
    let prefix = format!("{}/", d.root.display());
    report
        .findings
        .iter()
        .filter(|f| rules.contains(&f.rule))
        .map(|f| f.to_string().replace(&prefix, ""))
        .collect()
}

const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn worker() -> String {
    format!(
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: \"2\"
  selector:
    matchLabels:
      app: worker
  template:
    metadata:
      labels:
        app: worker
    spec:
      containers:
        - name: worker
          image: registry.example.com/worker:1@{DIGEST}
"
    )
}

const API: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: api
          image: registry.example.com/api:1.4
          imagePullPolcy: Always
          securityContext:
            privileged: true
          resources:
            requests: { cpu: 100m, memory: 64Mi }
            limits: { memory: 128Mi }
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet: { path: /, port: http }
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector:
    app: apii
  ports:
    - port: 80
";

/// A strategic-merge patch that adds a container to `api`.
const SIDECAR: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: sidecar
          image: busybox:latest
";

const KUSTOMIZATION: &str = "\
resources:
  - worker.yaml
  - api.yaml
patches:
  - path: sidecar.yaml
";

fn app() -> Dir {
    dir(&[
        ("kustomization.yaml", KUSTOMIZATION),
        ("worker.yaml", &worker()),
        ("api.yaml", API),
        ("sidecar.yaml", SIDECAR),
    ])
}

#[test]
fn schema_findings_name_the_line_and_column_of_the_field() {
    let d = app();
    let report = kustomize(&d, &CheckOptions::default());
    assert_eq!(
        shown(&d, &report, &["schema"]),
        vec![
            // The unknown key, at the key. The patch put its container first: the
            // written one is found by its name wherever it moved.
            "api.yaml:19:11: error[schema]: Deployment/api \
             `spec.template.spec.containers[1].imagePullPolcy`: unknown field `imagePullPolcy`",
            // The wrong type, at the value.
            "worker.yaml:6:13: error[schema]: Deployment/worker `spec.replicas`: \
             invalid type: string \"2\", expected i32",
        ]
    );
}

#[test]
fn policy_findings_name_the_line_and_column_of_the_field() {
    let d = app();
    let report = kustomize(&d, &CheckOptions::default());
    assert_eq!(
        shown(&d, &report, &["privileged", "service-selector"]),
        vec![
            "api.yaml:21:25: error[privileged]: Deployment/api \
             `spec.template.spec.containers[api].securityContext.privileged`: \
             container `api` runs privileged: it has full access to the node",
            "api.yaml:36:3: error[service-selector]: Service/api `spec.selector`: \
             selector `app=apii` matches no rendered pod template: the Service would have no endpoints",
        ]
    );
}

#[test]
fn a_field_set_by_a_patch_falls_back_to_the_document_line_and_says_so() {
    let d = app();
    let report = kustomize(&d, &CheckOptions::default());
    assert_eq!(
        shown(&d, &report, &["image-pinned"]),
        vec![
            // The sidecar comes from the patch: its object's document starts at line 1.
            "api.yaml:1: error[image-pinned]: Deployment/api \
             `spec.template.spec.containers[sidecar].image`: image `busybox:latest` uses the \
             `latest` tag and no digest (set by a patch or transformer: not as written in this file)",
            // The written container keeps its own line.
            "api.yaml:18:18: error[image-pinned]: Deployment/api \
             `spec.template.spec.containers[api].image`: image `registry.example.com/api:1.4` \
             is pinned by tag `1.4` only; a tag can be moved",
        ]
    );
    // An absent field of the patched container has no written parent either.
    let probe: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "readiness-probe")
        .map(|f| (f.field.as_str(), f.line, f.column, f.note.is_some()))
        .collect();
    assert_eq!(
        probe,
        [(
            "spec.template.spec.containers[sidecar].readinessProbe",
            1,
            None,
            true
        )]
    );
}

const WIDGET_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: { kind: Widget, plural: widgets, singular: widget, listKind: WidgetList }
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
              required: [size]
              properties:
                size: { type: integer }
                color: { type: string, enum: [red, blue] }
                extra: { type: object, x-kubernetes-preserve-unknown-fields: true }
";

const WIDGETS: &str = "\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: good
spec:
  size: 2
  color: red
  extra: { anything: [1, 2] }
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: bad
spec:
  size: \"3\"
  colour: red
  color: green
---
apiVersion: example.com/v2
kind: Widget
metadata:
  name: future
spec:
  size: 1
";

#[test]
fn custom_resources_are_checked_against_a_crd_of_the_same_release() {
    let d = dir(&[
        (
            "kustomization.yaml",
            "resources: [crd.yaml, widgets.yaml]\n",
        ),
        ("crd.yaml", WIDGET_CRD),
        ("widgets.yaml", WIDGETS),
    ]);
    let report = kustomize(&d, &CheckOptions::default());
    assert_eq!(
        shown(&d, &report, &["schema"]),
        vec![
            "widgets.yaml:15:9: error[schema]: Widget/bad `spec.size`: \
             expected `integer`, found string `\"3\"`",
            "widgets.yaml:16:3: error[schema]: Widget/bad `spec.colour`: unknown field `colour`",
            "widgets.yaml:17:10: error[schema]: Widget/bad `spec.color`: \
             `\"green\"` is not one of `\"red\"`, `\"blue\"`",
            "widgets.yaml:19:13: error[schema]: Widget/future `apiVersion`: \
             `Widget` is not served as `example.com/v2`; its CRD serves `example.com/v1`",
        ]
    );
    assert!(
        report.findings.iter().all(|f| f.object.name != "good"),
        "{:#?}",
        report.findings
    );
    assert!(report.unchecked.is_empty(), "{:#?}", report.unchecked);
}

/// One object per way to get something wrong, in a directory of plain manifests (so that
/// every field is as written).
const BAD: &[(&str, &str)] = &[
    (
        "app.yaml",
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 3
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: other
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
        - name: app
          image: app:latest
          imagePullPolcy: Always
          securityContext:
            privileged: true
            runAsUser: 0
          env:
            - name: DB_PASSWORD
              value: hunter2
          envFrom:
            - configMapRef:
                name: nowhere
          livenessProbe:
            tcpSocket:
              port: 9999
          startupProbe:
            httpGet:
              port: admin
",
    ),
    (
        "service.yaml",
        "\
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector:
    app: nothing
  ports:
    - port: 80
",
    ),
    (
        "settings-a.yaml",
        "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
",
    ),
    (
        "settings-b.yaml",
        "\
# the same ConfigMap again
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: safe
",
    ),
    (
        "schema.yaml",
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typed
spec:
  replicas: three
  selector: { matchLabels: { app: typed } }
  template:
    metadata: { labels: { app: typed } }
    spec:
      containers: [{ name: typed, image: typed }]
---
apiVersion: v1
kind: Pod
metadata:
  name: nameless-container
spec:
  containers:
    - image: busybox
---
apiVersion: v1
kind: ConfigMap
metadata:
  labels: { a: b }
---
kind: ConfigMap
metadata:
  name: no-version
---
apiVersion: apps/v1
kind: Deploymnet
metadata:
  name: typo
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: retired
",
    ),
    ("crd.yaml", WIDGET_CRD),
    ("widgets.yaml", WIDGETS),
    (
        "gadget.yaml",
        "\
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: unknown-crd
",
    ),
];

#[test]
fn every_kind_of_finding_names_its_file_and_line() {
    let d = dir(BAD);
    let objects = slipway_render::read_directory(&d.root).unwrap();
    let options = CheckOptions {
        production: true,
        ..CheckOptions::default()
    };
    let report = check(&manifests(&objects), &options);

    // Every rule fires on this example.
    let mut fired: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    fired.sort_unstable();
    fired.dedup();
    let mut all: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    all.sort_unstable();
    assert_eq!(fired, all);
    // And every kind of schema problem.
    let schema: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.rule == "schema")
        .map(|f| f.message.as_str())
        .collect();
    for kind in [
        "unknown field",
        "invalid type",
        "missing required field `name`",
        "missing required field `metadata.name`",
        "missing required field `apiVersion`",
        "unknown kind `Deploymnet`",
        "`Ingress` is not served as `extensions/v1beta1`",
        "expected `integer`",
        "is not one of",
        "`Widget` is not served as `example.com/v2`",
    ] {
        assert!(
            schema.iter().any(|m| m.contains(kind)),
            "no schema finding with {kind:?} in {schema:#?}"
        );
    }

    // Each one names a file of the example, a line in it and the column of a character
    // that is not blank: nothing here was patched, so every field is as written.
    let prefix = format!("{}/", d.root.display());
    for f in &report.findings {
        let text = f.to_string();
        let relative = text
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{text}"));
        let (file, rest) = relative.split_once(':').unwrap();
        let (line, rest) = rest.split_once(':').unwrap();
        let (column, _) = rest.split_once(':').unwrap();
        let source = fs::read_to_string(d.root.join(file)).unwrap();
        let line: usize = line.parse().unwrap_or_else(|_| panic!("{text}"));
        let column: usize = column.parse().unwrap_or_else(|_| panic!("{text}"));
        let written = source
            .lines()
            .nth(line - 1)
            .unwrap_or_else(|| panic!("{text}"));
        let at = written.chars().nth(column - 1);
        assert!(at.is_some_and(|c| !c.is_whitespace()), "{text}");
        assert_eq!(f.note, None, "{text}");
    }
    // A field that is absent is placed at the closest field that is written: the
    // container without a probe or resources.
    let absent: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.object.name == "app" && matches!(f.rule, "readiness-probe" | "resources"))
        .map(|f| (f.rule, f.line, f.column))
        .collect();
    assert_eq!(
        absent,
        [
            ("readiness-probe", 18, Some(11)),
            ("resources", 18, Some(11))
        ]
    );
    // Objects left unchecked name theirs too.
    assert_eq!(report.unchecked.len(), 1, "{:#?}", report.unchecked);
    let u = &report.unchecked[0];
    assert_eq!(
        (u.file.as_path(), u.line),
        (d.root.join("gadget.yaml").as_path(), 1)
    );
    assert!(Path::new(&u.file).is_file());
}

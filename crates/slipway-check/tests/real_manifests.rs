//! Real-world manifests judge the validator: every object that real `kubectl kustomize`
//! and real Helm printed for the two corpora next to the repository
//! (`../shared/kustomize-real` and `../shared/helm-corpus`, written by other projects) is
//! checked, one [`check`] call per case, so that the CRDs of a case describe its custom
//! resources. These are manifests other projects publish for use: a `schema` finding on
//! them is a false positive of the validator (which stops a deploy of good manifests)
//! unless the manifest really is broken, and such manifests are listed in [`ALLOWED`]
//! with the reason.
//!
//! The test says it skipped when the corpora are absent. Set `SLIPWAY_REAL_VERBOSE=1` to
//! print every finding of the judged rules, allowed or not.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use slipway_check::{CheckOptions, Finding, Manifest, check};
use slipway_render::parse_objects;

/// Rules that must not fire on manifests their projects released: `schema` and
/// `workload-selector` (the API server would refuse the object), `duplicate-object`
/// (one of the two would be lost) and `probe-port` (a probe on a port name that never
/// resolves). The other error-level rules are policy (pinned images, privileges,
/// references to objects made elsewhere) and may well fire on someone else's manifests.
const JUDGED_RULES: &[&str] = &[
    "schema",
    "workload-selector",
    "duplicate-object",
    "probe-port",
];

/// Findings that are right: the corpus holds objects the API server refuses.
struct Allowed {
    /// The cases, as the test names them (`kustomize-real/<dir>`, `helm-corpus/<name>`).
    cases: &'static [&'static str],
    /// `Kind/name` of the object (`/` for a document with neither).
    object: &'static str,
    /// The field paths of the findings.
    fields: &'static [&'static str],
}

/// Every entry is a manifest that a real cluster refuses; the comment says why. The test
/// fails when a listed finding no longer occurs, so the list only shrinks.
const ALLOWED: &[Allowed] = &[
    // kustomize's breakfast.md patches plain YAML that is no Kubernetes object: the
    // documents have no `apiVersion`, which every object needs.
    Allowed {
        cases: &["kustomize-real/ex-breakfast-alice"],
        object: "Coffee/morningCup",
        fields: &["apiVersion"],
    },
    Allowed {
        cases: &["kustomize-real/ex-breakfast-alice"],
        object: "Pancakes/comfort",
        fields: &["apiVersion"],
    },
    // kustomize's examples (components.md, inlinePatch.md, patchMultipleObjects.md) write
    // `apps/v1` Deployments without `spec.selector`, which apps/v1 requires: the API server
    // answers `spec.selector: Required value`. `schema` reports the missing field and
    // `workload-selector` the empty selector.
    Allowed {
        cases: &[
            "kustomize-real/ex-components-community",
            "kustomize-real/ex-components-dev",
            "kustomize-real/ex-components-variants-community",
        ],
        object: "Deployment/example",
        fields: &["spec", "spec.selector"],
    },
    Allowed {
        cases: &[
            "kustomize-real/ex-inlinePatch-json",
            "kustomize-real/ex-inlinePatch-patch",
            "kustomize-real/ex-inlinePatch-smp",
        ],
        object: "Deployment/deploy",
        fields: &["spec", "spec.selector"],
    },
    Allowed {
        cases: &[
            "kustomize-real/ex-patchMultipleObjects-json",
            "kustomize-real/ex-patchMultipleObjects-smp",
        ],
        object: "Deployment/deploy1",
        fields: &["spec", "spec.selector"],
    },
    Allowed {
        cases: &[
            "kustomize-real/ex-patchMultipleObjects-json",
            "kustomize-real/ex-patchMultipleObjects-smp",
        ],
        object: "Deployment/deploy2",
        fields: &["spec", "spec.selector"],
    },
    // kustomize's replicas.md: the selector says `app: myapp`, the pod template's labels
    // `app: nginx`; the API server answers `` `selector` does not match template `labels` ``.
    Allowed {
        cases: &["kustomize-real/ex-replicas"],
        object: "Deployment/myapp",
        fields: &["spec.selector"],
    },
    // kustomize's jsonpatch.md uses `networking.k8s.io/v1beta1` Ingress, no longer served
    // since Kubernetes 1.22.
    Allowed {
        cases: &[
            "kustomize-real/ex-jsonpatch-json",
            "kustomize-real/ex-jsonpatch-yaml",
        ],
        object: "Ingress/my-ingress",
        fields: &["kind"],
    },
    // kustomize's transformerconfigs examples only feed a transformer: `Bee` has
    // `apiVersion: v1beta1` without a group (no core kind `Bee` exists), and the
    // Deployment has `apiVersion: v1` with its group in a separate `group: apps` field
    // (the core group has no Deployment).
    Allowed {
        cases: &["kustomize-real/ex-transformerconfigs-crd"],
        object: "Bee/test-bee",
        fields: &["kind"],
    },
    Allowed {
        cases: &["kustomize-real/ex-transformerconfigs-images"],
        object: "Deployment/deploy1",
        fields: &["kind"],
    },
    // Helm's own test chart ships an `apiextensions.k8s.io/v1beta1` CRD, no longer served
    // since Kubernetes 1.22.
    Allowed {
        cases: &[
            "helm-corpus/helm-v3/template-with-crds",
            "helm-corpus/helm-v4/template-with-crds",
        ],
        object: "CustomResourceDefinition/testcrds.testcrdgroups.example.com",
        fields: &["kind"],
    },
    // Helm's issue-9027 test chart prints its values (to test how nulls coalesce), not
    // Kubernetes objects: two documents without `apiVersion` and `kind`.
    Allowed {
        cases: &[
            "helm-corpus/helm-v3/issue-9027-null-values",
            "helm-corpus/helm-v4/issue-9027-null-values",
        ],
        object: "/",
        fields: &["apiVersion", "kind"],
    },
];

/// One golden output: its name and the files that hold its objects.
struct Case {
    name: String,
    files: Vec<PathBuf>,
}

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Every `kustomize-real` case that `kubectl kustomize` built (`err-*` cases failed and
/// have no `expected.yaml`).
fn kustomize_cases(shared: &Path) -> Vec<Case> {
    let dir = shared.join("kustomize-real");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list `{}`: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.yaml").is_file())
        .map(|p| Case {
            name: format!(
                "kustomize-real/{}",
                p.file_name().unwrap().to_string_lossy()
            ),
            files: vec![p.join("expected.yaml")],
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// Every `helm-corpus` case whose golden is manifests: error goldens (`expect_error`, and
/// the command-line check without a chart) are texts, not objects.
fn helm_cases(shared: &Path) -> Vec<Case> {
    let dir = shared.join("helm-corpus");
    let list = std::fs::read_to_string(dir.join("cases.json")).unwrap();
    let list: Vec<Value> = serde_json::from_str(&list).unwrap();
    list.iter()
        .filter(|c| c["expect_error"].is_null() && !c["chart"].is_null())
        .map(|c| {
            let expected = dir.join(c["expected"].as_str().unwrap());
            let files = match c["expected_files"].as_array() {
                // otel: the `--output-dir` files of this case, in its rendered folder.
                Some(names) => names
                    .iter()
                    .map(|n| expected.join(n.as_str().unwrap()))
                    .collect(),
                None => vec![expected],
            };
            Case {
                name: format!("helm-corpus/{}", c["name"].as_str().unwrap()),
                files,
            }
        })
        .collect()
}

/// The objects of a case's files, each with its document so findings name their line.
fn manifests(shared: &Path, case: &Case) -> Vec<Manifest> {
    let mut out = Vec::new();
    for file in &case.files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("{}: cannot read `{}`: {e}", case.name, file.display()));
        let shown = file.strip_prefix(shared).unwrap_or(file);
        let objects = parse_objects(&text, shown)
            .unwrap_or_else(|e| panic!("{}: `{}` does not parse: {e}", case.name, file.display()));
        out.extend(objects.into_iter().map(|o| Manifest {
            object: o.value,
            file: o.source.file,
            line: o.source.line,
            document: o.source.document.map(|d| d.shared()),
        }));
    }
    out
}

/// The allowed (case, object, field) a finding is, if any.
fn allowed(case: &str, finding: &Finding) -> Option<(&'static str, &'static str, &'static str)> {
    let object = format!("{}/{}", finding.object.kind, finding.object.name);
    ALLOWED.iter().find_map(|a| {
        let case = a.cases.iter().find(|c| **c == case)?;
        let field = a.fields.iter().find(|f| **f == finding.field)?;
        (a.object == object).then_some((*case, a.object, *field))
    })
}

/// `(group, kind)` of every custom resource a CRD among `manifests` describes.
fn crd_kinds(manifests: &[Manifest]) -> HashSet<(String, String)> {
    manifests
        .iter()
        .map(|m| &m.object)
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .filter_map(|o| {
            let spec = &o["spec"];
            Some((
                spec["group"].as_str()?.to_owned(),
                spec["names"]["kind"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn group_and_kind(object: &Value) -> (String, String) {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = object["kind"].as_str().unwrap_or_default();
    (group.to_owned(), kind.to_owned())
}

#[test]
fn released_manifests_pass_schema_validation() {
    let shared = shared_dir();
    if !shared.join("kustomize-real").is_dir() || !shared.join("helm-corpus").is_dir() {
        eprintln!(
            "skipped: the real-world corpora are not in `{}`",
            shared.display()
        );
        return;
    }
    let verbose = std::env::var_os("SLIPWAY_REAL_VERBOSE").is_some();
    let corpora = [
        ("kustomize-real", kustomize_cases(&shared)),
        ("helm-corpus", helm_cases(&shared)),
    ];

    let mut used = BTreeSet::new();
    let mut unexpected = Vec::new();
    for (corpus, cases) in &corpora {
        let (mut objects, mut against_crds, mut unchecked) = (0, 0, 0);
        for case in cases {
            let manifests = manifests(&shared, case);
            let crds = crd_kinds(&manifests);
            objects += manifests.len();
            against_crds += manifests
                .iter()
                .filter(|m| crds.contains(&group_and_kind(&m.object)))
                .count();
            let report = check(&manifests, &CheckOptions::default());
            unchecked += report.unchecked.len();
            for finding in report
                .findings
                .iter()
                .filter(|f| JUDGED_RULES.contains(&f.rule))
            {
                let hit = allowed(&case.name, finding);
                if verbose {
                    let mark = if hit.is_some() { "allowed" } else { "FINDING" };
                    eprintln!("{mark} {}: {finding}", case.name);
                }
                match hit {
                    Some(key) => {
                        used.insert(key);
                    }
                    None => unexpected.push(format!("{}: {finding}", case.name)),
                }
            }
        }
        eprintln!(
            "{corpus}: checked {objects} objects of {} cases; {against_crds} custom resources against a CRD of their case, {unchecked} without one (unchecked)",
            cases.len()
        );
    }
    let stale: Vec<String> = ALLOWED
        .iter()
        .flat_map(|a| {
            a.cases
                .iter()
                .flat_map(move |case| a.fields.iter().map(move |field| (*case, a.object, *field)))
        })
        .filter(|key| !used.contains(key))
        .map(|(case, object, field)| format!("{case}: {object} `{field}`"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} findings on released manifests:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "allowed findings that no longer occur (take them off ALLOWED):\n{}",
        stale.join("\n")
    );
}

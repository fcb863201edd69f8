//! A native renderer for the common subset of kustomize.
//!
//! [`kustomize`] builds a kustomization directory the way `kubectl kustomize` (kustomize
//! v5) does, for the fields listed in the crate documentation, and returns the same
//! objects in the same order. The build follows kustomize's own pipeline:
//!
//! 1. accumulate `resources` (files, and directories whose kustomizations are built
//!    recursively, each with its own transformers), and merge the `configurations` of
//!    every kustomization included with this one's;
//! 2. run the generators (`configMapGenerator`, then `secretGenerator`), merging into or
//!    replacing objects of the same name when asked;
//! 3. accumulate `components` into the same set of objects;
//! 4. run the transformers in kustomize's fixed order: `patchesStrategicMerge`, `patches`,
//!    `namespace`, `namePrefix`/`nameSuffix`, `labels` and `commonLabels`,
//!    `commonAnnotations`, `patchesJson6902`, `replicas`, `images`, `replacements`, then
//!    the built-in transformers configured by `transformers` entries;
//! 5. at the top level only: add content hashes to generated names, fix every name
//!    reference (ConfigMaps, Secrets, ServiceAccounts, Services, ... and those of
//!    `configurations`), resolve `vars`, drop objects marked
//!    `config.kubernetes.io/local-config` and empty `metadata.annotations`, and sort by
//!    kind (the legacy order).
//!
//! Objects are read with kustomize's typing of scalars (`load`) and printed by
//! [`crate::to_yaml`], which writes what kustomize's YAML library writes.
//!
//! Each object keeps the ids it had before (names before prefixes and hashes, namespaces
//! before `namespace`), which is how patches, generators and references find it later.

mod config;
mod fields;
mod generate;
mod load;
mod nameref;
mod openapi;
mod patch;
mod plugins;
mod replace;
pub(crate) mod spec;
mod transform;
mod vars;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Object, RenderError};
use config::Config;
use spec::{Kustomization, SortOrder};

/// The identity of an object: group, version, kind, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Id {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Id {
    fn of(value: &Value) -> Id {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
        let api = s(value.get("apiVersion"));
        let (group, version) = match api.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), api),
        };
        let meta = value.get("metadata");
        Id {
            group,
            version,
            kind: s(value.get("kind")),
            name: s(meta.and_then(|m| m.get("name"))),
            namespace: s(meta.and_then(|m| m.get("namespace"))),
        }
    }

    /// Namespaces are equal, with the empty namespace standing for `default`.
    pub fn ns_equals(&self, other: &Id) -> bool {
        fn norm(n: &str) -> &str {
            if n.is_empty() { "default" } else { n }
        }
        norm(&self.namespace) == norm(&other.namespace)
    }

    pub fn gvk_equals(&self, other: &Id) -> bool {
        self.group == other.group && self.version == other.version && self.kind == other.kind
    }

    /// kustomize's `ResId.Equals`.
    pub fn equals(&self, other: &Id) -> bool {
        self.gvk_equals(other) && self.name == other.name && self.ns_equals(other)
    }

    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(&self.kind)
    }

    /// `Kind/name` or `Kind/namespace/name` for messages.
    pub fn display(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Kinds that live outside namespaces (kustomize's built-in list plus newer kinds).
pub(crate) fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "APIService"
            | "CSIDriver"
            | "CSINode"
            | "CertificateSigningRequest"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "ComponentStatus"
            | "CustomResourceDefinition"
            | "FlowSchema"
            | "IngressClass"
            | "MutatingWebhookConfiguration"
            | "Namespace"
            | "Node"
            | "PersistentVolume"
            | "PodSecurityPolicy"
            | "PriorityClass"
            | "PriorityLevelConfiguration"
            | "RuntimeClass"
            | "SelfSubjectAccessReview"
            | "SelfSubjectRulesReview"
            | "StorageClass"
            | "SubjectAccessReview"
            | "TokenReview"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "ValidatingWebhookConfiguration"
            | "VolumeAttachment"
    )
}

/// An object under construction, with what kustomize remembers about it.
#[derive(Debug, Clone)]
pub(crate) struct Res {
    pub obj: Object,
    /// Ids the object had before its current one, oldest first.
    pub prev: Vec<Id>,
    /// Prefixes and suffixes applied to its name, in order.
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// Generated with a content hash to be added to its name.
    pub needs_hash: bool,
}

impl Res {
    pub fn new(obj: Object) -> Res {
        Res {
            obj,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
        }
    }

    pub fn cur_id(&self) -> Id {
        Id::of(&self.obj.value)
    }

    pub fn org_id(&self) -> Id {
        self.prev.first().cloned().unwrap_or_else(|| self.cur_id())
    }

    /// The current id and every previous one.
    pub fn all_ids(&self) -> Vec<Id> {
        let mut ids = self.prev.clone();
        ids.push(self.cur_id());
        ids
    }

    pub fn store_prev(&mut self) {
        let id = self.cur_id();
        self.prev.push(id);
    }

    pub fn name(&self) -> &str {
        self.obj.name()
    }

    pub fn namespace(&self) -> &str {
        self.obj.namespace()
    }

    pub fn metadata(&mut self) -> &mut serde_json::Map<String, Value> {
        let v = &mut self.obj.value;
        if !v.get("metadata").is_some_and(Value::is_object) {
            v["metadata"] = Value::Object(serde_json::Map::new());
        }
        v["metadata"].as_object_mut().expect("set above")
    }

    pub fn set_name(&mut self, name: &str) {
        self.metadata()
            .insert("name".into(), Value::String(name.to_owned()));
    }

    pub fn set_namespace(&mut self, ns: &str) {
        if ns.is_empty() {
            self.metadata().remove("namespace");
        } else {
            self.metadata()
                .insert("namespace".into(), Value::String(ns.to_owned()));
        }
    }
}

/// Build a kustomization directory natively.
///
/// # Errors
///
/// Unreadable files, invalid YAML, fields outside the supported subset
/// ([`RenderError::Unsupported`]), cycles between kustomizations, and build failures such
/// as a patch whose target does not exist.
pub fn kustomize(dir: &Path) -> Result<Vec<Object>, RenderError> {
    let dir = canonical(dir)?;
    let mut builder = Builder { stack: Vec::new() };
    builder.stack.push(dir.clone());
    let k = spec::load(&dir)?;
    let mut ra = Vec::new();
    let mut config = Config::default();
    builder.accumulate_target(&k, &mut ra, &mut config)?;
    generate::add_hashes(&mut ra)?;
    nameref::fix(&mut ra, &k.file, &config)?;
    vars::resolve(&mut ra, &config)?;
    ra.retain(|r| {
        r.obj
            .value
            .pointer("/metadata/annotations/config.kubernetes.io~1local-config")
            .is_none()
    });
    for r in &mut ra {
        drop_empty_annotations(r);
        if k.managed_by_label {
            // What kubectl 1.32's embedded kustomize writes for its version.
            let labels = r
                .metadata()
                .entry("labels")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Value::Object(l) = labels {
                l.insert(
                    "app.kubernetes.io/managed-by".into(),
                    Value::String("kustomize-(devel)".into()),
                );
            }
        }
    }
    if k.sort.as_ref().map(|s| s.value) != Some(SortOrder::Fifo) {
        legacy_sort(&mut ra, k.sort_first_last.as_ref());
    }
    Ok(ra.into_iter().map(|r| r.obj).collect())
}

/// kustomize adds its own annotations to every object while it builds and removes them at
/// the end, which leaves no `metadata.annotations` at all where the object had an empty
/// or null one.
fn drop_empty_annotations(r: &mut Res) {
    if let Some(Value::Object(meta)) = r.obj.value.get_mut("metadata") {
        let empty = match meta.get("annotations") {
            Some(Value::Null) => true,
            Some(Value::Object(a)) => a.is_empty(),
            _ => false,
        };
        if empty {
            meta.remove("annotations");
        }
    }
}

fn canonical(path: &Path) -> Result<PathBuf, RenderError> {
    std::fs::canonicalize(path).map_err(|source| RenderError::Io {
        path: path.to_owned(),
        source,
    })
}

struct Builder {
    /// Directories being built, outermost first, to detect cycles.
    stack: Vec<PathBuf>,
}

fn looks_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
}

impl Builder {
    fn accumulate_target(
        &mut self,
        k: &Kustomization,
        ra: &mut Vec<Res>,
        config: &mut Config,
    ) -> Result<(), RenderError> {
        let mut seen: HashSet<IdKey> = ra.iter().map(|r| id_key(&r.cur_id())).collect();
        // Every remote base at once, before any resource is read.
        let remote = k
            .resources
            .iter()
            .enumerate()
            .filter(|(_, entry)| looks_remote(&entry.value))
            .map(|(i, entry)| crate::Refused {
                file: k.file.clone(),
                line: entry.line,
                field: format!("resources[{i}]: remote base {}", entry.value),
            })
            .collect();
        if let Some(err) = RenderError::unsupported(remote) {
            return Err(err);
        }
        for entry in &k.resources {
            let build_err = |message: String| RenderError::Build {
                file: k.file.clone(),
                line: entry.line,
                message,
            };
            let path = k.dir.join(&entry.value);
            let added: Vec<Res> = if path.is_file() {
                load::read_objects(&path)?
                    .into_iter()
                    .map(Res::new)
                    .collect()
            } else if path.is_dir() {
                let sub = self.load_child(&path, k, entry.line, false)?;
                let mut sub_ra = Vec::new();
                let mut sub_config = Config::default();
                self.accumulate_target(&sub, &mut sub_ra, &mut sub_config)?;
                config.merge(&sub_config);
                self.stack.pop();
                sub_ra
            } else {
                return Err(build_err(format!(
                    "resource `{}` is neither a file nor a directory",
                    entry.value
                )));
            };
            append_all(ra, &mut seen, added).map_err(build_err)?;
        }
        for entry in &k.configurations {
            config.merge(&Config::load(&k.dir.join(&entry.value))?);
        }
        for entry in &k.crds {
            config.merge(&Config::load_crds(&k.dir.join(&entry.value))?);
        }
        generate::run(k, ra)?;
        let generator_configs = self.plugin_configs(k, &k.generators, "generator")?;
        plugins::check_generators(&generator_configs)?;
        plugins::generate(k, &generator_configs, ra)?;
        for entry in &k.components {
            let path = k.dir.join(&entry.value);
            if !path.is_dir() {
                return Err(RenderError::Build {
                    file: k.file.clone(),
                    line: entry.line,
                    message: format!("component `{}` is not a directory", entry.value),
                });
            }
            let sub = self.load_child(&path, k, entry.line, true)?;
            self.accumulate_target(&sub, ra, config)?;
            self.stack.pop();
        }
        let plugin_configs = self.plugin_configs(k, &k.transformers, "transformer")?;
        plugins::check(&plugin_configs)?;
        transform::run(k, ra, config)?;
        plugins::run(k, &plugin_configs, ra)?;
        config.vars.extend(k.vars.iter().cloned());
        Ok(())
    }

    /// The objects configuring the `transformers` or `generators` of a kustomization:
    /// files read as they are, directories built as kustomizations.
    fn plugin_configs(
        &mut self,
        k: &Kustomization,
        entries: &[spec::Located<String>],
        what: &str,
    ) -> Result<Vec<Object>, RenderError> {
        let mut out = Vec::new();
        for entry in entries {
            let path = k.dir.join(&entry.value);
            if looks_remote(&entry.value) || !(path.is_file() || path.is_dir()) {
                return Err(RenderError::Build {
                    file: k.file.clone(),
                    line: entry.line,
                    message: format!(
                        "{what} `{}` is neither a local file nor a directory",
                        entry.value
                    ),
                });
            }
            if path.is_file() {
                out.extend(load::read_objects(&path)?);
            } else {
                let sub = self.load_child(&path, k, entry.line, false)?;
                let mut sub_ra = Vec::new();
                self.accumulate_target(&sub, &mut sub_ra, &mut Config::default())?;
                self.stack.pop();
                out.extend(sub_ra.into_iter().map(|r| r.obj));
            }
        }
        Ok(out)
    }

    /// Load the kustomization of a base or component directory and push it on the stack.
    fn load_child(
        &mut self,
        path: &Path,
        parent: &Kustomization,
        line: usize,
        component: bool,
    ) -> Result<Kustomization, RenderError> {
        let dir = canonical(path)?;
        if let Some(start) = self.stack.iter().position(|d| *d == dir) {
            let mut chain = self.stack[start..].to_vec();
            chain.push(dir);
            return Err(RenderError::Cycle { chain });
        }
        let sub = spec::load(&dir)?;
        if sub.is_component != component {
            return Err(RenderError::Build {
                file: parent.file.clone(),
                line,
                message: if component {
                    format!(
                        "`{}` is listed in `components` but is not a `Component`",
                        path.display()
                    )
                } else {
                    format!(
                        "`{}` is a `Component`; list it in `components`",
                        path.display()
                    )
                },
            });
        }
        self.stack.push(dir);
        Ok(sub)
    }
}

/// An id with the namespace normalised, for duplicate detection.
type IdKey = (String, String, String, String, String);

fn id_key(id: &Id) -> IdKey {
    let ns = if id.namespace.is_empty() {
        "default".to_owned()
    } else {
        id.namespace.clone()
    };
    (
        id.group.clone(),
        id.version.clone(),
        id.kind.clone(),
        id.name.clone(),
        ns,
    )
}

/// Append objects, refusing one whose current id is already taken.
fn append_all(ra: &mut Vec<Res>, seen: &mut HashSet<IdKey>, added: Vec<Res>) -> Result<(), String> {
    for r in added {
        let id = r.cur_id();
        if !seen.insert(id_key(&id)) {
            return Err(format!(
                "may not add resource with an already registered id: `{}`",
                id.display()
            ));
        }
        ra.push(r);
    }
    Ok(())
}

/// kustomize's default output order: by kind (a fixed list first, webhooks last, the
/// rest by group, version and kind), then by namespace and name.
fn legacy_sort(ra: &mut Vec<Res>, custom: Option<&(Vec<String>, Vec<String>)>) {
    const FIRST: [&str; 22] = [
        "Namespace",
        "ResourceQuota",
        "StorageClass",
        "CustomResourceDefinition",
        "ServiceAccount",
        "PodSecurityPolicy",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "ConfigMap",
        "Secret",
        "Endpoints",
        "Service",
        "LimitRange",
        "PriorityClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "PodDisruptionBudget",
    ];
    const LAST: [&str; 2] = [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ];
    let (first, last): (Vec<&str>, Vec<&str>) = match custom {
        Some((f, l)) => (
            f.iter().map(String::as_str).collect(),
            l.iter().map(String::as_str).collect(),
        ),
        None => (FIRST.to_vec(), LAST.to_vec()),
    };
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| *k == kind) {
            i as i64 - first.len() as i64
        } else if let Some(i) = last.iter().position(|k| *k == kind) {
            1 + i as i64
        } else {
            0
        }
    };
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_owned()
        } else {
            s.to_owned()
        }
    };
    let mut keyed: Vec<((i64, String, String), Res)> = std::mem::take(ra)
        .into_iter()
        .map(|r| {
            let id = r.cur_id();
            let gvk = format!(
                "{}_{}_{}",
                or(&id.group, "~G"),
                or(&id.version, "~V"),
                or(&id.kind, "~K")
            );
            let rest = format!("{}|{}", or(&id.namespace, "~X"), or(&id.name, "~N"));
            ((rank(&id.kind), gvk, rest), r)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    ra.extend(keyed.into_iter().map(|(_, r)| r));
}

/// Behaviours checked against `kubectl kustomize` v1.32 on small trees; the expected
/// values are what it printed.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(files: &[(&str, &str)], root: &str) -> Result<Vec<Value>, RenderError> {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        kustomize(&dir.path().join(root)).map(|o| o.into_iter().map(|o| o.value).collect())
    }

    const SA_AND_BINDING: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  namespace: x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\n  namespace: x\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n- kind: ServiceAccount\n  name: sa\n";

    #[test]
    fn a_subject_gains_a_namespace_only_when_its_referral_changed() {
        let subject = |k: &str| {
            let out = build(
                &[("r.yaml", SA_AND_BINDING), ("kustomization.yaml", k)],
                ".",
            )
            .unwrap();
            out[1]["subjects"][0].clone()
        };
        assert_eq!(
            subject("resources: [r.yaml]\n"),
            json!({"kind": "ServiceAccount", "name": "sa"})
        );
        assert_eq!(
            subject("resources: [r.yaml]\nnamePrefix: p-\n"),
            json!({"kind": "ServiceAccount", "name": "p-sa", "namespace": "x"})
        );
        assert_eq!(
            subject("resources: [r.yaml]\nnamespace: foo\n"),
            json!({"kind": "ServiceAccount", "name": "sa", "namespace": "foo"})
        );
    }

    #[test]
    fn empty_or_null_metadata_annotations_are_dropped_and_labels_kept() {
        let r = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: {}\n  labels: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations:\n  labels:\n";
        let out = build(
            &[
                ("r.yaml", r),
                ("kustomization.yaml", "resources: [r.yaml]\n"),
            ],
            ".",
        )
        .unwrap();
        assert_eq!(out[0]["metadata"], json!({"name": "a", "labels": {}}));
        assert_eq!(out[1]["metadata"], json!({"name": "b", "labels": null}));
    }

    #[test]
    fn a_merge_patch_drops_fields_written_without_a_value_and_keeps_explicit_nulls() {
        let r = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas:\n  paused: null\n  template:\n    spec:\n      affinity:\n        nodeAffinity:\n          preferredDuringSchedulingIgnoredDuringExecution:\n      containers:\n      - name: c\n        image: x\n";
        let p = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      securityContext:\n        runAsUser: 1\n";
        let k = "resources: [r.yaml]\npatches:\n- path: p.yaml\n";
        let out = build(
            &[("r.yaml", r), ("p.yaml", p), ("kustomization.yaml", k)],
            ".",
        )
        .unwrap();
        let spec = &out[0]["spec"];
        assert!(spec.get("replicas").is_none(), "{spec}");
        assert_eq!(spec["paused"], Value::Null);
        assert_eq!(
            spec["template"]["spec"]["affinity"],
            json!({"nodeAffinity": {}})
        );
        // Without a patch, both stay.
        let out = build(
            &[
                ("r.yaml", r),
                ("kustomization.yaml", "resources: [r.yaml]\n"),
            ],
            ".",
        )
        .unwrap();
        assert_eq!(out[0]["spec"]["replicas"], Value::Null);
    }

    #[test]
    fn tag_suffixes_apply_once_per_way_an_image_is_reached() {
        let r = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: \"x:1\"}\n      - {name: b, image: \"yy\"}\n      - {name: c, image: \"z:1\"}\n      - {name: e, image: \"w@sha256:abc\"}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: cj\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - {name: a, image: \"x:1\"}\n";
        let k = "resources: [r.yaml]\nimages:\n- name: x\n  tagSuffix: -s\n- name: yy\n  tagSuffix: -s\n- name: z\n  newTag: \"2\"\n  tagSuffix: -s\n- name: w\n  tagSuffix: -s\n";
        let out = build(&[("r.yaml", r), ("kustomization.yaml", k)], ".").unwrap();
        // Deployments sort before CronJobs.
        let images: Vec<&str> = out[0]["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["image"].as_str().unwrap())
            .collect();
        assert_eq!(images, ["x:1-s-s", "yy:-s-s", "z:2", "w:-s-s"]);
        let cron = &out[1]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(cron["image"], "x:1-s");
    }

    #[test]
    fn a_generator_keeps_its_hash_only_when_both_sides_want_one() {
        let files = |overlay: &'static str| {
            [
                (
                    "base/kustomization.yaml",
                    "configMapGenerator:\n- name: c\n  literals: [a=1]\n",
                ),
                ("o/kustomization.yaml", overlay),
            ]
        };
        let name = |overlay: &'static str| {
            build(&files(overlay), "o").unwrap()[0]["metadata"]["name"].clone()
        };
        assert_eq!(
            name(
                "resources: [../base]\ngeneratorOptions:\n  disableNameSuffixHash: true\nconfigMapGenerator:\n- name: c\n  behavior: replace\n  literals: [b=2]\n"
            ),
            "c"
        );
        assert_ne!(
            name(
                "resources: [../base]\nconfigMapGenerator:\n- name: c\n  behavior: merge\n  literals: [b=2]\n"
            ),
            "c"
        );
    }

    #[test]
    fn field_names_match_without_case() {
        let r = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        let k = "resources: [r.yaml]\nNamePrefix: p-\npatchesJSON6902:\n- target: {version: v1, kind: ConfigMap, name: a}\n  patch: '[{\"op\": \"add\", \"path\": \"/data\", \"value\": {\"k\": \"v\"}}]'\n";
        let out = build(&[("r.yaml", r), ("kustomization.yaml", k)], ".").unwrap();
        assert_eq!(out[0]["metadata"]["name"], "p-a");
        assert_eq!(out[0]["data"], json!({"k": "v"}));
    }

    #[test]
    fn a_patch_with_an_empty_key_is_refused_with_its_line() {
        let r = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        let k = "resources: [r.yaml]\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: a\n    data:\n      : delete\n";
        let err = build(&[("r.yaml", r), ("kustomization.yaml", k)], ".").unwrap_err();
        assert!(err.to_string().contains("a mapping key is empty"), "{err}");
        // The key is on line 9 of the kustomization.
        assert!(err.to_string().contains("kustomization.yaml:9:"), "{err}");
    }

    #[test]
    fn every_refused_field_is_named_at_once_with_its_line_and_the_hint() {
        let k = "resources: []\nhelmCharts: []\nvalidators: []\nhelmGlobals: {}\n";
        let err = build(&[("kustomization.yaml", k)], ".")
            .unwrap_err()
            .to_string();
        for (line, field) in [(2, "helmCharts"), (3, "validators"), (4, "helmGlobals")] {
            assert!(
                err.contains(&format!("kustomization.yaml:{line}: `{field}`")),
                "{err}"
            );
        }
        assert!(err.contains("set `kustomize: kubectl`"), "{err}");
    }

    #[test]
    fn empty_generators_get_kubectl_names_and_a_secret_keeps_empty_data() {
        let out = build(
            &[(
                "kustomization.yaml",
                "configMapGenerator:\n- name: c\nsecretGenerator:\n- name: s\n",
            )],
            ".",
        )
        .unwrap();
        assert_eq!(out[0]["metadata"]["name"], "c-6ct58987ht");
        assert!(out[0].get("data").is_none());
        assert_eq!(out[1]["metadata"]["name"], "s-46f8b28mk5");
        assert_eq!(out[1]["data"], json!({}));
    }

    #[test]
    fn env_file_lines_without_a_value_come_from_the_environment() {
        let k = "configMapGenerator:\n- name: c\n  envs: [e.env]\n";
        let env = "A=1\nPATH\nSLIPWAY_SURELY_UNSET_VARIABLE_42\n";
        let out = build(&[("kustomization.yaml", k), ("e.env", env)], ".").unwrap();
        let data = &out[0]["data"];
        assert_eq!(data["A"], "1");
        assert_eq!(
            data["PATH"],
            std::env::var("PATH").unwrap_or_default().as_str()
        );
        assert_eq!(data["SLIPWAY_SURELY_UNSET_VARIABLE_42"], "");
    }

    #[test]
    fn long_secret_values_are_cut_into_lines_of_70_as_kubectl_does() {
        let k = "secretGenerator:\n- name: s\n  files: [long.txt]\n";
        let text = "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit,\nsed do eiusmod tempor incididunt\nut labore et dolore magna aliqua.\n";
        let out = build(&[("kustomization.yaml", k), ("long.txt", text)], ".").unwrap();
        let value = out[0]["data"]["long.txt"].as_str().unwrap();
        let lines: Vec<&str> = value.lines().collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [70, 70, 28]
        );
        assert!(value.ends_with('\n'));
    }

    #[test]
    fn kustomization_values_are_typed_by_yaml_1_1_as_kubectl_types_them() {
        // kubectl: "cannot unmarshal bool into Go struct field Kustomization.namespace".
        let err = build(&[("kustomization.yaml", "namespace: n\n")], ".").unwrap_err();
        assert!(
            err.to_string()
                .contains("`namespace`: expected a string, found `n`"),
            "{err}"
        );
        let err = build(
            &[("kustomization.yaml", "images:\n- name: x\n  newTag: 1.0\n")],
            ".",
        )
        .unwrap_err();
        assert!(err.to_string().contains("quote it"), "{err}");
        // `yes` is a boolean there.
        let out = build(
            &[(
                "kustomization.yaml",
                "generatorOptions:\n  disableNameSuffixHash: yes\nconfigMapGenerator:\n- name: c\n",
            )],
            ".",
        )
        .unwrap();
        assert_eq!(out[0]["metadata"]["name"], "c");
    }

    #[test]
    fn patch_options_let_a_patch_rename_and_rekind_its_target() {
        let r = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n";
        let k = |options: &str| {
            format!(
                "resources: [r.yaml]\npatches:\n- target: {{kind: ConfigMap, name: a}}\n  patch: |-\n    apiVersion: v1\n    kind: Secret\n    metadata:\n      name: b\n  options:\n{options}"
            )
        };
        let name_only = k("    allowNameChange: true\n");
        let out = build(&[("r.yaml", r), ("kustomization.yaml", &name_only)], ".").unwrap();
        assert_eq!(
            (out[0]["kind"].as_str(), out[0]["metadata"]["name"].as_str()),
            (Some("ConfigMap"), Some("b"))
        );
        let both = k("    allowNameChange: true\n    allowKindChange: true\n");
        let out = build(&[("r.yaml", r), ("kustomization.yaml", &both)], ".").unwrap();
        assert_eq!(
            (out[0]["kind"].as_str(), out[0]["metadata"]["name"].as_str()),
            (Some("Secret"), Some("b"))
        );
        let neither = k("    allowNameChange: false\n");
        let out = build(&[("r.yaml", r), ("kustomization.yaml", &neither)], ".").unwrap();
        assert_eq!(out[0]["metadata"]["name"], "a");
    }

    #[test]
    fn transformer_files_configure_patch_and_replacement_transformers() {
        let r = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  labels: {tier: web}\nspec:\n  replicas: 1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  v: \"9\"\n";
        let tr = "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npatch: '[{\"op\": \"replace\", \"path\": \"/spec/replicas\", \"value\": 4}]'\ntarget:\n  kind: Deployment\n  labelSelector: tier=web\n---\napiVersion: builtin\nkind: ReplacementTransformer\nmetadata:\n  name: r\nreplacements:\n- source: {kind: ConfigMap, name: cm, fieldPath: data.v}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [metadata.labels.tier]\n";
        let k = "resources: [r.yaml]\ntransformers: [tr.yaml]\n";
        let out = build(
            &[("r.yaml", r), ("tr.yaml", tr), ("kustomization.yaml", k)],
            ".",
        )
        .unwrap();
        assert_eq!(out[1]["spec"]["replicas"], 4);
        assert_eq!(out[1]["metadata"]["labels"]["tier"], "9");
    }

    #[test]
    fn generator_files_configure_config_map_and_secret_generators_without_global_options() {
        let g = "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: cm\nliterals: [A=1]\n---\napiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: sec\nliterals: [P=pw]\noptions:\n  disableNameSuffixHash: true\n---\napiVersion: example.com/v1\nkind: MyGenerator\nmetadata:\n  name: x\n";
        let k = "generatorOptions:\n  labels: {global: \"1\"}\ngenerators: [g.yaml]\n";
        let err = build(&[("g.yaml", g), ("kustomization.yaml", k)], ".").unwrap_err();
        assert!(
            err.to_string().contains("generators: kind MyGenerator"),
            "{err}"
        );
        let g = g.split("---\napiVersion: example.com").next().unwrap();
        let out = build(&[("g.yaml", g), ("kustomization.yaml", k)], ".").unwrap();
        // kubectl names them `cm-8d6hdh575g`-like hashes; the Secret keeps its name.
        assert!(
            out[0]["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("cm-")
        );
        assert!(out[0]["metadata"].get("labels").is_none());
        assert_eq!(out[1]["metadata"]["name"], "sec");
        assert_eq!(out[1]["data"]["P"], "cHc=");
    }

    #[test]
    fn image_tags_legacy_sort_lists_and_the_managed_by_label() {
        let r = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: x}]\n";
        let k = "resources: [r.yaml]\nbuildMetadata: [managedByLabel]\nimageTags:\n- name: w\n  newTag: v9\nimages:\n- name: x\n  newName: w\nsortOptions:\n  order: legacy\n  legacySortOptions:\n    orderFirst: [Service]\n    orderLast: [ConfigMap]\n";
        let out = build(&[("r.yaml", r), ("kustomization.yaml", k)], ".").unwrap();
        let kinds: Vec<&str> = out.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["Service", "Deployment", "ConfigMap"]);
        // `imageTags` apply after `images`.
        assert_eq!(
            out[1]["spec"]["template"]["spec"]["containers"][0]["image"],
            "w:v9"
        );
        for o in &out {
            assert_eq!(
                o["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "kustomize-(devel)"
            );
        }
        let err = build(
            &[
                ("r.yaml", r),
                (
                    "kustomization.yaml",
                    "resources: [r.yaml]\nbuildMetadata: [originAnnotations]\n",
                ),
            ],
            ".",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("buildMetadata[0]: originAnnotations"),
            "{err}"
        );
    }
}

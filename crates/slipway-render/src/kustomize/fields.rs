//! Field specs: where in which kinds a transformer writes.
//!
//! A field spec is a slash-separated path (`spec/template/metadata/labels`, `\/` for a
//! slash inside a key, `[]` or a sequence on the way meaning "every element") that applies
//! to the objects of a group/version/kind, and may create missing fields. The default
//! tables mirror kustomize's built-in configuration for common labels, template labels
//! and common annotations.

use serde_json::{Map, Value};

/// One field spec.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldSpec {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: String,
    pub create: bool,
}

impl FieldSpec {
    /// Whether the spec applies to an object of this group, version and kind.
    pub fn applies_to(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }
}

/// `(path, create, group, version, kind)` rows.
type Row = (&'static str, bool, &'static str, &'static str, &'static str);

fn table(rows: &[Row]) -> Vec<FieldSpec> {
    rows.iter()
        .map(|&(path, create, group, version, kind)| FieldSpec {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            path: path.into(),
            create,
        })
        .collect()
}

const AFFINITY: [&str; 4] = [
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
];

/// Where `commonLabels` (and `labels` with `includeSelectors`) go.
pub(crate) fn common_labels() -> Vec<FieldSpec> {
    let mut rows: Vec<Row> = vec![
        ("metadata/labels", true, "", "", ""),
        ("spec/selector", true, "", "v1", "ReplicationController"),
        (
            "spec/template/metadata/labels",
            true,
            "",
            "v1",
            "ReplicationController",
        ),
        ("spec/selector/matchLabels", true, "", "", "Deployment"),
        ("spec/template/metadata/labels", true, "", "", "Deployment"),
    ];
    for a in AFFINITY {
        rows.push((a, false, "apps", "", "Deployment"));
    }
    rows.extend([
        (
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
            false,
            "apps",
            "",
            "Deployment",
        ),
        ("spec/selector/matchLabels", true, "", "", "ReplicaSet"),
        ("spec/template/metadata/labels", true, "", "", "ReplicaSet"),
        ("spec/selector/matchLabels", true, "", "", "DaemonSet"),
        ("spec/template/metadata/labels", true, "", "", "DaemonSet"),
        ("spec/selector/matchLabels", true, "apps", "", "StatefulSet"),
        (
            "spec/template/metadata/labels",
            true,
            "apps",
            "",
            "StatefulSet",
        ),
    ]);
    for a in AFFINITY {
        rows.push((a, false, "apps", "", "StatefulSet"));
    }
    rows.extend([
        (
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
            false,
            "apps",
            "",
            "StatefulSet",
        ),
        (
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
            "apps",
            "",
            "StatefulSet",
        ),
        ("spec/selector/matchLabels", false, "batch", "", "Job"),
        ("spec/template/metadata/labels", true, "batch", "", "Job"),
        (
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
            "batch",
            "",
            "CronJob",
        ),
        (
            "spec/jobTemplate/metadata/labels",
            true,
            "batch",
            "",
            "CronJob",
        ),
        (
            "spec/jobTemplate/spec/template/metadata/labels",
            true,
            "batch",
            "",
            "CronJob",
        ),
        (
            "spec/selector/matchLabels",
            false,
            "policy",
            "",
            "PodDisruptionBudget",
        ),
        (
            "spec/podSelector/matchLabels",
            false,
            "networking.k8s.io",
            "",
            "NetworkPolicy",
        ),
        (
            "spec/ingress/from/podSelector/matchLabels",
            false,
            "networking.k8s.io",
            "",
            "NetworkPolicy",
        ),
        (
            "spec/egress/to/podSelector/matchLabels",
            false,
            "networking.k8s.io",
            "",
            "NetworkPolicy",
        ),
        ("spec/selector", true, "", "v1", "Service"),
    ]);
    table(&rows)
}

/// Where `labels` with `includeTemplates` (and without selectors) go.
pub(crate) fn template_labels() -> Vec<FieldSpec> {
    table(&[
        ("metadata/labels", true, "", "", ""),
        (
            "spec/template/metadata/labels",
            true,
            "",
            "v1",
            "ReplicationController",
        ),
        ("spec/template/metadata/labels", true, "", "", "Deployment"),
        ("spec/template/metadata/labels", true, "", "", "ReplicaSet"),
        ("spec/template/metadata/labels", true, "", "", "DaemonSet"),
        (
            "spec/template/metadata/labels",
            true,
            "apps",
            "",
            "StatefulSet",
        ),
        (
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
            "apps",
            "",
            "StatefulSet",
        ),
        ("spec/template/metadata/labels", true, "batch", "", "Job"),
        (
            "spec/jobTemplate/metadata/labels",
            true,
            "batch",
            "",
            "CronJob",
        ),
        (
            "spec/jobTemplate/spec/template/metadata/labels",
            true,
            "batch",
            "",
            "CronJob",
        ),
    ])
}

/// Where `commonAnnotations` go.
pub(crate) fn common_annotations() -> Vec<FieldSpec> {
    table(&[
        ("metadata/annotations", true, "", "", ""),
        (
            "spec/template/metadata/annotations",
            true,
            "",
            "v1",
            "ReplicationController",
        ),
        (
            "spec/template/metadata/annotations",
            true,
            "",
            "",
            "Deployment",
        ),
        (
            "spec/template/metadata/annotations",
            true,
            "",
            "",
            "ReplicaSet",
        ),
        (
            "spec/template/metadata/annotations",
            true,
            "",
            "",
            "DaemonSet",
        ),
        (
            "spec/template/metadata/annotations",
            true,
            "apps",
            "",
            "StatefulSet",
        ),
        (
            "spec/template/metadata/annotations",
            true,
            "batch",
            "",
            "Job",
        ),
        (
            "spec/jobTemplate/metadata/annotations",
            true,
            "batch",
            "",
            "CronJob",
        ),
        (
            "spec/jobTemplate/spec/template/metadata/annotations",
            true,
            "batch",
            "",
            "CronJob",
        ),
    ])
}

/// Split a field spec path into keys; the flag says the key was marked `[]`.
pub(crate) fn split_path(path: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|k| match k.strip_suffix("[]") {
            Some(s) => (s.to_owned(), true),
            None => (k, false),
        })
        .collect()
}

/// Call `f` on every node the path reaches, creating missing mappings on the way when
/// `create` is set (the leaf is then created as `null` for `f` to fill in). Sequences on
/// the way are entered element by element.
pub(crate) fn walk(
    value: &mut Value,
    keys: &[(String, bool)],
    create: bool,
    f: &mut dyn FnMut(&mut Value),
) {
    let Some(((key, is_list), rest)) = keys.split_first() else {
        f(value);
        return;
    };
    match value {
        Value::Object(m) => {
            if !m.contains_key(key.as_str()) || m[key.as_str()].is_null() {
                if !create || *is_list {
                    return;
                }
                let fresh = if rest.is_empty() {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                };
                m.insert(key.clone(), fresh);
            }
            let child = m.get_mut(key.as_str()).expect("inserted above");
            match child {
                Value::Array(items) if !rest.is_empty() => {
                    for item in items {
                        walk(item, rest, create, f);
                    }
                }
                _ => walk(child, rest, create, f),
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, keys, create, f);
            }
        }
        _ => {}
    }
}

/// Set every pair in the mapping at `slot` (creating it when it is `null`).
pub(crate) fn set_pairs(slot: &mut Value, pairs: &std::collections::BTreeMap<String, String>) {
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(m) = slot {
        for (k, v) in pairs {
            m.insert(k.clone(), Value::String(v.clone()));
        }
    }
}

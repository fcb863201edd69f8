//! Rendered files to manifests: splitting on `---`, reading each document's head
//! (kind, name, annotations), separating hooks, and Helm's install order by kind.

use std::collections::BTreeMap;

use gotemplate::Value;
use regex::Regex;

use crate::error::{Error, Result};
use crate::values::HelmVersion;

/// Kinds in the order Helm installs them; unknown kinds come last, by name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
];

/// One rendered object that is not a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The template it came from (`chart/templates/x.yaml`).
    pub name: String,
    pub content: String,
    pub kind: String,
}

/// One rendered object annotated `helm.sh/hook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub manifest: String,
    /// `pre-install`, `test`... (`test-success` is read as `test`).
    pub events: Vec<String>,
    pub weight: i64,
    pub delete_policies: Vec<String>,
}

impl Hook {
    pub fn is_test(&self) -> bool {
        self.events.iter().any(|e| e == "test")
    }
}

/// Helm's `SplitManifests`: the documents of a stream, in order, empty ones dropped.
///
/// Helm 3 and 4.1 split on `---` with the blanks around it and trim each document;
/// Helm 4.2 splits only on a line that is `---` and trims only the start of each
/// document, so a document keeps the blank lines that end it.
pub fn split_manifests(big: &str, ver: HelmVersion) -> Vec<String> {
    let is_space = |c: char| c.is_whitespace();
    if ver == HelmVersion::V4_2 {
        let sep = Regex::new(r"(?m)^---(?:[ \t]+|\r?$)").expect("valid regex");
        return go_split(&sep, big.trim_start_matches(is_space))
            .into_iter()
            .filter(|d| !d.trim().is_empty())
            .map(|d| d.trim_start_matches(is_space).to_string())
            .collect();
    }
    // Go's `\s` is ASCII whitespace.
    let sep = Regex::new(r"(?:^|[\t\n\x0C\r ]*\n)---[\t\n\x0C\r ]*").expect("valid regex");
    go_split(&sep, big.trim_matches(is_space))
        .into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_matches(is_space).to_string())
        .collect()
}

/// Go's `Regexp.Split(s, -1)`.
fn go_split<'a>(re: &Regex, s: &'a str) -> Vec<&'a str> {
    if s.is_empty() {
        return vec![""];
    }
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for m in re.find_iter(s) {
        end = m.start();
        if m.end() != 0 {
            out.push(&s[beg..end]);
        }
        beg = m.end();
    }
    if end != s.len() {
        out.push(&s[beg..]);
    }
    out
}

/// What a document's head says.
struct Head {
    kind: String,
    name: String,
    annotations: BTreeMap<String, String>,
}

/// The error go-yaml (through `sigs.k8s.io/yaml`) reports for a document that is not
/// valid YAML, worded as Helm prints it: `yaml: line N: message`.
fn go_yaml_error(doc: &str) -> Option<String> {
    use saphyr_parser::{Event, Parser};
    let mut parser = Parser::new_from_str(doc);
    loop {
        match parser.next_event() {
            None | Some(Ok((Event::StreamEnd, _))) => return None,
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let info = e.info();
                let mut line = e.marker().line();
                // libyaml's parser (not its scanner) reports a 0-based line.
                let message = match info.strip_prefix("while parsing ") {
                    Some(rest) => {
                        line = line.saturating_sub(1);
                        let what = rest.split_once(", ").map_or(rest, |(_, m)| m);
                        if what.starts_with("did not find") {
                            what.to_string()
                        } else {
                            format!("did not find {what}")
                        }
                    }
                    None if info.starts_with("simple key expect") => {
                        "could not find expected ':'".to_string()
                    }
                    None if info.starts_with("tabs disallowed") => {
                        "found character that cannot start any token".to_string()
                    }
                    None => info.to_string(),
                };
                return Some(if line > 0 {
                    format!("yaml: line {line}: {message}")
                } else {
                    format!("yaml: {message}")
                });
            }
        }
    }
}

fn head(doc: &str, path: &str) -> Result<Head> {
    if let Some(e) = go_yaml_error(doc) {
        return Err(Error::Manifest(format!(
            "YAML parse error on {path}: error converting YAML to JSON: {e}"
        )));
    }
    let v = gotemplate::yaml::from_str(doc).map_err(|e| {
        let line = if e.line > 0 {
            format!("line {}: ", e.line)
        } else {
            String::new()
        };
        Error::Manifest(format!(
            "YAML parse error on {path}: error converting YAML to JSON: yaml: {line}{}",
            e.message
        ))
    })?;
    let shape_err = |what: &str| {
        Error::Manifest(format!(
            "YAML parse error on {path}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {what}"
        ))
    };
    let map = match &v {
        Value::Map(m) => m.clone(),
        Value::Nil => Default::default(),
        Value::List(_) => {
            return Err(shape_err(
                "array into Go value of type releaseutil.SimpleHead",
            ));
        }
        _ => {
            return Err(shape_err(
                "string into Go value of type releaseutil.SimpleHead",
            ));
        }
    };
    let text = |v: Option<&Value>, field: &str| match v {
        None | Some(Value::Nil) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(shape_err(&format!(
            "value into Go struct field SimpleHead.{field} of type string"
        ))),
    };
    let kind = text(map.get("kind"), "kind")?;
    let mut h = Head {
        kind,
        name: String::new(),
        annotations: BTreeMap::new(),
    };
    if let Some(Value::Map(md)) = map.get("metadata") {
        h.name = text(md.get("name"), "metadata.name")?;
        if let Some(Value::Map(a)) = md.get("annotations") {
            for (k, v) in a {
                h.annotations
                    .insert(k.clone(), text(Some(v), "metadata.annotations")?);
            }
        }
    }
    Ok(h)
}

/// Helm's `SortManifests`: files in path order, documents in file order, hooks apart,
/// then both sorted (stably) by [`INSTALL_ORDER`].
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
    ver: HelmVersion,
) -> Result<(Vec<Hook>, Vec<Manifest>)> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content, ver) {
            let h = head(&doc, path)?;
            let Some(hook_types) = h.annotations.get("helm.sh/hook") else {
                generic.push(Manifest {
                    name: path.clone(),
                    content: doc,
                    kind: h.kind,
                });
                continue;
            };
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                let t = t.trim().to_lowercase();
                let t = if t == "test-success" {
                    "test".to_string()
                } else {
                    t
                };
                if !HOOK_EVENTS.contains(&t.as_str()) {
                    unknown = true;
                    break;
                }
                events.push(t);
            }
            if unknown {
                continue;
            }
            let weight = h
                .annotations
                .get("helm.sh/hook-weight")
                .and_then(|w| w.parse().ok())
                .unwrap_or(0);
            let delete_policies = h
                .annotations
                .get("helm.sh/hook-delete-policy")
                .map(|p| p.split(',').map(|s| s.trim().to_lowercase()).collect())
                .unwrap_or_default();
            hooks.push(Hook {
                name: h.name,
                kind: h.kind,
                path: path.clone(),
                manifest: doc,
                events,
                weight,
                delete_policies,
            });
        }
    }
    hooks.sort_by(|a, b| kind_order(&a.kind, &b.kind));
    generic.sort_by(|a, b| kind_order(&a.kind, &b.kind));
    Ok((hooks, generic))
}

/// Helm's `lessByKind` as an ordering (used with a stable sort).
fn kind_order(a: &str, b: &str) -> std::cmp::Ordering {
    let pos = |k: &str| INSTALL_ORDER.iter().position(|x| *x == k);
    match (pos(a), pos(b)) {
        (None, None) => a.cmp(b),
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_empty_documents_and_trims() {
        let docs = split_manifests("\n---\na: 1\n---\n# c\n---\n\nb: 2\n\n", HelmVersion::V3);
        assert_eq!(docs, ["a: 1", "# c", "b: 2"]);
        // As in Go, a separator's trailing blanks are consumed, so an immediately
        // following `---` stays inside the next document.
        let docs = split_manifests("a: 1\n---\n---\nb: 2", HelmVersion::V3);
        assert_eq!(docs, ["a: 1", "---\nb: 2"]);
        let docs = split_manifests("a: 1\n\n---\n\nb: 2\n\n", HelmVersion::V4_2);
        assert_eq!(docs, ["a: 1\n\n", "b: 2\n\n"]);
    }

    #[test]
    fn separator_needs_a_line_start() {
        let docs = split_manifests("a: x---y\n---\nb: 1", HelmVersion::V3);
        assert_eq!(docs, ["a: x---y", "b: 1"]);
    }

    #[test]
    fn yaml_errors_read_like_go_yaml() {
        let doc = "apiVersion: v1\nkind: Pod\nspec:\n  a: b\ninvalid";
        assert_eq!(
            go_yaml_error(doc).unwrap(),
            "yaml: line 6: could not find expected ':'"
        );
        assert_eq!(
            go_yaml_error("a: b\n c: d\n").unwrap(),
            "yaml: line 2: mapping values are not allowed in this context"
        );
        assert_eq!(go_yaml_error("a: 1\n"), None);
    }

    #[test]
    fn kinds_sort_by_install_order_then_unknown_by_name() {
        let mut kinds = vec![
            "Zeta",
            "Deployment",
            "Alpha",
            "Namespace",
            "Service",
            "Deployment",
        ];
        kinds.sort_by(|a, b| kind_order(a, b));
        assert_eq!(
            kinds,
            [
                "Namespace",
                "Service",
                "Deployment",
                "Deployment",
                "Alpha",
                "Zeta"
            ]
        );
    }
}

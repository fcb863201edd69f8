//! `transformers` entries that configure kustomize's built-in transformers.
//!
//! An entry is a file, or a directory built as a kustomization, whose objects configure
//! built-in transformers (`apiVersion: builtin`). They run after the kustomization's own
//! transformers, in order. Supported kinds: `PatchTransformer`,
//! `PatchStrategicMergeTransformer`, `PatchJson6902Transformer`, `ReplacementTransformer`,
//! `LabelTransformer`, `AnnotationsTransformer` (each writes exactly at its
//! `fieldSpecs`), `PrefixSuffixTransformer`, `NamespaceTransformer`,
//! `ImageTagTransformer`, `ReplicaCountTransformer` and `ValueAddTransformer`. Any other
//! kind (an exec or Go plugin, or a built-in this renderer lacks) is refused with the
//! `kustomize: kubectl` hint.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::config::field_spec;
use super::fields::{FieldSpec, split_path, walk};
use super::spec::{
    Behavior, GeneratorEntry, GeneratorOptions, ImageEntry, Kustomization, Located, PatchEntry,
    Selector,
};
use super::{Res, patch, replace, transform};
use crate::{Object, Refused, RenderError};

/// The kinds this module runs.
const KINDS: [&str; 11] = [
    "PatchTransformer",
    "PatchStrategicMergeTransformer",
    "PatchJson6902Transformer",
    "ReplacementTransformer",
    "LabelTransformer",
    "AnnotationsTransformer",
    "PrefixSuffixTransformer",
    "NamespaceTransformer",
    "ImageTagTransformer",
    "ReplicaCountTransformer",
    "ValueAddTransformer",
];

/// Refuse, all at once, configuration objects of kinds this renderer does not run.
pub(crate) fn check(configs: &[Object]) -> Result<(), RenderError> {
    let refused = configs
        .iter()
        .filter(|o| !KINDS.contains(&o.kind()))
        .map(|o| Refused {
            file: o.source.file.clone(),
            line: o.source.line,
            field: format!("transformers: kind {}", o.kind()),
        })
        .collect();
    RenderError::unsupported(refused).map_or(Ok(()), Err)
}

/// Refuse, all at once, generator configurations of kinds this renderer does not run
/// (anything but `ConfigMapGenerator` and `SecretGenerator`).
pub(crate) fn check_generators(configs: &[Object]) -> Result<(), RenderError> {
    let refused = configs
        .iter()
        .filter(|o| !matches!(o.kind(), "ConfigMapGenerator" | "SecretGenerator"))
        .map(|o| Refused {
            file: o.source.file.clone(),
            line: o.source.line,
            field: format!("generators: kind {}", o.kind()),
        })
        .collect();
    RenderError::unsupported(refused).map_or(Ok(()), Err)
}

/// Run `ConfigMapGenerator` and `SecretGenerator` configurations as `configMapGenerator`
/// and `secretGenerator` entries (with their own `options` only).
pub(crate) fn generate(
    k: &Kustomization,
    configs: &[Object],
    ra: &mut Vec<Res>,
) -> Result<(), RenderError> {
    if configs.is_empty() {
        return Ok(());
    }
    let mut sub = k.clone();
    sub.config_maps.clear();
    sub.secrets.clear();
    sub.generator_options = None;
    for c in configs {
        let entry = generator_entry(c).map_err(|message| RenderError::Invalid {
            file: c.source.file.clone(),
            line: c.source.line,
            field: c.kind().to_owned(),
            message,
        })?;
        if c.kind() == "SecretGenerator" {
            sub.secrets.push(entry);
        } else {
            sub.config_maps.push(entry);
        }
    }
    super::generate::run(&sub, ra)
}

fn generator_entry(c: &Object) -> Result<GeneratorEntry, String> {
    let v = &c.value;
    let line = c.source.line;
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let list = |key: &str| -> Vec<Located<String>> {
        match v.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(|s| Located {
                    value: s.to_owned(),
                    line,
                })
                .collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![Located {
                value: s.clone(),
                line,
            }],
            _ => Vec::new(),
        }
    };
    let behavior = match text("/behavior").as_str() {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => {
            return Err(format!(
                "`behavior: {other}` is not create, merge or replace"
            ));
        }
    };
    let options = v.get("options").map(|o| GeneratorOptions {
        labels: string_map(o.get("labels")),
        annotations: string_map(o.get("annotations")),
        disable_name_suffix_hash: o.get("disableNameSuffixHash") == Some(&Value::Bool(true)),
        immutable: o.get("immutable") == Some(&Value::Bool(true)),
    });
    let mut envs = list("envs");
    envs.extend(list("env"));
    Ok(GeneratorEntry {
        line,
        field: c.kind().to_owned(),
        name: text("/metadata/name"),
        namespace: text("/metadata/namespace"),
        behavior,
        literals: list("literals"),
        files: list("files"),
        envs,
        secret_type: text("/type"),
        options,
    })
}

/// Run the configured transformers over the objects.
pub(crate) fn run(
    k: &Kustomization,
    configs: &[Object],
    ra: &mut Vec<Res>,
) -> Result<(), RenderError> {
    for c in configs {
        let err = |message: String| RenderError::Invalid {
            file: c.source.file.clone(),
            line: c.source.line,
            field: c.kind().to_owned(),
            message,
        };
        let v = &c.value;
        let specs = specs(v).map_err(err)?;
        match c.kind() {
            "PatchTransformer"
            | "PatchStrategicMergeTransformer"
            | "PatchJson6902Transformer"
            | "ReplacementTransformer" => run_patch_like(k, c, ra)?,
            "LabelTransformer" | "AnnotationsTransformer" => {
                let key = if c.kind() == "LabelTransformer" {
                    "labels"
                } else {
                    "annotations"
                };
                let pairs = string_map(v.get(key));
                transform::apply_pairs(ra, &specs, &pairs);
            }
            "PrefixSuffixTransformer" => {
                let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("");
                transform::prefix_suffix(text("prefix"), text("suffix"), ra);
            }
            "NamespaceTransformer" => {
                let ns = v
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !ns.is_empty() {
                    transform::namespace(ns, ra, &specs);
                }
            }
            "ImageTagTransformer" => {
                let t = v.get("imageTag").cloned().unwrap_or(Value::Null);
                let text = |key: &str| t.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
                let rule = ImageEntry {
                    name: text("name"),
                    new_name: text("newName"),
                    new_tag: text("newTag"),
                    digest: text("digest"),
                    tag_suffix: text("tagSuffix"),
                };
                let rules = [Located {
                    value: rule,
                    line: c.source.line,
                }];
                transform::images(&rules, ra, &specs)?;
            }
            "ReplicaCountTransformer" => {
                let r = v.get("replica").cloned().unwrap_or(Value::Null);
                let name = r.get("name").and_then(Value::as_str).unwrap_or("");
                let count = r
                    .get("count")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| err("`replica.count` must be a whole number".into()))?;
                for res in ra.iter_mut() {
                    if res.all_ids().iter().any(|id| id.name == name) {
                        let id = res.cur_id();
                        for s in &specs {
                            if s.applies_to(&id.group, &id.version, &id.kind) {
                                walk(
                                    &mut res.obj.value,
                                    &split_path(&s.path),
                                    s.create,
                                    &mut |x| {
                                        *x = Value::from(count);
                                    },
                                );
                            }
                        }
                    }
                }
            }
            _ => value_add(k, v, ra).map_err(err)?,
        }
    }
    Ok(())
}

/// The patch and replacement transformers, run as the same fields of a kustomization
/// would be (paths are relative to the kustomization).
fn run_patch_like(k: &Kustomization, c: &Object, ra: &mut Vec<Res>) -> Result<(), RenderError> {
    let v = &c.value;
    let err = |message: String| RenderError::Invalid {
        file: c.source.file.clone(),
        line: c.source.line,
        field: c.kind().to_owned(),
        message,
    };
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let target = match v.get("target") {
        None | Some(Value::Null) => None,
        Some(t) => Some(selector(t).map_err(err)?),
    };
    let entry =
        |patch: Option<String>, path: Option<String>, target: Option<Selector>| PatchEntry {
            line: c.source.line,
            field: c.kind().to_owned(),
            patch,
            path,
            target,
            allow_name_change: v.pointer("/options/allowNameChange") == Some(&Value::Bool(true)),
            allow_kind_change: v.pointer("/options/allowKindChange") == Some(&Value::Bool(true)),
        };
    let mut sub = k.clone();
    sub.patches.clear();
    sub.patches_strategic_merge.clear();
    sub.patches_json6902.clear();
    match c.kind() {
        "PatchTransformer" => {
            let (patch, path) = (text("patch"), text("path"));
            if patch.is_none() && path.is_none() {
                return Err(err("needs `patch` or `path`".into()));
            }
            sub.patches.push(entry(patch, path, target));
            patch::patches(&sub, ra)
        }
        "PatchStrategicMergeTransformer" => {
            if let Some(Value::Array(paths)) = v.get("paths") {
                for p in paths.iter().filter_map(Value::as_str) {
                    sub.patches_strategic_merge
                        .push(entry(None, Some(p.to_owned()), None));
                }
            }
            if let Some(patches) = text("patches") {
                sub.patches_strategic_merge
                    .push(entry(Some(patches), None, None));
            }
            patch::strategic_merge_entries(&sub, ra)
        }
        "PatchJson6902Transformer" => {
            let Some(target) = target else {
                return Err(err("needs a `target`".into()));
            };
            let (patch, path) = (text("jsonOp"), text("path"));
            if patch.is_none() && path.is_none() {
                return Err(err("needs `jsonOp` or `path`".into()));
            }
            sub.patches_json6902.push(entry(patch, path, Some(target)));
            patch::json6902_entries(&sub, ra)
        }
        _ => {
            let items = match v.get("replacements") {
                Some(Value::Array(a)) => a.iter().map(|x| (x.clone(), c.source.line)).collect(),
                _ => return Err(err("`replacements` must be a list".into())),
            };
            let reps = replace::load_entries(items, &c.source.file, &k.dir)?;
            replace::run(&reps, ra)
        }
    }
}

fn selector(v: &Value) -> Result<Selector, String> {
    let Value::Object(m) = v else {
        return Err("`target` must be a mapping".into());
    };
    let mut s = Selector::default();
    for (key, x) in m {
        let text = x.as_str().unwrap_or_default().to_owned();
        match key.as_str() {
            "group" => s.group = text,
            "version" => s.version = text,
            "kind" => s.kind = text,
            "name" => s.name = text,
            "namespace" => s.namespace = text,
            "labelSelector" => s.label_selector = text,
            "annotationSelector" => s.annotation_selector = text,
            other => return Err(format!("`target.{other}`: unknown field")),
        }
    }
    Ok(s)
}

fn specs(v: &Value) -> Result<Vec<FieldSpec>, String> {
    match v.get("fieldSpecs") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(field_spec).collect(),
        Some(_) => Err("`fieldSpecs` must be a list".into()),
    }
}

/// A mapping of strings; numbers and booleans keep their written text, as kustomize's
/// decoding into a map of strings does.
fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Object(m)) = v else {
        return BTreeMap::new();
    };
    m.iter()
        .map(|(k, x)| {
            let text = match x {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// `ValueAddTransformer`: write `value` (by default the name of the kustomization's
/// directory) at each target's `fieldPath`, or insert it as one segment of a `/`-separated
/// path at `filePathPosition` (1-based; past the end appends).
fn value_add(k: &Kustomization, v: &Value, ra: &mut [Res]) -> Result<(), String> {
    let value = match v.get("value").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => dir_name(&k.dir),
    };
    let Some(Value::Array(targets)) = v.get("targets") else {
        return Err("`targets` must be a list".into());
    };
    for t in targets {
        let path = t
            .get("fieldPath")
            .and_then(Value::as_str)
            .ok_or("each target needs a `fieldPath`")?;
        let position = t
            .get("filePathPosition")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let kind = t.pointer("/selector/kind").and_then(Value::as_str);
        let name = t.pointer("/selector/name").and_then(Value::as_str);
        let keys = split_path(path);
        for r in ra.iter_mut() {
            let id = r.cur_id();
            if kind.is_some_and(|k| k != id.kind) || name.is_some_and(|n| n != id.name) {
                continue;
            }
            walk(&mut r.obj.value, &keys, true, &mut |slot| {
                *slot = if position > 0 {
                    let current = slot.as_str().unwrap_or("");
                    let mut parts: Vec<String> = if current.is_empty() {
                        Vec::new()
                    } else {
                        current.split('/').map(str::to_owned).collect()
                    };
                    let at = usize::try_from(position - 1).unwrap_or(0);
                    if at >= parts.len() {
                        parts.push(value.clone());
                    } else {
                        parts.insert(at, value.clone());
                    }
                    Value::String(parts.join("/"))
                } else {
                    Value::String(value.clone())
                };
            });
        }
    }
    Ok(())
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Object {
        Object {
            value: v,
            source: crate::Source::generated("t.yaml", 1),
        }
    }

    #[test]
    fn plugins_and_unknown_builtins_are_refused_together() {
        let configs = [
            object(json!({"apiVersion": "builtin", "kind": "LabelTransformer"})),
            object(json!({"apiVersion": "someteam.example.com/v1", "kind": "ChartInflator"})),
            object(json!({"apiVersion": "builtin", "kind": "HashTransformer"})),
        ];
        let err = check(&configs).unwrap_err().to_string();
        assert!(err.contains("kind ChartInflator"), "{err}");
        assert!(err.contains("kind HashTransformer"), "{err}");
        assert!(err.contains("kustomize: kubectl"), "{err}");
    }

    #[test]
    fn value_add_inserts_path_segments_and_defaults_to_the_directory_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dog-222");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("kustomization.yaml"), "resources: []\n").unwrap();
        let k = super::super::spec::load(&root).unwrap();
        let mut ra = vec![Res::new(object(
            json!({"apiVersion": "v1", "kind": "Member",
            "metadata": {"name": "m"}, "spec": {"ref": "projects"}}),
        ))];
        let config = json!({"targets": [{"fieldPath": "metadata/namespace"},
            {"selector": {"kind": "Member"}, "fieldPath": "spec/ref", "filePathPosition": 2}]});
        value_add(&k, &config, &mut ra).unwrap();
        assert_eq!(ra[0].obj.value["metadata"]["namespace"], "dog-222");
        assert_eq!(ra[0].obj.value["spec"]["ref"], "projects/dog-222");
    }
}

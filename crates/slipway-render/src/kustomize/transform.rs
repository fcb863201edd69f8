//! The built-in transformers of one kustomization, run in kustomize's fixed order.

use regex::Regex;
use serde_json::Value;

use super::fields::{self, FieldSpec, set_pairs, split_path, walk};
use super::spec::{ImageEntry, Kustomization};
use super::{Id, Res, patch};
use crate::RenderError;

/// Run every transformer of `k` over the accumulated objects.
pub(crate) fn run(k: &Kustomization, ra: &mut Vec<Res>) -> Result<(), RenderError> {
    patch::strategic_merge_entries(k, ra)?;
    patch::patches(k, ra)?;
    if let Some(ns) = &k.namespace {
        namespace(&ns.value, ra);
    }
    prefix_suffix(&k.name_prefix, &k.name_suffix, ra);
    for l in &k.labels {
        let mut specs = l.fields.clone();
        if l.include_selectors {
            specs.extend(fields::common_labels());
        } else {
            if l.include_templates {
                specs.extend(fields::template_labels());
            }
            specs.push(FieldSpec {
                path: "metadata/labels".into(),
                create: true,
                ..FieldSpec::default()
            });
        }
        apply_pairs(ra, &specs, &l.pairs);
    }
    if !k.common_labels.is_empty() {
        apply_pairs(ra, &fields::common_labels(), &k.common_labels);
    }
    if !k.common_annotations.is_empty() {
        apply_pairs(ra, &fields::common_annotations(), &k.common_annotations);
    }
    patch::json6902_entries(k, ra)?;
    for rep in &k.replicas {
        replicas(k, rep.line, &rep.value.0, rep.value.1, ra)?;
    }
    images(k, ra)?;
    super::replace::run(&k.replacements, ra)
}

fn gvk(r: &Res) -> Id {
    r.cur_id()
}

/// Set or merge string pairs at every field spec that applies.
fn apply_pairs(
    ra: &mut [Res],
    specs: &[FieldSpec],
    pairs: &std::collections::BTreeMap<String, String>,
) {
    let paths: Vec<_> = specs.iter().map(|s| split_path(&s.path)).collect();
    for r in ra.iter_mut() {
        let id = gvk(r);
        for (spec, path) in specs.iter().zip(&paths) {
            if spec.applies_to(&id.group, &id.version, &id.kind) {
                walk(&mut r.obj.value, path, spec.create, &mut |slot| {
                    set_pairs(slot, pairs)
                });
            }
        }
    }
}

fn namespace(ns: &str, ra: &mut [Res]) {
    let set = |slot: &mut Value| *slot = Value::String(ns.to_owned());
    for r in ra.iter_mut() {
        r.store_prev();
        let id = r.cur_id();
        if !id.is_cluster_scoped() {
            r.set_namespace(ns);
        }
        let v = &mut r.obj.value;
        match id.kind.as_str() {
            "Namespace" => r.set_name(ns),
            "RoleBinding" | "ClusterRoleBinding" => {
                if let Some(Value::Array(subjects)) = v.get_mut("subjects") {
                    for s in subjects {
                        let is_default = s.get("name").and_then(Value::as_str) == Some("default");
                        if let Some(m) = s.as_object_mut()
                            && is_default
                        {
                            m.insert("namespace".into(), Value::String(ns.to_owned()));
                        }
                    }
                }
            }
            "APIService" if id.group == "apiregistration.k8s.io" => {
                walk(v, &split_path("spec/service/namespace"), true, &mut |s| {
                    set(s)
                });
            }
            "CustomResourceDefinition" if id.group == "apiextensions.k8s.io" => {
                walk(
                    v,
                    &split_path("spec/conversion/webhook/clientConfig/service/namespace"),
                    false,
                    &mut |s| set(s),
                );
            }
            _ => {}
        }
    }
}

fn prefix_suffix(prefix: &str, suffix: &str, ra: &mut [Res]) {
    if prefix.is_empty() && suffix.is_empty() {
        return;
    }
    for r in ra.iter_mut() {
        let id = r.cur_id();
        if matches!(id.kind.as_str(), "CustomResourceDefinition" | "Namespace")
            || (id.kind == "APIService" && id.group == "apiregistration.k8s.io")
        {
            continue;
        }
        r.store_prev();
        let name = format!("{prefix}{}{suffix}", r.name());
        r.set_name(&name);
        if !prefix.is_empty() {
            r.prefixes.push(prefix.to_owned());
        }
        if !suffix.is_empty() {
            r.suffixes.push(suffix.to_owned());
        }
    }
}

fn replicas(
    k: &Kustomization,
    line: usize,
    name: &str,
    count: i64,
    ra: &mut [Res],
) -> Result<(), RenderError> {
    let mut found = false;
    for r in ra.iter_mut() {
        let id = r.cur_id();
        if !matches!(
            id.kind.as_str(),
            "Deployment" | "ReplicationController" | "ReplicaSet" | "StatefulSet"
        ) {
            continue;
        }
        if !r.all_ids().iter().any(|x| x.name == name) {
            continue;
        }
        found = true;
        walk(
            &mut r.obj.value,
            &split_path("spec/replicas"),
            true,
            &mut |slot| {
                *slot = Value::Number(count.into());
            },
        );
    }
    if found {
        Ok(())
    } else {
        Err(RenderError::Build {
            file: k.file.clone(),
            line,
            message: format!(
                "`replicas`: no Deployment, ReplicationController, ReplicaSet or StatefulSet is named `{name}`"
            ),
        })
    }
}

/// Split an image into name, tag and digest the way kustomize does.
fn split_image(image: &str) -> (&str, &str, &str) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image, "", ""),
        (c, Some(d)) if c.is_none_or(|c| d < c) => (&image[..d], "", &image[d + 1..]),
        (Some(c), Some(d)) => (&image[..c], &image[c + 1..d], &image[d + 1..]),
        (Some(c), None) => (&image[..c], &image[c + 1..], ""),
        (None, Some(_)) => unreachable!("covered by the digest-only arm"),
    }
}

fn new_image(rule: &ImageEntry, image: &str) -> String {
    let (name, tag, digest) = split_image(image);
    let name = if rule.new_name.is_empty() {
        name
    } else {
        &rule.new_name
    };
    let (tag, digest) = match (rule.new_tag.is_empty(), rule.digest.is_empty()) {
        (false, false) => (rule.new_tag.as_str(), rule.digest.as_str()),
        (false, true) => (rule.new_tag.as_str(), ""),
        (true, false) => ("", rule.digest.as_str()),
        (true, true) => (tag, digest),
    };
    let mut out = name.to_owned();
    if !tag.is_empty() {
        out.push(':');
        out.push_str(tag);
    }
    if !digest.is_empty() {
        out.push('@');
        out.push_str(digest);
    }
    out
}

/// `images`: every `image` of every element of a `containers` or `initContainers` list,
/// anywhere in an object, whose name matches a rule.
fn images(k: &Kustomization, ra: &mut [Res]) -> Result<(), RenderError> {
    if k.images.is_empty() {
        return Ok(());
    }
    let rules: Vec<(Option<Regex>, &ImageEntry)> = k
        .images
        .iter()
        .map(|e| {
            let re = Regex::new(&format!(
                "^{}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?$",
                e.value.name
            ))
            .ok();
            (re, &e.value)
        })
        .collect();
    for r in ra.iter_mut() {
        visit_images(&mut r.obj.value, &mut |image| {
            for (re, rule) in &rules {
                if re.as_ref().is_some_and(|re| {
                    image.starts_with(first_literal(&rule.name)) && re.is_match(image)
                }) {
                    *image = new_image(rule, image);
                }
            }
        });
    }
    Ok(())
}

/// The literal start of a pattern (up to its first regex metacharacter), used to skip most
/// rules without running the regex.
fn first_literal(pattern: &str) -> &str {
    let end = pattern
        .find(|c: char| ".^$*+?()[]{}|\\".contains(c))
        .unwrap_or(pattern.len());
    &pattern[..end]
}

fn visit_images(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        Value::Object(m) => {
            for (key, child) in m.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Some(Value::String(image)) = item.get_mut("image") {
                            f(image);
                        }
                    }
                }
                visit_images(child, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_images(item, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_like_kustomize() {
        assert_eq!(split_image("nginx"), ("nginx", "", ""));
        assert_eq!(split_image("nginx:1.2"), ("nginx", "1.2", ""));
        assert_eq!(
            split_image("localhost:5000/nginx:1.2"),
            ("localhost:5000/nginx", "1.2", "")
        );
        assert_eq!(split_image("nginx@sha256:ab"), ("nginx", "", "sha256:ab"));
        assert_eq!(
            split_image("a/nginx:1@sha256:ab"),
            ("a/nginx", "1", "sha256:ab")
        );
    }

    #[test]
    fn new_tag_replaces_tag_and_digest() {
        let rule = ImageEntry {
            name: "nginx".into(),
            new_tag: "2".into(),
            ..ImageEntry::default()
        };
        assert_eq!(new_image(&rule, "nginx@sha256:ab"), "nginx:2");
        let rule = ImageEntry {
            name: "nginx".into(),
            new_name: "r/n".into(),
            ..ImageEntry::default()
        };
        assert_eq!(new_image(&rule, "nginx:1"), "r/n:1");
    }
}

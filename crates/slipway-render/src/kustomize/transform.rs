//! The built-in transformers of one kustomization, run in kustomize's fixed order.

use std::fmt::Write as _;

use regex::Regex;
use serde_json::Value;

use super::config::Config;
use super::fields::{self, FieldSpec, set_pairs, split_path, walk};
use super::spec::{ImageEntry, Kustomization, Located};
use super::{Id, Res, patch};
use crate::RenderError;

/// Run every transformer of `k` over the accumulated objects.
pub(crate) fn run(
    k: &Kustomization,
    ra: &mut Vec<Res>,
    config: &Config,
) -> Result<(), RenderError> {
    patch::strategic_merge_entries(k, ra)?;
    patch::patches(k, ra)?;
    if let Some(ns) = &k.namespace {
        namespace(&ns.value, ra, &config.namespace);
    }
    prefix_suffix(&k.name_prefix, &k.name_suffix, ra);
    prefix_extra_fields(&k.name_prefix, &k.name_suffix, ra, &config.name_prefix);
    for l in &k.labels {
        let mut specs = l.fields.clone();
        if l.include_selectors {
            specs.extend(fields::common_labels());
            specs.extend(config.common_labels.iter().cloned());
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
        let mut specs = fields::common_labels();
        specs.extend(config.common_labels.iter().cloned());
        apply_pairs(ra, &specs, &k.common_labels);
    }
    if !k.common_annotations.is_empty() {
        let mut specs = fields::common_annotations();
        specs.extend(config.common_annotations.iter().cloned());
        apply_pairs(ra, &specs, &k.common_annotations);
    }
    patch::json6902_entries(k, ra)?;
    for rep in &k.replicas {
        replicas(k, rep.line, &rep.value.0, rep.value.1, ra)?;
    }
    images(&k.images, ra, &config.images)?;
    super::replace::run(&k.replacements, ra)
}

fn gvk(r: &Res) -> Id {
    r.cur_id()
}

/// Set or merge string pairs at every field spec that applies.
pub(crate) fn apply_pairs(
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

pub(crate) fn namespace(ns: &str, ra: &mut [Res], extra: &[FieldSpec]) {
    let set = |slot: &mut Value| *slot = Value::String(ns.to_owned());
    let extra_paths: Vec<_> = extra.iter().map(|s| split_path(&s.path)).collect();
    for r in ra.iter_mut() {
        let id = r.cur_id();
        for (spec, path) in extra.iter().zip(&extra_paths) {
            if spec.path != "metadata/namespace"
                && spec.applies_to(&id.group, &id.version, &id.kind)
            {
                walk(&mut r.obj.value, path, spec.create, &mut |s| set(s));
            }
        }
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

pub(crate) fn prefix_suffix(prefix: &str, suffix: &str, ra: &mut [Res]) {
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

/// Names held in other fields (`x-kubernetes-identity` of `crds`, `namePrefix` of
/// `configurations`) get the same prefix and suffix.
fn prefix_extra_fields(prefix: &str, suffix: &str, ra: &mut [Res], specs: &[FieldSpec]) {
    if (prefix.is_empty() && suffix.is_empty()) || specs.is_empty() {
        return;
    }
    for r in ra.iter_mut() {
        let id = r.cur_id();
        for spec in specs {
            if spec.path != "metadata/name" && spec.applies_to(&id.group, &id.version, &id.kind) {
                walk(
                    &mut r.obj.value,
                    &split_path(&spec.path),
                    false,
                    &mut |slot| {
                        if let Value::String(s) = slot {
                            *s = format!("{prefix}{s}{suffix}");
                        }
                    },
                );
            }
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
    let suffixed;
    let (tag, digest) = match (rule.new_tag.is_empty(), rule.digest.is_empty()) {
        (false, false) => (rule.new_tag.as_str(), rule.digest.as_str()),
        (false, true) => (rule.new_tag.as_str(), ""),
        (true, false) => ("", rule.digest.as_str()),
        // `tagSuffix` extends the tag and drops a digest.
        (true, true) if !rule.tag_suffix.is_empty() => {
            suffixed = format!("{tag}{}", rule.tag_suffix);
            (suffixed.as_str(), "")
        }
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

/// Where `images` look besides every `containers`/`initContainers` list: kustomize's
/// built-in image field specs.
const IMAGE_PATHS: [&str; 4] = [
    "spec/containers[]/image",
    "spec/initContainers[]/image",
    "spec/template/spec/containers[]/image",
    "spec/template/spec/initContainers[]/image",
];

/// `images`. As kustomize does, each rule first visits the `image` of every element of
/// every `containers` or `initContainers` list anywhere in an object, then the image
/// field specs (the built-in ones and those of `configurations`); a field reached both
/// ways is changed twice, which shows with `tagSuffix`.
pub(crate) fn images(
    entries: &[Located<ImageEntry>],
    ra: &mut [Res],
    extra: &[FieldSpec],
) -> Result<(), RenderError> {
    if entries.is_empty() {
        return Ok(());
    }
    let rules: Vec<(Option<Regex>, &ImageEntry)> = entries
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
    let mut specs: Vec<FieldSpec> = IMAGE_PATHS
        .iter()
        .map(|p| FieldSpec {
            path: (*p).into(),
            ..FieldSpec::default()
        })
        .collect();
    specs.extend(extra.iter().cloned());
    let spec_paths: Vec<_> = specs.iter().map(|s| split_path(&s.path)).collect();
    for r in ra.iter_mut() {
        let id = r.cur_id();
        let mut slots = Vec::new();
        legacy_image_slots(&r.obj.value, &mut String::new(), &mut slots);
        for (spec, path) in specs.iter().zip(&spec_paths) {
            if spec.applies_to(&id.group, &id.version, &id.kind) {
                spec_slots(&r.obj.value, path, String::new(), &mut slots);
            }
        }
        // Fields are independent of each other, so applying every rule to one field before
        // the next is the same as kustomize's rule by rule; a field reached both ways gets
        // each rule twice in a row, as it does there.
        let mut fields: Vec<(String, usize)> = Vec::with_capacity(slots.len());
        for ptr in slots {
            match fields.iter_mut().find(|(p, _)| *p == ptr) {
                Some((_, n)) => *n += 1,
                None => fields.push((ptr, 1)),
            }
        }
        for (ptr, times) in &fields {
            let Some(Value::String(image)) = r.obj.value.pointer_mut(ptr) else {
                continue;
            };
            for (re, rule) in &rules {
                for _ in 0..*times {
                    if image.starts_with(first_literal(&rule.name))
                        && re.as_ref().is_some_and(|re| re.is_match(image))
                    {
                        *image = new_image(rule, image);
                    }
                }
            }
        }
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

fn pointer_key(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// JSON pointers of the `image` of every element of every `containers` or
/// `initContainers` list.
fn legacy_image_slots(v: &Value, path: &mut String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (key, child) in m {
                let len = path.len();
                path.push('/');
                path.push_str(&pointer_key(key));
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for (i, item) in items.iter().enumerate() {
                        if item.get("image").is_some_and(Value::is_string) {
                            out.push(format!("{path}/{i}/image"));
                        }
                    }
                }
                legacy_image_slots(child, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "/{i}");
                legacy_image_slots(item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// JSON pointers of the strings a field spec path reaches.
fn spec_slots(v: &Value, keys: &[(String, bool)], path: String, out: &mut Vec<String>) {
    let Some(((key, _), rest)) = keys.split_first() else {
        if v.is_string() {
            out.push(path);
        }
        return;
    };
    match v {
        Value::Object(m) => {
            if let Some(child) = m.get(key.as_str()) {
                spec_slots(child, rest, format!("{path}/{}", pointer_key(key)), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                spec_slots(item, keys, format!("{path}/{i}"), out);
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

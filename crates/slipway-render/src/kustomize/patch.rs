//! Patches: strategic merge and JSON 6902, and the `target` selectors that pick objects.
//!
//! Strategic merge follows kustomize's `kyaml` merge: mappings merge field by field, `null`
//! deletes a field, `$patch: delete` deletes a mapping, a list element or (at the top) the
//! whole object, `$patch: replace` replaces instead of merging. In Kubernetes' own kinds,
//! lists of known fields merge by their patch merge key (`containers` by `name`, container
//! `ports` by `containerPort`, `volumeMounts` by `mountPath`, ...); the lists of kinds an
//! `openapi` schema describes merge by the keys it gives; every other list is replaced,
//! as kustomize replaces what its schema does not describe. Merged lists put the patch's
//! elements first, then the target's others in their order.

use std::path::{Path, PathBuf};

use kube_objects::LabelSelector;
use kube_objects::json_patch;
use kube_objects::merge_keys::{ListMerge, holds_containers, list_merge};
use regex::Regex;
use serde_json::{Map, Value};
use slipway_config::yaml::{Node, NodeKind};

use super::load::patch_documents;
use super::openapi::{ListKeys, Schemas};
use super::spec::{Kustomization, PatchEntry, Selector};
use super::{Id, Res};
use crate::RenderError;

/// A loaded patch document and where it came from.
struct Doc {
    value: Value,
    file: PathBuf,
    line: usize,
}

fn load_docs(k: &Kustomization, p: &PatchEntry) -> Result<Vec<Doc>, RenderError> {
    let (text, file, offset) = match (&p.path, &p.patch) {
        (Some(path), _) => {
            let file = k.dir.join(path);
            (crate::read::read_text(&file)?, file, 0)
        }
        (None, Some(text)) => (text.clone(), k.file.clone(), p.line),
        (None, None) => (String::new(), k.file.clone(), p.line),
    };
    // Positions inside an inline patch count from the line of its entry.
    let shift = |e: RenderError| match e {
        RenderError::Invalid {
            file,
            line,
            field,
            message,
        } => RenderError::Invalid {
            file,
            line: line + offset,
            field,
            message,
        },
        RenderError::Yaml {
            file,
            line,
            column,
            message,
        } => RenderError::Yaml {
            file,
            line: line + offset,
            column,
            message,
        },
        other => other,
    };
    Ok(patch_documents(&text, &file)
        .map_err(shift)?
        .into_iter()
        .map(|(value, line)| Doc {
            value,
            file: file.clone(),
            line: line + offset,
        })
        .collect())
}

fn build_err(file: &Path, line: usize, message: String) -> RenderError {
    RenderError::Build {
        file: file.to_owned(),
        line,
        message,
    }
}

/// `patchesStrategicMerge`.
pub(crate) fn strategic_merge_entries(
    k: &Kustomization,
    ra: &mut Vec<Res>,
) -> Result<(), RenderError> {
    let mut ids = all_ids(ra);
    for p in &k.patches_strategic_merge {
        for doc in load_docs(k, p)? {
            apply_smp_by_id(&doc, ra, &mut ids, k.openapi.as_deref())?;
        }
    }
    Ok(())
}

/// `patches`.
pub(crate) fn patches(k: &Kustomization, ra: &mut Vec<Res>) -> Result<(), RenderError> {
    let mut ids = all_ids(ra);
    for p in &k.patches {
        let docs = load_docs(k, p)?;
        let is_json = docs.first().is_some_and(|d| d.value.is_array());
        match (&p.target, is_json) {
            (None, true) => {
                return Err(build_err(
                    &k.file,
                    p.line,
                    format!("`{}`: a JSON 6902 patch needs a `target`", p.field),
                ));
            }
            (None, false) => {
                for doc in &docs {
                    apply_smp_by_id(doc, ra, &mut ids, k.openapi.as_deref())?;
                }
            }
            (Some(target), _) => {
                let selector = CompiledSelector::new(target).map_err(|m| {
                    build_err(&k.file, p.line, format!("`{}.target`: {m}", p.field))
                })?;
                let selected: Vec<usize> = (0..ra.len())
                    .filter(|&i| selector.matches(&ra[i]))
                    .collect();
                let mut deleted = Vec::new();
                for i in selected {
                    if is_json {
                        for doc in &docs {
                            json_patch::apply(
                                &mut ra[i].obj.value,
                                &doc.value,
                                json_patch::KUSTOMIZE,
                            )
                            .map_err(|m| {
                                build_err(
                                    &doc.file,
                                    doc.line,
                                    format!("patch on `{}`: {m}", ra[i].cur_id().display()),
                                )
                            })?;
                        }
                    } else {
                        for doc in &docs {
                            let changes = Changes {
                                name: p.allow_name_change,
                                kind: p.allow_kind_change,
                            };
                            if smp_on(&mut ra[i], &doc.value, k.openapi.as_deref(), changes) {
                                deleted.push(i);
                            }
                        }
                    }
                }
                remove_indices(ra, deleted);
                ids = all_ids(ra);
            }
        }
    }
    Ok(())
}

/// `patchesJson6902`.
pub(crate) fn json6902_entries(k: &Kustomization, ra: &mut [Res]) -> Result<(), RenderError> {
    for p in &k.patches_json6902 {
        let docs = load_docs(k, p)?;
        let target = p.target.as_ref().expect("checked when loading");
        let selector = CompiledSelector::new(target)
            .map_err(|m| build_err(&k.file, p.line, format!("`{}.target`: {m}", p.field)))?;
        for r in ra.iter_mut().filter(|r| selector.matches(r)) {
            for doc in &docs {
                json_patch::apply(&mut r.obj.value, &doc.value, json_patch::KUSTOMIZE).map_err(
                    |m| {
                        build_err(
                            &doc.file,
                            doc.line,
                            format!("patch on `{}`: {m}", r.cur_id().display()),
                        )
                    },
                )?;
            }
        }
    }
    Ok(())
}

fn remove_indices(ra: &mut Vec<Res>, mut indices: Vec<usize>) {
    indices.sort_unstable();
    indices.dedup();
    for i in indices.into_iter().rev() {
        ra.remove(i);
    }
}

/// Every id of every object, computed once per batch of patches (strategic merge
/// patches do not change ids).
fn all_ids(ra: &[Res]) -> Vec<Vec<Id>> {
    ra.iter().map(Res::all_ids).collect()
}

/// Apply a strategic merge patch to the one object its own id names.
fn apply_smp_by_id(
    doc: &Doc,
    ra: &mut Vec<Res>,
    ids: &mut Vec<Vec<Id>>,
    schemas: Option<&Schemas>,
) -> Result<(), RenderError> {
    if !doc.value.is_object() {
        return Err(build_err(
            &doc.file,
            doc.line,
            "a strategic merge patch must be a mapping".into(),
        ));
    }
    let id = Id::of(&doc.value);
    let matches: Vec<usize> = (0..ra.len())
        .filter(|&i| ids[i].iter().any(|x| x.equals(&id)))
        .collect();
    match matches.as_slice() {
        [i] => {
            if smp_on(&mut ra[*i], &doc.value, schemas, Changes::default()) {
                ra.remove(*i);
                ids.remove(*i);
            }
            Ok(())
        }
        [] => Err(build_err(
            &doc.file,
            doc.line,
            format!("no object matches `{}` for this patch", id.display()),
        )),
        _ => Err(build_err(
            &doc.file,
            doc.line,
            format!("several objects match `{}` for this patch", id.display()),
        )),
    }
}

/// Apply a strategic merge patch to one object, keeping its identity. Returns whether the
/// patch deletes the object.
/// What a strategic merge patch may change besides content (`options` of a patch).
#[derive(Debug, Clone, Copy, Default)]
struct Changes {
    name: bool,
    kind: bool,
}

fn smp_on(r: &mut Res, patch: &Value, schemas: Option<&Schemas>, changes: Changes) -> bool {
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        return true;
    }
    let before = r.cur_id();
    let keep: Vec<(&str, Option<Value>)> = ["apiVersion", "kind"]
        .iter()
        .map(|k| (*k, r.obj.value.get(*k).cloned()))
        .collect();
    let name = r.name().to_owned();
    let namespace = r.namespace().to_owned();
    if let Some(doc) = &r.obj.source.document {
        drop_implicit_nulls(&mut r.obj.value, doc.node());
    }
    let builtin = is_builtin_group(&before.group);
    let keys = schemas.and_then(|s| {
        s.get(&(
            before.group.clone(),
            before.version.clone(),
            before.kind.clone(),
        ))
    });
    merge_value(&mut r.obj.value, patch, &Ctx::top(keys, builtin));
    if !changes.kind {
        for (k, v) in keep {
            match v {
                Some(v) => r.obj.value[k] = v,
                None => {
                    if let Some(m) = r.obj.value.as_object_mut() {
                        m.remove(k);
                    }
                }
            }
        }
    }
    if !changes.name {
        r.set_name(&name);
    }
    r.set_namespace(&namespace);
    if !r.cur_id().equals(&before) {
        r.prev.push(before);
    }
    false
}

/// kustomize's merge drops the fields of the patched object that were written with no
/// value at all (`key:`), while it keeps those written as `null` or `~`. The document as
/// written tells them apart.
fn drop_implicit_nulls(value: &mut Value, node: &Node) {
    match (value, &node.kind) {
        (Value::Object(m), NodeKind::Map(entries)) => {
            for (k, vn) in entries {
                let Some(key) = k.as_scalar().map(|s| s.text.as_str()) else {
                    continue;
                };
                if vn.is_null() && vn.span.is_empty() {
                    if m.get(key).is_some_and(Value::is_null) {
                        m.remove(key);
                    }
                } else if let Some(child) = m.get_mut(key) {
                    drop_implicit_nulls(child, vn);
                }
            }
        }
        (Value::Array(a), NodeKind::Seq(items)) if a.len() == items.len() => {
            for (x, n) in a.iter_mut().zip(items) {
                drop_implicit_nulls(x, n);
            }
        }
        _ => {}
    }
}

/// Where a list sits, to choose its merge key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    Container,
    Other,
}

/// Where the merge is: the kind of mapping, and, for a kind described by an `openapi`
/// schema, the slash path from the object's root with the schema's list keys.
#[derive(Clone)]
struct Ctx<'a> {
    place: Place,
    schema: Option<(&'a ListKeys, String)>,
    /// A kind of the Kubernetes API itself, whose lists merge by the built-in table.
    builtin: bool,
}

impl<'a> Ctx<'a> {
    fn top(schema: Option<&'a ListKeys>, builtin: bool) -> Ctx<'a> {
        Ctx {
            place: Place::Top,
            schema: schema.map(|s| (s, String::new())),
            builtin,
        }
    }

    fn child(&self, place: Place, key: &str) -> Ctx<'a> {
        Ctx {
            builtin: self.builtin,
            place,
            schema: self
                .schema
                .as_ref()
                .map(|(s, p)| (*s, format!("{p}/{key}"))),
        }
    }

    /// The schema's answer for the list at this path: `Some("")` to replace it.
    fn schema_key(&self) -> Option<String> {
        let (keys, path) = self.schema.as_ref()?;
        keys.get(path.as_str())
            .map(|k| k.clone().unwrap_or_default())
    }
}

fn merge_value(dest: &mut Value, patch: &Value, ctx: &Ctx<'_>) {
    match (dest, patch) {
        (Value::Object(d), Value::Object(p)) => merge_map(d, p, ctx),
        (dest, patch) => *dest = clean(patch),
    }
}

/// A patch value with its directives and `null` fields removed, for places where there is
/// nothing to merge with.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), clean(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|x| {
                    !(x.is_object()
                        && x.get("$patch").is_some()
                        && x.as_object().is_some_and(|m| m.len() == 1))
                })
                .map(clean)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_map(dest: &mut Map<String, Value>, patch: &Map<String, Value>, ctx: &Ctx<'_>) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        *dest = match clean(&Value::Object(patch.clone())) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        return;
    }
    for (k, pv) in patch {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(d)), Value::Array(del)) = (dest.get_mut(field), pv) {
                d.retain(|x| !del.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        match pv {
            Value::Null => {
                dest.remove(k);
            }
            Value::Object(pm) => {
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    dest.remove(k);
                    continue;
                }
                match dest.get_mut(k) {
                    Some(Value::Object(dm)) => merge_map(dm, pm, &ctx.child(Place::Other, k)),
                    _ => {
                        dest.insert(k.clone(), clean(pv));
                    }
                }
            }
            Value::Array(pa) => match dest.get_mut(k) {
                Some(Value::Array(da)) => merge_list(da, pa, k, &ctx.child(ctx.place, k)),
                _ => {
                    dest.insert(k.clone(), clean(pv));
                }
            },
            scalar => {
                dest.insert(k.clone(), scalar.clone());
            }
        }
    }
}

/// The merge key of a list of Kubernetes' own kinds (`""` to replace it), from the
/// API's table. kustomize replaces the lists of scalars the API merges as sets
/// (`finalizers`).
fn builtin_merge_key(field: &str, place: Place) -> &'static str {
    match list_merge(field, place == Place::Container) {
        ListMerge::ByKey(key) => key,
        ListMerge::Set | ListMerge::Replace => "",
    }
}

/// API groups of Kubernetes itself: kustomize knows their schema. Lists of any other
/// kind (a custom resource without an `openapi` schema) are replaced by a patch, never
/// merged.
fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "extensions"
            | "networking.k8s.io"
            | "rbac.authorization.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "coordination.k8s.io"
            | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "certificates.k8s.io"
            | "discovery.k8s.io"
            | "events.k8s.io"
            | "node.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
            | "resource.k8s.io"
            | "authentication.k8s.io"
            | "authorization.k8s.io"
    )
}

fn merge_list(dest: &mut Vec<Value>, patch: &[Value], field: &str, ctx: &Ctx<'_>) {
    let replace_directive = patch.iter().any(|x| {
        x.get("$patch").and_then(Value::as_str) == Some("replace")
            && x.as_object().is_some_and(|m| m.len() == 1)
    });
    // The `openapi` schema's key; else, for Kubernetes' own kinds, the built-in table;
    // anything else is replaced, as kustomize does for lists its schema does not describe.
    let from_schema = ctx.schema_key();
    let key = match &from_schema {
        Some(k) => k.as_str(),
        None if ctx.builtin => builtin_merge_key(field, ctx.place),
        None => "",
    };
    if key.is_empty() || replace_directive || !dest.iter().chain(patch).all(Value::is_object) {
        *dest = match clean(&Value::Array(patch.to_vec())) {
            Value::Array(a) => a,
            _ => Vec::new(),
        };
        return;
    }
    let child_ctx = Ctx {
        place: if holds_containers(field) {
            Place::Container
        } else {
            Place::Other
        },
        schema: ctx.schema.clone(),
        builtin: ctx.builtin,
    };
    let key_of = |v: &Value| v.get(key).map(scalar_text);
    // As kustomize orders them: the patch's elements first (merged with the target's
    // element of the same key), then the target's other elements in their order.
    let mut rest: Vec<Option<Value>> = std::mem::take(dest).into_iter().map(Some).collect();
    let mut merged = Vec::with_capacity(rest.len() + patch.len());
    for pe in patch {
        let Some(pk) = key_of(pe) else {
            merged.push(clean(pe));
            continue;
        };
        let pos = rest
            .iter()
            .position(|d| d.as_ref().is_some_and(|d| key_of(d).as_ref() == Some(&pk)));
        let delete = pe.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                rest[i] = None;
            }
            (None, true) => {}
            (Some(i), false) => {
                let mut d = rest[i].take().expect("found above");
                if let (Value::Object(dm), Value::Object(pm)) = (&mut d, pe) {
                    merge_map(dm, pm, &child_ctx);
                }
                merged.push(d);
            }
            (None, false) => merged.push(clean(pe)),
        }
    }
    merged.extend(rest.into_iter().flatten());
    *dest = merged;
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A `target` with its patterns compiled.
struct CompiledSelector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: LabelSelector,
    annotations: LabelSelector,
}

fn anchored(pattern: &str) -> Result<Option<Regex>, String> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{pattern})$"))
        .map(Some)
        .map_err(|e| format!("`{pattern}` is not a valid pattern: {e}"))
}

impl CompiledSelector {
    fn new(s: &Selector) -> Result<Self, String> {
        Ok(CompiledSelector {
            group: anchored(&s.group)?,
            version: anchored(&s.version)?,
            kind: anchored(&s.kind)?,
            name: anchored(&s.name)?,
            namespace: anchored(&s.namespace)?,
            labels: LabelSelector::parse(&s.label_selector)?,
            annotations: LabelSelector::parse(&s.annotation_selector)?,
        })
    }

    fn matches(&self, r: &Res) -> bool {
        let cur = r.cur_id();
        let org = r.org_id();
        let effective = |id: &Id| {
            if id.is_cluster_scoped() {
                "~non-namespaced~".to_owned()
            } else if id.namespace.is_empty() {
                "default".to_owned()
            } else {
                id.namespace.clone()
            }
        };
        let ok = |re: &Option<Regex>, s: &str| re.as_ref().is_none_or(|re| re.is_match(s));
        if let Some(ns) = &self.namespace
            && !ns.is_match(&effective(&org))
            && !ns.is_match(&effective(&cur))
        {
            return false;
        }
        if let Some(name) = &self.name
            && !name.is_match(&org.name)
            && !name.is_match(&cur.name)
        {
            return false;
        }
        if !(ok(&self.group, &cur.group)
            && ok(&self.version, &cur.version)
            && ok(&self.kind, &cur.kind))
        {
            return false;
        }
        let map = |field: &str| r.obj.value.pointer(&format!("/metadata/{field}"));
        self.labels.matches_labels(map("labels"))
            && self.annotations.matches_labels(map("annotations"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_with_patch_elements_first() {
        let mut d = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        merge_value(
            &mut d,
            &json!({"spec": {"containers": [{"name": "c", "image": "z"}, {"name": "a", "image": "x2"}]}}),
            &Ctx::top(None, true),
        );
        assert_eq!(
            d,
            json!({"spec": {"containers": [{"name": "c", "image": "z"}, {"name": "a", "image": "x2"}, {"name": "b", "image": "y"}]}})
        );
    }

    #[test]
    fn null_deletes_and_patch_delete_removes_list_elements() {
        let mut d = json!({"a": 1, "volumes": [{"name": "x"}, {"name": "y"}]});
        merge_value(
            &mut d,
            &json!({"a": null, "volumes": [{"name": "x", "$patch": "delete"}]}),
            &Ctx::top(None, true),
        );
        assert_eq!(d, json!({"volumes": [{"name": "y"}]}));
    }

    #[test]
    fn lists_outside_the_kubernetes_schema_are_replaced() {
        // As `kubectl kustomize` does: a custom kind's `containers`, and a field the
        // schema does not know in a Deployment, are replaced rather than merged.
        let target = json!({"spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d", "image": "j"}],
            "extra": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]}});
        let patch = json!({"spec": {"containers": [{"name": "c", "image": "i2"}], "extra": [{"name": "a", "v": 2}]}});
        let mut custom = target.clone();
        merge_value(&mut custom, &patch, &Ctx::top(None, false));
        assert_eq!(
            custom["spec"]["containers"],
            json!([{"name": "c", "image": "i2"}])
        );
        let mut builtin = target.clone();
        merge_value(&mut builtin, &patch, &Ctx::top(None, true));
        assert_eq!(builtin["spec"]["containers"].as_array().unwrap().len(), 2);
        assert_eq!(builtin["spec"]["extra"], json!([{"name": "a", "v": 2}]));
    }

    #[test]
    fn json6902_adds_appends_replaces_and_removes() {
        let mut d = json!({"a": {"b": [1, 2]}, "c": 1});
        let ops = json!([{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "replace", "path": "/c", "value": 2},
            {"op": "remove", "path": "/a/b/0"}, {"op": "add", "path": "/a/k~1x", "value": "v"}]);
        json_patch::apply(&mut d, &ops, json_patch::KUSTOMIZE).unwrap();
        assert_eq!(d, json!({"a": {"b": [2, 3], "k/x": "v"}, "c": 2}));
        assert!(
            json_patch::apply(
                &mut d,
                &json!([{"op": "replace", "path": "/nope/x", "value": 1}]),
                json_patch::KUSTOMIZE
            )
            .is_err()
        );
        let remove = json!([{"op": "remove", "path": "/a/b/9"}]);
        assert!(json_patch::apply(&mut d, &remove, json_patch::KUSTOMIZE).is_err());
    }
}

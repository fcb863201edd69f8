//! Managed fields (FieldsV1) and server-side apply.
//!
//! A field set is the set of paths a manager owns. A path is a list of FieldsV1 keys:
//! `f:<field>`, `k:<json of the merge key>` for an item of a keyed list, `v:<json>` for an
//! item of a set-like list. Leaves are scalar fields, atomic lists, empty maps and list
//! items (serialised with a `"."` entry).

use kube_objects::merge_keys::{ListMerge, holds_containers, list_merge};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

pub type Path = Vec<String>;

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet(pub BTreeSet<Path>);

/// Top-level and metadata fields that never belong to a manager.
fn ignored(path: &[String]) -> bool {
    match path {
        [one] => one == "f:apiVersion" || one == "f:kind",
        [m, f, ..] if m == "f:metadata" => matches!(
            f.as_str(),
            "f:name"
                | "f:namespace"
                | "f:uid"
                | "f:resourceVersion"
                | "f:generation"
                | "f:creationTimestamp"
                | "f:managedFields"
                | "f:selfLink"
                | "f:deletionTimestamp"
                | "f:deletionGracePeriodSeconds"
                | "f:generateName"
        ),
        _ => false,
    }
}

impl FieldSet {
    /// The fields set in `obj` (status excluded when `skip_status`).
    pub fn of(obj: &Value, skip_status: bool) -> FieldSet {
        let mut set = BTreeSet::new();
        let mut path = Vec::new();
        collect(obj, None, false, &mut path, &mut set);
        set.retain(|p| !p.is_empty() && !ignored(p) && (!skip_status || p[0] != "f:status"));
        // metadata with only ignored fields leaves nothing behind.
        FieldSet(set)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, p: &Path) -> bool {
        self.0.contains(p)
    }

    /// Whether any path of the set starts with `prefix`.
    pub fn touches(&self, prefix: &[String]) -> bool {
        self.0
            .range(prefix.to_vec()..)
            .next()
            .is_some_and(|p| p.starts_with(prefix))
    }

    pub fn union(&mut self, other: &FieldSet) {
        self.0.extend(other.0.iter().cloned());
    }

    pub fn remove_all(&mut self, other: &FieldSet) {
        self.0.retain(|p| !other.0.contains(p));
    }

    /// The FieldsV1 JSON.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        for p in &self.0 {
            let mut node = &mut root;
            for (i, key) in p.iter().enumerate() {
                let entry = node
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                let m = entry.as_object_mut().expect("fieldset node");
                if i == p.len() - 1 && key.starts_with("k:") {
                    m.insert(".".into(), json!({}));
                }
                node = m;
            }
        }
        Value::Object(root)
    }

    /// Parses FieldsV1 JSON.
    pub fn from_json(v: &Value) -> FieldSet {
        fn walk(v: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
            let Some(m) = v.as_object() else { return };
            if m.is_empty() {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
                return;
            }
            for (k, child) in m {
                if k == "." {
                    out.insert(path.clone());
                    continue;
                }
                path.push(k.clone());
                walk(child, path, out);
                path.pop();
            }
        }
        let mut out = BTreeSet::new();
        walk(v, &mut Vec::new(), &mut out);
        FieldSet(out)
    }
}

fn item_key(item: &Value, strategy: &ListMerge) -> Option<String> {
    match strategy {
        ListMerge::ByKey(key) => {
            let kv = item.get(*key)?;
            Some(format!("k:{}", json!({ *key: kv })))
        }
        ListMerge::Set => Some(format!("v:{item}")),
        ListMerge::Replace => None,
    }
}

/// Adds the field paths of `v` to `out`; `field` is its name in its parent, and
/// `in_container` says whether that parent is a container (for the merge of `ports`).
fn collect(
    v: &Value,
    field: Option<&str>,
    in_container: bool,
    path: &mut Path,
    out: &mut BTreeSet<Path>,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let container = in_container_item(field, in_container);
            for (k, child) in m {
                path.push(format!("f:{k}"));
                collect(child, Some(k), container, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            let strategy = list_merge(field.unwrap_or_default(), in_container);
            if strategy == ListMerge::Replace || items.is_empty() {
                out.insert(path.clone());
                return;
            }
            for item in items {
                match item_key(item, &strategy) {
                    Some(k) => {
                        path.push(k);
                        out.insert(path.clone());
                        if item.is_object() {
                            let containers = holds_containers(field.unwrap_or_default());
                            collect(item, None, containers, path, out);
                        }
                        path.pop();
                    }
                    None => {
                        out.insert(path.clone());
                    }
                }
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn find_item(items: &[Value], key: &str) -> Option<usize> {
    if let Some(k) = key.strip_prefix("k:") {
        let kv: Value = serde_json::from_str(k).ok()?;
        let kv = kv.as_object()?;
        items
            .iter()
            .position(|i| kv.iter().all(|(f, v)| i.get(f) == Some(v)))
    } else if let Some(v) = key.strip_prefix("v:") {
        let v: Value = serde_json::from_str(v).ok()?;
        items.iter().position(|i| *i == v)
    } else {
        None
    }
}

/// The value at a field path.
pub fn lookup<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for key in path {
        cur = if let Some(f) = key.strip_prefix("f:") {
            cur.get(f)?
        } else {
            let items = cur.as_array()?;
            &items[find_item(items, key)?]
        };
    }
    Some(cur)
}

/// Removes the value at a field path; returns whether something was removed.
fn remove_path(obj: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = obj;
    for key in parents {
        let next = if let Some(f) = key.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            match cur.as_array_mut() {
                Some(items) => match find_item(items, key) {
                    Some(i) => items.get_mut(i),
                    None => None,
                },
                None => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        cur.as_object_mut().and_then(|m| m.remove(f)).is_some()
    } else if let Some(items) = cur.as_array_mut() {
        match find_item(items, last) {
            Some(i) => {
                items.remove(i);
                true
            }
            None => false,
        }
    } else {
        false
    }
}

/// SMD path notation: `.spec.template.spec.containers[name="web"].image`.
pub fn path_string(path: &[String]) -> String {
    let mut s = String::new();
    for key in path {
        if let Some(f) = key.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = key.strip_prefix("k:") {
            let kv: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            let parts: Vec<String> = kv
                .as_object()
                .into_iter()
                .flatten()
                .map(|(f, v)| format!("{f}={v}"))
                .collect();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = key.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        }
    }
    s
}

/// Whether a mapping reached through `field` is a container: `in_container` is set by
/// the list that holds it (see [`collect`]); a mapping under a field is never one.
fn in_container_item(field: Option<&str>, in_container: bool) -> bool {
    field.is_none() && in_container
}

/// Merges an applied configuration into the live object (maps recursively, keyed
/// lists by key, everything else replaced).
pub fn apply_merge(live: &Value, applied: &Value) -> Value {
    merge_applied(live, applied, None, false)
}

/// [`apply_merge`] below field `field`; `in_container` as for [`collect`].
fn merge_applied(live: &Value, applied: &Value, field: Option<&str>, in_container: bool) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            let container = in_container_item(field, in_container);
            let mut out = l.clone();
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                let merged = match out.get(k) {
                    Some(lv) => merge_applied(lv, v, Some(k), container),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => {
            let field = field.unwrap_or_default();
            let strategy = list_merge(field, in_container);
            match strategy {
                ListMerge::Replace => applied.clone(),
                _ => {
                    let mut out = l.clone();
                    let containers = holds_containers(field);
                    for item in a {
                        let pos = item_key(item, &strategy).and_then(|k| find_item(&out, &k));
                        match pos {
                            Some(i) => out[i] = merge_applied(&out[i], item, None, containers),
                            None => out.push(item.clone()),
                        }
                    }
                    Value::Array(out)
                }
            }
        }
        _ => applied.clone(),
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Manager {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
}

impl Manager {
    fn same_identity(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How a conflict message names this manager.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {:?}", self.subresource);
        }
        if self.operation == "Update" {
            s = format!("{s} using {} at {}", self.api_version, self.time);
        }
        s
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_json(),
        });
        if !self.subresource.is_empty() {
            v["subresource"] = json!(self.subresource);
        }
        v
    }
}

/// Reads `metadata.managedFields`.
pub fn managers_of(obj: &Value) -> Vec<Manager> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Manager {
            manager: e["manager"].as_str().unwrap_or_default().into(),
            operation: e["operation"].as_str().unwrap_or_default().into(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
            time: e["time"].as_str().unwrap_or_default().into(),
            subresource: e["subresource"].as_str().unwrap_or_default().into(),
            fields: FieldSet::from_json(&e["fieldsV1"]),
        })
        .collect()
}

/// Writes `metadata.managedFields` (entries with no fields are dropped).
pub fn set_managers(obj: &mut Value, managers: &[Manager]) {
    let entries: Vec<Value> = managers
        .iter()
        .filter(|m| !m.fields.is_empty())
        .map(Manager::to_json)
        .collect();
    let meta = crate::util::meta_mut(obj);
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(entries));
    }
}

/// Who performs a write, for managed fields.
#[derive(Debug, Clone)]
pub struct WriteActor<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub time: &'a str,
    /// Status belongs to the `status` subresource.
    pub skip_status: bool,
}

/// Records an `Update` by `actor` turning `old` (None on create) into `new`: the actor takes
/// the fields it changed; fields that disappeared leave every manager.
pub fn record_update(old: Option<&Value>, new: &mut Value, actor: &WriteActor) {
    let mut managers = old.map(managers_of).unwrap_or_default();
    let present = FieldSet::of(new, false);
    let changed: BTreeSet<Path> = present
        .0
        .iter()
        .filter(|p| {
            if actor.subresource != "status" && actor.skip_status && p[0] == "f:status" {
                return false;
            }
            if actor.subresource == "status" && p[0] != "f:status" {
                return false;
            }
            let last = p.last().map(String::as_str).unwrap_or_default();
            let is_item = last.starts_with("k:") || last.starts_with("v:");
            match old {
                None => true,
                // A list item is "changed" only when it is new; its fields speak for themselves.
                Some(o) if is_item => lookup(o, p).is_none(),
                Some(o) => lookup(o, p) != lookup(new, p),
            }
        })
        .cloned()
        .collect();
    for m in &mut managers {
        m.fields.0.retain(|p| present.0.contains(p));
        m.fields.0.retain(|p| !changed.contains(p));
    }
    if !changed.is_empty() {
        let idx = managers
            .iter()
            .position(|m| m.same_identity(actor.manager, "Update", actor.subresource));
        let idx = match idx {
            Some(i) => i,
            None => {
                managers.push(Manager {
                    manager: actor.manager.into(),
                    operation: "Update".into(),
                    api_version: actor.api_version.into(),
                    time: actor.time.into(),
                    subresource: actor.subresource.into(),
                    fields: FieldSet::default(),
                });
                managers.len() - 1
            }
        };
        let m = &mut managers[idx];
        m.fields.0.extend(changed);
        m.time = actor.time.into();
        m.api_version = actor.api_version.into();
    }
    set_managers(new, &managers);
}

/// A field owned by another manager whose value the apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub path: String,
}

/// Server-side apply of `applied` by `actor` onto `live` (None: the object is created).
/// Returns the new object, or the conflicts when `force` is false.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    actor: &WriteActor,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let empty = json!({});
    let live_v = live.unwrap_or(&empty);
    let mut managers = managers_of(live_v);
    let applied_set = FieldSet::of(applied, actor.skip_status);

    // Conflicts: fields owned by someone else whose value would change.
    let mut conflicts = Vec::new();
    let mut forced: Vec<(usize, Path)> = Vec::new();
    for (i, m) in managers.iter().enumerate() {
        if m.same_identity(actor.manager, "Apply", actor.subresource) {
            continue;
        }
        for p in &applied_set.0 {
            if !m.fields.contains(p) {
                continue;
            }
            let last = p.last().map(String::as_str).unwrap_or_default();
            let is_item = last.starts_with("k:") || last.starts_with("v:");
            let differs = !is_item && lookup(live_v, p) != lookup(applied, p);
            if differs {
                if force {
                    forced.push((i, p.clone()));
                } else {
                    conflicts.push(Conflict {
                        manager: m.describe(),
                        path: path_string(p),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    for (i, p) in forced {
        managers[i].fields.0.remove(&p);
    }

    let mut merged = apply_merge(live_v, applied);

    // Fields this manager applied before and omits now go, unless someone else owns them.
    let previous = managers
        .iter()
        .find(|m| m.same_identity(actor.manager, "Apply", actor.subresource))
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    let mut others = FieldSet::default();
    for m in managers
        .iter()
        .filter(|m| !m.same_identity(actor.manager, "Apply", actor.subresource))
    {
        others.union(&m.fields);
    }
    // Shortest paths first so that removing a parent makes children moot.
    let mut removed: Vec<&Path> = previous
        .0
        .iter()
        .filter(|p| !applied_set.touches(p) && !others.touches(p))
        .collect();
    removed.sort_by_key(|p| p.len());
    for p in removed {
        remove_path(&mut merged, p);
    }

    match managers
        .iter_mut()
        .find(|m| m.same_identity(actor.manager, "Apply", actor.subresource))
    {
        Some(m) => {
            m.fields = applied_set;
            m.time = actor.time.into();
            m.api_version = actor.api_version.into();
        }
        None => managers.push(Manager {
            manager: actor.manager.into(),
            operation: "Apply".into(),
            api_version: actor.api_version.into(),
            time: actor.time.into(),
            subresource: actor.subresource.into(),
            fields: applied_set,
        }),
    }
    let present = FieldSet::of(&merged, false);
    for m in &mut managers {
        m.fields.0.retain(|p| present.0.contains(p));
    }
    set_managers(&mut merged, &managers);
    Ok(merged)
}

/// The conflict error message of the real API server.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if conflicts.len() == 1 {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            conflicts[0].manager, conflicts[0].path
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor<'a>(manager: &'a str) -> WriteActor<'a> {
        WriteActor {
            manager,
            api_version: "apps/v1",
            subresource: "",
            time: "2024-01-01T00:00:00Z",
            skip_status: true,
        }
    }

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn fieldset_round_trips_through_fields_v1() {
        let set = FieldSet::of(&deploy(1, "nginx"), true);
        let v = set.to_json();
        assert_eq!(
            v["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["."],
            json!({})
        );
        assert!(v["f:metadata"].get("f:name").is_none());
        assert_eq!(FieldSet::from_json(&v), set);
    }

    #[test]
    fn server_side_apply_conflict_names_other_manager_and_field() {
        let live = server_side_apply(None, &deploy(1, "nginx"), &actor("kubectl"), false).unwrap();
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&live), &mut scaled, &actor("kubectl-scale"));
        let err = server_side_apply(Some(&scaled), &deploy(1, "nginx"), &actor("kubectl"), false)
            .unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].path, ".spec.replicas");
        assert_eq!(
            err[0].manager,
            "\"kubectl-scale\" using apps/v1 at 2024-01-01T00:00:00Z"
        );
        assert!(
            conflict_message(&err)
                .starts_with("Apply failed with 1 conflict: conflict with \"kubectl-scale\"")
        );
        // Same value: shared ownership, no conflict.
        assert!(
            server_side_apply(Some(&scaled), &deploy(5, "nginx"), &actor("kubectl"), false).is_ok()
        );
        // Force takes the field over.
        let forced =
            server_side_apply(Some(&scaled), &deploy(2, "nginx"), &actor("kubectl"), true).unwrap();
        assert_eq!(forced["spec"]["replicas"], 2);
        let ms = managers_of(&forced);
        let scale = ms.iter().find(|m| m.manager == "kubectl-scale");
        assert!(scale.is_none_or(|m| {
            !m.fields
                .contains(&vec!["f:spec".into(), "f:replicas".into()])
        }));
    }

    #[test]
    fn server_side_apply_removes_fields_the_manager_no_longer_applies() {
        let mut first = deploy(1, "nginx");
        first["metadata"]["labels"]["tier"] = json!("front");
        let live = server_side_apply(None, &first, &actor("a"), false).unwrap();
        let next = server_side_apply(Some(&live), &deploy(1, "nginx"), &actor("a"), false).unwrap();
        assert!(next["metadata"]["labels"].get("tier").is_none());
        assert_eq!(next["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn server_side_apply_keeps_fields_owned_by_another_manager() {
        let live = server_side_apply(None, &deploy(1, "nginx"), &actor("a"), false).unwrap();
        let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}}});
        other["spec"] = json!({"replicas": 1});
        let live = server_side_apply(Some(&live), &other, &actor("b"), false).unwrap();
        let mut without = deploy(1, "nginx");
        without["spec"].as_object_mut().unwrap().remove("replicas");
        let next = server_side_apply(Some(&live), &without, &actor("a"), false).unwrap();
        assert_eq!(next["spec"]["replicas"], 1);
    }

    #[test]
    fn update_takes_changed_fields_from_other_managers() {
        let live = server_side_apply(None, &deploy(1, "nginx"), &actor("kubectl"), false).unwrap();
        let mut changed = live.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        record_update(Some(&live), &mut changed, &actor("kubectl-set"));
        let ms = managers_of(&changed);
        let image: Path = [
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"web\"}",
            "f:image",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(
            ms.iter()
                .find(|m| m.manager == "kubectl-set")
                .unwrap()
                .fields
                .contains(&image)
        );
        assert!(
            !ms.iter()
                .find(|m| m.manager == "kubectl")
                .unwrap()
                .fields
                .contains(&image)
        );
    }
}

//! The patch types of `PATCH`: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
//! Kubernetes' strategic merge patch.

use serde_json::{Map, Value};

// ---------------------------------------------------------------- JSON patch

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn pointer_tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| format!("doc is missing path: /{}", tokens.join("/")))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| format!("invalid index {t:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("doc is missing path: /{}", tokens.join("/")))?
            }
            _ => return Err(format!("doc is missing path: /{}", tokens.join("/"))),
        };
    }
    Ok(cur)
}

fn get_at(doc: &Value, path: &str) -> Result<Value, String> {
    let tokens = pointer_tokens(path)?;
    let mut cur = doc;
    for t in &tokens {
        cur = match cur {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("doc is missing path: {path}"))?;
    }
    Ok(cur.clone())
}

fn add_at(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("invalid index {last:?}"))?;
                if i > a.len() {
                    return Err(format!(
                        "add operation does not apply: index {i} out of bounds"
                    ));
                }
                a.insert(i, value);
            }
        }
        _ => {
            return Err(format!(
                "add operation does not apply: doc is missing path: {path}"
            ));
        }
    }
    Ok(())
}

fn remove_at(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    let missing = || format!("remove operation does not apply: doc is missing path: \"{path}\"");
    match parent_mut(doc, parents).map_err(|_| missing())? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i >= a.len() {
                return Err(missing());
            }
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

/// Applies an RFC 6902 JSON patch.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, String> {
    let ops = patch
        .as_array()
        .ok_or("json patch must be an array of operations")?;
    let mut doc = doc.clone();
    for op in ops {
        let path = op["path"]
            .as_str()
            .ok_or("json patch operation without path")?;
        match op["op"].as_str().unwrap_or_default() {
            "add" => add_at(
                &mut doc,
                path,
                op.get("value").cloned().unwrap_or(Value::Null),
            )?,
            "remove" => {
                remove_at(&mut doc, path)?;
            }
            "replace" => {
                remove_at(&mut doc, path).map_err(|_| {
                    format!("replace operation does not apply: doc is missing key: {path}")
                })?;
                add_at(
                    &mut doc,
                    path,
                    op.get("value").cloned().unwrap_or(Value::Null),
                )?;
            }
            "move" => {
                let from = op["from"].as_str().ok_or("move operation without from")?;
                let v = remove_at(&mut doc, from)?;
                add_at(&mut doc, path, v)?;
            }
            "copy" => {
                let from = op["from"].as_str().ok_or("copy operation without from")?;
                let v = get_at(&doc, from)?;
                add_at(&mut doc, path, v)?;
            }
            "test" => {
                let actual = get_at(&doc, path).unwrap_or(Value::Null);
                if Some(&actual) != op.get("value") {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(doc)
}

// ---------------------------------------------------------------- merge patch

/// Applies an RFC 7386 JSON merge patch.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match doc {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

// ---------------------------------------------------------------- strategic merge patch

/// How a list field is merged by strategic merge patch.
#[derive(Debug, Clone, PartialEq)]
pub enum ListStrategy {
    /// The patch list replaces the list.
    Replace,
    /// Items are merged by this key.
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (`finalizers`).
    MergeScalars,
}

/// The merge strategy of list field `field`, given a sample of its items (the known
/// `patchStrategy:"merge"` fields of the built-in types).
pub fn list_strategy(field: &str, sample: Option<&Value>) -> ListStrategy {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => ListStrategy::MergeByKey("name"),
        "volumeMounts" => ListStrategy::MergeByKey("mountPath"),
        "volumeDevices" => ListStrategy::MergeByKey("devicePath"),
        "conditions" => ListStrategy::MergeByKey("type"),
        "hostAliases" => ListStrategy::MergeByKey("ip"),
        "ownerReferences" => ListStrategy::MergeByKey("uid"),
        "topologySpreadConstraints" => ListStrategy::MergeByKey("topologyKey"),
        "finalizers" => ListStrategy::MergeScalars,
        "ports" => {
            let is_service_port = sample
                .and_then(Value::as_object)
                .is_some_and(|m| m.contains_key("port") && !m.contains_key("containerPort"));
            if is_service_port {
                ListStrategy::MergeByKey("port")
            } else {
                ListStrategy::MergeByKey("containerPort")
            }
        }
        _ => ListStrategy::Replace,
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// Applies a strategic merge patch to `doc`.
pub fn strategic_merge_patch(doc: &Value, patch: &Value) -> Result<Value, String> {
    Ok(smp_map(doc, patch)?.unwrap_or(Value::Object(Map::new())))
}

fn smp_map(doc: &Value, patch: &Value) -> Result<Option<Value>, String> {
    let Value::Object(p) = patch else {
        return Ok(Some(patch.clone()));
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => return Ok(Some(strip_directives(patch))),
        Some("merge") | None => {}
        Some(other) => return Err(format!("Unknown patch type: {other}")),
    }
    let mut out = match doc {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let remove: Vec<&Value> = v.as_array().into_iter().flatten().collect();
            if let Some(Value::Array(items)) = out.get_mut(field) {
                items.retain(|i| !remove.contains(&i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                out.remove(k);
            }
            Value::Object(_) => match smp_map(out.get(k).unwrap_or(&Value::Null), v)? {
                Some(merged) => {
                    out.insert(k.clone(), merged);
                }
                None => {
                    out.remove(k);
                }
            },
            Value::Array(items) => {
                let orig = out
                    .get(k)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let order = p
                    .get(&format!("$setElementOrder/{k}"))
                    .and_then(Value::as_array);
                let merged = smp_list(k, &orig, items, order)?;
                out.insert(k.clone(), Value::Array(merged));
            }
            scalar => {
                out.insert(k.clone(), scalar.clone());
            }
        }
    }
    if let Some(retain) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(Some(Value::Object(out)))
}

fn smp_list(
    field: &str,
    orig: &[Value],
    patch: &[Value],
    order: Option<&Vec<Value>>,
) -> Result<Vec<Value>, String> {
    let sample = patch.iter().chain(orig).find(|v| v.is_object());
    let replace_all = patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
    if replace_all {
        return Ok(patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip_directives)
            .collect());
    }
    match list_strategy(field, sample) {
        ListStrategy::Replace => Ok(patch.iter().map(strip_directives).collect()),
        ListStrategy::MergeScalars => {
            let mut out = orig.to_vec();
            for i in patch {
                if !out.contains(i) {
                    out.push(i.clone());
                }
            }
            Ok(out)
        }
        ListStrategy::MergeByKey(key) => {
            let mut out = orig.to_vec();
            for item in patch {
                let Some(kv) = item.get(key) else {
                    if item.is_object() {
                        return Err(format!(
                            "map: {item} does not contain declared merge key: {key}"
                        ));
                    }
                    out.push(item.clone());
                    continue;
                };
                let pos = out.iter().position(|o| o.get(key) == Some(kv));
                if item.get("$patch").and_then(Value::as_str) == Some("delete") {
                    out.retain(|o| o.get(key) != Some(kv));
                    continue;
                }
                match pos {
                    Some(i) => {
                        if let Some(m) = smp_map(&out[i], item)? {
                            out[i] = m;
                        } else {
                            out.remove(i);
                        }
                    }
                    None => out.push(strip_directives(item)),
                }
            }
            if let Some(order) = order {
                let rank = |v: &Value| {
                    v.get(key)
                        .and_then(|kv| order.iter().position(|o| o.get(key) == Some(kv)))
                        .unwrap_or(usize::MAX)
                };
                out.sort_by_key(rank);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_adds_replaces_removes_and_tests() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        let p = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "add", "path": "/e~1f", "value": true}
        ]);
        assert_eq!(
            json_patch(&doc, &p).unwrap(),
            json!({"a": {"b": [2, 3]}, "c": "y", "d": "y", "e/f": true})
        );
    }

    #[test]
    fn json_patch_fails_on_missing_path_and_failed_test() {
        let doc = json!({"a": 1});
        assert!(json_patch(&doc, &json!([{"op": "remove", "path": "/b"}])).is_err());
        assert!(json_patch(&doc, &json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
        assert!(
            json_patch(
                &doc,
                &json!([{"op": "replace", "path": "/x/y", "value": 2}])
            )
            .is_err()
        );
    }

    #[test]
    fn merge_patch_follows_rfc7386() {
        let doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let p = json!({"a": "z", "c": {"f": null}, "l": [3]});
        assert_eq!(
            merge_patch(&doc, &p),
            json!({"a": "z", "c": {"d": "e"}, "l": [3]})
        );
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_env_by_name() {
        let doc = json!({"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "busybox"}
        ]}});
        let p = json!({"spec": {"containers": [
            {"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}
        ]}});
        let out = strategic_merge_patch(&doc, &p).unwrap();
        assert_eq!(out["spec"]["containers"][0]["image"], "nginx:2");
        assert_eq!(
            out["spec"]["containers"][0]["env"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(out["spec"]["containers"][1]["name"], "side");
    }

    #[test]
    fn strategic_merge_delete_and_replace_directives() {
        let doc = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "args": ["x"], "m": {"k": 1}}});
        let p = json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}], "args": ["y"], "m": {"$patch": "replace", "j": 2}}});
        let out = strategic_merge_patch(&doc, &p).unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "b"}]));
        assert_eq!(out["spec"]["args"], json!(["y"]));
        assert_eq!(out["spec"]["m"], json!({"j": 2}));
        let p = json!({"spec": {"containers": [{"name": "z"}, {"$patch": "replace"}]}});
        let out = strategic_merge_patch(&doc, &p).unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "z"}]));
    }

    #[test]
    fn strategic_merge_orders_by_set_element_order_and_retains_keys() {
        let doc = json!({"c": [{"name": "a"}, {"name": "b"}], "s": {"type": "X", "x": 1}});
        let p = json!({
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b", "image": "i"}],
            "s": {"$retainKeys": ["type"], "type": "Y"}
        });
        let doc2 = json!({"containers": doc["c"].clone(), "s": doc["s"].clone()});
        let out = strategic_merge_patch(&doc2, &p).unwrap();
        assert_eq!(
            out["containers"],
            json!([{"name": "b", "image": "i"}, {"name": "a"}])
        );
        assert_eq!(out["s"], json!({"type": "Y"}));
    }

    #[test]
    fn strategic_merge_service_ports_by_port_and_finalizers_as_set() {
        let doc = json!({"spec": {"ports": [{"port": 80, "name": "http"}]}, "metadata": {"finalizers": ["a"]}});
        let p = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}, "metadata": {"finalizers": ["b", "a"]}});
        let out = strategic_merge_patch(&doc, &p).unwrap();
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "name": "http", "targetPort": 8080}])
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    }
}

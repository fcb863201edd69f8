//! The patch types of `PATCH`: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
//! Kubernetes' strategic merge patch. The first two, and the merge keys of the built-in
//! kinds, are plain object logic shared with the renderer (`kube-objects`); the strategic
//! merge here is the API server's (the renderer's is kustomize's, which orders and
//! cleans differently).

pub use kube_objects::json_patch::patched as json_patch;
use kube_objects::merge_keys::{ListMerge, holds_containers, list_merge};
pub use kube_objects::merge_patch;
use serde_json::{Map, Value};

// ---------------------------------------------------------------- strategic merge patch

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
    Ok(smp_map(doc, patch, false)?.unwrap_or(Value::Object(Map::new())))
}

/// Merges mapping `patch` into `doc`; `in_container` when `doc` is a container, whose
/// `ports` merge by `containerPort`.
fn smp_map(doc: &Value, patch: &Value, in_container: bool) -> Result<Option<Value>, String> {
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
            Value::Object(_) => match smp_map(out.get(k).unwrap_or(&Value::Null), v, false)? {
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
                let merged = smp_list(k, &orig, items, order, in_container)?;
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
    in_container: bool,
) -> Result<Vec<Value>, String> {
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
    match list_merge(field, in_container) {
        ListMerge::Replace => Ok(patch.iter().map(strip_directives).collect()),
        ListMerge::Set => {
            let mut out = orig.to_vec();
            for i in patch {
                if !out.contains(i) {
                    out.push(i.clone());
                }
            }
            Ok(out)
        }
        ListMerge::ByKey(key) => {
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
                        if let Some(m) = smp_map(&out[i], item, holds_containers(field))? {
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
    fn strategic_merge_scheduling_gates_by_name_and_container_ports_by_container_port() {
        let doc = json!({"spec": {
            "schedulingGates": [{"name": "a"}],
            "containers": [{"name": "web", "ports": [{"containerPort": 80, "name": "http"}]}]
        }});
        let p = json!({"spec": {
            "schedulingGates": [{"name": "b"}],
            "containers": [{"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]
        }});
        let out = strategic_merge_patch(&doc, &p).unwrap();
        assert_eq!(
            out["spec"]["schedulingGates"],
            json!([{"name": "a"}, {"name": "b"}])
        );
        assert_eq!(
            out["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80, "name": "http", "protocol": "TCP"}])
        );
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

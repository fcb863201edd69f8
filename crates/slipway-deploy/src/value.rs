//! Small readers for Kubernetes objects held as JSON values. A missing or mistyped
//! field reads as absent: objects come from a cluster, and a status that is not there
//! yet is normal.

use serde_json::Value;

/// The value at a dotted path such as `status.readyReplicas`.
pub fn at<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |v, key| v.get(key))
}

pub fn int(obj: &Value, path: &str) -> Option<i64> {
    at(obj, path).and_then(Value::as_i64)
}

pub fn str<'a>(obj: &'a Value, path: &str) -> Option<&'a str> {
    at(obj, path).and_then(Value::as_str)
}

pub fn list<'a>(obj: &'a Value, path: &str) -> &'a [Value] {
    at(obj, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A condition of `status.conditions` by type.
pub fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    list(obj, "status.conditions")
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// `(status, reason, message)` of a condition.
pub fn condition_parts<'a>(obj: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    condition(obj, kind).map(|c| {
        let field = |name| c.get(name).and_then(Value::as_str).unwrap_or("");
        (field("status"), field("reason"), field("message"))
    })
}

/// `group` of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group(obj: &Value) -> &str {
    match str(obj, "apiVersion") {
        Some(api) => api.rsplit_once('/').map_or("", |(g, _)| g),
        None => "",
    }
}

pub fn kind(obj: &Value) -> &str {
    str(obj, "kind").unwrap_or("")
}

pub fn name(obj: &Value) -> &str {
    str(obj, "metadata.name").unwrap_or("")
}

/// The `(container name, image)` pairs of a pod spec, in spec order.
pub fn containers(spec: Option<&Value>) -> Vec<(String, String)> {
    spec.and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let field =
                        |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    (field("name"), field("image"))
                })
                .collect()
        })
        .unwrap_or_default()
}

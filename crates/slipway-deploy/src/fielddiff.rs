//! What changes in one object: the fields whose values differ between the object as the
//! cluster has it and as a release would leave it (a server-side dry run, or the
//! result of the apply), each with its old and new value — what `slipway diff` shows,
//! as `kubectl diff` and `helm diff` do.
//!
//! What the server maintains (status, managed fields, resource version, generation,
//! timestamps) is not a change. A Secret's values never leave here: each value under
//! `data` and `stringData` is replaced by a hash of it before comparing, so a change
//! shows as two different hashes and its key is named, but not its content.

use std::collections::BTreeSet;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// One changed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// `spec.template.spec.containers[0].image`.
    pub path: String,
    /// The value on the cluster; `None` when the field is added.
    pub old: Option<Value>,
    /// The value after the release; `None` when the field is removed.
    pub new: Option<Value>,
}

/// The fields whose values differ between the cluster's object and the applied or
/// dry-run result, in path order, ignoring what the server maintains; a Secret's values
/// as hashes (see the module documentation).
pub fn changed_fields(live: &Value, wanted: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff(
        "",
        &redact_secret(&strip(live)),
        &redact_secret(&strip(wanted)),
        &mut out,
    );
    out
}

/// A Secret with each value of `data` and `stringData` replaced by
/// `<redacted sha256:…>` (the first 12 hex digits of the hash of the value); any
/// other object as it is.
pub fn redact_secret(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if obj.get("kind").and_then(Value::as_str) != Some("Secret") {
        return obj;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = obj.get_mut(field).and_then(Value::as_object_mut) {
            for v in map.values_mut() {
                let digest = Sha256::digest(v.to_string().as_bytes());
                let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                *v = Value::String(format!("<redacted sha256:{hex}>"));
            }
        }
    }
    obj
}

fn strip(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(map) = obj.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "managedFields",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "uid",
                "selfLink",
            ] {
                meta.remove(k);
            }
            if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                ann.remove("deployment.kubernetes.io/revision");
                ann.remove("kubectl.kubernetes.io/last-applied-configuration");
                // Which run released an object is not a change of the object.
                ann.retain(|k, _| !k.starts_with(crate::record::PROVENANCE_PREFIX));
                if ann.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
    }
    obj
}

fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<FieldChange>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => diff(&p, v, w, out),
                    (v, w) => out.push(FieldChange {
                        path: p,
                        old: v.cloned(),
                        new: w.cloned(),
                    }),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), v, w, out);
            }
        }
        _ if a != b => out.push(FieldChange {
            path: path.to_string(),
            old: Some(a.clone()),
            new: Some(b.clone()),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(changes: &[FieldChange]) -> Vec<&str> {
        changes.iter().map(|c| c.path.as_str()).collect()
    }

    #[test]
    fn changed_fields_ignore_what_the_server_maintains() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "5", "generation": 2,
            "managedFields": [{}], "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "api", "image": "r/api:1"}]}}},
            "status": {"replicas": 1}});
        let mut wanted = live.clone();
        wanted["metadata"]["resourceVersion"] = json!("6");
        wanted["status"] = json!({"replicas": 2});
        assert!(changed_fields(&live, &wanted).is_empty());
        wanted["spec"]["template"]["spec"]["containers"][0]["image"] = json!("r/api:2");
        assert_eq!(
            changed_fields(&live, &wanted),
            [FieldChange {
                path: "spec.template.spec.containers[0].image".into(),
                old: Some(json!("r/api:1")),
                new: Some(json!("r/api:2")),
            }]
        );
    }

    #[test]
    fn added_and_removed_fields_have_no_value_on_one_side() {
        let live = json!({"spec": {"replicas": 1, "paused": true}});
        let wanted = json!({"spec": {"replicas": 1, "minReadySeconds": 5}});
        let changes = changed_fields(&live, &wanted);
        assert_eq!(paths(&changes), ["spec.minReadySeconds", "spec.paused"]);
        assert_eq!((&changes[0].old, &changes[0].new), (&None, &Some(json!(5))));
        assert_eq!(
            (&changes[1].old, &changes[1].new),
            (&Some(json!(true)), &None)
        );
    }

    #[test]
    fn secret_values_are_hashes_that_differ_when_the_value_does() {
        let live = json!({"kind": "Secret", "data": {"token": "b2xk", "same": "eA=="}});
        let wanted =
            json!({"kind": "Secret", "data": {"token": "bmV3", "same": "eA==", "added": "eQ=="}});
        let changes = changed_fields(&live, &wanted);
        assert_eq!(paths(&changes), ["data.added", "data.token"]);
        let shown = format!("{changes:?}");
        for value in ["b2xk", "bmV3", "eA==", "eQ=="] {
            assert!(!shown.contains(value), "{shown}");
        }
        let token = &changes[1];
        assert_ne!(token.old, token.new);
        assert!(
            token
                .old
                .as_ref()
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("<redacted sha256:"),
            "{token:?}"
        );
    }
}

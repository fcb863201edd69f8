//! `openapi`: an OpenAPI schema telling how custom kinds merge.
//!
//! kustomize merges lists by the `x-kubernetes-patch-merge-key` its schema gives for
//! them. For the kinds a schema file names (`x-kubernetes-group-version-kind`), this
//! module walks the definition (following `$ref`s) and records, for every list field,
//! its slash path from the object's root and its merge key, or that it has none (the
//! list is then replaced). Strategic merge patches on those kinds use these keys; other
//! kinds keep the built-in Kubernetes table.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::RenderError;

/// List paths of one kind and their merge keys (`None`: replaced whole).
pub(crate) type ListKeys = HashMap<String, Option<String>>;

/// List keys by (group, version, kind).
pub(crate) type Schemas = HashMap<(String, String, String), ListKeys>;

/// How deep `$ref`s are followed (schemas of recursive types never end).
const MAX_DEPTH: usize = 32;

/// Read a schema file (JSON or YAML).
pub(crate) fn load(file: &Path, line: usize) -> Result<Schemas, RenderError> {
    let text = crate::read::read_text(file)?;
    let docs = super::load::patch_documents(&text, file)?;
    let invalid = |message: &str| RenderError::Invalid {
        file: file.to_owned(),
        line,
        field: "openapi.path".into(),
        message: message.to_owned(),
    };
    let Some(Value::Object(defs)) = docs.first().and_then(|(d, _)| d.get("definitions")) else {
        return Err(invalid("the schema has no `definitions`"));
    };
    let mut out = Schemas::new();
    for def in defs.values() {
        let Some(Value::Array(gvks)) = def.get("x-kubernetes-group-version-kind") else {
            continue;
        };
        let mut keys = ListKeys::new();
        walk(defs, def, String::new(), &mut keys, 0);
        for gvk in gvks {
            let text = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            out.insert((text("group"), text("version"), text("kind")), keys.clone());
        }
    }
    Ok(out)
}

fn resolve<'v>(defs: &'v serde_json::Map<String, Value>, v: &'v Value) -> &'v Value {
    match v
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/definitions/"))
    {
        Some(name) => defs.get(name).unwrap_or(v),
        None => v,
    }
}

fn walk(
    defs: &serde_json::Map<String, Value>,
    v: &Value,
    path: String,
    out: &mut ListKeys,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let v = resolve(defs, v);
    let Some(Value::Object(props)) = v.get("properties") else {
        return;
    };
    for (name, prop) in props {
        let p = format!("{path}/{name}");
        let prop = resolve(defs, prop);
        if prop.get("type").and_then(Value::as_str) == Some("array") {
            let merges = prop
                .get("x-kubernetes-patch-strategy")
                .and_then(Value::as_str)
                .is_some_and(|s| s.split(',').any(|x| x.trim() == "merge"));
            let key = prop
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
                .filter(|_| merges)
                .map(str::to_owned);
            out.insert(p.clone(), key);
            if let Some(items) = prop.get("items") {
                walk(defs, items, p, out, depth + 1);
            }
        } else {
            walk(defs, prop, p, out, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keys_follow_references_into_nested_lists() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("schema.json");
        std::fs::write(
            &f,
            r##"{"definitions": {
              "v1.My": {"x-kubernetes-group-version-kind": [{"group": "ex.com", "version": "v1", "kind": "My"}],
                "properties": {"spec": {"properties": {"items": {"type": "array",
                  "items": {"$ref": "#/definitions/Item"},
                  "x-kubernetes-patch-merge-key": "id", "x-kubernetes-patch-strategy": "merge"}}}}},
              "Item": {"properties": {"tags": {"type": "array", "items": {"type": "string"}}}}
            }}"##,
        )
        .unwrap();
        let s = load(&f, 1).unwrap();
        let keys = &s[&("ex.com".to_owned(), "v1".to_owned(), "My".to_owned())];
        assert_eq!(keys["/spec/items"], Some("id".to_owned()));
        assert_eq!(keys["/spec/items/tags"], None);
    }
}

//! A custom resource against its CRD's structural schema, as the real server treats it on
//! every write: fields the schema does not know are pruned (unless
//! `x-kubernetes-preserve-unknown-fields`), `null` values of fields that are not
//! `nullable` are dropped, `default`s are filled in, and the result is validated — `type`,
//! `required`, `enum`, `minimum`/`maximum` (and exclusive), `minLength`/`maxLength`,
//! `pattern`, `minItems`/`maxItems`, `x-kubernetes-int-or-string` — with the real field
//! errors (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type
//! integer: "string"`), answered as `422 Invalid`.
//!
//! Written by hand: the JSON Schema validators in Rust know neither the Kubernetes
//! extensions (`x-kubernetes-*`) nor the apiserver's error wording, which clients show;
//! patterns are matched with the `regex` crate.
//! Not evaluated: `anyOf`/`allOf`/`oneOf`/`not`, `format`, `uniqueItems`,
//! `x-kubernetes-validations` (CEL) and list-type uniqueness.

use crate::errors::ApiError;
use crate::resources::ResourceType;
use serde_json::{Map, Value};

/// Prunes, defaults and validates `obj` in place; `422 Invalid` with every field error.
pub fn admit(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let Some(schema) = rt.schema.as_deref() else {
        return Ok(());
    };
    normalize_root(schema, obj);
    let mut errors = Vec::new();
    validate(schema, obj, "", &mut errors);
    // The object's identity is the store's business, not the schema's.
    errors.retain(|(field, _, _)| {
        !(field == "apiVersion" || field == "kind" || field.starts_with("metadata"))
    });
    if errors.is_empty() {
        return Ok(());
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::invalid(&rt.group, &rt.kind, name, errors))
}

/// The paths of the fields pruning would drop (for `fieldValidation`).
pub fn unknown_paths(schema: &Value, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(props), Some(m)) = (schema["properties"].as_object(), obj.as_object()) {
        for (k, v) in m {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match props.get(k) {
                Some(s) => unknowns(s, v, k, &mut out),
                None if !preserves(schema) => out.push(k.clone()),
                None => {}
            }
        }
    }
    out
}

fn preserves(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == true
}

fn unknowns(schema: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(props) = schema["properties"].as_object() {
                for (k, child) in m {
                    let p = format!("{path}.{k}");
                    match props.get(k) {
                        Some(s) => unknowns(s, child, &p, out),
                        None if !preserves(schema) => out.push(p),
                        None => {}
                    }
                }
            } else if schema["additionalProperties"].is_object() {
                for (k, child) in m {
                    unknowns(
                        &schema["additionalProperties"],
                        child,
                        &format!("{path}.{k}"),
                        out,
                    );
                }
            }
        }
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                unknowns(&schema["items"], item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Pruning, dropping nulls and defaulting, from the root (whose `apiVersion`, `kind` and
/// `metadata` are kept as they are).
fn normalize_root(schema: &Value, obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let keep: Vec<(String, Value)> = ["apiVersion", "kind", "metadata"]
        .iter()
        .filter_map(|k| m.remove(*k).map(|v| (k.to_string(), v)))
        .collect();
    normalize(schema, obj);
    if let Some(m) = obj.as_object_mut() {
        for (k, v) in keep {
            m.insert(k, v);
        }
    }
}

fn normalize(schema: &Value, v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(props) = schema["properties"].as_object() {
                if !preserves(schema) {
                    m.retain(|k, _| props.contains_key(k));
                }
                m.retain(|k, val| {
                    !val.is_null() || props.get(k).is_some_and(|s| s["nullable"] == true)
                });
                for (k, s) in props {
                    if !m.contains_key(k)
                        && let Some(d) = s.get("default")
                    {
                        m.insert(k.clone(), d.clone());
                    }
                }
                for (k, child) in m.iter_mut() {
                    if let Some(s) = props.get(k) {
                        normalize(s, child);
                    }
                }
            } else if let Some(add) = schema["additionalProperties"].as_object() {
                let add = Value::Object(add.clone());
                m.retain(|_, val| !val.is_null() || add["nullable"] == true);
                for child in m.values_mut() {
                    normalize(&add, child);
                }
            }
        }
        Value::Array(a) => {
            for item in a.iter_mut() {
                normalize(&schema["items"], item);
            }
        }
        _ => {}
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// How a value is shown after "Invalid value:" (Go's `%#v` of the decoded value).
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

fn type_matches(expected: &str, v: &Value) -> bool {
    match (expected, type_of(v)) {
        (e, a) if e == a => true,
        ("number", "integer") => true,
        // A whole number written as a float (`3.0`) is an integer.
        ("integer", "number") => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

type FieldError = (String, String, &'static str);

fn validate(schema: &Value, v: &Value, path: &str, out: &mut Vec<FieldError>) {
    let body = if path.is_empty() { "body" } else { path };
    let invalid = |out: &mut Vec<FieldError>, detail: String| {
        out.push((
            path.to_string(),
            format!("Invalid value: {}: {detail}", shown(v)),
            "FieldValueInvalid",
        ))
    };
    if v.is_null() && schema["nullable"] == true {
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !matches!(type_of(v), "integer" | "string") {
            out.push((
                path.to_string(),
                format!(
                    "Invalid value: \"{}\": {body} in body must be of type integer,string: \"{}\"",
                    type_of(v),
                    type_of(v)
                ),
                "FieldValueTypeInvalid",
            ));
            return;
        }
    } else if let Some(t) = schema["type"].as_str()
        && !type_matches(t, v)
    {
        out.push((
            path.to_string(),
            format!(
                "Invalid value: \"{}\": {body} in body must be of type {t}: \"{}\"",
                type_of(v),
                type_of(v)
            ),
            "FieldValueTypeInvalid",
        ));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(v)
    {
        let listed: Vec<String> = allowed.iter().map(shown).collect();
        out.push((
            path.to_string(),
            format!(
                "Unsupported value: {}: supported values: {}",
                shown(v),
                listed.join(", ")
            ),
            "FieldValueNotSupported",
        ));
    }
    match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            let num = |k: &str| schema[k].as_f64();
            if let Some(min) = num("minimum") {
                if schema["exclusiveMinimum"] == true && x <= min {
                    invalid(
                        out,
                        format!(
                            "{body} in body should be greater than {}",
                            schema["minimum"]
                        ),
                    );
                } else if x < min {
                    invalid(
                        out,
                        format!(
                            "{body} in body should be greater than or equal to {}",
                            schema["minimum"]
                        ),
                    );
                }
            }
            if let Some(max) = num("maximum") {
                if schema["exclusiveMaximum"] == true && x >= max {
                    invalid(
                        out,
                        format!("{body} in body should be less than {}", schema["maximum"]),
                    );
                } else if x > max {
                    invalid(
                        out,
                        format!(
                            "{body} in body should be less than or equal to {}",
                            schema["maximum"]
                        ),
                    );
                }
            }
        }
        Value::String(s) => {
            let chars = s.chars().count() as u64;
            if let Some(max) = schema["maxLength"].as_u64()
                && chars > max
            {
                out.push((
                    path.to_string(),
                    format!("Too long: must have at most {max} bytes"),
                    "FieldValueTooLong",
                ));
            }
            if let Some(min) = schema["minLength"].as_u64()
                && chars < min
            {
                invalid(
                    out,
                    format!("{body} in body should be at least {min} chars long"),
                );
            }
            if let Some(p) = schema["pattern"].as_str()
                && !pattern_matches(p, s)
            {
                invalid(out, format!("{body} in body should match '{p}'"));
            }
        }
        Value::Array(a) => {
            if let Some(max) = schema["maxItems"].as_u64()
                && a.len() as u64 > max
            {
                out.push((
                    path.to_string(),
                    format!("Too many: {}: must have at most {max} items", a.len()),
                    "FieldValueTooMany",
                ));
            }
            if let Some(min) = schema["minItems"].as_u64()
                && (a.len() as u64) < min
            {
                invalid(
                    out,
                    format!("{body} in body should have at least {min} items"),
                );
            }
            for (i, item) in a.iter().enumerate() {
                validate(&schema["items"], item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(m) => validate_object(schema, m, path, out),
        _ => {}
    }
}

fn validate_object(schema: &Value, m: &Map<String, Value>, path: &str, out: &mut Vec<FieldError>) {
    let child = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    for r in schema["required"].as_array().into_iter().flatten() {
        if let Some(k) = r.as_str()
            && !m.contains_key(k)
        {
            out.push((child(k), "Required value".into(), "FieldValueRequired"));
        }
    }
    let props = schema["properties"].as_object();
    for (k, v) in m {
        if let Some(s) = props.and_then(|p| p.get(k)) {
            validate(s, v, &child(k), out);
        } else if schema["additionalProperties"].is_object() {
            validate(&schema["additionalProperties"], v, &child(k), out);
        }
    }
}

/// Whether `s` matches `p`. The real server evaluates patterns with Go's RE2 engine; the
/// `regex` crate has the same syntax and semantics. A pattern that does not compile
/// matches everything (CRD creation would have refused it on a real server).
fn pattern_matches(p: &str, s: &str) -> bool {
    regex::Regex::new(p).map_or(true, |re| re.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(schema: Value) -> ResourceType {
        let crd = json!({"spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": schema}}]}});
        crate::resources::from_crd(&crd).remove(0)
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {
        "spec": {"type": "object", "required": ["size"], "properties": {
            "replicas": {"type": "integer", "minimum": 1, "default": 1},
            "size": {"type": "string", "enum": ["S", "M"]},
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "maxLength": 10},
            "port": {"x-kubernetes-int-or-string": true},
            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }}}})
    }

    #[test]
    fn unknown_fields_are_pruned_and_defaults_filled() {
        let mut o = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": "S", "bogus": 1, "extra": {"anything": {"goes": true}}, "name": null}, "top": 1});
        admit(&rt(schema()), &mut o).unwrap();
        assert_eq!(
            o,
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": "S", "replicas": 1, "extra": {"anything": {"goes": true}}}})
        );
    }

    #[test]
    fn errors_have_the_apiserver_wording() {
        let mut o = json!({"metadata": {"name": "w"}, "spec": {"replicas": "three", "name": "Bad_Name!", "port": true, "tags": ["a", "b", "c"]}});
        let e = admit(&rt(schema()), &mut o).unwrap_err();
        assert_eq!(e.code, 422);
        let m = &e.message;
        assert!(
            m.starts_with("Widget.example.com \"w\" is invalid: ["),
            "{m}"
        );
        for part in [
            "spec.size: Required value",
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
            "spec.name: Invalid value: \"Bad_Name!\": spec.name in body should match '^[a-z][a-z0-9-]*$'",
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            "spec.tags: Too many: 3: must have at most 2 items",
        ] {
            assert!(m.contains(part), "{part} in {m}");
        }
        let mut o = json!({"metadata": {"name": "w"}, "spec": {"size": "XL", "replicas": 0}});
        let m = admit(&rt(schema()), &mut o).unwrap_err().message;
        assert!(
            m.contains("spec.size: Unsupported value: \"XL\": supported values: \"S\", \"M\""),
            "{m}"
        );
        assert!(m.contains("spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"), "{m}");
    }

    #[test]
    fn patterns_cover_what_crds_write() {
        assert!(pattern_matches("^[a-z][a-z0-9-]*$", "web-1"));
        assert!(!pattern_matches("^[a-z][a-z0-9-]*$", "Web"));
        assert!(pattern_matches("^(http|https)://.+$", "https://x"));
        assert!(!pattern_matches("^(http|https)://.+$", "ftp://x"));
        assert!(pattern_matches("^\\d{1,3}(\\.\\d{1,3}){3}$", "10.0.0.1"));
        assert!(!pattern_matches("^\\d{1,3}(\\.\\d{1,3}){3}$", "10.0.0"));
        assert!(pattern_matches("abc", "xxabcxx"));
    }
}

//! A small validator for the subset of OpenAPI v3 / JSON Schema that Kubernetes uses:
//! structural CRD schemas (`type`, `properties`, `required`, `items`, `enum`,
//! `additionalProperties`, `nullable`, `x-kubernetes-preserve-unknown-fields`,
//! `x-kubernetes-int-or-string`, `x-kubernetes-embedded-resource`) and the schemas of the
//! built-in types (the same subset plus local `$ref`s).

use std::collections::BTreeMap;

use serde_json::Value;

/// The OpenAPI v3 schemas of custom resources, by group, version and kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrdSchemas {
    schemas: BTreeMap<(String, String), Value>,
}

impl CrdSchemas {
    /// No schemas.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the schema (`openAPIV3Schema`) of `kind` as served under `api_version`
    /// (`group/version`).
    pub fn insert(&mut self, api_version: &str, kind: &str, schema: Value) {
        self.schemas
            .insert((api_version.to_owned(), kind.to_owned()), schema);
    }

    /// Adds every served version of a `CustomResourceDefinition` object (as JSON) that
    /// carries a schema. Returns the number of versions added.
    pub fn add_crd(&mut self, crd: &Value) -> usize {
        let spec = &crd["spec"];
        let (Some(group), Some(kind)) = (spec["group"].as_str(), spec["names"]["kind"].as_str())
        else {
            return 0;
        };
        let mut added = 0;
        for version in spec["versions"].as_array().into_iter().flatten() {
            let Some(name) = version["name"].as_str() else {
                continue;
            };
            if version["served"] == Value::Bool(false) {
                continue;
            }
            let schema = &version["schema"]["openAPIV3Schema"];
            if schema.is_object() {
                self.insert(&format!("{group}/{name}"), kind, schema.clone());
                added += 1;
            }
        }
        added
    }

    /// Builds the schemas from `CustomResourceDefinition` objects, e.g. as listed from
    /// the cluster.
    pub fn from_crds<'a>(crds: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut schemas = Self::new();
        for crd in crds {
            schemas.add_crd(crd);
        }
        schemas
    }

    /// The schema of `kind` under `api_version`.
    pub fn get(&self, api_version: &str, kind: &str) -> Option<&Value> {
        self.schemas.get(&(api_version.to_owned(), kind.to_owned()))
    }

    /// The `apiVersion`s under which `kind` of `group` has a schema.
    pub(crate) fn api_versions(&self, group: &str, kind: &str) -> Vec<&str> {
        self.schemas
            .keys()
            .filter(|(v, k)| k == kind && crate::decode::group_of(v) == group)
            .map(|(v, _)| v.as_str())
            .collect()
    }

    /// Whether no schema is known.
    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }
}

/// One place where a value does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// Field path, e.g. `spec.replicas` or `spec.ports[0].port`.
    pub path: String,
    /// What is wrong, lowercase, values in backticks.
    pub message: String,
    pub kind: ViolationKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ViolationKind {
    Unknown,
    Type,
    Required,
    Enum,
}

/// What to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Everything: unknown fields, types, enums and required fields (custom resources).
    Full,
    /// Required fields only (built-in kinds, whose types and unknown fields are checked
    /// by decoding them into their typed form).
    RequiredOnly,
}

/// Validates `value` against `schema`; `$ref`s are resolved in `root` (`$defs` or
/// `definitions`). The top level is a Kubernetes object: `apiVersion`, `kind` and
/// `metadata` are always allowed there.
pub(crate) fn validate(root: &Value, value: &Value, mode: Mode) -> Vec<Violation> {
    let mut v = Validator {
        root,
        mode,
        out: Vec::new(),
        depth: 0,
    };
    let mut path = String::new();
    v.check(root, value, &mut path, true);
    v.out
}

struct Validator<'s> {
    root: &'s Value,
    mode: Mode,
    out: Vec<Violation>,
    depth: usize,
}

/// Deeper than any real object; guards against recursive `$ref`s on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

/// `schema` with its local `$ref`s (`#/$defs/…`, `#/definitions/…`) followed in `root`.
pub(crate) fn resolve<'s>(root: &'s Value, schema: &'s Value) -> &'s Value {
    let mut schema = schema;
    // Follow chains of references, a bounded number of times.
    for _ in 0..8 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let target = ["#/$defs/", "#/definitions/"].iter().find_map(|prefix| {
            let name = reference.strip_prefix(prefix)?;
            let name = name.replace("~1", "/").replace("~0", "~");
            let defs = prefix.trim_start_matches("#/").trim_end_matches('/');
            root.get(defs)?.get(name.as_str())
        });
        match target {
            Some(t) => schema = t,
            None => break,
        }
    }
    schema
}

impl<'s> Validator<'s> {
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        resolve(self.root, schema)
    }

    fn push(&mut self, path: &str, kind: ViolationKind, message: String) {
        self.out.push(Violation {
            path: if path.is_empty() {
                ".".to_owned()
            } else {
                path.to_owned()
            },
            message,
            kind,
        });
    }

    fn check(&mut self, schema: &'s Value, value: &Value, path: &mut String, embedded: bool) {
        if self.depth > MAX_DEPTH {
            return;
        }
        let schema = self.resolve(schema);
        if !schema.is_object() || value.is_null() {
            // Kubernetes treats an explicit `null` like an absent field.
            return;
        }
        let full = self.mode == Mode::Full;
        if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            if full && !(value.is_string() || is_integer(value)) {
                self.push(
                    path,
                    ViolationKind::Type,
                    format!("expected an integer or a string, found {}", describe(value)),
                );
            }
            return;
        }
        if full {
            if let Some(ty) = schema.get("type").and_then(Value::as_str) {
                let fits = match ty {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => is_integer(value),
                    "number" => value.is_number(),
                    "boolean" => value.is_boolean(),
                    _ => true,
                };
                if !fits {
                    self.push(
                        path,
                        ViolationKind::Type,
                        format!("expected `{ty}`, found {}", describe(value)),
                    );
                    return;
                }
            }
            if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
                && !allowed.contains(value)
            {
                let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
                self.push(
                    path,
                    ViolationKind::Enum,
                    format!("`{value}` is not one of {}", list.join(", ")),
                );
            }
        }
        self.depth += 1;
        match value {
            Value::Object(map) => self.check_object(schema, map, path, embedded),
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        self.check(item_schema, item, path, false);
                        path.truncate(len);
                    }
                }
            }
            _ => {}
        }
        self.depth -= 1;
    }

    fn check_object(
        &mut self,
        schema: &'s Value,
        map: &serde_json::Map<String, Value>,
        path: &mut String,
        embedded: bool,
    ) {
        let full = self.mode == Mode::Full;
        let embedded =
            embedded || schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if map.get(required).is_none_or(Value::is_null) {
                self.push(
                    path,
                    ViolationKind::Required,
                    format!("missing required field `{required}`"),
                );
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let preserve =
            schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        for (key, child) in map {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            if embedded && key == "metadata" {
                // An object's `metadata` is an ObjectMeta whatever the schema lists (a
                // CRD's schema commonly says `metadata: {type: object}`, and may only
                // constrain `name` and `generateName` there, as the API server allows).
                self.check_meta(properties.and_then(|p| p.get(key)), child, path);
            } else if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                self.check(child_schema, child, path, false);
            } else if let Some(additional @ Value::Object(_)) = additional {
                self.check(additional, child, path, false);
            } else if embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                // Always part of an object, whether the schema lists them or not.
            } else if full && !preserve && additional != Some(&Value::Bool(true)) {
                self.push(
                    path,
                    ViolationKind::Unknown,
                    format!("unknown field `{key}`"),
                );
            }
            path.truncate(len);
        }
    }
}

impl<'s> Validator<'s> {
    /// `metadata` of an object: only what its schema says of `name` and `generateName`.
    fn check_meta(&mut self, schema: Option<&'s Value>, meta: &Value, path: &mut String) {
        let Some(properties) = schema
            .map(|s| self.resolve(s))
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
        else {
            return;
        };
        for key in ["name", "generateName"] {
            if let (Some(field_schema), Some(value)) = (properties.get(key), meta.get(key)) {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                self.check(field_schema, value, path, false);
                path.truncate(len);
            }
        }
    }
}

fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// `string "3"`, `integer 3`, … for messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "`null`".to_owned(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) if n.is_f64() => format!("number `{n}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) => format!("string `{s:?}`"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer"},
                        "mode": {"type": "string", "enum": ["fast", "safe"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    }
                }
            }
        })
    }

    fn messages(value: Value) -> Vec<String> {
        validate(&schema(), &value, Mode::Full)
            .into_iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect()
    }

    #[test]
    fn valid_object_has_no_violations() {
        let value = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"size": 1, "mode": "fast", "port": "http", "labels": {"a": "b"},
                     "items": [{"name": "x"}], "free": {"anything": [1]}}});
        assert_eq!(messages(value), Vec::<String>::new());
    }

    #[test]
    fn each_kind_of_violation_is_reported_with_its_path() {
        let value = json!({"spec": {"size": "3", "mode": "slow", "port": true,
            "labels": {"a": 1}, "items": [{"nmae": "x"}], "extra": 1}});
        assert_eq!(
            messages(value),
            vec![
                "spec.extra: unknown field `extra`",
                "spec.items[0].nmae: unknown field `nmae`",
                "spec.labels.a: expected `string`, found integer `1`",
                "spec.mode: `\"slow\"` is not one of `\"fast\"`, `\"safe\"`",
                "spec.port: expected an integer or a string, found boolean `true`",
                "spec.size: expected `integer`, found string `\"3\"`",
            ]
        );
    }

    #[test]
    fn metadata_is_object_meta_even_where_the_schema_lists_it_as_a_bare_object() {
        // As controller-gen writes every CRD: `metadata: {type: object}` at the top.
        let root = json!({"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "enum": ["api"]}}},
            "spec": {"type": "object"}}});
        let value = json!({"apiVersion": "x/v1", "kind": "X",
            "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "api"},
                "annotations": {"a": "b"}}, "spec": {}});
        assert_eq!(validate(&root, &value, Mode::Full), Vec::<Violation>::new());
        let other = json!({"metadata": {"name": "web"}});
        let found: Vec<String> = validate(&root, &other, Mode::Full)
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(found, vec!["metadata.name"]);
    }

    #[test]
    fn missing_required_field_is_reported_at_its_parent() {
        assert_eq!(
            messages(json!({"spec": {}})),
            vec!["spec: missing required field `size`"]
        );
    }

    #[test]
    fn add_crd_reads_every_served_version() {
        let crd = json!({"spec": {"group": "example.com", "names": {"kind": "Widget"},
        "versions": [
            {"name": "v1", "served": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
            {"name": "v0", "served": false, "schema": {"openAPIV3Schema": {"type": "object"}}}
        ]}});
        let schemas = CrdSchemas::from_crds([&crd]);
        assert!(schemas.get("example.com/v1", "Widget").is_some());
        assert!(schemas.get("example.com/v0", "Widget").is_none());
    }
}

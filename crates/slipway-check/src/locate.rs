//! Where a finding's field is written: the line and column of the field in the object's
//! document, when the rendered field is still as written there.
//!
//! A finding names its field by a path such as `spec.template.spec.containers[0].image`
//! (schema findings index sequences) or `spec.template.spec.containers[api].image`
//! (policy findings name containers, env entries and volumes). The path is walked in the
//! rendered object and, side by side, in the document as written. Patches, transformers
//! and slipway change the rendered object but never the document, so the two disagree
//! exactly where a field was added or changed after it was read:
//!
//! - a scalar found in both with the same value is **written** there;
//! - a mapping or sequence found in both is written there too (what it holds may have
//!   been added to, but the field itself is in the file);
//! - a field absent from the rendered object (a missing probe) is placed at the closest
//!   enclosing field, if that one is written;
//! - anything else was **not written** in the file: a patch or transformer set it.
//!
//! Keys may contain dots (`metadata.annotations.example.com/team`): at each mapping the
//! longest key that the rest of the path starts with wins.

use serde_json::Value;
use slipway_config::yaml::{Node, NodeKind, ScalarValue};

/// Which position of a field to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The key: for unknown fields, missing fields, and whole mappings.
    Key,
    /// The value when it is a scalar (a wrong type, a bad image), else the key.
    Value,
}

/// The outcome of [`locate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// The field (or, for an absent field, its closest enclosing field) is written at
    /// this line and column.
    Written { line: usize, column: usize },
    /// The object has a document, but the field is not in it as written.
    NotWritten,
}

/// One step of a walk: the rendered value and, when still in step, the written node and
/// the key node that led to it.
struct Cursor<'a> {
    value: &'a Value,
    written: Option<(&'a Node, Option<&'a Node>)>,
}

/// Where `path` of `object` is written in `document`.
pub(crate) fn locate(document: &Node, object: &Value, path: &str, anchor: Anchor) -> Place {
    let mut at = Cursor {
        value: object,
        written: Some((document, None)),
    };
    let mut rest = if path == "." { "" } else { path };
    let mut absent = false;
    while !rest.is_empty() {
        let next = if let Some(inner) = rest.strip_prefix('[') {
            let Some(end) = inner.find(']') else {
                absent = true;
                break;
            };
            let token = &inner[..end];
            rest = inner[end + 1..]
                .strip_prefix('.')
                .unwrap_or(&inner[end + 1..]);
            item(&at, token)
        } else {
            match key(&at, rest) {
                Some((next, len)) => {
                    rest = &rest[len..];
                    rest = rest.strip_prefix('.').unwrap_or(rest);
                    Some(next)
                }
                None => None,
            }
        };
        match next {
            Some(next) => at = next,
            None => {
                absent = true;
                break;
            }
        }
    }
    let Some((node, key)) = at.written else {
        return Place::NotWritten;
    };
    let in_file = absent
        || match (at.value, &node.kind) {
            (Value::Object(_), NodeKind::Map(_)) | (Value::Array(_), NodeKind::Seq(_)) => true,
            (Value::Object(_) | Value::Array(_), _) => false,
            (value, _) => same_scalar(node, value),
        };
    if !in_file {
        return Place::NotWritten;
    }
    let scalar_value = !absent && !matches!(node.kind, NodeKind::Map(_) | NodeKind::Seq(_));
    let spot = match (anchor, key) {
        (Anchor::Value, Some(_)) if scalar_value && !node.is_null() => node,
        (_, Some(key)) => key,
        (_, None) => node,
    };
    Place::Written {
        line: spot.line,
        column: spot.column,
    }
}

/// The entry of the mapping at `at` whose key is the longest prefix of `rest` that ends
/// where a path segment ends; with the length of that key.
fn key<'a>(at: &Cursor<'a>, rest: &str) -> Option<(Cursor<'a>, usize)> {
    let map = at.value.as_object()?;
    let (name, value) = map
        .iter()
        .filter(|(k, _)| {
            rest.starts_with(k.as_str())
                && matches!(rest.as_bytes().get(k.len()), None | Some(b'.' | b'['))
        })
        .max_by_key(|(k, _)| k.len())?;
    let written = at.written.and_then(|(node, _)| {
        let entries = node.entries()?;
        entries
            .iter()
            .rev()
            .find(|(k, _)| key_text(k) == Some(name.as_str()))
            .map(|(k, v)| (v, Some(k)))
    });
    Some((Cursor { value, written }, name.len()))
}

/// The item of the sequence at `at` named by `token`: an index, or the item whose `name`
/// is `token`.
fn item<'a>(at: &Cursor<'a>, token: &str) -> Option<Cursor<'a>> {
    let items = at.value.as_array()?;
    let (index, value) = match token.parse::<usize>() {
        Ok(i) => (i, items.get(i)?),
        Err(_) => items
            .iter()
            .enumerate()
            .find(|(_, v)| v.get("name").and_then(Value::as_str) == Some(token))?,
    };
    let written = at.written.and_then(|(node, _)| {
        let nodes = node.items()?;
        // Items with a name are matched by name: patches may reorder or insert them.
        // Items without one only by position, when nothing was inserted or removed.
        let found = match value.get("name").and_then(Value::as_str) {
            Some(name) => nodes
                .iter()
                .find(|n| n.get("name").and_then(Node::as_str) == Some(name)),
            None if nodes.len() == items.len() => nodes.get(index),
            None => None,
        };
        found.map(|n| (n, None))
    });
    Some(Cursor { value, written })
}

/// The text of a mapping key, as the renderer turns it into a JSON key.
fn key_text(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Scalar(s) => Some(&s.text),
        NodeKind::Null => Some("null"),
        _ => None,
    }
}

/// Whether a written scalar reads as `value`.
fn same_scalar(node: &Node, value: &Value) -> bool {
    match &node.kind {
        NodeKind::Null => value.is_null(),
        NodeKind::Scalar(s) => match s.value() {
            ScalarValue::Str(text) => value.as_str() == Some(text),
            ScalarValue::Bool(b) => value.as_bool() == Some(b),
            ScalarValue::Int(i) => value.as_i64() == Some(i),
            ScalarValue::Float(f) => {
                value.as_f64() == Some(f) || value.as_str() == Some(s.text.as_str())
            }
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_config::yaml::parse_documents;

    const TEXT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    example.com/team: shop
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: api
          image: api:1
          ports:
            - containerPort: 8080
";

    fn place(object: &Value, path: &str, anchor: Anchor) -> Place {
        let doc = parse_documents(TEXT).unwrap().remove(0);
        locate(&doc, object, path, anchor)
    }

    fn written() -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "annotations": {"example.com/team": "shop"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "api", "image": "api:1", "ports": [{"containerPort": 8080}]}
            ]}}}
        })
    }

    fn at(line: usize, column: usize) -> Place {
        Place::Written { line, column }
    }

    #[test]
    fn scalars_are_placed_at_their_value_or_key() {
        let o = written();
        assert_eq!(place(&o, "spec.replicas", Anchor::Value), at(8, 13));
        assert_eq!(place(&o, "spec.replicas", Anchor::Key), at(8, 3));
        let image = "spec.template.spec.containers[api].image";
        assert_eq!(place(&o, image, Anchor::Value), at(13, 18));
        let image = "spec.template.spec.containers[0].image";
        assert_eq!(place(&o, image, Anchor::Value), at(13, 18));
    }

    #[test]
    fn keys_with_dots_and_items_without_names_are_found() {
        let o = written();
        let team = "metadata.annotations.example.com/team";
        assert_eq!(place(&o, team, Anchor::Key), at(6, 5));
        let port = "spec.template.spec.containers[api].ports[0].containerPort";
        assert_eq!(place(&o, port, Anchor::Value), at(15, 30));
    }

    #[test]
    fn an_absent_field_is_placed_at_its_closest_written_parent() {
        let o = written();
        let probe = "spec.template.spec.containers[api].readinessProbe";
        assert_eq!(place(&o, probe, Anchor::Value), at(12, 11));
        assert_eq!(place(&o, ".", Anchor::Key), at(1, 1));
    }

    #[test]
    fn a_changed_or_added_field_is_not_written() {
        let mut o = written();
        o["spec"]["replicas"] = serde_json::json!(3);
        assert_eq!(place(&o, "spec.replicas", Anchor::Value), Place::NotWritten);
        o["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .insert(0, serde_json::json!({"name": "sidecar", "image": "s:1"}));
        let sidecar = "spec.template.spec.containers[0].image";
        assert_eq!(place(&o, sidecar, Anchor::Value), Place::NotWritten);
        // The written container moved to index 1 and is still found by its name.
        let api = "spec.template.spec.containers[1].image";
        assert_eq!(place(&o, api, Anchor::Value), at(13, 18));
        // Its ports list grew: items without names are no longer matched.
        o["spec"]["template"]["spec"]["containers"][1]["ports"]
            .as_array_mut()
            .unwrap()
            .insert(0, serde_json::json!({"containerPort": 9090}));
        let port = "spec.template.spec.containers[api].ports[1].containerPort";
        assert_eq!(place(&o, port, Anchor::Value), Place::NotWritten);
    }
}

//! Reading manifests: YAML text to [`Object`]s.
//!
//! Every YAML input goes through [`slipway_config::yaml`], so that syntax errors carry
//! file, line and column. Nodes become `serde_json` values (mapping keys sorted, scalars
//! typed by the YAML 1.2 core schema); each object remembers the line its document starts
//! on, and keeps the document itself ([`Document`]) so that later stages can name the
//! line and column of any field that is still as written. A `kind: List` (or any `...List` with `items`) is expanded into its items, as
//! kustomize does.

use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};
use slipway_config::yaml::{Node, NodeKind, ScalarValue, parse_documents};

use crate::{Document, Object, RenderError, Source};

/// Convert one YAML node into a value.
///
/// # Errors
///
/// A mapping key that is not a scalar, or a key given twice.
pub(crate) fn node_to_value(node: &Node, file: &Path) -> Result<Value, RenderError> {
    Ok(match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Scalar(s) => match s.value() {
            ScalarValue::Str(t) => Value::String(t.to_owned()),
            ScalarValue::Bool(b) => Value::Bool(b),
            ScalarValue::Int(i) => Value::Number(i.into()),
            ScalarValue::Float(f) => match Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None => Value::String(s.text.clone()),
            },
        },
        NodeKind::Seq(items) => Value::Array(
            items
                .iter()
                .map(|n| node_to_value(n, file))
                .collect::<Result<_, _>>()?,
        ),
        NodeKind::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match &k.kind {
                    NodeKind::Scalar(s) => s.text.clone(),
                    NodeKind::Null => "null".to_owned(),
                    _ => {
                        return Err(RenderError::Invalid {
                            file: file.to_owned(),
                            line: k.line,
                            field: "key".into(),
                            message: "mapping keys must be scalars".into(),
                        });
                    }
                };
                if map.contains_key(&key) {
                    return Err(RenderError::Invalid {
                        file: file.to_owned(),
                        line: k.line,
                        field: key,
                        message: "key given twice in the same mapping".into(),
                    });
                }
                map.insert(key, node_to_value(v, file)?);
            }
            Value::Object(map)
        }
    })
}

/// Parse a YAML stream into documents, mapping syntax errors to [`RenderError::Yaml`].
pub(crate) fn parse_yaml(text: &str, file: &Path) -> Result<Vec<Node>, RenderError> {
    parse_documents(text).map_err(|e| RenderError::Yaml {
        file: file.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message,
    })
}

/// Read a file as text.
pub(crate) fn read_text(path: &Path) -> Result<String, RenderError> {
    std::fs::read_to_string(path).map_err(|source| RenderError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Parse the objects of a multi-document YAML text. Empty documents are skipped.
///
/// # Errors
///
/// Invalid YAML, or a document that is not a mapping.
pub fn parse_objects(text: &str, file: &Path) -> Result<Vec<Object>, RenderError> {
    let mut out = Vec::new();
    for doc in parse_yaml(text, file)? {
        if doc.is_null() {
            continue;
        }
        let value = node_to_value(&doc, file)?;
        let line = doc.line;
        push_object(value, Some(doc), file, line, &mut out)?;
    }
    Ok(out)
}

/// Adds `value` (read from `node`, when there is one) to `out`; the items of a list
/// each keep their own node.
pub(crate) fn push_object(
    value: Value,
    node: Option<Node>,
    file: &Path,
    line: usize,
    out: &mut Vec<Object>,
) -> Result<(), RenderError> {
    if !value.is_object() {
        return Err(RenderError::Invalid {
            file: file.to_owned(),
            line,
            field: "document".into(),
            message: "a manifest document must be a mapping".into(),
        });
    }
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.ends_with("List")
        && let Some(Value::Array(items)) = value.get("items")
    {
        let nodes = node
            .as_ref()
            .and_then(|n| n.get("items"))
            .and_then(Node::items)
            .filter(|nodes| nodes.len() == items.len());
        for (i, item) in items.iter().enumerate() {
            let item_node = nodes.map(|n| n[i].clone());
            push_object(item.clone(), item_node, file, line, out)?;
        }
        return Ok(());
    }
    out.push(Object {
        value,
        source: Source {
            file: file.to_owned(),
            line,
            document: node.map(Document::new),
        },
    });
    Ok(())
}

/// Read every object of a YAML file.
///
/// # Errors
///
/// The file cannot be read, is not valid YAML or holds a document that is not a mapping.
pub fn read_objects(path: &Path) -> Result<Vec<Object>, RenderError> {
    parse_objects(&read_text(path)?, path)
}

/// Read every `.yaml`/`.yml`/`.json` file of a directory of plain manifests, files in name
/// order (not recursive).
///
/// # Errors
///
/// As [`read_objects`], for any file.
pub fn read_directory(dir: &Path) -> Result<Vec<Object>, RenderError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RenderError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        out.extend(read_objects(&f)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_their_documents_and_list_items_their_own() {
        let text = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: b
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: c
";
        let objects = parse_objects(text, Path::new("m.yaml")).unwrap();
        let placed: Vec<(&str, usize, Option<usize>)> = objects
            .iter()
            .map(|o| {
                let node = o.source.document.as_ref().map(Document::node);
                (o.name(), o.source.line, node.map(|n| n.line))
            })
            .collect();
        // A list's items share the list's line, each with its own node.
        assert_eq!(
            placed,
            [("a", 1, Some(1)), ("b", 6, Some(9)), ("c", 6, Some(13))]
        );
        let name = objects[2].source.document.as_ref().unwrap().node();
        let name = name.get("metadata").and_then(|m| m.get("name")).unwrap();
        assert_eq!((name.line, name.column), (16, 13));
    }
}

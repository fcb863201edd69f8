//! Reading manifests and patches the way kustomize reads them.
//!
//! kustomize parses YAML with the Go YAML library (version 3) and turns each object into
//! JSON before working on it, so plain scalars are typed by that library's rules rather
//! than by the YAML 1.2 core schema: integers are whatever Go's `strconv.ParseInt(s, 0,
//! 64)` accepts once `_` are removed (`0755` is octal 493, `0x1F`, `0o17`, `0b101`, `+5`),
//! floats follow `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, timestamps stay
//! strings, and only `true`/`false` (three spellings each) are booleans. A block scalar
//! that ends the file without a final line break keeps no line break.

use std::path::Path;

use serde_json::{Map, Number, Value};
use slipway_config::yaml::{Node, NodeKind, ScalarStyle};

use crate::emit::{is_go_int, is_timestamp, is_yaml_float};
use crate::read::{parse_yaml, push_object, read_text};
use crate::{Object, RenderError};

/// What the converter needs to know about the source text.
#[derive(Clone, Copy)]
pub(crate) struct Text {
    /// The length of a text that does not end with a line break, `None` otherwise.
    unterminated_len: Option<usize>,
}

impl Text {
    pub fn of(text: &str) -> Text {
        Text {
            unterminated_len: (!text.ends_with('\n')).then_some(text.len()),
        }
    }
}

/// Read every object of a YAML file, expanding `List`s.
pub(crate) fn read_objects(path: &Path) -> Result<Vec<Object>, RenderError> {
    parse_objects(&read_text(path)?, path)
}

/// Parse every object of a YAML stream, expanding `List`s.
pub(crate) fn parse_objects(text: &str, file: &Path) -> Result<Vec<Object>, RenderError> {
    let t = Text::of(text);
    let mut out = Vec::new();
    for doc in parse_yaml(text, file)? {
        if doc.is_null() {
            continue;
        }
        let value = node_to_value(&doc, file, t)?;
        let line = doc.line;
        push_object(value, Some(doc), file, line, &mut out)?;
    }
    Ok(out)
}

/// Parse the documents of a patch (inline or from a file), with their lines.
pub(crate) fn patch_documents(text: &str, file: &Path) -> Result<Vec<(Value, usize)>, RenderError> {
    let t = Text::of(text);
    parse_yaml(text, file)?
        .iter()
        .filter(|d| !d.is_null())
        .map(|d| Ok((node_to_value(d, file, t)?, d.line)))
        .collect()
}

/// Convert one node with kustomize's typing of scalars.
pub(crate) fn node_to_value(node: &Node, file: &Path, text: Text) -> Result<Value, RenderError> {
    Ok(match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Scalar(s) => {
            let typed = match s.tag.as_deref() {
                None => s.style == ScalarStyle::Plain,
                Some(tag) => matches!(
                    tag.rsplit([':', '!']).next(),
                    Some("int" | "float" | "bool" | "null")
                ),
            };
            if typed {
                resolve_plain(&s.text)
            } else if matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded)
                && text
                    .unterminated_len
                    .is_some_and(|len| node.span.end >= len)
            {
                // The block ends the file with no line break to keep.
                Value::String(s.text.strip_suffix('\n').unwrap_or(&s.text).to_owned())
            } else {
                Value::String(s.text.clone())
            }
        }
        NodeKind::Seq(items) => Value::Array(
            items
                .iter()
                .map(|n| node_to_value(n, file, text))
                .collect::<Result<_, _>>()?,
        ),
        NodeKind::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match &k.kind {
                    NodeKind::Scalar(s) => s.text.clone(),
                    NodeKind::Null => {
                        return Err(RenderError::Invalid {
                            file: file.to_owned(),
                            line: k.line,
                            field: "key".into(),
                            message: "a mapping key is empty".into(),
                        });
                    }
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
                map.insert(key, node_to_value(v, file, text)?);
            }
            Value::Object(map)
        }
    })
}

/// A plain scalar typed as the Go YAML library (version 3) types it.
pub(crate) fn resolve_plain(text: &str) -> Value {
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    let string = || Value::String(text.to_owned());
    match text.as_bytes()[0] {
        b'.' => match text.parse::<f64>() {
            Ok(f) if is_yaml_float(text) => Number::from_f64(f).map_or_else(string, Value::Number),
            _ => string(),
        },
        b'+' | b'-' | b'0'..=b'9' => {
            if is_timestamp(text) {
                return string();
            }
            let plain = text.replace('_', "");
            if is_go_int(&plain)
                && let Some(n) = go_int(&plain)
            {
                return Value::Number(n);
            }
            if is_yaml_float(&plain)
                && let Ok(f) = plain.parse::<f64>()
            {
                return Number::from_f64(f).map_or_else(string, Value::Number);
            }
            string()
        }
        _ => string(),
    }
}

/// The value of a Go integer literal (`0x`, `0o`, `0b`, leading-zero octal), if it fits
/// in 64 bits.
fn go_int(s: &str) -> Option<Number> {
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (digits, radix) = match body.as_bytes() {
        [b'0', b'x' | b'X', ..] => (&body[2..], 16),
        [b'0', b'o' | b'O', ..] => (&body[2..], 8),
        [b'0', b'b' | b'B', ..] => (&body[2..], 2),
        [b'0', _, ..] => (&body[1..], 8),
        _ => (body, 10),
    };
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let v = i128::try_from(magnitude).ok()?.checked_neg()?;
        i64::try_from(v).ok().map(Number::from)
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Number::from(v))
    } else {
        u64::try_from(magnitude).ok().map(Number::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(text: &str) -> Value {
        parse_objects(text, Path::new("m.yaml")).unwrap()[0]
            .value
            .clone()
    }

    #[test]
    fn integers_are_read_as_go_reads_them() {
        let v = values(
            "kind: K\na: 0755\nb: 0x1F\nc: 0o17\nd: 1_000\ne: +5\nf: 0b101\ng: 08\nh: -012\n",
        );
        assert_eq!(
            v,
            json!({"kind": "K", "a": 493, "b": 31, "c": 15, "d": 1000, "e": 5, "f": 5, "g": 8.0, "h": -10})
        );
    }

    #[test]
    fn versions_timestamps_and_yaml_1_1_words_stay_strings() {
        let v = values("kind: K\na: 8.6.2\nb: 2001-12-14\nc: yes\nd: on\ne: 1.x\nf: '0755'\n");
        assert_eq!(
            v,
            json!({"kind": "K", "a": "8.6.2", "b": "2001-12-14", "c": "yes", "d": "on", "e": "1.x", "f": "0755"})
        );
    }

    #[test]
    fn floats_and_booleans_are_typed() {
        let v = values("kind: K\na: 1.5\nb: .5\nc: 1e3\nd: True\ne: FALSE\nf: ~\n");
        assert_eq!(
            v,
            json!({"kind": "K", "a": 1.5, "b": 0.5, "c": 1000.0, "d": true, "e": false, "f": null})
        );
    }

    #[test]
    fn a_block_scalar_ending_the_file_without_a_line_break_keeps_none() {
        let v = values("kind: K\na: |\n  one\n  two");
        assert_eq!(v["a"], "one\ntwo");
        let v = values("kind: K\na: |\n  one\n  two\n");
        assert_eq!(v["a"], "one\ntwo\n");
        let v = values("kind: K\na: |\n  one\nb: x");
        assert_eq!(v["a"], "one\n");
    }
}

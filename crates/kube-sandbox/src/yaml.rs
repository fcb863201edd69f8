//! YAML (1.2 core schema, as Kubernetes reads it) to JSON values, via `saphyr-parser` events.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// Parses the first YAML document of `text` into a JSON value.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut docs = parse_all(text)?;
    if docs.is_empty() {
        return Ok(Value::Null);
    }
    Ok(docs.swap_remove(0))
}

/// Parses every YAML document of `text`.
pub fn parse_all(text: &str) -> Result<Vec<Value>, String> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut anchors: Vec<Option<Value>> = Vec::new();
    // Stack of containers being built; maps keep a pending key.
    enum Frame {
        Seq(Vec<Value>, usize),
        Map(Map<String, Value>, Option<String>, usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut finished: Option<Value> = None;

    fn set_anchor(anchors: &mut Vec<Option<Value>>, id: usize, v: &Value) {
        if id == 0 {
            return;
        }
        if anchors.len() <= id {
            anchors.resize(id + 1, None);
        }
        anchors[id] = Some(v.clone());
    }

    loop {
        let ev = match parser.next_event() {
            None => break,
            Some(Err(e)) => return Err(format!("yaml: {e}")),
            Some(Ok((ev, _))) => ev,
        };
        let value: Value = match ev {
            Event::StreamEnd => break,
            Event::DocumentStart(_) | Event::StreamStart | Event::Nothing => continue,
            Event::DocumentEnd => {
                docs.push(finished.take().unwrap_or(Value::Null));
                continue;
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Map::new(), None, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    let v = Value::Array(items);
                    set_anchor(&mut anchors, anchor, &v);
                    v
                }
                _ => return Err("yaml: unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(map, _, anchor)) => {
                    let v = Value::Object(map);
                    set_anchor(&mut anchors, anchor, &v);
                    v
                }
                _ => return Err("yaml: unbalanced mapping".into()),
            },
            Event::Alias(id) => anchors
                .get(id)
                .cloned()
                .flatten()
                .ok_or_else(|| "yaml: unknown alias".to_string())?,
            Event::Scalar(text, style, anchor, tag) => {
                let tag_suffix = tag.as_ref().map(|t| t.suffix.clone());
                let v = scalar(&text, style, tag_suffix.as_deref());
                set_anchor(&mut anchors, anchor, &v);
                v
            }
        };
        // Place the value into its parent.
        match stack.last_mut() {
            None => finished = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        Value::Null => "null".to_string(),
                        other => other.to_string(),
                    };
                    *key = Some(k);
                }
                Some(k) => {
                    if k == "<<" {
                        if let Value::Object(m) = value {
                            for (mk, mv) in m {
                                map.entry(mk).or_insert(mv);
                            }
                        }
                    } else {
                        map.insert(k, value);
                    }
                }
            },
        }
    }
    if let Some(v) = finished.take() {
        docs.push(v);
    }
    Ok(docs)
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    if let Some(tag) = tag {
        match tag {
            "str" => return Value::String(text.to_string()),
            "int" | "float" => {
                if let Some(n) = number(text) {
                    return n;
                }
            }
            "bool" => return Value::Bool(text == "true"),
            "null" => return Value::Null,
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    number(text).unwrap_or_else(|| Value::String(text.to_string()))
}

fn number(text: &str) -> Option<Value> {
    let t = text.strip_prefix('+').unwrap_or(text);
    if t.is_empty() {
        return None;
    }
    let first = t.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'.') {
        return None;
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Value::from);
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(Value::from);
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::from(i));
    }
    if t.chars().all(|c| c.is_ascii_digit() || "-.eE+".contains(c))
        && t.chars().any(|c| c.is_ascii_digit())
        && let Ok(f) = t.parse::<f64>()
    {
        return Number::from_f64(f).map(Value::Number);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_manifest_becomes_json() {
        let v = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: \"1\"}\ndata:\n  k: \"007\"\n  n: 10\n  b: yes\nlist:\n- 1\n- 2.5\n- ~\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"a":"1"}},
                   "data":{"k":"007","n":10,"b":"yes"},"list":[1,2.5,null]})
        );
    }

    #[test]
    fn yaml_multiple_documents_are_split() {
        let docs = parse_all("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs, vec![json!({"a":1}), json!({"b":2})]);
    }
}

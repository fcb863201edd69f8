//! Helm's JSON: `fromJson`/`toJson` as Go's `encoding/json` does them.
//!
//! Encoding is written here because Go's output differs from serde_json's in ways a
//! rendered manifest shows: `<`, `>` and `&` are escaped as `\u003c`..., map keys are
//! sorted, and floats switch to exponent form only below 1e-6 or from 1e21. Parsing uses
//! serde_json; every number becomes a `float64`, as Go decodes into `interface{}`.

use std::collections::BTreeMap;

use crate::fmt::format_g_shortest;
use crate::value::V;
use crate::{Error, Value};

/// Reads JSON into a value; numbers become floats, as Go decodes them.
///
/// # Errors
/// The JSON does not parse.
pub fn from_str(s: &str) -> Result<Value, Error> {
    decode(s).map(|v| v.to_value()).map_err(Error::plain)
}

/// Writes a value as Go's `json.Marshal` does.
pub fn to_string(v: &Value) -> String {
    encode(&V::from(v), None, true)
}

pub(crate) fn decode(s: &str) -> Result<V, String> {
    let j: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    Ok(from_json(&j))
}

fn from_json(j: &serde_json::Value) -> V {
    match j {
        serde_json::Value::Null => V::Nil,
        serde_json::Value::Bool(b) => V::Bool(*b),
        serde_json::Value::Number(n) => V::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => V::Str(s.clone()),
        serde_json::Value::Array(a) => V::list(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => V::map(
            o.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// Whether Go's `json.Marshal` fails on the value (NaN and infinite floats), in which
/// case Helm's `toJson` and `toYaml` print nothing.
pub(crate) fn unsupported(v: &V) -> bool {
    match v {
        V::Float(f) => !f.is_finite(),
        V::List(l) => l.iter().any(unsupported),
        V::Map(m) => m.borrow().values().any(unsupported),
        _ => false,
    }
}

/// Go's `json.Marshal` (`indent` as `MarshalIndent` with no prefix); empty when Go's
/// would fail.
pub(crate) fn encode(v: &V, indent: Option<&str>, escape_html: bool) -> String {
    if unsupported(v) {
        return String::new();
    }
    let mut out = String::new();
    write(&mut out, v, indent, 0, escape_html);
    out
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write(out: &mut String, v: &V, indent: Option<&str>, depth: usize, esc: bool) {
    match v {
        V::Nil => out.push_str("null"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Int(i) => out.push_str(&i.to_string()),
        V::Float(f) => out.push_str(&float(*f)),
        V::Str(s) => quote(out, s, esc),
        V::List(l) => {
            if l.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(out, x, indent, depth + 1, esc);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        V::Map(m) => {
            let m = m.borrow();
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                quote(out, k, esc);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(out, x, indent, depth + 1, esc);
            }
            newline(out, indent, depth);
            out.push('}');
        }
        V::Object(o) => {
            if let Some(v) = o.json_value() {
                return write(out, &V::from(&v), indent, depth, esc);
            }
            match o.method("String", &[]) {
                Some(Ok(Value::String(s))) => quote(out, &s, esc),
                _ => out.push_str("{}"),
            }
        }
    }
}

/// Go's float encoding: `'f'` form, or `'e'` below 1e-6 and from 1e21.
pub(crate) fn float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format_g_shortest(f);
        // `format_g_shortest` already gives Go's e-form; JSON drops the exponent's
        // leading zero (`1e-07` becomes `1e-7`).
        return s.replace("e-0", "e-").replace("e+0", "e+");
    }
    let s = format!("{f}");
    if s == "-0" { "-0".into() } else { s }
}

fn quote(out: &mut String, s: &str, esc: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if esc => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

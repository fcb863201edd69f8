//! Helm's `toToml` (BurntSushi/toml's encoder) and `fromToml`.
//!
//! The encoder prints what BurntSushi/toml prints for template values: top-level plain
//! keys first, then `[table]` sections for nested maps (indented by two spaces) and
//! `[[array]]` sections for lists of maps, keys sorted; it is written here because the
//! toml crate's layout differs. Reading uses the toml crate: integers stay `int64`,
//! floats `float64`, dates become strings.

use crate::value::V;

pub(crate) fn encode(v: &V) -> String {
    let V::Map(m) = v else {
        return "toml: top-level values must be Go maps or structs".to_string();
    };
    let mut out = String::new();
    table(&mut out, &m.borrow(), &mut Vec::new(), "");
    out
}

fn is_table(v: &V) -> bool {
    matches!(v, V::Map(_))
}

fn is_table_array(v: &V) -> bool {
    matches!(v, V::List(l) if !l.is_empty() && l.iter().all(is_table))
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar(v: &V) -> String {
    match v {
        V::Nil => String::new(),
        V::Bool(b) => b.to_string(),
        V::Int(i) => i.to_string(),
        V::Float(f) => {
            if f.fract() == 0.0 && f.is_finite() {
                format!("{f:.1}")
            } else {
                crate::fmt::format_g_shortest(*f)
            }
        }
        V::Str(s) => quote(s),
        V::List(l) => format!("[{}]", l.iter().map(scalar).collect::<Vec<_>>().join(", ")),
        V::Map(_) => String::new(),
        V::Object(_) => quote(&crate::fmt::sprint_v(v)),
    }
}

fn table(
    out: &mut String,
    m: &std::collections::BTreeMap<String, V>,
    path: &mut Vec<String>,
    indent: &str,
) {
    for (k, v) in m {
        if v.is_nil() || is_table(v) || is_table_array(v) {
            continue;
        }
        out.push_str(&format!("{indent}{} = {}\n", key(k), scalar(v)));
    }
    for (k, v) in m {
        path.push(key(k));
        match v {
            V::Map(sub) => {
                out.push_str(&format!("\n{indent}[{}]\n", path.join(".")));
                table(out, &sub.borrow(), path, &format!("{indent}  "));
            }
            V::List(l) if is_table_array(v) => {
                for item in l.iter() {
                    if let V::Map(sub) = item {
                        out.push_str(&format!("\n{indent}[[{}]]\n", path.join(".")));
                        table(out, &sub.borrow(), path, &format!("{indent}  "));
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
}

pub(crate) fn decode(s: &str) -> Result<V, String> {
    let table: ::toml::Table = s
        .parse()
        .map_err(|e: ::toml::de::Error| format!("toml: {}", e.message()))?;
    Ok(from_toml(&::toml::Value::Table(table)))
}

fn from_toml(v: &::toml::Value) -> V {
    match v {
        ::toml::Value::String(s) => V::Str(s.clone()),
        ::toml::Value::Integer(i) => V::Int(*i),
        ::toml::Value::Float(f) => V::Float(*f),
        ::toml::Value::Boolean(b) => V::Bool(*b),
        ::toml::Value::Datetime(d) => V::Str(d.to_string()),
        ::toml::Value::Array(a) => V::list(a.iter().map(from_toml).collect()),
        ::toml::Value::Table(t) => {
            V::map(t.iter().map(|(k, v)| (k.clone(), from_toml(v))).collect())
        }
    }
}

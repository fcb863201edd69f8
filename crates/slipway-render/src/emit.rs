//! A small, deterministic YAML emitter for JSON-like values.
//!
//! Why hand-written: the maintained serde YAML emitters either are archived
//! (`serde_yaml`), pull in a second YAML model with its own quoting rules, or cannot be
//! told to print the way `kubectl` does (block style, 2-space indent, sequences under a
//! key not indented, mapping keys sorted). Rendered manifests are compared byte for byte
//! across runs and against `kubectl kustomize`, so the output format is part of the
//! interface and is kept here, in one page of code.
//!
//! Quoting follows the YAML emitter of Go that `kubectl` uses: a string that a YAML
//! reader would take for something else (`"true"`, `"1"`, `"null"`, `"~"`, `"yes"`) is
//! double-quoted; a string that cannot be plain (leading indicator such as `*&!|>%@`,
//! `: ` or ` #` inside, leading or trailing spaces, empty) is single-quoted; multi-line
//! strings become `|` blocks; strings with control characters are double-quoted with
//! escapes.

use std::fmt::Write as _;

use serde_json::Value;

use crate::Object;

/// Print objects as a YAML stream: documents separated by `---\n`, as
/// `kubectl kustomize` prints them.
pub fn to_yaml(objects: &[Object]) -> String {
    let mut out = String::with_capacity(objects.len() * 512);
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        emit_document(&o.value, &mut out);
    }
    out
}

/// Print one value as a YAML document (no `---` marker).
pub fn value_to_yaml(value: &Value) -> String {
    let mut out = String::new();
    emit_document(value, &mut out);
    out
}

fn emit_document(value: &Value, out: &mut String) {
    match value {
        Value::Object(m) if !m.is_empty() => emit_map(value, 0, out),
        Value::Array(a) if !a.is_empty() => emit_seq(value, 0, out),
        other => {
            emit_scalar_inline(other, 0, out);
            out.push('\n');
        }
    }
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// A mapping at `ind` (the caller has positioned the cursor at column `ind` for the
/// first key, or at the start of a line).
fn emit_map(value: &Value, ind: usize, out: &mut String) {
    let Value::Object(m) = value else { return };
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        emit_string(k, ind, out, true);
        out.push(':');
        emit_after_key(v, ind, out);
    }
}

fn emit_after_key(v: &Value, ind: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            emit_map(v, ind + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            indent(out, ind);
            emit_seq(v, ind, out);
        }
        other => {
            out.push(' ');
            emit_scalar_inline(other, ind, out);
            out.push('\n');
        }
    }
}

fn emit_seq(value: &Value, ind: usize, out: &mut String) {
    let Value::Array(a) = value else { return };
    for (i, item) in a.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => emit_map(item, ind + 2, out),
            Value::Array(x) if !x.is_empty() => emit_seq(item, ind + 2, out),
            other => {
                emit_scalar_inline(other, ind, out);
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection after `key: ` or `- `; `ind` is the indentation of the
/// owning key or dash, used for block scalar content.
fn emit_scalar_inline(v: &Value, ind: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                out.push_str(&format_float(f));
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => emit_string(s, ind, out, false),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Floats as Go's `strconv.FormatFloat(f, 'g', -1, 64)` prints the common cases.
fn format_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

fn emit_string(s: &str, ind: usize, out: &mut String, is_key: bool) {
    match string_style(s, is_key) {
        Style::Plain => out.push_str(s),
        Style::Single => {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        Style::Double => double_quoted(s, out),
        Style::Literal => literal(s, ind, out),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// Printable as YAML requires for unescaped output (tab and other controls are not).
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{85}') || (c >= '\u{a0}' && c != '\u{feff}')
}

fn string_style(s: &str, is_key: bool) -> Style {
    if s.is_empty() {
        return Style::Double;
    }
    if !s.chars().all(printable) || s.contains('\u{85}') {
        return Style::Double;
    }
    if s.contains('\n') {
        if is_key || s.contains(" \n") || s.ends_with(' ') {
            return Style::Double;
        }
        return Style::Literal;
    }
    if resolves_to_non_string(s) {
        return Style::Double;
    }
    if plain_allowed(s) {
        Style::Plain
    } else {
        Style::Single
    }
}

/// Whether a plain scalar with this text would be read as something else than this
/// string, by YAML 1.2 or by the YAML 1.1 rules older Kubernetes tooling still applies.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y", "Y",
        "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<", "=",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let first = body.chars().next();
    // Numbers in any base, floats, with `_` separators, and sexagesimal or date-like forms.
    if matches!(first, Some('0'..='9' | '.'))
        && body.len() < 40
        && body.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    '.' | '_' | ':' | 'x' | 'o' | 'X' | 'O' | '+' | '-' | 'e' | 'E'
                )
        })
        && body.chars().any(|c| c.is_ascii_digit())
    {
        return true;
    }
    // Timestamps such as `2001-12-14t21:59:43.10-05:00` or `2001-12-14 21:59:43`.
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// Whether `s` can be written as a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    let b = s.as_bytes();
    if b[0] == b' ' || b[b.len() - 1] == b' ' {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let followed_by_space = |i: usize| i + 1 >= b.len() || b[i + 1] == b' ';
    match b[0] {
        b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => return false,
        b'-' | b'?' | b':' if followed_by_space(0) => return false,
        _ => {}
    }
    for i in 1..b.len() {
        match b[i] {
            b':' if followed_by_space(i) => return false,
            b'#' if b[i - 1] == b' ' => return false,
            _ => {}
        }
    }
    true
}

fn double_quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if printable(c) && c != '\u{85}' => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
}

/// A `|` block; content indented two spaces deeper than `ind`.
fn literal(s: &str, ind: usize, out: &mut String) {
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing >= 1 { &s[..s.len() - 1] } else { s };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, ind + 2);
            out.push_str(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reparse(text: &str) -> Value {
        let docs = slipway_config::yaml::parse_documents(text).unwrap();
        assert_eq!(docs.len(), 1, "{text}");
        crate::read::node_to_value(&docs[0], std::path::Path::new("t")).unwrap()
    }

    const TRICKY: &[&str] = &[
        "true",
        "false",
        "True",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "1",
        "-1",
        "+1",
        "0x1F",
        "0o17",
        "017",
        "1.5",
        ".5",
        "1e3",
        "1_000",
        "null",
        "Null",
        "~",
        "",
        " ",
        "  lead",
        "trail ",
        "*star",
        "&amp",
        "!bang",
        "|pipe",
        ">gt",
        "%pct",
        "@at",
        "`tick",
        "'sq",
        "\"dq",
        "#hash",
        "a #b",
        "a#b",
        "a: b",
        "a:b",
        "key:",
        "- x",
        "-x",
        "-",
        "?",
        "? x",
        ":",
        ": x",
        "[x]",
        "{x}",
        ",x",
        "x,y",
        "---",
        "...",
        "--- x",
        "multi\nline\n",
        "multi\nline",
        "multi\nline\n\n",
        " lead\nline\n",
        "\nfirst empty",
        "tab\there",
        "cr\rhere",
        "bell\u{7}",
        "trailing space \nline",
        "unicode ünïcödé ✓",
        "emoji 😀",
        "2001-12-14",
        "12:30",
        "1:2:3",
        ".inf",
        "-.inf",
        ".nan",
        "<<",
        "=",
        "a'b",
        "a\"b",
        "back\\slash",
        "é",
        "\u{a0}nbsp",
        "x\u{2028}y",
        "line\n  indented\n",
        "end\n ",
        "k8s.io/name",
        "http://x.y/z?a=b#c",
        "$(VAR)",
        "${VAR}",
        "{{ tmpl }}",
        "NaN",
        "inf",
    ];

    #[test]
    fn tricky_strings_parse_back_to_the_same_value() {
        for s in TRICKY {
            let v = json!({ "k": s, "list": [s, {"n": s}], *s: "key" });
            let text = value_to_yaml(&v);
            assert_eq!(reparse(&text), v, "{s:?} printed as:\n{text}");
        }
    }

    #[test]
    fn strings_a_reader_would_retype_are_double_quoted() {
        let text = value_to_yaml(&json!({"a": "true", "b": "1", "c": "null", "d": "~", "e": ""}));
        assert_eq!(
            text,
            "a: \"true\"\nb: \"1\"\nc: \"null\"\nd: \"~\"\ne: \"\"\n"
        );
    }

    #[test]
    fn strings_with_indicators_are_single_quoted() {
        let text = value_to_yaml(&json!(["a: b", "- x", " sp", "*x", "a #b", "it's"]));
        assert_eq!(
            text,
            "- 'a: b'\n- '- x'\n- ' sp'\n- '*x'\n- 'a #b'\n- it's\n"
        );
    }

    #[test]
    fn sequences_under_a_key_are_not_indented_and_maps_nest_by_two() {
        let v =
            json!({"spec": {"containers": [{"name": "a", "args": ["x", "y"]}], "e": {}, "l": []}});
        assert_eq!(
            value_to_yaml(&v),
            "spec:\n  containers:\n  - args:\n    - x\n    - \"y\"\n    name: a\n  e: {}\n  l: []\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let v = json!({"a": {"b": "one\ntwo\n"}, "c": ["x\ny"]});
        assert_eq!(
            value_to_yaml(&v),
            "a:\n  b: |\n    one\n    two\nc:\n- |-\n  x\n  y\n"
        );
    }

    #[test]
    fn numbers_and_null_are_plain() {
        let v = json!({"i": 3, "f": 1.5, "g": 2.0, "z": null, "t": true});
        assert_eq!(value_to_yaml(&v), "f: 1.5\ng: 2\ni: 3\nt: true\nz: null\n");
    }

    #[test]
    fn nested_sequences_use_compact_dashes() {
        let v = json!({"a": [["x", "z"], []]});
        let text = value_to_yaml(&v);
        assert_eq!(text, "a:\n- - x\n  - z\n- []\n");
        assert_eq!(reparse(&text), v);
    }
}

//! Helm's YAML: `fromYaml`/`toYaml` as `sigs.k8s.io/yaml` does them.
//!
//! Reading: YAML 1.1 as go-yaml v2 resolves plain scalars (`yes`/`on` are booleans,
//! `0777` is octal, timestamps stay strings), then through JSON as
//! `sigs.k8s.io/yaml` does, so every number comes out as a `float64` and non-string
//! keys become strings. This is how Helm reads values files (`chartutil.ReadValues`)
//! and `fromYaml` strings. Events come from `saphyr-parser`.
//!
//! Writing: `toYaml` goes through JSON (floats with integral values become integers)
//! and is printed the way go-yaml v2's emitter prints: sequences not indented under
//! their key, keys in go-yaml's order (runs of digits compared as numbers), strings
//! quoted only when they would read back as something else, literal blocks for
//! multi-line strings, and long lines folded at 80 columns.
//!
//! No maintained Rust crate emits YAML the way go-yaml does, and Helm's output depends
//! on every one of these details, so the emitter is written here.

use std::collections::{BTreeMap, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::value::V;
use crate::{Error, Value};

/// Reads the first YAML document as Helm does.
///
/// # Errors
/// The YAML does not parse, as `error converting YAML to JSON: yaml: line N: ...`.
pub fn from_str(s: &str) -> Result<Value, Error> {
    decode(s).map(|v| v.to_value()).map_err(Error::plain)
}

/// Writes a value as Helm's `toYaml` does (with the final newline, which `toYaml`
/// itself trims).
pub fn to_string(v: &Value) -> String {
    encode(&V::from(v))
}

pub(crate) fn decode(s: &str) -> Result<V, String> {
    let mut d = Decoder {
        anchors: HashMap::new(),
        events: Vec::new(),
        i: 0,
    };
    let mut parser = Parser::new_from_str(s);
    let mut depth = 0usize;
    let mut started = false;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            format!(
                "error converting YAML to JSON: {}",
                go_yaml_message(e.marker().line(), e.info())
            )
        })?;
        match ev {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if started {
                    break;
                }
                started = true;
                continue;
            }
            Event::DocumentEnd => {
                if depth == 0 && started {
                    break;
                }
                continue;
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        d.events.push((ev, span.start.line()));
    }
    if d.events.is_empty() {
        return Ok(V::Nil);
    }
    d.node()
}

/// A syntax error worded as go-yaml (libyaml) words it: `yaml: line N: message`.
/// libyaml's scanner reports 1-based lines and its parser ("did not find expected …")
/// the line before; a few scanner messages are named differently.
fn go_yaml_message(line: usize, info: &str) -> String {
    let (line, message) = match info.strip_prefix("while parsing ") {
        Some(rest) => {
            let what = rest.split_once(", ").map_or(rest, |(_, m)| m);
            let what = if what.starts_with("did not find") {
                what.to_string()
            } else {
                format!("did not find {what}")
            };
            (line.saturating_sub(1), what)
        }
        None if info.starts_with("simple key expect") => {
            (line, "could not find expected ':'".to_string())
        }
        None if info.starts_with("tabs disallowed") => (
            line,
            "found character that cannot start any token".to_string(),
        ),
        None => (line, info.to_string()),
    };
    if line > 0 {
        format!("yaml: line {line}: {message}")
    } else {
        format!("yaml: {message}")
    }
}

struct Decoder<'a> {
    anchors: HashMap<usize, V>,
    events: Vec<(Event<'a>, usize)>,
    i: usize,
}

impl Decoder<'_> {
    fn node(&mut self) -> Result<V, String> {
        let Some((ev, line)) = self.events.get(self.i).cloned() else {
            return Ok(V::Nil);
        };
        self.i += 1;
        match ev {
            Event::Alias(id) => self.anchors.get(&id).cloned().ok_or_else(|| {
                format!(
                    "error converting YAML to JSON: yaml: line {line}: unknown anchor referenced"
                )
            }),
            Event::Scalar(text, style, anchor, tag) => {
                let v =
                    resolve_scalar(&text, style, tag.as_ref().map(|t| t.suffix.as_str()), line)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    if matches!(
                        self.events.get(self.i),
                        Some((Event::SequenceEnd, _)) | None
                    ) {
                        self.i += 1;
                        break;
                    }
                    items.push(self.node()?);
                }
                let v = V::list(items);
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            Event::MappingStart(anchor, _) => {
                let mut m: BTreeMap<String, V> = BTreeMap::new();
                let mut merged: Vec<BTreeMap<String, V>> = Vec::new();
                loop {
                    if matches!(self.events.get(self.i), Some((Event::MappingEnd, _)) | None) {
                        self.i += 1;
                        break;
                    }
                    let is_merge = matches!(self.events.get(self.i), Some((Event::Scalar(k, ScalarStyle::Plain, _, None), _)) if k == "<<");
                    let key_line = self.events.get(self.i).map_or(line, |e| e.1);
                    let key = self.node()?;
                    let value = self.node()?;
                    if is_merge {
                        match &value {
                            V::Map(mm) => merged.push(mm.borrow().clone()),
                            V::List(l) => {
                                for x in l.iter() {
                                    match x {
                                        V::Map(mm) => merged.push(mm.borrow().clone()),
                                        _ => {
                                            return Err(format!(
                                                "error converting YAML to JSON: yaml: line {key_line}: map merge requires map or sequence of maps as the value"
                                            ));
                                        }
                                    }
                                }
                            }
                            _ => {
                                return Err(format!(
                                    "error converting YAML to JSON: yaml: line {key_line}: map merge requires map or sequence of maps as the value"
                                ));
                            }
                        }
                        continue;
                    }
                    let key = key_string(&key).ok_or_else(|| {
                        format!(
                            "error converting YAML to JSON: Unsupported map key of type: {}",
                            crate::value::type_name(&key)
                        )
                    })?;
                    m.insert(key, value);
                }
                for mm in merged {
                    for (k, v) in mm {
                        m.entry(k).or_insert(v);
                    }
                }
                let v = V::map(m);
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                Ok(v)
            }
            _ => Ok(V::Nil),
        }
    }
}

/// A non-string key as `sigs.k8s.io/yaml` turns it into a JSON key.
fn key_string(k: &V) -> Option<String> {
    Some(match k {
        V::Str(s) => s.clone(),
        V::Bool(b) => b.to_string(),
        V::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                crate::fmt::format_g_shortest(f64::from(*f as f32))
            }
        }
        V::Int(i) => i.to_string(),
        _ => return None,
    })
}

/// What go-yaml v2 makes of a plain scalar (YAML 1.1 resolution), after the JSON
/// round trip (numbers as floats).
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    line: usize,
) -> Result<V, String> {
    if style != ScalarStyle::Plain {
        return Ok(match tag {
            Some("int") | Some("float") => resolve_plain(text),
            _ => V::str(text),
        });
    }
    match tag {
        Some("str") => return Ok(V::str(text)),
        Some("binary") => return Ok(V::str(text)),
        _ => {}
    }
    let v = resolve_plain(text);
    if let V::Float(f) = v
        && !f.is_finite()
    {
        return Err(format!(
            "error converting YAML to JSON: json: unsupported value: {} (line {line})",
            crate::fmt::format_g_shortest(f)
        ));
    }
    Ok(v)
}

pub(crate) fn resolve_plain(text: &str) -> V {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return V::Nil,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return V::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return V::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return V::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return V::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return V::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return V::str(text);
    }
    let plain = text.replace('_', "");
    if let Some(i) = crate::funcs::parse_go_int(&plain) {
        return V::Float(i as f64);
    }
    if let Some(b) = plain
        .strip_prefix("0b")
        .or_else(|| plain.strip_prefix("-0b"))
        && let Ok(i) = i64::from_str_radix(b, 2)
    {
        return V::Float(if plain.starts_with('-') {
            -(i as f64)
        } else {
            i as f64
        });
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return V::Float(f);
    }
    if plain
        .bytes()
        .skip(usize::from(matches!(first, b'-' | b'+')))
        .all(|b| b.is_ascii_digit())
        && plain.len() > 1
    {
        // Too large for int64: go-yaml reads it as uint64 or float64.
        if let Ok(f) = plain.parse::<f64>() {
            return V::Float(f);
        }
    }
    V::str(text)
}

/// go-yaml v2's float syntax: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

// ----- Writing -----

/// The values `toYaml` prints, after the JSON round trip: integral floats are ints.
#[derive(Debug)]
enum Y {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Y>),
    Map(Vec<(String, Y)>),
}

/// The value as the emitter sees it; `via_json` for `toYaml`, which goes through JSON
/// (`toYamlPretty` encodes the Go value directly, so floats stay floats).
fn to_y(v: &V, via_json: bool) -> Y {
    match v {
        V::Nil => Y::Null,
        V::Bool(b) => Y::Bool(*b),
        V::Int(i) => Y::Int(*i),
        V::Float(f) if !via_json => Y::Float(*f),
        V::Float(f) => {
            // JSON prints the float; go-yaml reads it back as an int when it has no
            // fraction or exponent.
            let j = crate::json::float(*f);
            if !j.contains(['.', 'e', 'E'])
                && let Ok(i) = j.parse::<i64>()
            {
                return Y::Int(i);
            }
            if !j.contains(['.', 'e', 'E'])
                && let Ok(u) = j.parse::<u64>()
            {
                // Between int64 and uint64: go-yaml reads it as a uint64.
                return Y::Uint(u);
            }
            Y::Float(*f)
        }
        V::Str(s) => Y::Str(s.clone()),
        V::List(l) => Y::Seq(l.iter().map(|x| to_y(x, via_json)).collect()),
        V::Map(m) => {
            let mut entries: Vec<(String, Y)> = m
                .borrow()
                .iter()
                .map(|(k, v)| (k.clone(), to_y(v, via_json)))
                .collect();
            entries.sort_by(|a, b| go_yaml_key_order(&a.0, &b.0));
            Y::Map(entries)
        }
        V::Object(o) => {
            if let Some(v) = o.json_value() {
                return to_y(&V::from(&v), via_json);
            }
            match o.method("String", &[]) {
                Some(Ok(Value::String(s))) => Y::Str(s),
                _ => Y::Map(Vec::new()),
            }
        }
    }
}

/// go-yaml v2's key order: letters after other characters, runs of digits by value.
fn go_yaml_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let n = ar.len().min(br.len());
    for i in 0..n {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// `toYaml` (go-yaml v2 through `sigs.k8s.io/yaml`), with the final newline; empty
/// when the JSON step would fail (NaN or infinite floats).
pub(crate) fn encode(v: &V) -> String {
    if crate::json::unsupported(v) {
        return String::new();
    }
    let mut e = Emitter {
        out: String::new(),
        pretty: false,
    };
    e.document(&to_y(v, true));
    e.out
}

/// `toYamlPretty` (go-yaml v3 with an indent of 2): sequences indented under their key.
pub(crate) fn encode_pretty(v: &V) -> String {
    let mut e = Emitter {
        out: String::new(),
        pretty: true,
    };
    e.document(&to_y(v, false));
    e.out
}

const BEST_WIDTH: usize = 80;

struct Emitter {
    out: String,
    pretty: bool,
}

impl Emitter {
    fn column(&self) -> usize {
        let line = match self.out.rfind('\n') {
            Some(i) => &self.out[i + 1..],
            None => &self.out[..],
        };
        line.chars().count()
    }

    fn document(&mut self, y: &Y) {
        match y {
            Y::Map(m) if !m.is_empty() => self.map(m, 0),
            Y::Seq(s) if !s.is_empty() => self.seq(s, 0),
            other => {
                // A scalar at the root is indented as a mapping value would be.
                self.scalar(other, 2, false);
                self.out.push('\n');
            }
        }
    }

    /// A block mapping whose keys start at `indent`; the cursor is at the start of a
    /// line (or after `- ` for the first key).
    fn map(&mut self, m: &[(String, Y)], indent: usize) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                self.out.push_str(&" ".repeat(indent));
            }
            self.string(k, indent, true);
            self.out.push(':');
            self.value(v, indent, true);
        }
    }

    fn seq(&mut self, s: &[Y], indent: usize) {
        for (i, v) in s.iter().enumerate() {
            if i > 0 {
                self.out.push_str(&" ".repeat(indent));
            }
            self.out.push('-');
            match v {
                Y::Map(m) if !m.is_empty() => {
                    self.out.push(' ');
                    self.map(m, indent + 2);
                }
                Y::Seq(s2) if !s2.is_empty() => {
                    self.out.push(' ');
                    self.seq(s2, indent + 2);
                }
                other => {
                    self.out.push(' ');
                    self.scalar(other, indent + 2, false);
                    self.out.push('\n');
                }
            }
        }
    }

    /// The value after `key:`.
    fn value(&mut self, v: &Y, indent: usize, _in_map: bool) {
        match v {
            Y::Map(m) if !m.is_empty() => {
                self.out.push('\n');
                self.out.push_str(&" ".repeat(indent + 2));
                self.map(m, indent + 2);
            }
            Y::Seq(s) if !s.is_empty() => {
                self.out.push('\n');
                let ind = if self.pretty { indent + 2 } else { indent };
                self.out.push_str(&" ".repeat(ind));
                self.seq(s, ind);
            }
            other => {
                self.out.push(' ');
                self.scalar(other, indent + 2, false);
                self.out.push('\n');
            }
        }
    }

    fn scalar(&mut self, y: &Y, indent: usize, key: bool) {
        match y {
            Y::Null => self.out.push_str("null"),
            Y::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Y::Int(i) => self.out.push_str(&i.to_string()),
            Y::Uint(u) => self.out.push_str(&u.to_string()),
            Y::Float(f) => self.out.push_str(&yaml_float(*f)),
            Y::Str(s) => self.string(s, indent, key),
            Y::Seq(_) => self.out.push_str("[]"),
            Y::Map(_) => self.out.push_str("{}"),
        }
    }

    /// A string scalar, in the style go-yaml chooses; `indent` is the indentation of
    /// continuation lines.
    fn string(&mut self, s: &str, indent: usize, key: bool) {
        let a = analyze(s);
        let needs_quotes = !matches!(resolve_plain_tag(s), Tag::Str) || is_base60_float(s);
        if needs_quotes {
            self.double(s, indent);
        } else if s.contains('\n') {
            if key || !a.block_allowed {
                self.double(s, indent);
            } else {
                self.literal(s, indent);
            }
        } else if a.block_plain_allowed {
            self.plain(s, indent);
        } else if a.single_allowed {
            self.single(s, indent);
        } else {
            self.double(s, indent);
        }
    }

    fn plain(&mut self, s: &str, indent: usize) {
        if self.pretty {
            self.out.push_str(s);
            return;
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for i in 0..chars.len() {
            let c = chars[i];
            if c == ' ' {
                if !spaces
                    && self.column() > BEST_WIDTH
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.indent_line(indent);
                } else {
                    self.out.push(c);
                }
                spaces = true;
            } else {
                self.out.push(c);
                spaces = false;
            }
        }
    }

    fn indent_line(&mut self, indent: usize) {
        self.out.push('\n');
        self.out.push_str(&" ".repeat(indent));
    }

    fn single(&mut self, s: &str, indent: usize) {
        self.out.push('\'');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for i in 0..chars.len() {
            let c = chars[i];
            if c == ' ' {
                if !self.pretty
                    && !spaces
                    && self.column() > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.indent_line(indent);
                } else {
                    self.out.push(c);
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.out.push('\'');
                }
                self.out.push(c);
                spaces = false;
            }
        }
        self.out.push('\'');
    }

    fn double(&mut self, s: &str, indent: usize) {
        self.out.push('"');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for i in 0..chars.len() {
            let c = chars[i];
            let escaped = match c {
                '\0' => Some("\\0".to_string()),
                '\u{7}' => Some("\\a".into()),
                '\u{8}' => Some("\\b".into()),
                '\t' => Some("\\t".into()),
                '\n' => Some("\\n".into()),
                '\u{b}' => Some("\\v".into()),
                '\u{c}' => Some("\\f".into()),
                '\r' => Some("\\r".into()),
                '\u{1b}' => Some("\\e".into()),
                '"' => Some("\\\"".into()),
                '\\' => Some("\\\\".into()),
                '\u{85}' => Some("\\N".into()),
                '\u{2028}' => Some("\\L".into()),
                '\u{2029}' => Some("\\P".into()),
                c if !is_printable(c) || c == '\u{feff}' => Some(if (c as u32) <= 0xff {
                    format!("\\x{:02X}", c as u32)
                } else if (c as u32) <= 0xffff {
                    format!("\\u{:04X}", c as u32)
                } else {
                    format!("\\U{:08X}", c as u32)
                }),
                _ => None,
            };
            if let Some(e) = escaped {
                self.out.push_str(&e);
                spaces = false;
                continue;
            }
            if c == ' ' {
                if !self.pretty
                    && !spaces
                    && self.column() > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.indent_line(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.out.push('\\');
                    }
                } else {
                    self.out.push(c);
                }
                spaces = true;
            } else {
                self.out.push(c);
                spaces = false;
            }
        }
        self.out.push('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        if s.starts_with(' ') || s.starts_with('\n') {
            self.out.push('2');
        }
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.len() == 1 || s[..s.len() - 1].ends_with('\n') {
            "+"
        } else {
            ""
        };
        self.out.push_str(chomp);
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            self.out.push('\n');
            if !line.is_empty() {
                self.out.push_str(&" ".repeat(indent));
                self.out.push_str(line);
            }
        }
        if chomp == "+" {
            // The kept final break is printed by the caller's newline.
        }
    }
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    crate::fmt::format_g_shortest(f)
}

enum Tag {
    Str,
    Other,
}

/// Whether a plain scalar would read back as something other than a string.
fn resolve_plain_tag(s: &str) -> Tag {
    if s.is_empty() || s == "<<" {
        return Tag::Other;
    }
    match resolve_plain(s) {
        V::Str(_) => {
            // go-yaml also reads timestamps as non-strings when deciding how to quote.
            if looks_like_timestamp(s) {
                Tag::Other
            } else {
                Tag::Str
            }
        }
        _ => Tag::Other,
    }
}

/// Whether go-yaml v2 reads a plain scalar as a timestamp (the layouts it tries:
/// `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), and
/// `2006-1-2 15:4:5.999999999`), with Go's range checks on month, day and time.
fn looks_like_timestamp(s: &str) -> bool {
    static TS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$",
        )
        .expect("a valid pattern")
    });
    let Some(c) = TS.captures(s) else {
        return false;
    };
    let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let (month, day) = (n(2).unwrap_or(0), n(3).unwrap_or(0));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    let time = if c.get(4).is_some() {
        (n(4), n(5), n(6))
    } else {
        (n(7), n(8), n(9))
    };
    match time {
        (Some(h), Some(m), Some(sec)) => h < 24 && m < 60 && sec < 60,
        _ => true,
    }
}

/// go-yaml's `isBase60Float`: `1:20`, `-1:20:30.5` (YAML 1.1 sexagesimal numbers),
/// which it quotes although it reads them as strings.
fn is_base60_float(s: &str) -> bool {
    static BASE60: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
            .expect("a valid pattern")
    });
    s.contains(':') && BASE60.is_match(s)
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || u == 0x85
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
        || (0x10000..=0x10ffff).contains(&u)
}

/// libyaml's scalar analysis: which styles may print the string.
struct Analysis {
    block_plain_allowed: bool,
    single_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain_allowed: false,
            single_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_ws = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_by_ws = i + 1 >= n
            || matches!(
                chars[i + 1],
                ' ' | '\t' | '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
            );
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_ws {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_ws {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) || c == '\u{feff}' {
            special = true;
        }
        let is_break = matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if is_break {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break {
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t') || is_break;
    }
    let mut block_plain = true;
    let mut single = true;
    let mut block = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain = false;
    }
    if trailing_space {
        block = false;
    }
    if break_space {
        block_plain = false;
        single = false;
    }
    if space_break || special {
        block_plain = false;
        single = false;
        block = false;
    }
    if line_breaks {
        block_plain = false;
    }
    if block_indicators {
        block_plain = false;
    }
    let _ = flow_indicators;
    Analysis {
        block_plain_allowed: block_plain,
        single_allowed: single,
        block_allowed: block,
    }
}

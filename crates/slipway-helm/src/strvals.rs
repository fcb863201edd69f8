//! `--set`, `--set-string`, `--set-file` and `--set-json`: Helm's `strvals` syntax.
//!
//! `a.b=1,c[0].d=x,e={1,2}`: dots nest maps, `[i]` indexes lists (growing them with
//! nulls), `{a,b}` is a list, `\` escapes the next character, and a value is typed
//! (`true`, `false`, `null`, integers without a leading zero) unless it comes from
//! `--set-string` or `--set-file`. Hand-written because the syntax is Helm's own.

use gotemplate::Value;

use crate::chart::Map;

/// Helm's limits on nesting and list indexes.
const MAX_INDEX: usize = 65536;
const MAX_NESTED_NAME_LEVEL: usize = 30;

/// How the right-hand side of `key=value` is read.
pub enum ValueKind<'a> {
    /// `--set`: typed values.
    Typed,
    /// `--set-string`: always strings.
    String,
    /// `--set-json`: one JSON value.
    Json,
    /// `--set-file`: the value is a path; the reader returns the file's contents.
    File(&'a dyn Fn(&str) -> Result<String, String>),
}

/// Parses `line` into `dest` (values given earlier stay unless overwritten).
pub fn parse_into(line: &str, dest: &mut Map, kind: ValueKind<'_>) -> Result<(), String> {
    let mut p = Parser {
        chars: line.chars().collect(),
        pos: 0,
        kind,
    };
    loop {
        match p.key(dest, 0) {
            Ok(()) => continue,
            Err(Stop::Eof) => return Ok(()),
            Err(Stop::Error(e)) => return Err(e),
        }
    }
}

enum Stop {
    Eof,
    Error(String),
}

impl From<String> for Stop {
    fn from(s: String) -> Stop {
        Stop::Error(s)
    }
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    kind: ValueKind<'a>,
}

impl Parser<'_> {
    /// Reads up to one of `stop`, handling `\` escapes. `None` as the stop rune is EOF.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if stop.contains(&c) {
                return (out, Some(c));
            }
            if c == '\\' {
                match self.chars.get(self.pos) {
                    Some(&n) => {
                        self.pos += 1;
                        out.push(n);
                    }
                    None => return (out, None),
                }
                continue;
            }
            out.push(c);
        }
        (out, None)
    }

    fn key(&mut self, data: &mut Map, level: usize) -> Result<(), Stop> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None => {
                if k.is_empty() {
                    return Err(Stop::Eof);
                }
                Err(format!("key {k:?} has no value").into())
            }
            Some('[') => {
                let i = self.index()?;
                let mut list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::List(l)) => l.clone(),
                    Some(_) => {
                        return Err(format!("unable to parse key: {k:?} is not a list").into());
                    }
                };
                let r = self.list_item(&mut list, i, level);
                set(data, &k, Value::List(list));
                r
            }
            Some('=') => {
                if matches!(self.kind, ValueKind::Json) {
                    let v = self.json_value()?;
                    set(data, &k, v);
                    return Ok(());
                }
                match self.val_list() {
                    Ok(Some(list)) => {
                        set(data, &k, Value::List(list));
                        Ok(())
                    }
                    Err(Stop::Eof) => {
                        set(data, &k, Value::str(""));
                        Err(Stop::Eof)
                    }
                    Err(e) => Err(e),
                    Ok(None) => {
                        let (raw, _) = self.until(&[',']);
                        let v = self.typed(&raw)?;
                        set(data, &k, v);
                        Ok(())
                    }
                }
            }
            Some(',') => {
                set(data, &k, Value::str(""));
                Err(format!("key {k:?} has no value (cannot end with ,)").into())
            }
            Some('.') => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )
                    .into());
                }
                let mut inner = match data.get(&k) {
                    Some(Value::Map(m)) => m.clone(),
                    None => Map::new(),
                    Some(_) => {
                        return Err(format!("unable to parse key: {k:?} is not a map").into());
                    }
                };
                let r = self.key(&mut inner, level);
                if r.is_ok() && inner.is_empty() {
                    return Err(format!("key map {k:?} has no value").into());
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Map(inner));
                }
                r
            }
            Some(c) => Err(format!("parse error: unexpected token {c}").into()),
        }
    }

    fn index(&mut self) -> Result<i64, Stop> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return Err(Stop::Error(format!(
                "error parsing index: strconv.Atoi: parsing {v:?}: invalid syntax"
            )));
        }
        v.parse::<i64>().map_err(|_| {
            Stop::Error(format!(
                "error parsing index: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        })
    }

    fn list_item(&mut self, list: &mut Vec<Value>, i: i64, level: usize) -> Result<(), Stop> {
        if i < 0 {
            return Err(format!("negative {i} index not allowed").into());
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return Err(format!("unexpected data at end of array index: {k:?}").into());
        }
        match last {
            None => Err(Stop::Eof),
            Some('=') => {
                let v = if matches!(self.kind, ValueKind::Json) {
                    self.json_value()?
                } else {
                    match self.val_list() {
                        Ok(Some(l)) => Value::List(l),
                        Err(Stop::Eof) => Value::str(""),
                        Err(e) => return Err(e),
                        Ok(None) => {
                            let (raw, _) = self.until(&[',']);
                            self.typed(&raw)?
                        }
                    }
                };
                set_index(list, i, v)
            }
            Some('[') => {
                let next = self.index()?;
                let mut inner = match list.get(i as usize) {
                    Some(Value::List(l)) => l.clone(),
                    _ => Vec::new(),
                };
                self.list_item(&mut inner, next, level)?;
                set_index(list, i, Value::List(inner))
            }
            Some('.') => {
                let mut inner = match list.get(i as usize) {
                    Some(Value::Map(m)) => m.clone(),
                    _ => Map::new(),
                };
                self.key(&mut inner, level)?;
                set_index(list, i, Value::Map(inner))
            }
            Some(c) => Err(format!("parse error: unexpected token {c}").into()),
        }
    }

    /// `{a,b}`: `Ok(None)` when the value is not a list.
    fn val_list(&mut self) -> Result<Option<Vec<Value>>, Stop> {
        match self.chars.get(self.pos) {
            None => return Err(Stop::Eof),
            Some('{') => self.pos += 1,
            Some(_) => return Ok(None),
        }
        let mut list = Vec::new();
        loop {
            let (raw, last) = self.until(&[',', '}']);
            match last {
                None => return Err(Stop::Error("list must terminate with '}'".into())),
                Some('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.typed(&raw)?);
                    return Ok(Some(list));
                }
                _ => list.push(self.typed(&raw)?),
            }
        }
    }

    fn typed(&self, raw: &str) -> Result<Value, Stop> {
        match &self.kind {
            ValueKind::String => Ok(Value::str(raw)),
            ValueKind::File(read) => read(raw).map(Value::String).map_err(Stop::Error),
            ValueKind::Typed | ValueKind::Json => Ok(typed_value(raw)),
        }
    }

    /// One JSON value, then optional blanks and a comma.
    fn json_value(&mut self) -> Result<Value, Stop> {
        if self.empty_value() {
            return Ok(Value::Nil);
        }
        let rest: String = self.chars[self.pos..].iter().collect();
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        let v = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(Stop::Error(e.to_string())),
            None => return Err(Stop::Eof),
        };
        let used = rest[..stream.byte_offset()].chars().count();
        self.pos += used;
        self.empty_value();
        Ok(from_json(v))
    }

    /// Skips blanks; true at a comma (consumed) or the end.
    fn empty_value(&mut self) -> bool {
        while let Some(&c) = self.chars.get(self.pos) {
            if c == ',' {
                self.pos += 1;
                return true;
            }
            if !c.is_whitespace() {
                return false;
            }
            self.pos += 1;
        }
        true
    }
}

fn set(data: &mut Map, key: &str, v: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), v);
    }
}

fn set_index(list: &mut Vec<Value>, i: i64, v: Value) -> Result<(), Stop> {
    if i < 0 {
        return Err(format!("negative {i} index not allowed").into());
    }
    let i = i as usize;
    if i > MAX_INDEX {
        return Err(
            format!("index of {i} is greater than maximum supported index of {MAX_INDEX}").into(),
        );
    }
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = v;
    Ok(())
}

/// Helm's typing of a `--set` value.
pub fn typed_value(raw: &str) -> Value {
    if raw.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if raw.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if raw.eq_ignore_ascii_case("null") {
        return Value::Nil;
    }
    if raw == "0" {
        return Value::Int(0);
    }
    if !raw.is_empty()
        && !raw.starts_with('0')
        && let Ok(i) = go_parse_int(raw)
    {
        return Value::Int(i);
    }
    Value::str(raw)
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits.
fn go_parse_int(s: &str) -> Result<i64, ()> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    s.parse::<i64>().map_err(|_| ())
}

/// JSON as Go decodes it into `interface{}`: numbers are `float64`.
pub fn from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Map(o.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
    }
}

/// An object of the cluster as Helm's `lookup` gives it (Kubernetes' unstructured
/// decoding): whole numbers are `int64`, other numbers `float64`.
pub fn from_object_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(from_object_json).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.into_iter()
                .map(|(k, v)| (k, from_object_json(v)))
                .collect(),
        ),
        other => from_json(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Map, String> {
        let mut m = Map::new();
        parse_into(line, &mut m, ValueKind::Typed).map(|_| m)
    }

    fn show(v: &Value) -> String {
        match v {
            Value::Nil => "nil".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => format!("{i}i"),
            Value::Float(f) => format!("{f}f"),
            Value::String(s) => format!("{s:?}"),
            Value::List(l) => format!("[{}]", l.iter().map(show).collect::<Vec<_>>().join(",")),
            Value::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k}:{}", show(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Value::Object(_) => "obj".into(),
        }
    }

    fn p(line: &str) -> String {
        show(&Value::Map(parse(line).unwrap()))
    }

    #[test]
    fn scalars_are_typed() {
        assert_eq!(
            p("a=1,b=true,c=null,d=0,e=012,f=1.5,g=abc"),
            "{a:1i,b:true,c:nil,d:0i,e:\"012\",f:\"1.5\",g:\"abc\"}"
        );
    }

    #[test]
    fn dots_nest_and_escapes_keep_dots() {
        assert_eq!(p("a.b.c=x"), "{a:{b:{c:\"x\"}}}");
        assert_eq!(p(r"a\.b=x"), "{a.b:\"x\"}");
        assert_eq!(p(r"a=x\,y"), "{a:\"x,y\"}");
    }

    #[test]
    fn lists_grow_with_nulls() {
        assert_eq!(p("a[2]=x"), "{a:[nil,nil,\"x\"]}");
        assert_eq!(p("a[0].b=1,a[1][0]=y"), "{a:[{b:1i},[\"y\"]]}");
        assert_eq!(p("a={1,b,true}"), "{a:[1i,\"b\",true]}");
    }

    #[test]
    fn later_sets_update_earlier_maps() {
        let mut m = Map::new();
        parse_into("a.b=1", &mut m, ValueKind::Typed).unwrap();
        parse_into("a.c=2", &mut m, ValueKind::Typed).unwrap();
        assert_eq!(show(&Value::Map(m)), "{a:{b:1i,c:2i}}");
    }

    #[test]
    fn errors_read_like_helms() {
        assert_eq!(parse("a").unwrap_err(), "key \"a\" has no value");
        assert_eq!(
            parse("a,b=1").unwrap_err(),
            "key \"a\" has no value (cannot end with ,)"
        );
        assert_eq!(parse("a={1,2").unwrap_err(), "list must terminate with '}'");
        assert_eq!(
            parse("a[-1]=1").unwrap_err(),
            "negative -1 index not allowed"
        );
        assert_eq!(
            parse("a=").map(|m| show(&Value::Map(m))),
            Ok("{a:\"\"}".into())
        );
    }

    #[test]
    fn set_string_and_set_json() {
        let mut m = Map::new();
        parse_into("a=1,b=true", &mut m, ValueKind::String).unwrap();
        assert_eq!(show(&Value::Map(m)), "{a:\"1\",b:\"true\"}");
        let mut m = Map::new();
        parse_into(r#"a={"b":[1,2]},c=null"#, &mut m, ValueKind::Json).unwrap();
        assert_eq!(show(&Value::Map(m)), "{a:{b:[1f,2f]},c:nil}");
    }

    #[test]
    fn set_file_reads_the_file() {
        let read = |p: &str| Ok(format!("contents of {p}"));
        let mut m = Map::new();
        parse_into("a=x.txt", &mut m, ValueKind::File(&read)).unwrap();
        assert_eq!(show(&Value::Map(m)), "{a:\"contents of x.txt\"}");
    }
}

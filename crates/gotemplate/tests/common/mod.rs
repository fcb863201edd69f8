//! Helpers shared by the tests: render a template with Helm's engine.

#![allow(dead_code)]

use gotemplate::{Engine, Value};

/// Renders `src` as the template `t` with `dot`.
pub fn render_with(src: &str, dot: &Value) -> Result<String, String> {
    let mut e = Engine::helm();
    e.parse("t", src).map_err(|e| e.to_string())?;
    e.execute("t", dot).map_err(|e| e.to_string())
}

/// Renders `src` with `.Values` read from `values` (YAML) and a few Helm fields.
pub fn render_values(src: &str, values: &str) -> Result<String, String> {
    let v = gotemplate::yaml::from_str(values).map_err(|e| e.to_string())?;
    let dot = Value::map([
        (
            "Values",
            if v.is_nil() {
                Value::map::<String>([])
            } else {
                v
            },
        ),
        (
            "Release",
            Value::map([("Name", Value::str("rel")), ("Namespace", Value::str("ns"))]),
        ),
        (
            "Template",
            Value::map([
                ("Name", Value::str("t")),
                ("BasePath", Value::str("chart/templates")),
            ]),
        ),
    ]);
    render_with(src, &dot)
}

/// Renders `src` with an empty dot, unwrapping.
pub fn r(src: &str) -> String {
    match render_values(src, "{}") {
        Ok(s) => s,
        Err(e) => panic!("{src}: {e}"),
    }
}

/// Renders `src` with values, unwrapping.
pub fn rv(src: &str, values: &str) -> String {
    match render_values(src, values) {
        Ok(s) => s,
        Err(e) => panic!("{src}: {e}"),
    }
}

/// The error of rendering `src` with values.
pub fn err(src: &str, values: &str) -> String {
    match render_values(src, values) {
        Ok(s) => panic!("{src}: expected an error, got {s:?}"),
        Err(e) => e,
    }
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Helm's coalescing of user values over chart defaults (null deletes).
pub fn coalesce(dst: &mut Value, src: &Value) {
    if let (Value::Map(d), Value::Map(s)) = (dst, src) {
        for (k, v) in s {
            if v.is_nil() {
                d.remove(k);
                continue;
            }
            match d.get_mut(k) {
                Some(dv @ Value::Map(_)) if matches!(v, Value::Map(_)) => coalesce(dv, v),
                _ => {
                    d.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

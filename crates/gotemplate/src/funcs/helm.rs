//! Helm's own functions: `include`, `tpl`, `required`, `lookup` and the YAML, JSON and
//! TOML converters Helm adds to Sprig.

use std::collections::HashMap;

use super::{Funcs, Ty, reg};
use crate::exec::{Overlay, State};
use crate::value::V;
use crate::yaml;

use Ty::{Any, Str};

/// Helm's limit on nested `include`s of one template.
const RECURSION_MAX: usize = 1000;

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "include", &[Str, Any], None, include);
    reg(m, "tpl", &[Str, Any], None, tpl);
    // Helm wraps `fail` messages as it does `required`'s, for its error cleanup.
    reg(m, "fail", &[Str], None, |_, a| {
        Err(format!("HELM_ERR_START{}HELM_ERR_END", a[0].s()))
    });
    // DNS lookups are off unless Helm runs with --enable-dns: the name resolves to "".
    reg(m, "getHostByName", &[Str], None, |_, _| Ok(V::str("")));
    reg(m, "required", &[Str, Any], None, |_, a| {
        let missing = match &a[1] {
            V::Nil => true,
            V::Str(s) => s.is_empty(),
            _ => false,
        };
        if missing {
            return Err(format!("HELM_ERR_START{}HELM_ERR_END", a[0].s()));
        }
        Ok(a[1].clone())
    });
    reg(
        m,
        "lookup",
        &[Str, Str, Str, Str],
        None,
        |st, a| match &st.engine.lookup {
            None => Ok(V::map(Default::default())),
            Some(f) => f(a[0].s(), a[1].s(), a[2].s(), a[3].s()).map(|v| V::from(&v)),
        },
    );
    reg(m, "toYaml", &[Any], None, |_, a| {
        Ok(V::str(
            yaml::encode(&a[0]).trim_end_matches('\n').to_string(),
        ))
    });
    reg(m, "mustToYaml", &[Any], None, |_, a| {
        Ok(V::str(
            yaml::encode(&a[0]).trim_end_matches('\n').to_string(),
        ))
    });
    reg(m, "toYamlPretty", &[Any], None, |_, a| {
        Ok(V::str(
            yaml::encode_pretty(&a[0])
                .trim_end_matches('\n')
                .to_string(),
        ))
    });
    reg(m, "fromYaml", &[Str], None, |_, a| {
        Ok(match yaml::decode(a[0].s()) {
            Ok(V::Map(m)) => V::Map(m),
            Ok(V::Nil) => V::map(Default::default()),
            Ok(other) => error_map(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(e),
        })
    });
    reg(m, "fromYamlArray", &[Str], None, |_, a| {
        Ok(match yaml::decode(a[0].s()) {
            Ok(V::List(l)) => V::List(l),
            Ok(V::Nil) => V::list(vec![]),
            Ok(other) => V::list(vec![V::str(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => V::list(vec![V::str(e)]),
        })
    });
    reg(m, "toToml", &[Any], None, |_, a| {
        Ok(V::str(crate::toml::encode(&a[0])))
    });
    reg(m, "fromToml", &[Str], None, |_, a| {
        Ok(match crate::toml::decode(a[0].s()) {
            Ok(v) => v,
            Err(e) => error_map(e),
        })
    });
}

fn error_map(e: String) -> V {
    V::map([("Error".to_string(), V::str(e))].into_iter().collect())
}

fn json_kind(v: &V) -> &'static str {
    match v {
        V::Nil => "null",
        V::Bool(_) => "bool",
        V::Int(_) | V::Float(_) => "number",
        V::Str(_) => "string",
        V::List(_) => "array",
        _ => "object",
    }
}

fn include(st: &mut State, a: &[V]) -> Result<V, String> {
    let name = a[0].s().to_string();
    let count = st.include_counts.entry(name.clone()).or_insert(0);
    if *count > RECURSION_MAX {
        return Err(format!(
            "rendering template has a nested reference name: {name}: unable to execute template"
        ));
    }
    *count += 1;
    let r = st
        .check_stack()
        .and_then(|_| execute_named(st, &name, &a[1]));
    if let Some(c) = st.include_counts.get_mut(&name) {
        *c -= 1;
    }
    r.map(V::Str)
}

/// Go's `ExecuteTemplate` on the current set.
fn execute_named(st: &mut State, name: &str, dot: &V) -> Result<String, String> {
    let Some(tree) = st.lookup(name) else {
        return Err(format!(
            "template: no template {name:?} associated with template {:?}",
            st.engine.root_name
        ));
    };
    let mut out = String::new();
    st.run(tree, dot, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Helm's `tpl` (3.13 and later): the string is parsed in a copy of the template set as
/// the set's root template (`gotpl`), its `define`s replacing those of the same name in
/// the copy, and executed with `vals`; `<no value>` is removed from the result.
fn tpl(st: &mut State, a: &[V]) -> Result<V, String> {
    let text = a[0].s();
    let name = st.engine.root_name.clone();
    let quoted = crate::fmt::go_quote(text);
    let trees = st
        .engine
        .parse_trees(&name, text)
        .map_err(|e| format!("cannot parse template {quoted}: {e}"))?;
    let mut overlay = Overlay {
        trees: HashMap::new(),
    };
    for t in trees {
        let keep_old = t.is_empty() && overlay.trees.get(&t.name).is_some_and(|o| !o.is_empty());
        if !keep_old {
            overlay.trees.insert(t.name.clone(), std::rc::Rc::new(t));
        }
    }
    // The root template is always the tpl text, even when it is empty.
    st.overlays.push(overlay);
    let r = match st.overlays.last().and_then(|o| o.trees.get(&name)).cloned() {
        Some(tree) => {
            let mut out = String::new();
            st.run(tree, &a[1], &mut out)
                .map(|_| out)
                .map_err(|e| e.to_string())
        }
        None => Ok(String::new()),
    };
    st.overlays.pop();
    match r {
        Ok(out) => Ok(V::Str(out.replace("<no value>", ""))),
        Err(e) => Err(format!(
            "error during tpl function execution for {quoted}: {e}"
        )),
    }
}

/// Helm's `cleanupParseError`: `parse error at (LOCATION): MESSAGE`.
pub(crate) fn helm_parse_error(filename: &str, err: &str) -> String {
    let tokens: Vec<&str> = err.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({filename}): {err}");
    }
    format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    )
}

/// Helm's `cleanupExecError`: a `required` message becomes
/// `execution error at (LOCATION): MESSAGE`; other errors are kept.
pub(crate) fn helm_exec_error(err: &str) -> String {
    let tokens: Vec<&str> = err.splitn(3, ": ").collect();
    if tokens.len() != 3 || !err.starts_with("template: ") {
        return err.to_string();
    }
    if let Some(start) = tokens[2].find("HELM_ERR_START") {
        let rest = &tokens[2][start + "HELM_ERR_START".len()..];
        if let Some(end) = rest.rfind("HELM_ERR_END") {
            return format!("execution error at ({}): {}", tokens[1], &rest[..end]);
        }
    }
    err.to_string()
}

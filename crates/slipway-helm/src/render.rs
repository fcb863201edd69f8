//! The template engine's part: every template of a chart and its subcharts in one
//! set, each executed with its own chart's scope (`.Values`, `.Chart`, `.Files`,
//! `.Subcharts`, `.Template`), as Helm's `engine.Render` does.

use std::collections::BTreeMap;
use std::rc::Rc;

use gotemplate::{Engine, MissingKey, Value};

use crate::chart::{Chart, Map};
use crate::error::{Error, Result};
use crate::objects::{ChartObject, Files};
use crate::values::HelmVersion;

/// How `lookup` reaches a cluster: apiVersion, kind, namespace, name to an object.
pub type LookupFn = Box<dyn Fn(&str, &str, &str, &str) -> Result<Value, String>>;

/// One template to parse, with the scope it executes in.
struct Renderable {
    source: String,
    scope: Map,
    base_path: String,
}

/// Renders every template; returns rendered text by template name
/// (`chart/charts/sub/templates/x.yaml`). Partials (`_*`) are parsed, not output.
pub fn render(
    chart: &Chart,
    top: &Map,
    ver: HelmVersion,
    lookup: Option<LookupFn>,
) -> Result<BTreeMap<String, String>> {
    let mut templates = BTreeMap::new();
    collect(chart, top, chart.name(), true, &mut templates);
    let order = sort_templates(templates.keys().cloned().collect());
    let mut engine = Engine::helm();
    engine.set_missing_key(MissingKey::Zero);
    if let Some(f) = lookup {
        engine.set_lookup(f);
    }
    for name in &order {
        let t = &templates[name];
        engine
            .parse(name, &t.source)
            .map_err(|e| Error::Template(parse_error(name, &e)))?;
    }
    let mut rendered = BTreeMap::new();
    for name in &order {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let t = &templates[name];
        let mut dot = t.scope.clone();
        dot.insert(
            "Template".into(),
            Value::map([
                ("Name", Value::str(name.as_str())),
                ("BasePath", Value::str(t.base_path.as_str())),
            ]),
        );
        let out = engine
            .execute(name, &Value::Map(dot))
            .map_err(|e| Error::Template(exec_error(&e, ver)))?;
        rendered.insert(name.clone(), out.replace("<no value>", ""));
    }
    Ok(rendered)
}

/// Builds the scope of `c` and collects its templates; returns the scope (for the
/// parent's `.Subcharts`).
fn collect(
    c: &Chart,
    parent: &Map,
    full_path: &str,
    is_root: bool,
    out: &mut BTreeMap<String, Renderable>,
) -> Map {
    let values = if is_root {
        parent
            .get("Values")
            .cloned()
            .unwrap_or(Value::Map(Map::new()))
    } else {
        match parent.get("Values") {
            Some(Value::Map(v)) => match v.get(c.name()) {
                Some(Value::Map(m)) => Value::Map(m.clone()),
                _ => Value::Map(Map::new()),
            },
            _ => Value::Map(Map::new()),
        }
    };
    let mut next = Map::new();
    next.insert(
        "Chart".into(),
        Value::Object(Rc::new(ChartObject {
            metadata: c.metadata.clone(),
            is_root,
        })),
    );
    next.insert("Files".into(), Value::Object(Rc::new(Files::new(&c.files))));
    for key in ["Release", "Capabilities"] {
        next.insert(key.into(), parent.get(key).cloned().unwrap_or(Value::Nil));
    }
    next.insert("Values".into(), values);
    let mut subcharts = Map::new();
    for child in &c.dependencies {
        let child_path = format!("{full_path}/charts/{}", child.name());
        let scope = collect(child, &next, &child_path, false, out);
        subcharts.insert(child.name().to_string(), Value::Map(scope));
    }
    next.insert("Subcharts".into(), Value::Map(subcharts));
    for t in &c.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if c.is_library() && !base.starts_with('_') {
            continue;
        }
        out.insert(
            format!("{full_path}/{}", t.name),
            Renderable {
                source: String::from_utf8_lossy(&t.data).into_owned(),
                scope: next.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    next
}

/// Helm parses deeper templates first, so a parent's `define` replaces a subchart's.
fn sort_templates(mut names: Vec<String>) -> Vec<String> {
    names.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
    names
}

/// Helm's `cleanupParseError`: `parse error at (file:line): message`.
fn parse_error(name: &str, e: &gotemplate::Error) -> String {
    let text = e.to_string();
    let tokens: Vec<&str> = text.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({name}): {text}");
    }
    format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    )
}

const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

/// Helm's execution error text. `required` and `fail` messages (wrapped in Helm's
/// markers) print as `execution error at (file:line:col): message`; others as Go
/// prints them (Helm 3) or on three lines (Helm 4).
fn exec_error(e: &gotemplate::Error, ver: HelmVersion) -> String {
    let location = match e.col {
        Some(col) => format!("{}:{}:{col}", e.template, e.line),
        None => format!("{}:{}", e.template, e.line),
    };
    if let Some(start) = e.message.find(WARN_START)
        && let Some(end) = e.message.rfind(WARN_END)
        && end >= start + WARN_START.len()
    {
        let msg = &e.message[start + WARN_START.len()..end];
        return format!("execution error at ({location}): {msg}");
    }
    if ver.is_v4()
        && e.line > 0
        && let Some((name, node)) = &e.executing
    {
        return format!(
            "{location}\n  executing {name:?} at <{node}>:\n    {}",
            e.message
        );
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeper_templates_parse_first() {
        let names = vec![
            "a/templates/x.yaml".to_string(),
            "a/charts/b/templates/y.yaml".into(),
            "a/templates/_h.tpl".into(),
        ];
        assert_eq!(
            sort_templates(names),
            [
                "a/charts/b/templates/y.yaml",
                "a/templates/x.yaml",
                "a/templates/_h.tpl"
            ]
        );
    }

    #[test]
    fn required_messages_are_unwrapped() {
        let e = gotemplate::Error {
            template: "c/templates/a.yaml".into(),
            line: 3,
            col: Some(7),
            executing: Some(("c/templates/a.yaml".into(), "required".into())),
            message: "error calling required: HELM_ERR_STARTneed xHELM_ERR_END".into(),
        };
        assert_eq!(
            exec_error(&e, HelmVersion::V3),
            "execution error at (c/templates/a.yaml:3:7): need x"
        );
    }

    #[test]
    fn helm4_prints_execution_errors_on_three_lines() {
        let e = gotemplate::Error {
            template: "c/templates/a.yaml".into(),
            line: 7,
            col: Some(38),
            executing: Some(("c/templates/a.yaml".into(), "b64enc".into())),
            message: "invalid value; expected string".into(),
        };
        assert_eq!(
            exec_error(&e, HelmVersion::V4_2),
            "c/templates/a.yaml:7:38\n  executing \"c/templates/a.yaml\" at <b64enc>:\n    invalid value; expected string"
        );
    }
}

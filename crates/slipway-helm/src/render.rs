//! The template engine's part: every template of a chart and its subcharts in one
//! set, each executed with its own chart's scope (`.Values`, `.Chart`, `.Files`,
//! `.Subcharts`, `.Template`), as Helm's `engine.Render` does.

use std::collections::BTreeMap;
use std::rc::Rc;

use gotemplate::{Dot, Engine, MissingKey, Value};

use crate::chart::{Chart, Map};
use crate::error::{Error, Result};
use crate::objects::{ChartObject, Files};
use crate::values::HelmVersion;

/// How `lookup` reaches a cluster: apiVersion, kind, namespace, name to an object.
pub type LookupFn = Box<dyn Fn(&str, &str, &str, &str) -> Result<Value, String>>;

/// One template to parse, with the scope it executes in.
struct Renderable {
    source: String,
    /// Which chart's scope the template executes in (an index into the scopes).
    chart: usize,
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
    let mut scopes = Vec::new();
    collect(chart, top, chart.name(), true, &mut templates, &mut scopes);
    let order = sort_templates(templates.keys().cloned().collect());
    let mut engine = Engine::helm();
    engine.set_missing_key(MissingKey::Zero);
    if let Some(f) = lookup {
        engine.set_lookup(f);
    }
    let as_map = regex::Regex::new(r"\.Values\.AsMap\b").expect("valid regex");
    for name in &order {
        let t = &templates[name];
        // `.Values` is Helm's `chartutil.Values`, whose method `AsMap` returns the map
        // itself; the engine's maps have no methods, so the call is spelled out here.
        let source = as_map.replace_all(&t.source, ".Values");
        engine
            .parse(name, &source)
            .map_err(|e| Error::Template(parse_error(name, &e)))?;
    }
    // One dot per chart, shared by its templates as Helm shares one map: what a
    // template changes in `.Values` (`set`, `merge`) is seen by the templates
    // executed after it. `.Template` is set on that shared dot before each template
    // by a one-line template, as the engine's dots are changed only by templates.
    let dots: Vec<Dot> = scopes
        .iter()
        .map(|s| Dot::new(&Value::Map(s.clone())))
        .collect();
    let mut rendered = BTreeMap::new();
    for name in &order {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let t = &templates[name];
        let setter = format!("{SET_TEMPLATE_PREFIX}{name}");
        let set_source = format!(
            "{{{{- $_ := set . \"Template\" (dict \"Name\" {} \"BasePath\" {}) -}}}}",
            go_string(name),
            go_string(&t.base_path)
        );
        engine
            .parse(&setter, &set_source)
            .map_err(|e| Error::Template(parse_error(name, &e)))?;
        let dot = &dots[t.chart];
        engine
            .execute_dot(&setter, dot)
            .map_err(|e| Error::Template(exec_error(&e, ver)))?;
        let out = engine
            .execute_dot(name, dot)
            .map_err(|e| Error::Template(exec_error(&e, ver)))?;
        rendered.insert(name.clone(), out.replace("<no value>", ""));
    }
    Ok(rendered)
}

/// The names of the one-line templates that set `.Template` (never valid file names).
const SET_TEMPLATE_PREFIX: &str = "\u{0}set-template:";

/// A Go interpreted string literal.
fn go_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builds the scope of `c` and collects its templates; returns the scope (for the
/// parent's `.Subcharts`). Scopes are pushed to `scopes` in the order charts are met.
fn collect(
    c: &Chart,
    parent: &Map,
    full_path: &str,
    is_root: bool,
    out: &mut BTreeMap<String, Renderable>,
    scopes: &mut Vec<Map>,
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
        let scope = collect(child, &next, &child_path, false, out, scopes);
        subcharts.insert(child.name().to_string(), Value::Map(scope));
    }
    next.insert("Subcharts".into(), Value::Map(subcharts));
    let index = scopes.len();
    scopes.push(next.clone());
    for t in &c.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if c.is_library() && !base.starts_with('_') {
            continue;
        }
        out.insert(
            format!("{full_path}/{}", t.name),
            Renderable {
                source: String::from_utf8_lossy(&t.data).into_owned(),
                chart: index,
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
    use crate::chart::{ChartFile, Metadata};

    fn chart(name: &str, kind: &str, templates: &[(&str, &str)], deps: Vec<Chart>) -> Chart {
        Chart {
            metadata: Metadata {
                name: name.into(),
                version: "1.0.0".into(),
                chart_type: kind.into(),
                ..Metadata::default()
            },
            templates: templates
                .iter()
                .map(|(n, d)| ChartFile {
                    name: format!("templates/{n}"),
                    data: d.as_bytes().to_vec(),
                })
                .collect(),
            dependencies: deps,
            ..Chart::default()
        }
    }

    fn top(values: Value) -> Map {
        let mut m = Map::new();
        m.insert("Values".into(), values);
        m.insert("Release".into(), Value::map([("Name", Value::str("rel"))]));
        m
    }

    #[test]
    fn each_chart_sees_its_own_values_and_partials_are_not_output() {
        let sub = chart(
            "sub",
            "",
            &[("a.yaml", "sub={{ .Values.x }} root={{ .Chart.IsRoot }}")],
            vec![],
        );
        let lib = chart(
            "lib",
            "library",
            &[
                ("_h.tpl", "{{ define \"h\" }}H{{ end }}"),
                ("cm.yaml", "never"),
            ],
            vec![],
        );
        let parent = chart(
            "top",
            "",
            &[
                (
                    "b.yaml",
                    "top={{ .Values.x }} {{ include \"h\" . }} {{ .Template.Name }} {{ .Release.Name }}",
                ),
                ("_p.tpl", "x"),
            ],
            vec![sub, lib],
        );
        let values = Value::map([
            ("x", Value::Int(1)),
            ("sub", Value::map([("x", Value::Int(2))])),
        ]);
        let out = render(&parent, &top(values), HelmVersion::V3, None).unwrap();
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            ["top/charts/sub/templates/a.yaml", "top/templates/b.yaml"]
        );
        assert_eq!(out["top/charts/sub/templates/a.yaml"], "sub=2 root=false");
        assert_eq!(
            out["top/templates/b.yaml"],
            "top=1 H top/templates/b.yaml rel"
        );
    }

    #[test]
    fn a_change_to_values_is_seen_by_later_templates_of_the_chart() {
        // `z.yaml` executes before `a.yaml` (Helm runs same-depth templates in
        // reverse name order).
        let c = chart(
            "c",
            "",
            &[
                ("z.yaml", "{{ $_ := set .Values \"seen\" \"yes\" }}"),
                ("a.yaml", "{{ .Values.seen }}"),
            ],
            vec![],
        );
        let out = render(&c, &top(Value::Map(Map::new())), HelmVersion::V3, None).unwrap();
        assert_eq!(out["c/templates/a.yaml"], "yes");
    }

    #[test]
    fn missing_values_print_nothing() {
        let c = chart("c", "", &[("a.yaml", "[{{ .Values.nope }}]")], vec![]);
        let out = render(&c, &top(Value::Map(Map::new())), HelmVersion::V3, None).unwrap();
        assert_eq!(out["c/templates/a.yaml"], "[]");
    }

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

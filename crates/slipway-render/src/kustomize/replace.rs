//! `replacements`: copy a field of one object into fields of others.
//!
//! Each replacement names a `source` (an object chosen by group, version, kind, name and
//! namespace, and a `fieldPath`, `metadata.name` by default) and `targets` (objects
//! chosen by `select`, minus those matched by a `reject`, and the `fieldPaths` to write).
//! Field paths are dot-separated: `spec.template.spec.containers.0.image`, a list element
//! by one of its fields as `containers.[name=manager]`, and a key holding dots in brackets
//! as `annotations.[cert-manager.io/inject-ca-from]`. `options.delimiter` and
//! `options.index` pick one part of a value split by the delimiter (on the source) or
//! replace one part (on a target; past the end appends, below zero prepends);
//! `options.create` creates missing target fields. A scalar target keeps its type (a
//! string stays a string); an object or list is replaced whole. This follows kustomize's
//! replacement filter.

use std::path::Path;

use serde_json::{Map, Value};

use super::load::resolve_plain;
use super::{Id, Res};
use crate::RenderError;

/// One replacement as written, with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Replacement {
    pub value: Value,
    pub file: std::path::PathBuf,
    pub line: usize,
}

/// An object selector of a source, target or reject.
#[derive(Debug, Default)]
struct Select {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    label_selector: Option<String>,
    annotation_selector: Option<String>,
}

impl Select {
    fn parse(v: &Value, field: &str) -> Result<Select, String> {
        let Value::Object(m) = v else {
            return Err(format!("`{field}` must be a mapping"));
        };
        let mut s = Select::default();
        for (k, x) in m {
            let slot = match k.as_str() {
                "group" => &mut s.group,
                "version" => &mut s.version,
                "kind" => &mut s.kind,
                "name" => &mut s.name,
                "namespace" => &mut s.namespace,
                "labelSelector" => &mut s.label_selector,
                "annotationSelector" => &mut s.annotation_selector,
                // Source-only fields, read by the caller.
                "fieldPath" | "options" => continue,
                other => return Err(format!("`{field}.{other}`: unknown field")),
            };
            let text = scalar_text(x).ok_or_else(|| format!("`{field}.{k}` must be a string"))?;
            *slot = Some(text).filter(|t| !t.is_empty());
        }
        Ok(s)
    }

    fn is_empty_id(&self) -> bool {
        self.group.is_none()
            && self.version.is_none()
            && self.kind.is_none()
            && self.name.is_none()
            && self.namespace.is_none()
    }

    /// kustomize's `ResId.IsSelectedBy`: every field given must be equal (namespaces
    /// compare with the empty one standing for `default`).
    fn selects_id(&self, id: &Id) -> bool {
        let eq = |sel: &Option<String>, v: &str| sel.as_deref().is_none_or(|s| s == v);
        let ns = |n: &str| {
            if n.is_empty() {
                "default".to_owned()
            } else {
                n.to_owned()
            }
        };
        eq(&self.group, &id.group)
            && eq(&self.version, &id.version)
            && eq(&self.kind, &id.kind)
            && eq(&self.name, &id.name)
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| ns(n) == ns(&id.namespace))
    }

    fn selects_metadata(&self, r: &Res) -> Result<bool, String> {
        for (sel, field) in [
            (&self.label_selector, "labels"),
            (&self.annotation_selector, "annotations"),
        ] {
            if let Some(sel) = sel {
                let map = r.obj.value.pointer(&format!("/metadata/{field}"));
                if !kube_objects::LabelSelector::parse(sel)?.matches_labels(map) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// `options` of a source or a target.
#[derive(Debug, Default)]
struct Options {
    delimiter: String,
    index: i64,
    create: bool,
}

impl Options {
    fn parse(v: Option<&Value>, field: &str) -> Result<Options, String> {
        let mut o = Options::default();
        let Some(v) = v else { return Ok(o) };
        let Value::Object(m) = v else {
            return Err(format!("`{field}` must be a mapping"));
        };
        for (k, x) in m {
            match (k.as_str(), x) {
                ("delimiter", x) => {
                    o.delimiter = scalar_text(x)
                        .ok_or_else(|| format!("`{field}.delimiter` must be a string"))?;
                }
                ("index", Value::Number(n)) if n.is_i64() => o.index = n.as_i64().unwrap_or(0),
                ("create", Value::Bool(b)) => o.create = *b,
                ("index" | "create", _) => {
                    return Err(format!("`{field}.{k}` has a value of the wrong type"));
                }
                (other, _) => return Err(format!("`{field}.{other}`: unknown field")),
            }
        }
        Ok(o)
    }
}

/// Read the `replacements` entries of a kustomization: inline ones, and `path` entries
/// naming a file that holds one replacement or a list of them.
pub(crate) fn load_entries(
    items: Vec<(Value, usize)>,
    file: &Path,
    dir: &Path,
) -> Result<Vec<Replacement>, RenderError> {
    let mut out = Vec::new();
    for (i, (v, line)) in items.into_iter().enumerate() {
        let invalid = |message: String| RenderError::Invalid {
            file: file.to_owned(),
            line,
            field: format!("replacements[{i}]"),
            message,
        };
        match v.get("path").and_then(Value::as_str) {
            Some(path) => {
                let f = dir.join(path);
                let docs = super::load::patch_documents(&crate::read::read_text(&f)?, &f)?;
                for (doc, doc_line) in docs {
                    let items = match doc {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    out.extend(items.into_iter().map(|value| Replacement {
                        value,
                        file: f.clone(),
                        line: doc_line,
                    }));
                }
            }
            None if v.get("source").is_some() => out.push(Replacement {
                value: v,
                file: file.to_owned(),
                line,
            }),
            None => return Err(invalid("needs `source` and `targets`, or `path`".into())),
        }
    }
    Ok(out)
}

/// Apply every replacement, in order.
pub(crate) fn run(replacements: &[Replacement], ra: &mut [Res]) -> Result<(), RenderError> {
    for r in replacements {
        apply(r, ra).map_err(|message| RenderError::Build {
            file: r.file.clone(),
            line: r.line,
            message: format!("replacement: {message}"),
        })?;
    }
    Ok(())
}

fn apply(r: &Replacement, ra: &mut [Res]) -> Result<(), String> {
    let source = r.value.get("source").ok_or("needs a `source`")?;
    let select = Select::parse(source, "source")?;
    let field_path = source
        .get("fieldPath")
        .and_then(Value::as_str)
        .unwrap_or("metadata.name");
    let options = Options::parse(source.get("options"), "source.options")?;
    let value = source_value(ra, &select, field_path, &options)?;
    let Some(Value::Array(entries)) = r.value.get("targets") else {
        return Err("`targets` must be a list".into());
    };
    for (i, t) in entries.iter().enumerate() {
        let field = format!("targets[{i}]");
        let select = Select::parse(
            t.get("select")
                .ok_or_else(|| format!("`{field}` must have a `select`"))?,
            &format!("{field}.select"),
        )?;
        let rejects = match t.get("reject") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| Select::parse(x, &format!("{field}.reject")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(format!("`{field}.reject` must be a list")),
        };
        let paths: Vec<String> = match t.get("fieldPaths") {
            None => vec!["metadata.name".into()],
            Some(Value::Array(a)) => a.iter().filter_map(scalar_text).collect(),
            Some(_) => return Err(format!("`{field}.fieldPaths` must be a list")),
        };
        let options = Options::parse(t.get("options"), &format!("{field}.options"))?;
        for res in ra.iter_mut() {
            if !select.selects_metadata(res)? {
                continue;
            }
            let selected = res.all_ids().iter().any(|id| {
                select.selects_id(id)
                    && !rejects.iter().any(|r| !r.is_empty_id() && r.selects_id(id))
            });
            if !selected {
                continue;
            }
            for p in &paths {
                let steps = parse_path(p);
                let id = res.cur_id().display();
                let mut found: Vec<String> = Vec::new();
                targets(
                    &mut res.obj.value,
                    &steps,
                    options.create,
                    String::new(),
                    &mut found,
                );
                if found.is_empty() {
                    return Err(format!(
                        "unable to find field `{p}` in the target `{id}`{}",
                        if options.create {
                            " (and it cannot be created)"
                        } else {
                            "; set `options.create` to create it"
                        }
                    ));
                }
                for ptr in found {
                    if let Some(slot) = res.obj.value.pointer_mut(&ptr) {
                        set_target(slot, &value, &options)
                            .map_err(|m| format!("target `{id}` field `{p}`: {m}"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn source_value(
    ra: &[Res],
    select: &Select,
    field_path: &str,
    options: &Options,
) -> Result<Value, String> {
    let mut found: Option<&Res> = None;
    for r in ra {
        if r.all_ids().iter().any(|id| select.selects_id(id)) {
            if let Some(prev) = found {
                return Err(format!(
                    "the source selector matches several objects: `{}` and `{}`",
                    prev.cur_id().display(),
                    r.cur_id().display()
                ));
            }
            found = Some(r);
        }
    }
    let r = found.ok_or("the source selector matches no object")?;
    let v = lookup(&r.obj.value, &parse_path(field_path)).ok_or_else(|| {
        format!(
            "field `{field_path}` is missing in the source `{}`",
            r.cur_id().display()
        )
    })?;
    if options.delimiter.is_empty() {
        return Ok(v.clone());
    }
    let text = scalar_text(v).ok_or("`delimiter` can only be used on a scalar source")?;
    let parts: Vec<&str> = text.split(options.delimiter.as_str()).collect();
    usize::try_from(options.index)
        .ok()
        .and_then(|i| parts.get(i))
        .map(|p| Value::String((*p).to_owned()))
        .ok_or_else(|| {
            format!(
                "`options.index` {} is out of bounds for the source value `{text}`",
                options.index
            )
        })
}

fn set_target(slot: &mut Value, value: &Value, options: &Options) -> Result<(), String> {
    let target_is_scalar = !matches!(slot, Value::Object(_) | Value::Array(_));
    let new_text = if options.delimiter.is_empty() {
        scalar_text(value)
    } else {
        let current = match &*slot {
            Value::Null => String::new(),
            other => scalar_text(other).ok_or("`delimiter` can only be used on scalar fields")?,
        };
        let v = scalar_text(value).ok_or("`delimiter` needs a scalar source")?;
        let mut parts: Vec<String> = current
            .split(options.delimiter.as_str())
            .map(str::to_owned)
            .collect();
        match usize::try_from(options.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        Some(parts.join(&options.delimiter))
    };
    match (target_is_scalar, new_text) {
        // A scalar keeps its type: only its text changes.
        (true, Some(text)) => {
            *slot = match &*slot {
                Value::String(_) => Value::String(text),
                _ => resolve_plain(&text),
            };
        }
        _ => *slot = value.clone(),
    }
    Ok(())
}

/// The text of a scalar (`None` for mappings and lists).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// One step of a field path.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    /// A list element by position, or a mapping key made of digits.
    Index(String),
    /// A list element whose field equals a value: `[name=manager]`.
    Match(String, String),
    /// Every element of a list: `*`.
    Every,
}

fn parse_path(path: &str) -> Vec<Step> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in path.strip_prefix('.').unwrap_or(path).chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(
            |p| match p.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
                Some(inner) => match inner.split_once('=') {
                    Some((k, v)) => Step::Match(k.to_owned(), v.to_owned()),
                    None => Step::Field(inner.to_owned()),
                },
                None if p == "*" => Step::Every,
                None if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Step::Index(p),
                None => Step::Field(p),
            },
        )
        .collect()
}

fn lookup<'v>(v: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(v);
    };
    let next = match (step, v) {
        (Step::Field(k) | Step::Index(k), Value::Object(m)) => m.get(k)?,
        (Step::Index(i), Value::Array(a)) => a.get(i.parse::<usize>().ok()?)?,
        (Step::Match(k, want), Value::Array(a)) => a
            .iter()
            .find(|x| x.get(k).and_then(scalar_text).as_deref() == Some(want))?,
        _ => return None,
    };
    lookup(next, rest)
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// JSON pointers of every field a target path names, created on the way when `create`
/// is set (mappings, lists for a following list step, list elements for `[key=value]`,
/// `null` at the end). `*` and `[key=value]` may name several list elements.
fn targets(v: &mut Value, steps: &[Step], create: bool, path: String, out: &mut Vec<String>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(path);
        return;
    };
    if v.is_null() && create {
        *v = match step {
            Step::Field(_) => Value::Object(Map::new()),
            Step::Index(_) | Step::Match(..) | Step::Every => Value::Array(Vec::new()),
        };
    }
    match (step, v) {
        (Step::Field(k) | Step::Index(k), Value::Object(m)) => {
            if !m.contains_key(k) {
                if !create {
                    return;
                }
                m.insert(k.clone(), Value::Null);
            }
            let child = m.get_mut(k).expect("present or inserted");
            targets(
                child,
                rest,
                create,
                format!("{path}/{}", escape_pointer(k)),
                out,
            );
        }
        (Step::Index(i), Value::Array(a)) => {
            if let Some(x) = i.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                targets(x, rest, create, format!("{path}/{i}"), out);
            }
        }
        (Step::Every, Value::Array(a)) => {
            for (i, x) in a.iter_mut().enumerate() {
                targets(x, rest, create, format!("{path}/{i}"), out);
            }
        }
        (Step::Match(k, want), Value::Array(a)) => {
            let hits: Vec<usize> = (0..a.len())
                .filter(|&i| a[i].get(k).and_then(scalar_text).as_deref() == Some(want))
                .collect();
            if hits.is_empty() && create {
                let mut m = Map::new();
                m.insert(k.clone(), Value::String(want.clone()));
                a.push(Value::Object(m));
                let i = a.len() - 1;
                targets(&mut a[i], rest, create, format!("{path}/{i}"), out);
            }
            for i in hits {
                targets(&mut a[i], rest, create, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: Value) -> Res {
        Res::new(crate::Object {
            value: v,
            source: crate::Source::generated("k.yaml", 1),
        })
    }

    fn replacement(v: Value) -> Replacement {
        Replacement {
            value: v,
            file: "k.yaml".into(),
            line: 1,
        }
    }

    #[test]
    fn paths_split_on_dots_outside_brackets() {
        assert_eq!(
            parse_path(".metadata.annotations.[cert-manager.io/inject-ca-from]"),
            vec![
                Step::Field("metadata".into()),
                Step::Field("annotations".into()),
                Step::Field("cert-manager.io/inject-ca-from".into())
            ]
        );
        assert_eq!(
            parse_path("spec.containers.[name=a].env.0.value"),
            vec![
                Step::Field("spec".into()),
                Step::Field("containers".into()),
                Step::Match("name".into(), "a".into()),
                Step::Field("env".into()),
                Step::Index("0".into()),
                Step::Field("value".into())
            ]
        );
    }

    #[test]
    fn delimited_parts_are_replaced_appended_and_created() {
        let mut ra = vec![
            res(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "ns"}}),
            ),
            res(
                json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c"},
                "spec": {"dnsNames": ["SERVICE.NAMESPACE.svc"]}}),
            ),
            res(json!({"apiVersion": "v1", "kind": "Webhook", "metadata": {"name": "w"}})),
        ];
        let reps = [
            json!({"source": {"kind": "Service", "name": "svc"}, "targets": [{"select": {"kind": "Certificate"},
                "fieldPaths": [".spec.dnsNames.0"], "options": {"delimiter": ".", "index": 0}}]}),
            json!({"source": {"kind": "Service", "fieldPath": "metadata.namespace"}, "targets": [{"select": {"kind": "Certificate"},
                "fieldPaths": ["spec.dnsNames.0"], "options": {"delimiter": ".", "index": 1}}]}),
            json!({"source": {"kind": "Service", "fieldPath": "metadata.namespace"}, "targets": [{"select": {"kind": "Webhook"},
                "fieldPaths": ["metadata.annotations.[x.io/from]"], "options": {"delimiter": "/", "index": 0, "create": true}}]}),
            json!({"source": {"kind": "Certificate"}, "targets": [{"select": {"kind": "Webhook"},
                "fieldPaths": ["metadata.annotations.[x.io/from]"], "options": {"delimiter": "/", "index": 1, "create": true}}]}),
        ];
        run(&reps.map(replacement), &mut ra).unwrap();
        assert_eq!(ra[1].obj.value["spec"]["dnsNames"][0], "svc.ns.svc");
        assert_eq!(
            ra[2].obj.value["metadata"]["annotations"]["x.io/from"],
            "ns/c"
        );
    }

    #[test]
    fn scalar_targets_keep_their_type_and_rejects_are_skipped() {
        let mut ra = vec![
            res(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}, "data": {"port": "8080"}}),
            ),
            res(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"port": 1, "name": "x"}}),
            ),
            res(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}, "spec": {"port": 1}}),
            ),
        ];
        let rep = json!({"source": {"kind": "ConfigMap", "fieldPath": "data.port"}, "targets": [
            {"select": {"kind": "Service"}, "reject": [{"name": "b"}], "fieldPaths": ["spec.port", "spec.name"]}]});
        run(&[replacement(rep)], &mut ra).unwrap();
        assert_eq!(
            ra[1].obj.value["spec"],
            json!({"port": 8080, "name": "8080"})
        );
        assert_eq!(ra[2].obj.value["spec"]["port"], 1);
    }

    #[test]
    fn missing_source_and_target_fields_are_errors() {
        let mut ra = vec![res(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}}),
        )];
        let missing =
            json!({"source": {"kind": "ConfigMap", "fieldPath": "data.x"}, "targets": []});
        let err = run(&[replacement(missing)], &mut ra).unwrap_err();
        assert!(err.to_string().contains("`data.x` is missing"), "{err}");
        // As kubectl: "unable to find field "data.y" in replacement target".
        let missing = json!({"source": {"kind": "ConfigMap"}, "targets": [{"select": {"kind": "ConfigMap"}, "fieldPaths": ["data.y"]}]});
        let err = run(&[replacement(missing)], &mut ra).unwrap_err();
        assert!(
            err.to_string().contains("unable to find field `data.y`"),
            "{err}"
        );
        assert!(ra[0].obj.value.get("data").is_none());
    }
}

//! `vars`: `$(NAME)` references replaced by a field of another object.
//!
//! A var names an object (`objref`: kind, name, and `apiVersion` or `group`/`version`)
//! and one of its fields (`fieldref.fieldPath`, `metadata.name` by default). Vars of
//! every kustomization of the build are collected; once names are final (prefixes,
//! suffixes, hashes), each var's value is read from the object and written into the
//! string fields that kustomize's var reference table names (container `args`,
//! `command`, `env` values and mount paths of every workload, Ingress hosts, Service
//! ports, labels and annotations, ...) plus those `configurations` add. As in kustomize,
//! `$$` stands for `$`, a field that is exactly `$(NAME)` takes the value with its type,
//! and a reference to an unknown var is left as written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Res;
use super::config::Config;
use super::fields::{FieldSpec, split_path, walk};
use crate::RenderError;

/// One var as declared, with where it was declared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    pub name: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub object: String,
    pub namespace: String,
    pub field_path: String,
    pub file: PathBuf,
    pub line: usize,
}

impl Var {
    /// Read one `vars` entry.
    pub fn parse(v: &Value, file: &Path, line: usize, index: usize) -> Result<Var, RenderError> {
        let invalid = |field: &str, message: &str| RenderError::Invalid {
            file: file.to_owned(),
            line,
            field: format!("vars[{index}]{field}"),
            message: message.to_owned(),
        };
        // Field names are matched without case, as kustomize's JSON decoding does.
        let get = |m: &Value, key: &str| -> Option<Value> {
            m.as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, x)| x.clone())
        };
        let text = |m: &Value, key: &str| -> String {
            match get(m, key) {
                Some(Value::String(s)) => s,
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            }
        };
        let name = text(v, "name");
        if name.is_empty() {
            return Err(invalid(".name", "a var needs a name"));
        }
        let objref =
            get(v, "objref").ok_or_else(|| invalid(".objref", "a var needs an `objref`"))?;
        let (mut group, mut version) = (text(&objref, "group"), text(&objref, "version"));
        let api = text(&objref, "apiVersion");
        if !api.is_empty() {
            (group, version) = match api.split_once('/') {
                Some((g, v)) => (g.to_owned(), v.to_owned()),
                None => (String::new(), api),
            };
        }
        let field_path = get(v, "fieldref")
            .map(|f| text(&f, "fieldPath"))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "metadata.name".into());
        Ok(Var {
            name,
            group,
            version,
            kind: text(&objref, "kind"),
            object: text(&objref, "name"),
            namespace: text(&objref, "namespace"),
            field_path,
            file: file.to_owned(),
            line,
        })
    }
}

/// kustomize's built-in var reference table: where `$(NAME)` is replaced.
fn default_references() -> Vec<FieldSpec> {
    let spec = |kind: &str, path: String| FieldSpec {
        kind: kind.into(),
        path,
        ..FieldSpec::default()
    };
    let container_fields = |prefix: &str| -> Vec<String> {
        let mut out = Vec::new();
        for list in ["containers", "initContainers"] {
            for field in ["args", "command", "env/value", "volumeMounts/mountPath"] {
                out.push(format!("{prefix}{list}/{field}"));
            }
        }
        out
    };
    let mut out = Vec::new();
    for (kind, pod) in [
        ("CronJob", "spec/jobTemplate/spec/template/spec/"),
        ("DaemonSet", "spec/template/spec/"),
        ("Deployment", "spec/template/spec/"),
        ("Job", "spec/template/spec/"),
        ("Pod", "spec/"),
        ("ReplicaSet", "spec/template/spec/"),
        ("StatefulSet", "spec/template/spec/"),
    ] {
        for p in container_fields(pod) {
            out.push(spec(kind, p));
        }
        let nfs = match kind {
            // kustomize's table has this path without `spec/` for CronJobs.
            "CronJob" => "spec/jobTemplate/spec/template/volumes/nfs/server".to_owned(),
            "StatefulSet" => "spec/volumeClaimTemplates/spec/nfs/server".to_owned(),
            _ => format!("{pod}volumes/nfs/server"),
        };
        out.push(spec(kind, nfs));
    }
    out.push(spec(
        "Deployment",
        "spec/template/metadata/annotations".into(),
    ));
    for p in ["spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"] {
        out.push(spec("Ingress", p.into()));
    }
    for p in ["spec/ports/port", "spec/ports/targetPort"] {
        out.push(spec("Service", p.into()));
    }
    out.push(spec("PersistentVolume", "spec/nfs/server".into()));
    out.push(spec("", "metadata/labels".into()));
    out.push(spec("", "metadata/annotations".into()));
    out
}

/// Resolve every var and replace its references.
pub(crate) fn resolve(ra: &mut [Res], config: &Config) -> Result<(), RenderError> {
    if config.vars.is_empty() {
        return Ok(());
    }
    let mut values: HashMap<&str, Value> = HashMap::new();
    for var in &config.vars {
        let err = |message: String| RenderError::Build {
            file: var.file.clone(),
            line: var.line,
            message: format!("var `{}`: {message}", var.name),
        };
        let matches: Vec<&Res> = ra
            .iter()
            .filter(|r| {
                r.all_ids().iter().any(|id| {
                    (var.group.is_empty() || id.group == var.group)
                        && (var.version.is_empty() || id.version == var.version)
                        && (var.kind.is_empty() || id.kind == var.kind)
                        && id.name == var.object
                        && (var.namespace.is_empty() || id.namespace == var.namespace)
                })
            })
            .collect();
        let r = match matches.as_slice() {
            [r] => *r,
            [] => return Err(err(format!("no object is `{}/{}`", var.kind, var.object))),
            _ => {
                return Err(err(format!(
                    "several objects are `{}/{}`",
                    var.kind, var.object
                )));
            }
        };
        let value = field_value(&r.obj.value, &var.field_path).ok_or_else(|| {
            err(format!(
                "`{}` has no scalar field `{}`",
                r.cur_id().display(),
                var.field_path
            ))
        })?;
        if let Some(old) = values.insert(&var.name, value.clone())
            && old != value
        {
            return Err(err("is declared twice with different values".into()));
        }
    }
    let mut specs = default_references();
    specs.extend(config.var_reference.iter().cloned());
    let paths: Vec<_> = specs.iter().map(|s| split_path(&s.path)).collect();
    for r in ra.iter_mut() {
        let id = r.cur_id();
        for (spec, path) in specs.iter().zip(&paths) {
            if spec.applies_to(&id.group, &id.version, &id.kind) {
                walk(&mut r.obj.value, path, false, &mut |slot| {
                    replace_in(slot, &values);
                });
            }
        }
    }
    Ok(())
}

/// Replace references in a string, or in the string values of a mapping or list.
fn replace_in(slot: &mut Value, values: &HashMap<&str, Value>) {
    match slot {
        Value::String(s) => *slot = expand(s, values),
        Value::Object(m) => {
            for v in m.values_mut() {
                if let Value::String(s) = v {
                    *v = expand(s, values);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                if let Value::String(s) = v {
                    *v = expand(s, values);
                }
            }
        }
        _ => {}
    }
}

/// The text of a value as Go's `fmt.Sprint` writes it.
fn sprint(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Kubernetes' `$(VAR)` expansion: `$$` is `$`, `$(NAME)` is the var's value, an unknown
/// name or an unclosed `$(` stays as written.
fn expand(input: &str, values: &HashMap<&str, Value>) -> Value {
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match values.get(name) {
                            Some(v) if input.len() == name.len() + 3 => return v.clone(),
                            Some(v) => out.push_str(&sprint(v)),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let c = rest.chars().next().expect("not empty");
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    Value::String(out)
}

/// A scalar field by a dot path (`spec.ports[0].port` and `ports.0.port` both work).
fn field_value(v: &Value, path: &str) -> Option<Value> {
    let mut cur = v;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (part, None),
        };
        if !name.is_empty() {
            cur = match cur {
                Value::Object(m) => m.get(name)?,
                Value::Array(a) => a.get(name.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        if let Some(i) = index {
            cur = cur.as_array()?.get(i)?;
        }
    }
    match cur {
        Value::Object(_) | Value::Array(_) | Value::Null => None,
        scalar => Some(scalar.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vals() -> HashMap<&'static str, Value> {
        HashMap::from([("A", json!("svc")), ("PORT", json!(8080))])
    }

    #[test]
    fn references_expand_with_escapes_and_unknown_names_left_alone() {
        let v = vals();
        assert_eq!(
            expand("http://$(A):$(PORT)/x", &v),
            json!("http://svc:8080/x")
        );
        assert_eq!(expand("$(PORT)", &v), json!(8080));
        assert_eq!(expand("$$(A) $(B) $(A", &v), json!("$(A) $(B) $(A"));
        assert_eq!(expand("cost $5", &v), json!("cost $5"));
        assert_eq!(expand("end$", &v), json!("end$"));
    }

    #[test]
    fn field_values_follow_dots_and_indexes() {
        let v = json!({"spec": {"ports": [{"port": 80}]}, "metadata": {"name": "n"}});
        assert_eq!(field_value(&v, "spec.ports[0].port"), Some(json!(80)));
        assert_eq!(field_value(&v, "metadata.name"), Some(json!("n")));
        assert_eq!(field_value(&v, "spec.ports"), None);
    }

    #[test]
    fn vars_replace_in_default_fields_only() {
        let obj = |v: Value| {
            Res::new(crate::Object {
                value: v,
                source: crate::Source::generated("k.yaml", 1),
            })
        };
        let mut ra = vec![
            obj(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "p-db"}})),
            obj(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["--db=$(DB)"],
                "image": "$(DB)"}]}}}}),
            ),
        ];
        let config = Config {
            vars: vec![Var {
                name: "DB".into(),
                group: String::new(),
                version: "v1".into(),
                kind: "Service".into(),
                object: "db".into(),
                namespace: String::new(),
                field_path: "metadata.name".into(),
                file: "k.yaml".into(),
                line: 3,
            }],
            ..Config::default()
        };
        // The object was named `db` before its prefix.
        ra[0].prev.push(super::super::Id {
            group: String::new(),
            version: "v1".into(),
            kind: "Service".into(),
            name: "db".into(),
            namespace: String::new(),
        });
        resolve(&mut ra, &config).unwrap();
        let c = &ra[1].obj.value["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"][0], "--db=p-db");
        assert_eq!(c["image"], "$(DB)");
    }
}

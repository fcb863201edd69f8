//! `configurations`: field specs that extend the built-in transformer configuration.
//!
//! A configuration file names, for custom kinds (or extra fields of built-in ones), where
//! `commonLabels`, `commonAnnotations`, `namespace`, `namePrefix`/`nameSuffix`, `images`
//! and vars (`varReference`) write, and which fields name other objects
//! (`nameReference`). As in kustomize, a kustomization's configuration is the built-in
//! one plus its own files plus those of every kustomization it includes (bases and
//! components), so what a base declares also applies to the overlays above it.

use std::path::Path;

use serde_json::Value;

use super::fields::FieldSpec;
use crate::RenderError;

/// Field specs added to the built-in ones.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub common_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub name_prefix: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub var_reference: Vec<FieldSpec>,
    /// Referral kinds (group, version, kind) and the fields that name them.
    pub name_reference: Vec<NameReference>,
    /// The `vars` of the kustomizations built so far.
    pub vars: Vec<super::vars::Var>,
}

/// A kind that other objects refer to by name, and where they do.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameReference {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub specs: Vec<FieldSpec>,
}

fn push_unique(list: &mut Vec<FieldSpec>, spec: FieldSpec) {
    let same = |a: &FieldSpec| {
        a.group == spec.group
            && a.version == spec.version
            && a.kind == spec.kind
            && a.path == spec.path
    };
    match list.iter_mut().find(|a| same(a)) {
        Some(a) => a.create |= spec.create,
        None => list.push(spec),
    }
}

impl Config {
    /// Add another configuration's field specs (duplicates are kept once).
    pub fn merge(&mut self, other: &Config) {
        self.vars.extend(other.vars.iter().cloned());
        for (mine, theirs) in [
            (&mut self.common_labels, &other.common_labels),
            (&mut self.common_annotations, &other.common_annotations),
            (&mut self.namespace, &other.namespace),
            (&mut self.name_prefix, &other.name_prefix),
            (&mut self.images, &other.images),
            (&mut self.var_reference, &other.var_reference),
        ] {
            for s in theirs {
                push_unique(mine, s.clone());
            }
        }
        for r in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|x| x.group == r.group && x.version == r.version && x.kind == r.kind)
            {
                Some(x) => {
                    for s in &r.specs {
                        push_unique(&mut x.specs, s.clone());
                    }
                }
                None => self.name_reference.push(r.clone()),
            }
        }
    }

    /// Read one configuration file.
    pub fn load(file: &Path) -> Result<Config, RenderError> {
        let text = crate::read::read_text(file)?;
        let mut c = Config::default();
        for (doc, line) in super::load::patch_documents(&text, file)? {
            let invalid = |field: &str, message: String| RenderError::Invalid {
                file: file.to_owned(),
                line,
                field: field.to_owned(),
                message,
            };
            let Value::Object(m) = doc else {
                return Err(invalid("configuration", "must be a mapping".into()));
            };
            for (key, v) in &m {
                let specs = |v: &Value| -> Result<Vec<FieldSpec>, RenderError> {
                    match v {
                        Value::Null => Ok(Vec::new()),
                        Value::Array(a) => a
                            .iter()
                            .enumerate()
                            .map(|(i, x)| {
                                field_spec(x).map_err(|m| invalid(&format!("{key}[{i}]"), m))
                            })
                            .collect(),
                        _ => Err(invalid(key, "must be a list of field specs".into())),
                    }
                };
                let list = match key.as_str() {
                    "commonLabels" => &mut c.common_labels,
                    "commonAnnotations" => &mut c.common_annotations,
                    "namespace" => &mut c.namespace,
                    "namePrefix" | "nameSuffix" => &mut c.name_prefix,
                    "images" => &mut c.images,
                    "varReference" => &mut c.var_reference,
                    "nameReference" => {
                        let Value::Array(items) = v else {
                            return Err(invalid(key, "must be a list".into()));
                        };
                        for (i, item) in items.iter().enumerate() {
                            let field = format!("nameReference[{i}]");
                            let text = |k: &str| {
                                item.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
                            };
                            let specs = match item.get("fieldSpecs") {
                                Some(x) => specs(x)?,
                                None => Vec::new(),
                            };
                            if text("kind").is_empty() {
                                return Err(invalid(&field, "needs a `kind`".into()));
                            }
                            c.merge(&Config {
                                name_reference: vec![NameReference {
                                    group: text("group"),
                                    version: text("version"),
                                    kind: text("kind"),
                                    specs,
                                }],
                                ..Config::default()
                            });
                        }
                        continue;
                    }
                    other => {
                        return Err(invalid(
                            other,
                            "not a field of a transformer configuration".into(),
                        ));
                    }
                };
                for s in specs(v)? {
                    push_unique(list, s);
                }
            }
        }
        Ok(c)
    }
}

/// How deep `crds` type references are followed.
const MAX_CRD_DEPTH: usize = 32;

impl Config {
    /// Read a `crds` file: OpenAPI definitions by type name (`group.version.Kind`), whose
    /// properties mark annotation maps (`x-kubernetes-annotation`), label selectors
    /// (`x-kubernetes-label-selector`), names to prefix (`x-kubernetes-identity`) and
    /// references to other objects (`x-kubernetes-object-ref-kind` and `-api-version`,
    /// the name under `x-kubernetes-object-ref-name-key`, `name` by default). As in
    /// kustomize, the kind is the last dotted part of the type name.
    pub fn load_crds(file: &Path) -> Result<Config, RenderError> {
        let text = crate::read::read_text(file)?;
        let mut c = Config::default();
        for (doc, line) in super::load::patch_documents(&text, file)? {
            let Value::Object(types) = doc else {
                return Err(RenderError::Invalid {
                    file: file.to_owned(),
                    line,
                    field: "crds".into(),
                    message: "expected OpenAPI definitions by type name".into(),
                });
            };
            for (name, def) in &types {
                let props = def.pointer("/Schema/properties").and_then(Value::as_object);
                let looks_like_object = props.is_some_and(|p| {
                    ["kind", "apiVersion", "metadata"]
                        .iter()
                        .all(|k| p.contains_key(*k))
                });
                if !looks_like_object {
                    continue;
                }
                let kind = name.rsplit('.').next().unwrap_or(name).to_owned();
                crd_walk(&types, name, &kind, &mut Vec::new(), &mut c, 0);
            }
        }
        Ok(c)
    }
}

fn crd_walk(
    types: &serde_json::Map<String, Value>,
    type_name: &str,
    kind: &str,
    path: &mut Vec<String>,
    c: &mut Config,
    depth: usize,
) {
    if depth > MAX_CRD_DEPTH {
        return;
    }
    let Some(Value::Object(props)) = types
        .get(type_name)
        .and_then(|d| d.pointer("/Schema/properties"))
    else {
        return;
    };
    for (prop, schema) in props {
        path.push(prop.clone());
        let spec = |extra: Option<&str>| FieldSpec {
            kind: kind.to_owned(),
            path: match extra {
                Some(e) => format!("{}/{e}", path.join("/")),
                None => path.join("/"),
            },
            ..FieldSpec::default()
        };
        let has = |k: &str| schema.get(k).is_some_and(Value::is_string);
        if has("x-kubernetes-annotation") {
            push_unique(&mut c.common_annotations, spec(None));
        }
        if has("x-kubernetes-label-selector") {
            push_unique(&mut c.common_labels, spec(None));
        }
        if has("x-kubernetes-identity") {
            push_unique(&mut c.name_prefix, spec(None));
        }
        let text = |k: &str| schema.get(k).and_then(Value::as_str);
        if let (Some(version), Some(ref_kind)) = (
            text("x-kubernetes-object-ref-api-version"),
            text("x-kubernetes-object-ref-kind"),
        ) {
            let name_key = text("x-kubernetes-object-ref-name-key").unwrap_or("name");
            c.merge(&Config {
                name_reference: vec![NameReference {
                    group: String::new(),
                    version: version.to_owned(),
                    kind: ref_kind.to_owned(),
                    specs: vec![spec(Some(name_key))],
                }],
                ..Config::default()
            });
        }
        if let Some(reference) = text("$ref") {
            crd_walk(types, reference, kind, path, c, depth + 1);
        }
        path.pop();
    }
}

/// One field spec: `path`, and optionally `group`, `version`, `kind`, `create`.
pub(crate) fn field_spec(v: &Value) -> Result<FieldSpec, String> {
    let Value::Object(m) = v else {
        return Err("a field spec must be a mapping".into());
    };
    let mut fs = FieldSpec::default();
    for (k, x) in m {
        match (k.as_str(), x) {
            ("create", Value::Bool(b)) => fs.create = *b,
            ("group" | "version" | "kind" | "path", Value::String(s)) => {
                let slot = match k.as_str() {
                    "group" => &mut fs.group,
                    "version" => &mut fs.version,
                    "kind" => &mut fs.kind,
                    _ => &mut fs.path,
                };
                *slot = s.clone();
            }
            ("behavior", _) => {}
            (k, _) => return Err(format!("`{k}` is not a field of a field spec")),
        }
    }
    if fs.path.is_empty() {
        return Err("a field spec needs a `path`".into());
    }
    Ok(fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_merge_name_references_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        std::fs::write(
            &a,
            "nameReference:\n- kind: Issuer\n  group: cert-manager.io\n  fieldSpecs:\n  - kind: Certificate\n    path: spec/issuerRef/name\ncommonLabels:\n- path: spec/selectors\n  kind: MyKind\n  create: true\n",
        )
        .unwrap();
        let b = dir.path().join("b.yaml");
        std::fs::write(
            &b,
            "nameReference:\n- kind: Issuer\n  group: cert-manager.io\n  fieldSpecs:\n  - kind: Certificate\n    path: spec/issuerRef/name\n  - kind: Other\n    path: spec/issuer\n",
        )
        .unwrap();
        let mut c = Config::load(&a).unwrap();
        c.merge(&Config::load(&b).unwrap());
        assert_eq!(c.name_reference.len(), 1);
        let paths: Vec<&str> = c.name_reference[0]
            .specs
            .iter()
            .map(|s| s.path.as_str())
            .collect();
        assert_eq!(paths, ["spec/issuerRef/name", "spec/issuer"]);
        assert!(c.common_labels[0].create);
    }

    #[test]
    fn an_unknown_section_names_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        std::fs::write(&a, "nameRefs: []\n").unwrap();
        let err = Config::load(&a).unwrap_err().to_string();
        assert!(err.contains("a.yaml:1: `nameRefs`"), "{err}");
    }

    #[test]
    fn crd_definitions_add_name_references_labels_and_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("crd.json");
        std::fs::write(
            &f,
            r#"{"ex.com/v1.Bee": {"Schema": {"properties": {"kind": {}, "apiVersion": {}, "metadata": {},
                 "spec": {"$ref": "ex.com/v1.BeeSpec"}}}},
               "ex.com/v1.BeeSpec": {"Schema": {"properties": {
                 "secretRef": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret"},
                 "selector": {"x-kubernetes-label-selector": ""},
                 "notes": {"x-kubernetes-annotation": ""}}}}}"#,
        )
        .unwrap();
        let c = Config::load_crds(&f).unwrap();
        let r = &c.name_reference[0];
        assert_eq!((r.kind.as_str(), r.version.as_str()), ("Secret", "v1"));
        assert_eq!(r.specs[0].path, "spec/secretRef/name");
        assert_eq!(r.specs[0].kind, "Bee");
        assert_eq!(c.common_labels[0].path, "spec/selector");
        assert_eq!(c.common_annotations[0].path, "spec/notes");
    }
}

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
}

//! A loaded chart: its `Chart.yaml`, templates, default values, schema, other files
//! and its subcharts, as Helm's `chart.Chart` holds them.

use std::collections::BTreeMap;

use gotemplate::Value;

use crate::error::{Error, Result};

/// The key of a values map.
pub type Map = BTreeMap<String, Value>;

/// One file of a chart, by its path from the chart's root (`templates/x.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    pub name: String,
    pub data: Vec<u8>,
}

/// One `import-values` entry of a dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportValue {
    /// `- child: a.b` / `parent: c.d`: copy the child's table `a.b` to the parent's `c.d`.
    Map { child: String, parent: String },
    /// `- name`: copy the child's `exports.name` to the parent's top level.
    Export(String),
}

/// One entry of `dependencies:` in `Chart.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dependency {
    pub name: String,
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    pub import_values: Vec<ImportValue>,
    pub alias: String,
    /// Decided from `condition` and `tags` while the dependencies are processed.
    pub enabled: bool,
}

/// A maintainer of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// `Chart.yaml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    pub name: String,
    pub home: String,
    pub sources: Vec<String>,
    pub version: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub maintainers: Vec<Maintainer>,
    pub icon: String,
    pub api_version: String,
    pub condition: String,
    pub tags: String,
    pub app_version: String,
    pub deprecated: bool,
    pub annotations: BTreeMap<String, String>,
    pub kube_version: String,
    pub dependencies: Vec<Dependency>,
    pub chart_type: String,
}

/// A chart and its subcharts.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub metadata: Metadata,
    /// Files under `templates/`, in the order they were read.
    pub templates: Vec<ChartFile>,
    /// Default values (`values.yaml`).
    pub values: Map,
    /// `values.schema.json`.
    pub schema: Option<Vec<u8>>,
    /// Every other file (what `.Files` sees), including `crds/`.
    pub files: Vec<ChartFile>,
    /// Subcharts found under `charts/`.
    pub dependencies: Vec<Chart>,
}

impl Chart {
    /// The chart's name (its alias once dependencies are processed).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Whether this is a library chart (`type: library`).
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }

    /// The CRD files of this chart and its subcharts, with their paths as Helm prints
    /// them (`chart/charts/sub/crds/x.yaml`).
    pub fn crd_objects(&self, full_path: &str) -> Vec<(String, &ChartFile)> {
        let mut crds = Vec::new();
        for f in &self.files {
            let ext_ok = [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| f.name.ends_with(ext));
            if f.name.starts_with("crds/") && ext_ok {
                crds.push((format!("{full_path}/{}", f.name), f));
            }
        }
        for dep in &self.dependencies {
            crds.extend(dep.crd_objects(&format!("{full_path}/charts/{}", dep.name())));
        }
        crds
    }
}

impl Metadata {
    /// Reads `Chart.yaml`'s parsed document.
    pub fn from_value(doc: &Value) -> Result<Metadata> {
        let Some(map) = doc.as_map() else {
            if doc.is_nil() {
                return Ok(Metadata::default());
            }
            return Err(Error::Chart(
                "cannot load Chart.yaml: the document is not a mapping".into(),
            ));
        };
        let mut md = Metadata {
            name: string(map, "name")?,
            home: string(map, "home")?,
            sources: strings(map, "sources")?,
            version: string(map, "version")?,
            description: string(map, "description")?,
            keywords: strings(map, "keywords")?,
            icon: string(map, "icon")?,
            api_version: string(map, "apiVersion")?,
            condition: string(map, "condition")?,
            tags: string(map, "tags")?,
            app_version: string(map, "appVersion")?,
            deprecated: matches!(map.get("deprecated"), Some(Value::Bool(true))),
            kube_version: string(map, "kubeVersion")?,
            chart_type: string(map, "type")?,
            ..Metadata::default()
        };
        if let Some(Value::Map(a)) = map.get("annotations") {
            for (k, v) in a {
                md.annotations
                    .insert(k.clone(), scalar_string(v, "annotations")?);
            }
        }
        if let Some(Value::List(items)) = map.get("maintainers") {
            for item in items {
                if let Some(m) = item.as_map() {
                    md.maintainers.push(Maintainer {
                        name: string(m, "name")?,
                        email: string(m, "email")?,
                        url: string(m, "url")?,
                    });
                }
            }
        }
        md.dependencies = dependencies(map.get("dependencies"))?;
        Ok(md)
    }

    /// Helm's `Metadata.Validate`.
    pub fn validate(&self) -> Result<()> {
        let fail = |msg: String| Err(Error::Validation(msg));
        if self.api_version.is_empty() {
            return fail("chart.metadata.apiVersion is required".into());
        }
        if self.name.is_empty() {
            return fail("chart.metadata.name is required".into());
        }
        if self.name.contains('/') || self.name == "." || self.name == ".." {
            return fail(format!("chart.metadata.name {:?} is invalid", self.name));
        }
        if self.version.is_empty() {
            return fail("chart.metadata.version is required".into());
        }
        if !is_semver(&self.version) {
            return fail(format!(
                "chart.metadata.version {:?} is invalid",
                self.version
            ));
        }
        if !matches!(self.chart_type.as_str(), "" | "application" | "library") {
            return fail("chart.metadata.type must be application or library".into());
        }
        for m in &self.maintainers {
            if m.name.is_empty() {
                return fail("chart.metadata.maintainers must have a name".into());
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &self.dependencies {
            let valid = |s: &str| {
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            };
            if !d.alias.is_empty() && !valid(&d.alias) {
                return fail(format!(
                    "dependency {:?} has disallowed characters in the alias",
                    d.name
                ));
            }
            let key = if d.alias.is_empty() {
                &d.name
            } else {
                &d.alias
            };
            if !seen.insert(key.clone()) {
                return fail(format!(
                    "more than one dependency with name or alias {key:?}"
                ));
            }
        }
        Ok(())
    }
}

/// Masterminds' loose semver (`1`, `1.2`, `v1.2.3-rc.1+meta`).
pub(crate) fn is_semver(s: &str) -> bool {
    let re = regex::Regex::new(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
    )
    .expect("valid regex");
    re.is_match(s)
}

fn dependencies(v: Option<&Value>) -> Result<Vec<Dependency>> {
    let Some(Value::List(items)) = v else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in items {
        let Some(m) = item.as_map() else { continue };
        let mut dep = Dependency {
            name: string(m, "name")?,
            version: string(m, "version")?,
            repository: string(m, "repository")?,
            condition: string(m, "condition")?,
            tags: strings(m, "tags")?,
            alias: string(m, "alias")?,
            enabled: true,
            ..Dependency::default()
        };
        if let Some(Value::List(ivs)) = m.get("import-values") {
            for iv in ivs {
                match iv {
                    Value::String(s) => dep.import_values.push(ImportValue::Export(s.clone())),
                    Value::Map(m) => dep.import_values.push(ImportValue::Map {
                        child: string(m, "child")?,
                        parent: string(m, "parent")?,
                    }),
                    _ => {}
                }
            }
        }
        out.push(dep);
    }
    Ok(out)
}

fn string(map: &Map, key: &str) -> Result<String> {
    match map.get(key) {
        None | Some(Value::Nil) => Ok(String::new()),
        Some(v) => scalar_string(v, key),
    }
}

fn scalar_string(v: &Value, key: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(format_float(*f)),
        Value::Nil => Ok(String::new()),
        _ => Err(Error::Chart(format!(
            "cannot load Chart.yaml: field `{key}` must be a string"
        ))),
    }
}

fn strings(map: &Map, key: &str) -> Result<Vec<String>> {
    match map.get(key) {
        Some(Value::List(items)) => items.iter().map(|v| scalar_string(v, key)).collect(),
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(_) => Err(Error::Chart(format!(
            "cannot load Chart.yaml: field `{key}` must be a list of strings"
        ))),
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Metadata {
        Metadata::from_value(&Value::map(pairs.iter().map(|(k, v)| (*k, Value::str(*v))))).unwrap()
    }

    #[test]
    fn chart_type_is_case_sensitive() {
        let m = md(&[
            ("apiVersion", "v2"),
            ("name", "a"),
            ("version", "1.0.0"),
            ("type", "Library"),
        ]);
        assert_eq!(
            m.validate().unwrap_err().to_string(),
            "validation: chart.metadata.type must be application or library"
        );
        let m = md(&[
            ("apiVersion", "v2"),
            ("name", "a"),
            ("version", "1.0.0"),
            ("type", "library"),
        ]);
        m.validate().unwrap();
    }

    #[test]
    fn version_must_be_semver() {
        let m = md(&[("apiVersion", "v2"), ("name", "a"), ("version", "one")]);
        assert_eq!(
            m.validate().unwrap_err().to_string(),
            "validation: chart.metadata.version \"one\" is invalid"
        );
        assert!(is_semver("1.2"));
        assert!(is_semver("v0.1.0-rc.1+b5"));
    }
}

//! `manifests` as a Helm chart (`chart`, `release`, `values`, `set`, `images`), and an
//! environment's own `chart` keys.

use super::*;

/// The keys of `manifests` that only a chart takes.
const CHART_ONLY_KEYS: &[&str] = &["release", "values", "set", "images"];
const CHART_IMAGE_KEYS: &[&str] = &["repository", "tag", "digest", "reference"];
const RELEASE_HINT: &str = "a release name is at most 53 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit";

/// Helm's rule for release names: a DNS subdomain of at most 53 characters.
fn is_release_name(s: &str) -> bool {
    s.len() <= 53 && is_dns_subdomain(s)
}

/// A value path: dot-separated names, `[i]` indexes allowed; no `=` or `,`, which would
/// be read as the next value.
fn is_value_path(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(['=', ',', ' '])
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
}

/// A YAML value as JSON text.
pub(super) fn node_json(node: &Node) -> String {
    match &node.kind {
        NodeKind::Null => "null".into(),
        NodeKind::Scalar(s) => match s.value() {
            ScalarValue::Str(t) => json_string(t),
            ScalarValue::Bool(b) => b.to_string(),
            ScalarValue::Int(i) => i.to_string(),
            ScalarValue::Float(f) if f.is_finite() => {
                let text = f.to_string();
                if text.contains(['.', 'e', 'E']) {
                    text
                } else {
                    format!("{text}.0")
                }
            }
            ScalarValue::Float(_) => json_string(&s.text),
        },
        NodeKind::Seq(items) => {
            let items: Vec<String> = items.iter().map(node_json).collect();
            format!("[{}]", items.join(","))
        }
        NodeKind::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| {
                    let key = k.as_scalar().map_or("null", |s| s.text.as_str());
                    format!("{}:{}", json_string(key), node_json(v))
                })
                .collect();
            format!("{{{}}}", entries.join(","))
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// What an environment's `chart` adds to the top-level chart.
#[derive(Default)]
pub(super) struct ChartPartial {
    release: Option<String>,
    values: Vec<PathBuf>,
    set: Vec<ChartSet>,
}

impl ChartPartial {
    pub(super) fn apply(self, mut base: Chart) -> Chart {
        if let Some(r) = self.release {
            base.release = r;
        }
        base.values.extend(self.values);
        base.set.extend(self.set);
        base
    }
}

impl Cx {
    /// `manifests` with `chart`: the chart, its release name, values and image mapping.
    pub(super) fn chart(&mut self, m: &Map<'_>, app: &str, names: &Names) -> Option<Chart> {
        let chart_val = m.get("chart")?;
        for key in ["path", "kustomize"] {
            if let Some(v) = m.get(key) {
                self.error(
                    v.key,
                    &v.path,
                    format!("`{key}` cannot be used with `chart`"),
                    Some(
                        "`manifests` is either a directory (`path`) or a Helm chart (`chart`)"
                            .into(),
                    ),
                );
            }
        }
        let path = self.chart_path(&chart_val);
        let release = match m.get("release") {
            Some(v) => self.release_name(&v),
            None => Some(app.to_owned()),
        };
        let values = match m.get("values") {
            Some(v) => self.values_files(&v),
            None => Some(Vec::new()),
        };
        let set = match m.get("set") {
            Some(v) => self.chart_set(&v),
            None => Some(Vec::new()),
        };
        let images = match m.get("images") {
            Some(v) => self.chart_images(&v, names),
            None => Some(Vec::new()),
        };
        Some(Chart {
            path: path?,
            release: release?,
            values: values?,
            set: set?,
            images: images?,
        })
    }

    /// Keys a chart takes written beside `path`.
    pub(super) fn chart_keys_without_chart(&mut self, m: &Map<'_>) {
        for key in CHART_ONLY_KEYS {
            if let Some(v) = m.get(key) {
                self.error(
                    v.key,
                    &v.path,
                    format!("`{key}` needs `chart`"),
                    Some("`release`, `values`, `set` and `images` are the keys of a Helm chart: add `chart: <folder or .tgz>` instead of `path`".into()),
                );
            }
        }
    }

    /// A chart folder (holding `Chart.yaml`) or a `.tgz` file.
    fn chart_path(&mut self, v: &Val<'_>) -> Option<PathBuf> {
        let written = self.nonempty(v)?;
        let resolved = join_rel(&self.base_dir, &written);
        let hint = "`chart` takes a chart folder (with `Chart.yaml`) or a packaged `.tgz`, relative to the directory of the config file";
        if resolved.is_dir() {
            if !resolved.join("Chart.yaml").is_file() {
                self.error(
                    v.at(),
                    &v.path,
                    format!("`{written}` holds no `Chart.yaml`"),
                    Some(hint.into()),
                );
                return None;
            }
        } else if resolved.is_file() {
            if !(written.ends_with(".tgz") || written.ends_with(".tar.gz")) {
                self.error(
                    v.at(),
                    &v.path,
                    format!("`{written}` is neither a chart folder nor a `.tgz`"),
                    Some(hint.into()),
                );
                return None;
            }
        } else {
            self.error(
                v.at(),
                &v.path,
                format!("path `{written}` does not exist"),
                Some(PATH_HINT.into()),
            );
            return None;
        }
        Some(resolved)
    }

    fn release_name(&mut self, v: &Val<'_>) -> Option<String> {
        let s = self.string(v)?;
        if !is_release_name(&s) {
            self.error(
                v.at(),
                &v.path,
                format!("`{s}` is not a valid release name"),
                Some(RELEASE_HINT.into()),
            );
            return None;
        }
        Some(s)
    }

    fn values_files(&mut self, v: &Val<'_>) -> Option<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut ok = true;
        for item in self.list(v)? {
            match self.local_path(&item, Path::new(""), PathKind::File, true, PATH_HINT) {
                Some(p) => out.push(p),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn chart_set(&mut self, v: &Val<'_>) -> Option<Vec<ChartSet>> {
        let map = self.map(v, None)?;
        let mut out = Vec::new();
        let mut ok = true;
        for field in map.values() {
            let key = field.name().to_owned();
            if !is_value_path(&key) {
                self.error(
                    field.key,
                    &field.path,
                    format!("`{key}` is not a value path"),
                    Some("write a key path as for `--set`, e.g. `image.tag` or `hosts[0].name`, without `=`, `,` or spaces".into()),
                );
                ok = false;
                continue;
            }
            out.push(ChartSet {
                key,
                json: node_json(field.node),
            });
        }
        ok.then_some(out)
    }

    fn value_path(&mut self, v: &Val<'_>) -> Option<String> {
        let s = self.nonempty(v)?;
        if !is_value_path(&s) {
            self.error(
                v.at(),
                &v.path,
                format!("`{s}` is not a value path"),
                Some("write the path of a value of the chart, e.g. `image` or `worker.image.repository`".into()),
            );
            return None;
        }
        Some(s)
    }

    fn chart_images(&mut self, v: &Val<'_>, names: &Names) -> Option<Vec<ChartImage>> {
        let map = self.map(v, None)?;
        let mut out = Vec::new();
        let mut ok = true;
        for field in map.values() {
            let image = field.name().to_owned();
            if !names.images.contains(&image) {
                let hint = self.reference_hint(&image, &names.images, "images");
                self.error(
                    field.key,
                    &field.path,
                    format!("unknown image `{image}`"),
                    Some(hint),
                );
                ok = false;
                continue;
            }
            if field.node.as_scalar().is_some() {
                let Some(prefix) = self.value_path(&field) else {
                    ok = false;
                    continue;
                };
                out.push(ChartImage {
                    image,
                    repository: Some(format!("{prefix}.repository")),
                    tag: Some(format!("{prefix}.tag")),
                    digest: Some(format!("{prefix}.digest")),
                    digest_if_declared: true,
                    reference: None,
                });
                continue;
            }
            let Some(m) = self.map(&field, Some(CHART_IMAGE_KEYS)) else {
                ok = false;
                continue;
            };
            let mut entry = ChartImage {
                image,
                repository: None,
                tag: None,
                digest: None,
                digest_if_declared: false,
                reference: None,
            };
            // A mapping with only unknown keys has been reported already.
            let any = field.node.entries().is_some_and(|e| !e.is_empty());
            for (key, slot) in [
                ("repository", &mut entry.repository),
                ("tag", &mut entry.tag),
                ("digest", &mut entry.digest),
                ("reference", &mut entry.reference),
            ] {
                if let Some(v) = m.get(key) {
                    match self.value_path(&v) {
                        Some(p) => *slot = Some(p),
                        None => ok = false,
                    }
                }
            }
            if !any {
                self.error(
                    field.key,
                    &field.path,
                    format!("`{}` names no chart value", field.name()),
                    Some("add `repository` and `tag` (and `digest`), or `reference`, each the path of a value of the chart".into()),
                );
                ok = false;
                continue;
            }
            out.push(entry);
        }
        ok.then_some(out)
    }

    /// An environment's `chart`: its own `release`, `values` and `set`.
    pub(super) fn env_chart(&mut self, v: &Val<'_>, config: &Config) -> ChartPartial {
        let mut p = ChartPartial::default();
        if config.chart.is_none() {
            self.error(
                v.key,
                &v.path,
                "`chart` needs a chart in top-level `manifests`",
                Some("set `manifests.chart: <folder or .tgz>` at the top level; an environment's `chart` adds values to it".into()),
            );
        }
        let Some(m) = self.map(v, Some(ENV_CHART_KEYS)) else {
            return p;
        };
        if let Some(v) = m.get("release") {
            p.release = self.release_name(&v);
        }
        if let Some(v) = m.get("values") {
            p.values = self.values_files(&v).unwrap_or_default();
        }
        if let Some(v) = m.get("set") {
            p.set = self.chart_set(&v).unwrap_or_default();
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json() {
        let docs =
            crate::yaml::parse_documents("a: [1, \"x\\\"y\", true, null, 1.5, {b: c}]\n").unwrap();
        let a = docs[0].get("a").unwrap();
        assert_eq!(node_json(a), r#"[1,"x\"y",true,null,1.5,{"b":"c"}]"#);
    }

    #[test]
    fn release_names_follow_helm() {
        assert!(is_release_name("web"));
        assert!(is_release_name("web.v2"));
        assert!(!is_release_name("Web"));
        assert!(!is_release_name(&"a".repeat(54)));
        assert!(is_value_path("image"));
        assert!(is_value_path("hosts[0].name"));
        assert!(!is_value_path("a=b"));
        assert!(!is_value_path(".a"));
    }
}

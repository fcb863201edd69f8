//! `manifests`, and the `config` and `secrets` generators (also per environment).

use super::*;

/// What `manifests` names.
pub(super) enum ManifestSource {
    Files(Manifests),
    Chart(Chart),
}

impl Cx {
    /// The top-level `config`: one ConfigMap generator per entry.
    pub(super) fn config_generators(
        &mut self,
        v: &Val<'_>,
    ) -> BTreeMap<String, ConfigMapGenerator> {
        let mut out = BTreeMap::new();
        let Some(m) = self.map(v, None) else {
            return out;
        };
        for entry in m.values() {
            if !self.generator_name(&entry) {
                continue;
            }
            let written = entry.node.entries().is_some_and(|e| !e.is_empty());
            let partial = self.config_partial(&entry);
            let generator = partial.apply(ConfigMapGenerator::default());
            if !written && entry.node.entries().is_some() {
                self.no_data(&entry, "`env-file`, `literals` or `files`");
            }
            out.insert(entry.name().to_owned(), generator);
        }
        out
    }

    /// The top-level `secrets`: one Secret generator per entry.
    pub(super) fn secret_generators(&mut self, v: &Val<'_>) -> BTreeMap<String, SecretGenerator> {
        let mut out = BTreeMap::new();
        let Some(m) = self.map(v, None) else {
            return out;
        };
        for entry in m.values() {
            if !self.generator_name(&entry) {
                continue;
            }
            let written = entry
                .node
                .entries()
                .is_some_and(|e| e.iter().any(|(k, _)| k.as_str() != Some("type")));
            let partial = self.secret_partial(&entry);
            let generator = partial.apply(SecretGenerator::default());
            if !written && entry.node.entries().is_some() {
                self.no_data(&entry, "`env-file`, `from-env` or `files`");
            }
            out.insert(entry.name().to_owned(), generator);
        }
        out
    }

    pub(super) fn manifests(
        &mut self,
        v: &Val<'_>,
        app: &str,
        names: &Names,
    ) -> Option<ManifestSource> {
        if v.node.as_scalar().is_some() {
            let path = self.local_path(v, Path::new(""), PathKind::Dir, true, PATH_HINT)?;
            return Some(ManifestSource::Files(Manifests {
                path,
                kustomize: KustomizeMode::Native,
            }));
        }
        let m = self.map(v, Some(MANIFESTS_KEYS))?;
        if m.get("chart").is_some() {
            return self.chart(&m, app, names).map(ManifestSource::Chart);
        }
        self.chart_keys_without_chart(&m);
        let path = match m.get("path") {
            Some(p) => self.local_path(&p, Path::new(""), PathKind::Dir, true, PATH_HINT),
            None => {
                self.missing(
                    &m,
                    "path",
                    Some("add `path: <directory of manifests>`, or `chart: <folder or .tgz>` for a Helm chart".into()),
                );
                None
            }
        };
        let kustomize = match m.get("kustomize") {
            Some(k) => self.keyword(&k, KustomizeMode::ALL, KustomizeMode::WHAT),
            None => Some(KustomizeMode::Native),
        };
        Some(ManifestSource::Files(Manifests {
            path: path?,
            kustomize: kustomize?,
        }))
    }

    pub(super) fn no_data(&mut self, entry: &Val<'_>, keys: &str) {
        self.error(
            entry.key,
            &entry.path,
            format!("`{}` has no data", entry.name()),
            Some(format!("add {keys}")),
        );
    }

    pub(super) fn generator_name(&mut self, entry: &Val<'_>) -> bool {
        self.entry_name(
            entry,
            is_dns_subdomain,
            "resource",
            "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
        )
    }

    pub(super) fn file_sources(&mut self, v: &Val<'_>) -> Option<Vec<FileSource>> {
        let mut out = Vec::new();
        let mut ok = true;
        for item in self.list(v)? {
            let Some(text) = self.nonempty(&item) else {
                ok = false;
                continue;
            };
            let (key, path) = match text.split_once('=') {
                Some((k, p)) => (k.to_owned(), p.to_owned()),
                None => {
                    let name = Path::new(&text)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (name, text.clone())
                }
            };
            if !is_data_key(&key) {
                self.error(
                    item.at(),
                    &item.path,
                    format!("`{key}` is not a valid data key"),
                    Some("keys are letters, digits, `-`, `_` and `.`; write `key=path` to choose one".into()),
                );
                ok = false;
                continue;
            }
            let resolved = join_rel(&self.base_dir, &path);
            if !resolved.is_file() {
                let message = if resolved.exists() {
                    format!("path `{path}` is a directory, not a file")
                } else {
                    format!("path `{path}` does not exist")
                };
                self.error(item.at(), &item.path, message, Some(PATH_HINT.into()));
                ok = false;
                continue;
            }
            out.push(FileSource {
                key,
                path: resolved,
            });
        }
        ok.then_some(out)
    }

    pub(super) fn config_partial(&mut self, v: &Val<'_>) -> ConfigPartial {
        let mut p = ConfigPartial::default();
        let Some(m) = self.map(v, Some(CONFIG_KEYS)) else {
            return p;
        };
        if let Some(v) = m.get("env-file") {
            p.env_file = self.local_path(&v, Path::new(""), PathKind::File, true, PATH_HINT);
        }
        if let Some(v) = m.get("literals") {
            p.literals = Some(self.text_map(
                &v,
                is_data_key,
                "keys are letters, digits, `-`, `_` and `.`",
            ));
        }
        if let Some(v) = m.get("files") {
            p.files = self.file_sources(&v);
        }
        p
    }

    pub(super) fn secret_partial(&mut self, v: &Val<'_>) -> SecretPartial {
        let mut p = SecretPartial::default();
        let Some(m) = self.map(v, Some(SECRET_KEYS)) else {
            return p;
        };
        if let Some(v) = m.get("env-file") {
            p.env_file = self.local_path(&v, Path::new(""), PathKind::File, true, PATH_HINT);
        }
        if let Some(v) = m.get("from-env")
            && let Some(items) = self.list(&v)
        {
            let mut names = Vec::new();
            let mut at = BTreeMap::new();
            for item in items {
                let Some(name) = self.string(&item) else {
                    continue;
                };
                if is_env_var_name(&name) {
                    at.insert(name.clone(), position(item.at()));
                    names.push(name);
                } else {
                    self.error(
                            item.at(),
                            &item.path,
                            format!("`{name}` is not a valid environment variable name"),
                            Some("environment variable names are letters, digits and `_`, not starting with a digit".into()),
                        );
                }
            }
            p.from_env = Some((names, at));
        }
        if let Some(v) = m.get("files") {
            p.files = self.file_sources(&v);
        }
        if let Some(v) = m.get("type") {
            p.secret_type = self.nonempty(&v);
        }
        p
    }
}

/// `config.<name>` as written: `None` for keys not set.
#[derive(Default)]
pub(super) struct ConfigPartial {
    env_file: Option<PathBuf>,
    literals: Option<BTreeMap<String, String>>,
    files: Option<Vec<FileSource>>,
}

impl ConfigPartial {
    pub(super) fn apply(self, mut base: ConfigMapGenerator) -> ConfigMapGenerator {
        if let Some(f) = self.env_file {
            base.env_file = Some(f);
        }
        if let Some(l) = self.literals {
            base.literals.extend(l);
        }
        if let Some(f) = self.files {
            base.files = f;
        }
        base
    }
}

/// `secrets.<name>` as written: `None` for keys not set.
#[derive(Default)]
pub(super) struct SecretPartial {
    env_file: Option<PathBuf>,
    /// The names, and where each is written.
    from_env: Option<(Vec<String>, BTreeMap<String, Position>)>,
    files: Option<Vec<FileSource>>,
    secret_type: Option<String>,
}

impl SecretPartial {
    pub(super) fn apply(self, mut base: SecretGenerator) -> SecretGenerator {
        if let Some(f) = self.env_file {
            base.env_file = Some(f);
        }
        if let Some((names, at)) = self.from_env {
            base.from_env = names;
            base.from_env_at = at;
        }
        if let Some(f) = self.files {
            base.files = f;
        }
        if let Some(t) = self.secret_type {
            base.secret_type = t;
        }
        base
    }
}

//! From a YAML tree to a [`Config`], collecting every problem on the way.
//!
//! The walkers below never stop at the first problem: each one reports what is wrong
//! with its part of the tree into [`Cx`] and goes on with a default, so that a file with
//! five mistakes gets five diagnostics. The result is only used when nothing was reported.
//!
//! This module holds the walkers every section uses (maps, scalars, lists, paths, names)
//! and the top of the file; each section has its own module: [`images`] (images,
//! registries, tags), [`sources`] (manifests, `config` and `secrets`), [`hooks`] and
//! [`environments`] (environments, their targets and policies).

mod analysis;
mod chart;
mod environments;
mod hooks;
mod images;
mod sources;
mod strategies;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::{Diagnostic, suggest};
use crate::duration::parse_duration;
use crate::model::*;
use crate::tag::{TagTemplate, validate_tag};
use crate::yaml::{Node, NodeKind, ScalarValue};

const ROOT_KEYS: &[&str] = &[
    "app",
    "registry",
    "tag",
    "allow-latest",
    "extra-tags",
    "registries",
    "images",
    "manifests",
    "config",
    "secrets",
    "hooks",
    "strategies",
    "defaults",
    "environments",
];
const REGISTRY_KEYS: &[&str] = &["insecure", "credentials"];
const IMAGE_KEYS: &[&str] = &[
    "repository",
    "context",
    "dockerfile",
    "target",
    "platform",
    "args",
    "labels",
    "git-ref",
    "builder",
    "files",
];
const FILES_KEYS: &[&str] = &[
    "base",
    "copy",
    "entrypoint",
    "cmd",
    "env",
    "workdir",
    "user",
    "labels",
    "expose",
];
const COPY_KEYS: &[&str] = &["src", "dest"];
const MANIFESTS_KEYS: &[&str] = &[
    "path",
    "kustomize",
    "chart",
    "release",
    "values",
    "set",
    "images",
];
const ENV_CHART_KEYS: &[&str] = &["release", "values", "set"];
const CONFIG_KEYS: &[&str] = &["env-file", "literals", "files"];
const SECRET_KEYS: &[&str] = &["env-file", "from-env", "files", "type"];
const HOOK_KEYS: &[&str] = &[
    "when",
    "job",
    "image",
    "command",
    "env-from",
    "timeout",
    "backoff-limit",
];
const POLICY_KEYS: &[&str] = &[
    "timeout",
    "rollback-on-failure",
    "require-approval",
    "dirty",
    "crashloop-tolerance",
    "settle",
    "recreate",
    "rules",
];
/// The keys of an environment before its policy keys.
const ENV_OWN_KEYS: &[&str] = &[
    "cluster",
    "context",
    "kubeconfig",
    "namespace",
    "namespaces",
    "targets",
    "overlay",
    "chart",
    "config",
    "secrets",
    "promote-from",
    "production",
];

/// Every key of an environment: its own, the policy keys, and `strategies`.
fn env_keys() -> Vec<&'static str> {
    [ENV_OWN_KEYS, POLICY_KEYS, &["strategies"]].concat()
}
const STRATEGY_KEYS: &[&str] = &["canary", "blue-green"];
const BLUE_GREEN_KEYS: &[&str] = &[
    "service",
    "preview-service",
    "pre-switch",
    "scale-down-delay",
    "pre-switch-analysis",
    "post-switch-analysis",
];
const CANARY_KEYS: &[&str] = &[
    "traffic", "ingress", "route", "service", "steps", "analysis",
];
const STEP_KEYS: &[&str] = &["weight", "pause"];
const TARGET_KEYS: &[&str] = &[
    "cluster",
    "context",
    "kubeconfig",
    "namespace",
    "namespaces",
];

const DNS_LABEL_HINT: &str =
    "use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit";
const PATH_HINT: &str = "paths are relative to the directory of the config file";
const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(600);

/// Build a [`Config`] from the first document's root node, or return every problem.
pub(crate) fn config_from_root(
    root: &Node,
    file: &Path,
    base_dir: &Path,
) -> Result<Config, Vec<Diagnostic>> {
    let mut cx = Cx {
        base_dir: base_dir.to_path_buf(),
        diags: Vec::new(),
    };
    let config = cx.config(root, file);
    if cx.diags.is_empty() {
        Ok(config)
    } else {
        let mut diags = cx.diags;
        diags.sort_by_key(|d| (d.line, d.column));
        Err(diags)
    }
}

/// A value found under a key (or a list item), with the path used in messages.
#[derive(Clone)]
struct Val<'n> {
    /// The key node (for list items, the item itself).
    key: &'n Node,
    /// The value node.
    node: &'n Node,
    /// Dotted key path.
    path: String,
}

impl<'n> Val<'n> {
    /// Where to point for a bad value: the value, or its key when the value is empty.
    fn at(&self) -> &'n Node {
        if self.node.is_null() {
            self.key
        } else {
            self.node
        }
    }

    /// The last component of the path, for messages.
    fn name(&self) -> &str {
        self.key.as_scalar().map_or(&self.path, |s| s.text.as_str())
    }
}

/// A mapping whose keys have been checked (no duplicates, no unknown keys).
struct Map<'n> {
    /// Where to report a missing key: the key naming this mapping, or the mapping itself.
    owner: &'n Node,
    path: String,
    fields: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Map<'n> {
    fn child_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn get(&self, key: &str) -> Option<Val<'n>> {
        self.fields
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(k, key_node, node)| Val {
                key: key_node,
                node,
                path: join(&self.path, k),
            })
    }

    /// Every value, in order (for free-form mappings such as `images`).
    fn values(&self) -> impl Iterator<Item = Val<'n>> + '_ {
        self.fields.iter().map(|(k, key_node, node)| Val {
            key: key_node,
            node,
            path: join(&self.path, k),
        })
    }
}

/// Where `node` is written.
fn position(node: &Node) -> Position {
    Position {
        line: node.line,
        column: node.column,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn backticked(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_image_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn is_env_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_data_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `host[:port]`, without scheme or path.
fn is_registry_host(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    !host.is_empty()
        && host.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the first component of a repository names a registry host.
fn is_absolute_repository(repository: &str) -> bool {
    match repository.split_once('/') {
        Some((first, _)) => first.contains(['.', ':']) || first == "localhost",
        None => false,
    }
}

/// `base/rel` without `./` noise; a trailing `/` of `rel` is kept.
fn join_rel(base: &Path, rel: &str) -> PathBuf {
    let mut rel = rel;
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest.trim_start_matches('/');
    }
    let joined = if rel.is_empty() || rel == "." {
        base.to_path_buf()
    } else {
        base.join(rel)
    };
    if joined.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        joined
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PathKind {
    File,
    Dir,
}

/// Which names exist, for cross-references.
struct Names {
    images: Vec<String>,
    generators: Vec<String>,
    environments: Vec<String>,
}

impl Names {
    /// The names the top-level mapping gives, whatever their bodies hold.
    fn of(map: &Map<'_>) -> Names {
        let names_of = |key: &str| -> Vec<String> {
            map.get(key)
                .and_then(|v| v.node.entries())
                .map(|e| {
                    e.iter()
                        .filter_map(|(k, _)| k.as_scalar().map(|s| s.text.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut generators = names_of("config");
        generators.extend(names_of("secrets"));
        Names {
            images: names_of("images"),
            generators,
            environments: names_of("environments"),
        }
    }
}

/// The loader's state: where relative paths start, and every problem found so far.
struct Cx {
    base_dir: PathBuf,
    diags: Vec<Diagnostic>,
}

impl Cx {
    fn error(&mut self, at: &Node, key: &str, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic {
            line: at.line,
            column: at.column,
            key: key.to_owned(),
            message: message.into(),
            hint,
            span: at.span.clone(),
        });
    }

    fn type_error(&mut self, v: &Val<'_>, expected: &str) {
        let found = v.node.describe();
        let hint = match (expected, &v.node.kind) {
            ("a list", NodeKind::Scalar(_)) => Some(format!(
                "write a list, e.g. `{}: [{}]`",
                v.name(),
                v.node.as_scalar().map_or("", |s| s.text.as_str())
            )),
            (_, NodeKind::Null) => Some(format!("give `{}` a value", v.name())),
            _ => None,
        };
        self.error(
            v.at(),
            &v.path,
            format!("expected {expected}, found {found}"),
            hint,
        );
    }

    // ---- generic walkers -------------------------------------------------------------

    /// Check a mapping's keys: report non-string, duplicate and (with `allowed`) unknown
    /// keys, and hand back the rest.
    fn map<'n>(&mut self, v: &Val<'n>, allowed: Option<&[&str]>) -> Option<Map<'n>> {
        let Some(entries) = v.node.entries() else {
            self.type_error(v, "a mapping");
            return None;
        };
        let owner = if v.path.is_empty() { v.node } else { v.key };
        let mut map = Map {
            owner,
            path: v.path.clone(),
            fields: Vec::new(),
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let within = if v.path.is_empty() {
            String::new()
        } else {
            format!(" in `{}`", v.path)
        };
        for (key, value) in entries {
            let Some(name) = key.as_scalar().map(|s| s.text.as_str()) else {
                let found = key.describe();
                self.error(
                    key,
                    &v.path,
                    format!("expected a string key, found {found}"),
                    None,
                );
                continue;
            };
            let path = join(&v.path, name);
            if let Some(first_line) = seen.get(name) {
                self.error(
                    key,
                    &path,
                    format!("duplicate key `{name}`{within}"),
                    Some(format!(
                        "`{name}` is already set on line {first_line}; remove one of them"
                    )),
                );
                continue;
            }
            seen.insert(name, key.line);
            if let Some(allowed) = allowed
                && !allowed.contains(&name)
            {
                let hint = match suggest(name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("allowed keys are {}", backticked(allowed)),
                };
                self.error(
                    key,
                    &path,
                    format!("unknown key `{name}`{within}"),
                    Some(hint),
                );
                continue;
            }
            map.fields.push((name, key, value));
        }
        Some(map)
    }

    /// Report `key` missing from `map`.
    fn missing(&mut self, map: &Map<'_>, key: &str, hint: Option<String>) {
        let within = if map.path.is_empty() {
            String::new()
        } else {
            format!(" in `{}`", map.path)
        };
        self.error(
            map.owner,
            &map.child_path(key),
            format!("missing required key `{key}`{within}"),
            hint,
        );
    }

    /// A string (quoted or plain, but not a plain number, boolean or null).
    fn string(&mut self, v: &Val<'_>) -> Option<String> {
        match v.node.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.type_error(v, "a string");
                None
            }
        }
    }

    /// A non-empty string.
    fn nonempty(&mut self, v: &Val<'_>) -> Option<String> {
        let s = self.string(v)?;
        if s.trim().is_empty() {
            self.error(v.at(), &v.path, format!("`{}` is empty", v.name()), None);
            return None;
        }
        Some(s)
    }

    /// A string, number or boolean, as text.
    fn text(&mut self, v: &Val<'_>) -> Option<String> {
        match &v.node.kind {
            NodeKind::Scalar(s) => Some(s.text.clone()),
            _ => {
                self.type_error(v, "a string, number or boolean");
                None
            }
        }
    }

    fn bool(&mut self, v: &Val<'_>) -> Option<bool> {
        match v.node.as_scalar().map(|s| s.value()) {
            Some(ScalarValue::Bool(b)) => Some(b),
            _ => {
                self.type_error(v, "`true` or `false`");
                None
            }
        }
    }

    fn u32(&mut self, v: &Val<'_>) -> Option<u32> {
        match v.node.as_scalar().map(|s| s.value()) {
            Some(ScalarValue::Int(i)) => match u32::try_from(i) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.error(
                        v.at(),
                        &v.path,
                        format!("expected a non-negative integer, found `{i}`"),
                        None,
                    );
                    None
                }
            },
            _ => {
                self.type_error(v, "an integer");
                None
            }
        }
    }

    fn duration(&mut self, v: &Val<'_>) -> Option<Duration> {
        let text = match v.node.as_scalar() {
            Some(s) if !matches!(s.value(), ScalarValue::Bool(_)) => s.text.clone(),
            _ => {
                self.type_error(v, "a duration");
                return None;
            }
        };
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                let hint = e.hint();
                self.error(v.at(), &v.path, e.to_string(), hint);
                None
            }
        }
    }

    /// A keyword of a [`keyword_enum`](crate::model) type.
    fn keyword<T: Copy>(
        &mut self,
        v: &Val<'_>,
        all: &[(&'static str, T)],
        what: &str,
    ) -> Option<T> {
        let word = self.string(v)?;
        if let Some((_, value)) = all.iter().find(|(w, _)| *w == word) {
            return Some(*value);
        }
        let words: Vec<&str> = all.iter().map(|(w, _)| *w).collect();
        let hint = match suggest(&word, words.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of {}", backticked(&words)),
        };
        self.error(
            v.at(),
            &v.path,
            format!("unknown {what} `{word}`"),
            Some(hint),
        );
        None
    }

    /// The items of a list, each with its `path[i]`.
    fn list<'n>(&mut self, v: &Val<'n>) -> Option<Vec<Val<'n>>> {
        let Some(items) = v.node.items() else {
            self.type_error(v, "a list");
            return None;
        };
        Some(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| Val {
                    key: item,
                    node: item,
                    path: format!("{}[{i}]", v.path),
                })
                .collect(),
        )
    }

    fn string_list(&mut self, v: &Val<'_>) -> Option<Vec<String>> {
        let items = self.list(v)?;
        let mut out = Vec::new();
        let mut ok = true;
        for item in &items {
            match self.string(item) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A free-form mapping of names to strings, numbers or booleans (stringified).
    fn text_map(
        &mut self,
        v: &Val<'_>,
        key_ok: impl Fn(&str) -> bool,
        key_hint: &str,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        for field in map.values() {
            let name = field.name().to_owned();
            if !key_ok(&name) {
                self.error(
                    field.key,
                    &field.path,
                    format!("`{name}` is not a valid name here"),
                    Some(key_hint.to_owned()),
                );
                continue;
            }
            if let Some(text) = self.text(&field) {
                out.insert(name, text);
            }
        }
        out
    }

    /// A local path that must exist, relative to `base` (itself relative to the config
    /// file's directory). Existence is not checked when `check` is false.
    fn local_path(
        &mut self,
        v: &Val<'_>,
        base: &Path,
        kind: PathKind,
        check: bool,
        hint: &str,
    ) -> Option<PathBuf> {
        let written = self.nonempty(v)?;
        let base = join_rel(&self.base_dir, &base.to_string_lossy());
        let resolved = join_rel(&base, &written);
        if check {
            match std::fs::metadata(&resolved) {
                Err(_) => {
                    self.error(
                        v.at(),
                        &v.path,
                        format!("path `{written}` does not exist"),
                        Some(hint.to_owned()),
                    );
                    return None;
                }
                Ok(meta) if kind == PathKind::Dir && !meta.is_dir() => {
                    self.error(
                        v.at(),
                        &v.path,
                        format!("path `{written}` is not a directory"),
                        Some(format!("`{}` takes a directory", v.name())),
                    );
                    return None;
                }
                Ok(meta) if kind == PathKind::File && meta.is_dir() => {
                    self.error(
                        v.at(),
                        &v.path,
                        format!("path `{written}` is a directory, not a file"),
                        Some(format!("`{}` takes a file", v.name())),
                    );
                    return None;
                }
                Ok(_) => {}
            }
        }
        Some(resolved)
    }

    fn dns_label(&mut self, v: &Val<'_>, what: &str) -> Option<String> {
        let s = self.string(v)?;
        if !is_dns_label(&s) {
            self.error(
                v.at(),
                &v.path,
                format!("`{s}` is not a valid {what} name"),
                Some(DNS_LABEL_HINT.into()),
            );
            return None;
        }
        Some(s)
    }

    /// Check the name of a free-form mapping entry (its key).
    fn entry_name(&mut self, v: &Val<'_>, ok: fn(&str) -> bool, what: &str, hint: &str) -> bool {
        let name = v.name();
        if ok(name) {
            return true;
        }
        let message = format!("`{name}` is not a valid {what} name");
        self.error(v.key, &v.path, message, Some(hint.to_owned()));
        false
    }

    // ---- the schema -----------------------------------------------------------------

    fn config(&mut self, root: &Node, file: &Path) -> Config {
        let base_dir = self.base_dir.clone();
        let mut config = Config {
            file: file.to_path_buf(),
            base_dir: base_dir.clone(),
            app: String::new(),
            registry: None,
            tag: TagTemplate::default(),
            extra_tags: Vec::new(),
            registries: BTreeMap::new(),
            images: Vec::new(),
            manifests: None,
            chart: None,
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            hooks: Vec::new(),
            defaults: PolicyOverrides::default(),
            strategies: BTreeMap::new(),
            environments: Vec::new(),
        };
        let root_val = Val {
            key: root,
            node: root,
            path: String::new(),
        };
        if !matches!(root.kind, NodeKind::Map(_)) {
            let found = root.describe();
            self.error(
                root,
                "",
                format!("expected a mapping at the top level, found {found}"),
                Some("start with `app: <name>` and `environments:`".into()),
            );
            return config;
        }
        let Some(map) = self.map(&root_val, Some(ROOT_KEYS)) else {
            return config;
        };

        match map.get("app") {
            Some(v) => config.app = self.dns_label(&v, "app").unwrap_or_default(),
            None => self.missing(&map, "app", Some("add `app: <name>` at the top".into())),
        }
        if let Some(v) = map.get("registry") {
            config.registry = self.registry(&v);
        }
        let allow_latest = map
            .get("allow-latest")
            .and_then(|v| self.bool(&v))
            .unwrap_or(false);
        if let Some(v) = map.get("tag")
            && let Some(t) = self.tag_template(&v, allow_latest)
        {
            config.tag = t;
        }
        if allow_latest {
            config.tag = config.tag.allowing_latest();
        }
        if let Some(v) = map.get("extra-tags") {
            config.extra_tags = self.extra_tags(&v);
        }
        if let Some(v) = map.get("registries") {
            config.registries = self.registries(&v);
        }

        // Names first, so that references can be checked even when bodies are broken.
        let names = Names::of(&map);

        if let Some(v) = map.get("images") {
            config.images = self.images(&v, config.registry.as_deref());
        }
        if let Some(v) = map.get("manifests") {
            let app = config.app.clone();
            match self.manifests(&v, &app, &names) {
                Some(sources::ManifestSource::Files(m)) => config.manifests = Some(m),
                Some(sources::ManifestSource::Chart(c)) => config.chart = Some(c),
                None => {}
            }
        }
        if let Some(v) = map.get("config") {
            config.config = self.config_generators(&v);
        }
        if let Some(v) = map.get("secrets") {
            config.secrets = self.secret_generators(&v);
        }
        if let Some(v) = map.get("hooks") {
            config.hooks = self.hooks(&v, &names);
        }
        if let Some(v) = map.get("defaults")
            && let Some(m) = self.map(&v, Some(POLICY_KEYS))
        {
            config.defaults = self.policy(&m);
        }
        if let Some(v) = map.get("strategies") {
            config.strategies = self.strategies(&v);
        }
        match map.get("environments") {
            Some(v) => {
                config.environments = self.environments(&v, &config, &names);
            }
            None => self.missing(
                &map,
                "environments",
                Some("add `environments:` with at least one environment".into()),
            ),
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_follow_rfc_1123() {
        for ok in ["a", "honeydue", "core-uat", "a1", &"a".repeat(63)] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn absolute_repositories_start_with_a_host() {
        assert!(is_absolute_repository("gitea.example.com/admin/api"));
        assert!(is_absolute_repository("localhost/api"));
        assert!(is_absolute_repository("127.0.0.1:5000/api"));
        assert!(is_absolute_repository("registry:5000/api"));
        assert!(!is_absolute_repository("team/api"));
        assert!(!is_absolute_repository("api"));
    }

    #[test]
    fn registry_hosts_may_have_a_port() {
        assert!(is_registry_host("gitea.example.com"));
        assert!(is_registry_host("localhost:5000"));
        assert!(!is_registry_host("https://x"));
        assert!(!is_registry_host("x:port"));
        assert!(!is_registry_host(""));
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(suggest("imagse", ROOT_KEYS.iter().copied()), Some("images"));
        assert_eq!(
            suggest("envs", ["environments", "app"]),
            Some("environments")
        );
        assert_eq!(suggest("zzz", ROOT_KEYS.iter().copied()), None);
    }
}

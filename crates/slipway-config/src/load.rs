//! From a YAML tree to a [`Config`], collecting every problem on the way.
//!
//! The walkers below never stop at the first problem: each one reports what is wrong
//! with its part of the tree into [`Cx`] and goes on with a default, so that a file with
//! five mistakes gets five diagnostics. The result is only used when nothing was reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::Diagnostic;
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
const MANIFESTS_KEYS: &[&str] = &["path", "kustomize"];
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
    "rules",
];
const ENV_KEYS: &[&str] = &[
    "cluster",
    "context",
    "kubeconfig",
    "namespace",
    "namespaces",
    "targets",
    "overlay",
    "config",
    "secrets",
    "promote-from",
    "production",
    "timeout",
    "rollback-on-failure",
    "require-approval",
    "dirty",
    "crashloop-tolerance",
    "settle",
    "rules",
];
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

/// The candidate closest to `word`, if it is close enough to be a likely typo. The one
/// did-you-mean of slipway: configuration keys, placeholders, and the names given on the
/// command line all go through it.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Close candidates are those Jaro-Winkler finds similar or that share a 3-character
    // prefix; among them the fewest edits wins, then the higher similarity.
    let mut best: Option<(usize, f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(word, c);
        let common_prefix = word
            .chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .count();
        if score < 0.8 && common_prefix < 3 {
            continue;
        }
        let edits = strsim::levenshtein(word, c);
        if best.is_none_or(|(e, s, _)| edits < e || (edits == e && score > s)) {
            best = Some((edits, score, c));
        }
    }
    best.map(|(_, _, c)| c)
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
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            hooks: Vec::new(),
            defaults: PolicyOverrides::default(),
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
            for item in self.list(&v).unwrap_or_default() {
                let Some(tag) = self.text(&item) else {
                    continue;
                };
                match validate_tag(&tag) {
                    Ok(()) => config.extra_tags.push(tag),
                    Err(e) => {
                        let hint = e.hint();
                        self.error(item.at(), &item.path, e.to_string(), hint);
                    }
                }
            }
        }
        if let Some(v) = map.get("registries") {
            config.registries = self.registries(&v);
        }

        // Names first, so that references can be checked even when bodies are broken.
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
        let names = Names {
            images: names_of("images"),
            generators,
            environments: names_of("environments"),
        };

        if let Some(v) = map.get("images") {
            config.images = self.images(&v, config.registry.as_deref());
        }
        if let Some(v) = map.get("manifests") {
            config.manifests = self.manifests(&v);
        }
        if let Some(v) = map.get("config")
            && let Some(m) = self.map(&v, None)
        {
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
                config.config.insert(entry.name().to_owned(), generator);
            }
        }
        if let Some(v) = map.get("secrets")
            && let Some(m) = self.map(&v, None)
        {
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
                config.secrets.insert(entry.name().to_owned(), generator);
            }
        }
        if let Some(v) = map.get("hooks") {
            config.hooks = self.hooks(&v, &names);
        }
        if let Some(v) = map.get("defaults")
            && let Some(m) = self.map(&v, Some(POLICY_KEYS))
        {
            config.defaults = self.policy(&m);
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

    fn no_data(&mut self, entry: &Val<'_>, keys: &str) {
        self.error(
            entry.key,
            &entry.path,
            format!("`{}` has no data", entry.name()),
            Some(format!("add {keys}")),
        );
    }

    fn registry(&mut self, v: &Val<'_>) -> Option<String> {
        let s = self.nonempty(v)?;
        if let Some((scheme, rest)) = s.split_once("://") {
            self.error(
                v.at(),
                &v.path,
                format!("registry `{s}` has a scheme"),
                Some(format!(
                    "leave out `{scheme}://`, e.g. `{rest}`; use `registries` to allow plain HTTP"
                )),
            );
            return None;
        }
        let s = s.trim_end_matches('/').to_owned();
        let host = s.split('/').next().unwrap_or_default();
        if !is_registry_host(host) {
            self.error(
                v.at(),
                &v.path,
                format!("registry `{s}` does not start with a registry host"),
                Some("write `host[:port][/path]`, e.g. `registry.example.com/team`".into()),
            );
            return None;
        }
        Some(s)
    }

    fn tag_template(&mut self, v: &Val<'_>, allow_latest: bool) -> Option<TagTemplate> {
        let text = self.string(v)?;
        match TagTemplate::parse(&text) {
            Ok(_) if text == "latest" && !allow_latest => {
                self.error(
                    v.at(),
                    &v.path,
                    "tag template `latest` gives every build the same tag",
                    Some("use a unique tag and list `latest` in `extra-tags`, or set `allow-latest: true` to release as `latest` (deploys still pin the image by digest)".into()),
                );
                None
            }
            Ok(t) if !t.has_placeholders() && text != "latest" => {
                self.error(
                    v.at(),
                    &v.path,
                    format!("tag template `{text}` has no placeholder, so every build would get the same tag"),
                    Some(format!("add `{{git.short_sha}}` or `{{timestamp}}`, e.g. `{text}-{{git.short_sha}}`; fixed tags go in `extra-tags`")),
                );
                None
            }
            Ok(t) => Some(t),
            Err(e) => {
                let hint = e.hint();
                self.error(v.at(), &v.path, e.to_string(), hint);
                None
            }
        }
    }

    fn registries(&mut self, v: &Val<'_>) -> BTreeMap<String, RegistrySettings> {
        let mut out = BTreeMap::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        for entry in map.values() {
            if !self.entry_name(
                &entry,
                is_registry_host,
                "registry host",
                "write the host and optional port, e.g. `registry.example.com:5000`",
            ) {
                continue;
            }
            let Some(m) = self.map(&entry, Some(REGISTRY_KEYS)) else {
                continue;
            };
            let mut settings = RegistrySettings::default();
            if let Some(v) = m.get("insecure") {
                settings.insecure = self.bool(&v).unwrap_or_default();
            }
            if let Some(v) = m.get("credentials") {
                settings.credentials = self.credentials(&v).unwrap_or_default();
            }
            out.insert(entry.name().to_owned(), settings);
        }
        out
    }

    fn credentials(&mut self, v: &Val<'_>) -> Option<Credentials> {
        let s = self.string(v)?;
        match s.as_str() {
            "docker-config" => return Some(Credentials::DockerConfig),
            "env" => return Some(Credentials::Env),
            "stdin" => return Some(Credentials::Stdin),
            _ => {}
        }
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                self.error(
                    v.at(),
                    &v.path,
                    "`file:` credentials need a path",
                    Some("write `file:<path>`, e.g. `file:~/.config/registry-token`".into()),
                );
                return None;
            }
            let path = if path.starts_with('~') {
                PathBuf::from(path)
            } else {
                join_rel(&self.base_dir, path)
            };
            return Some(Credentials::File(path));
        }
        let words = ["docker-config", "env", "file:<path>", "stdin"];
        let hint = match suggest(&s, words) {
            Some(w) => format!("did you mean `{w}`?"),
            None => format!("use one of {}", backticked(&words)),
        };
        self.error(
            v.at(),
            &v.path,
            format!("unknown credentials source `{s}`"),
            Some(hint),
        );
        None
    }

    fn images(&mut self, v: &Val<'_>, registry: Option<&str>) -> Vec<Image> {
        let mut out = Vec::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        for entry in map.values() {
            if !self.entry_name(
                &entry,
                is_image_name,
                "image",
                "use lowercase letters, digits and `-`, starting with a letter or digit",
            ) {
                continue;
            }
            if let Some(image) = self.image(&entry, registry) {
                out.push(image);
            }
        }
        out
    }

    fn image(&mut self, entry: &Val<'_>, registry: Option<&str>) -> Option<Image> {
        let name = entry.name().to_owned();
        let m = self.map(entry, Some(IMAGE_KEYS))?;
        let git_ref = m.get("git-ref").and_then(|v| self.nonempty(&v));
        // Files of an image built from a git ref come from git, not the working tree.
        let check = git_ref.is_none();

        let context_written = match m.get("context") {
            Some(v) => self.nonempty(&v).map(PathBuf::from),
            None => Some(PathBuf::from(".")),
        };
        let context = match m.get("context") {
            Some(v) => self.local_path(&v, Path::new(""), PathKind::Dir, check, PATH_HINT),
            None => Some(join_rel(&self.base_dir, ".")),
        };

        let repository = match m.get("repository") {
            Some(v) => self.nonempty(&v).map(|r| (r, v.at(), v.path.clone())),
            None => Some((name.clone(), entry.key, entry.path.clone())),
        };
        let repository = repository.and_then(|(repo, at, path)| {
            if repo.contains('@') || repo.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                self.error(
                    at,
                    &path,
                    format!("repository `{repo}` includes a tag or digest"),
                    Some("leave the tag out; it comes from `tag`".into()),
                );
                return None;
            }
            let path_part = if is_absolute_repository(&repo) {
                repo.split_once('/').map_or("", |(_, p)| p)
            } else {
                repo.as_str()
            };
            if path_part.is_empty()
                || !path_part.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'/')
                })
            {
                self.error(
                    at,
                    &path,
                    format!("invalid repository `{repo}`"),
                    Some("repository paths are lowercase letters, digits, `.`, `_`, `-` and `/`".into()),
                );
                return None;
            }
            if is_absolute_repository(&repo) {
                return Some(repo);
            }
            match registry {
                Some(r) => Some(format!("{r}/{repo}")),
                None => {
                    self.error(
                        at,
                        &path,
                        format!("repository `{repo}` of image `{name}` is relative and no `registry` is set"),
                        Some(format!("set a top-level `registry`, or write the full repository, e.g. `registry.example.com/{repo}`")),
                    );
                    None
                }
            }
        });

        let platform = match m.get("platform") {
            Some(v) => self.platform(&v),
            None => Some(Platform::default()),
        };
        let labels = m
            .get("labels")
            .map(|v| self.text_map(&v, |k| !k.is_empty(), "label keys must not be empty"))
            .unwrap_or_default();
        let builder = match m.get("builder") {
            Some(v) => self.keyword(&v, Builder::ALL, Builder::WHAT),
            None => Some(Builder::Auto),
        };

        let build = if let Some(files) = m.get("files") {
            for key in ["dockerfile", "target", "args"] {
                if let Some(v) = m.get(key) {
                    self.error(
                        v.key,
                        &v.path,
                        format!("`{key}` cannot be used with `files`"),
                        Some("an image is built either from a Dockerfile or from `files`; remove one".into()),
                    );
                }
            }
            if let (Some(b), Some(v)) = (builder, m.get("builder"))
                && !matches!(b, Builder::Auto | Builder::Native)
            {
                self.error(
                    v.at(),
                    &v.path,
                    format!("a `files` image cannot be built with `{b}`"),
                    Some("remove `builder` or set it to `native`".into()),
                );
            }
            let copy_base = context_written.clone().unwrap_or_default();
            self.files_image(&files, &copy_base, check)
                .map(ImageBuild::Files)
        } else {
            if let (Some(Builder::Native), Some(v)) = (builder, m.get("builder")) {
                self.error(
                    v.at(),
                    &v.path,
                    "the `native` builder builds only `files` images",
                    Some("use `auto`, `buildah`, `docker` or `podman`, or describe the image with `files`".into()),
                );
            }
            let dockerfile = match m.get("dockerfile") {
                Some(v) => self.local_path(&v, Path::new(""), PathKind::File, check, PATH_HINT),
                None => {
                    let written = join_rel(
                        Path::new(""),
                        &context_written
                            .clone()
                            .unwrap_or_default()
                            .join("Dockerfile")
                            .to_string_lossy(),
                    );
                    let resolved = join_rel(&self.base_dir, &written.to_string_lossy());
                    if check && context.is_some() && !resolved.is_file() {
                        let (at, path) = match m.get("context") {
                            Some(v) => (v.at(), v.path.clone()),
                            None => (entry.key, entry.path.clone()),
                        };
                        self.error(
                            at,
                            &path,
                            format!(
                                "image `{name}` has no Dockerfile at `{}`",
                                written.display()
                            ),
                            Some(
                                "add `dockerfile: <path>`, or describe the image with `files`"
                                    .into(),
                            ),
                        );
                        None
                    } else {
                        Some(resolved)
                    }
                }
            };
            let target = m.get("target").and_then(|v| self.nonempty(&v));
            let args = m
                .get("args")
                .map(|v| {
                    self.text_map(
                        &v,
                        |k| !k.is_empty(),
                        "build argument names must not be empty",
                    )
                })
                .unwrap_or_default();
            dockerfile.map(|dockerfile| ImageBuild::Dockerfile {
                dockerfile,
                target,
                args,
            })
        };

        Some(Image {
            name,
            repository: repository?,
            context: context?,
            platform: platform?,
            labels,
            git_ref,
            builder: builder?,
            build: build?,
        })
    }

    fn platform(&mut self, v: &Val<'_>) -> Option<Platform> {
        let s = self.string(v)?;
        let parts: Vec<&str> = s.split('/').collect();
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| part_ok(p)) {
            self.error(
                v.at(),
                &v.path,
                format!("invalid platform `{s}`"),
                Some("write `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`".into()),
            );
            return None;
        }
        Some(Platform {
            os: parts[0].into(),
            architecture: parts[1].into(),
            variant: parts.get(2).map(|s| (*s).to_owned()),
        })
    }

    fn files_image(&mut self, v: &Val<'_>, context: &Path, check: bool) -> Option<FilesImage> {
        let m = self.map(v, Some(FILES_KEYS))?;
        let mut ok = true;
        let mut image = FilesImage {
            base: "scratch".into(),
            copy: Vec::new(),
            entrypoint: None,
            cmd: None,
            env: BTreeMap::new(),
            workdir: None,
            user: None,
            labels: BTreeMap::new(),
            expose: Vec::new(),
        };
        if let Some(v) = m.get("base") {
            match self.nonempty(&v) {
                Some(b) if b.contains(char::is_whitespace) => {
                    self.error(
                        v.at(),
                        &v.path,
                        format!("invalid base image `{b}`"),
                        Some("use `scratch` or an image reference, e.g. `docker.io/library/alpine:3.20`".into()),
                    );
                    ok = false;
                }
                Some(b) => image.base = b,
                None => ok = false,
            }
        }
        if let Some(v) = m.get("copy") {
            let copy_hint = format!(
                "`src` is relative to the image's context `{}`",
                context.display()
            );
            for item in self.list(&v).unwrap_or_default() {
                let Some(cm) = self.map(&item, Some(COPY_KEYS)) else {
                    ok = false;
                    continue;
                };
                let src = match cm.get("src") {
                    Some(s) => self
                        .local_path(&s, context, PathKind::File, false, "")
                        .and_then(|p| {
                            if check && std::fs::metadata(&p).is_err() {
                                let written = s.node.as_str().unwrap_or_default();
                                self.error(
                                    s.at(),
                                    &s.path,
                                    format!("path `{written}` does not exist"),
                                    Some(copy_hint.clone()),
                                );
                                None
                            } else {
                                Some(p)
                            }
                        }),
                    None => {
                        self.missing(&cm, "src", None);
                        None
                    }
                };
                let dest = match cm.get("dest") {
                    Some(d) => self.nonempty(&d).and_then(|dest| {
                        if dest.starts_with('/') {
                            Some(dest)
                        } else {
                            self.error(
                                d.at(),
                                &d.path,
                                format!("`dest` must be an absolute path, found `{dest}`"),
                                Some(format!("write `/{dest}`")),
                            );
                            None
                        }
                    }),
                    None => {
                        self.missing(&cm, "dest", None);
                        None
                    }
                };
                match (src, dest) {
                    (Some(src), Some(dest)) => image.copy.push(CopySpec { src, dest }),
                    _ => ok = false,
                }
            }
        }
        if let Some(v) = m.get("entrypoint") {
            image.entrypoint = self.string_list(&v);
            ok &= image.entrypoint.is_some();
        }
        if let Some(v) = m.get("cmd") {
            image.cmd = self.string_list(&v);
            ok &= image.cmd.is_some();
        }
        if let Some(v) = m.get("env") {
            image.env = self.text_map(
                &v,
                is_env_var_name,
                "environment variable names are letters, digits and `_`, not starting with a digit",
            );
        }
        if let Some(v) = m.get("workdir") {
            image.workdir = self.nonempty(&v);
            ok &= image.workdir.is_some();
        }
        if let Some(v) = m.get("user") {
            image.user = self.text(&v);
            ok &= image.user.is_some();
        }
        if let Some(v) = m.get("labels") {
            image.labels = self.text_map(&v, |k| !k.is_empty(), "label keys must not be empty");
        }
        if let Some(v) = m.get("expose") {
            for item in self.list(&v).unwrap_or_default() {
                match self.port(&item) {
                    Some(p) => image.expose.push(p),
                    None => ok = false,
                }
            }
        }
        ok.then_some(image)
    }

    fn port(&mut self, v: &Val<'_>) -> Option<Port> {
        let text = match v.node.as_scalar() {
            Some(s) => s.text.clone(),
            None => {
                self.type_error(v, "a port");
                return None;
            }
        };
        let (number, proto) = text.split_once('/').unwrap_or((&text, "tcp"));
        match (number.parse::<u16>(), proto) {
            (Ok(n), "tcp" | "udp") if n > 0 => Some(Port {
                number: n,
                udp: proto == "udp",
            }),
            _ => {
                self.error(
                    v.at(),
                    &v.path,
                    format!("invalid port `{text}`"),
                    Some(
                        "write a number from 1 to 65535, optionally followed by `/tcp` or `/udp`"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    fn manifests(&mut self, v: &Val<'_>) -> Option<Manifests> {
        if v.node.as_scalar().is_some() {
            let path = self.local_path(v, Path::new(""), PathKind::Dir, true, PATH_HINT)?;
            return Some(Manifests {
                path,
                kustomize: KustomizeMode::Native,
            });
        }
        let m = self.map(v, Some(MANIFESTS_KEYS))?;
        let path = match m.get("path") {
            Some(p) => self.local_path(&p, Path::new(""), PathKind::Dir, true, PATH_HINT),
            None => {
                self.missing(
                    &m,
                    "path",
                    Some("add `path: <directory of manifests>`".into()),
                );
                None
            }
        };
        let kustomize = match m.get("kustomize") {
            Some(k) => self.keyword(&k, KustomizeMode::ALL, KustomizeMode::WHAT),
            None => Some(KustomizeMode::Native),
        };
        Some(Manifests {
            path: path?,
            kustomize: kustomize?,
        })
    }

    fn generator_name(&mut self, entry: &Val<'_>) -> bool {
        self.entry_name(
            entry,
            is_dns_subdomain,
            "resource",
            "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
        )
    }

    fn file_sources(&mut self, v: &Val<'_>) -> Option<Vec<FileSource>> {
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

    fn config_partial(&mut self, v: &Val<'_>) -> ConfigPartial {
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

    fn secret_partial(&mut self, v: &Val<'_>) -> SecretPartial {
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

    fn hooks(&mut self, v: &Val<'_>, names: &Names) -> Vec<Hook> {
        let mut out = Vec::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        for entry in map.values() {
            if !self.entry_name(&entry, is_dns_label, "hook", DNS_LABEL_HINT) {
                continue;
            }
            if let Some(hook) = self.hook(&entry, names) {
                out.push(hook);
            }
        }
        out
    }

    fn hook(&mut self, entry: &Val<'_>, names: &Names) -> Option<Hook> {
        let m = self.map(entry, Some(HOOK_KEYS))?;
        let when = match m.get("when") {
            Some(v) => self.keyword(&v, HookWhen::ALL, HookWhen::WHAT),
            None => Some(HookWhen::PreDeploy),
        };
        let timeout = match m.get("timeout") {
            Some(v) => self.duration(&v),
            None => Some(DEFAULT_HOOK_TIMEOUT),
        };
        let backoff_limit = match m.get("backoff-limit") {
            Some(v) => self.u32(&v),
            None => Some(0),
        };
        let run = match (m.get("job"), m.get("image")) {
            (Some(job), image) => {
                if let Some(image) = &image {
                    self.error(
                        image.key,
                        &image.path,
                        "`image` cannot be used with `job`",
                        Some("a hook runs either a Job manifest (`job`) or a Job generated from an image (`image`)".into()),
                    );
                }
                for key in ["command", "env-from"] {
                    if let (Some(v), None) = (m.get(key), &image) {
                        self.error(
                            v.key,
                            &v.path,
                            format!("`{key}` needs `image`"),
                            Some("`command` and `env-from` describe a Job generated from an image; a `job` manifest sets them itself".into()),
                        );
                    }
                }
                self.local_path(&job, Path::new(""), PathKind::File, true, PATH_HINT)
                    .map(HookRun::Job)
            }
            (None, Some(image)) => {
                let image_name = self.string(&image).and_then(|name| {
                    if names.images.contains(&name) {
                        Some(name)
                    } else {
                        let hint = self.reference_hint(&name, &names.images, "images");
                        self.error(
                            image.at(),
                            &image.path,
                            format!("unknown image `{name}`"),
                            Some(hint),
                        );
                        None
                    }
                });
                let command = match m.get("command") {
                    Some(v) => self.string_list(&v).map(Some),
                    None => Some(None),
                };
                let env_from = match m.get("env-from") {
                    Some(v) => self.env_from(&v, names),
                    None => Some(Vec::new()),
                };
                match (image_name, command, env_from) {
                    (Some(image), Some(command), Some(env_from)) => Some(HookRun::Image {
                        image,
                        command,
                        env_from,
                    }),
                    _ => None,
                }
            }
            (None, None) => {
                self.error(
                    m.owner,
                    &m.path,
                    format!("hook `{}` needs `job` or `image`", entry.name()),
                    Some(
                        "set `job: <Job manifest file>`, or `image: <image name>` with `command`"
                            .into(),
                    ),
                );
                None
            }
        };
        Some(Hook {
            name: entry.name().to_owned(),
            when: when?,
            run: run?,
            timeout: timeout?,
            backoff_limit: backoff_limit?,
        })
    }

    fn reference_hint(&self, name: &str, known: &[String], what: &str) -> String {
        match suggest(name, known.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => format!("no {what} are defined"),
            None => {
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                format!("{what} are {}", backticked(&known))
            }
        }
    }

    fn env_from(&mut self, v: &Val<'_>, names: &Names) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut ok = true;
        for item in self.list(v)? {
            let Some(name) = self.string(&item) else {
                ok = false;
                continue;
            };
            if names.generators.contains(&name) {
                out.push(name);
            } else {
                let hint =
                    self.reference_hint(&name, &names.generators, "`config` and `secrets` entries");
                self.error(
                    item.at(),
                    &item.path,
                    format!("`{name}` is not in `config` or `secrets`"),
                    Some(hint),
                );
                ok = false;
            }
        }
        ok.then_some(out)
    }

    fn policy(&mut self, m: &Map<'_>) -> PolicyOverrides {
        let mut p = PolicyOverrides::default();
        if let Some(v) = m.get("timeout") {
            p.timeout = self.duration(&v);
        }
        if let Some(v) = m.get("rollback-on-failure") {
            p.rollback_on_failure = self.bool(&v);
        }
        if let Some(v) = m.get("require-approval") {
            p.require_approval = self.bool(&v);
        }
        if let Some(v) = m.get("dirty") {
            p.dirty = self.keyword(&v, DirtyPolicy::ALL, DirtyPolicy::WHAT);
        }
        if let Some(v) = m.get("crashloop-tolerance") {
            p.crashloop_tolerance = self.u32(&v);
        }
        if let Some(v) = m.get("settle") {
            p.settle = self.duration(&v);
        }
        if let Some(v) = m.get("rules")
            && let Some(rules) = self.map(&v, None)
        {
            for rule in rules.values() {
                if !self.entry_name(
                    &rule,
                    is_kebab,
                    "rule",
                    "rule ids are kebab-case, e.g. `pdb-missing`",
                ) {
                    continue;
                }
                if let Some(level) = self.keyword(&rule, RuleLevel::ALL, RuleLevel::WHAT) {
                    p.rules.insert(rule.name().to_owned(), level);
                    p.rules_at
                        .insert(rule.name().to_owned(), position(rule.key));
                }
            }
        }
        p
    }

    fn environments(&mut self, v: &Val<'_>, config: &Config, names: &Names) -> Vec<Environment> {
        let mut out = Vec::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        if map.fields.is_empty() && v.node.entries().is_some_and(|e| e.is_empty()) {
            self.error(
                v.at(),
                &v.path,
                "no environments defined",
                Some(
                    "add at least one, e.g. `dev: { cluster: sandbox, namespace: <name> }`".into(),
                ),
            );
            return out;
        }
        let mut promotions: Vec<(String, Val<'_>)> = Vec::new();
        for entry in map.values() {
            if !self.entry_name(&entry, is_dns_label, "environment", DNS_LABEL_HINT) {
                continue;
            }
            if let Some((env, promote)) = self.environment(&entry, config, names) {
                if let Some(p) = promote {
                    promotions.push((env.name.clone(), p));
                }
                out.push(env);
            }
        }
        self.promotion_cycles(&promotions);
        out
    }

    fn promotion_cycles(&mut self, promotions: &[(String, Val<'_>)]) {
        let from: HashMap<&str, &str> = promotions
            .iter()
            .filter_map(|(env, v)| Some((env.as_str(), v.node.as_str()?)))
            .collect();
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for (env, v) in promotions {
            if reported.contains(env.as_str()) {
                continue;
            }
            let mut chain = vec![env.as_str()];
            let mut current = env.as_str();
            while let Some(next) = from.get(current) {
                if *next == env {
                    chain.push(next);
                    let shown = chain
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(" → ");
                    self.error(
                        v.at(),
                        &v.path,
                        format!("`promote-from` makes a cycle: {shown}"),
                        Some(
                            "an environment cannot promote, directly or indirectly, from itself"
                                .into(),
                        ),
                    );
                    reported.extend(chain.iter().copied());
                    break;
                }
                if chain.contains(next) {
                    break; // a cycle that does not include `env`; reported from its own start
                }
                chain.push(next);
                current = next;
            }
        }
    }

    fn environment<'n>(
        &mut self,
        entry: &Val<'n>,
        config: &Config,
        names: &Names,
    ) -> Option<(Environment, Option<Val<'n>>)> {
        let name = entry.name().to_owned();
        let m = self.map(entry, Some(ENV_KEYS))?;
        let targets = self.env_targets(&m, &name);

        let overlay = m.get("overlay").and_then(|v| {
            let path = self.local_path(&v, Path::new(""), PathKind::Dir, true, PATH_HINT)?;
            if config.manifests.is_none() {
                self.error(
                    v.key,
                    &v.path,
                    "`overlay` needs top-level `manifests`",
                    Some(
                        "add `manifests: <directory>` at the top level; the overlay builds on it"
                            .into(),
                    ),
                );
            }
            Some(path)
        });

        let mut env_config = config.config.clone();
        if let Some(v) = m.get("config")
            && let Some(cm) = self.map(&v, None)
        {
            for e in cm.values() {
                if !self.generator_name(&e) {
                    continue;
                }
                // An entry only this environment defines must hold data itself, as
                // a top-level one must.
                if !config.config.contains_key(e.name())
                    && e.node.entries().is_some_and(|entries| entries.is_empty())
                {
                    self.no_data(&e, "`env-file`, `literals` or `files`");
                }
                let partial = self.config_partial(&e);
                let base = env_config.remove(e.name()).unwrap_or_default();
                env_config.insert(e.name().to_owned(), partial.apply(base));
            }
        }
        let mut env_secrets = config.secrets.clone();
        if let Some(v) = m.get("secrets")
            && let Some(sm) = self.map(&v, None)
        {
            for e in sm.values() {
                if !self.generator_name(&e) {
                    continue;
                }
                if !config.secrets.contains_key(e.name())
                    && e.node.entries().is_some_and(|entries| {
                        entries.iter().all(|(k, _)| k.as_str() == Some("type"))
                    })
                {
                    self.no_data(&e, "`env-file`, `from-env` or `files`");
                }
                let partial = self.secret_partial(&e);
                let base = env_secrets.remove(e.name()).unwrap_or_default();
                env_secrets.insert(e.name().to_owned(), partial.apply(base));
            }
        }

        let promote = m.get("promote-from");
        let promote_from = promote.as_ref().and_then(|v| {
            let from = self.string(v)?;
            if from != name && !names.environments.contains(&from) {
                let others: Vec<String> = names
                    .environments
                    .iter()
                    .filter(|e| **e != name)
                    .cloned()
                    .collect();
                let hint = self.reference_hint(&from, &others, "other environments");
                self.error(
                    v.at(),
                    &v.path,
                    format!("unknown environment `{from}`"),
                    Some(hint),
                );
                return None;
            }
            Some(from)
        });
        let production = match m.get("production") {
            Some(v) => self.bool(&v),
            None => Some(name == "prod" || name == "production"),
        };
        let overrides = self.policy(&m);
        let policy = Policy::default().with(&config.defaults).with(&overrides);
        let mut rules_at = config.defaults.rules_at.clone();
        rules_at.extend(overrides.rules_at.clone());

        let env = Environment {
            name,
            targets: targets?,
            overlay,
            config: env_config,
            secrets: env_secrets,
            promote_from,
            production: production?,
            rules_at,
            policy,
        };
        Some((env, promote))
    }

    /// The environment's targets: from `targets`, or one from `cluster`/`context`.
    fn env_targets(&mut self, m: &Map<'_>, env: &str) -> Option<Vec<Target>> {
        let Some(targets) = m.get("targets") else {
            return self
                .target(m, &format!("environment `{env}`"), true)
                .map(|t| vec![t]);
        };
        for key in [
            "cluster",
            "context",
            "kubeconfig",
            "namespace",
            "namespaces",
        ] {
            if let Some(v) = m.get(key) {
                self.error(
                    v.key,
                    &v.path,
                    format!("`{key}` cannot be used with `targets`"),
                    Some(format!("set `{key}` on each target instead")),
                );
            }
        }
        let items = self.list(&targets)?;
        if items.is_empty() {
            self.error(
                targets.at(),
                &targets.path,
                "`targets` is empty",
                Some(
                    "add at least one target, e.g. `- { context: <context>, namespace: <name> }`"
                        .into(),
                ),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let target = self
                .map(item, Some(TARGET_KEYS))
                .and_then(|tm| self.target(&tm, &format!("target {i}"), false));
            match target {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// One cluster with its namespaces, from the keys of an environment or a target.
    fn target(&mut self, m: &Map<'_>, what: &str, env_level: bool) -> Option<Target> {
        let present: Vec<Val<'_>> = ["cluster", "context"]
            .iter()
            .filter_map(|k| m.get(k))
            .collect();
        let cluster = match present.as_slice() {
            [] => {
                let hint = if env_level {
                    "add `cluster: sandbox`, `context: <kubeconfig context>` or `targets`"
                } else {
                    "add `context: <kubeconfig context>` or `cluster: sandbox`"
                };
                self.error(
                    m.owner,
                    &m.path,
                    format!("{what} has no cluster"),
                    Some(hint.into()),
                );
                None
            }
            [one] => {
                if one.name() == "cluster" {
                    self.cluster(one, m)
                } else {
                    // Relative to the config file's directory, like every path; `~/`
                    // (the home directory) is expanded when the file is read.
                    let kubeconfig = m.get("kubeconfig").and_then(|v| self.nonempty(&v));
                    let kubeconfig = kubeconfig.map(|path| {
                        if path == "~" || path.starts_with("~/") {
                            PathBuf::from(path)
                        } else {
                            join_rel(&self.base_dir, &path)
                        }
                    });
                    self.nonempty(one)
                        .map(|name| Cluster::Context { name, kubeconfig })
                }
            }
            [_, second, ..] => {
                self.error(
                    second.key,
                    &second.path,
                    "`context` cannot be used with `cluster`",
                    Some(if env_level {
                        "choose one of `cluster`, `context` and `targets`".into()
                    } else {
                        "choose one of `cluster` and `context`".into()
                    }),
                );
                None
            }
        };
        let namespaces = match (m.get("namespace"), m.get("namespaces")) {
            (Some(_), Some(many)) => {
                self.error(
                    many.key,
                    &many.path,
                    "`namespace` and `namespaces` cannot be used together",
                    Some("list every namespace under `namespaces`".into()),
                );
                None
            }
            (Some(one), None) => self.dns_label(&one, "namespace").map(|n| vec![n]),
            (None, Some(many)) => self.list(&many).and_then(|items| {
                if items.is_empty() {
                    self.error(
                        many.at(),
                        &many.path,
                        "`namespaces` is empty",
                        Some("list at least one namespace".into()),
                    );
                    return None;
                }
                let names: Vec<Option<String>> = items
                    .iter()
                    .map(|i| self.dns_label(i, "namespace"))
                    .collect();
                names.into_iter().collect()
            }),
            (None, None) => {
                self.error(
                    m.owner,
                    &m.child_path("namespace"),
                    format!("{what} has no namespace"),
                    Some("add `namespace: <name>` or `namespaces: [<name>, ...]`".into()),
                );
                None
            }
        };
        Some(Target {
            cluster: cluster?,
            namespaces: namespaces?,
        })
    }

    fn cluster(&mut self, v: &Val<'_>, m: &Map<'_>) -> Option<Cluster> {
        if let Some(k) = m.get("kubeconfig") {
            self.error(
                k.key,
                &k.path,
                "`kubeconfig` cannot be used with `cluster`",
                Some("`kubeconfig` goes with `context`; the sandbox needs none".into()),
            );
        }
        let name = self.string(v)?;
        if name == "sandbox" {
            return Some(Cluster::Sandbox);
        }
        self.error(
            v.at(),
            &v.path,
            format!("unknown cluster `{name}`"),
            Some(
                "the only built-in cluster is `sandbox`; use `context` for a kubeconfig context"
                    .into(),
            ),
        );
        None
    }
}

/// `config.<name>` as written: `None` for keys not set.
#[derive(Default)]
struct ConfigPartial {
    env_file: Option<PathBuf>,
    literals: Option<BTreeMap<String, String>>,
    files: Option<Vec<FileSource>>,
}

impl ConfigPartial {
    fn apply(self, mut base: ConfigMapGenerator) -> ConfigMapGenerator {
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
struct SecretPartial {
    env_file: Option<PathBuf>,
    /// The names, and where each is written.
    from_env: Option<(Vec<String>, BTreeMap<String, Position>)>,
    files: Option<Vec<FileSource>>,
    secret_type: Option<String>,
}

impl SecretPartial {
    fn apply(self, mut base: SecretGenerator) -> SecretGenerator {
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

//! `slipway init`: look at a repository (Dockerfiles and their stages, `k8s/` or
//! `deploy/` folders, kustomizations and their overlays) and write a commented
//! `slipway.yaml` that loads as it is. An existing file is never overwritten.
//!
//! What the repository says wins over placeholders:
//! - `app` is the name of the `origin` remote's repository, else the folder's name;
//! - an image whose name is the last path component of an image the manifests run
//!   (workload containers, kustomization `newName`s) is pushed to that repository, so
//!   that deploys pin it; one shared prefix becomes `registry`;
//! - namespaces are the overlays' (else the base's) kustomization `namespace:`;
//! - the `ARG`s the built stage can see are listed, commented, under `args`;
//! - a Job whose name or file mentions a migration is suggested as the hook.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use slipway_config::yaml::{self, Node};
use slipway_render::image_repository;

use crate::cli::InitArgs;
use crate::error::CliError;
use crate::printer::Printer;

/// Folders that never hold a service's sources or manifests worth proposing.
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".slipway",
    "node_modules",
    "target",
    "vendor",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
];

/// Where manifests usually live, in the order they are preferred.
const MANIFEST_DIRS: &[&str] = &[
    "k8s",
    "deploy/k8s",
    "deploy/kubernetes",
    "deploy/manifests",
    "deploy",
    "manifests",
    "kubernetes",
    "kube",
    ".k8s",
];

/// Unreferenced stages that are steps of a build, not images to ship.
const NON_IMAGE_STAGES: &[&str] = &["test", "tests", "lint", "check", "ci", "debug"];

/// `ARG`s that BuildKit sets by itself.
const PREDEFINED_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

const MAX_DEPTH: usize = 4;

pub fn run(args: &InitArgs, file: &Path, printer: &Printer) -> Result<(), CliError> {
    let root = std::env::current_dir()?;
    let findings = scan(&root);
    let text = template(&findings);

    // The file must load as written; anything else is a bug in `init`.
    if let Err(err) = slipway_config::parse(&text, &root.join(file)) {
        return Err(CliError::internal(format!(
            "the generated configuration does not load: {err}"
        ))
        .detail(text));
    }

    if args.print {
        printer.data(&text);
        return Ok(());
    }

    let mut out = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
    {
        Ok(out) => out,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::usage(format!(
                "`{}` already exists; `slipway init` never overwrites a file",
                file.display()
            ))
            .hint("see what would be written with `slipway init --print`"));
        }
        Err(err) => {
            return Err(CliError::internal(format!(
                "cannot create `{}`: {err}",
                file.display()
            )));
        }
    };
    out.write_all(text.as_bytes())?;

    printer.info(&format!("wrote `{}`", file.display()));
    for line in findings.summary() {
        printer.info(&format!("  {line}"));
    }
    printer.info("next: review the file, then `slipway validate dev`");
    Ok(())
}

/// What was found in the repository.
#[derive(Debug, Default, PartialEq)]
pub struct Findings {
    pub app: String,
    /// Whether `app` is the name of the `origin` remote's repository.
    pub app_from_remote: bool,
    /// The registry prefix shared by the manifests' images that match guessed images.
    pub registry: Option<String>,
    pub images: Vec<ImageGuess>,
    pub manifests: Option<ManifestGuess>,
    /// The `namespace:` of the base kustomization.
    pub base_namespace: Option<String>,
    /// From `overlays/<env>/kustomization.yaml`, in promotion order.
    pub overlays: Vec<Overlay>,
    /// A manifest file holding a migration Job.
    pub migration_job: Option<String>,
    /// The directory of a Helm chart (`Chart.yaml`), if there is one.
    pub helm_chart: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct ImageGuess {
    pub name: String,
    pub context: String,
    /// Set when the Dockerfile is not `<context>/Dockerfile`.
    pub dockerfile: Option<String>,
    pub target: Option<String>,
    /// An explicit repository, written when it is not `<registry>/<name>`.
    pub repository: Option<String>,
    /// The manifest image this image's repository was taken from.
    pub source: Option<ManifestImage>,
    /// The `ARG`s the built stage can see.
    pub args: Vec<BuildArg>,
}

#[derive(Debug, PartialEq)]
pub struct ManifestGuess {
    pub path: String,
    pub kustomization: bool,
    /// The folder searched for manifest files (`k8s` for `k8s/base`).
    pub dir: String,
}

#[derive(Debug, PartialEq)]
pub struct Overlay {
    pub env: String,
    pub path: String,
    /// The overlay kustomization's `namespace:`.
    pub namespace: Option<String>,
}

/// A container image written in a manifest file (or a kustomization's `newName`).
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestImage {
    /// As written, such as `myacr.azurecr.io/api:latest`.
    pub image: String,
    /// Without tag or digest, such as `myacr.azurecr.io/api`.
    pub repository: String,
    /// The file it is in, relative to the repository.
    pub file: String,
}

/// A Dockerfile `ARG`.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildArg {
    pub name: String,
    pub default: Option<String>,
}

/// What the manifest files hold.
#[derive(Debug, Default, PartialEq)]
struct ManifestFacts {
    images: Vec<ManifestImage>,
    migration_job: Option<String>,
}

impl Findings {
    fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.app_from_remote {
            lines.push(format!("app `{}` from the `origin` remote", self.app));
        }
        if let Some(registry) = &self.registry {
            lines.push(format!("registry `{registry}` from the manifests' images"));
        }
        for image in &self.images {
            let mut line = format!("image `{}` from `{}`", image.name, image.context);
            if let Some(target) = &image.target {
                let _ = write!(line, " (stage `{target}`)");
            }
            if let Some(source) = &image.source {
                let _ = write!(line, ", run as `{}` in `{}`", source.image, source.file);
            }
            lines.push(line);
        }
        match &self.manifests {
            Some(m) if m.kustomization => lines.push(format!("kustomization in `{}`", m.path)),
            Some(m) => lines.push(format!("manifests in `{}`", m.path)),
            None => lines.push("no manifests found: set `manifests` before deploying".into()),
        }
        if let (None, Some(chart)) = (&self.manifests, &self.helm_chart) {
            lines.push(format!(
                "Helm chart in `{chart}`: render it into plain manifests (see the file)"
            ));
        }
        for overlay in &self.overlays {
            lines.push(format!(
                "environment `{}` with overlay `{}`",
                overlay.env, overlay.path
            ));
        }
        if let Some(job) = &self.migration_job {
            lines.push(format!("migration Job in `{job}` (suggested as a hook)"));
        }
        lines
    }
}

/// Looks at the repository rooted at `root`.
pub fn scan(root: &Path) -> Findings {
    let mut found = Vec::new();
    walk(root, root, 0, &mut found);
    found.sort();
    let (charts, dockerfiles): (Vec<PathBuf>, Vec<PathBuf>) = found
        .into_iter()
        .partition(|p| p.file_name().is_some_and(|n| n == "Chart.yaml"));
    let helm_chart = charts.first().and_then(|c| c.parent()).map(slash_path);

    let remote_name = origin_url(root).as_deref().and_then(repo_name_from_url);
    let app_from_remote = remote_name.is_some();
    let app = remote_name
        .or_else(|| dns_label(root.file_name().and_then(|n| n.to_str()).unwrap_or("app")))
        .unwrap_or_else(|| "app".to_string());

    let mut images = Vec::new();
    for rel in &dockerfiles {
        let Ok(text) = fs::read_to_string(root.join(rel)) else {
            continue;
        };
        images.extend(guess_images(&app, rel, &text));
    }
    dedupe_names(&mut images);

    let (manifests, overlays) = guess_manifests(root);
    let facts = match &manifests {
        Some(m) => read_manifests(root, &m.dir, &m.path),
        None => ManifestFacts::default(),
    };
    let registry = match_repositories(&mut images, &facts.images);
    let base_namespace = manifests
        .as_ref()
        .filter(|m| m.kustomization)
        .and_then(|m| kustomization_namespace(&root.join(&m.path)));
    Findings {
        app,
        app_from_remote,
        registry,
        images,
        manifests,
        base_namespace,
        overlays,
        migration_job: facts.migration_job,
        helm_chart,
    }
}

/// The `url` of the `origin` remote, when `root` is the top of a git repository (a
/// project in a subdirectory of a larger repository is named after its directory).
fn origin_url(root: &Path) -> Option<String> {
    let repo = slipway_build::git::Repository::discover(root).ok()?;
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(repo.top(), root) {
        return None;
    }
    repo.remote_url("origin").ok().flatten()
}

/// The repository's name in a remote URL (`https://host/owner/name.git`,
/// `git@host:owner/name.git`), as a DNS label.
fn repo_name_from_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    let name = url.rsplit(['/', ':']).next()?;
    dns_label(name)
}

/// Collects the Dockerfiles and Helm charts' `Chart.yaml` under `dir`, relative to `root`.
fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if depth < MAX_DEPTH && !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(root, &path, depth + 1, out);
            }
        } else if kind.is_file()
            && (is_dockerfile_name(&name) || name == "Chart.yaml")
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_path_buf());
        }
    }
}

fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || name == "Containerfile"
        || name.starts_with("Dockerfile.")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
}

/// One stage of a Dockerfile.
#[derive(Debug, PartialEq)]
struct Stage {
    name: Option<String>,
    /// Stages this one builds on or copies from.
    uses: Vec<String>,
    /// Its `ARG` instructions.
    args: Vec<BuildArg>,
}

/// Reads the `FROM … AS name` stages of a Dockerfile and what each refers to
/// (`FROM <stage>`, `COPY --from=<stage>`, `RUN --mount=…,from=<stage>`).
fn stages(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        let Some(instruction) = words.next() else {
            continue;
        };
        let words: Vec<&str> = words.collect();
        if instruction.eq_ignore_ascii_case("FROM") {
            let args: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let base = args.first().map(|b| b.to_ascii_lowercase());
            let name = match args.as_slice() {
                [_, as_kw, name, ..] if as_kw.eq_ignore_ascii_case("AS") => {
                    Some(name.to_ascii_lowercase())
                }
                _ => None,
            };
            stages.push(Stage {
                name,
                uses: base.into_iter().collect(),
                args: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            if instruction.eq_ignore_ascii_case("ARG") {
                stage.args.extend(words.iter().map(|w| parse_arg(w)));
                continue;
            }
            for word in &words {
                for part in word.split(',') {
                    if let Some(from) = part
                        .strip_prefix("--from=")
                        .or_else(|| part.strip_prefix("from="))
                    {
                        stage.uses.push(from.to_ascii_lowercase());
                    }
                }
            }
        }
    }
    stages
}

/// Build arguments every stage may use in `FROM`: the `ARG`s before the first `FROM`.
fn global_args(text: &str) -> Vec<BuildArg> {
    let mut args = Vec::new();
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some(i) if i.eq_ignore_ascii_case("FROM") => break,
            Some(i) if i.eq_ignore_ascii_case("ARG") => args.extend(words.map(parse_arg)),
            _ => {}
        }
    }
    args
}

/// `NAME` or `NAME=default` (quotes around the default removed). A quoted default
/// with spaces is not split correctly; such defaults are rare in `ARG`s.
fn parse_arg(word: &str) -> BuildArg {
    match word.split_once('=') {
        Some((name, default)) => BuildArg {
            name: name.to_string(),
            default: Some(default.trim_matches(['"', '\'']).to_string()),
        },
        None => BuildArg {
            name: word.to_string(),
            default: None,
        },
    }
}

/// The `ARG`s that building `target` (the last stage when `None`) can use: those
/// before the first `FROM`, then those of the target stage and of every stage it
/// builds on or copies from, in file order. The platform `ARG`s BuildKit predefines
/// are left out, and a name declared twice is listed once (with the first default).
fn build_args(text: &str, target: Option<&str>) -> Vec<BuildArg> {
    let stages = stages(text);
    let visible = visible_stages(&stages, target);
    let mut out: Vec<BuildArg> = Vec::new();
    let declared = global_args(text).into_iter().chain(
        stages
            .into_iter()
            .enumerate()
            .filter(|(i, _)| visible.contains(i))
            .flat_map(|(_, stage)| stage.args),
    );
    for arg in declared {
        if PREDEFINED_ARGS.contains(&arg.name.as_str()) {
            continue;
        }
        match out.iter_mut().find(|a| a.name == arg.name) {
            Some(seen) if seen.default.is_none() => seen.default = arg.default,
            Some(_) => {}
            None => out.push(arg),
        }
    }
    out
}

/// The indices of `target` and of every stage it depends on.
fn visible_stages(stages: &[Stage], target: Option<&str>) -> BTreeSet<usize> {
    let start = match target {
        Some(t) => stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&*t.to_ascii_lowercase())),
        None => stages.len().checked_sub(1),
    };
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = start.into_iter().collect();
    while let Some(i) = todo.pop() {
        if !seen.insert(i) {
            continue;
        }
        for used in &stages[i].uses {
            // A stage is named, or referred to by its index (`COPY --from=0`).
            let found = stages[..i]
                .iter()
                .position(|s| s.name.as_deref() == Some(used.as_str()))
                .or_else(|| used.parse::<usize>().ok().filter(|n| *n < i));
            todo.extend(found);
        }
    }
    seen
}

/// Joins `\` continuations and drops comments and blank lines.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn guess_images(app: &str, rel: &Path, text: &str) -> Vec<ImageGuess> {
    let stages = stages(text);
    let context_dir = rel.parent().unwrap_or(Path::new(""));
    let context = if context_dir.as_os_str().is_empty() {
        ".".to_string()
    } else {
        slash_path(context_dir)
    };
    let file_name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dockerfile = (file_name != "Dockerfile").then(|| slash_path(rel));

    // The image's base name: the folder, or the suffix of `Dockerfile.<name>`.
    let suffix = file_name
        .strip_prefix("Dockerfile.")
        .or_else(|| file_name.strip_suffix(".Dockerfile"))
        .or_else(|| file_name.strip_suffix(".dockerfile"));
    let base_name = suffix
        .and_then(dns_label)
        .or_else(|| {
            context_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(dns_label)
        })
        .unwrap_or_else(|| app.to_string());

    let used: BTreeSet<&str> = stages
        .iter()
        .flat_map(|s| s.uses.iter().map(String::as_str))
        .collect();
    let last = stages.len().saturating_sub(1);
    let leaves: Vec<(usize, &Stage)> = stages
        .iter()
        .enumerate()
        .filter(|(i, s)| match &s.name {
            Some(name) => {
                !used.contains(name.as_str()) && !NON_IMAGE_STAGES.contains(&name.as_str())
            }
            None => *i == last,
        })
        .collect();

    // One image, built without `--target`, when only the final stage is a leaf.
    if leaves.len() <= 1 && leaves.first().is_none_or(|(i, _)| *i == last) {
        return vec![ImageGuess {
            name: base_name,
            context,
            dockerfile,
            target: None,
            args: build_args(text, None),
            ..ImageGuess::default()
        }];
    }
    leaves
        .into_iter()
        .map(|(i, stage)| {
            let target = stage
                .name
                .clone()
                .filter(|_| i != last || stage.name.is_some());
            ImageGuess {
                name: target
                    .as_deref()
                    .and_then(dns_label)
                    .unwrap_or_else(|| base_name.clone()),
                context: context.clone(),
                dockerfile: dockerfile.clone(),
                args: build_args(text, target.as_deref()),
                target,
                ..ImageGuess::default()
            }
        })
        .collect()
}

/// Two Dockerfiles may propose the same name; later ones get their folder as prefix,
/// then a number.
fn dedupe_names(images: &mut [ImageGuess]) {
    let mut seen = BTreeSet::new();
    for image in images.iter_mut() {
        if seen.insert(image.name.clone()) {
            continue;
        }
        let folder = Path::new(&image.context)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(dns_label);
        let mut candidate = match folder {
            Some(folder) if folder != image.name => format!("{folder}-{}", image.name),
            _ => image.name.clone(),
        };
        let mut n = 2;
        while seen.contains(&candidate) {
            candidate = format!("{}-{n}", image.name);
            n += 1;
        }
        seen.insert(candidate.clone());
        image.name = candidate;
    }
}

fn guess_manifests(root: &Path) -> (Option<ManifestGuess>, Vec<Overlay>) {
    for dir in MANIFEST_DIRS {
        let path = root.join(dir);
        if !path.is_dir() {
            continue;
        }
        // base/ + overlays/<env>/ is the usual kustomize layout.
        if has_kustomization(&path.join("base")) {
            let overlays = overlays(root, &path.join("overlays"));
            return (
                Some(ManifestGuess {
                    path: format!("{dir}/base"),
                    kustomization: true,
                    dir: (*dir).to_string(),
                }),
                overlays,
            );
        }
        if has_kustomization(&path) {
            return (
                Some(ManifestGuess {
                    path: (*dir).to_string(),
                    kustomization: true,
                    dir: (*dir).to_string(),
                }),
                Vec::new(),
            );
        }
        if contains_yaml(&path, 0) {
            return (
                Some(ManifestGuess {
                    path: (*dir).to_string(),
                    kustomization: false,
                    dir: (*dir).to_string(),
                }),
                Vec::new(),
            );
        }
    }
    (None, Vec::new())
}

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

fn has_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file())
}

/// The `namespace:` of the kustomization in `dir`, when it is a DNS label.
fn kustomization_namespace(dir: &Path) -> Option<String> {
    let file = KUSTOMIZATION_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())?;
    let docs = yaml::parse_documents(&fs::read_to_string(file).ok()?).ok()?;
    let namespace = docs.first()?.get("namespace")?.as_str()?;
    (dns_label(namespace).as_deref() == Some(namespace)).then(|| namespace.to_string())
}

fn overlays(root: &Path, dir: &Path) -> Vec<Overlay> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Overlay> = entries
        .flatten()
        .filter(|e| has_kustomization(&e.path()))
        .filter_map(|e| {
            Some(Overlay {
                env: dns_label(e.file_name().to_str()?)?,
                path: e.path().strip_prefix(root).ok().map(slash_path)?,
                namespace: kustomization_namespace(&e.path()),
            })
        })
        .collect();
    found.sort_by_key(|o| (env_rank(&o.env), o.env.clone()));
    found
}

/// Reads every YAML file under `dir` (those under `preferred` first): the images of
/// their workloads, the `newName`s of their kustomizations' `images`, and a Job that
/// looks like a migration. Files that are not YAML (templates) are skipped.
fn read_manifests(root: &Path, dir: &str, preferred: &str) -> ManifestFacts {
    let mut files = Vec::new();
    yaml_files(&root.join(dir), 0, &mut files);
    let preferred = root.join(preferred);
    files.sort_by_key(|f| (!f.starts_with(&preferred), f.clone()));

    let mut facts = ManifestFacts::default();
    for file in files {
        let Ok(docs) = fs::read_to_string(&file).map(|t| yaml::parse_documents(&t)) else {
            continue;
        };
        let Ok(docs) = docs else { continue };
        let rel = file.strip_prefix(root).map(slash_path).unwrap_or_default();
        for doc in &docs {
            let images = workload_images(doc)
                .into_iter()
                .chain(kustomization_new_names(doc));
            for image in images {
                if let Some(repository) = usable_repository(&image) {
                    facts.images.push(ManifestImage {
                        image,
                        repository,
                        file: rel.clone(),
                    });
                }
            }
            if facts.migration_job.is_none() && is_migration_job(doc, &rel) {
                facts.migration_job = Some(rel.clone());
            }
        }
    }
    facts
}

fn yaml_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < MAX_DEPTH {
                yaml_files(&path, depth + 1, out);
            }
        } else if matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// Where the pod spec of a workload kind is.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => Some(&["spec", "template", "spec"]),
        _ => None,
    }
}

/// The images of a workload's containers and init containers.
fn workload_images(doc: &Node) -> Vec<String> {
    let Some(path) = doc
        .get("kind")
        .and_then(Node::as_str)
        .and_then(pod_spec_path)
    else {
        return Vec::new();
    };
    let Some(spec) = path.iter().try_fold(doc, |node, key| node.get(key)) else {
        return Vec::new();
    };
    ["initContainers", "containers"]
        .iter()
        .filter_map(|list| spec.get(list)?.items())
        .flatten()
        .filter_map(|c| Some(c.get("image")?.as_str()?.to_string()))
        .collect()
}

/// The `newName`s of a kustomization's `images`.
fn kustomization_new_names(doc: &Node) -> Vec<String> {
    let Some(images) = doc.get("images").and_then(Node::items) else {
        return Vec::new();
    };
    if doc
        .get("kind")
        .is_some_and(|k| k.as_str() != Some("Kustomization"))
    {
        return Vec::new();
    }
    images
        .iter()
        .filter_map(|i| Some(i.get("newName")?.as_str()?.to_string()))
        .collect()
}

/// A Job whose name or file name says it migrates.
fn is_migration_job(doc: &Node, file: &str) -> bool {
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or_default();
    let file_name = file.rsplit('/').next().unwrap_or(file);
    doc.get("kind").and_then(Node::as_str) == Some("Job")
        && (name.contains("migrat") || file_name.to_ascii_lowercase().contains("migrat"))
}

/// The repository of an image that names its registry host and that `slipway.yaml`
/// accepts (`myacr.azurecr.io/api:latest` → `myacr.azurecr.io/api`); `None` for
/// Docker Hub shorthands such as `nginx` or `acme/api`.
fn usable_repository(image: &str) -> Option<String> {
    let repository = image_repository(image);
    let (host, path) = repository.split_once('/')?;
    let (name, port) = host.split_once(':').unwrap_or((host, "0"));
    let host_ok = (host.contains(['.', ':']) || host == "localhost")
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit());
    let path_ok = !path.is_empty()
        && path.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'/')
        });
    (host_ok && path_ok).then(|| repository.to_string())
}

/// Gives each image the first manifest image whose last path component is its name.
/// Returns the registry when every matched repository has the same prefix (then
/// their repositories are `<registry>/<name>` and need not be written); otherwise
/// each matched image gets its repository written out.
fn match_repositories(images: &mut [ImageGuess], found: &[ManifestImage]) -> Option<String> {
    for image in images.iter_mut() {
        image.source = found
            .iter()
            .find(|m| m.repository.rsplit('/').next() == Some(image.name.as_str()))
            .cloned();
    }
    let prefixes: BTreeSet<&str> = images
        .iter()
        .filter_map(|i| Some(i.source.as_ref()?.repository.rsplit_once('/')?.0))
        .collect();
    if prefixes.len() == 1 {
        return prefixes.first().map(|p| (*p).to_string());
    }
    for image in images.iter_mut() {
        image.repository = image.source.as_ref().map(|m| m.repository.clone());
    }
    None
}

/// Orders environments the way they are promoted.
fn env_rank(env: &str) -> u8 {
    match env {
        "dev" | "development" | "local" => 0,
        "test" | "qa" => 1,
        "uat" => 2,
        "staging" | "stage" | "preprod" => 3,
        "prod" | "production" => 4,
        _ => 5,
    }
}

fn contains_yaml(dir: &Path, depth: usize) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            depth < MAX_DEPTH && contains_yaml(&path, depth + 1)
        } else {
            matches!(
                path.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml")
            )
        }
    })
}

/// Turns a folder or stage name into a DNS label (`My_App` → `my-app`), or `None`
/// when nothing usable is left.
pub fn dns_label(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    out.truncate(63);
    let out = out.trim_end_matches('-').to_string();
    (!out.is_empty() && out.starts_with(|c: char| c.is_ascii_alphanumeric())).then_some(out)
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Quotes a YAML scalar when a plain one would be read as something else.
fn scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !value.starts_with('-')
        && value.parse::<f64>().is_err()
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | ".inf" | ".nan"
        );
    if plain {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

/// The commented `slipway.yaml` for what was found.
pub fn template(f: &Findings) -> String {
    let mut s = String::new();
    let app = &f.app;
    let _ = writeln!(
        s,
        "# slipway.yaml — written by `slipway init`; every key is described in docs/config.md.\n\
         # Check it with `slipway validate dev`, ship with `slipway deploy dev`.\n"
    );
    if f.app_from_remote {
        let _ = writeln!(s, "# The name of the `origin` remote's repository.");
    }
    let _ = writeln!(s, "app: {}\n", scalar(app));
    match &f.registry {
        Some(registry) => {
            let _ = writeln!(
                s,
                "# Where images are pushed: the registry of the manifests' images that\n\
                 # match images below, so that deploys pin them.\n\
                 registry: {}\n",
                scalar(registry)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "# Where images are pushed: change this to your registry (for example\n\
                 # `myacr.azurecr.io` or `gitea.example.com/admin`).\n\
                 registry: {}\n",
                scalar(&format!("registry.example.com/{app}"))
            );
        }
    }
    let _ = writeln!(
        s,
        "# Every build gets a unique, sortable tag: UTC time and commit.\n\
         tag: \"{{timestamp}}-{{git.short_sha}}\"\n"
    );

    if f.images.is_empty() {
        let _ = writeln!(
            s,
            "# No Dockerfile was found. Describe your images here, for example:\n\
             # images:\n\
             #   api:\n\
             #     context: .\n\
             #     target: api\n\
             #     platform: linux/amd64\n\
             images: {{}}\n"
        );
    } else {
        let _ = writeln!(s, "images:");
        for image in &f.images {
            let _ = writeln!(s, "  {}:", image.name);
            if let Some(source) = &image.source {
                let _ = writeln!(
                    s,
                    "    # the manifests run it as `{}` ({})",
                    source.image, source.file
                );
            }
            if let Some(repository) = &image.repository {
                let _ = writeln!(s, "    repository: {}", scalar(repository));
            }
            let _ = writeln!(s, "    context: {}", scalar(&image.context));
            if let Some(dockerfile) = &image.dockerfile {
                let _ = writeln!(s, "    dockerfile: {}", scalar(dockerfile));
            }
            if let Some(target) = &image.target {
                let _ = writeln!(s, "    target: {}", scalar(target));
            }
            let _ = writeln!(s, "    platform: linux/amd64   # what your nodes run");
            write_args(&mut s, &image.args);
        }
        s.push('\n');
    }

    match &f.manifests {
        Some(m) => {
            let what = if m.kustomization {
                "a kustomization"
            } else {
                "plain YAML"
            };
            let _ = writeln!(s, "# The manifests to deploy ({what}).");
            let _ = writeln!(s, "manifests: {}\n", scalar(&m.path));
        }
        None => {
            let _ = writeln!(
                s,
                "# No k8s/ or deploy/ folder was found: point this at your manifests."
            );
            if let Some(chart) = &f.helm_chart {
                let _ = writeln!(
                    s,
                    "# slipway deploys plain manifests or a kustomization, not a Helm chart: render\n\
                     # `{chart}` once with your values, keep the result in git, and name it here:\n\
                     #   helm template {app} {chart} -f values.yaml > k8s/{app}.yaml"
                );
            }
            let _ = writeln!(s, "# manifests: k8s\n");
        }
    }

    let job = f.migration_job.as_deref().unwrap_or("k8s/migrate-job.yaml");
    let _ = writeln!(
        s,
        "# Jobs that must finish before any workload rolls, such as migrations:\n\
         # hooks:\n\
         #   migrate:\n\
         #     job: {}\n",
        scalar(job)
    );

    let _ = writeln!(s, "environments:");
    let dev = f.overlays.iter().find(|o| o.env == "dev");
    let _ = writeln!(
        s,
        "  # The built-in sandbox cluster: runs with nothing installed.\n  dev:\n    cluster: sandbox\n    namespace: {}",
        scalar(&namespace(f, dev, "dev"))
    );
    if let Some(dev) = dev {
        let _ = writeln!(s, "    overlay: {}", scalar(&dev.path));
    }
    let mut previous = "dev".to_string();
    for overlay in &f.overlays {
        let env = &overlay.env;
        if env == "dev" {
            continue;
        }
        let production = matches!(env.as_str(), "prod" | "production");
        let _ = writeln!(s, "  {env}:");
        let _ = writeln!(
            s,
            "    context: set-me          # the kubeconfig context of this environment's cluster"
        );
        let _ = writeln!(
            s,
            "    namespace: {}",
            scalar(&namespace(f, Some(overlay), env))
        );
        let _ = writeln!(s, "    overlay: {}", scalar(&overlay.path));
        let _ = writeln!(s, "    promote-from: {previous}");
        if production {
            let _ = writeln!(s, "    require-approval: true");
            let _ = writeln!(s, "    dirty: refuse");
        }
        previous = env.clone();
    }
    s
}

/// An environment's namespace: its overlay's, else the base kustomization's, else
/// `<app>-<env>`.
fn namespace(f: &Findings, overlay: Option<&Overlay>, env: &str) -> String {
    overlay
        .and_then(|o| o.namespace.clone())
        .or_else(|| f.base_namespace.clone())
        .unwrap_or_else(|| format!("{}-{env}", f.app))
}

/// The Dockerfile's `ARG`s as a commented `args:` to fill in, or a placeholder.
fn write_args(s: &mut String, args: &[BuildArg]) {
    if args.is_empty() {
        let _ = writeln!(s, "    # args: {{ KEY: value }}   # build arguments");
        return;
    }
    let _ = writeln!(
        s,
        "    # args:   # the Dockerfile's ARGs; uncomment those to set"
    );
    for arg in args {
        match &arg.default {
            Some(default) => {
                let _ = writeln!(
                    s,
                    "    #   {}: {}   # the Dockerfile's default",
                    arg.name,
                    scalar(default)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "    #   {}: \"\"   # declared without a default",
                    arg.name
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage_names(text: &str) -> Vec<Option<String>> {
        stages(text).into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn stages_are_read_with_continuations_comments_and_platform_flags() {
        let text = "# syntax=docker/dockerfile:1\n\
                    FROM --platform=$BUILDPLATFORM golang:1.24 AS build\n\
                    RUN go build \\\n  ./...\n\
                    from alpine as API\n\
                    COPY --from=build /out/api /api\n\
                    FROM alpine\n";
        assert_eq!(
            stage_names(text),
            vec![Some("build".into()), Some("api".into()), None]
        );
        assert_eq!(stages(text)[1].uses, vec!["alpine", "build"]);
    }

    #[test]
    fn multi_target_dockerfile_proposes_one_image_per_leaf_stage() {
        let text = "FROM golang AS build\nRUN make\n\
                    FROM alpine AS api\nCOPY --from=build /a /a\n\
                    FROM alpine AS worker\nCOPY --from=build /w /w\n\
                    FROM build AS test\nRUN make test\n\
                    FROM node AS admin\n";
        let images = guess_images("honeydue", Path::new("Dockerfile"), text);
        let names: Vec<_> = images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["api", "worker", "admin"]);
        assert!(images.iter().all(|i| i.context == "."));
        assert_eq!(images[1].target.as_deref(), Some("worker"));
    }

    #[test]
    fn single_stage_dockerfile_in_a_folder_is_named_after_the_folder() {
        let images = guess_images(
            "shop",
            Path::new("frontend/Dockerfile"),
            "FROM node AS deps\nRUN npm ci\nFROM node\nCOPY --from=deps /n /n\n",
        );
        assert_eq!(
            images,
            vec![ImageGuess {
                name: "frontend".into(),
                context: "frontend".into(),
                dockerfile: None,
                target: None,
                ..ImageGuess::default()
            }]
        );
    }

    #[test]
    fn suffixed_dockerfile_names_the_image_and_is_kept_as_dockerfile() {
        let images = guess_images("shop", Path::new("Dockerfile.worker"), "FROM alpine\n");
        assert_eq!(images[0].name, "worker");
        assert_eq!(images[0].dockerfile.as_deref(), Some("Dockerfile.worker"));
    }

    #[test]
    fn duplicate_names_get_their_folder_as_prefix() {
        let mut images = vec![
            ImageGuess {
                name: "api".into(),
                context: "a".into(),
                dockerfile: None,
                target: None,
                ..ImageGuess::default()
            },
            ImageGuess {
                name: "api".into(),
                context: "services/b".into(),
                dockerfile: None,
                target: None,
                ..ImageGuess::default()
            },
        ];
        dedupe_names(&mut images);
        assert_eq!(images[0].name, "api");
        assert_eq!(images[1].name, "b-api");
    }

    #[test]
    fn dns_label_lowercases_and_collapses_separators() {
        assert_eq!(dns_label("My_App  v2").as_deref(), Some("my-app-v2"));
        assert_eq!(dns_label("__").as_deref(), None);
        assert_eq!(dns_label(&"a".repeat(80)).map(|s| s.len()), Some(63));
    }

    #[test]
    fn scalars_that_yaml_would_misread_are_quoted() {
        assert_eq!(scalar("deploy/k8s"), "deploy/k8s");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("1.20"), "\"1.20\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(scalar("."), ".");
        assert_eq!(scalar(".NaN"), "\".NaN\"");
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    const API_DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n\
        spec:\n  template:\n    spec:\n      containers:\n        - name: api\n          \
        image: myacr.azurecr.io/api:latest\n";

    #[test]
    fn app_is_the_origin_remotes_repository_name() {
        for (url, name) in [
            ("https://github.com/acme/shop.git", "shop"),
            ("https://github.com/acme/shop/", "shop"),
            ("git@github.com:acme/My_Shop.git", "my-shop"),
            ("ssh://git@host:2222/acme/shop", "shop"),
            ("git@host:shop.git", "shop"),
        ] {
            assert_eq!(repo_name_from_url(url).as_deref(), Some(name), "{url}");
        }
        let dir = tree(&[("Dockerfile", "FROM scratch\n")]);
        git(dir.path(), &["init", "-q"]);
        git(
            dir.path(),
            &["remote", "add", "upstream", "https://x/a/other"],
        );
        git(
            dir.path(),
            &[
                "remote",
                "add",
                "origin",
                "https://github.com/acme/shop.git",
            ],
        );
        let findings = scan(dir.path());
        assert_eq!(findings.app, "shop");
        assert!(findings.app_from_remote);
        assert!(template(&findings).contains("app: shop\n"));
        // A project in a subdirectory of the repository is named after its directory.
        fs::create_dir(dir.path().join("web")).unwrap();
        assert_eq!(scan(&dir.path().join("web")).app, "web");
    }

    #[test]
    fn app_without_an_origin_remote_is_the_directory_name() {
        let dir = tree(&[]);
        let root = dir.path().join("s");
        fs::create_dir(&root).unwrap();
        git(&root, &["init", "-q"]);
        git(&root, &["remote", "add", "upstream", "https://x/a/other"]);
        let findings = scan(&root);
        assert_eq!(findings.app, "s");
        assert!(!findings.app_from_remote);
    }

    #[test]
    fn app_of_a_worktree_is_asked_of_git() {
        let dir = tree(&[]);
        let root = dir.path().join("src");
        fs::create_dir_all(&root).unwrap();
        git(&root, &["init", "-q"]);
        git(
            &root,
            &["remote", "add", "origin", "git@github.com:acme/shop.git"],
        );
        // A `.git` file pointing at the repository, as in a worktree.
        fs::rename(root.join(".git"), dir.path().join("repo.git")).unwrap();
        fs::write(
            root.join(".git"),
            format!("gitdir: {}\n", dir.path().join("repo.git").display()),
        )
        .unwrap();
        assert_eq!(scan(&root).app, "shop");
    }

    #[test]
    fn a_helm_chart_without_manifests_gets_a_note_on_rendering_it() {
        let dir = tree(&[
            ("charts/myapp/Chart.yaml", "apiVersion: v2\nname: myapp\n"),
            (
                "charts/myapp/templates/deployment.yaml",
                "{{ .Values.x }}\n",
            ),
            ("Dockerfile", "FROM scratch\n"),
        ]);
        let findings = scan(dir.path());
        assert_eq!(findings.helm_chart.as_deref(), Some("charts/myapp"));
        assert_eq!(findings.images.len(), 1, "{:?}", findings.images);
        let text = template(&findings);
        let app = &findings.app;
        assert!(
            text.contains(&format!(
                "#   helm template {app} charts/myapp -f values.yaml > k8s/{app}.yaml\n"
            )),
            "{text}"
        );
        slipway_config::parse(&text, &dir.path().join("slipway.yaml")).unwrap();
        assert!(
            findings
                .summary()
                .iter()
                .any(|l| l.contains("Helm chart in `charts/myapp`")),
            "{:?}",
            findings.summary()
        );
    }

    /// Runs git in `dir`; it must succeed.
    fn git(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn matched_images_share_the_manifests_registry() {
        let dir = tree(&[
            (
                "backend/Dockerfile",
                "FROM golang AS build\nFROM alpine AS api\nCOPY --from=build /a /a\nFROM alpine AS worker\nCOPY --from=build /w /w\n",
            ),
            (
                "k8s/base/kustomization.yaml",
                "resources: [deployment.yaml]\n",
            ),
            ("k8s/base/deployment.yaml", API_DEPLOYMENT),
            // An overlay renames nothing the base already matched.
            (
                "k8s/overlays/prod/kustomization.yaml",
                "resources: [../../base]\nimages:\n  - name: myacr.azurecr.io/api\n    newName: prodacr.azurecr.io/api\n  - name: worker\n    newName: myacr.azurecr.io/team/worker\n    newTag: v1\n",
            ),
        ]);
        let findings = scan(dir.path());
        assert_eq!(
            findings.registry, None,
            "two prefixes: myacr.azurecr.io and myacr.azurecr.io/team"
        );
        let api = &findings.images[0];
        assert_eq!(api.repository.as_deref(), Some("myacr.azurecr.io/api"));
        assert_eq!(
            api.source.as_ref().map(|s| s.file.as_str()),
            Some("k8s/base/deployment.yaml")
        );
        let worker = &findings.images[1];
        assert_eq!(
            worker.repository.as_deref(),
            Some("myacr.azurecr.io/team/worker")
        );
        let text = template(&findings);
        assert!(text.contains("registry: registry.example.com/"), "{text}");
        assert!(text.contains("  api:\n    # the manifests run it as `myacr.azurecr.io/api:latest` (k8s/base/deployment.yaml)\n    repository: myacr.azurecr.io/api\n"), "{text}");
        slipway_config::parse(&text, &dir.path().join("slipway.yaml")).unwrap();
    }

    #[test]
    fn one_shared_prefix_becomes_the_registry_and_repositories_are_left_out() {
        let dir = tree(&[
            ("api/Dockerfile", "FROM alpine\n"),
            ("web/Dockerfile", "FROM nginx\n"),
            ("tools/Dockerfile", "FROM alpine\n"),
            (
                "k8s/all.yaml",
                "apiVersion: v1\nkind: Service\nmetadata: {name: api}\n---\n\
              apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: web}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers:\n            - {name: web, image: \"ghcr.io/acme/web@sha256:abc\"}\n          containers: [{name: x, image: nginx}]\n",
            ),
            (
                "k8s/api.yaml",
                &API_DEPLOYMENT.replace("myacr.azurecr.io", "ghcr.io/acme"),
            ),
            ("k8s/broken.yaml", "{{ .Values.image }}: [\n"),
        ]);
        let findings = scan(dir.path());
        assert_eq!(findings.registry.as_deref(), Some("ghcr.io/acme"));
        let repositories: Vec<_> = findings
            .images
            .iter()
            .map(|i| (i.name.as_str(), i.repository.is_some(), i.source.is_some()))
            .collect();
        assert_eq!(
            repositories,
            [
                ("api", false, true),
                ("tools", false, false),
                ("web", false, true)
            ]
        );
        let text = template(&findings);
        assert!(text.contains("registry: ghcr.io/acme\n"), "{text}");
        let config = slipway_config::parse(&text, &dir.path().join("slipway.yaml")).unwrap();
        let repos: Vec<_> = config
            .images
            .iter()
            .map(|i| i.repository.as_str())
            .collect();
        assert!(
            repos.contains(&"ghcr.io/acme/web") && repos.contains(&"ghcr.io/acme/api"),
            "{repos:?}"
        );
    }

    #[test]
    fn manifest_images_without_a_registry_host_are_not_used() {
        assert_eq!(usable_repository("nginx:1.27"), None);
        assert_eq!(usable_repository("acme/api"), None);
        assert_eq!(usable_repository("Acme.io/API"), None);
        assert_eq!(
            usable_repository("localhost:5000/api:dev").as_deref(),
            Some("localhost:5000/api")
        );
        assert_eq!(usable_repository("reg.io:port/api"), None);
    }

    #[test]
    fn namespaces_come_from_overlays_then_the_base() {
        let dir = tree(&[
            (
                "k8s/base/kustomization.yaml",
                "namespace: shop\nresources: []\n",
            ),
            (
                "k8s/overlays/dev/kustomization.yaml",
                "resources: [../../base]\n",
            ),
            (
                "k8s/overlays/prod/kustomization.yaml",
                "resources: [../../base]\nnamespace: shop-prod\n",
            ),
            (
                "k8s/overlays/uat/kustomization.yaml",
                "resources: [../../base]\nnamespace: Not_A_Label\n",
            ),
        ]);
        let findings = scan(dir.path());
        assert_eq!(findings.base_namespace.as_deref(), Some("shop"));
        let text = template(&findings);
        for expected in [
            "  dev:\n    cluster: sandbox\n    namespace: shop\n",
            "  uat:\n    context: set-me          # the kubeconfig context of this environment's cluster\n    namespace: shop\n",
            "    namespace: shop-prod\n    overlay: k8s/overlays/prod\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn namespaces_without_kustomization_namespaces_are_app_and_environment() {
        let dir = tree(&[
            ("k8s/base/kustomization.yaml", "resources: []\n"),
            (
                "k8s/overlays/prod/kustomization.yaml",
                "resources: [../../base]\n",
            ),
        ]);
        let mut findings = scan(dir.path());
        findings.app = "shop".into();
        let text = template(&findings);
        assert!(text.contains("    namespace: shop-dev\n"), "{text}");
        assert!(text.contains("    namespace: shop-prod\n"), "{text}");
    }

    #[test]
    fn build_args_are_those_the_target_can_see() {
        let text = "ARG BASE=node:22\nARG BUILDPLATFORM\n\
                    FROM $BASE AS deps\nARG NPM_TOKEN\nARG TARGETARCH\n\
                    FROM $BASE AS builder\nARG NEXT_PUBLIC_API_URL\nARG NODE_ENV=\"production\" \\\n    CI=1\n\
                    COPY --from=deps /n /n\n\
                    FROM builder AS runner\nARG BASE\n\
                    FROM alpine AS tools\nARG TOOLS_ONLY\n";
        let names = |target| -> Vec<(String, Option<String>)> {
            build_args(text, target)
                .into_iter()
                .map(|a| (a.name, a.default))
                .collect()
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            names(Some("runner")),
            [
                ("BASE".to_string(), some("node:22")),
                ("NPM_TOKEN".to_string(), None),
                ("NEXT_PUBLIC_API_URL".to_string(), None),
                ("NODE_ENV".to_string(), some("production")),
                ("CI".to_string(), some("1")),
            ]
        );
        assert_eq!(
            names(None),
            [
                ("BASE".to_string(), some("node:22")),
                ("TOOLS_ONLY".to_string(), None)
            ]
        );
        // `COPY --from=0` refers to a stage by its index.
        let indexed = "FROM a\nARG FIRST\nFROM b\nCOPY --from=0 /x /x\n";
        assert_eq!(build_args(indexed, None)[0].name, "FIRST");
    }

    #[test]
    fn build_args_are_written_commented_with_their_defaults() {
        let dir = tree(&[(
            "frontend/Dockerfile",
            "FROM node AS builder\nARG NEXT_PUBLIC_API_URL\nARG NODE_ENV=production\nARG PORT=3000\n",
        )]);
        let findings = scan(dir.path());
        let text = template(&findings);
        assert!(
            text.contains(
                "    # args:   # the Dockerfile's ARGs; uncomment those to set\n\
                 \x20   #   NEXT_PUBLIC_API_URL: \"\"   # declared without a default\n\
                 \x20   #   NODE_ENV: production   # the Dockerfile's default\n\
                 \x20   #   PORT: \"3000\"   # the Dockerfile's default\n"
            ),
            "{text}"
        );
        // Uncommented, the lines load.
        let uncommented = text
            .replace("    # args:", "    args:")
            .replace("    #   ", "      ");
        slipway_config::parse(&uncommented, &dir.path().join("slipway.yaml")).unwrap();
    }

    #[test]
    fn a_migration_job_is_suggested_as_the_hook() {
        let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: db-migrate}\nspec:\n  template:\n    spec:\n      containers: [{name: m, image: myacr.azurecr.io/api:1}]\n";
        let dir = tree(&[
            ("deploy/k8s/app.yaml", API_DEPLOYMENT),
            ("deploy/k8s/jobs/schema.yaml", job),
        ]);
        let findings = scan(dir.path());
        assert_eq!(
            findings.migration_job.as_deref(),
            Some("deploy/k8s/jobs/schema.yaml")
        );
        assert!(template(&findings).contains("#     job: deploy/k8s/jobs/schema.yaml\n"));

        // A Job named otherwise counts when its file says it migrates.
        let other = job.replace("db-migrate", "setup");
        let dir = tree(&[("k8s/migrations.yml", other.as_str())]);
        assert_eq!(
            scan(dir.path()).migration_job.as_deref(),
            Some("k8s/migrations.yml")
        );

        let dir = tree(&[("k8s/setup.yaml", other.as_str())]);
        let findings = scan(dir.path());
        assert_eq!(findings.migration_job, None);
        assert!(template(&findings).contains("#     job: k8s/migrate-job.yaml\n"));
    }
}

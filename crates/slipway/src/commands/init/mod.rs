//! `slipway init`: look at a repository (`skaffold.yaml`, Dockerfiles and their stages,
//! folders of manifests, kustomizations and their overlays) and write a commented
//! `slipway.yaml` that loads, validates and deploys `dev` to the sandbox as it is. An
//! existing file is never overwritten.
//!
//! What the repository says wins over placeholders:
//! - `app` is the name of the `origin` remote's repository, else the folder's name;
//! - the images are `skaffold.yaml`'s artifacts ([`skaffold`]), else those the
//!   Dockerfiles propose ([`dockerfile`]);
//! - the manifests are those `skaffold.yaml` deploys, else the first folder found
//!   ([`manifests`]); the others are named in comments;
//! - an image whose name is the last path component of an image the manifests run
//!   (workload containers, kustomization `newName`s) is pushed to that repository, so
//!   that deploys pin it; one shared prefix becomes `registry`. Without one, `registry`
//!   is the sandbox's, on loopback;
//! - namespaces are the overlays' (else the base's) kustomization `namespace:`;
//! - the `ARG`s the built stage can see are listed, commented, under `args`;
//! - a Job whose name or file mentions a migration is suggested as the hook.
//!
//! [`template()`] writes the file from these [`Findings`].

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::error::CliError;
use crate::printer::Printer;

mod dockerfile;
mod manifests;
mod skaffold;
mod template;

use dockerfile::{build_args, dedupe_names, guess_images, is_dockerfile_name, variant_of};
use manifests::{
    ManifestFacts, external_images, guess_manifests, kustomization_namespace, match_repositories,
    read_manifests,
};
use skaffold::{Artifact, ArtifactBuild};
pub use slipway_build::dockerfile::BuildArg;
pub use template::template;

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

    for warning in &findings.warnings {
        printer.info(&format!("warning: {warning}"));
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
    /// Whether the chart's `values.yaml` has `image.repository` and `image.tag`.
    pub helm_image_values: bool,
    /// Where images are pushed when the manifests name no registry: a loopback address
    /// the sandbox's registry listens on, such as `127.0.0.1:5412/shop`.
    pub sandbox_registry: String,
    /// Whether the images are the artifacts of `skaffold.yaml`.
    pub from_skaffold: bool,
    /// Dockerfiles and artifacts not proposed as images, and why.
    pub skipped: Vec<Skipped>,
    /// Other folders of manifests that could be deployed instead.
    pub other_manifests: Vec<ManifestGuess>,
    /// The folders of manifests `skaffold.yaml` deploys.
    pub skaffold_manifests: Vec<String>,
    /// Images the manifests run that are not built here.
    pub external_images: Vec<ManifestImage>,
    /// The Dockerfile builders found here.
    pub builders: Builders,
    /// What could not be read, such as a `skaffold.yaml` that is not YAML.
    pub warnings: Vec<String>,
}

/// A Dockerfile or skaffold artifact that is not proposed as an image.
#[derive(Debug, PartialEq)]
pub struct Skipped {
    /// The Dockerfile, or the artifact's image.
    pub what: String,
    pub reason: String,
}

/// The programs that build Dockerfiles, as `builder: auto` looks for them.
#[derive(Debug, Default, PartialEq)]
pub struct Builders {
    /// Those of `buildah`, `podman` and `docker` on `PATH`, in that order.
    pub found: Vec<&'static str>,
    /// Whether a Docker engine may answer (`DOCKER_HOST` is set, or its socket exists).
    pub docker_engine: bool,
}

impl Builders {
    fn detect() -> Builders {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let on_path =
            |program: &str| std::env::split_paths(&path).any(|d| d.join(program).is_file());
        Builders {
            found: ["buildah", "podman", "docker"]
                .into_iter()
                .filter(|p| on_path(p))
                .collect(),
            docker_engine: std::env::var_os("DOCKER_HOST").is_some()
                || Path::new("/var/run/docker.sock").exists(),
        }
    }

    /// The builder `builder: auto` would use for a Dockerfile, if any can run.
    pub fn usable(&self) -> Option<&'static str> {
        self.found
            .iter()
            .copied()
            .find(|b| *b != "docker" || self.docker_engine)
    }
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
    /// Build arguments the repository sets (skaffold's `buildArgs`), in order.
    pub set_args: Vec<(String, String)>,
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
    /// Without tag or digest, such as `myacr.azurecr.io/api` or `frontend`.
    pub repository: String,
    /// Whether it names a registry host (`myacr.azurecr.io/api`, not `frontend` or
    /// `acme/api`) and is a repository `slipway.yaml` accepts.
    pub has_registry: bool,
    /// Whether a workload runs it (rather than a kustomization renaming it).
    pub run: bool,
    /// The file it is in, relative to the repository.
    pub file: String,
}

impl Findings {
    fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.app_from_remote {
            lines.push(format!("app `{}` from the `origin` remote", self.app));
        }
        match &self.registry {
            Some(registry) => {
                lines.push(format!("registry `{registry}` from the manifests' images"));
            }
            None => lines.push(format!(
                "registry `{}`: the sandbox's, on loopback (the file says what to set for a real cluster)",
                self.sandbox_registry
            )),
        }
        let from = if self.from_skaffold {
            " (skaffold.yaml)"
        } else {
            ""
        };
        for image in &self.images {
            let mut line = format!("image `{}` from `{}`{from}", image.name, image.context);
            if let Some(target) = &image.target {
                let _ = write!(line, " (stage `{target}`)");
            }
            if let Some(source) = &image.source {
                let _ = write!(line, ", run as `{}` in `{}`", source.image, source.file);
            }
            lines.push(line);
        }
        for skipped in &self.skipped {
            lines.push(format!("left out `{}`: {}", skipped.what, skipped.reason));
        }
        if !self.images.is_empty() && self.builders.usable().is_none() {
            lines.push(
                "no Dockerfile builder can run here (buildah, podman, docker with an engine): \
                 install buildah to build the images"
                    .into(),
            );
        }
        match &self.manifests {
            Some(m) if m.kustomization => lines.push(format!("kustomization in `{}`", m.path)),
            Some(m) => lines.push(format!("manifests in `{}`", m.path)),
            None => lines.push("no manifests found: set `manifests` before deploying".into()),
        }
        for other in &self.other_manifests {
            lines.push(format!(
                "also manifests in `{}` (named in a comment)",
                other.path
            ));
        }
        for image in &self.external_images {
            lines.push(format!(
                "`{}` ({}) is not built here: pulled as written",
                image.image, image.file
            ));
        }
        if let (None, Some(chart)) = (&self.manifests, &self.helm_chart) {
            lines.push(format!(
                "Helm chart in `{chart}`: deployed as the manifests (`manifests.chart`)"
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

/// Whether a chart's `values.yaml` has `image.repository` and `image.tag`, the common
/// convention that `manifests.images` maps in one line.
fn chart_has_image_values(chart: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(chart.join("values.yaml")) else {
        return false;
    };
    let Ok(docs) = slipway_config::yaml::parse_documents(&text) else {
        return false;
    };
    docs.first()
        .and_then(|d| d.get("image"))
        .is_some_and(|i| i.get("repository").is_some() && i.get("tag").is_some())
}

/// Looks at the repository rooted at `root`.
pub fn scan(root: &Path) -> Findings {
    let mut found = Vec::new();
    walk(root, root, 0, &mut found);
    found.sort();
    let (charts, dockerfiles): (Vec<PathBuf>, Vec<PathBuf>) = found
        .into_iter()
        .partition(|p| p.file_name().is_some_and(|n| n == "Chart.yaml"));
    // A subchart (under another chart's `charts/`) is not a chart of its own here.
    let chart_dirs: Vec<&Path> = charts.iter().filter_map(|c| c.parent()).collect();
    let helm_chart = chart_dirs
        .iter()
        .find(|d| !chart_dirs.iter().any(|o| o != *d && d.starts_with(o)))
        .map(|d| slash_path(d));
    let helm_image_values = helm_chart
        .as_ref()
        .is_some_and(|c| chart_has_image_values(&root.join(c)));

    let remote_name = origin_url(root).as_deref().and_then(repo_name_from_url);
    let app_from_remote = remote_name.is_some();
    let app = remote_name
        .or_else(|| dns_label(root.file_name().and_then(|n| n.to_str()).unwrap_or("app")))
        .unwrap_or_else(|| "app".to_string());

    let mut warnings = Vec::new();
    let skaffold = skaffold::read(root).unwrap_or_else(|e| {
        warnings.push(format!("{e}; the images were guessed from the Dockerfiles"));
        None
    });
    if let Some(skaffold) = &skaffold {
        warnings.extend(skaffold.problems.iter().cloned());
    }
    let mut skipped = Vec::new();
    let from_skaffold = skaffold.as_ref().is_some_and(|s| !s.artifacts.is_empty());
    let mut images = match skaffold.as_ref().filter(|_| from_skaffold) {
        Some(skaffold) => skaffold_images(root, &skaffold.artifacts, &dockerfiles, &mut skipped),
        None => dockerfile_images(root, &app, &dockerfiles, &mut skipped),
    };
    dedupe_names(&mut images);

    let mut preferred = skaffold.map(|s| s.manifest_dirs).unwrap_or_default();
    rank_by_images_run(root, &mut preferred, &images);
    let (manifests, overlays, other_manifests) = guess_manifests(root, &preferred);
    let skaffold_manifests = preferred;
    let facts = match &manifests {
        Some(m) => read_manifests(root, &m.dir, &m.path),
        None => ManifestFacts::default(),
    };
    let registry = match_repositories(&mut images, &facts.images);
    let external_images = external_images(&images, &facts.images);
    let base_namespace = manifests
        .as_ref()
        .filter(|m| m.kustomization)
        .and_then(|m| kustomization_namespace(&root.join(&m.path)));
    let sandbox_registry = format!("127.0.0.1:{}/{app}", sandbox_registry_port(&app));
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
        helm_image_values,
        sandbox_registry,
        from_skaffold,
        skipped,
        other_manifests,
        skaffold_manifests,
        external_images,
        builders: Builders::detect(),
        warnings,
    }
}

/// Orders the folders skaffold deploys (slipway deploys one) by how many of `images`
/// their manifests run, most first; ties keep skaffold's order.
fn rank_by_images_run(root: &Path, dirs: &mut [String], images: &[ImageGuess]) {
    if dirs.len() < 2 {
        return;
    }
    let runs = |dir: &String| {
        let facts = read_manifests(root, dir, dir);
        images
            .iter()
            .filter(|i| {
                facts
                    .images
                    .iter()
                    .any(|m| m.run && m.repository.rsplit('/').next() == Some(i.name.as_str()))
            })
            .count()
    };
    dirs.sort_by_cached_key(|d| std::cmp::Reverse(runs(d)));
}

/// The images of the Dockerfiles found, but for the variants of another Dockerfile.
fn dockerfile_images(
    root: &Path,
    app: &str,
    dockerfiles: &[PathBuf],
    skipped: &mut Vec<Skipped>,
) -> Vec<ImageGuess> {
    let mut images = Vec::new();
    for rel in dockerfiles {
        if let Some(folder) = not_shipped_folder(rel) {
            skipped.push(Skipped {
                what: slash_path(rel),
                reason: format!("in `{folder}/`, a folder of tests, examples or tooling"),
            });
            continue;
        }
        if let Some(main) = variant_of(rel, dockerfiles) {
            skipped.push(Skipped {
                what: slash_path(rel),
                reason: format!("a variant of `{}`", slash_path(main)),
            });
            continue;
        }
        let Ok(text) = fs::read_to_string(root.join(rel)) else {
            continue;
        };
        images.extend(guess_images(app, rel, &text));
    }
    images
}

/// Folders whose Dockerfiles build no image to ship, and whose manifests are not the
/// application's: tests, examples, dev containers.
pub(super) const NOT_SHIPPED_FOLDERS: &[&str] = &[
    "test",
    "tests",
    "e2e",
    "testdata",
    "fixtures",
    "example",
    "examples",
    "samples",
    ".devcontainer",
    ".github",
];

/// The folder of `rel` that says its Dockerfile builds no image to ship, if any.
fn not_shipped_folder(rel: &Path) -> Option<String> {
    rel.parent()?
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .find(|c| NOT_SHIPPED_FOLDERS.contains(&c.to_ascii_lowercase().as_str()))
}

/// The images of skaffold's artifacts, named as the manifests run them. The Dockerfiles
/// no artifact builds, and the artifacts slipway cannot build, are `skipped`.
fn skaffold_images(
    root: &Path,
    artifacts: &[Artifact],
    dockerfiles: &[PathBuf],
    skipped: &mut Vec<Skipped>,
) -> Vec<ImageGuess> {
    let mut images = Vec::new();
    for artifact in artifacts {
        let last = artifact.image.rsplit('/').next().unwrap_or(&artifact.image);
        let Some(name) = dns_label(last) else {
            skipped.push(Skipped {
                what: artifact.image.clone(),
                reason: "its name is not a valid image name here".into(),
            });
            continue;
        };
        let (dockerfile, target) = match &artifact.build {
            ArtifactBuild::Dockerfile { dockerfile, target } => (dockerfile, target),
            ArtifactBuild::Other(builder) => {
                skipped.push(Skipped {
                    what: artifact.image.clone(),
                    reason: format!(
                        "skaffold builds it with `{builder}`, which slipway does not run: \
                         add a Dockerfile and an entry here, or build it elsewhere and deploy \
                         with `--image {name}=REF`"
                    ),
                });
                continue;
            }
        };
        let Ok(text) = fs::read_to_string(root.join(dockerfile)) else {
            skipped.push(Skipped {
                what: artifact.image.clone(),
                reason: format!("its Dockerfile `{dockerfile}` does not exist"),
            });
            continue;
        };
        let default = if artifact.context == "." {
            "Dockerfile".to_string()
        } else {
            format!("{}/Dockerfile", artifact.context)
        };
        images.push(ImageGuess {
            name,
            context: artifact.context.clone(),
            dockerfile: (*dockerfile != default).then(|| dockerfile.clone()),
            args: build_args(&text, target.as_deref()),
            target: target.clone(),
            set_args: artifact.build_args.clone(),
            ..ImageGuess::default()
        });
    }
    for rel in dockerfiles {
        let path = slash_path(rel);
        let built = artifacts.iter().any(|a| {
            matches!(&a.build, ArtifactBuild::Dockerfile { dockerfile, .. } if *dockerfile == path)
        });
        if !built {
            let reason = match variant_of(rel, dockerfiles) {
                Some(main) => format!("a variant of `{}`", slash_path(main)),
                None => "no artifact of `skaffold.yaml` builds it".to_string(),
            };
            skipped.push(Skipped { what: path, reason });
        }
    }
    images
}

/// A port for the sandbox's registry: one that follows from the app's name, so that
/// projects side by side rarely meet, and that is free now.
fn sandbox_registry_port(app: &str) -> u16 {
    let hash = app.bytes().fold(2_166_136_261_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    });
    let first = 5400 + (hash % 500) as u16;
    (0..500)
        .map(|i| 5400 + (first - 5400 + i) % 500)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .unwrap_or(first)
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

pub(super) fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::manifests::*;
    use super::template::*;
    use super::*;

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
    fn a_helm_chart_without_manifests_becomes_the_manifests() {
        let dir = tree(&[
            ("charts/myapp/Chart.yaml", "apiVersion: v2\nname: myapp\n"),
            (
                "charts/myapp/values.yaml",
                "image:\n  repository: nginx\n  tag: \"\"\n",
            ),
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
        let image = &findings.images[0].name;
        assert!(
            text.contains(&format!(
                "manifests:\n  chart: charts/myapp\n  release: {app}\n"
            )) && text.contains(&format!("  images:\n    {image}: image\n")),
            "{text}"
        );
        let config = slipway_config::parse(&text, &dir.path().join("slipway.yaml")).unwrap();
        assert_eq!(config.chart.unwrap().images[0].image, *image);
        assert!(
            findings
                .summary()
                .iter()
                .any(|l| l.contains("Helm chart in `charts/myapp`: deployed as the manifests")),
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
        assert!(text.contains("\nregistry: \"127.0.0.1:"), "{text}");
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

    const WEB_DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n\
        spec:\n  template:\n    spec:\n      containers:\n        - name: web\n          \
        image: web\n        - name: cache\n          image: redis:7.2\n";

    #[test]
    fn any_folder_with_manifests_is_a_candidate_and_the_usual_ones_come_first() {
        let dir = tree(&[
            ("web/Dockerfile", "FROM scratch\n"),
            ("platform/cluster/web.yaml", WEB_DEPLOYMENT),
            (
                "kustomize/kustomization.yaml",
                "resources: [base]\ncomponents: [components/x]\n",
            ),
            ("kustomize/base/kustomization.yaml", "resources: []\n"),
            (
                "kustomize/components/x/kustomization.yaml",
                "kind: Component\n",
            ),
            ("kubernetes-manifests/web.yaml", WEB_DEPLOYMENT),
            (".github/workflows/ci.yaml", "on: push\njobs: {}\n"),
            ("tests/e2e/web.yaml", WEB_DEPLOYMENT),
            ("chart/Chart.yaml", "apiVersion: v2\nname: web\n"),
            ("chart/templates/web.yaml", WEB_DEPLOYMENT),
            ("docs/mkdocs.yml", "site_name: x\n"),
        ]);
        let findings = scan(dir.path());
        let chosen = findings.manifests.as_ref().unwrap();
        assert_eq!(
            (chosen.path.as_str(), chosen.kustomization),
            ("kubernetes-manifests", false)
        );
        let others: Vec<_> = findings
            .other_manifests
            .iter()
            .map(|m| (m.path.as_str(), m.kustomization))
            .collect();
        // A kustomization at the top of a tree wins over its `base/`.
        assert_eq!(others, [("kustomize", true), ("platform/cluster", false)]);
        let text = template(&findings);
        assert!(
            text.contains("# manifests: kustomize   # a kustomization\n# manifests: platform/cluster   # plain YAML\nmanifests: kubernetes-manifests\n"),
            "{text}"
        );

        // Without the usual folders, a folder found anywhere is chosen.
        let dir = tree(&[("platform/cluster/web.yaml", WEB_DEPLOYMENT)]);
        let findings = scan(dir.path());
        assert_eq!(findings.manifests.unwrap().path, "platform/cluster");
    }

    #[test]
    fn skaffold_manifests_come_before_the_usual_folders() {
        let dir = tree(&[
            ("k8s/web.yaml", WEB_DEPLOYMENT),
            ("deploy/web.yaml", WEB_DEPLOYMENT),
            (
                "skaffold.yaml",
                "apiVersion: skaffold/v4beta11\nkind: Config\nmanifests:\n  rawYaml: [deploy/*.yaml]\n",
            ),
            ("web/Dockerfile", "FROM scratch\n"),
        ]);
        let findings = scan(dir.path());
        assert_eq!(findings.manifests.unwrap().path, "deploy");
        // Without artifacts, the images come from the Dockerfiles.
        assert!(!findings.from_skaffold);
        assert_eq!(findings.images[0].name, "web");
    }

    #[test]
    fn bare_images_are_ours_and_others_are_pulled_as_written() {
        let dir = tree(&[
            ("web/Dockerfile", "FROM scratch\n"),
            ("worker/Dockerfile", "FROM scratch\n"),
            ("k8s/web.yaml", WEB_DEPLOYMENT),
            (
                "k8s/worker.yaml",
                &WEB_DEPLOYMENT.replace("image: web", "image: acme/worker:1.0"),
            ),
        ]);
        let mut findings = scan(dir.path());
        findings.builders = Builders::default();
        assert_eq!(findings.registry, None);
        let web = &findings.images[0];
        assert_eq!(web.source.as_ref().map(|s| s.image.as_str()), Some("web"));
        assert_eq!(web.repository, None);
        let external: Vec<_> = findings
            .external_images
            .iter()
            .map(|i| i.image.as_str())
            .collect();
        assert_eq!(external, ["redis:7.2", "acme/worker:1.0"]);
        let text = template(&findings);
        for expected in [
            &format!("\nregistry: \"{}\"\n", findings.sandbox_registry),
            "#   redis:7.2 (k8s/web.yaml)\n",
            "#   acme/worker:1.0 (k8s/worker.yaml)\n\
             #     named like the image `worker` built here, but not its repository: write\n\
             #     `image: worker` in the manifest so that deploys run the build\n",
            "    rules:\n      image-pinned: warning\n",
            "    # no manifest runs it as `worker`: a deploy builds it and pins nothing\n",
            "# None was found, so these images cannot be built here: install buildah\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert!(findings.sandbox_registry.starts_with("127.0.0.1:"));
        let config = slipway_config::parse(&text, &dir.path().join("slipway.yaml")).unwrap();
        let web = config.images.iter().find(|i| i.name == "web").unwrap();
        assert_eq!(web.repository, format!("{}/web", findings.sandbox_registry));
    }

    #[test]
    fn skaffold_artifacts_slipway_cannot_build_are_explained() {
        let dir = tree(&[
            (
                "skaffold.yaml",
                "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n\
                 \x20   - image: ads\n      context: ads\n      jib: {}\n\
                 \x20   - image: gone\n      context: gone\n\
                 \x20   - image: web\n      context: web\n      docker: {dockerfile: build.Dockerfile, target: run}\n",
            ),
            ("web/build.Dockerfile", "FROM scratch AS run\nARG PORT=80\n"),
            ("tools/Dockerfile", "FROM scratch\n"),
        ]);
        let mut findings = scan(dir.path());
        findings.builders = Builders {
            found: vec!["docker"],
            docker_engine: false,
        };
        assert!(findings.from_skaffold);
        let web = &findings.images[0];
        assert_eq!(findings.images.len(), 1);
        assert_eq!(web.dockerfile.as_deref(), Some("web/build.Dockerfile"));
        assert_eq!(web.target.as_deref(), Some("run"));
        assert_eq!(web.args[0].name, "PORT");
        let text = template(&findings);
        for expected in [
            "  #   ads: skaffold builds it with `jib`, which slipway does not run",
            "  #   gone: its Dockerfile `gone/Dockerfile` does not exist\n",
            "  #   tools/Dockerfile: no artifact of `skaffold.yaml` builds it\n",
            "# Found here: docker, but no Docker engine answers",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        slipway_config::parse(&text, &dir.path().join("slipway.yaml")).unwrap();
    }

    #[test]
    fn dockerfiles_of_tests_examples_and_dev_containers_are_left_out() {
        let dir = tree(&[
            ("api/Dockerfile", "FROM scratch\n"),
            (".devcontainer/Dockerfile", "FROM scratch\n"),
            ("api/tests/e2e/Dockerfile", "FROM scratch\n"),
            ("examples/demo/Dockerfile", "FROM scratch\n"),
        ]);
        let findings = scan(dir.path());
        let names: Vec<_> = findings.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["api"]);
        let skipped: Vec<_> = findings.skipped.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(
            skipped,
            [
                ".devcontainer/Dockerfile",
                "api/tests/e2e/Dockerfile",
                "examples/demo/Dockerfile"
            ]
        );
        assert!(template(&findings).contains(
            "  #   api/tests/e2e/Dockerfile: in `tests/`, a folder of tests, examples or tooling\n"
        ));
    }

    #[test]
    fn skaffold_build_args_are_set_and_the_other_args_stay_commented() {
        let dir = tree(&[
            (
                "skaffold.yaml",
                "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n\
                 \x20   - image: web\n      context: web\n      docker:\n        buildArgs:\n\
                 \x20         NODE_ENV: production\n          PORT: 8080\n          TAG: \"{{.IMAGE_TAG}}\"\n\
                 \x20         NPM_TOKEN: npm_s3cr3tvalue\n",
            ),
            (
                "web/Dockerfile",
                "FROM scratch\nARG NODE_ENV=development\nARG PORT\nARG TAG\nARG DEBUG=0\n",
            ),
        ]);
        let findings = scan(dir.path());
        let text = template(&findings);
        assert!(
            text.contains(
                "    args:   # skaffold.yaml's buildArgs\n\
                 \x20     NODE_ENV: production\n\
                 \x20     PORT: \"8080\"\n\
                 \x20   # the Dockerfile's other ARGs; uncomment those to set:\n\
                 \x20   #   TAG: \"{{.IMAGE_TAG}}\"   # a skaffold template, which slipway does not expand\n\
                 \x20   #   NPM_TOKEN: \"\"   # looks like a secret, not copied"
            ),
            "{text}"
        );
        assert!(
            text.contains("    #   DEBUG: \"0\"   # the Dockerfile's default\n"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
        let config = slipway_config::parse(&text, &dir.path().join("slipway.yaml")).unwrap();
        let slipway_config::model::ImageBuild::Dockerfile { args, .. } = &config.images[0].build
        else {
            panic!("a Dockerfile image");
        };
        assert_eq!(args.get("PORT").map(String::as_str), Some("8080"));
    }

    #[test]
    fn of_the_folders_skaffold_deploys_the_one_running_its_images_is_chosen() {
        let dir = tree(&[
            (
                "skaffold.yaml",
                "apiVersion: skaffold/v2beta18\nkind: Config\nbuild:\n  artifacts:\n\
                 \x20 - image: web\n    context: web\n\
                 deploy:\n  kubectl:\n    manifests:\n\
                 \x20   - ./otel-kubernetes-manifests/**.yaml\n    - ./kubernetes-manifests/web.yaml\n",
            ),
            ("web/Dockerfile", "FROM scratch\n"),
            ("kubernetes-manifests/web.yaml", WEB_DEPLOYMENT),
            (
                "otel-kubernetes-manifests/collector.yaml",
                &WEB_DEPLOYMENT.replace("image: web", "image: otel/collector:0.1"),
            ),
        ]);
        let findings = scan(dir.path());
        assert_eq!(
            findings.manifests.as_ref().unwrap().path,
            "kubernetes-manifests"
        );
        let others: Vec<_> = findings
            .other_manifests
            .iter()
            .map(|m| m.path.as_str())
            .collect();
        assert_eq!(others, ["otel-kubernetes-manifests"]);
        let text = template(&findings);
        assert!(
            text.contains(
                "# The manifests to deploy (plain YAML, as skaffold.yaml deploys them).\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# manifests: otel-kubernetes-manifests   # plain YAML, which skaffold.yaml also deploys\n"),
            "{text}"
        );
    }
}

//! The build of a whole project: from a loaded `slipway.yaml` to images built, pushed and
//! recorded in `.slipway/artifacts.json`. This is what `slipway build` runs.
//!
//! [`run`] goes through four phases, and nothing is built or pushed before the first
//! three have passed for every selected image:
//!
//! 1. **Sources and inputs** (local, no network). The working tree's commit, branch and
//!    status are read once; a dirty tree stops everything under `dirty: refuse`. Each
//!    image's source is the working tree, or its `git-ref` exported into a private
//!    temporary directory ([`crate::git`]). Then, in parallel, each image is checked
//!    (Dockerfile and target stage, `copy` sources, builder), its build-inputs digest is
//!    computed ([`crate::inputs`]) and its tag is rendered from the template; a tag made
//!    from a dirty working tree gets `-dirty`. Every problem of every image is reported
//!    at once.
//! 2. **Registries** (network, read-only). Credentials come from each registry's
//!    `credentials` setting. Every image's content-addressed tag
//!    `inputs-<64 hex digits of the inputs digest>` is looked up: this proves each
//!    registry answers and accepts the credentials, and finds images that need no
//!    rebuild. Base images of `files` images are fetched.
//! 3. **Skipping**. An image whose inputs tag exists is reused, not rebuilt (unless
//!    `rebuild`); its entry comes from the previous `artifacts.json` when that entry has
//!    the same inputs and digest, else from the image's own labels. Its `extra-tags` are
//!    moved to it (the manifest copied within the registry), so `latest` follows the
//!    latest build; so is the release tag when builds share it (a template such as
//!    `{git.branch}`, or `latest` with `allow-latest`).
//! 4. **Builds**, in parallel, bounded by `concurrency`: `files` images with the native
//!    builder, Dockerfile images with buildah, podman or `docker buildx` (the builder is
//!    chosen and checked in phase 1, see [`BuilderKind::detect`] for `auto`); then the push of the unique tag, the
//!    `extra-tags`, and the inputs tag (not for dirty builds, which are never reused).
//!
//! The result is merged into `.slipway/artifacts.json` (entries of images not built this
//! time are kept) and written atomically. [`Artifacts`] documents the format.
//!
//! An interruption ([`crate::interrupt`]) stops the running builders and starts no new
//! one; the images that finished are recorded, and [`run`] returns
//! [`FailureKind::Interrupted`] once every export and temporary file is removed.
//!
//! Secrets: credentials reach the registry client and the builder's private authfile
//! (buildah, podman) or private Docker configuration (docker) only;
//! no message, event or artifact contains them.

mod artifacts;
mod builds;
mod registries;
mod sources;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use slipway_config::tag::{TagContext, validate_tag};
use slipway_config::{Builder, Config, DirtyPolicy, Image, ImageBuild};

use crate::buildah::{self, BuildahOptions};
use crate::builder::{BuildFailure, BuilderKind, DockerfileBuild, DockerfileBuilder};
use crate::credentials::{Credentials, DockerConfig};
use crate::docker::{self, DockerOptions};
use crate::git::{Export, GitError, Repository};
use crate::inputs::{BuildInputs, digest_with_recipe};
use crate::interrupt;
use crate::native::{self, Base, BaseImage, NativeSpec, media_type};
use crate::platform::Platform;
use crate::podman::PodmanOptions;
use crate::registry::{ClientOptions, RegistryClient, RegistryError};

pub use artifacts::{merge, read_artifacts, write_artifacts};
use builds::{BuildContext, build_all};
pub(crate) use registries::credentials_for;
use registries::{
    Registries, fetch_bases, lookup_inputs_tags, manifest_media_type, move_tags, registry_problem,
    reused_artifact,
};
pub use registries::{credentials_from_text, registry_host};
use sources::{Prepared, Recipe, open_git, prepare};
pub use sources::{inputs_tag, lexical_relative, normalize, strip_userinfo};

/// slipway's directory next to `slipway.yaml`.
pub const STATE_DIR: &str = ".slipway";
/// The artifacts file of `slipway.yaml`, relative to its directory; another
/// configuration file has its own (see [`artifacts_file`]).
pub const ARTIFACTS_FILE: &str = ".slipway/artifacts.json";

/// The artifacts file of `config`, relative to its directory: [`ARTIFACTS_FILE`] for
/// `slipway.yaml` (or `slipway.yml`), `.slipway/artifacts.<name>.json` for any other
/// file (`-f staging.yaml` → `.slipway/artifacts.staging.json`), so that two
/// configuration files in one directory never take each other's builds.
pub fn artifacts_file(config: &Config) -> PathBuf {
    let stem = config
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("slipway");
    if stem == "slipway" || stem.is_empty() {
        PathBuf::from(ARTIFACTS_FILE)
    } else {
        Path::new(STATE_DIR).join(format!("artifacts.{stem}.json"))
    }
}
/// The prefix of the content-addressed tag pushed with every clean build.
pub const INPUTS_TAG_PREFIX: &str = "inputs-";
/// The version of the `artifacts.json` format.
pub const ARTIFACTS_VERSION: u32 = 1;

/// OCI annotation keys set as labels on every image.
pub mod label {
    /// Where the source comes from: the `origin` remote's URL, without credentials.
    pub const SOURCE: &str = "org.opencontainers.image.source";
    /// The git commit.
    pub const REVISION: &str = "org.opencontainers.image.revision";
    /// The build time, RFC 3339.
    pub const CREATED: &str = "org.opencontainers.image.created";
    /// The unique tag of the build.
    pub const VERSION: &str = "org.opencontainers.image.version";
}

/// What to build and how.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Images to build, by name; empty means all.
    pub images: Vec<String>,
    /// Push to the registries (else: native images go to `.slipway/images/<name>/`,
    /// Dockerfile images stay in the builder's storage or Docker engine).
    pub push: bool,
    /// What a dirty working tree means (the chosen environment's `dirty`).
    pub dirty: DirtyPolicy,
    /// Build even when the inputs are unchanged and the image is in the registry.
    pub rebuild: bool,
    /// Pass `--no-cache` to the builder.
    pub no_cache: bool,
    /// The build time (Unix seconds), for `{timestamp}` and the `created` label.
    pub now: i64,
    /// The CI build number for `{ci.build_id}`.
    pub ci_build_id: Option<String>,
    /// How many images build at the same time.
    pub concurrency: usize,
    /// How buildah runs (storage).
    pub buildah: BuildahOptions,
    /// How podman runs (storage).
    pub podman: PodmanOptions,
    /// How docker runs (its configuration directory).
    pub docker: DockerOptions,
    /// Where builders are looked for (`PATH` when `None`).
    pub search_path: Option<OsString>,
}

impl BuildOptions {
    /// The builder of `kind` (buildah for [`BuilderKind::Native`], which builds no
    /// Dockerfile itself), reaching the registries `insecure` over plain HTTP.
    pub fn dockerfile_builder(
        &self,
        kind: BuilderKind,
        insecure: impl IntoIterator<Item = String>,
    ) -> Box<dyn DockerfileBuilder> {
        match kind {
            BuilderKind::Podman => {
                let mut options = self.podman.clone();
                options.insecure_hosts.extend(insecure);
                Box::new(options)
            }
            BuilderKind::Docker => Box::new(self.docker.clone()),
            BuilderKind::Buildah | BuilderKind::Native => {
                let mut options = self.buildah.clone();
                options.insecure_hosts.extend(insecure);
                Box::new(options)
            }
        }
    }

    /// Every image, pushed, `dirty: warn`, built at `now`, as many at a time as cores.
    pub fn new(now: i64) -> BuildOptions {
        BuildOptions {
            images: Vec::new(),
            push: true,
            dirty: DirtyPolicy::Warn,
            rebuild: false,
            no_cache: false,
            now,
            ci_build_id: None,
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            buildah: BuildahOptions::default(),
            podman: PodmanOptions::default(),
            docker: DockerOptions::default(),
            search_path: None,
        }
    }
}

/// Progress of a build, for the caller to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// Something the user should know (a dirty working tree under `dirty: warn`).
    Warning(String),
    /// An image starts building.
    Started {
        /// The image's name.
        image: &'a str,
        /// `repo:tag` being built.
        reference: &'a str,
    },
    /// A line of builder output.
    Output {
        /// The image's name.
        image: &'a str,
        /// The line, without the image prefix.
        line: &'a str,
    },
    /// An image was built (and pushed).
    Built {
        /// Its entry.
        artifact: &'a ImageArtifact,
        /// How long it took.
        elapsed: Duration,
    },
    /// An image was not rebuilt: its inputs are unchanged and it is in the registry.
    Skipped {
        /// Its entry.
        artifact: &'a ImageArtifact,
    },
    /// An image failed to build or push.
    Failed {
        /// The image's name.
        image: &'a str,
        /// Why.
        message: &'a str,
    },
}

/// The contents of `.slipway/artifacts.json`, also printed by `slipway build -o json`.
///
/// ```json
/// {
///   "version": 1,
///   "images": [
///     {
///       "name": "api",
///       "reference": "registry.example.com/shop/api:20261122-013000-abc1234@sha256:…",
///       "repository": "registry.example.com/shop/api",
///       "tag": "20261122-013000-abc1234",
///       "digest": "sha256:…",
///       "inputs_digest": "sha256:…",
///       "git_commit": "abc1234…",
///       "git_ref": "origin/backend-dev",
///       "dirty": false,
///       "built": true,
///       "pushed": true,
///       "platform": "linux/amd64",
///       "created": "2026-11-22T01:30:00Z"
///     }
///   ]
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifacts {
    /// The format version ([`ARTIFACTS_VERSION`]).
    pub version: u32,
    /// One entry per image, in `slipway.yaml` order.
    pub images: Vec<ImageArtifact>,
}

/// One built (or reused) image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageArtifact {
    /// The image's name in `slipway.yaml`.
    pub name: String,
    /// `repository:tag@sha256:…`; without `@sha256:…` when the image was not pushed.
    pub reference: String,
    /// The full repository.
    pub repository: String,
    /// The unique tag.
    pub tag: String,
    /// The manifest digest; `null` for a buildah image that was not pushed.
    pub digest: Option<String>,
    /// `sha256:…` of the build inputs.
    pub inputs_digest: String,
    /// The commit the image was built from; `null` outside a git repository.
    pub git_commit: Option<String>,
    /// The `git-ref` the image was built from, when not the working tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// Built from a working tree with uncommitted changes.
    pub dirty: bool,
    /// `false` when the image was reused because its inputs were unchanged.
    pub built: bool,
    /// Whether the image is in the registry.
    pub pushed: bool,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// When the image was built, RFC 3339.
    pub created: String,
}

/// What kind of failure, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad input: configuration, Dockerfile, git ref, tag, dirty tree. Nothing was built.
    Input,
    /// A registry is unreachable or refused the credentials.
    Registry,
    /// A build or a push failed.
    Build,
    /// Something unexpected (a file that cannot be written).
    Internal,
    /// The process was interrupted ([`crate::interrupt`]); images that finished before
    /// are recorded.
    Interrupted,
}

/// One problem, attached to an image when it concerns one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The image concerned.
    pub image: Option<String>,
    /// The `slipway.yaml` key concerned (`images.api.git-ref`, `tag`).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl Problem {
    fn new(image: Option<&str>, message: impl Into<String>) -> Problem {
        Problem {
            image: image.map(str::to_owned),
            key: None,
            message: message.into(),
            hint: None,
        }
    }

    fn key(mut self, key: impl Into<String>) -> Problem {
        self.key = Some(key.into());
        self
    }

    fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(image) = &self.image {
            write!(f, "image `{image}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(key) = &self.key {
            write!(f, " (`{key}`)")?;
        }
        Ok(())
    }
}

/// Why a build stopped. Never contains a secret.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// What kind of failure.
    pub kind: FailureKind,
    /// Every problem found (at least one).
    pub problems: Vec<Problem>,
    /// Images that were built before the failure and recorded in `artifacts.json`.
    pub recorded: Vec<ImageArtifact>,
}

impl BuildError {
    fn new(kind: FailureKind, problems: Vec<Problem>) -> BuildError {
        BuildError {
            kind,
            problems,
            recorded: Vec::new(),
        }
    }

    fn one(kind: FailureKind, problem: Problem) -> BuildError {
        Self::new(kind, vec![problem])
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                let what = match self.kind {
                    FailureKind::Input => "problems with the build input",
                    FailureKind::Registry => "registry problems",
                    FailureKind::Build => "images failed",
                    FailureKind::Internal => "errors",
                    FailureKind::Interrupted => "interruptions",
                };
                write!(f, "{} {what}", many.len())
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// The outcome of a successful [`run`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The images of this run, in `slipway.yaml` order.
    pub images: Vec<ImageArtifact>,
    /// The whole `artifacts.json` as written (this run merged into the previous file).
    pub artifacts: Artifacts,
    /// Where it was written.
    pub path: PathBuf,
}

/// Builds the selected images of `config`, reporting progress through `progress`.
///
/// While it runs, [`crate::interrupt::interrupt`] stops it: builders are stopped, what
/// they left is removed, and it returns a [`FailureKind::Interrupted`] error.
///
/// # Errors
/// A [`BuildError`] whose [`FailureKind`] says whether the input was bad (nothing was
/// built or pushed), a registry failed, a build failed (images built before it are
/// recorded), or the process was interrupted (likewise).
pub fn run(
    config: &Config,
    options: &BuildOptions,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Outcome, BuildError> {
    // Dropped last, when every export and temporary file of this build is gone.
    let _active = interrupt::begin();
    let cwd =
        std::env::current_dir().map_err(|e| internal(format!("no current directory: {e}")))?;
    let project_dir = normalize(&cwd.join(&config.base_dir));
    let artifacts_path = project_dir.join(artifacts_file(config));
    let previous = read_artifacts(&artifacts_path).unwrap_or_else(|message| {
        progress(Event::Warning(message));
        Artifacts::default()
    });

    // Phase 1: sources and inputs.
    let images = prepare_images(config, options, progress, &cwd, &project_dir)?;

    // Phase 2: registries.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| internal(format!("cannot start the async runtime: {e}")))?;
    let registries = Registries::new(config, &images, options.push)?;
    let found = runtime.block_on(lookup_inputs_tags(&registries.client, &images, options))?;
    let context = BuildContext {
        config,
        options,
        registries: &registries,
        runtime: &runtime,
        progress,
        project_dir: &project_dir,
    };

    // Phase 3: skipping.
    let mut results: Vec<Option<ImageArtifact>> = vec![None; images.len()];
    let mut tag_failures = reuse_unchanged(&context, &images, &found, &previous, &mut results);
    let to_build: Vec<usize> = (0..images.len())
        .filter(|i| results[*i].is_none())
        .collect();
    let bases = runtime.block_on(fetch_bases(&registries.client, &images, &to_build))?;
    if interrupt::requested() {
        return Err(interrupted(Vec::new()));
    }

    // Phase 4: builds.
    let mut failures = build_all(&context, &images, &bases, &to_build, &mut results);
    failures.append(&mut tag_failures);
    let this_run: Vec<ImageArtifact> = results.into_iter().flatten().collect();
    drop(images);

    record(config, previous, this_run, failures, artifacts_path)
}

/// Phase 1: the selected images, each with its source, checks, inputs digest and tag.
/// Every problem of every image is reported at once.
fn prepare_images<'c>(
    config: &'c Config,
    options: &BuildOptions,
    progress: &(dyn Fn(Event<'_>) + Sync),
    cwd: &Path,
    project_dir: &Path,
) -> Result<Vec<Prepared<'c>>, BuildError> {
    let selected = select_images(config, &options.images)?;
    let git = open_git(project_dir, &selected, options, progress)?;
    let prepared: Vec<Result<Prepared<'_>, Vec<Problem>>> = {
        use rayon::prelude::*;
        selected
            .par_iter()
            .map(|image| prepare(config, image, &git, cwd, project_dir, options))
            .collect()
    };
    let mut problems = Vec::new();
    let mut images = Vec::new();
    for result in prepared {
        match result {
            Ok(p) => images.push(p),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if interrupt::requested() {
        return Err(interrupted(Vec::new()));
    }
    if !problems.is_empty() {
        return Err(BuildError::new(FailureKind::Input, problems));
    }
    Ok(images)
}

/// Phase 3: each image whose inputs tag was `found` (its digest, by index) is reused
/// rather than rebuilt, unless `rebuild` or built from a dirty tree; its entry goes
/// into `results`. The tags that could not be moved are returned.
fn reuse_unchanged(
    context: &BuildContext<'_>,
    images: &[Prepared<'_>],
    found: &[Option<String>],
    previous: &Artifacts,
    results: &mut [Option<ImageArtifact>],
) -> Vec<Problem> {
    let mut tag_failures = Vec::new();
    for (index, digest) in found.iter().enumerate() {
        let Some(digest) = digest else { continue };
        if context.options.rebuild || images[index].dirty {
            continue;
        }
        let (artifact, failure) = reuse_one(context, &images[index], digest, previous);
        tag_failures.extend(failure);
        results[index] = Some(artifact);
    }
    tag_failures
}

/// The entry of one reused `image` (manifest `digest`), whose extra tags move to it,
/// and the problem when they could not be moved.
fn reuse_one(
    context: &BuildContext<'_>,
    image: &Prepared<'_>,
    digest: &str,
    previous: &Artifacts,
) -> (ImageArtifact, Option<Problem>) {
    let client = &context.registries.client;
    let config = context.config;
    let mut artifact = context
        .runtime
        .block_on(reused_artifact(client, image, digest, previous));
    let mut tags = config.extra_tags.clone();
    if config.tag.shares_tags_between_builds() {
        // Builds share this tag: it must name the image released now, not the one
        // the last build pushed.
        artifact.tag.clone_from(&image.tag);
        artifact.reference = format!("{}:{}@{digest}", artifact.repository, artifact.tag);
        tags.insert(0, artifact.tag.clone());
    }
    let moved = context
        .runtime
        .block_on(move_tags(client, &image.image.repository, digest, &tags));
    match moved {
        Ok(()) => {
            (context.progress)(Event::Skipped {
                artifact: &artifact,
            });
            (artifact, None)
        }
        Err(e) => {
            let (_, problem) = registry_problem(image.name(), &e);
            (context.progress)(Event::Failed {
                image: image.name(),
                message: &problem.message,
            });
            (artifact, Some(problem))
        }
    }
}

/// Merges `this_run` into the previous artifacts and writes them to `artifacts_path`,
/// then says how the build ended: interrupted, failed (the registry's fault when every
/// failure is), or the outcome. A failure to write counts only when nothing else failed.
fn record(
    config: &Config,
    previous: Artifacts,
    this_run: Vec<ImageArtifact>,
    failures: Vec<Problem>,
    artifacts_path: PathBuf,
) -> Result<Outcome, BuildError> {
    let artifacts = merge(previous, &this_run, config);
    let written = write_artifacts(&artifacts_path, &artifacts);
    if interrupt::requested() {
        return Err(interrupted(this_run));
    }
    if !failures.is_empty() {
        let mut error = BuildError::new(FailureKind::Build, failures);
        if let Some(kind) = registry_failure_kind(&error.problems) {
            error.kind = kind;
        }
        error.recorded = this_run;
        return Err(error);
    }
    written.map_err(internal)?;
    Ok(Outcome {
        images: this_run,
        artifacts,
        path: artifacts_path,
    })
}

fn internal(message: impl Into<String>) -> BuildError {
    BuildError::one(FailureKind::Internal, Problem::new(None, message))
}

/// The error of an interrupted build; `recorded` finished before the interruption.
fn interrupted(recorded: Vec<ImageArtifact>) -> BuildError {
    let mut error = BuildError::one(
        FailureKind::Interrupted,
        Problem::new(None, "interrupted").hint("run the command again"),
    );
    error.recorded = recorded;
    error
}

/// The problem of an image whose build was stopped by an interruption.
fn interrupted_image(name: &str) -> Problem {
    Problem::new(Some(name), "interrupted")
}

/// A registry failure during the builds is reported as such when it is the only kind.
fn registry_failure_kind(problems: &[Problem]) -> Option<FailureKind> {
    problems
        .iter()
        .all(|p| p.key.as_deref() == Some("registry"))
        .then_some(FailureKind::Registry)
}

fn select_images<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c Image>, BuildError> {
    if names.is_empty() {
        return Ok(config.images.iter().collect());
    }
    let unknown: Vec<Problem> = names
        .iter()
        .filter(|n| config.image(n).is_none())
        .map(|n| Problem::new(None, format!("unknown image `{n}`")).key("images"))
        .collect();
    if !unknown.is_empty() {
        return Err(BuildError::new(FailureKind::Input, unknown));
    }
    Ok(config
        .images
        .iter()
        .filter(|i| names.contains(&i.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::sources::common_ancestor;
    use super::*;

    fn artifact(name: &str, tag: &str) -> ImageArtifact {
        ImageArtifact {
            name: name.into(),
            reference: format!("r/{name}:{tag}@sha256:00"),
            repository: format!("r/{name}"),
            tag: tag.into(),
            digest: Some("sha256:00".into()),
            inputs_digest: "sha256:11".into(),
            git_commit: None,
            git_ref: None,
            dirty: false,
            built: true,
            pushed: true,
            platform: "linux/amd64".into(),
            created: String::new(),
        }
    }

    fn config(images: &[&str]) -> Config {
        let mut yaml = String::from("app: a\nregistry: r\nimages:\n");
        for name in images {
            yaml.push_str(&format!("  {name}:\n    git-ref: main\n"));
        }
        yaml.push_str("environments:\n  dev:\n    cluster: sandbox\n    namespace: d\n");
        slipway_config::parse(&yaml, Path::new("slipway.yaml")).unwrap()
    }

    #[test]
    fn merge_replaces_built_images_and_keeps_the_others_in_file_order() {
        let previous = Artifacts {
            version: 1,
            images: vec![
                artifact("web", "old"),
                artifact("api", "old"),
                artifact("gone", "x"),
            ],
        };
        let merged = merge(
            previous,
            &[artifact("api", "new")],
            &config(&["api", "web"]),
        );
        let names: Vec<(&str, &str)> = merged
            .images
            .iter()
            .map(|a| (a.name.as_str(), a.tag.as_str()))
            .collect();
        assert_eq!(names, [("api", "new"), ("web", "old"), ("gone", "x")]);
    }

    #[test]
    fn artifacts_are_written_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ARTIFACTS_FILE);
        let artifacts = Artifacts {
            version: 1,
            images: vec![artifact("api", "t1")],
        };
        write_artifacts(&path, &artifacts).unwrap();
        assert_eq!(read_artifacts(&path).unwrap(), artifacts);
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "artifacts.json and .gitignore only: {names:?}"
        );
    }

    #[test]
    fn artifacts_of_another_version_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, r#"{"version": 9, "images": []}"#).unwrap();
        assert!(read_artifacts(&path).unwrap_err().contains("version 9"));
    }

    #[test]
    fn paths_are_cleaned_and_made_relative_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(normalize(Path::new("./.")), Path::new(""));
        assert_eq!(normalize(Path::new("../x")), Path::new("../x"));
        assert_eq!(
            lexical_relative(Path::new("/p/web/Dockerfile"), Path::new("/p")),
            Path::new("web/Dockerfile")
        );
        assert_eq!(
            lexical_relative(Path::new("/p/shared"), Path::new("/p/app")),
            Path::new("../shared")
        );
        assert_eq!(
            common_ancestor(&[PathBuf::from("svc/web"), PathBuf::from("svc/web/docker")]),
            Path::new("svc/web")
        );
        assert_eq!(
            common_ancestor(&[PathBuf::from("web"), PathBuf::from("api")]),
            Path::new("")
        );
    }

    #[test]
    fn userinfo_is_removed_from_remote_urls() {
        assert_eq!(
            strip_userinfo("https://user:tok3n@git.example.com/shop.git"),
            "https://git.example.com/shop.git"
        );
        assert_eq!(
            strip_userinfo("git@github.com:acme/shop.git"),
            "git@github.com:acme/shop.git"
        );
        assert_eq!(strip_userinfo("/srv/git/shop"), "/srv/git/shop");
    }

    #[test]
    fn credentials_text_is_user_and_password_or_a_token() {
        let c = credentials_from_text("alice:s3:cret\nignored\n").unwrap();
        assert_eq!(
            (c.username.as_str(), c.secret.expose()),
            ("alice", "s3:cret")
        );
        let t = credentials_from_text("tok3n\n").unwrap();
        assert_eq!(t.secret.expose(), "tok3n");
        assert!(credentials_from_text("\n").is_none());
    }

    #[test]
    fn inputs_tag_holds_the_whole_digest() {
        let tag = inputs_tag(&format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(tag.len(), 7 + 64);
        assert!(validate_tag(&tag).is_ok());
    }

    #[test]
    fn registry_host_is_the_first_component_when_it_looks_like_a_host() {
        assert_eq!(registry_host("127.0.0.1:5000/shop/api"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/api"), "localhost");
        assert_eq!(registry_host("library/nginx"), "docker.io");
    }
}

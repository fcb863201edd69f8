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

use crate::buildah::{self, BuildahOptions, BuilderKind, DockerfileBuild};
use crate::builder::{BuildFailure, DockerfileBuilder};
use crate::credentials::{Credentials, DockerConfig};
use crate::docker::{self, DockerOptions};
use crate::git::{Export, GitError, Repository};
use crate::inputs::{BuildInputs, digest_with_recipe};
use crate::interrupt;
use crate::native::{self, Base, BaseImage, NativeSpec, media_type};
use crate::platform::Platform;
use crate::podman::PodmanOptions;
use crate::registry::{ClientOptions, RegistryClient, RegistryError};

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
    let selected = select_images(config, &options.images)?;
    let git = open_git(&project_dir, &selected, options, progress)?;
    let prepared: Vec<Result<Prepared<'_>, Vec<Problem>>> = {
        use rayon::prelude::*;
        selected
            .par_iter()
            .map(|image| prepare(config, image, &git, &cwd, &project_dir, options))
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

    // Phase 2: registries.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| internal(format!("cannot start the async runtime: {e}")))?;
    let registries = Registries::new(config, &images, options.push)?;
    let found = runtime.block_on(lookup_inputs_tags(&registries.client, &images, options))?;

    // Phase 3: skipping. The extra tags of a skipped image move to it.
    let mut results: Vec<Option<ImageArtifact>> = vec![None; images.len()];
    let mut tag_failures = Vec::new();
    for (index, digest) in found.iter().enumerate() {
        let Some(digest) = digest else { continue };
        if options.rebuild || images[index].dirty {
            continue;
        }
        let mut artifact = runtime.block_on(reused_artifact(
            &registries.client,
            &images[index],
            digest,
            &previous,
        ));
        let mut tags = config.extra_tags.clone();
        if config.tag.shares_tags_between_builds() {
            // Builds share this tag: it must name the image released now, not the one
            // the last build pushed.
            artifact.tag.clone_from(&images[index].tag);
            artifact.reference = format!("{}:{}@{digest}", artifact.repository, artifact.tag);
            tags.insert(0, artifact.tag.clone());
        }
        let moved = runtime.block_on(move_tags(
            &registries.client,
            &images[index].image.repository,
            digest,
            &tags,
        ));
        match moved {
            Ok(()) => progress(Event::Skipped {
                artifact: &artifact,
            }),
            Err(e) => {
                let (_, problem) = registry_problem(images[index].name(), &e);
                progress(Event::Failed {
                    image: images[index].name(),
                    message: &problem.message,
                });
                tag_failures.push(problem);
            }
        }
        results[index] = Some(artifact);
    }
    let to_build: Vec<usize> = (0..images.len())
        .filter(|i| results[*i].is_none())
        .collect();
    let bases = runtime.block_on(fetch_bases(&registries.client, &images, &to_build))?;
    if interrupt::requested() {
        return Err(interrupted(Vec::new()));
    }

    // Phase 4: builds.
    let context = BuildContext {
        config,
        options,
        registries: &registries,
        runtime: &runtime,
        progress,
        project_dir: &project_dir,
    };
    let mut failures = build_all(&context, &images, &bases, &to_build, &mut results);
    failures.append(&mut tag_failures);
    let this_run: Vec<ImageArtifact> = results.into_iter().flatten().collect();
    drop(images);

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

// ---------------------------------------------------------------------------------------
// Phase 1: sources and inputs.

/// What git says about the project, read once.
struct GitState {
    repo: Option<Repository>,
    /// `HEAD`, when the working tree is a repository with commits.
    head: Option<String>,
    branch: Option<String>,
    dirty: bool,
    source: Option<String>,
}

fn open_git(
    project_dir: &Path,
    images: &[&Image],
    options: &BuildOptions,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<GitState, BuildError> {
    let repo = match Repository::discover(project_dir) {
        Ok(repo) => Some(repo),
        Err(GitError::NotARepository(_)) => None,
        Err(e) => {
            return Err(BuildError::one(
                FailureKind::Input,
                Problem::new(None, e.to_string()),
            ));
        }
    };
    let mut state = GitState {
        repo,
        head: None,
        branch: None,
        dirty: false,
        source: None,
    };
    let Some(repo) = &state.repo else {
        if let Some(image) = images.iter().find(|i| i.git_ref.is_some()) {
            return Err(BuildError::one(
                FailureKind::Input,
                Problem::new(
                    Some(&image.name),
                    format!("`{}` is not in a git repository", project_dir.display()),
                )
                .key(format!("images.{}.git-ref", image.name)),
            ));
        }
        return Ok(state);
    };
    let input_error =
        |e: GitError| BuildError::one(FailureKind::Input, Problem::new(None, e.to_string()));
    state.source = repo
        .remote_url("origin")
        .map_err(input_error)?
        .map(|u| strip_userinfo(&u));
    if images.iter().all(|i| i.git_ref.is_some()) {
        return Ok(state);
    }
    state.head = match repo.head() {
        Ok(commit) => Some(commit.to_string()),
        Err(GitError::UnknownRef(_)) => None,
        Err(e) => return Err(input_error(e)),
    };
    state.branch = repo.branch().map_err(input_error)?;
    let status = repo.status().map_err(input_error)?;
    state.dirty = status.is_dirty();
    if state.dirty {
        let listed = status.listed();
        match options.dirty {
            DirtyPolicy::Refuse => {
                return Err(BuildError::one(
                    FailureKind::Input,
                    Problem::new(
                        None,
                        format!("the working tree has uncommitted changes: {listed}"),
                    )
                    .key("dirty")
                    .hint("commit or stash the changes; this environment has `dirty: refuse`"),
                ));
            }
            DirtyPolicy::Warn => progress(Event::Warning(format!(
                "the working tree has uncommitted changes ({listed}); tags get `-dirty`"
            ))),
            DirtyPolicy::Allow => {}
        }
    }
    Ok(state)
}

/// `https://user:token@host/x.git` → `https://host/x.git`.
pub fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_owned(),
    }
}

/// How an image is built, with its paths where the files are (working tree or export).
#[derive(Debug)]
enum Recipe {
    Dockerfile {
        dockerfile: PathBuf,
        target: Option<String>,
        args: BTreeMap<String, String>,
        /// The builder chosen for it; not part of the inputs digest.
        builder: BuilderKind,
    },
    Files(Box<NativeSpec>),
}

/// An image ready to build: source on disk, inputs digest, tag.
#[derive(Debug)]
struct Prepared<'c> {
    image: &'c Image,
    /// Keeps the exported `git-ref` alive until the build is done.
    _export: Option<Export>,
    context: PathBuf,
    recipe: Recipe,
    platform: Platform,
    inputs_digest: String,
    tag: String,
    commit: Option<String>,
    dirty: bool,
    labels: BTreeMap<String, String>,
    created: String,
}

impl Prepared<'_> {
    fn name(&self) -> &str {
        &self.image.name
    }

    fn reference(&self) -> String {
        format!("{}:{}", self.image.repository, self.tag)
    }

    fn inputs_tag(&self) -> String {
        inputs_tag(&self.inputs_digest)
    }
}

/// The content-addressed tag of an inputs digest: `inputs-<64 hex digits>`.
pub fn inputs_tag(inputs_digest: &str) -> String {
    format!(
        "{INPUTS_TAG_PREFIX}{}",
        inputs_digest.trim_start_matches("sha256:")
    )
}

fn prepare<'c>(
    config: &Config,
    image: &'c Image,
    git: &GitState,
    cwd: &Path,
    project_dir: &Path,
    options: &BuildOptions,
) -> Result<Prepared<'c>, Vec<Problem>> {
    let name = image.name.as_str();
    let problem = |message: String| Problem::new(Some(name), message);
    let platform = Platform {
        os: image.platform.os.clone(),
        architecture: image.platform.architecture.clone(),
        variant: image.platform.variant.clone(),
    };
    let abs = |p: &Path| normalize(&cwd.join(p));

    // Every path the build reads, as written in the model.
    let context_path = abs(&image.context);
    let mut paths = vec![context_path.clone()];
    match &image.build {
        ImageBuild::Dockerfile { dockerfile, .. } => paths.push(abs(dockerfile)),
        ImageBuild::Files(files) => paths.extend(files.copy.iter().map(|c| abs(&c.src))),
    }

    // Where they are: the working tree, or an export of the git ref.
    let (export, commit, branch, dirty, mapped) = match (&image.git_ref, &git.repo) {
        (Some(git_ref), Some(repo)) => {
            let commit = repo.resolve(git_ref).map_err(|e| {
                vec![problem(e.to_string())
                    .key(format!("images.{name}.git-ref"))
                    .hint("fetch it first (`git fetch`), or name a branch, tag or commit that exists")]
            })?;
            let top =
                std::fs::canonicalize(repo.top()).unwrap_or_else(|_| repo.top().to_path_buf());
            let real_project = std::fs::canonicalize(project_dir).map_err(|e| {
                vec![problem(format!(
                    "cannot read `{}`: {e}",
                    project_dir.display()
                ))]
            })?;
            let project_in_repo = real_project
                .strip_prefix(&top)
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let in_repo: Vec<PathBuf> = paths
                .iter()
                .map(|p| normalize(&project_in_repo.join(lexical_relative(p, project_dir))))
                .collect();
            if let Some(outside) = in_repo.iter().find(|p| p.starts_with("..")) {
                return Err(vec![
                    problem(format!(
                        "`{}` is outside the git repository",
                        outside.display()
                    ))
                    .key(format!("images.{name}.git-ref")),
                ]);
            }
            let mut dirs: Vec<PathBuf> = vec![in_repo[0].clone()];
            dirs.extend(
                in_repo[1..]
                    .iter()
                    .map(|p| p.parent().map(Path::to_path_buf).unwrap_or_default()),
            );
            let common = common_ancestor(&dirs);
            let subdir = (!common.as_os_str().is_empty()).then_some(common.as_path());
            let export = repo.export(&commit, subdir).map_err(|e| {
                vec![
                    problem(format!("{e} (from `{git_ref}`)"))
                        .key(format!("images.{name}.context")),
                ]
            })?;
            let mapped: Vec<PathBuf> = in_repo
                .iter()
                .map(|p| export.path().join(p.strip_prefix(&common).unwrap_or(p)))
                .collect();
            (
                Some(export),
                Some(commit.to_string()),
                Some(git_ref.clone()),
                false,
                mapped,
            )
        }
        _ => (None, git.head.clone(), git.branch.clone(), git.dirty, paths),
    };
    let context = mapped[0].clone();

    // Check and describe the build.
    let mut problems = Vec::new();
    let recipe = match &image.build {
        ImageBuild::Dockerfile { target, args, .. } => {
            let dockerfile = mapped[1].clone();
            let check = DockerfileBuild {
                context: context.clone(),
                dockerfile: dockerfile.clone(),
                target: target.clone(),
                platform: platform.clone(),
                build_args: args.clone(),
                labels: BTreeMap::new(),
                image: String::new(),
                no_cache: false,
            };
            if let Err(e) = buildah::check_dockerfile(&check) {
                let key = match e {
                    buildah::BuildahError::MissingTarget { .. } => "target",
                    _ => "dockerfile",
                };
                problems.push(problem(e.to_string()).key(format!("images.{name}.{key}")));
            }
            let builder = match dockerfile_builder(image, options) {
                Ok(builder) => builder,
                Err(p) => {
                    problems.push(p);
                    BuilderKind::Buildah
                }
            };
            Recipe::Dockerfile {
                dockerfile,
                target: target.clone(),
                args: args.clone(),
                builder,
            }
        }
        ImageBuild::Files(files) => {
            let mut spec = NativeSpec::new(
                if files.base == "scratch" {
                    Base::Scratch
                } else {
                    Base::Image(files.base.clone())
                },
                platform.clone(),
            );
            for (copy, src) in files.copy.iter().zip(&mapped[1..]) {
                if std::fs::symlink_metadata(src).is_err() {
                    problems.push(
                        problem(format!(
                            "copy source `{}` does not exist",
                            copy.src.display()
                        ))
                        .key(format!("images.{name}.files.copy")),
                    );
                }
                spec.copy.push(native::CopySpec {
                    src: src.clone(),
                    dest: copy.dest.clone(),
                });
            }
            spec.entrypoint = files.entrypoint.clone();
            spec.cmd = files.cmd.clone();
            spec.env = files
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            spec.workdir = files.workdir.clone();
            spec.user = files.user.clone();
            spec.labels = files.labels.clone();
            spec.expose = files.expose.iter().map(ToString::to_string).collect();
            Recipe::Files(Box::new(spec))
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }

    // The inputs digest.
    let inputs_digest = inputs_digest(image, &context, &recipe, &platform, project_dir)
        .map_err(|e| vec![problem(e)])?;

    // The tag.
    let tag_context = TagContext {
        time: options.now,
        git_sha: commit.clone(),
        git_short_sha: None,
        git_branch: branch,
        inputs_digest: Some(inputs_digest.clone()),
        ci_build_id: options.ci_build_id.clone(),
    };
    let tag = config
        .tag
        .render(&tag_context)
        .and_then(|tag| {
            let tag = if dirty { format!("{tag}-dirty") } else { tag };
            validate_tag(&tag).map(|()| tag)
        })
        .map_err(|e| {
            let mut p = problem(format!("tag template `{}`: {e}", config.tag)).key("tag");
            p.hint = e.hint();
            vec![p]
        })?;

    let created = native::rfc3339(u64::try_from(options.now).unwrap_or(0));
    let mut labels = image.labels.clone();
    if let Some(source) = &git.source {
        labels.insert(label::SOURCE.into(), source.clone());
    }
    if let Some(commit) = &commit {
        labels.insert(label::REVISION.into(), commit.clone());
    }
    labels.insert(label::CREATED.into(), created.clone());
    labels.insert(label::VERSION.into(), tag.clone());

    Ok(Prepared {
        image,
        _export: export,
        context,
        recipe,
        platform,
        inputs_digest,
        tag,
        commit,
        dirty,
        labels,
        created,
    })
}

/// The builder of a Dockerfile image, or why there is none: the one `builder` names,
/// or for `auto` the first of buildah, podman and docker found (see
/// [`BuilderKind::detect`]). docker is usable only when its daemon answers and buildx is
/// installed, which is checked here, before anything is built.
fn dockerfile_builder(image: &Image, options: &BuildOptions) -> Result<BuilderKind, Problem> {
    let name = image.name.as_str();
    let key = format!("images.{name}.builder");
    let found = |program: &str| {
        let path = options
            .search_path
            .clone()
            .or_else(|| std::env::var_os("PATH"));
        path.is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
    };
    let missing = |program: &str, hint: &str| {
        Problem::new(Some(name), format!("`{program}` is not installed"))
            .key(key.clone())
            .hint(hint.to_owned())
    };
    let kind = match image.builder {
        Builder::Buildah => BuilderKind::Buildah,
        Builder::Podman => BuilderKind::Podman,
        Builder::Docker => BuilderKind::Docker,
        Builder::Native => {
            return Err(Problem::new(
                Some(name),
                "`builder: native` builds only `files` images, not a Dockerfile".to_owned(),
            )
            .key(key)
            .hint("use `builder: auto`, `buildah`, `podman` or `docker`, or describe the image with `files`"));
        }
        Builder::Auto => match options.search_path.as_deref() {
            Some(path) => BuilderKind::detect_in(Some(path)),
            None => BuilderKind::detect(),
        },
    };
    match kind {
        BuilderKind::Buildah | BuilderKind::Podman | BuilderKind::Docker
            if !found(kind.program()) =>
        {
            Err(missing(kind.program(), kind.install_hint()))
        }
        BuilderKind::Docker => match docker::check_engine(&options.docker) {
            Ok(()) => Ok(BuilderKind::Docker),
            Err(docker::DockerError::Interrupted) => Err(interrupted_image(name)),
            Err(e) => {
                let message = if image.builder == Builder::Auto {
                    format!(
                        "`builder: auto` chose docker, the only Dockerfile builder found, but {e}"
                    )
                } else {
                    e.to_string()
                };
                Err(Problem::new(Some(name), message).key(key))
            }
        },
        BuilderKind::Native => Err(Problem::new(
            Some(name),
            "no Dockerfile builder is installed (buildah, podman or docker)".to_owned(),
        )
        .key(key)
        .hint("install buildah (Debian, Ubuntu: `apt-get install buildah`) to build Dockerfiles")),
        kind => Ok(kind),
    }
}

/// The digest of everything the image depends on. Image labels are part of the recipe;
/// slipway's own `.slipway` directory never is.
fn inputs_digest(
    image: &Image,
    context: &Path,
    recipe: &Recipe,
    platform: &Platform,
    project_dir: &Path,
) -> Result<String, String> {
    let state_dir = project_dir.join(STATE_DIR);
    let excluded = state_dir
        .strip_prefix(context)
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let extra: Vec<&str> = excluded.iter().map(String::as_str).collect();
    let labels = serde_json::to_string(&image.labels).expect("labels serialize");
    let (inputs, bytes) = match recipe {
        Recipe::Dockerfile {
            dockerfile,
            target,
            args,
            ..
        } => {
            let mut bytes = std::fs::read(dockerfile)
                .map_err(|e| format!("cannot read `{}`: {e}", dockerfile.display()))?;
            if !image.labels.is_empty() {
                bytes.extend_from_slice(b"\0slipway-labels:");
                bytes.extend_from_slice(labels.as_bytes());
            }
            let inputs = BuildInputs {
                context: context.to_path_buf(),
                dockerfile: dockerfile.clone(),
                build_args: args.clone(),
                target: target.clone(),
                platform: platform.clone(),
                base: None,
            };
            (inputs, bytes)
        }
        Recipe::Files(spec) => {
            let base = match &spec.base {
                Base::Scratch => None,
                Base::Image(reference) => Some(reference.clone()),
            };
            let inputs = BuildInputs {
                context: context.to_path_buf(),
                dockerfile: context.join("Dockerfile"),
                build_args: BTreeMap::new(),
                target: None,
                platform: platform.clone(),
                base,
            };
            (inputs, files_recipe(spec, context, &labels).into_bytes())
        }
    };
    digest_with_recipe(&inputs, &bytes, &extra)
        .map(|d| d.to_string())
        .map_err(|e| e.to_string())
}

/// A canonical text of a `files` image's spec, with copy sources relative to the context.
fn files_recipe(spec: &NativeSpec, context: &Path, image_labels: &str) -> String {
    let copy: Vec<serde_json::Value> = spec
        .copy
        .iter()
        .map(|c| {
            serde_json::json!({
                "src": lexical_relative(&c.src, context).to_string_lossy(),
                "dest": c.dest,
            })
        })
        .collect();
    serde_json::json!({
        "slipway-files": 1,
        "copy": copy,
        "entrypoint": spec.entrypoint,
        "cmd": spec.cmd,
        "env": spec.env,
        "workdir": spec.workdir,
        "user": spec.user,
        "labels": spec.labels,
        "image-labels": image_labels,
        "expose": spec.expose,
    })
    .to_string()
}

/// Lexically cleans a path: removes `.`, resolves `..` against earlier components.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `base` (both cleaned, both absolute or both relative), with `..`
/// where `path` is not below `base`.
pub fn lexical_relative(path: &Path, base: &Path) -> PathBuf {
    let path = normalize(path);
    let base = normalize(base);
    let path_parts: Vec<Component<'_>> = path.components().collect();
    let base_parts: Vec<Component<'_>> = base.components().collect();
    let shared = path_parts
        .iter()
        .zip(&base_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in shared..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[shared..] {
        out.push(part);
    }
    out
}

/// The longest directory every path starts with (empty for the top).
fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::new();
    };
    let mut common: Vec<Component<'_>> = first.components().collect();
    for path in &paths[1..] {
        let shared = common
            .iter()
            .zip(path.components())
            .take_while(|(a, b)| **a == *b)
            .count();
        common.truncate(shared);
    }
    common.iter().collect()
}

// ---------------------------------------------------------------------------------------
// Phase 2: registries.

/// The registry client with the credentials of every registry the build talks to.
struct Registries {
    client: RegistryClient,
    credentials: HashMap<String, Credentials>,
    insecure: Vec<String>,
}

/// The registry host of a repository (`host:port/path` → `host:port`).
pub fn registry_host(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

impl Registries {
    fn new(config: &Config, images: &[Prepared<'_>], push: bool) -> Result<Registries, BuildError> {
        let mut hosts = BTreeSet::new();
        for image in images {
            if push {
                hosts.insert(registry_host(&image.image.repository).to_owned());
            }
            if let Recipe::Files(spec) = &image.recipe
                && let Base::Image(base) = &spec.base
            {
                hosts.insert(registry_host(base).to_owned());
            }
        }
        let insecure: Vec<String> = config
            .registries
            .iter()
            .filter(|(_, s)| s.insecure)
            .map(|(h, _)| h.clone())
            .collect();
        let mut credentials = HashMap::new();
        let mut problems = Vec::new();
        for host in &hosts {
            match credentials_for(config, host) {
                Ok(Some(c)) => {
                    credentials.insert(host.clone(), c);
                }
                Ok(None) => {}
                Err(p) => problems.push(p),
            }
        }
        if !problems.is_empty() {
            return Err(BuildError::new(FailureKind::Input, problems));
        }
        let mut client = RegistryClient::new(ClientOptions {
            insecure_hosts: insecure.clone(),
        });
        for (host, c) in &credentials {
            client = client.with_credentials(host, c.clone());
        }
        Ok(Registries {
            client,
            credentials,
            insecure,
        })
    }
}

/// The credentials for `host` from its `registries.<host>.credentials` setting.
pub(crate) fn credentials_for(config: &Config, host: &str) -> Result<Option<Credentials>, Problem> {
    use slipway_config::Credentials as Source;
    let key = format!("registries.{host}.credentials");
    let problem = |message: String| Problem::new(None, message).key(key.clone());
    match config.registry_settings(host).credentials {
        Source::DockerConfig => {
            let Some(path) = DockerConfig::default_path() else {
                return Ok(None);
            };
            let docker = DockerConfig::load(&path).map_err(|e| problem(e.to_string()))?;
            docker
                .credentials_for(host, None)
                .map_err(|e| problem(e.to_string()))
        }
        Source::Env => match Credentials::from_env() {
            Ok(Some(c)) => Ok(Some(c)),
            Ok(None) => Err(problem(format!(
                "registry `{host}` takes its credentials from the environment, but `{}` and `{}` are not set",
                crate::credentials::USERNAME_ENV,
                crate::credentials::PASSWORD_ENV
            ))),
            Err(e) => Err(problem(e.to_string())),
        },
        Source::File(path) => {
            let path = match path.strip_prefix("~") {
                Ok(rest) => std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(rest))
                    .unwrap_or(path.clone()),
                Err(_) => path.clone(),
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| problem(format!("cannot read `{}`: {e}", path.display())))?;
            credentials_from_text(&text)
                .map(Some)
                .ok_or_else(|| problem(format!("`{}` holds no credentials", path.display())))
        }
        Source::Stdin => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| problem(format!("cannot read standard input: {e}")))?;
            credentials_from_text(&text)
                .map(Some)
                .ok_or_else(|| problem("standard input holds no credentials".to_owned()))
        }
    }
}

/// The first line of a credentials file or stdin: `user:password`, or a token alone.
pub fn credentials_from_text(text: &str) -> Option<Credentials> {
    let line = text.lines().next()?.trim_end_matches('\r');
    if line.is_empty() {
        return None;
    }
    Some(match line.split_once(':') {
        Some((user, password)) if !user.is_empty() => Credentials::new(user, password),
        _ => Credentials::new("00000000-0000-0000-0000-000000000000", line),
    })
}

fn registry_problem(image: &str, error: &RegistryError) -> (FailureKind, Problem) {
    let problem = Problem::new(Some(image), error.to_string()).key("registry");
    match error {
        RegistryError::Unreachable { .. } => (
            FailureKind::Registry,
            problem.hint("check the registry's address in `slipway.yaml` and that it is running"),
        ),
        RegistryError::Unauthorized { registry } => (
            FailureKind::Registry,
            problem.hint(format!(
                "check the credentials of `{registry}` (`registries.{registry}.credentials` in `slipway.yaml`)"
            )),
        ),
        RegistryError::Protocol { .. } => (FailureKind::Registry, problem),
        RegistryError::InvalidReference { .. }
        | RegistryError::ManifestUnknown { .. }
        | RegistryError::Base(_) => (FailureKind::Input, problem),
    }
}

/// Looks up every image's inputs tag; `None` where it does not exist (or when not
/// pushing). Every registry is asked before anything is built.
async fn lookup_inputs_tags(
    client: &RegistryClient,
    images: &[Prepared<'_>],
    options: &BuildOptions,
) -> Result<Vec<Option<String>>, BuildError> {
    if !options.push {
        return Ok(vec![None; images.len()]);
    }
    let lookups = images.iter().map(|image| {
        let reference = format!("{}:{}", image.image.repository, image.inputs_tag());
        async move { client.resolve(&reference).await }
    });
    let results = join_all(lookups).await;
    let mut found = Vec::new();
    let mut failures: Vec<(FailureKind, Problem)> = Vec::new();
    for (image, result) in images.iter().zip(results) {
        match result {
            Ok(digest) => found.push(Some(digest)),
            Err(RegistryError::ManifestUnknown { .. }) => found.push(None),
            Err(e) => {
                failures.push(registry_problem(image.name(), &e));
                found.push(None);
            }
        }
    }
    fail_on(failures)?;
    Ok(found)
}

fn fail_on(failures: Vec<(FailureKind, Problem)>) -> Result<(), BuildError> {
    if failures.is_empty() {
        return Ok(());
    }
    let kind = if failures.iter().any(|(k, _)| *k == FailureKind::Input) {
        FailureKind::Input
    } else {
        failures[0].0
    };
    Err(BuildError::new(
        kind,
        failures.into_iter().map(|(_, p)| p).collect(),
    ))
}

/// Runs futures concurrently on the current task and collects their outputs in order.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// The entry of an image that is reused: the previous entry when it describes the same
/// image, else what the image's labels say.
async fn reused_artifact(
    client: &RegistryClient,
    image: &Prepared<'_>,
    digest: &str,
    previous: &Artifacts,
) -> ImageArtifact {
    let repository = &image.image.repository;
    if let Some(entry) = previous.images.iter().find(|e| {
        e.name == image.image.name
            && &e.repository == repository
            && e.inputs_digest == image.inputs_digest
            && e.digest.as_deref() == Some(digest)
            && e.pushed
            && !e.dirty
    }) {
        return ImageArtifact {
            built: false,
            git_ref: image.image.git_ref.clone(),
            ..entry.clone()
        };
    }
    let labels = image_labels(client, &format!("{repository}@{digest}"))
        .await
        .unwrap_or_default();
    let tag = labels
        .get(label::VERSION)
        .filter(|t| validate_tag(t).is_ok())
        .cloned()
        .unwrap_or_else(|| image.inputs_tag());
    ImageArtifact {
        name: image.image.name.clone(),
        reference: format!("{repository}:{tag}@{digest}"),
        repository: repository.clone(),
        tag,
        digest: Some(digest.to_owned()),
        inputs_digest: image.inputs_digest.clone(),
        git_commit: labels.get(label::REVISION).cloned(),
        git_ref: image.image.git_ref.clone(),
        dirty: false,
        built: false,
        pushed: true,
        platform: image.platform.to_string(),
        created: labels.get(label::CREATED).cloned().unwrap_or_default(),
    }
}

/// Points each of `tags` in `repository` at the manifest `digest` (of a skipped image),
/// so that a tag such as `latest` follows the latest build even when nothing was
/// rebuilt. The manifest is copied within the registry (pulled by digest, pushed under
/// the tag); a tag that already points there is left as it is.
async fn move_tags(
    client: &RegistryClient,
    repository: &str,
    digest: &str,
    tags: &[String],
) -> Result<(), RegistryError> {
    let mut manifest: Option<(Vec<u8>, String)> = None;
    for tag in tags {
        let reference = format!("{repository}:{tag}");
        match client.resolve(&reference).await {
            Ok(current) if current == digest => continue,
            Ok(_) | Err(RegistryError::ManifestUnknown { .. }) => {}
            Err(e) => return Err(e),
        }
        if manifest.is_none() {
            let (bytes, _) = client
                .pull_manifest(&format!("{repository}@{digest}"))
                .await?;
            let media = manifest_media_type(&bytes);
            manifest = Some((bytes, media));
        }
        if let Some((bytes, media)) = &manifest {
            client.push_manifest(&reference, bytes, media).await?;
        }
    }
    Ok(())
}

/// The `mediaType` a manifest declares, else the OCI image manifest's.
fn manifest_media_type(manifest: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(manifest)
        .ok()
        .and_then(|m| m["mediaType"].as_str().map(str::to_owned))
        .unwrap_or_else(|| media_type::MANIFEST.to_owned())
}

/// The labels of the image config `reference` points at.
async fn image_labels(
    client: &RegistryClient,
    reference: &str,
) -> Result<BTreeMap<String, String>, RegistryError> {
    let (manifest, _) = client.pull_manifest(reference).await?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap_or_default();
    let Some(config) = manifest.pointer("/config/digest").and_then(|d| d.as_str()) else {
        return Ok(BTreeMap::new());
    };
    let config = client.pull_blob(reference, config).await?;
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap_or_default();
    Ok(config
        .pointer("/config/Labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default())
}

/// Fetches the base image of each `files` image that will be built.
async fn fetch_bases(
    client: &RegistryClient,
    images: &[Prepared<'_>],
    to_build: &[usize],
) -> Result<HashMap<usize, BaseImage>, BuildError> {
    let wanted: Vec<(usize, &str, &Platform)> = to_build
        .iter()
        .filter_map(|&i| match &images[i].recipe {
            Recipe::Files(spec) => match &spec.base {
                Base::Image(base) => Some((i, base.as_str(), &spec.platform)),
                Base::Scratch => None,
            },
            Recipe::Dockerfile { .. } => None,
        })
        .collect();
    let results = join_all(
        wanted
            .iter()
            .map(|(_, base, platform)| client.fetch_base(base, platform)),
    )
    .await;
    let mut bases = HashMap::new();
    let mut failures = Vec::new();
    for ((index, _, _), result) in wanted.iter().zip(results) {
        match result {
            Ok(base) => {
                bases.insert(*index, base);
            }
            Err(e) => {
                let (kind, problem) = registry_problem(images[*index].name(), &e);
                let problem = problem.key(format!("images.{}.files.base", images[*index].name()));
                failures.push((kind, problem));
            }
        }
    }
    fail_on(failures)?;
    Ok(bases)
}

// ---------------------------------------------------------------------------------------
// Phase 4: builds.

struct BuildContext<'a> {
    config: &'a Config,
    options: &'a BuildOptions,
    registries: &'a Registries,
    runtime: &'a tokio::runtime::Runtime,
    progress: &'a (dyn Fn(Event<'_>) + Sync),
    project_dir: &'a Path,
}

/// Builds the images `to_build` on `concurrency` threads; fills `results`; returns the
/// failures. After a failure no new build starts.
fn build_all(
    context: &BuildContext<'_>,
    images: &[Prepared<'_>],
    bases: &HashMap<usize, BaseImage>,
    to_build: &[usize],
    results: &mut [Option<ImageArtifact>],
) -> Vec<Problem> {
    let queue = Mutex::new(
        to_build
            .iter()
            .copied()
            .collect::<std::collections::VecDeque<_>>(),
    );
    let done: Mutex<Vec<(usize, Result<ImageArtifact, Problem>)>> = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    let workers = context.options.concurrency.clamp(1, to_build.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::SeqCst) || interrupt::requested() {
                        break;
                    }
                    let Some(index) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
                    else {
                        break;
                    };
                    let image = &images[index];
                    let reference = image.reference();
                    (context.progress)(Event::Started {
                        image: image.name(),
                        reference: &reference,
                    });
                    let started = Instant::now();
                    let result = build_one(context, image, bases.get(&index));
                    match &result {
                        Ok(artifact) => (context.progress)(Event::Built {
                            artifact,
                            elapsed: started.elapsed(),
                        }),
                        // An interrupted build is no failure to show.
                        Err(_) if interrupt::requested() => {}
                        Err(problem) => {
                            failed.store(true, Ordering::SeqCst);
                            (context.progress)(Event::Failed {
                                image: image.name(),
                                message: &problem.message,
                            });
                        }
                    }
                    done.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((index, result));
                }
            });
        }
    });
    let mut failures = Vec::new();
    for (index, result) in done.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match result {
            Ok(artifact) => results[index] = Some(artifact),
            Err(problem) => failures.push(problem),
        }
    }
    failures
}

fn build_one(
    context: &BuildContext<'_>,
    image: &Prepared<'_>,
    base: Option<&BaseImage>,
) -> Result<ImageArtifact, Problem> {
    let name = image.name();
    let repository = &image.image.repository;
    let reference = image.reference();
    let push = context.options.push;
    let client = &context.registries.client;
    let registry_error = |e: RegistryError| registry_problem(name, &e).1;
    let mut extra_tags: Vec<String> = context.config.extra_tags.clone();
    if !image.dirty {
        extra_tags.push(image.inputs_tag());
    }

    let digest = match &image.recipe {
        Recipe::Files(spec) => {
            let mut spec = NativeSpec::clone(spec);
            spec.labels.extend(image.labels.clone());
            let built =
                native::build(&spec, base).map_err(|e| Problem::new(Some(name), e.to_string()))?;
            if interrupt::requested() {
                return Err(interrupted_image(name));
            }
            if push {
                context
                    .runtime
                    .block_on(client.push_image(&reference, &built))
                    .map_err(registry_error)?;
                for tag in &extra_tags {
                    context
                        .runtime
                        .block_on(client.push_manifest(
                            &format!("{repository}:{tag}"),
                            &built.manifest.data,
                            media_type::MANIFEST,
                        ))
                        .map_err(registry_error)?;
                }
            } else {
                let dir = context
                    .project_dir
                    .join(STATE_DIR)
                    .join("images")
                    .join(name);
                let _ = std::fs::remove_dir_all(&dir);
                native::write_oci_layout(&built, &dir, &image.tag).map_err(|e| {
                    Problem::new(Some(name), e.to_string())
                        .hint("an image on a base image can only be kept by pushing it; build without `--no-push`")
                })?;
            }
            Some(built.digest().to_owned())
        }
        Recipe::Dockerfile {
            dockerfile,
            target,
            args,
            builder,
        } => {
            let build = DockerfileBuild {
                context: image.context.clone(),
                dockerfile: dockerfile.clone(),
                target: target.clone(),
                platform: image.platform.clone(),
                build_args: args.clone(),
                labels: image.labels.clone(),
                image: reference.clone(),
                no_cache: context.options.no_cache,
            };
            let credentials = context
                .registries
                .credentials
                .get(registry_host(repository));
            let prefix = format!("{reference}: ");
            let mut sink = |line: &str| {
                let line = line.strip_prefix(&prefix).unwrap_or(line);
                (context.progress)(Event::Output { image: name, line });
            };
            let built =
                run_dockerfile_builder(*builder, &build, context, credentials, push, &mut sink)
                    .map_err(|e| match e {
                        None => interrupted_image(name),
                        Some(message) => Problem::new(Some(name), message),
                    })?;
            if let Some(digest) = &built {
                if interrupt::requested() {
                    return Err(interrupted_image(name));
                }
                if !extra_tags.is_empty() {
                    let (manifest, _) = context
                        .runtime
                        .block_on(client.pull_manifest(&format!("{repository}@{digest}")))
                        .map_err(registry_error)?;
                    let media = manifest_media_type(&manifest);
                    for tag in &extra_tags {
                        context
                            .runtime
                            .block_on(client.push_manifest(
                                &format!("{repository}:{tag}"),
                                &manifest,
                                &media,
                            ))
                            .map_err(registry_error)?;
                    }
                }
            }
            built
        }
    };
    let digest = digest.filter(|_| push || matches!(image.recipe, Recipe::Files(_)));
    Ok(ImageArtifact {
        name: name.to_owned(),
        reference: match (&digest, push) {
            (Some(d), true) => format!("{reference}@{d}"),
            _ => reference.clone(),
        },
        repository: repository.clone(),
        tag: image.tag.clone(),
        digest,
        inputs_digest: image.inputs_digest.clone(),
        git_commit: image.commit.clone(),
        git_ref: image.image.git_ref.clone(),
        dirty: image.dirty,
        built: true,
        pushed: push,
        platform: image.platform.to_string(),
        created: image.created.clone(),
    })
}

/// Builds a Dockerfile image with `builder`, and pushes it when `push`: the pushed
/// digest, or `None` without a push. The error is `None` when interrupted, else the
/// builder's message.
fn run_dockerfile_builder(
    builder: BuilderKind,
    build: &DockerfileBuild,
    context: &BuildContext<'_>,
    credentials: Option<&Credentials>,
    push: bool,
    sink: &mut dyn FnMut(&str),
) -> Result<Option<String>, Option<String>> {
    let builder = context
        .options
        .dockerfile_builder(builder, context.registries.insecure.iter().cloned());
    let built = if push {
        builder.build_and_push(build, credentials, sink).map(Some)
    } else {
        builder.build(build, credentials, sink).map(|()| None)
    };
    built.map_err(|failure| match failure {
        BuildFailure::Interrupted => None,
        BuildFailure::Failed(message) => Some(message),
    })
}

// ---------------------------------------------------------------------------------------
// artifacts.json

/// Reads `artifacts.json`; an absent file is empty. A file that cannot be understood is
/// an error message (the caller warns and starts afresh).
///
/// # Errors
/// A message naming the file when it is unreadable, invalid or of another version.
pub fn read_artifacts(path: &Path) -> Result<Artifacts, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Artifacts {
                version: ARTIFACTS_VERSION,
                images: Vec::new(),
            });
        }
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let artifacts: Artifacts = serde_json::from_slice(&bytes)
        .map_err(|e| format!("ignoring `{}`: {e}", path.display()))?;
    if artifacts.version != ARTIFACTS_VERSION {
        return Err(format!(
            "ignoring `{}`: format version {} is not {ARTIFACTS_VERSION}",
            path.display(),
            artifacts.version
        ));
    }
    Ok(artifacts)
}

/// `previous` with the entries of `this_run` replacing those of the same name, in
/// `slipway.yaml` order (entries of images no longer in the file last, by name).
pub fn merge(previous: Artifacts, this_run: &[ImageArtifact], config: &Config) -> Artifacts {
    let mut by_name: BTreeMap<String, ImageArtifact> = previous
        .images
        .into_iter()
        .map(|a| (a.name.clone(), a))
        .collect();
    for artifact in this_run {
        by_name.insert(artifact.name.clone(), artifact.clone());
    }
    let position = |name: &str| {
        config
            .images
            .iter()
            .position(|i| i.name == name)
            .unwrap_or(usize::MAX)
    };
    let mut images: Vec<ImageArtifact> = by_name.into_values().collect();
    images.sort_by(|a, b| {
        position(&a.name)
            .cmp(&position(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    Artifacts {
        version: ARTIFACTS_VERSION,
        images,
    }
}

/// Writes `artifacts` to `path` atomically (a temporary file in the same directory,
/// renamed). The first write also puts a `.gitignore` with `*` into `.slipway/`, so the
/// directory never makes the working tree dirty.
///
/// # Errors
/// A message naming the file.
pub fn write_artifacts(path: &Path, artifacts: &Artifacts) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| format!("cannot write `{}`: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let gitignore = dir.join(".gitignore");
    if !gitignore.exists() {
        std::fs::write(
            &gitignore,
            "# written by slipway: nothing here belongs in git\n*\n",
        )
        .map_err(fail)?;
    }
    let mut file = tempfile::Builder::new()
        .prefix(".artifacts-")
        .tempfile_in(dir)
        .map_err(fail)?;
    let mut text = serde_json::to_string_pretty(artifacts).expect("artifacts serialize");
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
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

//! Phase 1: sources and inputs — the git state, each image's source, checks, inputs digest
//! and tag, all before any network.

use super::*;

/// What git says about the project, read once.
pub(super) struct GitState {
    pub(super) repo: Option<Repository>,
    /// `HEAD`, when the working tree is a repository with commits.
    pub(super) head: Option<String>,
    pub(super) branch: Option<String>,
    pub(super) dirty: bool,
    pub(super) source: Option<String>,
}

pub(super) fn open_git(
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
pub(super) enum Recipe {
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
pub(super) struct Prepared<'c> {
    pub(super) image: &'c Image,
    /// Keeps the exported `git-ref` alive until the build is done.
    pub(super) _export: Option<Export>,
    pub(super) context: PathBuf,
    pub(super) recipe: Recipe,
    pub(super) platform: Platform,
    pub(super) inputs_digest: String,
    pub(super) tag: String,
    pub(super) commit: Option<String>,
    pub(super) dirty: bool,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) created: String,
}

impl Prepared<'_> {
    pub(super) fn name(&self) -> &str {
        &self.image.name
    }

    pub(super) fn reference(&self) -> String {
        format!("{}:{}", self.image.repository, self.tag)
    }

    pub(super) fn inputs_tag(&self) -> String {
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

pub(super) fn prepare<'c>(
    config: &Config,
    image: &'c Image,
    git: &GitState,
    cwd: &Path,
    project_dir: &Path,
    options: &BuildOptions,
) -> Result<Prepared<'c>, Vec<Problem>> {
    let name = image.name.as_str();
    let platform = Platform {
        os: image.platform.os.clone(),
        architecture: image.platform.architecture.clone(),
        variant: image.platform.variant.clone(),
    };
    let abs = |p: &Path| normalize(&cwd.join(p));

    // Every path the build reads, as written in the model: the context first.
    let mut paths = vec![abs(&image.context)];
    match &image.build {
        ImageBuild::Dockerfile { dockerfile, .. } => paths.push(abs(dockerfile)),
        ImageBuild::Files(files) => paths.extend(files.copy.iter().map(|c| abs(&c.src))),
    }
    let located = locate(image, git, paths, project_dir)?;
    let context = located.paths[0].clone();
    let recipe = recipe(image, options, &located.paths, &platform)?;
    let inputs_digest = inputs_digest(image, &context, &recipe, &platform, project_dir)
        .map_err(|e| vec![Problem::new(Some(name), e)])?;
    let tag = tag(config, options, name, &located, &inputs_digest)?;

    let created = native::rfc3339(u64::try_from(options.now).unwrap_or(0));
    let mut labels = image.labels.clone();
    if let Some(source) = &git.source {
        labels.insert(label::SOURCE.into(), source.clone());
    }
    if let Some(commit) = &located.commit {
        labels.insert(label::REVISION.into(), commit.clone());
    }
    labels.insert(label::CREATED.into(), created.clone());
    labels.insert(label::VERSION.into(), tag.clone());

    Ok(Prepared {
        image,
        _export: located.export,
        context,
        recipe,
        platform,
        inputs_digest,
        tag,
        commit: located.commit,
        dirty: located.dirty,
        labels,
        created,
    })
}

/// Where an image's build reads its files: the working tree, or an export of its
/// `git-ref`.
struct Located {
    /// The export the paths are in, removed when dropped.
    export: Option<Export>,
    commit: Option<String>,
    branch: Option<String>,
    dirty: bool,
    /// The paths the build reads (the context first), where they are now.
    paths: Vec<PathBuf>,
}

/// Finds the files of `paths` (as written in the model): in the working tree, or for an
/// image with a `git-ref` in an export of that commit holding just the directories they
/// are in.
fn locate(
    image: &Image,
    git: &GitState,
    paths: Vec<PathBuf>,
    project_dir: &Path,
) -> Result<Located, Vec<Problem>> {
    let name = image.name.as_str();
    let problem = |message: String| Problem::new(Some(name), message);
    let (Some(git_ref), Some(repo)) = (&image.git_ref, &git.repo) else {
        return Ok(Located {
            export: None,
            commit: git.head.clone(),
            branch: git.branch.clone(),
            dirty: git.dirty,
            paths,
        });
    };
    let commit = repo.resolve(git_ref).map_err(|e| {
        vec![
            problem(e.to_string())
                .key(format!("images.{name}.git-ref"))
                .hint("fetch it first (`git fetch`), or name a branch, tag or commit that exists"),
        ]
    })?;
    let top = std::fs::canonicalize(repo.top()).unwrap_or_else(|_| repo.top().to_path_buf());
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
        vec![problem(format!("{e} (from `{git_ref}`)")).key(format!("images.{name}.context"))]
    })?;
    let paths = in_repo
        .iter()
        .map(|p| export.path().join(p.strip_prefix(&common).unwrap_or(p)))
        .collect();
    Ok(Located {
        export: Some(export),
        commit: Some(commit.to_string()),
        branch: Some(git_ref.clone()),
        dirty: false,
        paths,
    })
}

/// How the image is built from the files at `paths` (as [`locate`] found them),
/// checked: the Dockerfile and its target, and the builder; or the files to copy.
fn recipe(
    image: &Image,
    options: &BuildOptions,
    paths: &[PathBuf],
    platform: &Platform,
) -> Result<Recipe, Vec<Problem>> {
    let name = image.name.as_str();
    let problem = |message: String| Problem::new(Some(name), message);
    let mut problems = Vec::new();
    let recipe = match &image.build {
        ImageBuild::Dockerfile { target, args, .. } => {
            let dockerfile = paths[1].clone();
            let check = DockerfileBuild {
                context: paths[0].clone(),
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
            for (copy, src) in files.copy.iter().zip(&paths[1..]) {
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
    if problems.is_empty() {
        Ok(recipe)
    } else {
        Err(problems)
    }
}

/// The tag of image `name`, from the project's tag template (`-dirty` added for a
/// working tree with uncommitted changes).
fn tag(
    config: &Config,
    options: &BuildOptions,
    name: &str,
    located: &Located,
    inputs_digest: &str,
) -> Result<String, Vec<Problem>> {
    let tag_context = TagContext {
        time: options.now,
        git_sha: located.commit.clone(),
        git_short_sha: None,
        git_branch: located.branch.clone(),
        inputs_digest: Some(inputs_digest.to_owned()),
        ci_build_id: options.ci_build_id.clone(),
    };
    config
        .tag
        .render(&tag_context)
        .and_then(|tag| {
            let tag = if located.dirty {
                format!("{tag}-dirty")
            } else {
                tag
            };
            validate_tag(&tag).map(|()| tag)
        })
        .map_err(|e| {
            let mut p =
                Problem::new(Some(name), format!("tag template `{}`: {e}", config.tag)).key("tag");
            p.hint = e.hint();
            vec![p]
        })
}

/// The builder of a Dockerfile image, or why there is none: the one `builder` names,
/// or for `auto` the first of buildah, podman and docker found (see
/// [`BuilderKind::detect`]). docker is usable only when its daemon answers and buildx is
/// installed, which is checked here, before anything is built.
pub(super) fn dockerfile_builder(
    image: &Image,
    options: &BuildOptions,
) -> Result<BuilderKind, Problem> {
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
pub(super) fn inputs_digest(
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
pub(super) fn files_recipe(spec: &NativeSpec, context: &Path, image_labels: &str) -> String {
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
pub(super) fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
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

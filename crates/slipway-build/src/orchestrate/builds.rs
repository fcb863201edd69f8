//! Phase 4: builds, in parallel and bounded by `concurrency`, then their pushes.

use super::*;

/// What the builds share with each other (and with the reuse of unchanged images in
/// phase 3).
pub(super) struct BuildContext<'a> {
    pub(super) config: &'a Config,
    pub(super) options: &'a BuildOptions,
    pub(super) registries: &'a Registries,
    pub(super) runtime: &'a tokio::runtime::Runtime,
    pub(super) progress: &'a (dyn Fn(Event<'_>) + Sync),
    pub(super) project_dir: &'a Path,
}

/// Builds the images `to_build` on `concurrency` threads; fills `results`; returns the
/// failures. After a failure no new build starts.
pub(super) fn build_all(
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

/// Builds one image by its recipe, pushes it with its extra tags (and its inputs tag,
/// unless dirty) when pushing, and returns its entry.
pub(super) fn build_one(
    context: &BuildContext<'_>,
    image: &Prepared<'_>,
    base: Option<&BaseImage>,
) -> Result<ImageArtifact, Problem> {
    let mut extra_tags: Vec<String> = context.config.extra_tags.clone();
    if !image.dirty {
        extra_tags.push(image.inputs_tag());
    }
    let digest = match &image.recipe {
        Recipe::Files(spec) => build_files(context, image, spec, base, &extra_tags)?,
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
                image: image.reference(),
                no_cache: context.options.no_cache,
            };
            build_dockerfile(context, image, &build, *builder, &extra_tags)?
        }
    };
    let push = context.options.push;
    let digest = digest.filter(|_| push || matches!(image.recipe, Recipe::Files(_)));
    Ok(built_artifact(image, digest, push))
}

/// Builds a `files` image with the native builder on `base`, then pushes it under its
/// tag and `extra_tags`, or without a push keeps it in `.slipway/images/<name>/`. The
/// manifest digest.
fn build_files(
    context: &BuildContext<'_>,
    image: &Prepared<'_>,
    spec: &NativeSpec,
    base: Option<&BaseImage>,
    extra_tags: &[String],
) -> Result<Option<String>, Problem> {
    let name = image.name();
    let mut spec = NativeSpec::clone(spec);
    spec.labels.extend(image.labels.clone());
    let built = native::build(&spec, base).map_err(|e| Problem::new(Some(name), e.to_string()))?;
    if interrupt::requested() {
        return Err(interrupted_image(name));
    }
    if context.options.push {
        push_native(context, image, &built, extra_tags)?;
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
    Ok(Some(built.digest().to_owned()))
}

/// Pushes a natively built image under its tag, then its manifest under each of
/// `extra_tags`.
fn push_native(
    context: &BuildContext<'_>,
    image: &Prepared<'_>,
    built: &native::OciImage,
    extra_tags: &[String],
) -> Result<(), Problem> {
    let client = &context.registries.client;
    let repository = &image.image.repository;
    let registry_error = |e: RegistryError| registry_problem(image.name(), &e).1;
    context
        .runtime
        .block_on(client.push_image(&image.reference(), built))
        .map_err(registry_error)?;
    for tag in extra_tags {
        context
            .runtime
            .block_on(client.push_manifest(
                &format!("{repository}:{tag}"),
                &built.manifest.data,
                media_type::MANIFEST,
            ))
            .map_err(registry_error)?;
    }
    Ok(())
}

/// Builds a Dockerfile image with `builder`, its output lines reported as the image's,
/// and when it was pushed tags it with `extra_tags`. The pushed digest, `None` without
/// a push.
fn build_dockerfile(
    context: &BuildContext<'_>,
    image: &Prepared<'_>,
    build: &DockerfileBuild,
    builder: BuilderKind,
    extra_tags: &[String],
) -> Result<Option<String>, Problem> {
    let name = image.name();
    let credentials = context
        .registries
        .credentials
        .get(registry_host(&image.image.repository));
    let prefix = format!("{}: ", build.image);
    let mut sink = |line: &str| {
        let line = line.strip_prefix(&prefix).unwrap_or(line);
        (context.progress)(Event::Output { image: name, line });
    };
    let push = context.options.push;
    let built = run_dockerfile_builder(builder, build, context, credentials, push, &mut sink)
        .map_err(|e| match e {
            None => interrupted_image(name),
            Some(message) => Problem::new(Some(name), message),
        })?;
    if let Some(digest) = &built {
        if interrupt::requested() {
            return Err(interrupted_image(name));
        }
        if !extra_tags.is_empty() {
            tag_pushed(context, image, digest, extra_tags)?;
        }
    }
    Ok(built)
}

/// Pushes the manifest `digest` of a pushed image again under each of `extra_tags`.
fn tag_pushed(
    context: &BuildContext<'_>,
    image: &Prepared<'_>,
    digest: &str,
    extra_tags: &[String],
) -> Result<(), Problem> {
    let client = &context.registries.client;
    let repository = &image.image.repository;
    let registry_error = |e: RegistryError| registry_problem(image.name(), &e).1;
    let (manifest, _) = context
        .runtime
        .block_on(client.pull_manifest(&format!("{repository}@{digest}")))
        .map_err(registry_error)?;
    let media = manifest_media_type(&manifest);
    for tag in extra_tags {
        context
            .runtime
            .block_on(client.push_manifest(&format!("{repository}:{tag}"), &manifest, &media))
            .map_err(registry_error)?;
    }
    Ok(())
}

/// The entry of a built `image`: its reference carries the `digest` when it was pushed.
fn built_artifact(image: &Prepared<'_>, digest: Option<String>, push: bool) -> ImageArtifact {
    let reference = image.reference();
    ImageArtifact {
        name: image.name().to_owned(),
        reference: match (&digest, push) {
            (Some(d), true) => format!("{reference}@{d}"),
            _ => reference,
        },
        repository: image.image.repository.clone(),
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
    }
}

/// Builds a Dockerfile image with `builder`, and pushes it when `push`: the pushed
/// digest, or `None` without a push. The error is `None` when interrupted, else the
/// builder's message.
pub(super) fn run_dockerfile_builder(
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

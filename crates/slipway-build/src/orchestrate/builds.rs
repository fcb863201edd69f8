//! Phase 4: builds, in parallel and bounded by `concurrency`, then their pushes.

use super::*;

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

pub(super) fn build_one(
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

//! Phases 2 and 3: registries — credentials, the inputs tags that prove each registry
//! answers and find images that need no rebuild, reused images and their moved tags, and
//! the base images of `files` images.

use super::*;

/// The registry client with the credentials of every registry the build talks to.
pub(super) struct Registries {
    pub(super) client: RegistryClient,
    pub(super) credentials: HashMap<String, Credentials>,
    pub(super) insecure: Vec<String>,
}

/// The registry host of a repository (`host:port/path` → `host:port`).
pub fn registry_host(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

impl Registries {
    pub(super) fn new(
        config: &Config,
        images: &[Prepared<'_>],
        push: bool,
    ) -> Result<Registries, BuildError> {
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

pub(super) fn registry_problem(image: &str, error: &RegistryError) -> (FailureKind, Problem) {
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
pub(super) async fn lookup_inputs_tags(
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

pub(super) fn fail_on(failures: Vec<(FailureKind, Problem)>) -> Result<(), BuildError> {
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
pub(super) async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
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
pub(super) async fn reused_artifact(
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
pub(super) async fn move_tags(
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
pub(super) fn manifest_media_type(manifest: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(manifest)
        .ok()
        .and_then(|m| m["mediaType"].as_str().map(str::to_owned))
        .unwrap_or_else(|| media_type::MANIFEST.to_owned())
}

/// The labels of the image config `reference` points at.
pub(super) async fn image_labels(
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
pub(super) async fn fetch_bases(
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

//! What `render`, `validate`, `diff` and `deploy` share: the images of the release
//! (`--image` overrides, then `.slipway/artifacts.json`), the rendered manifests of every
//! namespace of an environment, and their validation.

use std::collections::BTreeSet;

use slipway_check::{CheckOptions, CrdSchemas, Level, Manifest, Report};
use slipway_config::{Cluster, Environment, RuleLevel};
use slipway_deploy::images::Built;
use slipway_deploy::record::{Release, ReleaseImage};
use slipway_render::release::{self, Rendered};
use slipway_render::{Document, ImagePin};

use crate::error::CliError;
use crate::exit;
use crate::printer::Printer;

use super::project::Project;

/// The images of a release, and those that have none yet.
#[derive(Debug, Default)]
pub struct Images {
    pub pins: Vec<ImagePin>,
    /// What the release records: each image its objects run, with where it came from.
    pub chosen: Vec<ReleaseImage>,
    /// Images the rendered objects run that have nothing to deploy.
    pub missing: Vec<String>,
}

/// The last builds, from `.slipway/artifacts.json`.
pub fn builds(project: &Project) -> Result<Vec<Built>, CliError> {
    let config = &project.config;
    let artifacts_path = config
        .base_dir
        .join(slipway_build::orchestrate::artifacts_file(config));
    let artifacts = slipway_build::orchestrate::read_artifacts(&artifacts_path).map_err(|e| {
        CliError::usage(format!(
            "`{}` cannot be read: {e}",
            artifacts_path.display()
        ))
        .hint("run `slipway build` to write it again")
    })?;
    Ok(artifacts
        .images
        .into_iter()
        .map(|a| Built {
            name: a.name,
            reference: a.reference,
            created: a.created,
        })
        .collect())
}

/// The release's images as the rules choose them (see `slipway_deploy::images`), before
/// any is checked at its registry or compared with what the manifests run.
pub fn images(
    project: &Project,
    builds: &[Built],
    overrides: &[(String, String)],
    only: &[String],
    current: Option<&Release>,
) -> Images {
    let config = &project.config;
    let names: Vec<String> = config.images.iter().map(|i| i.name.clone()).collect();
    let (chosen, missing) =
        slipway_deploy::images::choose(&names, overrides, only, builds, current);
    Images {
        pins: pins_of(project, &chosen),
        chosen,
        missing,
    }
}

fn pins_of(project: &Project, chosen: &[ReleaseImage]) -> Vec<ImagePin> {
    chosen
        .iter()
        .filter_map(|c| {
            let image = project.config.image(&c.name)?;
            Some(ImagePin {
                name: c.name.clone(),
                repository: image.repository.clone(),
                reference: c.reference.clone(),
            })
        })
        .collect()
}

/// The syntax of every `--image NAME=REF`, checked before anything else is done.
pub fn check_overrides(overrides: &[(String, String)]) -> Result<(), CliError> {
    for (name, reference) in overrides {
        if let Err(e) = slipway_build::registry::check_reference(reference) {
            let why = match e {
                slipway_build::registry::RegistryError::InvalidReference { message, .. } => message,
                other => other.to_string(),
            };
            return Err(CliError::usage(format!(
                "`--image {name}={reference}`: `{reference}` is not a valid image reference: {why}"
            ))
            .hint(format!(
                "a reference is `[HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST]` in lowercase, e.g. `--image {name}=registry.example.com/shop/{name}:1.4.2`"
            )));
        }
    }
    Ok(())
}

/// Where the overrides of a release come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideOrigin {
    /// `--image NAME=REF`: each is checked at its registry and must be run by an object.
    CommandLine,
    /// A promotion: the images of another environment's release, already checked when
    /// they were first deployed, taken where the manifests run them.
    Promotion,
}

/// What a command does with an image the rendered objects run that has nothing to
/// deploy (no build, no release, and the manifests name it without a tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingImages {
    /// `deploy`, `diff`: an error; nothing is written.
    Refuse,
    /// `render`: a warning; the manifests keep the image they name.
    KeepManifest,
    /// `validate`: a warning; the objects are checked as if the image were pinned.
    AssumePinned,
}

/// What a command asks of the images of one release.
pub struct ImageRequest<'a> {
    pub builds: &'a [Built],
    pub overrides: &'a [(String, String)],
    pub origin: OverrideOrigin,
    pub only: &'a [String],
    pub missing: MissingImages,
}

/// Whether a command may go on without an answer from a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryNeed {
    /// `deploy`, `diff`: a tag that cannot be resolved is an error.
    Required,
    /// `render`, `validate`: it is a warning, and the tag is left unresolved.
    BestEffort,
}

/// What a registry answered for a reference: the pinned reference (`None`: not asked
/// successfully, and the command goes on), and the warning it gave.
#[derive(Debug, Clone)]
struct Asked {
    pinned: Option<String>,
    warning: Option<String>,
}

/// Pins references at their registries once per command: `--image` references and
/// tags the manifests name. A digest whose registry cannot be reached is taken as given
/// (with a warning); a tag cannot be pinned without its registry.
pub struct Resolver<'a> {
    config: &'a slipway_config::Config,
    need: RegistryNeed,
    /// Each reference asked: the answer, and the warning it gave (said again for every
    /// namespace that uses it).
    pinned: std::cell::RefCell<std::collections::BTreeMap<String, Asked>>,
    warnings: std::cell::RefCell<Vec<String>>,
}

impl<'a> Resolver<'a> {
    pub fn new(config: &'a slipway_config::Config, need: RegistryNeed) -> Resolver<'a> {
        Resolver {
            config,
            need,
            pinned: Default::default(),
            warnings: Default::default(),
        }
    }

    /// The warnings so far, each once; taken (they are printed by the caller).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.borrow_mut())
    }

    /// `reference` as `repo[:tag]@sha256:…`; `what` names where it was written. `None`
    /// when the registry could not be asked and the command goes on without it.
    pub fn pin(&self, reference: &str, what: &str) -> Result<Option<String>, CliError> {
        if let Some(asked) = self.pinned.borrow().get(reference) {
            self.warnings.borrow_mut().extend(asked.warning.clone());
            return Ok(asked.pinned.clone());
        }
        let said = self.warnings.borrow().len();
        let pinned = self.ask(reference, what)?;
        let warning = self.warnings.borrow().get(said).cloned();
        self.pinned.borrow_mut().insert(
            reference.to_owned(),
            Asked {
                pinned: pinned.clone(),
                warning,
            },
        );
        Ok(pinned)
    }

    fn ask(&self, reference: &str, what: &str) -> Result<Option<String>, CliError> {
        use slipway_build::registry::{RegistryError, client_for_config, has_digest};
        let client = client_for_config(self.config, &[reference.to_owned()])
            .map_err(|e| CliError::usage(format!("{what}: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::internal(format!("cannot start the runtime: {e}")))?;
        let answer = runtime.block_on(client.pin(reference));
        match answer {
            Ok(pinned) => Ok(Some(pinned)),
            Err(RegistryError::ManifestUnknown { .. }) => Err(CliError::usage(format!(
                "{what}: the registry has no image `{reference}`; nothing was written to a cluster"
            ))
            .hint("check the name and the tag or digest, and that the image was pushed")),
            Err(RegistryError::InvalidReference { message, .. }) => Err(CliError::usage(format!(
                "{what}: `{reference}` is not a valid image reference: {message}"
            ))),
            Err(e @ (RegistryError::Unreachable { .. } | RegistryError::Protocol { .. }))
                if has_digest(reference) =>
            {
                self.warnings.borrow_mut().push(format!(
                    "warning: {what}: the digest was not checked ({e}); it is deployed as given"
                ));
                Ok(Some(reference.to_owned()))
            }
            Err(e) if self.need == RegistryNeed::BestEffort => {
                self.warnings.borrow_mut().push(format!(
                    "warning: {what}: not resolved to a digest ({e}); `deploy` resolves it, and refuses it if the registry cannot be asked"
                ));
                Ok(None)
            }
            Err(e) => {
                let hint = if has_digest(reference) {
                    "check the registry's address and `registries.<host>.credentials` in `slipway.yaml`".to_owned()
                } else {
                    format!(
                        "a tag is resolved to a digest at its registry; pass the digest instead (`{reference}@sha256:…`) or check `registries.<host>` in `slipway.yaml`"
                    )
                };
                Err(CliError::new(
                    exit::UNREACHABLE,
                    format!(
                        "{what}: cannot check `{reference}`: {e}; nothing was written to a cluster"
                    ),
                )
                .hint(hint))
            }
        }
    }
}

/// Warnings said once each, with the namespaces they concern.
#[derive(Debug, Default)]
pub struct Warnings {
    said: Vec<(String, Vec<String>)>,
}

impl Warnings {
    /// Notes `message` for `namespace`.
    pub fn add(&mut self, message: String, namespace: &str) {
        match self.said.iter_mut().find(|(m, _)| *m == message) {
            Some((_, namespaces)) => {
                if !namespaces.iter().any(|n| n == namespace) {
                    namespaces.push(namespace.to_owned());
                }
            }
            None => self.said.push((message, vec![namespace.to_owned()])),
        }
    }

    /// Prints each warning once; when the environment has several namespaces (`all`),
    /// it names those it concerns: after a one-line message in parentheses, after a
    /// longer one on a line of its own.
    pub fn print(self, printer: &Printer, all: usize) {
        for (message, namespaces) in self.said {
            if all < 2 && namespaces.len() < 2 {
                printer.info(&message);
                continue;
            }
            let list: Vec<String> = namespaces.iter().map(|n| format!("`{n}`")).collect();
            let label = if namespaces.len() > 1 {
                "namespaces"
            } else {
                "namespace"
            };
            if message.contains('\n') {
                printer.info(&format!("{message}\n  in {label} {}", list.join(", ")));
            } else {
                printer.info(&format!("{message} ({label} {})", list.join(", ")));
            }
        }
    }
}

/// One namespace of a release: its name, its current release, and the key of the hashes
/// in its generated Secrets' names.
pub struct Target<'a> {
    pub ns: &'a str,
    pub current: Option<&'a Release>,
    pub secret_key: &'a [u8],
    /// A chart's `.Release.Revision` and `.Release.IsUpgrade`.
    pub at: slipway_render::release::ChartRelease,
}

/// The file, under the project's directory, that holds the key of what is shown of
/// Secrets without reading a cluster (`render`, `validate`).
pub const RENDER_KEY_FILE: &str = ".slipway/render-key";

/// Random bytes for a key.
pub fn random_key() -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let mut key = vec![0u8; slipway_render::redact::KEY_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut r| r.read_exact(&mut key))
        .map_err(|e| CliError::internal(format!("no random bytes for a key: {e}")))?;
    Ok(key)
}

/// The project's render key: read from [`RENDER_KEY_FILE`], or made once (random, and
/// readable by its owner only). A key file others may read is refused: with it, anyone
/// could confirm a guessed Secret value from a render.
pub fn local_key(project: &Project) -> Result<Vec<u8>, CliError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = project.config.base_dir.join(RENDER_KEY_FILE);
    let unreadable = |e: std::io::Error| {
        CliError::usage(format!("`{}` cannot be read: {e}", path.display())).hint(
            "delete it; `slipway render` makes a new one (earlier renders then show other hashes)",
        )
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mode = std::fs::metadata(&path)
                .map_err(unreadable)?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(CliError::usage(format!(
                    "`{}` may be read by others (mode {:o}); with it anyone could confirm a guessed Secret value from a render",
                    path.display(),
                    mode & 0o777
                ))
                .hint(format!("`chmod 600 {}`", path.display())));
            }
            let key =
                decode_hex(text.trim()).filter(|k| k.len() == slipway_render::redact::KEY_LEN);
            key.ok_or_else(|| {
                unreadable(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a key of 64 hexadecimal digits",
                ))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_key()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
                // Like every file slipway keeps in `.slipway/`, the key never makes the
                // working tree dirty (and never reaches git).
                let gitignore = dir.join(".gitignore");
                if !gitignore.exists() {
                    std::fs::write(
                        &gitignore,
                        "# written by slipway: nothing here belongs in git\n*\n",
                    )?;
                }
            }
            let text: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(format!("{text}\n").as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(unreadable(e)),
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A namespace's key for the names of generated Secrets, as kept on the cluster.
pub struct ClusterKey {
    pub key: Vec<u8>,
    /// Whether the cluster holds it already; a new key is stored by the first deploy
    /// that applies objects, after it applied them ([`store_cluster_key`]).
    pub stored: bool,
}

/// The key `ns` keeps for the names of generated Secrets, or a new one.
pub async fn cluster_key(
    cluster: &slipway_deploy::cluster::Cluster,
    app: &str,
    ns: &str,
) -> Result<ClusterKey, CliError> {
    use slipway_render::redact::{key_from_secret, key_secret_name};
    let name = key_secret_name(app);
    let found = cluster
        .get("v1", "Secret", ns, &name)
        .await
        .map_err(|e| CliError::new(exit::of_cluster(&e), format!("reading `{ns}/{name}`: {e}")))?;
    match found {
        Some(secret) => match key_from_secret(&secret) {
            Some(key) => Ok(ClusterKey { key, stored: true }),
            None => Err(CliError::usage(format!(
                "the Secret `{ns}/{name}` holds no key of {} bytes under `key`",
                slipway_render::redact::KEY_LEN
            ))
            .hint(format!(
                "delete it (`kubectl -n {ns} delete secret {name}`): the next deploy makes a new key, and renames the Secrets slipway generates once"
            ))),
        },
        None => Ok(ClusterKey {
            key: random_key()?,
            stored: false,
        }),
    }
}

/// Stores a new key in `ns` (created when missing, as a release creates it).
pub async fn store_cluster_key(
    cluster: &slipway_deploy::cluster::Cluster,
    app: &str,
    ns: &str,
    key: &[u8],
) -> Result<(), CliError> {
    let failed = |e: slipway_deploy::cluster::ClusterError| {
        CliError::new(
            exit::of_cluster(&e),
            format!(
                "storing the key of Secret names in `{ns}/{}`: {e}",
                slipway_render::redact::key_secret_name(app)
            ),
        )
    };
    // Called once the release applied its objects, so the namespace exists. A key another
    // first deploy stored meanwhile stays: the next deploy reads it and renames once.
    let secret = slipway_render::redact::key_secret(app, ns, key);
    match cluster.create(&secret, ns).await {
        Ok(_) => Ok(()),
        Err(slipway_deploy::cluster::ClusterError::Api { code: 409, .. }) => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

/// The images and the rendered objects of one namespace's release: the images chosen
/// (see `slipway_deploy::images`), each `--image` pinned at its registry, rendered;
/// then an override no object runs is refused, images the manifests name by tag are
/// pinned at their registry, images no object runs are neither required nor recorded,
/// and an image an object runs with nothing to deploy is handled as `request.missing`
/// says.
pub fn release_namespace(
    project: &Project,
    env: &Environment,
    target: &Target<'_>,
    request: &ImageRequest<'_>,
    resolver: &Resolver<'_>,
    warnings: &mut Warnings,
) -> Result<(Images, Rendered), CliError> {
    let (ns, current, key) = (target.ns, target.current, target.secret_key);
    let config = &project.config;
    let mut images = images(
        project,
        request.builds,
        request.overrides,
        request.only,
        current,
    );
    if request.origin == OverrideOrigin::CommandLine {
        for c in images.chosen.iter_mut().filter(|c| c.source == "override") {
            let what = format!("`--image {}={}`", c.name, c.reference);
            c.reference = unresolved(
                resolver.pin(&c.reference, &what)?,
                &c.reference,
                request.missing,
            );
        }
    }
    images.pins = pins_of(project, &images.chosen);
    let mut rendered = render_namespace(project, env, ns, &images.pins, key, target.at.clone())?;

    if request.origin == OverrideOrigin::CommandLine {
        for (name, reference) in request.overrides {
            if rendered.pins.pinned.iter().any(|p| &p.image == name) {
                continue;
            }
            let repository = config.image(name).map_or("", |i| i.repository.as_str());
            return Err(CliError::usage(format!(
                "`--image {name}={reference}`: no object of `{}` in `{ns}` runs image `{name}`, so the release would record an image the cluster does not run; nothing was written to a cluster",
                env.name
            ))
            .hint(format!(
                "a container runs image `{name}` when its `image:` is `{name}` or `{repository}`, with any tag or digest; the containers of this release run {}",
                run_images(&rendered)
            )));
        }
    }

    for f in &rendered.pins.foreign {
        if let Some(hint) = near_miss(config, &f.image) {
            warnings.add(
                format!(
                    "warning: {} container `{}` runs `{}`, {hint}",
                    f.object, f.container, f.image
                ),
                ns,
            );
        }
    }

    // Images of `slipway.yaml` without a choice, by what the objects run.
    let mut extra = Vec::new();
    let mut missing: Vec<(String, String)> = Vec::new();
    for name in std::mem::take(&mut images.missing) {
        let Some(image) = config.image(&name) else {
            continue;
        };
        let uses: Vec<_> = rendered
            .pins
            .foreign
            .iter()
            .filter(|f| slipway_render::refers_to(&f.image, &image.name, &image.repository))
            .collect();
        let Some(used) = uses.first() else {
            // Declared but run by no object (a debug image, a load generator): not needed.
            continue;
        };
        // One release runs one reference per image: two spellings would be pinned to one
        // of them, and the other container would silently run what its manifest does not say.
        if let Some(other) = uses.iter().find(|f| f.image != used.image) {
            return Err(CliError::usage(format!(
                "image `{name}` is `{}` in {} container `{}` but `{}` in {} container `{}`: a release runs one reference per image; nothing was written to a cluster",
                used.image, used.object, used.container, other.image, other.object, other.container
            ))
            .hint(format!(
                "write the same tag or digest in both manifests, or pass `--image {name}=REF`"
            )));
        }
        let written_repository = slipway_render::image_repository(&used.image);
        let by_tag_or_digest =
            written_repository == image.repository && used.image.len() > written_repository.len();
        if by_tag_or_digest {
            let what = format!(
                "image `{name}` (`{}` in {} container `{}`)",
                used.image, used.object, used.container
            );
            // A digest is taken as written; a tag is pinned at its registry.
            let reference = if slipway_build::registry::has_digest(&used.image) {
                used.image.clone()
            } else {
                unresolved(
                    resolver.pin(&used.image, &what)?,
                    &used.image,
                    request.missing,
                )
            };
            extra.push(ReleaseImage {
                name: name.clone(),
                reference,
                source: "manifest".into(),
            });
        } else {
            missing.push((
                name.clone(),
                format!("{} container `{}`", used.object, used.container),
            ));
        }
    }
    let assume = request.missing == MissingImages::AssumePinned && !missing.is_empty();
    let mut pins_changed = !extra.is_empty();
    images.chosen.extend(extra);
    for (name, used_by) in &missing {
        let message = missing_message(name, used_by, ns, current);
        match request.missing {
            MissingImages::Refuse => {
                let first_release = !request.only.is_empty() && current.is_none();
                let mut err = CliError::usage(format!("{message}; nothing was written to a cluster"));
                if first_release {
                    err = err.hint(format!(
                        "`--only` keeps the other images as the current release runs them, but `{ns}` has no release yet: its first deploy needs an image for every image its objects run"
                    ));
                }
                return Err(err.hint(format!(
                    "build it with `slipway build {name}` (or `deploy --build`), pass `--image {name}=REF`, or name a tag or digest in the manifest"
                )));
            }
            MissingImages::KeepManifest => warnings.add(
                format!("warning: {message}: the manifests keep the image they name"),
                ns,
            ),
            MissingImages::AssumePinned => warnings.add(
                format!("warning: {message}: `deploy` refuses it until it has one; validated as if it were pinned"),
                ns,
            ),
        }
    }
    images.pins = pins_of(project, &images.chosen);
    if assume {
        for (name, _) in &missing {
            if let Some(image) = config.image(name) {
                images.pins.push(ImagePin {
                    name: name.clone(),
                    repository: image.repository.clone(),
                    reference: format!("{}:not-built@sha256:{}", image.repository, "0".repeat(64)),
                });
            }
        }
        pins_changed = true;
    }
    if pins_changed {
        rendered = render_namespace(project, env, ns, &images.pins, key, target.at.clone())?;
    }
    for hook in &rendered.skipped_hooks {
        warnings.add(
            format!("note: the chart's hook {hook} is not run by this release"),
            ns,
        );
    }
    // A release records only the images its objects run.
    images
        .chosen
        .retain(|c| rendered.pins.pinned.iter().any(|p| p.image == c.name));
    images.missing = missing.into_iter().map(|(n, _)| n).collect();
    for w in resolver.take_warnings() {
        warnings.add(w, ns);
    }
    Ok((images, rendered))
}

/// For a container image that is not an image of `slipway.yaml` but is named like one
/// (`other.example.com/shop/api:1` when `api` is pushed to `registry.example.com/shop/api`),
/// why slipway leaves it alone and how to have it pinned.
pub fn near_miss(config: &slipway_config::Config, image: &str) -> Option<String> {
    if config
        .images
        .iter()
        .any(|i| slipway_render::refers_to(image, &i.name, &i.repository))
    {
        return None;
    }
    let repository = slipway_render::image_repository(image);
    let last = repository.rsplit('/').next().unwrap_or(repository);
    let declared = config.images.iter().find(|i| {
        let declared_last = i.repository.rsplit('/').next().unwrap_or(&i.repository);
        last == i.name || last == declared_last
    })?;
    Some(format!(
        "which is named like image `{}` of `slipway.yaml` but is not its repository `{}`: slipway leaves it as written (not pinned, not recorded); write `image: {}` or `{}[:TAG]` in the manifest to run that image",
        declared.name, declared.repository, declared.name, declared.repository
    ))
}

/// A reference its registry could not pin: as written, or for `validate` as if pinned.
fn unresolved(pinned: Option<String>, reference: &str, missing: MissingImages) -> String {
    match pinned {
        Some(p) => p,
        None if missing == MissingImages::AssumePinned => {
            format!("{reference}@sha256:{}", "0".repeat(64))
        }
        None => reference.to_owned(),
    }
}

/// Why `name` has nothing to deploy, the same words for `deploy`, `diff`, `render` and
/// `validate`.
fn missing_message(name: &str, used_by: &str, ns: &str, current: Option<&Release>) -> String {
    let release = if current.is_some() {
        "the current release does not run it"
    } else {
        "there is no release yet"
    };
    format!(
        "no image to deploy for `{name}` (run by {used_by}) in `{ns}`: it has no build, {release}, and the manifest does not name its repository with a tag or digest"
    )
}

/// The images the containers of a release run, each once, for messages.
fn run_images(rendered: &Rendered) -> String {
    let mut seen: Vec<String> = Vec::new();
    for p in &rendered.pins.pinned {
        let s = format!("`{}`", p.image);
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    for f in &rendered.pins.foreign {
        let s = format!("`{}`", f.image);
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    if seen.is_empty() {
        "no image".into()
    } else {
        seen.join(", ")
    }
}

/// The namespaces of an environment, each with the cluster that holds it.
pub fn namespaces(env: &Environment) -> Vec<(Cluster, String)> {
    env.targets
        .iter()
        .flat_map(|t| {
            t.namespaces
                .iter()
                .map(|ns| (t.cluster.clone(), ns.clone()))
        })
        .collect()
}

/// Renders one namespace of `env`; `secret_key` keys the hashes in generated Secrets'
/// names.
pub fn render_namespace(
    project: &Project,
    env: &Environment,
    ns: &str,
    pins: &[ImagePin],
    secret_key: &[u8],
    at: release::ChartRelease,
) -> Result<Rendered, CliError> {
    let lookup = |name: &str| std::env::var(name).ok();
    release::render_environment(&project.config, env, ns, pins, &lookup, secret_key, at).map_err(|e| {
        let unsupported = matches!(e, slipway_render::RenderError::Unsupported { .. });
        let err = CliError::usage(format!("cannot render `{}`: {e}", env.name));
        if unsupported {
            err.hint("or render this directory with `kubectl kustomize` by setting `manifests.kustomize: kubectl`")
        } else {
            err
        }
    })
}

/// The environment's rule levels (its own over `defaults`), as the checker takes them.
fn levels(env: &Environment) -> std::collections::BTreeMap<String, Level> {
    env.policy
        .rules
        .iter()
        .map(|(id, level)| {
            let level = match level {
                RuleLevel::Error => Level::Error,
                RuleLevel::Warning => Level::Warning,
                RuleLevel::Off => Level::Off,
            };
            (id.clone(), level)
        })
        .collect()
}

/// The rule ids that `slipway.yaml` switches exist and may be switched; a typo is an
/// error here rather than a rule silently left at its default.
pub fn check_rule_ids(project: &Project, env: &Environment) -> Result<(), CliError> {
    let problems = slipway_check::check_levels(&levels(env));
    let Some(first) = problems.first() else {
        return Ok(());
    };
    let file = project.config.file.display();
    let at = |id: &str| match env.rules_at.get(id) {
        Some(p) => format!("{file}:{}:{}", p.line, p.column),
        None => file.to_string(),
    };
    let mut err = CliError::usage(format!(
        "{}: `rules.{}` (in `defaults` or `environments.{}`): {}",
        at(&first.id),
        first.id,
        env.name,
        first.message
    ))
    .hint(first.fix.clone());
    for p in &problems[1..] {
        err = err.hint(format!(
            "{}: `rules.{}`: {}; {}",
            at(&p.id),
            p.id,
            p.message,
            p.fix
        ));
    }
    Err(err)
}

/// Validates rendered manifests with the environment's rule levels. Custom resources
/// are checked against the CustomResourceDefinitions rendered with them, then against
/// `cluster_crds` (the cluster's, when `deploy` could read them); the others are
/// reported as unchecked.
pub fn check(env: &Environment, rendered: &Rendered, cluster_crds: Option<CrdSchemas>) -> Report {
    let manifests: Vec<Manifest> = rendered
        .objects
        .iter()
        .chain(rendered.hooks.iter().map(|h| &h.job))
        .map(|o| Manifest {
            object: o.value.clone(),
            file: o.source.file.clone(),
            line: o.source.line,
            document: o.source.document.as_ref().map(Document::shared),
        })
        .collect();
    let levels = levels(env);
    slipway_check::check(
        &manifests,
        &CheckOptions {
            production: env.production,
            levels,
            expected_to_exist: BTreeSet::new(),
            crd_schemas: cluster_crds,
        },
    )
}

/// Prints the validation reports of the namespaces of an environment, each distinct
/// finding once (naming the namespaces it concerns when the environment has several:
/// `namespaces`), then a count per namespace; returns whether any had errors.
pub fn print_reports(printer: &Printer, reports: &[(&str, &Report)], namespaces: usize) -> bool {
    if let Some(ci) = &printer.ci
        && let Err(e) = crate::ci::outputs::findings(ci, reports)
    {
        printer.info(&format!(
            "warning: the Code Quality report was not written: {e}"
        ));
    }
    let mut said = Warnings::default();
    for (ns, report) in reports {
        for f in &report.findings {
            said.add(format!("{f}\n  fix: {}", f.fix), ns);
        }
        for u in &report.unchecked {
            said.add(
                format!(
                    "{}:{}: unchecked: {}/{}: {}",
                    u.file.display(),
                    u.line,
                    u.object.kind,
                    u.object.name,
                    u.reason
                ),
                ns,
            );
        }
    }
    said.print(printer, namespaces);
    let mut failed = false;
    for (ns, report) in reports {
        let count = |level: Level| report.findings.iter().filter(|f| f.level == level).count();
        let errors = count(Level::Error);
        failed |= errors > 0;
        printer.info(&format!(
            "namespace `{ns}`: {errors} error(s), {} warning(s)",
            count(Level::Warning)
        ));
    }
    failed
}

/// The error for a release that does not validate.
pub fn validation_failed(env: &str) -> CliError {
    CliError::new(
        exit::VALIDATION,
        format!("`{env}` does not validate; nothing was written to a cluster"),
    )
    .hint("each finding above names its file, line and fix; a rule can be switched per environment under `rules:`")
}

/// The report as JSON, for `-o json`.
pub fn report_json(rendered: &Rendered, report: &Report) -> serde_json::Value {
    serde_json::json!({
        "namespace": rendered.namespace,
        "errors": report.findings.iter().filter(|f| f.level == Level::Error).count(),
        "findings": report.findings.iter().map(|f| serde_json::json!({
            "rule": f.rule,
            "level": f.level.to_string(),
            "kind": f.object.kind,
            "name": f.object.name,
            "file": f.file.display().to_string(),
            "line": f.line,
            "column": f.column,
            "field": f.field,
            "message": f.message,
            "fix": f.fix,
            "note": f.note,
        })).collect::<Vec<_>>(),
        "unchecked": report.unchecked.iter().map(|u| serde_json::json!({
            "kind": u.object.kind, "name": u.object.name, "reason": u.reason,
            "file": u.file.display().to_string(), "line": u.line,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    //! An image changed outside the manifests (a hotfix, a newer build) is what the next
    //! release runs, even when that release only changes the manifests.

    use std::fs;

    use slipway_deploy::record::{ReleaseStatus, current};

    use super::*;

    const WRITTEN: &str = "registry.example.com/shop/api:1.0";
    const BUILD_1: &str = "registry.example.com/shop/api:20261122-010000-aaaaaaa@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const HOTFIX: &str = "registry.example.com/shop/api:hotfix@sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const BUILD_3: &str = "registry.example.com/shop/api:20261122-030000-ccccccc@sha256:3333333333333333333333333333333333333333333333333333333333333333";

    /// `slipway.yaml` and one Deployment whose manifest names [`WRITTEN`].
    fn project(dir: &std::path::Path, replicas: u32) -> Project {
        fs::write(
            dir.join("slipway.yaml"),
            "app: shop\nregistry: registry.example.com/shop\nimages:\n  api:\n    files:\n      copy: [{ src: app.txt, dest: /app.txt }]\nmanifests: k8s\nenvironments:\n  prod:\n    context: prod\n    namespace: shop\n",
        )
        .unwrap();
        fs::write(dir.join("app.txt"), "x").unwrap();
        fs::create_dir_all(dir.join("k8s")).unwrap();
        fs::write(
            dir.join("k8s/api.yaml"),
            format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{ app: api }}\n  template:\n    metadata:\n      labels: {{ app: api }}\n    spec:\n      containers:\n        - name: api\n          image: {WRITTEN}\n"),
        )
        .unwrap();
        Project {
            config: slipway_config::load(&dir.join("slipway.yaml")).unwrap(),
        }
    }

    fn build(reference: &str, created: &str) -> Built {
        Built {
            name: "api".into(),
            reference: reference.into(),
            created: created.into(),
        }
    }

    fn record(revision: u64, reference: &str, source: &str, status: ReleaseStatus) -> Release {
        Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "shop".into(),
            revision,
            status,
            started: format!("2026-11-22T0{revision}:30:00Z"),
            finished: None,
            user: String::new(),
            git_commit: None,
            git_dirty: false,
            images: vec![ReleaseImage {
                name: "api".into(),
                reference: reference.into(),
                source: source.into(),
            }],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: String::new(),
            manifest: vec![],
            failed_check: None,
            paused: None,
            switch_window: None,
        }
    }

    /// What a deploy renders for `prod`: the images chosen as `deploy` chooses them, the
    /// Deployment's replicas and image.
    fn deploy(project: &Project, builds: &[Built], records: &[Release]) -> (Images, u64, String) {
        let images = images(project, builds, &[], &[], current(records));
        let env = project.config.environment("prod").unwrap();
        let rendered = render_namespace(
            project,
            env,
            "shop",
            &images.pins,
            &[0; 32],
            Default::default(),
        )
        .unwrap();
        let api = &rendered
            .objects
            .iter()
            .find(|o| o.kind() == "Deployment")
            .unwrap()
            .value;
        let replicas = api["spec"]["replicas"].as_u64().unwrap();
        let image = api["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .to_owned();
        (images, replicas, image)
    }

    #[test]
    fn a_manifest_only_change_after_a_hotfix_keeps_the_hotfix() {
        let dir = tempfile::tempdir().unwrap();
        // Release 1 ran build 1; release 2 was `deploy --image api=HOTFIX`.
        let records = [
            record(1, BUILD_1, "build", ReleaseStatus::Superseded),
            record(2, HOTFIX, "override", ReleaseStatus::Deployed),
        ];
        let builds = [build(BUILD_1, "2026-11-22T01:00:00Z")];
        // Then only the manifests change, and the app is deployed without a build.
        let project = project(dir.path(), 3);
        let (images, replicas, image) = deploy(&project, &builds, &records);
        assert_eq!(replicas, 3, "the manifest change is rendered");
        assert_eq!(image, HOTFIX);
        assert_eq!(images.chosen[0].source, "kept-override");
        assert!(images.missing.is_empty());
    }

    #[test]
    fn a_manifest_only_change_after_a_newer_build_runs_that_build() {
        let dir = tempfile::tempdir().unwrap();
        let records = [record(2, HOTFIX, "override", ReleaseStatus::Deployed)];
        // Built after release 2 started: it supersedes the hotfix.
        let builds = [build(BUILD_3, "2026-11-22T03:00:00Z")];
        let project = project(dir.path(), 3);
        let (images, replicas, image) = deploy(&project, &builds, &records);
        assert_eq!(replicas, 3);
        assert_eq!(image, BUILD_3);
        assert_eq!(images.chosen[0].source, "build");
    }

    #[test]
    fn without_any_build_the_image_of_the_running_release_is_kept() {
        // A fresh checkout (no `.slipway/artifacts.json`) deploying a manifest change.
        let dir = tempfile::tempdir().unwrap();
        let records = [record(1, BUILD_1, "build", ReleaseStatus::Deployed)];
        let project = project(dir.path(), 4);
        let builds = builds(&project).unwrap();
        assert!(builds.is_empty());
        let (images, replicas, image) = deploy(&project, &builds, &records);
        assert_eq!(replicas, 4);
        assert_eq!(image, BUILD_1);
        assert_eq!(images.chosen[0].source, "kept");
    }

    #[test]
    fn an_image_named_like_a_declared_one_elsewhere_is_a_near_miss_and_the_image_itself_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path(), 1);
        let hint = near_miss(&project.config, "other.example.com/team/api:1").unwrap();
        assert!(
            hint.contains("named like image `api`")
                && hint.contains("registry.example.com/shop/api"),
            "{hint}"
        );
        for own in [
            "api",
            "api:dev",
            "registry.example.com/shop/api:1",
            "nginx:1.27",
        ] {
            assert_eq!(near_miss(&project.config, own), None, "{own}");
        }
    }

    #[test]
    fn a_warning_of_several_namespaces_is_kept_once_with_each_namespace_once() {
        let mut w = Warnings::default();
        w.add("warning: a".into(), "shop");
        w.add("warning: b".into(), "shop");
        w.add("warning: a".into(), "shop-b");
        w.add("warning: a".into(), "shop-b");
        assert_eq!(
            w.said,
            [
                (
                    "warning: a".to_owned(),
                    vec!["shop".to_owned(), "shop-b".to_owned()]
                ),
                ("warning: b".to_owned(), vec!["shop".to_owned()]),
            ]
        );
    }

    #[test]
    fn validation_names_the_written_line_of_a_field_of_the_release() {
        // A CRD and two custom resources rendered with the app; the bad one is reported
        // at its field, in its file.
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path(), 2);
        fs::write(
            dir.path().join("k8s/widgets.yaml"),
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: { kind: Widget, plural: widgets }\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n            spec:\n              type: object\n              properties:\n                size: { type: integer }\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: good\nspec:\n  size: 1\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  sise: 1\n",
        )
        .unwrap();
        let records = [record(1, BUILD_1, "build", ReleaseStatus::Deployed)];
        let images = images(&project, &[], &[], &[], current(&records));
        let env = project.config.environment("prod").unwrap();
        let rendered = render_namespace(
            &project,
            env,
            "shop",
            &images.pins,
            &[0; 32],
            Default::default(),
        )
        .unwrap();
        let report = check(env, &rendered, None);
        let schema: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.rule == "schema")
            .map(|f| {
                let file = f.file.strip_prefix(dir.path()).unwrap_or(&f.file);
                format!(
                    "{}:{}:{:?} {} {}",
                    file.display(),
                    f.line,
                    f.column,
                    f.field,
                    f.message
                )
            })
            .collect();
        assert_eq!(
            schema,
            ["k8s/widgets.yaml:34:Some(3) spec.sise unknown field `sise`"]
        );
        assert!(report.unchecked.is_empty(), "{:?}", report.unchecked);
    }
}

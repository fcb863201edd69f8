//! The registry client: the OCI distribution API, spoken through the maintained
//! `oci-client` crate.
//!
//! It pushes only what is missing (a `HEAD` on each blob first), mounts blobs across
//! repositories of the same registry instead of uploading them again, pushes manifests
//! and indexes, resolves tags to digests, and fetches a base image for one platform.
//!
//! Transport: plain HTTP for loopback registries (`127.0.0.1`, `localhost`, `[::1]`) and
//! for hosts the caller marks insecure; HTTPS for everything else.
//!
//! Errors are typed so the CLI can map them to exit codes: [`RegistryError::Unreachable`]
//! (nothing answers), [`RegistryError::Unauthorized`] (wrong or missing credentials),
//! [`RegistryError::ManifestUnknown`] (no such tag or digest), and so on.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};

use crate::credentials::Credentials;
use crate::native::{BaseImage, Descriptor, NativeError, OciImage, media_type, select_platform};
use crate::platform::Platform;

/// Errors talking to a registry. None of them contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Nothing answers at the registry's address (connection refused, DNS, timeout).
    #[error("registry `{registry}` is unreachable: {message}")]
    Unreachable {
        /// `host:port`.
        registry: String,
        /// The transport error.
        message: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error("registry `{registry}` refused the credentials (unauthorized)")]
    Unauthorized {
        /// `host:port`.
        registry: String,
    },
    /// No manifest for this tag or digest.
    #[error("manifest unknown: `{reference}`")]
    ManifestUnknown {
        /// The reference asked for.
        reference: String,
    },
    /// An image reference that cannot be parsed.
    #[error("invalid image reference `{reference}`: {message}")]
    InvalidReference {
        /// The reference.
        reference: String,
        /// Why.
        message: String,
    },
    /// A base image that does not suit the build (e.g. no manifest for the platform).
    #[error(transparent)]
    Base(#[from] NativeError),
    /// Any other failure of the protocol.
    #[error("registry `{registry}`: {message}")]
    Protocol {
        /// `host:port`.
        registry: String,
        /// What happened.
        message: String,
    },
}

/// How one blob got into the target repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// It was already there.
    Existed,
    /// It was mounted from another repository of the same registry.
    Mounted,
    /// It was uploaded.
    Uploaded,
}

/// What a push did, blob by blob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// `sha256:…` of the pushed manifest.
    pub manifest_digest: String,
    /// Blobs uploaded.
    pub uploaded: Vec<String>,
    /// Blobs mounted from another repository.
    pub mounted: Vec<String>,
    /// Blobs already present.
    pub existing: Vec<String>,
}

/// Options of a [`RegistryClient`].
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Registries (`host` or `host:port`) to reach over plain HTTP although not loopback.
    pub insecure_hosts: Vec<String>,
}

/// A client for any number of registries, with credentials per registry host.
pub struct RegistryClient {
    options: ClientOptions,
    credentials: HashMap<String, Credentials>,
    clients: Mutex<HashMap<String, oci_client::Client>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("options", &self.options)
            .field(
                "credentials_for",
                &self.credentials.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Whether `host` (`host[:port]`) is reached over plain HTTP: loopback, or listed.
pub fn uses_http(host: &str, insecure_hosts: &[String]) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    matches!(name, "127.0.0.1" | "localhost" | "::1")
        || name.starts_with("127.")
        || insecure_hosts.iter().any(|h| h == host || h == name)
}

impl RegistryClient {
    /// A client without credentials.
    pub fn new(options: ClientOptions) -> RegistryClient {
        RegistryClient {
            options,
            credentials: HashMap::new(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `credentials` for registry `host` (`host:port`).
    #[must_use]
    pub fn with_credentials(mut self, host: &str, credentials: Credentials) -> RegistryClient {
        self.credentials.insert(host.to_owned(), credentials);
        self
    }

    fn client_for(&self, registry: &str) -> oci_client::Client {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(registry.to_owned())
            .or_insert_with(|| {
                let protocol = if uses_http(registry, &self.options.insecure_hosts) {
                    ClientProtocol::Http
                } else {
                    ClientProtocol::Https
                };
                oci_client::Client::new(ClientConfig {
                    protocol,
                    platform_resolver: None,
                    connect_timeout: Some(std::time::Duration::from_secs(10)),
                    ..ClientConfig::default()
                })
            })
            .clone()
    }

    fn auth_for(&self, registry: &str) -> RegistryAuth {
        match self.credentials.get(registry) {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.secret.expose().to_owned()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// Parses `reference` and returns the client ready for `operation` on it.
    async fn prepare(
        &self,
        reference: &Reference,
        operation: RegistryOperation,
    ) -> Result<oci_client::Client, RegistryError> {
        let registry = reference.resolve_registry().to_owned();
        let client = self.client_for(&registry);
        let auth = self.auth_for(&registry);
        client
            .auth(reference, &auth, operation)
            .await
            .map_err(|e| map_error(e, reference, Context::Other))?;
        Ok(client)
    }

    /// Whether the repository of `reference` holds blob `digest`.
    ///
    /// # Errors
    /// [`RegistryError::Unreachable`], [`RegistryError::Unauthorized`], or
    /// [`RegistryError::Protocol`].
    pub async fn blob_exists(&self, reference: &str, digest: &str) -> Result<bool, RegistryError> {
        let reference = parse(reference)?;
        let client = self.prepare(&reference, RegistryOperation::Pull).await?;
        client
            .blob_exists(&reference, digest)
            .await
            .map_err(|e| map_error(e, &reference, Context::Other))
    }

    /// Puts one blob into the repository of `target`: nothing when it is there, a mount
    /// from `mount_from` (a repository of the same registry) when possible, else an upload
    /// of `data` (fetched from `mount_from` when `data` is `None`).
    ///
    /// # Errors
    /// As [`RegistryClient::blob_exists`].
    pub async fn push_blob_if_missing(
        &self,
        target: &str,
        descriptor: &Descriptor,
        data: Option<&[u8]>,
        mount_from: Option<&str>,
    ) -> Result<BlobPush, RegistryError> {
        let target = parse(target)?;
        let client = self.prepare(&target, RegistryOperation::Push).await?;
        self.push_blob_with(&client, &target, descriptor, data, mount_from)
            .await
    }

    async fn push_blob_with(
        &self,
        client: &oci_client::Client,
        target: &Reference,
        descriptor: &Descriptor,
        data: Option<&[u8]>,
        mount_from: Option<&str>,
    ) -> Result<BlobPush, RegistryError> {
        let digest = descriptor.digest.as_str();
        let err = |e| map_error(e, target, Context::Other);
        if client.blob_exists(target, digest).await.map_err(err)? {
            return Ok(BlobPush::Existed);
        }
        let source = mount_from.map(parse).transpose()?;
        if let Some(source) = &source
            && source.resolve_registry() == target.resolve_registry()
            && source.repository() != target.repository()
            && client.mount_blob(target, source, digest).await.is_ok()
        {
            return Ok(BlobPush::Mounted);
        }
        let fetched;
        let data = match (data, &source) {
            (Some(data), _) => data,
            (None, Some(source)) => {
                let source_client = self.prepare(source, RegistryOperation::Pull).await?;
                let mut buf = Vec::new();
                source_client
                    .pull_blob(source, digest, &mut buf)
                    .await
                    .map_err(|e| map_error(e, source, Context::Other))?;
                fetched = buf;
                &fetched
            }
            (None, None) => {
                return Err(RegistryError::Protocol {
                    registry: target.resolve_registry().to_owned(),
                    message: format!("blob `{digest}` is missing and no source was given"),
                });
            }
        };
        client
            .push_blob(target, data.to_vec(), digest)
            .await
            .map_err(err)?;
        Ok(BlobPush::Uploaded)
    }

    /// Pushes a native image to `target` (`registry/repo:tag`): the base's layers (mounted
    /// from the base repository when they are missing), the new layer, the config, then
    /// the manifest.
    ///
    /// # Errors
    /// As [`RegistryClient::blob_exists`], plus [`RegistryError::InvalidReference`].
    pub async fn push_image(
        &self,
        target: &str,
        image: &OciImage,
    ) -> Result<PushReport, RegistryError> {
        let target_ref = parse(target)?;
        let client = self.prepare(&target_ref, RegistryOperation::Push).await?;
        let mut report = PushReport::default();
        let mut record = |digest: &str, how: BlobPush| {
            let list = match how {
                BlobPush::Existed => &mut report.existing,
                BlobPush::Mounted => &mut report.mounted,
                BlobPush::Uploaded => &mut report.uploaded,
            };
            list.push(digest.to_owned());
        };
        for layer in &image.base_layers {
            let how = self
                .push_blob_with(
                    &client,
                    &target_ref,
                    layer,
                    None,
                    image.base_repository.as_deref(),
                )
                .await?;
            record(&layer.digest, how);
        }
        for blob in [&image.layer, &image.config] {
            let how = self
                .push_blob_with(
                    &client,
                    &target_ref,
                    &blob.descriptor(),
                    Some(&blob.data),
                    None,
                )
                .await?;
            record(&blob.digest, how);
        }
        report.manifest_digest = self
            .push_manifest(target, &image.manifest.data, media_type::MANIFEST)
            .await?;
        Ok(report)
    }

    /// Pushes manifest (or index) bytes under `target`'s tag or digest; returns the
    /// manifest digest.
    ///
    /// # Errors
    /// As [`RegistryClient::blob_exists`].
    pub async fn push_manifest(
        &self,
        target: &str,
        manifest: &[u8],
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let target = parse(target)?;
        let client = self.prepare(&target, RegistryOperation::Push).await?;
        let content_type =
            http::HeaderValue::from_str(media_type).map_err(|e| RegistryError::Protocol {
                registry: target.resolve_registry().to_owned(),
                message: format!("invalid media type `{media_type}`: {e}"),
            })?;
        client
            .push_manifest_raw(&target, manifest.to_vec(), content_type)
            .await
            .map_err(|e| map_error(e, &target, Context::Manifest))?;
        Ok(crate::native::sha256_digest(manifest))
    }

    /// The digest of the manifest `reference` (`repo:tag`) points at.
    ///
    /// # Errors
    /// [`RegistryError::ManifestUnknown`] for an unknown tag, else as
    /// [`RegistryClient::blob_exists`].
    pub async fn resolve(&self, reference: &str) -> Result<String, RegistryError> {
        let reference = parse(reference)?;
        let registry = reference.resolve_registry().to_owned();
        let client = self.client_for(&registry);
        client
            .fetch_manifest_digest(&reference, &self.auth_for(&registry))
            .await
            .map_err(|e| map_error(e, &reference, Context::Manifest))
    }

    /// `reference` pinned: `repo[:tag]@sha256:…` as written, with the digest the registry
    /// holds for it. A tag is resolved; a digest is checked to exist.
    ///
    /// # Errors
    /// [`RegistryError::ManifestUnknown`] when the registry has no such tag or digest,
    /// else as [`RegistryClient::resolve`].
    pub async fn pin(&self, reference: &str) -> Result<String, RegistryError> {
        let digest = self.resolve(reference).await?;
        let name = reference.split_once('@').map_or(reference, |(n, _)| n);
        Ok(format!("{name}@{digest}"))
    }

    /// The raw manifest (or index) bytes and their digest.
    ///
    /// # Errors
    /// As [`RegistryClient::resolve`].
    pub async fn pull_manifest(&self, reference: &str) -> Result<(Vec<u8>, String), RegistryError> {
        let reference = parse(reference)?;
        let registry = reference.resolve_registry().to_owned();
        let client = self.client_for(&registry);
        let accepted = [
            media_type::MANIFEST,
            media_type::INDEX,
            media_type::DOCKER_MANIFEST,
            media_type::DOCKER_MANIFEST_LIST,
        ];
        let (bytes, digest) = client
            .pull_manifest_raw(&reference, &self.auth_for(&registry), &accepted)
            .await
            .map_err(|e| map_error(e, &reference, Context::Manifest))?;
        Ok((bytes.to_vec(), digest))
    }

    /// The bytes of blob `digest` in the repository of `reference`.
    ///
    /// # Errors
    /// As [`RegistryClient::blob_exists`].
    pub async fn pull_blob(&self, reference: &str, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let reference = parse(reference)?;
        let client = self.prepare(&reference, RegistryOperation::Pull).await?;
        let mut buf = Vec::new();
        client
            .pull_blob(&reference, digest, &mut buf)
            .await
            .map_err(|e| map_error(e, &reference, Context::Other))?;
        Ok(buf)
    }

    /// Fetches a base image for `platform`: follows an index to the platform's manifest
    /// (error listing the available platforms when none matches), then reads its config.
    ///
    /// # Errors
    /// [`RegistryError::Base`] with [`NativeError::NoMatchingPlatform`] or
    /// [`NativeError::BasePlatformMismatch`]; else as [`RegistryClient::pull_manifest`].
    pub async fn fetch_base(
        &self,
        reference: &str,
        platform: &Platform,
    ) -> Result<BaseImage, RegistryError> {
        let parsed = parse(reference)?;
        let repository = format!("{}/{}", parsed.resolve_registry(), parsed.repository());
        let (mut bytes, mut digest) = self.pull_manifest(reference).await?;
        let mut manifest: serde_json::Value = parse_json(&bytes, "base manifest")?;
        if manifest.get("manifests").is_some() {
            let chosen = select_platform(&bytes, platform)?;
            (bytes, digest) = self
                .pull_manifest(&format!("{repository}@{}", chosen.digest))
                .await?;
            manifest = parse_json(&bytes, "base manifest")?;
        }
        let config_digest = manifest
            .pointer("/config/digest")
            .and_then(|d| d.as_str())
            .ok_or_else(|| NativeError::InvalidDocument {
                what: "base manifest",
                message: "no config digest".into(),
            })?
            .to_owned();
        let layers: Vec<Descriptor> = serde_json::from_value(
            manifest.get("layers").cloned().unwrap_or_default(),
        )
        .map_err(|e| NativeError::InvalidDocument {
            what: "base manifest",
            message: e.to_string(),
        })?;
        let config_bytes = self.pull_blob(&repository, &config_digest).await?;
        let config: serde_json::Value = parse_json(&config_bytes, "base image config")?;
        let base_platform = Platform {
            os: config["os"].as_str().unwrap_or("").to_owned(),
            architecture: config["architecture"].as_str().unwrap_or("").to_owned(),
            variant: config["variant"].as_str().map(str::to_owned),
        };
        if !platform.matches(&base_platform) {
            return Err(NativeError::BasePlatformMismatch {
                base: base_platform.to_string(),
                wanted: platform.to_string(),
            }
            .into());
        }
        Ok(BaseImage {
            repository,
            manifest_digest: digest,
            layers,
            config,
        })
    }
}

/// Checks that `reference` is a valid image reference (`[host[:port]/]path[:tag][@digest]`).
///
/// # Errors
/// [`RegistryError::InvalidReference`], saying why.
pub fn check_reference(reference: &str) -> Result<(), RegistryError> {
    parse(reference).map(|_| ())
}

/// Whether `reference` names its image by digest (`…@sha256:…`).
pub fn has_digest(reference: &str) -> bool {
    reference.contains('@')
}

/// The registry host (`host[:port]`) of `reference`, as credentials are looked up.
pub fn reference_host(reference: &str) -> Option<String> {
    parse(reference).ok().map(|r| r.registry().to_owned())
}

/// A client for the registries of `references`, with the insecure hosts and the
/// credentials `slipway.yaml` gives each of them (as a build uses them).
///
/// # Errors
/// The first credentials setting that cannot be read, as a message naming its key.
pub fn client_for_config(
    config: &slipway_config::Config,
    references: &[String],
) -> Result<RegistryClient, String> {
    let insecure_hosts: Vec<String> = config
        .registries
        .iter()
        .filter(|(_, s)| s.insecure)
        .map(|(h, _)| h.clone())
        .collect();
    let mut client = RegistryClient::new(ClientOptions { insecure_hosts });
    let hosts: std::collections::BTreeSet<String> = references
        .iter()
        .filter_map(|r| reference_host(r))
        .collect();
    for host in hosts {
        match crate::orchestrate::credentials_for(config, &host) {
            Ok(Some(c)) => client = client.with_credentials(&host, c),
            Ok(None) => {}
            Err(problem) => return Err(problem.to_string()),
        }
    }
    Ok(client)
}

fn parse_json(bytes: &[u8], what: &'static str) -> Result<serde_json::Value, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| {
        NativeError::InvalidDocument {
            what,
            message: e.to_string(),
        }
        .into()
    })
}

fn parse(reference: &str) -> Result<Reference, RegistryError> {
    Reference::from_str(reference).map_err(|e| RegistryError::InvalidReference {
        reference: reference.to_owned(),
        message: e.to_string(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Manifest,
    Other,
}

/// Maps the crate's error onto ours, by transport failure, HTTP status and OCI error code.
fn map_error(
    error: OciDistributionError,
    reference: &Reference,
    context: Context,
) -> RegistryError {
    let registry = reference.resolve_registry().to_owned();
    let unauthorized = || RegistryError::Unauthorized {
        registry: registry.clone(),
    };
    let manifest_unknown = || RegistryError::ManifestUnknown {
        reference: reference.whole(),
    };
    let status = |code: u16| match code {
        401 | 403 => Some(unauthorized()),
        404 if context == Context::Manifest => Some(manifest_unknown()),
        _ => None,
    };
    let mapped = match &error {
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            Some(RegistryError::Unreachable {
                registry: registry.clone(),
                message: source_chain(e),
            })
        }
        OciDistributionError::RequestError(e) => e.status().and_then(|s| status(s.as_u16())),
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Some(unauthorized()),
        OciDistributionError::ImageManifestNotFoundError(_) => Some(manifest_unknown()),
        OciDistributionError::ServerError { code, .. } => status(*code),
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().find_map(|e| match e.code {
                OciErrorCode::Unauthorized | OciErrorCode::Denied => Some(unauthorized()),
                OciErrorCode::ManifestUnknown => Some(manifest_unknown()),
                OciErrorCode::NameUnknown if context == Context::Manifest => {
                    Some(manifest_unknown())
                }
                _ => None,
            })
        }
        _ => None,
    };
    mapped.unwrap_or_else(|| RegistryError::Protocol {
        registry,
        message: error.to_string(),
    })
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_hosts_use_http() {
        assert!(uses_http("127.0.0.1:5000", &[]));
        assert!(uses_http("localhost:5000", &[]));
        assert!(uses_http("localhost", &[]));
        assert!(uses_http("[::1]:5000", &[]));
        assert!(!uses_http("registry.example:5000", &[]));
        assert!(uses_http(
            "registry.example:5000",
            &["registry.example".to_owned()]
        ));
        assert!(!uses_http("myacr.azurecr.io", &[]));
    }

    #[test]
    fn references_are_checked_for_syntax() {
        assert!(check_reference("registry.example.com/shop/api:1").is_ok());
        assert!(check_reference("127.0.0.1:5000/shop/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").is_ok());
        for bad in ["Not A Ref!", "api:", "reg/API:1", "reg/api@sha256:12"] {
            assert!(
                matches!(
                    check_reference(bad),
                    Err(RegistryError::InvalidReference { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            reference_host("127.0.0.1:5000/shop/api:1").as_deref(),
            Some("127.0.0.1:5000")
        );
    }
}

//! The native builder: assembles an OCI image from files without any daemon or external
//! tool — for the zero-install path and for static artifacts.
//!
//! An image is the base's layers (none for `scratch`) plus one new layer holding the
//! copied files, an OCI image config and an OCI image manifest. Everything is
//! reproducible: the same files and spec give the same layer, config and manifest
//! digests on any machine, because
//! - tar entries are sorted by path, with parent directories made explicit;
//! - every entry has uid/gid 0, no user or group names, and the modification time
//!   `SOURCE_DATE_EPOCH` (0 when unset); permission bits are kept, nothing else from the
//!   host (no device numbers, xattrs, access times or host paths);
//! - gzip runs with a fixed level, no file name and a zero header time;
//! - JSON is serialized with a fixed key order.
//!
//! Pulling a base image is the registry client's job
//! ([`crate::registry::RegistryClient::fetch_base`]); this module only combines an
//! already-fetched [`BaseImage`] with the new layer, so it is tested without a registry.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::dockerignore::DockerIgnore;
use crate::inputs::{EntryKind, context_entries};
use crate::platform::Platform;

/// OCI media types used by the native builder.
pub mod media_type {
    /// An OCI image manifest.
    pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// An OCI image index (multi-platform).
    pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// An OCI image config.
    pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// A gzip-compressed tar layer.
    pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// A Docker schema 2 manifest (bases pulled from Docker registries).
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// A Docker manifest list (multi-platform).
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
}

/// What the image starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An empty filesystem.
    Scratch,
    /// An image in a registry (`registry/repo:tag` or `registry/repo@sha256:…`).
    Image(String),
}

/// Copy a file or directory of the host into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// A file, or a directory whose contents are copied (as Dockerfile `COPY dir/ dest`).
    pub src: PathBuf,
    /// Absolute path in the image. For a file, a `dest` ending in `/` is a directory that
    /// receives the file under its own name.
    pub dest: String,
}

/// Everything the native builder needs to make an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeSpec {
    /// The base image.
    pub base: Base,
    /// Files to copy, applied in order (a later copy overwrites an earlier one).
    pub copy: Vec<CopySpec>,
    /// `ENTRYPOINT`; when set, an inherited `CMD` is dropped unless `cmd` is also set.
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    pub cmd: Option<Vec<String>>,
    /// `ENV`, in order; a name that the base already has is replaced.
    pub env: Vec<(String, String)>,
    /// `WORKDIR`.
    pub workdir: Option<String>,
    /// `USER`.
    pub user: Option<String>,
    /// `LABEL`s, merged over the base's. Labels named `org.opencontainers.image.*` are
    /// also written as manifest annotations.
    pub labels: BTreeMap<String, String>,
    /// `EXPOSE`d ports: `8080` or `8080/tcp`, `53/udp`.
    pub expose: Vec<String>,
    /// The platform; must match the base's.
    pub platform: Platform,
    /// Timestamp for files and the config (`SOURCE_DATE_EPOCH`); 0 when `None`.
    pub source_date_epoch: Option<u64>,
}

impl NativeSpec {
    /// A spec with nothing but a base and a platform.
    pub fn new(base: Base, platform: Platform) -> NativeSpec {
        NativeSpec {
            base,
            copy: Vec::new(),
            entrypoint: None,
            cmd: None,
            env: Vec::new(),
            workdir: None,
            user: None,
            labels: BTreeMap::new(),
            expose: Vec::new(),
            platform,
            source_date_epoch: None,
        }
    }
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Descriptor annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// For index entries: the platform of the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Value>,
}

/// Content with its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The media type.
    pub media_type: String,
    /// `sha256:<hex>` of `data`.
    pub digest: String,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, data: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_owned(),
            digest: sha256_digest(&data),
            data,
        }
    }

    /// The descriptor pointing at this blob.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.data.len() as u64,
            annotations: None,
            platform: None,
        }
    }
}

/// A base image, already resolved to one platform's manifest and its config.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseImage {
    /// Where the base lives (`registry/repo`), for cross-repository mounts of its layers.
    pub repository: String,
    /// The digest of the selected platform's manifest.
    pub manifest_digest: String,
    /// The base's layers, reused as they are.
    pub layers: Vec<Descriptor>,
    /// The base's image config (JSON).
    pub config: Value,
}

/// A built image: the manifest, the config and the new layer (the only blobs that may
/// need uploading besides the base's layers, which live in `base_repository`).
#[derive(Debug, Clone, PartialEq)]
pub struct OciImage {
    /// The manifest bytes, exactly as pushed.
    pub manifest: Blob,
    /// The image config.
    pub config: Blob,
    /// The new layer.
    pub layer: Blob,
    /// The sha256 of the new layer's uncompressed tar (its `diff_id`).
    pub layer_diff_id: String,
    /// The base's layers (empty for scratch).
    pub base_layers: Vec<Descriptor>,
    /// Where the base's layers can be mounted from.
    pub base_repository: Option<String>,
    /// The platform.
    pub platform: Platform,
}

impl OciImage {
    /// `sha256:<hex>` of the manifest: the digest the image is pinned by.
    pub fn digest(&self) -> &str {
        &self.manifest.digest
    }
}

/// Errors of the native builder.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// A copy source does not exist.
    #[error("copy source `{}` does not exist", .0.display())]
    MissingSource(PathBuf),
    /// A copy destination is not an absolute path.
    #[error("copy destination `{0}` must be an absolute path")]
    RelativeDestination(String),
    /// The spec names a base image but none was given to [`build`].
    #[error("base image `{0}` was not fetched")]
    BaseNotFetched(String),
    /// The base image's config is for another platform.
    #[error("base image is `{base}` but the build is for `{wanted}`")]
    BasePlatformMismatch {
        /// The base's platform.
        base: String,
        /// The requested platform.
        wanted: String,
    },
    /// A multi-platform base has no manifest for the requested platform.
    #[error("no manifest for platform `{wanted}`; available: {}", available.join(", "))]
    NoMatchingPlatform {
        /// The requested platform.
        wanted: String,
        /// The platforms the index offers.
        available: Vec<String>,
    },
    /// A manifest or config that is not valid JSON of the expected shape.
    #[error("invalid {what}: {message}")]
    InvalidDocument {
        /// Which document.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A source file cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Picks the manifest for `wanted` from an image index or Docker manifest list.
///
/// # Errors
/// [`NativeError::NoMatchingPlatform`] listing the platforms the index offers;
/// [`NativeError::InvalidDocument`] when `index` is not an index.
pub fn select_platform(index: &[u8], wanted: &Platform) -> Result<Descriptor, NativeError> {
    #[derive(Deserialize)]
    struct Index {
        manifests: Vec<Descriptor>,
    }
    let index: Index = serde_json::from_slice(index).map_err(|e| NativeError::InvalidDocument {
        what: "image index",
        message: e.to_string(),
    })?;
    let mut available = Vec::new();
    for entry in index.manifests {
        let Some(platform) = entry.platform.as_ref().and_then(platform_of) else {
            continue;
        };
        if wanted.matches(&platform) {
            return Ok(entry);
        }
        available.push(platform.to_string());
    }
    Err(NativeError::NoMatchingPlatform {
        wanted: wanted.to_string(),
        available,
    })
}

/// Reads `os`, `architecture` and `variant` from an index entry's platform or a config.
fn platform_of(value: &Value) -> Option<Platform> {
    Some(Platform {
        os: value.get("os")?.as_str()?.to_owned(),
        architecture: value.get("architecture")?.as_str()?.to_owned(),
        variant: value
            .get("variant")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// One entry of the new layer.
#[derive(Debug)]
enum LayerEntry {
    Dir { mode: u32 },
    File { mode: u32, src: PathBuf },
    Symlink { target: PathBuf },
}

/// Collects the layer's entries from the copy specs, keyed by path without leading `/`.
fn layer_entries(copy: &[CopySpec]) -> Result<BTreeMap<String, LayerEntry>, NativeError> {
    let mut entries = BTreeMap::new();
    let add = |entries: &mut BTreeMap<String, LayerEntry>, path: String, entry| {
        // Make every parent directory explicit (0755 unless the source gave one).
        let mut parent = String::new();
        for part in path.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            entries
                .entry(parent.clone())
                .or_insert(LayerEntry::Dir { mode: 0o755 });
        }
        entries.insert(path, entry);
    };
    for item in copy {
        let dest = item
            .dest
            .strip_prefix('/')
            .ok_or_else(|| NativeError::RelativeDestination(item.dest.clone()))?;
        let meta = std::fs::symlink_metadata(&item.src)
            .map_err(|_| NativeError::MissingSource(item.src.clone()))?;
        let dest_dir = dest.trim_end_matches('/');
        if meta.is_dir() {
            let listed = context_entries(&item.src, &DockerIgnore::default()).map_err(|e| {
                NativeError::Io {
                    path: item.src.clone(),
                    source: std::io::Error::other(e.to_string()),
                }
            })?;
            for entry in listed {
                let path = if dest_dir.is_empty() {
                    entry.path.clone()
                } else {
                    format!("{dest_dir}/{}", entry.path)
                };
                let full = item.src.join(&entry.path);
                let layer_entry = match entry.kind {
                    EntryKind::Dir => {
                        use std::os::unix::fs::PermissionsExt;
                        let mode = std::fs::metadata(&full)
                            .map(|m| m.permissions().mode() & 0o7777)
                            .unwrap_or(0o755);
                        LayerEntry::Dir { mode }
                    }
                    EntryKind::File { mode } => LayerEntry::File { mode, src: full },
                    EntryKind::Symlink(target) => LayerEntry::Symlink { target },
                };
                add(&mut entries, path, layer_entry);
            }
        } else {
            let path = if dest.ends_with('/') || dest.is_empty() {
                let name = item.src.file_name().unwrap_or_default().to_string_lossy();
                if dest_dir.is_empty() {
                    name.into_owned()
                } else {
                    format!("{dest_dir}/{name}")
                }
            } else {
                dest.to_owned()
            };
            let entry = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&item.src).map_err(|source| NativeError::Io {
                    path: item.src.clone(),
                    source,
                })?;
                LayerEntry::Symlink { target }
            } else {
                use std::os::unix::fs::PermissionsExt;
                LayerEntry::File {
                    mode: meta.permissions().mode() & 0o7777,
                    src: item.src.clone(),
                }
            };
            add(&mut entries, path, entry);
        }
    }
    Ok(entries)
}

/// Writes the reproducible tar of the new layer.
fn layer_tar(entries: &BTreeMap<String, LayerEntry>, mtime: u64) -> Result<Vec<u8>, NativeError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NativeError::Io { path, source }
    };
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match entry {
            LayerEntry::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{path}/"), std::io::empty())
                    .map_err(io(Path::new(path)))?;
            }
            LayerEntry::File { mode, src } => {
                let mut data = Vec::new();
                std::fs::File::open(src)
                    .and_then(|mut f| f.read_to_end(&mut data))
                    .map_err(io(src))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                builder
                    .append_data(&mut header, path, data.as_slice())
                    .map_err(io(src))?;
            }
            LayerEntry::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder
                    .append_link(&mut header, path, target)
                    .map_err(io(Path::new(path)))?;
            }
        }
    }
    builder.into_inner().map_err(io(Path::new("layer")))
}

/// Deterministic gzip: fixed level, no name, zero time.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// RFC 3339 UTC timestamp of a Unix time.
pub fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Builds the image described by `spec` on top of `base` (which must be given when
/// `spec.base` is an image, and must be for `spec.platform`).
///
/// # Errors
/// [`NativeError::MissingSource`] and [`NativeError::RelativeDestination`] for bad copy
/// items, [`NativeError::BaseNotFetched`] and [`NativeError::BasePlatformMismatch`] for
/// a missing or wrong base, [`NativeError::Io`] when a file cannot be read.
pub fn build(spec: &NativeSpec, base: Option<&BaseImage>) -> Result<OciImage, NativeError> {
    let base = match (&spec.base, base) {
        (Base::Scratch, _) => None,
        (Base::Image(reference), None) => {
            return Err(NativeError::BaseNotFetched(reference.clone()));
        }
        (Base::Image(_), Some(base)) => {
            let base_platform = platform_of(&base.config);
            if let Some(platform) = base_platform.filter(|p| !spec.platform.matches(p)) {
                return Err(NativeError::BasePlatformMismatch {
                    base: platform.to_string(),
                    wanted: spec.platform.to_string(),
                });
            }
            Some(base)
        }
    };
    let mtime = spec.source_date_epoch.unwrap_or(0);
    let created = rfc3339(mtime);

    let entries = layer_entries(&spec.copy)?;
    let tar = layer_tar(&entries, mtime)?;
    let layer_diff_id = sha256_digest(&tar);
    let layer = Blob::new(media_type::LAYER_GZIP, gzip(&tar));

    let config = image_config(spec, base.map(|b| &b.config), &layer_diff_id, &created);
    let config = Blob::new(
        media_type::CONFIG,
        serde_json::to_vec(&config).expect("JSON values serialize"),
    );

    let mut layers: Vec<Descriptor> = base.map(|b| b.layers.clone()).unwrap_or_default();
    layers.push(layer.descriptor());
    let annotations: Map<String, Value> = spec
        .labels
        .iter()
        .filter(|(k, _)| k.starts_with("org.opencontainers.image."))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::MANIFEST,
        "config": config.descriptor(),
        "layers": layers,
    });
    if !annotations.is_empty() {
        manifest["annotations"] = Value::Object(annotations);
    }
    let manifest = Blob::new(
        media_type::MANIFEST,
        serde_json::to_vec(&manifest).expect("JSON values serialize"),
    );
    Ok(OciImage {
        manifest,
        config,
        layer,
        layer_diff_id,
        base_layers: base.map(|b| b.layers.clone()).unwrap_or_default(),
        base_repository: base.map(|b| b.repository.clone()),
        platform: spec.platform.clone(),
    })
}

/// The OCI image config: the base's, with the spec applied on top.
fn image_config(spec: &NativeSpec, base: Option<&Value>, diff_id: &str, created: &str) -> Value {
    let base_config = base
        .and_then(|b| b.get("config"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut config = base_config;

    // Env: replace names the base has, append new ones, keep order.
    let mut env: Vec<String> = config
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in &spec.env {
        let item = format!("{name}={value}");
        match env
            .iter_mut()
            .find(|e| e.split('=').next() == Some(name.as_str()))
        {
            Some(existing) => *existing = item,
            None => env.push(item),
        }
    }
    if !env.is_empty() {
        config.insert("Env".into(), json!(env));
    }
    if let Some(entrypoint) = &spec.entrypoint {
        config.insert("Entrypoint".into(), json!(entrypoint));
        // As in a Dockerfile: a new ENTRYPOINT drops the inherited CMD.
        config.remove("Cmd");
    }
    if let Some(cmd) = &spec.cmd {
        config.insert("Cmd".into(), json!(cmd));
    }
    if let Some(workdir) = &spec.workdir {
        config.insert("WorkingDir".into(), json!(workdir));
    }
    if let Some(user) = &spec.user {
        config.insert("User".into(), json!(user));
    }
    if !spec.labels.is_empty() {
        let mut labels = config
            .get("Labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in &spec.labels {
            labels.insert(k.clone(), json!(v));
        }
        config.insert("Labels".into(), Value::Object(labels));
    }
    if !spec.expose.is_empty() {
        let mut ports = config
            .get("ExposedPorts")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for port in &spec.expose {
            let port = if port.contains('/') {
                port.clone()
            } else {
                format!("{port}/tcp")
            };
            ports.insert(port, json!({}));
        }
        config.insert("ExposedPorts".into(), Value::Object(ports));
    }

    let mut diff_ids: Vec<Value> = base
        .and_then(|b| b.pointer("/rootfs/diff_ids"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    diff_ids.push(json!(diff_id));
    let mut history: Vec<Value> = base
        .and_then(|b| b.get("history"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let dests: Vec<&str> = spec.copy.iter().map(|c| c.dest.as_str()).collect();
    history.push(json!({
        "created": created,
        "created_by": format!("slipway native build: COPY {}", dests.join(" ")),
    }));

    let mut image = json!({
        "created": created,
        "architecture": spec.platform.architecture,
        "os": spec.platform.os,
        "config": Value::Object(config),
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history,
    });
    if let Some(variant) = &spec.platform.variant {
        image["variant"] = json!(variant);
    }
    image
}

/// Writes `image` as an OCI image layout directory (`oci-layout`, `index.json`,
/// `blobs/sha256/…`), readable by `skopeo copy oci:<dir>` and `buildah`. Only images
/// without base layers can be written, since the base's blobs are not held locally.
///
/// # Errors
/// [`NativeError::BaseNotFetched`] for an image with base layers; [`NativeError::Io`]
/// when the directory cannot be written.
pub fn write_oci_layout(image: &OciImage, dir: &Path, tag: &str) -> Result<(), NativeError> {
    if let Some(repository) = &image.base_repository {
        return Err(NativeError::BaseNotFetched(repository.clone()));
    }
    let io = |path: PathBuf| move |source| NativeError::Io { path, source };
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(io(blobs.clone()))?;
    for blob in [&image.manifest, &image.config, &image.layer] {
        let path = blobs.join(blob.digest.trim_start_matches("sha256:"));
        std::fs::write(&path, &blob.data).map_err(io(path.clone()))?;
    }
    let mut descriptor = image.manifest.descriptor();
    descriptor.annotations = Some(BTreeMap::from([(
        "org.opencontainers.image.ref.name".to_owned(),
        tag.to_owned(),
    )]));
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media_type::INDEX,
        "manifests": [descriptor],
    });
    let path = dir.join("index.json");
    std::fs::write(&path, serde_json::to_vec(&index).expect("JSON")).map_err(io(path.clone()))?;
    let path = dir.join("oci-layout");
    std::fs::write(&path, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io(path.clone()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_577_836_800), "2020-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn select_platform_picks_the_matching_manifest() {
        let index = br#"{"schemaVersion":2,"manifests":[
            {"mediaType":"m","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"mediaType":"m","digest":"sha256:bb","size":2,"platform":{"os":"linux","architecture":"amd64"}}]}"#;
        let amd64 = select_platform(index, &Platform::linux_amd64()).unwrap();
        assert_eq!(amd64.digest, "sha256:bb");
        let arm64 = select_platform(index, &"linux/arm64".parse().unwrap()).unwrap();
        assert_eq!(arm64.digest, "sha256:aa");
    }

    #[test]
    fn select_platform_lists_available_platforms_when_none_matches() {
        let index = br#"{"manifests":[
            {"mediaType":"m","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#;
        let err = select_platform(index, &Platform::linux_amd64()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no manifest for platform `linux/amd64`; available: linux/arm64/v8"
        );
    }

    #[test]
    fn gzip_output_is_identical_for_identical_input() {
        let data = b"hello hello hello".repeat(100);
        assert_eq!(gzip(&data), gzip(&data));
        // No file name, zero time, fixed OS byte.
        let out = gzip(&data);
        assert_eq!(&out[3..10], &[0, 0, 0, 0, 0, 0, 255][..]);
    }
}

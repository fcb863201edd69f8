//! What the registry needs to know about a pushed manifest: its media type, the blobs or
//! manifests it references (which must already be in the repository), and its subject.

use super::errors::{Code, RegistryError};
use super::names::Digest;
use serde_json::{Value, json};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Largest manifest accepted (the size every registry must accept, per the spec).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// A pushed manifest, analysed.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestInfo {
    /// The media type it is served with.
    pub media_type: String,
    /// Blobs (config and layers) that must exist in the repository.
    pub blobs: Vec<Digest>,
    /// Manifests (entries of an index) that must exist in the repository.
    pub manifests: Vec<Digest>,
    /// `subject.digest`, for the referrers API.
    pub subject: Option<Digest>,
    /// `artifactType`, else the config's media type (image manifests).
    pub artifact_type: Option<String>,
    pub annotations: Option<Value>,
}

fn invalid(detail: impl Into<String>) -> RegistryError {
    RegistryError::new(Code::ManifestInvalid, json!(detail.into()))
}

/// `type/subtype` without parameters, lower-cased.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn descriptor_digest(v: &Value, what: &str) -> Result<Digest, RegistryError> {
    let d = v
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what} has no digest")))?;
    Digest::parse(d).map_err(|_| invalid(format!("{what} has an invalid digest {d:?}")))
}

/// Parses and checks a manifest body sent with `content_type` (may be empty).
pub fn analyze(content_type: &str, body: &[u8]) -> Result<ManifestInfo, RegistryError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| invalid("a manifest is a JSON object"))?;
    let header = essence(content_type);
    let field = obj.get("mediaType").and_then(Value::as_str).map(essence);
    if header == DOCKER_SCHEMA1
        || header == DOCKER_SCHEMA1_SIGNED
        || obj.get("schemaVersion").and_then(Value::as_i64) == Some(1)
    {
        return Err(invalid(
            "Docker schema 1 manifests are not supported; push a schema 2 or OCI manifest",
        ));
    }
    if obj.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let generic = header.is_empty()
        || header == "application/json"
        || header == "application/octet-stream"
        || header == "text/plain";
    let media_type = if generic {
        match &field {
            Some(f) => f.clone(),
            None if obj.contains_key("manifests") => OCI_INDEX.to_string(),
            None if obj.contains_key("config") || obj.contains_key("layers") => {
                OCI_MANIFEST.to_string()
            }
            None => return Err(invalid("cannot tell the manifest's media type")),
        }
    } else {
        if let Some(f) = &field
            && *f != header
        {
            return Err(invalid(format!(
                "mediaType {f:?} in the manifest does not match Content-Type {header:?}"
            )));
        }
        header.clone()
    };

    let mut info = ManifestInfo {
        media_type: media_type.clone(),
        blobs: vec![],
        manifests: vec![],
        subject: None,
        artifact_type: obj
            .get("artifactType")
            .and_then(Value::as_str)
            .map(str::to_string),
        annotations: obj.get("annotations").cloned(),
    };
    if let Some(s) = obj.get("subject") {
        info.subject = Some(descriptor_digest(s, "subject")?);
    }
    let is_index =
        media_type == OCI_INDEX || media_type == DOCKER_LIST || obj.contains_key("manifests");
    if is_index {
        let list = obj
            .get("manifests")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("an index needs a manifests list"))?;
        for (i, m) in list.iter().enumerate() {
            info.manifests
                .push(descriptor_digest(m, &format!("manifests[{i}]"))?);
        }
        return Ok(info);
    }
    let image = media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST;
    match obj.get("config") {
        Some(c) => {
            info.blobs.push(descriptor_digest(c, "config")?);
            if info.artifact_type.is_none() && media_type == OCI_MANIFEST {
                info.artifact_type = c
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
        }
        None if image => return Err(invalid("an image manifest needs a config")),
        None => {}
    }
    match obj.get("layers") {
        Some(Value::Array(layers)) => {
            for (i, l) in layers.iter().enumerate() {
                let d = descriptor_digest(l, &format!("layers[{i}]"))?;
                // Foreign layers (with `urls`) live elsewhere.
                let foreign = l
                    .get("urls")
                    .and_then(Value::as_array)
                    .is_some_and(|u| !u.is_empty());
                if !foreign {
                    info.blobs.push(d);
                }
            }
        }
        Some(_) => return Err(invalid("layers must be a list")),
        None if media_type == DOCKER_MANIFEST => {
            return Err(invalid("an image manifest needs layers"));
        }
        None => {}
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn image_manifest() {
        let body = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d('a'), "size": 1},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d('b'), "size": 2},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d('c'), "size": 2, "urls": ["https://example.com/x"]}
            ],
            "subject": {"mediaType": OCI_MANIFEST, "digest": d('e'), "size": 3}
        });
        let info = analyze(OCI_MANIFEST, body.to_string().as_bytes()).unwrap();
        assert_eq!(info.media_type, OCI_MANIFEST);
        assert_eq!(
            info.blobs,
            vec![
                Digest::parse(&d('a')).unwrap(),
                Digest::parse(&d('b')).unwrap()
            ]
        );
        assert_eq!(info.subject, Some(Digest::parse(&d('e')).unwrap()));
        assert_eq!(
            info.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        // Without a Content-Type the body's mediaType decides.
        let info = analyze("", body.to_string().as_bytes()).unwrap();
        assert_eq!(info.media_type, OCI_MANIFEST);
    }

    #[test]
    fn index_and_docker_types() {
        let body = json!({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [{"digest": d('1'), "size": 1, "mediaType": DOCKER_MANIFEST}]});
        let info = analyze(DOCKER_LIST, body.to_string().as_bytes()).unwrap();
        assert_eq!(info.manifests, vec![Digest::parse(&d('1')).unwrap()]);
        assert!(info.blobs.is_empty());
        let body = json!({"schemaVersion": 2, "manifests": []});
        assert_eq!(
            analyze("application/json", body.to_string().as_bytes())
                .unwrap()
                .media_type,
            OCI_INDEX
        );
    }

    #[test]
    fn invalid_manifests() {
        let code = |ct: &str, body: &str| analyze(ct, body.as_bytes()).unwrap_err().code;
        assert_eq!(code(OCI_MANIFEST, "not json"), Code::ManifestInvalid);
        assert_eq!(code(OCI_MANIFEST, "[]"), Code::ManifestInvalid);
        assert_eq!(
            code(OCI_MANIFEST, r#"{"schemaVersion":1}"#),
            Code::ManifestInvalid
        );
        let mismatch = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
        assert_eq!(
            code(OCI_MANIFEST, &mismatch.to_string()),
            Code::ManifestInvalid
        );
        let bad_digest =
            json!({"schemaVersion": 2, "config": {"digest": "sha256:zz"}, "layers": []});
        assert_eq!(
            code(OCI_MANIFEST, &bad_digest.to_string()),
            Code::ManifestInvalid
        );
        assert_eq!(
            code(OCI_MANIFEST, r#"{"schemaVersion":2,"layers":[]}"#),
            Code::ManifestInvalid
        );
    }

    #[test]
    fn essence_strips_parameters() {
        assert_eq!(
            essence("Application/JSON; charset=utf-8"),
            "application/json"
        );
    }
}

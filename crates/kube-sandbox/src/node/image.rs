//! Image resolution over the OCI distribution API, as a container runtime does before
//! pulling: `GET /v2/<repo>/manifests/<ref>` (an index is narrowed to the linux/amd64
//! manifest), then the config blob, whose `config.Labels` may carry the sandbox behaviour.
//! Only registries on loopback or named in the node options are asked (over plain HTTP);
//! others are taken as present unless images are strict. Errors read like containerd's.

use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `127.0.0.1:5000` or `docker.io`.
    pub registry: String,
    /// `library/nginx`.
    pub repository: String,
    /// Tag or digest (`sha256:…`).
    pub reference: String,
}

impl ImageRef {
    /// Parses `[registry/]repo[:tag][@digest]` with Docker's defaults.
    pub fn parse(image: &str) -> ImageRef {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, p))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), p.to_string())
            }
            _ => ("docker.io".to_string(), rest.to_string()),
        };
        let (repo, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
            _ => (path.clone(), "latest".to_string()),
        };
        let repository = if registry == "docker.io" && !repo.contains('/') {
            format!("library/{repo}")
        } else {
            repo
        };
        ImageRef {
            registry,
            repository,
            reference: digest.unwrap_or(tag),
        }
    }

    /// The fully qualified name containerd prints (`docker.io/library/nginx:latest`).
    pub fn full(&self) -> String {
        let sep = if self.reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!(
            "{}/{}{sep}{}",
            self.registry, self.repository, self.reference
        )
    }

    /// Whether the registry is on this machine.
    pub fn is_loopback(&self) -> bool {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, _)| h);
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
    }
}

/// What resolution found.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// `registry/repo@sha256:…`.
    pub image_id: String,
    /// The behaviour label of the config, if any.
    pub behavior_label: Option<String>,
    /// Config plus layers, in bytes.
    pub size: u64,
}

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = body.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&body[..pos]);
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        body = &body[pos + 2..];
        if size == 0 || body.len() < size {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
}

async fn http_get(host: &str, path: &str, accept: &str) -> Result<HttpResponse, String> {
    let fut = async {
        let mut stream = tokio::net::TcpStream::connect(host).await.map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                "connect: connection refused".to_string()
            } else {
                e.to_string()
            };
            format!("dial tcp {host}: {why}")
        })?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: containerd/v1.7 (kube-sandbox)\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        stream
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("malformed HTTP response")?;
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or("malformed HTTP status line")?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        let mut body = buf[end + 4..].to_vec();
        let chunked = headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        if chunked {
            body = dechunk(&body);
        }
        Ok::<_, String>(HttpResponse {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| format!("dial tcp {host}: i/o timeout"))?
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

fn not_found(r: &ImageRef) -> String {
    let full = r.full();
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
    )
}

fn unknown(r: &ImageRef, why: &str) -> String {
    let full = r.full();
    format!(
        "rpc error: code = Unknown desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {why}"
    )
}

/// Resolves `image` against its registry over plain HTTP. The error is the message
/// containerd would report.
pub async fn resolve(image: &str) -> Result<Resolved, String> {
    let r = ImageRef::parse(image);
    let host = r.registry.as_str();
    let manifest_path = |reference: &str| format!("/v2/{}/manifests/{reference}", r.repository);
    let url = format!("http://{host}{}", manifest_path(&r.reference));
    let resp = http_get(host, &manifest_path(&r.reference), MANIFEST_ACCEPT)
        .await
        .map_err(|e| unknown(&r, &format!("failed to do request: Head \"{url}\": {e}")))?;
    match resp.status {
        200 => {}
        404 => return Err(not_found(&r)),
        401 | 403 => {
            return Err(unknown(
                &r,
                "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
            ));
        }
        s => {
            return Err(unknown(
                &r,
                &format!("unexpected status from HEAD request to {url}: {s}"),
            ));
        }
    }
    let digest = resp
        .header("Docker-Content-Digest")
        .map(str::to_string)
        .unwrap_or_else(|| {
            if r.reference.starts_with("sha256:") {
                r.reference.clone()
            } else {
                format!("sha256:{}", crate::util::new_uid().replace('-', ""))
            }
        });
    let mut manifest: Value = serde_json::from_slice(&resp.body)
        .map_err(|e| unknown(&r, &format!("invalid manifest: {e}")))?;
    if let Some(list) = manifest["manifests"].as_array() {
        let pick = list
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
            .or_else(|| list.first())
            .ok_or_else(|| {
                unknown(
                    &r,
                    "no matching manifest for linux/amd64 in the manifest list entries",
                )
            })?;
        let d = pick["digest"].as_str().unwrap_or_default().to_string();
        let resp = http_get(host, &manifest_path(&d), MANIFEST_ACCEPT)
            .await
            .map_err(|e| unknown(&r, &e))?;
        if resp.status != 200 {
            return Err(not_found(&r));
        }
        manifest = serde_json::from_slice(&resp.body)
            .map_err(|e| unknown(&r, &format!("invalid manifest: {e}")))?;
    }
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut size = manifest["config"]["size"].as_u64().unwrap_or(0);
    size += manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["size"].as_u64())
        .sum::<u64>();
    let mut behavior_label = None;
    if !config_digest.is_empty() {
        let path = format!("/v2/{}/blobs/{config_digest}", r.repository);
        let resp = http_get(host, &path, "*/*")
            .await
            .map_err(|e| unknown(&r, &e))?;
        if resp.status != 200 {
            let full = r.full();
            return Err(format!(
                "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to copy: httpReadSeeker: failed open: content at http://{host}{path} not found: not found"
            ));
        }
        let config: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        behavior_label = config["config"]["Labels"][super::behavior::BEHAVIOR_KEY]
            .as_str()
            .map(str::to_string);
    }
    Ok(Resolved {
        image_id: format!("{}/{}@{digest}", r.registry, r.repository),
        behavior_label,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_get_docker_defaults() {
        let r = ImageRef::parse("nginx");
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.reference.as_str()
            ),
            ("docker.io", "library/nginx", "latest")
        );
        assert_eq!(r.full(), "docker.io/library/nginx:latest");
        let r = ImageRef::parse("127.0.0.1:5000/team/app:v2");
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.reference.as_str()
            ),
            ("127.0.0.1:5000", "team/app", "v2")
        );
        assert!(r.is_loopback());
        let r = ImageRef::parse("ghcr.io/o/app@sha256:abc");
        assert_eq!(r.reference, "sha256:abc");
        assert_eq!(r.full(), "ghcr.io/o/app@sha256:abc");
        assert!(!r.is_loopback());
        assert_eq!(ImageRef::parse("localhost:5000/app").reference, "latest");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }
}

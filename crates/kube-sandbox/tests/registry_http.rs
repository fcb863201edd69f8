//! The embedded registry over plain HTTP: chunked uploads with `Content-Range`, digest
//! verification, manifests that reference unknown blobs, tags paging, mounts and error
//! bodies, as the OCI distribution specification describes them.

mod common;

use common::sha256;
use kube_sandbox::{Sandbox, SandboxHandle, SandboxOptions};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The code of the first error of an error body.
    fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One HTTP/1.1 request on its own connection.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked && method != "HEAD" {
        let mut out = vec![];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest.drain(..eol + 2 + size + 2);
        }
        rest = out;
    }
    Resp {
        status,
        headers,
        body: rest,
    }
}

async fn start(dir: Option<PathBuf>) -> (SandboxHandle, SocketAddr) {
    let sandbox = Sandbox::start(SandboxOptions {
        registry_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        registry_dir: dir,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let addr = sandbox.registry_addr().expect("registry serves");
    (sandbox, addr)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("registry-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Pushes a blob monolithically and returns its digest.
async fn push_blob(addr: SocketAddr, repo: &str, data: &[u8]) -> String {
    let d = sha256(data);
    let r = http(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("docker-content-digest"), Some(d.as_str()));
    assert_eq!(
        r.header("location"),
        Some(format!("/v2/{repo}/blobs/{d}").as_str())
    );
    d
}

fn image_manifest(media_type: &str, config: &str, layers: &[&str]) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": layers.iter().map(|l| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l, "size": 1
        })).collect::<Vec<_>>()
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn base_endpoint_and_error_bodies() {
    let (sandbox, addr) = start(None).await;
    let r = http(addr, "GET", "/v2/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    assert_eq!(r.json(), json!({}));

    let missing = sha256(b"nothing");
    let r = http(
        addr,
        "GET",
        &format!("/v2/demo/api/blobs/{missing}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
    let e = &r.json()["errors"][0];
    assert_eq!(e["code"], "BLOB_UNKNOWN");
    assert_eq!(e["message"], "blob unknown to registry");
    assert!(e.get("detail").is_some());
    let r = http(
        addr,
        "HEAD",
        &format!("/v2/demo/api/blobs/{missing}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);

    for bad in [
        "/v2/Demo/tags/list",
        "/v2/demo--/tags/list",
        "/v2/a//b/tags/list",
    ] {
        let r = http(addr, "GET", bad, &[], b"").await;
        assert_eq!(
            (r.status, r.code()),
            (400, "NAME_INVALID".to_string()),
            "{bad}"
        );
    }
    let r = http(addr, "GET", "/v2/demo/blobs/sha256:1234", &[], b"").await;
    assert_eq!((r.status, r.code()), (400, "DIGEST_INVALID".to_string()));
    let r = http(addr, "GET", "/v2/demo/tags/list", &[], b"").await;
    assert_eq!((r.status, r.code()), (404, "NAME_UNKNOWN".to_string()));
    let r = http(addr, "GET", "/v2/demo/manifests/.bad", &[], b"").await;
    assert_eq!(r.status, 400);
    sandbox.shutdown().await;
}

async fn chunked_upload(addr: SocketAddr) {
    let repo = "demo/chunked";
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let digest = sha256(&data);

    let r = http(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    let location = r.header("location").unwrap().to_string();
    assert!(location.starts_with(&format!("/v2/{repo}/blobs/uploads/")));
    let uuid = r.header("docker-upload-uuid").unwrap().to_string();
    assert!(location.ends_with(&uuid));
    assert_eq!(r.header("range"), Some("0-0"));

    // First chunk with Content-Range.
    let r = http(
        addr,
        "PATCH",
        &location,
        &[
            ("Content-Range", "0-39999"),
            ("Content-Type", "application/octet-stream"),
        ],
        &data[..40_000],
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.header("range"), Some("0-39999"));
    assert_eq!(r.header("docker-upload-uuid"), Some(uuid.as_str()));
    let location = r.header("location").unwrap().to_string();

    // Out of order: 416 with the current range; nothing is written.
    let r = http(
        addr,
        "PATCH",
        &location,
        &[("Content-Range", "50000-59999")],
        &data[50_000..60_000],
    )
    .await;
    assert_eq!(r.status, 416, "{r:?}");
    assert_eq!(r.code(), "RANGE_INVALID");
    assert_eq!(r.header("range"), Some("0-39999"));
    // Overlapping an already written range: also 416.
    let r = http(
        addr,
        "PATCH",
        &location,
        &[("Content-Range", "0-9")],
        &data[..10],
    )
    .await;
    assert_eq!(r.status, 416);
    // Range and body of different lengths: refused, nothing written.
    let r = http(
        addr,
        "PATCH",
        &location,
        &[("Content-Range", "40000-40009")],
        &data[40_000..40_005],
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");

    // Second chunk without Content-Range (streamed PATCH).
    let r = http(addr, "PATCH", &location, &[], &data[40_000..90_000]).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("range"), Some("0-89999"));

    // Status.
    let r = http(addr, "GET", &location, &[], b"").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("range"), Some("0-89999"));
    assert_eq!(r.header("docker-upload-uuid"), Some(uuid.as_str()));

    // Not there yet.
    let r = http(
        addr,
        "HEAD",
        &format!("/v2/{repo}/blobs/{digest}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);

    // Finish with the last chunk in the PUT.
    let r = http(
        addr,
        "PUT",
        &format!("{location}?digest={digest}"),
        &[],
        &data[90_000..],
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        r.header("location"),
        Some(format!("/v2/{repo}/blobs/{digest}").as_str())
    );

    // The session is over.
    let r = http(addr, "GET", &location, &[], b"").await;
    assert_eq!(
        (r.status, r.code()),
        (404, "BLOB_UPLOAD_UNKNOWN".to_string())
    );

    let r = http(
        addr,
        "HEAD",
        &format!("/v2/{repo}/blobs/{digest}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("100000"));
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    assert!(r.body.is_empty());
    let r = http(addr, "GET", &format!("/v2/{repo}/blobs/{digest}"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    let r = http(
        addr,
        "GET",
        &format!("/v2/{repo}/blobs/{digest}"),
        &[("Range", "bytes=10-19")],
        b"",
    )
    .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/100000"));
    assert_eq!(r.body, &data[10..20]);
    // Blobs belong to repositories.
    let r = http(
        addr,
        "HEAD",
        &format!("/v2/demo/other/blobs/{digest}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn chunked_upload_with_content_range_in_memory() {
    let (sandbox, addr) = start(None).await;
    chunked_upload(addr).await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn chunked_upload_with_content_range_on_disk() {
    let dir = temp_dir("chunked");
    let (sandbox, addr) = start(Some(dir.clone())).await;
    chunked_upload(addr).await;
    sandbox.shutdown().await;
    // Nothing left in progress, nothing partial among the blobs.
    assert_eq!(std::fs::read_dir(dir.join("uploads")).unwrap().count(), 0);
    for e in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let data = std::fs::read(e.path()).unwrap();
        assert_eq!(sha256(&data), format!("sha256:{name}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn digest_mismatch_is_refused() {
    let (sandbox, addr) = start(None).await;
    let wrong = sha256(b"something else");
    // Monolithic.
    let r = http(
        addr,
        "POST",
        &format!("/v2/demo/api/blobs/uploads/?digest={wrong}"),
        &[],
        b"payload",
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "DIGEST_INVALID".to_string()));
    let r = http(
        addr,
        "HEAD",
        &format!("/v2/demo/api/blobs/{wrong}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
    // POST, PATCH, PUT.
    let r = http(addr, "POST", "/v2/demo/api/blobs/uploads/", &[], b"").await;
    let location = r.header("location").unwrap().to_string();
    let r = http(addr, "PATCH", &location, &[], b"payload").await;
    assert_eq!(r.status, 202);
    let r = http(addr, "PUT", &format!("{location}?digest={wrong}"), &[], b"").await;
    assert_eq!((r.status, r.code()), (400, "DIGEST_INVALID".to_string()));
    let r = http(addr, "PUT", &location, &[], b"").await;
    assert_eq!(r.status, 404, "the session ended with the failed PUT");
    // A missing or malformed digest on PUT.
    let r = http(addr, "POST", "/v2/demo/api/blobs/uploads/", &[], b"").await;
    let location = r.header("location").unwrap().to_string();
    let r = http(addr, "PUT", &location, &[], b"x").await;
    assert_eq!((r.status, r.code()), (400, "DIGEST_INVALID".to_string()));
    let r = http(
        addr,
        "PUT",
        &format!("{location}?digest=md5:abcd"),
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "DIGEST_INVALID".to_string()));
    // Cancel.
    let r = http(addr, "DELETE", &location, &[], b"").await;
    assert_eq!(r.status, 204);
    let r = http(addr, "GET", &location, &[], b"").await;
    assert_eq!(
        (r.status, r.code()),
        (404, "BLOB_UPLOAD_UNKNOWN".to_string())
    );
    // A manifest pushed under a digest it does not have.
    let config = push_blob(addr, "demo/api", b"{}").await;
    let m = image_manifest(OCI_MANIFEST, &config, &[]);
    let r = http(
        addr,
        "PUT",
        &format!("/v2/demo/api/manifests/{wrong}"),
        &[("Content-Type", OCI_MANIFEST)],
        &m,
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "DIGEST_INVALID".to_string()));
    let r = http(
        addr,
        "PUT",
        &format!("/v2/demo/api/manifests/{}", sha256(&m)),
        &[("Content-Type", OCI_MANIFEST)],
        &m,
    )
    .await;
    assert_eq!(r.status, 201);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn manifests_reference_existing_blobs() {
    let (sandbox, addr) = start(None).await;
    let repo = "demo/api";
    let config = push_blob(addr, repo, b"{\"os\":\"linux\"}").await;
    let layer = push_blob(addr, repo, b"layer bytes").await;
    let unknown = sha256(b"never pushed");

    let m = image_manifest(OCI_MANIFEST, &config, &[&layer, &unknown]);
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/1"),
        &[("Content-Type", OCI_MANIFEST)],
        &m,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "MANIFEST_BLOB_UNKNOWN".to_string())
    );
    assert_eq!(r.json()["errors"][0]["detail"]["digest"], json!(unknown));
    // A blob of another repository does not count.
    let elsewhere = push_blob(addr, "demo/other", b"other layer").await;
    let m = image_manifest(OCI_MANIFEST, &config, &[&elsewhere]);
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/1"),
        &[("Content-Type", OCI_MANIFEST)],
        &m,
    )
    .await;
    assert_eq!(r.code(), "MANIFEST_BLOB_UNKNOWN");
    let r = http(addr, "GET", &format!("/v2/{repo}/manifests/1"), &[], b"").await;
    assert_eq!((r.status, r.code()), (404, "MANIFEST_UNKNOWN".to_string()));

    // Invalid JSON.
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/1"),
        &[("Content-Type", OCI_MANIFEST)],
        b"{",
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "MANIFEST_INVALID".to_string()));

    // OCI manifest by tag.
    let m = image_manifest(OCI_MANIFEST, &config, &[&layer]);
    let digest = sha256(&m);
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/1"),
        &[("Content-Type", OCI_MANIFEST)],
        &m,
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        r.header("location"),
        Some(format!("/v2/{repo}/manifests/{digest}").as_str())
    );
    for reference in ["1", digest.as_str()] {
        let r = http(
            addr,
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", OCI_MANIFEST)],
            b"",
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
        assert_eq!(r.body, m);
        let r = http(
            addr,
            "HEAD",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-length"),
            Some(m.len().to_string().as_str())
        );
        assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
    }

    // Docker schema 2, with the media type only in the header.
    let mut d =
        serde_json::from_slice::<Value>(&image_manifest(DOCKER_MANIFEST, &config, &[&layer]))
            .unwrap();
    d["config"]["mediaType"] = json!("application/vnd.docker.container.image.v1+json");
    let dm = d.to_string().into_bytes();
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/docker"),
        &[("Content-Type", DOCKER_MANIFEST)],
        &dm,
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = http(
        addr,
        "GET",
        &format!("/v2/{repo}/manifests/docker"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.header("content-type"), Some(DOCKER_MANIFEST));

    // An index: its manifests must be in the repository.
    let index = |entries: &[&str]| {
        json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries.iter().map(|e| json!({
                "mediaType": OCI_MANIFEST, "digest": e, "size": 1,
                "platform": {"architecture": "amd64", "os": "linux"}
            })).collect::<Vec<_>>()
        })
        .to_string()
        .into_bytes()
    };
    let bad = index(&[&unknown]);
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/multi"),
        &[("Content-Type", OCI_INDEX)],
        &bad,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "MANIFEST_BLOB_UNKNOWN".to_string())
    );
    let good = index(&[&digest]);
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/multi"),
        &[("Content-Type", OCI_INDEX)],
        &good,
    )
    .await;
    assert_eq!(r.status, 201);
    let r = http(
        addr,
        "GET",
        &format!("/v2/{repo}/manifests/multi"),
        &[("Accept", "*/*")],
        b"",
    )
    .await;
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    assert_eq!(r.body, good);

    // Deleting a tag leaves the manifest; deleting by digest removes it.
    let r = http(
        addr,
        "DELETE",
        &format!("/v2/{repo}/manifests/multi"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 202);
    let r = http(
        addr,
        "GET",
        &format!("/v2/{repo}/manifests/multi"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
    let r = http(
        addr,
        "DELETE",
        &format!("/v2/{repo}/manifests/{digest}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 202);
    let r = http(addr, "GET", &format!("/v2/{repo}/manifests/1"), &[], b"").await;
    assert_eq!(r.code(), "MANIFEST_UNKNOWN");
    let r = http(addr, "GET", "/v2/demo/none/manifests/1", &[], b"").await;
    assert_eq!((r.status, r.code()), (404, "MANIFEST_UNKNOWN".to_string()));
    assert_eq!(r.json()["errors"][0]["detail"], json!({"Tag": "1"}));

    // Blob delete.
    let r = http(
        addr,
        "DELETE",
        &format!("/v2/{repo}/blobs/{layer}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 202);
    let r = http(addr, "HEAD", &format!("/v2/{repo}/blobs/{layer}"), &[], b"").await;
    assert_eq!(r.status, 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tags_list_and_catalog_paging() {
    let (sandbox, addr) = start(None).await;
    let repo = "demo/paged";
    let config = push_blob(addr, repo, b"{}").await;
    let m = image_manifest(OCI_MANIFEST, &config, &[]);
    for tag in ["v3", "v1", "latest", "v2", "a-first"] {
        let r = http(
            addr,
            "PUT",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("Content-Type", OCI_MANIFEST)],
            &m,
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let r = http(addr, "GET", &format!("/v2/{repo}/tags/list"), &[], b"").await;
    assert_eq!(
        r.json(),
        json!({"name": repo, "tags": ["a-first", "latest", "v1", "v2", "v3"]})
    );
    assert!(r.header("link").is_none());

    // Follow the Link headers two at a time.
    let mut next = Some(format!("/v2/{repo}/tags/list?n=2"));
    let mut pages = vec![];
    while let Some(url) = next {
        let r = http(addr, "GET", &url, &[], b"").await;
        assert_eq!(r.status, 200);
        pages.push(r.json()["tags"].clone());
        next = r.header("link").map(|l| {
            assert!(l.ends_with("; rel=\"next\""), "{l}");
            l[1..l.find('>').unwrap()].to_string()
        });
        assert!(pages.len() <= 3);
    }
    assert_eq!(
        pages,
        vec![
            json!(["a-first", "latest"]),
            json!(["v1", "v2"]),
            json!(["v3"])
        ]
    );

    let r = http(
        addr,
        "GET",
        &format!("/v2/{repo}/tags/list?n=10&last=v1"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.json()["tags"], json!(["v2", "v3"]));
    let r = http(addr, "GET", &format!("/v2/{repo}/tags/list?n=0"), &[], b"").await;
    assert_eq!(r.json()["tags"], json!([]));
    let r = http(addr, "GET", &format!("/v2/{repo}/tags/list?n=x"), &[], b"").await;
    assert_eq!(
        (r.status, r.code()),
        (400, "PAGINATION_NUMBER_INVALID".to_string())
    );

    push_blob(addr, "alpha", b"a").await;
    push_blob(addr, "zulu/one", b"z").await;
    let r = http(addr, "GET", "/v2/_catalog", &[], b"").await;
    assert_eq!(
        r.json(),
        json!({"repositories": ["alpha", "demo/paged", "zulu/one"]})
    );
    let r = http(addr, "GET", "/v2/_catalog?n=1&last=alpha", &[], b"").await;
    assert_eq!(r.json(), json!({"repositories": ["demo/paged"]}));
    assert_eq!(
        r.header("link"),
        Some("</v2/_catalog?last=demo/paged&n=1>; rel=\"next\"")
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn cross_repository_mount() {
    let (sandbox, addr) = start(None).await;
    let d = push_blob(addr, "demo/api", b"shared layer").await;
    let r = http(
        addr,
        "POST",
        &format!("/v2/demo/web/blobs/uploads/?mount={d}&from=demo/api"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("docker-content-digest"), Some(d.as_str()));
    assert_eq!(
        r.header("location"),
        Some(format!("/v2/demo/web/blobs/{d}").as_str())
    );
    let r = http(addr, "GET", &format!("/v2/demo/web/blobs/{d}"), &[], b"").await;
    assert_eq!(r.body, b"shared layer");
    // Unknown in the source repository: an ordinary upload starts instead.
    let r = http(
        addr,
        "POST",
        &format!("/v2/demo/web2/blobs/uploads/?mount={d}&from=demo/nope"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 202);
    assert!(r.header("docker-upload-uuid").is_some());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn registry_is_off_by_default() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    assert!(sandbox.registry_addr().is_none());
    sandbox.shutdown().await;
}

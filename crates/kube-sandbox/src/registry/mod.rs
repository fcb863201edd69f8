//! An embedded OCI registry (distribution API v2), served on its own listener by the
//! sandbox process, so that images built on a machine with nothing installed have
//! somewhere to be pushed and the simulated node somewhere to pull them from.
//!
//! Supported: the API base (`/v2/`), blobs (`GET`/`HEAD`/`DELETE`, ranged `GET`), uploads
//! (monolithic `POST ?digest=`, `POST` then `PUT`, chunked `PATCH` with or without
//! `Content-Range`, status, cancel, cross-repository mount), manifests (`PUT`/`GET`/`HEAD`/
//! `DELETE` by tag or digest; OCI and Docker schema 2 image manifests and indexes; the
//! referenced blobs and manifests must exist), tags list and catalog with `n`/`last` paging,
//! and the referrers API. There is no authentication: bind it to loopback only.

pub mod errors;
pub mod manifest;
pub mod names;
pub mod storage;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use errors::{Code, RegistryError};
use names::{Digest, DigestError};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use storage::{AppendError, Content, Reference, Storage, Upload};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

const API_VERSION: &str = "Docker-Distribution-API-Version";
const CONTENT_DIGEST: &str = "Docker-Content-Digest";
const UPLOAD_UUID: &str = "Docker-Upload-UUID";

/// A registry serving on its own listener.
pub struct RegistryServer {
    addr: SocketAddr,
    storage: Arc<Storage>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RegistryServer {
    /// Binds `listen` and serves in the background; blobs and repositories are kept under
    /// `dir` when given (and what an earlier run stored there is served again), else in
    /// memory.
    pub async fn start(listen: SocketAddr, dir: Option<&Path>) -> std::io::Result<RegistryServer> {
        let storage = Arc::new(match dir {
            Some(d) => Storage::open(d)?,
            None => Storage::memory(),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = router(storage.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RegistryServer {
            addr,
            storage,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The bound address (`127.0.0.1:<port>`); images are named `<addr>/<repo>:<tag>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The storage, for in-process inspection.
    pub fn storage(&self) -> Arc<Storage> {
        self.storage.clone()
    }

    /// Stops serving and closes open connections.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// The registry's HTTP API over `storage`.
pub fn router(storage: Arc<Storage>) -> axum::Router {
    axum::Router::new().fallback(move |req: Request| {
        let storage = storage.clone();
        async move { handle(&storage, req).await }
    })
}

async fn handle(storage: &Storage, req: Request) -> Response {
    let mut resp = match dispatch(storage, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    resp.headers_mut()
        .insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    resp
}

enum Route {
    Base,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Referrers(String, String),
}

fn route(path: &str) -> Option<Route> {
    if path == "/v2" || path == "/v2/" {
        return Some(Route::Base);
    }
    let rest = path.strip_prefix("/v2/")?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    let segs: Vec<String> = rest.split('/').map(names::percent_decode).collect();
    let n = segs.len();
    let name = |k: usize| segs[..n - k].join("/");
    let last = segs[n - 1].clone();
    if n >= 3 && segs[n - 2] == "blobs" && last == "uploads" {
        return Some(Route::UploadStart(name(2)));
    }
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        return Some(if last.is_empty() {
            Route::UploadStart(name(3))
        } else {
            Route::Upload(name(3), last)
        });
    }
    if n >= 3 && segs[n - 2] == "tags" && last == "list" {
        return Some(Route::Tags(name(2)));
    }
    if n >= 3 {
        match segs[n - 2].as_str() {
            "manifests" => return Some(Route::Manifest(name(2), last)),
            "blobs" => return Some(Route::Blob(name(2), last)),
            "referrers" => return Some(Route::Referrers(name(2), last)),
            _ => {}
        }
    }
    None
}

fn query(req: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn check_name(name: &str) -> Result<(), RegistryError> {
    if names::valid_name(name) {
        Ok(())
    } else {
        Err(RegistryError::new(Code::NameInvalid, json!({"name": name})))
    }
}

fn parse_digest(s: &str) -> Result<Digest, RegistryError> {
    Digest::parse(s).map_err(|e| match e {
        DigestError::Malformed => {
            RegistryError::new(Code::DigestInvalid, json!(format!("invalid digest {s:?}")))
        }
        DigestError::Unsupported(a) => RegistryError::new(
            Code::DigestInvalid,
            json!(format!("unsupported digest algorithm {a:?}")),
        ),
    })
}

fn parse_reference(s: &str) -> Result<Reference, RegistryError> {
    if s.contains(':') {
        Ok(Reference::Digest(parse_digest(s)?))
    } else if names::valid_tag(s) {
        Ok(Reference::Tag(s.to_string()))
    } else {
        Err(RegistryError::new(Code::TagInvalid, json!({"tag": s})))
    }
}

fn unsupported(method: &Method) -> RegistryError {
    RegistryError::new(
        Code::Unsupported,
        json!(format!("method {method} is not supported here")),
    )
}

fn builder(status: StatusCode) -> axum::http::response::Builder {
    Response::builder().status(status)
}

fn finish(b: axum::http::response::Builder, body: Body) -> Result<Response, RegistryError> {
    b.body(body)
        .map_err(|e| RegistryError::new(Code::Unknown, json!(e.to_string())))
}

fn json_response(status: StatusCode, v: &Value) -> Result<Response, RegistryError> {
    finish(
        builder(status).header(header::CONTENT_TYPE, "application/json; charset=utf-8"),
        Body::from(v.to_string()),
    )
}

async fn dispatch(storage: &Storage, req: Request) -> Result<Response, RegistryError> {
    let Some(r) = route(req.uri().path()) else {
        return finish(
            builder(StatusCode::NOT_FOUND)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            Body::from("404 page not found\n"),
        );
    };
    let method = req.method().clone();
    match r {
        Route::Base => match method {
            Method::GET | Method::HEAD => json_response(StatusCode::OK, &json!({})),
            _ => Err(unsupported(&method)),
        },
        Route::Catalog => match method {
            Method::GET => {
                let q = query(&req);
                let (items, link) = page(storage.repositories(), &q, "/v2/_catalog")?;
                let mut resp = json_response(StatusCode::OK, &json!({"repositories": items}))?;
                add_link(&mut resp, link);
                Ok(resp)
            }
            _ => Err(unsupported(&method)),
        },
        Route::Tags(name) => {
            check_name(&name)?;
            if method != Method::GET {
                return Err(unsupported(&method));
            }
            let tags = storage
                .tags(&name)
                .ok_or_else(|| RegistryError::new(Code::NameUnknown, json!({"name": name})))?;
            let q = query(&req);
            let (items, link) = page(tags, &q, &format!("/v2/{name}/tags/list"))?;
            let mut resp = json_response(StatusCode::OK, &json!({"name": name, "tags": items}))?;
            add_link(&mut resp, link);
            Ok(resp)
        }
        Route::Blob(name, digest) => {
            check_name(&name)?;
            let d = parse_digest(&digest)?;
            match method {
                Method::GET | Method::HEAD => {
                    let (parts, _) = req.into_parts();
                    get_blob(storage, &name, &d, &parts.method, &parts.headers).await
                }
                Method::DELETE => {
                    if storage.delete_blob(&name, &d)? {
                        finish(
                            builder(StatusCode::ACCEPTED)
                                .header(CONTENT_DIGEST, d.as_str())
                                .header(header::CONTENT_LENGTH, "0"),
                            Body::empty(),
                        )
                    } else {
                        Err(blob_unknown(&d))
                    }
                }
                _ => Err(unsupported(&method)),
            }
        }
        Route::UploadStart(name) => {
            check_name(&name)?;
            if method != Method::POST {
                return Err(unsupported(&method));
            }
            start_upload(storage, &name, req).await
        }
        Route::Upload(name, id) => {
            check_name(&name)?;
            let upload = storage.upload(&id).ok_or_else(|| upload_unknown(&id))?;
            let mut u = upload.lock().await;
            if u.done || u.repo != name {
                return Err(upload_unknown(&id));
            }
            match method {
                Method::GET | Method::HEAD => finish(
                    upload_headers(builder(StatusCode::NO_CONTENT), &u),
                    Body::empty(),
                ),
                Method::PATCH => patch_upload(&mut u, req).await,
                Method::PUT => {
                    let q = query(&req);
                    let d = match param(&q, "digest") {
                        Some(d) => parse_digest(d)?,
                        None => {
                            return Err(RegistryError::new(
                                Code::DigestInvalid,
                                json!("digest missing"),
                            ));
                        }
                    };
                    let body = req.into_body().into_data_stream();
                    if let Err(e) = u.append(body, None).await {
                        return Err(append_error(e, &u));
                    }
                    complete(storage, &mut u, &d).await
                }
                Method::DELETE => {
                    storage.cancel_upload(&mut u).await;
                    finish(
                        builder(StatusCode::NO_CONTENT)
                            .header(UPLOAD_UUID, id)
                            .header(header::CONTENT_LENGTH, "0"),
                        Body::empty(),
                    )
                }
                _ => Err(unsupported(&method)),
            }
        }
        Route::Manifest(name, reference) => {
            check_name(&name)?;
            let reference = parse_reference(&reference)?;
            match method {
                Method::GET | Method::HEAD => {
                    get_manifest(storage, &name, &reference, &method).await
                }
                Method::PUT => put_manifest(storage, &name, &reference, req).await,
                Method::DELETE => {
                    if storage.delete_manifest(&name, &reference)? {
                        finish(
                            builder(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, "0"),
                            Body::empty(),
                        )
                    } else {
                        Err(manifest_unknown(&name, &reference))
                    }
                }
                _ => Err(unsupported(&method)),
            }
        }
        Route::Referrers(name, digest) => {
            check_name(&name)?;
            let d = parse_digest(&digest)?;
            if method != Method::GET {
                return Err(unsupported(&method));
            }
            let q = query(&req);
            let filter = param(&q, "artifactType");
            let list = storage.referrers(&name, &d, filter);
            let body = json!({
                "schemaVersion": 2,
                "mediaType": manifest::OCI_INDEX,
                "manifests": list,
            });
            let mut b = builder(StatusCode::OK).header(header::CONTENT_TYPE, manifest::OCI_INDEX);
            if filter.is_some() {
                b = b.header("OCI-Filters-Applied", "artifactType");
            }
            finish(b, Body::from(body.to_string()))
        }
    }
}

fn blob_unknown(d: &Digest) -> RegistryError {
    RegistryError::new(Code::BlobUnknown, json!({"digest": d.as_str()}))
}

fn upload_unknown(id: &str) -> RegistryError {
    RegistryError::new(Code::BlobUploadUnknown, json!({"uuid": id}))
}

/// `MANIFEST_UNKNOWN`, also for a repository never pushed to (as the CNCF registry answers).
fn manifest_unknown(name: &str, reference: &Reference) -> RegistryError {
    let detail = match reference {
        Reference::Tag(t) => json!({"Tag": t}),
        Reference::Digest(d) => json!({"Name": name, "Revision": d.as_str()}),
    };
    RegistryError::new(Code::ManifestUnknown, detail)
}

/// `n`/`last` paging over a sorted list, with the `Link` of the next page.
fn page(
    items: Vec<String>,
    q: &[(String, String)],
    path: &str,
) -> Result<(Vec<String>, Option<String>), RegistryError> {
    let last = param(q, "last");
    let mut rest: Vec<String> = items
        .into_iter()
        .filter(|i| last.is_none_or(|l| i.as_str() > l))
        .collect();
    let Some(n) = param(q, "n") else {
        return Ok((rest, None));
    };
    let n: usize = n
        .parse()
        .map_err(|_| RegistryError::new(Code::PaginationNumberInvalid, json!({"n": n})))?;
    if rest.len() <= n {
        return Ok((rest, None));
    }
    rest.truncate(n);
    let link = rest
        .last()
        .map(|l| format!("<{path}?last={l}&n={n}>; rel=\"next\""));
    Ok((rest, link))
}

fn add_link(resp: &mut Response, link: Option<String>) {
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, l);
    }
}

/// `bytes=a-b` / `bytes=a-` of a blob of `size` bytes: `Ok(None)` for no (or an ignored)
/// Range, `Err` when unsatisfiable.
fn parse_blob_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // Suffix range: the last `b` bytes.
        let len: u64 = b.parse().map_err(|_| ())?;
        if len == 0 {
            return Err(());
        }
        (size.saturating_sub(len), size.saturating_sub(1))
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if size == 0 || start >= size || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn content_body(c: &Content, start: u64, len: u64) -> Result<Body, RegistryError> {
    match c {
        Content::Memory(b) => Ok(Body::from(b.slice(start as usize..(start + len) as usize))),
        Content::File(p) => {
            let mut f = tokio::fs::File::open(p).await?;
            f.seek(std::io::SeekFrom::Start(start)).await?;
            let stream = futures_util::stream::unfold((f, len), |(mut f, left)| async move {
                if left == 0 {
                    return None;
                }
                let mut buf = vec![0u8; left.min(256 * 1024) as usize];
                match f.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((
                            Ok::<_, std::io::Error>(Bytes::from(buf)),
                            (f, left - n as u64),
                        ))
                    }
                    Err(e) => Some((Err(e), (f, 0))),
                }
            });
            Ok(Body::from_stream(stream))
        }
    }
}

async fn get_blob(
    storage: &Storage,
    name: &str,
    d: &Digest,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, RegistryError> {
    let blob = storage.blob(name, d).ok_or_else(|| blob_unknown(d))?;
    let head = method == Method::HEAD;
    let base = |status| {
        builder(status)
            .header(CONTENT_DIGEST, d.as_str())
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::ETAG, format!("\"{d}\""))
            .header(header::CACHE_CONTROL, "max-age=31536000")
    };
    let range = match parse_blob_range(headers, blob.size) {
        Ok(r) if !head => r,
        Ok(_) => None,
        Err(()) => {
            return finish(
                builder(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{}", blob.size)),
                Body::empty(),
            );
        }
    };
    let (status, start, len) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        None => (StatusCode::OK, 0, blob.size),
    };
    let mut b = base(status).header(header::CONTENT_LENGTH, len.to_string());
    if let Some((s, e)) = range {
        b = b.header(
            header::CONTENT_RANGE,
            format!("bytes {s}-{e}/{}", blob.size),
        );
    }
    if head {
        return finish(b, Body::empty());
    }
    let body = content_body(&blob.content, start, len).await?;
    finish(b, body)
}

fn upload_headers(b: axum::http::response::Builder, u: &Upload) -> axum::http::response::Builder {
    b.header(
        header::LOCATION,
        format!("/v2/{}/blobs/uploads/{}", u.repo, u.id),
    )
    .header(UPLOAD_UUID, u.id.as_str())
    .header(header::RANGE, format!("0-{}", u.size().saturating_sub(1)))
    .header(header::CONTENT_LENGTH, "0")
}

fn blob_created(name: &str, d: &Digest) -> Result<Response, RegistryError> {
    finish(
        builder(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/blobs/{d}"))
            .header(CONTENT_DIGEST, d.as_str())
            .header(header::CONTENT_LENGTH, "0"),
        Body::empty(),
    )
}

fn append_error(e: AppendError, u: &Upload) -> RegistryError {
    match e {
        AppendError::Length { expected, got } => RegistryError::new(
            Code::SizeInvalid,
            json!(format!(
                "expected {expected} bytes, received {got}; the upload stays at {} bytes",
                u.size()
            )),
        ),
        AppendError::Body(m) => RegistryError::new(Code::BlobUploadInvalid, json!(m)),
        AppendError::Io(e) => RegistryError::io(e),
    }
}

async fn complete(
    storage: &Storage,
    u: &mut Upload,
    d: &Digest,
) -> Result<Response, RegistryError> {
    storage.commit_upload(u, d).await?;
    blob_created(&u.repo.clone(), d)
}

async fn start_upload(
    storage: &Storage,
    name: &str,
    req: Request,
) -> Result<Response, RegistryError> {
    let q = query(&req);
    if let (Some(mount), Some(from)) = (param(&q, "mount"), param(&q, "from"))
        && let Ok(d) = Digest::parse(mount)
        && names::valid_name(from)
        && storage.mount(from, name, &d)?.is_some()
    {
        return blob_created(name, &d);
    }
    let digest = match param(&q, "digest") {
        Some(d) => Some(parse_digest(d)?),
        None => None,
    };
    let upload = storage.start_upload(name).await?;
    let mut u = upload.lock().await;
    let Some(d) = digest else {
        return finish(
            upload_headers(builder(StatusCode::ACCEPTED), &u),
            Body::empty(),
        );
    };
    // Monolithic upload: the whole blob is the POST body.
    let expected = content_length(req.headers());
    let body = req.into_body().into_data_stream();
    if let Err(e) = u.append(body, expected).await {
        let err = append_error(e, &u);
        storage.cancel_upload(&mut u).await;
        return Err(err);
    }
    complete(storage, &mut u, &d).await
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `start-end` (inclusive), also accepting `bytes start-end/total` and `bytes=start-end`.
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes=")
        .or_else(|| v.strip_prefix("bytes "))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

async fn patch_upload(u: &mut Upload, req: Request) -> Result<Response, RegistryError> {
    let expected = if let Some(v) = req.headers().get(header::CONTENT_RANGE) {
        let range = v.to_str().ok().and_then(parse_content_range);
        let Some((start, end)) = range.filter(|(s, _)| *s == u.size()) else {
            let e = RegistryError::new(
                Code::RangeInvalid,
                json!(format!(
                    "Content-Range {:?} does not continue the upload at offset {}",
                    v.to_str().unwrap_or(""),
                    u.size()
                )),
            );
            let mut resp = e.into_response();
            if let Ok(h) = HeaderValue::from_str(&format!("0-{}", u.size().saturating_sub(1))) {
                resp.headers_mut().insert(header::RANGE, h);
            }
            resp.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&format!("/v2/{}/blobs/uploads/{}", u.repo, u.id))
                    .map_err(|e| RegistryError::new(Code::Unknown, json!(e.to_string())))?,
            );
            return Ok(resp);
        };
        let len = end - start + 1;
        if content_length(req.headers()).is_some_and(|cl| cl != len) {
            return Err(RegistryError::new(
                Code::SizeInvalid,
                json!(format!(
                    "Content-Range covers {len} bytes but Content-Length differs"
                )),
            ));
        }
        Some(len)
    } else {
        content_length(req.headers())
    };
    let body = req.into_body().into_data_stream();
    if let Err(e) = u.append(body, expected).await {
        return Err(append_error(e, u));
    }
    finish(
        upload_headers(builder(StatusCode::ACCEPTED), u),
        Body::empty(),
    )
}

async fn get_manifest(
    storage: &Storage,
    name: &str,
    reference: &Reference,
    method: &Method,
) -> Result<Response, RegistryError> {
    let (d, media_type, blob) = storage
        .manifest(name, reference)
        .ok_or_else(|| manifest_unknown(name, reference))?;
    let b = builder(StatusCode::OK)
        .header(header::CONTENT_TYPE, media_type)
        .header(CONTENT_DIGEST, d.as_str())
        .header(header::ETAG, format!("\"{d}\""))
        .header(header::CONTENT_LENGTH, blob.size.to_string());
    if method == Method::HEAD {
        return finish(b, Body::empty());
    }
    let body = content_body(&blob.content, 0, blob.size).await?;
    finish(b, body)
}

async fn put_manifest(
    storage: &Storage,
    name: &str,
    reference: &Reference,
    req: Request,
) -> Result<Response, RegistryError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = axum::body::to_bytes(req.into_body(), manifest::MAX_MANIFEST_SIZE)
        .await
        .map_err(|_| {
            RegistryError::new(
                Code::SizeInvalid,
                json!(format!(
                    "manifests larger than {} bytes are not accepted",
                    manifest::MAX_MANIFEST_SIZE
                )),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        })?;
    let info = manifest::analyze(&content_type, &body)?;
    let (d, tag) = match reference {
        Reference::Digest(expected) => {
            let actual = expected.of_same_algorithm(&body);
            if &actual != expected {
                return Err(RegistryError::new(
                    Code::DigestInvalid,
                    json!({"expected": expected.as_str(), "actual": actual.as_str()}),
                ));
            }
            (actual, None)
        }
        Reference::Tag(t) => (Digest::sha256(&body), Some(t.as_str())),
    };
    storage.put_manifest(name, &d, body, &info, tag)?;
    let mut b = builder(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/manifests/{d}"))
        .header(CONTENT_DIGEST, d.as_str())
        .header(header::CONTENT_LENGTH, "0");
    if let Some(s) = &info.subject {
        b = b.header("OCI-Subject", s.as_str());
    }
    finish(b, Body::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(route("/v2/"), Some(Route::Base)));
        assert!(matches!(route("/v2/_catalog"), Some(Route::Catalog)));
        assert!(matches!(route("/v2/demo/api/tags/list"), Some(Route::Tags(n)) if n == "demo/api"));
        assert!(
            matches!(route("/v2/demo/api/manifests/1"), Some(Route::Manifest(n, r)) if n == "demo/api" && r == "1")
        );
        assert!(
            matches!(route("/v2/a/blobs/sha256%3Aab"), Some(Route::Blob(n, d)) if n == "a" && d == "sha256:ab")
        );
        assert!(
            matches!(route("/v2/a/b/blobs/uploads/"), Some(Route::UploadStart(n)) if n == "a/b")
        );
        assert!(matches!(route("/v2/a/blobs/uploads"), Some(Route::UploadStart(n)) if n == "a"));
        assert!(
            matches!(route("/v2/a/blobs/uploads/xyz"), Some(Route::Upload(n, id)) if n == "a" && id == "xyz")
        );
        // A repository may itself be called `blobs` or `manifests`.
        assert!(
            matches!(route("/v2/x/manifests/manifests/v1"), Some(Route::Manifest(n, r)) if n == "x/manifests" && r == "v1")
        );
        assert!(route("/v2/blobs/uploads/").is_none());
        assert!(route("/v3/").is_none());
        assert!(route("/v2/onlyname").is_none());
    }

    #[test]
    fn paging() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let q = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let all = items(&["a", "b", "c"]);
        let (p, link) = page(all.clone(), &q(&[("n", "2")]), "/v2/x/tags/list").unwrap();
        assert_eq!(p, items(&["a", "b"]));
        assert_eq!(link.unwrap(), "</v2/x/tags/list?last=b&n=2>; rel=\"next\"");
        let (p, link) = page(all.clone(), &q(&[("n", "2"), ("last", "b")]), "/p").unwrap();
        assert_eq!((p, link), (items(&["c"]), None));
        let (p, link) = page(all.clone(), &q(&[("n", "0")]), "/p").unwrap();
        assert!(p.is_empty() && link.is_none());
        assert!(page(all, &q(&[("n", "-1")]), "/p").is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("5-4"), None);
        assert_eq!(parse_content_range("x"), None);
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
            m
        };
        assert_eq!(parse_blob_range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(parse_blob_range(&h("bytes=2-4"), 10), Ok(Some((2, 4))));
        assert_eq!(parse_blob_range(&h("bytes=2-"), 10), Ok(Some((2, 9))));
        assert_eq!(parse_blob_range(&h("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_blob_range(&h("bytes=5-100"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_blob_range(&h("bytes=10-"), 10), Err(()));
    }
}

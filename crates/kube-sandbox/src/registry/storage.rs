//! Content-addressed storage for the registry: blobs (layers, configs and manifests) by
//! digest, and per repository the blobs linked into it, its manifests and its tags.
//!
//! In memory by default. With a directory, blobs live in `blobs/<alg>/<hex>` and the
//! repository links in `repositories/<name>/{_layers,_manifests/revisions,_manifests/tags}`;
//! every file is written to a temporary file, synced and renamed into place, so a crash
//! never leaves a partial blob or link visible. Uploads in progress (`uploads/`) do not
//! survive a restart.

use super::errors::{Code, RegistryError};
use super::manifest::{self, ManifestInfo};
use super::names::{Algorithm, Digest};
use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::AsyncWriteExt;

/// Where a blob's bytes are.
#[derive(Debug, Clone)]
pub enum Content {
    Memory(Bytes),
    File(PathBuf),
}

/// A blob as served.
#[derive(Debug, Clone)]
pub struct Blob {
    pub size: u64,
    pub content: Content,
}

#[derive(Debug, Clone)]
struct ManifestRecord {
    media_type: String,
    size: u64,
    subject: Option<Digest>,
    artifact_type: Option<String>,
    annotations: Option<Value>,
}

#[derive(Debug, Default)]
struct Repo {
    layers: HashSet<Digest>,
    manifests: HashMap<Digest, ManifestRecord>,
    tags: BTreeMap<String, Digest>,
}

#[derive(Debug, Default)]
struct State {
    /// Size and (in memory) bytes of every stored blob.
    blobs: HashMap<Digest, (u64, Option<Bytes>)>,
    repos: BTreeMap<String, Repo>,
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

/// The registry's storage. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Storage {
    dir: Option<PathBuf>,
    state: Mutex<State>,
    uploads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Upload>>>>,
}

/// An upload session in progress.
#[derive(Debug)]
pub struct Upload {
    pub id: String,
    pub repo: String,
    size: u64,
    hasher: sha2::Sha256,
    sink: Sink,
    /// Set once committed or cancelled; a late request on it finds it unknown.
    pub done: bool,
}

#[derive(Debug)]
enum Sink {
    Memory(Vec<u8>),
    Disk {
        path: PathBuf,
        file: tokio::fs::File,
    },
    Closed,
}

/// Why appending to an upload failed; the upload is left as it was before the request.
#[derive(Debug)]
pub enum AppendError {
    /// The body did not have the announced length.
    Length {
        expected: u64,
        got: u64,
    },
    /// The client went away or the body could not be read.
    Body(String),
    Io(io::Error),
}

impl Upload {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a request body; on any failure the upload is rolled back to its prior size.
    pub async fn append<S, E>(
        &mut self,
        mut body: S,
        expected: Option<u64>,
    ) -> Result<u64, AppendError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let before = self.size;
        let hasher = self.hasher.clone();
        let result = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| AppendError::Body(e.to_string()))?;
                match &mut self.sink {
                    Sink::Memory(v) => v.extend_from_slice(&chunk),
                    Sink::Disk { file, .. } => {
                        file.write_all(&chunk).await.map_err(AppendError::Io)?
                    }
                    Sink::Closed => {
                        return Err(AppendError::Io(io::Error::other("upload closed")));
                    }
                }
                self.hasher.update(&chunk);
                self.size += chunk.len() as u64;
            }
            let got = self.size - before;
            match expected {
                Some(e) if e != got => Err(AppendError::Length { expected: e, got }),
                _ => Ok(got),
            }
        }
        .await;
        if result.is_err() {
            self.size = before;
            self.hasher = hasher;
            match &mut self.sink {
                Sink::Memory(v) => v.truncate(before as usize),
                Sink::Disk { file, .. } => {
                    let _ = file.flush().await;
                    let _ = file.set_len(before).await;
                }
                Sink::Closed => {}
            }
        }
        result
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random-looking upload id in UUID form (no external crate needed).
fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        *w = h.finish();
    }
    let hex = format!("{:016x}{:016x}", words[0], words[1]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Writes `data` to `path` atomically: temporary file, sync, rename, sync of the directory.
fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().ok_or_else(|| io::Error::other("no parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
        new_id()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Storage {
    /// Storage that lives and dies with the process.
    pub fn memory() -> Storage {
        Storage {
            dir: None,
            state: Mutex::new(State::default()),
            uploads: Mutex::new(HashMap::new()),
        }
    }

    /// Storage under `dir` (created if missing); what an earlier run stored is loaded.
    pub fn open(dir: &Path) -> io::Result<Storage> {
        for sub in ["blobs", "repositories", "uploads"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        // Uploads of an earlier run cannot be resumed; their data is dropped.
        for e in std::fs::read_dir(dir.join("uploads"))? {
            let _ = std::fs::remove_file(e?.path());
        }
        let mut state = State::default();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let adir = dir.join("blobs").join(alg.name());
            let Ok(entries) = std::fs::read_dir(&adir) else {
                continue;
            };
            for e in entries {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                if let Ok(d) = Digest::parse(&format!("{}:{name}", alg.name())) {
                    state.blobs.insert(d, (e.metadata()?.len(), None));
                } else if name.starts_with(".tmp-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let storage = Storage {
            dir: Some(dir.to_path_buf()),
            state: Mutex::new(State::default()),
            uploads: Mutex::new(HashMap::new()),
        };
        let root = dir.join("repositories");
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d)? {
                let e = e?;
                if !e.file_type()?.is_dir() {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                if name == "_layers" || name == "_manifests" {
                    continue;
                }
                stack.push(e.path());
            }
            let is_repo = d.join("_layers").is_dir() || d.join("_manifests").is_dir();
            if !is_repo {
                continue;
            }
            let Some(repo_name) = d
                .strip_prefix(&root)
                .ok()
                .and_then(|p| p.to_str())
                .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                continue;
            };
            let mut repo = Repo::default();
            for (d2, file, _) in list_links(&d.join("_layers"))? {
                if state.blobs.contains_key(&d2) {
                    repo.layers.insert(d2);
                }
                let _ = file;
            }
            for (d2, file, _) in list_links(&d.join("_manifests").join("revisions"))? {
                let media_type = std::fs::read_to_string(&file)?;
                let Some(&(size, _)) = state.blobs.get(&d2) else {
                    continue;
                };
                let body = std::fs::read(storage.blob_path(&d2))?;
                let Ok(info) = manifest::analyze(&media_type, &body) else {
                    continue;
                };
                repo.manifests.insert(d2, record(&info, size));
            }
            if let Ok(entries) = std::fs::read_dir(d.join("_manifests").join("tags")) {
                for e in entries {
                    let e = e?;
                    let tag = e.file_name().to_string_lossy().into_owned();
                    if tag.starts_with(".tmp-") {
                        let _ = std::fs::remove_file(e.path());
                        continue;
                    }
                    let target = std::fs::read_to_string(e.path())?;
                    if let Ok(t) = Digest::parse(target.trim())
                        && repo.manifests.contains_key(&t)
                    {
                        repo.tags.insert(tag, t);
                    }
                }
            }
            state.repos.insert(repo_name, repo);
        }
        *lock(&storage.state) = state;
        Ok(storage)
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        let dir = self.dir.as_deref().unwrap_or(Path::new("."));
        dir.join("blobs")
            .join(d.algorithm().name())
            .join(d.encoded())
    }

    fn repo_path(&self, repo: &str) -> Option<PathBuf> {
        let mut p = self.dir.as_ref()?.join("repositories");
        for c in repo.split('/') {
            p.push(c);
        }
        Some(p)
    }

    fn link_path(&self, repo: &str, kind: &[&str], d: &Digest) -> Option<PathBuf> {
        let mut p = self.repo_path(repo)?;
        for k in kind {
            p.push(k);
        }
        Some(p.join(d.algorithm().name()).join(d.encoded()))
    }

    fn content(&self, d: &Digest, data: &Option<Bytes>) -> Content {
        match data {
            Some(b) => Content::Memory(b.clone()),
            None => Content::File(self.blob_path(d)),
        }
    }

    /// The blob `d` if it is linked into `repo`.
    pub fn blob(&self, repo: &str, d: &Digest) -> Option<Blob> {
        let st = lock(&self.state);
        if !st.repos.get(repo)?.layers.contains(d) {
            return None;
        }
        let (size, data) = st.blobs.get(d)?;
        Some(Blob {
            size: *size,
            content: self.content(d, data),
        })
    }

    /// Unlinks a blob from a repository (its bytes stay for other repositories).
    pub fn delete_blob(&self, repo: &str, d: &Digest) -> io::Result<bool> {
        let mut st = lock(&self.state);
        let Some(r) = st.repos.get_mut(repo) else {
            return Ok(false);
        };
        if !r.layers.contains(d) {
            return Ok(false);
        }
        if let Some(p) = self.link_path(repo, &["_layers"], d) {
            remove_if_exists(&p)?;
        }
        r.layers.remove(d);
        Ok(true)
    }

    fn link_blob(&self, st: &mut State, repo: &str, d: &Digest) -> io::Result<()> {
        let r = st.repos.entry(repo.to_string()).or_default();
        if r.layers.contains(d) {
            return Ok(());
        }
        if let Some(p) = self.link_path(repo, &["_layers"], d) {
            write_atomic(&p, b"")?;
        }
        r.layers.insert(d.clone());
        Ok(())
    }

    /// Cross-repository mount: links `d` into `to` when `from` has it.
    pub fn mount(&self, from: &str, to: &str, d: &Digest) -> io::Result<Option<u64>> {
        let mut st = lock(&self.state);
        let Some(r) = st.repos.get(from) else {
            return Ok(None);
        };
        if !r.layers.contains(d) {
            return Ok(None);
        }
        let Some(&(size, _)) = st.blobs.get(d) else {
            return Ok(None);
        };
        self.link_blob(&mut st, to, d)?;
        Ok(Some(size))
    }

    /// Starts an upload session into `repo`.
    pub async fn start_upload(&self, repo: &str) -> io::Result<Arc<tokio::sync::Mutex<Upload>>> {
        let id = new_id();
        let sink = match &self.dir {
            None => Sink::Memory(Vec::new()),
            Some(dir) => {
                let path = dir.join("uploads").join(&id);
                let file = tokio::fs::OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(&path)
                    .await?;
                Sink::Disk { path, file }
            }
        };
        let upload = Arc::new(tokio::sync::Mutex::new(Upload {
            id: id.clone(),
            repo: repo.to_string(),
            size: 0,
            hasher: sha2::Sha256::new(),
            sink,
            done: false,
        }));
        lock(&self.uploads).insert(id, upload.clone());
        Ok(upload)
    }

    /// The upload session `id` (its repository is checked by the caller).
    pub fn upload(&self, id: &str) -> Option<Arc<tokio::sync::Mutex<Upload>>> {
        lock(&self.uploads).get(id).cloned()
    }

    /// Ends an upload session and drops its data.
    pub async fn cancel_upload(&self, upload: &mut Upload) {
        lock(&self.uploads).remove(&upload.id);
        upload.done = true;
        if let Sink::Disk { path, .. } = std::mem::replace(&mut upload.sink, Sink::Closed) {
            let _ = tokio::fs::remove_file(path).await;
        }
    }

    /// Finishes an upload: verifies `expected` against the bytes received, stores the blob
    /// and links it into the upload's repository. The session ends either way.
    pub async fn commit_upload(
        &self,
        upload: &mut Upload,
        expected: &Digest,
    ) -> Result<u64, RegistryError> {
        lock(&self.uploads).remove(&upload.id);
        upload.done = true;
        let sink = std::mem::replace(&mut upload.sink, Sink::Closed);
        let actual = match (expected.algorithm(), &sink) {
            (Algorithm::Sha256, _) => {
                Digest::from_sha256(upload.hasher.clone().finalize().as_slice())
            }
            (Algorithm::Sha512, Sink::Memory(v)) => expected.of_same_algorithm(v),
            (Algorithm::Sha512, Sink::Disk { path, file }) => {
                let mut file = file.try_clone().await?;
                file.flush().await?;
                expected.of_same_algorithm(&tokio::fs::read(path).await?)
            }
            (_, Sink::Closed) => {
                return Err(RegistryError::new(
                    Code::BlobUploadUnknown,
                    json!(upload.id),
                ));
            }
        };
        if &actual != expected {
            if let Sink::Disk { path, .. } = sink {
                let _ = tokio::fs::remove_file(path).await;
            }
            return Err(RegistryError::new(
                Code::DigestInvalid,
                json!({"expected": expected.as_str(), "actual": actual.as_str()}),
            ));
        }
        let size = upload.size;
        let data = match sink {
            Sink::Memory(v) => Some(Bytes::from(v)),
            Sink::Disk { path, mut file } => {
                file.flush().await?;
                file.sync_all().await?;
                drop(file);
                let target = self.blob_path(expected);
                let parent = target.parent().map(Path::to_path_buf);
                if let Some(p) = &parent {
                    tokio::fs::create_dir_all(p).await?;
                }
                tokio::fs::rename(&path, &target).await?;
                if let Some(p) = parent {
                    sync_dir(&p);
                }
                None
            }
            Sink::Closed => None,
        };
        let mut st = lock(&self.state);
        st.blobs.entry(expected.clone()).or_insert((size, data));
        self.link_blob(&mut st, &upload.repo, expected)?;
        Ok(size)
    }

    fn put_bytes(&self, st: &mut State, d: &Digest, body: &Bytes) -> io::Result<()> {
        if st.blobs.contains_key(d) {
            return Ok(());
        }
        let data = match &self.dir {
            None => Some(body.clone()),
            Some(_) => {
                write_atomic(&self.blob_path(d), body)?;
                None
            }
        };
        st.blobs.insert(d.clone(), (body.len() as u64, data));
        Ok(())
    }

    /// Stores a manifest whose references were checked by [`Self::missing_references`]
    /// under the same lock, and points `tag` at it.
    pub fn put_manifest(
        &self,
        repo: &str,
        d: &Digest,
        body: Bytes,
        info: &ManifestInfo,
        tag: Option<&str>,
    ) -> Result<(), RegistryError> {
        let mut st = lock(&self.state);
        if let Some(missing) = missing_references(&st, repo, info) {
            return Err(missing);
        }
        self.put_bytes(&mut st, d, &body)?;
        let revision = self.link_path(repo, &["_manifests", "revisions"], d);
        let tag_path = tag.and_then(|t| {
            self.repo_path(repo)
                .map(|p| p.join("_manifests").join("tags").join(t))
        });
        let r = st.repos.entry(repo.to_string()).or_default();
        if !r.manifests.contains_key(d) {
            if let Some(p) = revision {
                write_atomic(&p, info.media_type.as_bytes())?;
            }
            r.manifests
                .insert(d.clone(), record(info, body.len() as u64));
        }
        if let Some(t) = tag {
            if let Some(p) = tag_path {
                write_atomic(&p, d.as_str().as_bytes())?;
            }
            r.tags.insert(t.to_string(), d.clone());
        }
        Ok(())
    }

    /// A manifest by tag or digest: its digest, media type and bytes.
    pub fn manifest(&self, repo: &str, reference: &Reference) -> Option<(Digest, String, Blob)> {
        let st = lock(&self.state);
        let r = st.repos.get(repo)?;
        let d = match reference {
            Reference::Tag(t) => r.tags.get(t)?.clone(),
            Reference::Digest(d) => d.clone(),
        };
        let rec = r.manifests.get(&d)?;
        let (size, data) = st.blobs.get(&d)?;
        let blob = Blob {
            size: *size,
            content: self.content(&d, data),
        };
        Some((d, rec.media_type.clone(), blob))
    }

    /// Deletes a tag, or a manifest (and the tags pointing at it) by digest.
    pub fn delete_manifest(&self, repo: &str, reference: &Reference) -> io::Result<bool> {
        let mut st = lock(&self.state);
        let tags_dir = self
            .repo_path(repo)
            .map(|p| p.join("_manifests").join("tags"));
        let Some(r) = st.repos.get_mut(repo) else {
            return Ok(false);
        };
        match reference {
            Reference::Tag(t) => {
                if !r.tags.contains_key(t) {
                    return Ok(false);
                }
                if let Some(dir) = &tags_dir {
                    remove_if_exists(&dir.join(t))?;
                }
                r.tags.remove(t);
            }
            Reference::Digest(d) => {
                if !r.manifests.contains_key(d) {
                    return Ok(false);
                }
                let tags: Vec<String> = r
                    .tags
                    .iter()
                    .filter(|(_, v)| *v == d)
                    .map(|(k, _)| k.clone())
                    .collect();
                for t in tags {
                    if let Some(dir) = &tags_dir {
                        remove_if_exists(&dir.join(&t))?;
                    }
                    r.tags.remove(&t);
                }
                if let Some(p) = self.link_path(repo, &["_manifests", "revisions"], d) {
                    remove_if_exists(&p)?;
                }
                r.manifests.remove(d);
            }
        }
        Ok(true)
    }

    /// The tags of `repo`, sorted; `None` when the repository is unknown.
    pub fn tags(&self, repo: &str) -> Option<Vec<String>> {
        let st = lock(&self.state);
        Some(st.repos.get(repo)?.tags.keys().cloned().collect())
    }

    /// Every repository, sorted.
    pub fn repositories(&self) -> Vec<String> {
        lock(&self.state).repos.keys().cloned().collect()
    }

    /// Descriptors of the manifests of `repo` whose subject is `d`.
    pub fn referrers(&self, repo: &str, d: &Digest, artifact_type: Option<&str>) -> Vec<Value> {
        let st = lock(&self.state);
        let Some(r) = st.repos.get(repo) else {
            return vec![];
        };
        let mut out: Vec<(Digest, Value)> = r
            .manifests
            .iter()
            .filter(|(_, m)| m.subject.as_ref() == Some(d))
            .filter(|(_, m)| artifact_type.is_none() || m.artifact_type.as_deref() == artifact_type)
            .map(|(k, m)| {
                let mut v =
                    json!({"mediaType": m.media_type, "digest": k.as_str(), "size": m.size});
                if let Some(a) = &m.artifact_type {
                    v["artifactType"] = json!(a);
                }
                if let Some(a) = &m.annotations {
                    v["annotations"] = a.clone();
                }
                (k.clone(), v)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, v)| v).collect()
    }
}

fn record(info: &ManifestInfo, size: u64) -> ManifestRecord {
    ManifestRecord {
        media_type: info.media_type.clone(),
        size,
        subject: info.subject.clone(),
        artifact_type: info.artifact_type.clone(),
        annotations: info.annotations.clone(),
    }
}

/// The first referenced blob or manifest `repo` lacks, as a `MANIFEST_BLOB_UNKNOWN` error.
fn missing_references(st: &State, repo: &str, info: &ManifestInfo) -> Option<RegistryError> {
    let r = st.repos.get(repo);
    for b in &info.blobs {
        if !r.is_some_and(|r| r.layers.contains(b)) || !st.blobs.contains_key(b) {
            return Some(RegistryError::new(
                Code::ManifestBlobUnknown,
                json!({"digest": b.as_str()}),
            ));
        }
    }
    for m in &info.manifests {
        if !r.is_some_and(|r| r.manifests.contains_key(m)) {
            return Some(RegistryError::new(
                Code::ManifestBlobUnknown,
                json!({"digest": m.as_str(), "reason": "manifest referenced by the index is not in the repository"}),
            ));
        }
    }
    None
}

/// `(digest, path, algorithm)` of the link files under `dir/<alg>/<hex>`.
fn list_links(dir: &Path) -> io::Result<Vec<(Digest, PathBuf, Algorithm)>> {
    let mut out = vec![];
    for alg in [Algorithm::Sha256, Algorithm::Sha512] {
        let Ok(entries) = std::fs::read_dir(dir.join(alg.name())) else {
            continue;
        };
        for e in entries {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                let _ = std::fs::remove_file(e.path());
                continue;
            }
            if let Ok(d) = Digest::parse(&format!("{}:{name}", alg.name())) {
                out.push((d, e.path(), alg));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(data: &'static [u8]) -> impl Stream<Item = Result<Bytes, io::Error>> + Unpin {
        futures_util::stream::iter(vec![Ok(Bytes::from_static(data))])
    }

    async fn roundtrip(storage: &Storage) -> Digest {
        let u = storage.start_upload("demo/api").await.unwrap();
        let mut u = u.lock().await;
        u.append(body(b"hello "), None).await.unwrap();
        // A chunk whose length does not match is rolled back.
        assert!(u.append(body(b"xx"), Some(3)).await.is_err());
        u.append(body(b"world"), Some(5)).await.unwrap();
        assert_eq!(u.size(), 11);
        let d = Digest::sha256(b"hello world");
        assert_eq!(storage.commit_upload(&mut u, &d).await.unwrap(), 11);
        d
    }

    async fn read(c: &Content) -> Vec<u8> {
        match c {
            Content::Memory(b) => b.to_vec(),
            Content::File(p) => tokio::fs::read(p).await.unwrap(),
        }
    }

    #[tokio::test]
    async fn memory_upload_and_mount() {
        let s = Storage::memory();
        let d = roundtrip(&s).await;
        let b = s.blob("demo/api", &d).unwrap();
        assert_eq!(read(&b.content).await, b"hello world");
        assert!(s.blob("other", &d).is_none());
        assert_eq!(s.mount("demo/api", "other", &d).unwrap(), Some(11));
        assert!(s.blob("other", &d).is_some());
        assert_eq!(s.mount("nope", "other2", &d).unwrap(), None);
        // A wrong digest ends the session with DIGEST_INVALID.
        let u = s.start_upload("demo/api").await.unwrap();
        let mut u = u.lock().await;
        u.append(body(b"abc"), None).await.unwrap();
        let err = s.commit_upload(&mut u, &d).await.unwrap_err();
        assert_eq!(err.code, Code::DigestInvalid);
        assert!(s.upload(&u.id).is_none());
    }

    #[tokio::test]
    async fn disk_storage_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("registry-storage-{}", new_id()));
        let s = Storage::open(&dir).unwrap();
        let config = roundtrip(&s).await;
        let m = json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.as_str(), "size": 11},
            "layers": []
        })
        .to_string();
        let info = manifest::analyze(manifest::OCI_MANIFEST, m.as_bytes()).unwrap();
        let md = Digest::sha256(m.as_bytes());
        s.put_manifest("demo/api", &md, Bytes::from(m.clone()), &info, Some("1"))
            .unwrap();
        // An unfinished upload and a stray temporary file are dropped on open.
        let _pending = s.start_upload("demo/api").await.unwrap();
        drop(s);
        std::fs::write(dir.join("blobs/sha256/.tmp-partial"), b"par").unwrap();
        let s = Storage::open(&dir).unwrap();
        assert_eq!(std::fs::read_dir(dir.join("uploads")).unwrap().count(), 0);
        assert!(!dir.join("blobs/sha256/.tmp-partial").exists());
        let (d, mt, blob) = s.manifest("demo/api", &Reference::Tag("1".into())).unwrap();
        assert_eq!(d, md);
        assert_eq!(mt, manifest::OCI_MANIFEST);
        assert_eq!(read(&blob.content).await, m.as_bytes());
        assert_eq!(s.tags("demo/api").unwrap(), vec!["1"]);
        assert_eq!(s.repositories(), vec!["demo/api"]);
        assert!(
            s.delete_manifest("demo/api", &Reference::Digest(md.clone()))
                .unwrap()
        );
        let s = Storage::open(&dir).unwrap();
        assert!(s.tags("demo/api").unwrap().is_empty());
        assert!(s.blob("demo/api", &config).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The build-inputs digest: one sha256 over everything an image build depends on, so an
//! image whose inputs did not change (and which is already in the registry) is not
//! rebuilt.
//!
//! What goes in, in a fixed order and with every field length-prefixed so no two
//! different inputs can produce the same byte stream:
//! - the Dockerfile's bytes;
//! - the build arguments, sorted by name; the target stage; the platform; the base image
//!   reference;
//! - every entry of the build context that `.dockerignore` keeps (see
//!   [`crate::dockerignore`]), sorted by path: regular files with their executable bit and
//!   the sha256 of their content, symbolic links with their target, directories by name.
//!
//! Modification times, owners and other permission bits are left out: a fresh checkout
//! or export must give the same digest as the working tree it came from.
//!
//! The context is walked and its files hashed in parallel (`rayon`): a 10,000-file context
//! takes a few tens of milliseconds on two cores.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::dockerignore::DockerIgnore;
use crate::platform::Platform;

/// Everything a Dockerfile build depends on.
#[derive(Debug, Clone)]
pub struct BuildInputs {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile (inside the context or not).
    pub dockerfile: PathBuf,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// `--target` stage.
    pub target: Option<String>,
    /// The platform built for.
    pub platform: Platform,
    /// The base image reference, ideally pinned by digest, when the caller knows it.
    pub base: Option<String>,
}

/// `sha256:<64 hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InputsDigest(String);

impl InputsDigest {
    /// The digest as `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InputsDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Errors while reading the build inputs.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    /// The Dockerfile does not exist.
    #[error("Dockerfile `{}` does not exist", .0.display())]
    MissingDockerfile(PathBuf),
    /// The context directory does not exist or is not a directory.
    #[error("build context `{}` is not a directory", .0.display())]
    MissingContext(PathBuf),
    /// A file could not be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> InputsError + '_ {
    move |source| InputsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One entry of a build context that `.dockerignore` keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// Path relative to the context root, `/`-separated.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
}

/// The kind of a [`ContextEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file and its permission bits.
    File {
        /// Permission bits (`0o755`).
        mode: u32,
    },
    /// A symbolic link and its target.
    Symlink(PathBuf),
    /// A directory.
    Dir,
}

/// Reads the `.dockerignore` that applies to a build: `<Dockerfile>.dockerignore` beside
/// the Dockerfile when it exists (as BuildKit does), else `<context>/.dockerignore`.
///
/// # Errors
/// When an existing ignore file cannot be read.
pub fn load_dockerignore(
    context: &Path,
    dockerfile: Option<&Path>,
) -> Result<DockerIgnore, InputsError> {
    let mut candidates = Vec::new();
    if let Some(dockerfile) = dockerfile {
        let mut name = dockerfile.as_os_str().to_owned();
        name.push(".dockerignore");
        candidates.push(PathBuf::from(name));
    }
    candidates.push(context.join(".dockerignore"));
    for candidate in candidates {
        match std::fs::read_to_string(&candidate) {
            Ok(text) => return Ok(DockerIgnore::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(InputsError::Io {
                    path: candidate,
                    source,
                });
            }
        }
    }
    Ok(DockerIgnore::default())
}

/// Lists the context entries `ignore` keeps, sorted by path. Directories are walked in
/// parallel.
///
/// # Errors
/// [`InputsError::MissingContext`] when `context` is not a directory; [`InputsError::Io`]
/// when a directory cannot be read.
pub fn context_entries(
    context: &Path,
    ignore: &DockerIgnore,
) -> Result<Vec<ContextEntry>, InputsError> {
    if !context.is_dir() {
        return Err(InputsError::MissingContext(context.to_path_buf()));
    }
    let mut entries = walk(context, "", ignore)?;
    entries.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

fn walk(dir: &Path, rel: &str, ignore: &DockerIgnore) -> Result<Vec<ContextEntry>, InputsError> {
    let mut entries = Vec::new();
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = if rel.is_empty() {
            name.into_owned()
        } else {
            format!("{rel}/{name}")
        };
        let full = entry.path();
        let meta = std::fs::symlink_metadata(&full).map_err(io_error(&full))?;
        let excluded = ignore.is_excluded(&path);
        if meta.is_dir() {
            if !excluded {
                entries.push(ContextEntry {
                    path: path.clone(),
                    kind: EntryKind::Dir,
                });
            }
            // Something below an excluded directory may be re-included by a `!` rule.
            if !excluded || ignore.has_exceptions() {
                subdirs.push((full, path));
            }
        } else if !excluded {
            let kind = if meta.file_type().is_symlink() {
                EntryKind::Symlink(std::fs::read_link(&full).map_err(io_error(&full))?)
            } else {
                EntryKind::File {
                    mode: meta.permissions().mode() & 0o7777,
                }
            };
            entries.push(ContextEntry { path, kind });
        }
    }
    let nested: Vec<Vec<ContextEntry>> = subdirs
        .par_iter()
        .map(|(full, path)| walk(full, path, ignore))
        .collect::<Result<_, _>>()?;
    entries.extend(nested.into_iter().flatten());
    Ok(entries)
}

/// The sha256 of a file's content, as 32 bytes.
fn hash_file(path: &Path) -> Result<[u8; 32], InputsError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Length-prefixed fields, so that `("ab", "c")` and `("a", "bc")` differ.
struct Fields(Sha256);

impl Fields {
    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }
}

/// Computes the digest of `inputs` (see the module docs for what is included).
///
/// # Errors
/// [`InputsError::MissingDockerfile`], [`InputsError::MissingContext`], or
/// [`InputsError::Io`] when a file cannot be read.
pub fn digest(inputs: &BuildInputs) -> Result<InputsDigest, InputsError> {
    let dockerfile = match std::fs::read(&inputs.dockerfile) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InputsError::MissingDockerfile(inputs.dockerfile.clone()));
        }
        Err(source) => {
            return Err(InputsError::Io {
                path: inputs.dockerfile.clone(),
                source,
            });
        }
    };
    digest_with_recipe(inputs, &dockerfile, &[])
}

/// [`digest`] with the recipe given as bytes instead of read from `inputs.dockerfile`
/// (for images built without a Dockerfile, whose recipe is their spec), and with
/// `extra_ignore` patterns applied after the `.dockerignore` file's, so they always win
/// (e.g. slipway's own `.slipway` directory). `inputs.dockerfile` is still used to find a
/// `<Dockerfile>.dockerignore`; it need not exist.
///
/// # Errors
/// [`InputsError::MissingContext`], or [`InputsError::Io`] when a file cannot be read.
pub fn digest_with_recipe(
    inputs: &BuildInputs,
    dockerfile: &[u8],
    extra_ignore: &[&str],
) -> Result<InputsDigest, InputsError> {
    let mut ignore = load_dockerignore(&inputs.context, Some(&inputs.dockerfile))?;
    for pattern in extra_ignore {
        ignore = ignore.with_excluded(pattern);
    }
    let entries = context_entries(&inputs.context, &ignore)?;
    let hashes: Vec<Option<[u8; 32]>> = entries
        .par_iter()
        .map(|entry| match entry.kind {
            EntryKind::File { .. } => hash_file(&inputs.context.join(&entry.path)).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<_, _>>()?;

    let mut f = Fields(Sha256::new());
    f.field(b"slipway-build-inputs-v1");
    f.field(&Sha256::digest(dockerfile));
    f.field(&(inputs.build_args.len() as u64).to_le_bytes());
    for (name, value) in &inputs.build_args {
        f.field(name.as_bytes());
        f.field(value.as_bytes());
    }
    f.field(inputs.target.as_deref().unwrap_or("").as_bytes());
    f.field(inputs.platform.to_string().as_bytes());
    f.field(inputs.base.as_deref().unwrap_or("").as_bytes());
    for (entry, hash) in entries.iter().zip(&hashes) {
        f.field(entry.path.as_bytes());
        match (&entry.kind, hash) {
            (EntryKind::File { mode }, Some(hash)) => {
                let executable = mode & 0o111 != 0;
                f.field(if executable { b"x" } else { b"f" });
                f.field(hash);
            }
            (EntryKind::Symlink(target), _) => {
                f.field(b"l");
                f.field(target.as_os_str().as_bytes());
            }
            _ => f.field(b"d"),
        }
    }
    let hex: String = f.0.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(InputsDigest(format!("sha256:{hex}")))
}

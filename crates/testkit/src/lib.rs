//! Test helpers shared by slipway's crates: real services and real repositories, made
//! on the spot and thrown away afterwards.
//!
//! Start here:
//! - [`Registry`] runs the CNCF distribution registry (`docker-registry`) on loopback with
//!   its storage in a temporary directory, optionally behind htpasswd authentication, and
//!   stops it when dropped.
//! - [`GitRepo`] is a git repository in a temporary directory whose commits have a fixed
//!   author, committer and date, so the same sequence of calls gives the same commit ids
//!   on every machine.
//! - [`HttpFiles`] serves fixed files over HTTP on loopback and can hold requests
//!   unanswered, so a build that downloads from it (`ADD <url>`) stops there until the
//!   test releases it — or interrupts the build.
//! - [`snapshot`] records every file under a directory so a test can prove that an
//!   operation left it byte-for-byte unchanged.
//!
//! Missing tools are a setup error, never a reason to skip: the helpers panic with a
//! message that tells the developer to run `scripts/test.sh`, which installs them.

mod git;
mod http;
mod registry;

pub use git::GitRepo;
pub use http::HttpFiles;
pub use registry::Registry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every entry below a directory: regular files with their bytes, symlinks with their
/// target, directories as present. Compare two snapshots with `==`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Relative path → what is there.
    pub entries: BTreeMap<PathBuf, SnapshotEntry>,
}

/// One entry of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotEntry {
    /// A regular file with its contents and permission bits.
    File { mode: u32, contents: Vec<u8> },
    /// A symbolic link and where it points.
    Symlink(PathBuf),
    /// A directory.
    Dir,
}

/// Records every entry below `root` (including hidden ones such as `.git`).
///
/// # Panics
/// When the directory cannot be read: a test fixture that cannot be read is a bug.
pub fn snapshot(root: &Path) -> Snapshot {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, SnapshotEntry>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("directory entry");
            let path = entry.path();
            let rel = path.strip_prefix(root).expect("below root").to_path_buf();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                out.insert(rel, SnapshotEntry::Symlink(target));
            } else if meta.is_dir() {
                out.insert(rel, SnapshotEntry::Dir);
                walk(root, &path, out);
            } else {
                let contents = std::fs::read(&path).expect("read file");
                let mode = meta.permissions().mode();
                out.insert(rel, SnapshotEntry::File { mode, contents });
            }
        }
    }
    let mut entries = BTreeMap::new();
    walk(root, root, &mut entries);
    Snapshot { entries }
}

/// Looks for `program` on `PATH` and panics with the setup hint when it is missing.
pub(crate) fn require_tool(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed or not on PATH: run `scripts/test.sh`, which installs \
         the tools the tests need (docker-registry, apache2-utils, buildah, skopeo, git)"
    );
}

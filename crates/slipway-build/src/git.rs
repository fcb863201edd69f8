//! Git sources: which commit an image is built from, whether the working tree is dirty,
//! and exporting a commit's tree (or one directory of it) into a private temporary
//! directory to serve as a build context.
//!
//! An export never touches the repository: no `git worktree`, no checkout, no index
//! write. The tree is streamed out of the object database with `git archive` and unpacked
//! in-process, so several refs can be exported side by side while the user keeps working.
//! Each export lives under one per-process parent directory,
//! `$TMPDIR/slipway-export-<pid>-<random>/`, and is removed when its [`Export`] guard is
//! dropped; [`cleanup_all_exports`] removes every live export from a signal handler, and
//! [`sweep_stale_exports`] removes what dead processes left behind (e.g. after SIGKILL).
//!
//! # Why the `git` command line
//!
//! We run the user's `git` rather than a library: it honours their git configuration,
//! `.gitattributes` (end-of-line conversion), filter drivers such as Git LFS (which
//! `git archive` applies, so LFS files arrive with their real content), alternates, partial
//! clones and every repository format the installed git understands. It is the git the
//! user already has and trusts, and its plumbing output (`rev-parse`, `status
//! --porcelain=v2 -z`, `archive`) is a stable interface. Every command runs with
//! `GIT_OPTIONAL_LOCKS=0` and `--no-optional-locks`, so not even the index's stat cache is
//! refreshed.
//!
//! One consequence to know: `git archive` honours the `export-ignore` and `export-subst`
//! attributes, so files marked `export-ignore` are not part of an exported context.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, RwLock};

/// Errors from reading a repository or exporting a tree.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The `git` program could not be started.
    #[error("cannot run `git`: {0}")]
    GitNotFound(#[source] std::io::Error),
    /// The path is not inside a git working tree.
    #[error("`{}` is not inside a git repository", .0.display())]
    NotARepository(PathBuf),
    /// A ref, tag or commit id that does not name a commit in this repository.
    #[error("unknown git ref `{0}`")]
    UnknownRef(String),
    /// The requested build-context directory does not exist in the commit.
    #[error("path `{path}` does not exist in commit `{commit}`")]
    PathNotInCommit {
        /// The directory that was asked for.
        path: String,
        /// The commit that was exported.
        commit: String,
    },
    /// A git command failed for another reason.
    #[error("`git {args}` failed: {stderr}")]
    Command {
        /// The arguments given to git.
        args: String,
        /// What git printed on stderr.
        stderr: String,
    },
    /// Writing the exported tree failed.
    #[error("cannot export into `{}`", path.display())]
    Io {
        /// Where the export was being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// [`cleanup_all_exports`] or [`crate::interrupt::request`] was called (the process
    /// is being interrupted).
    #[error("export interrupted")]
    Interrupted,
}

/// A full (40 or 64 hex digit) commit id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(String);

impl CommitId {
    /// The full id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first seven hex digits. Always the same length (not `git rev-parse --short`,
    /// which grows with the repository), so tags made from it are stable.
    pub fn short(&self) -> &str {
        &self.0[..7.min(self.0.len())]
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `git status` reports for the working tree, untracked ignored files excepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingTreeStatus {
    /// Tracked files that are modified, added, deleted, renamed or in conflict (staged or
    /// not), relative to the top of the repository.
    pub changed: Vec<PathBuf>,
    /// Untracked files that are not ignored.
    pub untracked: Vec<PathBuf>,
}

impl WorkingTreeStatus {
    /// Whether a build from the working tree would differ from `HEAD`.
    pub fn is_dirty(&self) -> bool {
        !self.changed.is_empty() || !self.untracked.is_empty()
    }

    /// The changed and untracked files for a message: the first five, quoted, then how
    /// many more (`` `a`, `b` and 3 more ``).
    pub fn listed(&self) -> String {
        const SHOWN: usize = 5;
        let files: Vec<String> = self
            .changed
            .iter()
            .chain(&self.untracked)
            .map(|p| format!("`{}`", p.display()))
            .collect();
        let more = match files.len().checked_sub(SHOWN) {
            Some(n) if n > 0 => format!(" and {n} more"),
            _ => String::new(),
        };
        format!("{}{more}", files[..files.len().min(SHOWN)].join(", "))
    }
}

/// A git working tree, opened read-only.
#[derive(Debug, Clone)]
pub struct Repository {
    top: PathBuf,
}

impl Repository {
    /// Opens the repository that contains `path` (any directory inside the working tree).
    ///
    /// # Errors
    /// [`GitError::NotARepository`] when `path` is not inside a working tree;
    /// [`GitError::GitNotFound`] when git cannot be run.
    pub fn discover(path: &Path) -> Result<Repository, GitError> {
        let output = git_command(path)
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .map_err(GitError::GitNotFound)?;
        if !output.status.success() {
            return Err(GitError::NotARepository(path.to_path_buf()));
        }
        let top = String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_owned();
        Ok(Repository {
            top: PathBuf::from(top),
        })
    }

    /// The top directory of the working tree.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The commit `HEAD` points at.
    ///
    /// # Errors
    /// [`GitError::UnknownRef`] (`HEAD`) in a repository without commits.
    pub fn head(&self) -> Result<CommitId, GitError> {
        self.resolve("HEAD")
    }

    /// The checked-out branch (`main`), or `None` when `HEAD` is detached.
    ///
    /// # Errors
    /// [`GitError::Command`] when git fails.
    pub fn branch(&self) -> Result<Option<String>, GitError> {
        let output = self.run_raw(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        match output.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&output.stdout)
                    .trim_end()
                    .to_owned(),
            )),
            // Exit code 1 with --quiet: HEAD is not a symbolic ref (detached).
            Some(1) => Ok(None),
            _ => Err(command_error(
                &["symbolic-ref", "--quiet", "--short", "HEAD"],
                &output.stderr,
            )),
        }
    }

    /// Resolves a branch, remote-tracking branch (`origin/backend-dev`), tag or (short)
    /// commit id to the commit it names.
    ///
    /// # Errors
    /// [`GitError::UnknownRef`] naming `rev` when it does not name a commit.
    pub fn resolve(&self, rev: &str) -> Result<CommitId, GitError> {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(GitError::UnknownRef(rev.to_owned()));
        }
        let spec = format!("{rev}^{{commit}}");
        let output = self.run_raw(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ])?;
        if !output.status.success() {
            return Err(GitError::UnknownRef(rev.to_owned()));
        }
        Ok(CommitId(
            String::from_utf8_lossy(&output.stdout)
                .trim_end()
                .to_owned(),
        ))
    }

    /// Tracked changes and untracked (not ignored) files of the working tree.
    ///
    /// # Errors
    /// [`GitError::Command`] when `git status` fails.
    pub fn status(&self) -> Result<WorkingTreeStatus, GitError> {
        let args = [
            "status",
            "--porcelain=v2",
            "-z",
            "--untracked-files=all",
            "--ignored=no",
        ];
        let output = self.run_raw(&args)?;
        if !output.status.success() {
            return Err(command_error(&args, &output.stderr));
        }
        Ok(parse_porcelain_v2(&output.stdout))
    }

    /// Exports the tree of `commit` — or only its directory `subdir`, which then becomes
    /// the root of the export — into a fresh private temporary directory.
    ///
    /// # Errors
    /// [`GitError::PathNotInCommit`] when `subdir` is not a directory of the commit;
    /// [`GitError::Io`] when the files cannot be written; [`GitError::Interrupted`] after
    /// [`cleanup_all_exports`].
    pub fn export(&self, commit: &CommitId, subdir: Option<&Path>) -> Result<Export, GitError> {
        let subdir = subdir
            .map(|p| p.to_string_lossy().trim_matches('/').to_owned())
            .filter(|p| !p.is_empty() && p != ".");
        let treeish = match &subdir {
            Some(dir) => {
                let treeish = format!("{}:{dir}", commit.as_str());
                let kind = self.run_raw(&["cat-file", "-t", "--end-of-options", &treeish])?;
                if !kind.status.success() || kind.stdout.trim_ascii() != b"tree" {
                    return Err(GitError::PathNotInCommit {
                        path: dir.clone(),
                        commit: commit.to_string(),
                    });
                }
                treeish
            }
            None => commit.as_str().to_owned(),
        };
        let export = Export::create(commit.clone())?;
        let mut child = git_command(&self.top)
            .args(["archive", "--format=tar", "--end-of-options", &treeish])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::GitNotFound)?;
        let stdout = child.stdout.take().expect("piped stdout");
        let unpacked = unpack(stdout, &export.dir);
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let status = child.wait().map_err(GitError::GitNotFound)?;
        unpacked?;
        if !status.success() {
            return Err(GitError::Command {
                args: format!("archive --format=tar {treeish}"),
                stderr: stderr.trim().to_owned(),
            });
        }
        Ok(export)
    }

    /// The URL of remote `name` (`origin`), or `None` when there is no such remote.
    ///
    /// # Errors
    /// [`GitError::GitNotFound`] when git cannot be run.
    pub fn remote_url(&self, name: &str) -> Result<Option<String>, GitError> {
        let key = format!("remote.{name}.url");
        let output = self.run_raw(&["config", "--get", &key])?;
        let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok((output.status.success() && !url.is_empty()).then_some(url))
    }

    fn run_raw(&self, args: &[&str]) -> Result<std::process::Output, GitError> {
        git_command(&self.top)
            .args(args)
            .output()
            .map_err(GitError::GitNotFound)
    }
}

/// `git` in `dir`, never taking optional locks, with messages in English.
fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("--no-optional-locks")
        .current_dir(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    command
}

fn command_error(args: &[&str], stderr: &[u8]) -> GitError {
    GitError::Command {
        args: args.join(" "),
        stderr: String::from_utf8_lossy(stderr).trim().to_owned(),
    }
}

/// Parses `git status --porcelain=v2 -z` output.
fn parse_porcelain_v2(out: &[u8]) -> WorkingTreeStatus {
    let mut status = WorkingTreeStatus::default();
    let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let Some(record) = fields.next() {
        let text = String::from_utf8_lossy(record);
        let path_after = |n: usize| text.splitn(n + 1, ' ').nth(n).map(PathBuf::from);
        match record.first() {
            // `1 XY sub mH mI mW hH hI path`
            Some(b'1') => status.changed.extend(path_after(8)),
            // `2 XY sub mH mI mW hH hI Xscore path` NUL `origPath`
            Some(b'2') => {
                status.changed.extend(path_after(9));
                fields.next();
            }
            // `u XY sub m1 m2 m3 mW h1 h2 h3 path`
            Some(b'u') => status.changed.extend(path_after(10)),
            Some(b'?') => status.untracked.extend(path_after(1)),
            _ => {}
        }
    }
    status
}

// ---------------------------------------------------------------------------------------
// Export directories and their cleanup.

/// Live export directories, and whether [`cleanup_all_exports`] has run.
struct Live {
    dirs: BTreeSet<PathBuf>,
    cancelled: bool,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    dirs: BTreeSet::new(),
    cancelled: false,
});

/// Held for reading while one archive entry is written, for writing by
/// [`cleanup_all_exports`]: once cleanup holds it, no entry is half-written and none can
/// recreate a removed directory afterwards.
static UNPACKING: RwLock<()> = RwLock::new(());

static PARENT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

const PARENT_PREFIX: &str = "slipway-export-";

/// This process's parent directory for exports, created on first use.
fn parent_dir() -> Result<&'static Path, GitError> {
    let parent = PARENT.get_or_init(|| {
        tempfile::Builder::new()
            .prefix(&format!("{PARENT_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map(|dir| dir.keep())
            .map_err(|e| e.to_string())
    });
    match parent {
        Ok(path) => Ok(path),
        Err(message) => Err(GitError::Io {
            path: std::env::temp_dir(),
            source: std::io::Error::other(message.clone()),
        }),
    }
}

fn lock_live() -> std::sync::MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An exported tree in a private temporary directory, removed when dropped.
#[derive(Debug)]
pub struct Export {
    dir: PathBuf,
    commit: CommitId,
}

impl Export {
    fn create(commit: CommitId) -> Result<Export, GitError> {
        crate::interrupt::on_leftovers(remove_exports);
        let parent = parent_dir()?;
        let mut live = lock_live();
        if live.cancelled || crate::interrupt::requested() {
            return Err(GitError::Interrupted);
        }
        // The parent is removed when its last export goes; recreate it (private) if needed.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|source| GitError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", commit.short()))
            .tempdir_in(parent)
            .map_err(|source| GitError::Io {
                path: parent.to_path_buf(),
                source,
            })?
            .keep();
        live.dirs.insert(dir.clone());
        Ok(Export { dir, commit })
    }

    /// The directory holding the exported files.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The commit that was exported.
    pub fn commit(&self) -> &CommitId {
        &self.commit
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let mut live = lock_live();
        live.dirs.remove(&self.dir);
        if let (true, Some(Ok(parent))) = (live.dirs.is_empty(), PARENT.get()) {
            // Only succeeds when empty; `Export::create` recreates it on demand.
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn unpack(stream: impl Read, dir: &Path) -> Result<(), GitError> {
    let io = |source| GitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut archive = tar::Archive::new(stream);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let _guard = UNPACKING.read().unwrap_or_else(|p| p.into_inner());
        if lock_live().cancelled || crate::interrupt::requested() {
            return Err(GitError::Interrupted);
        }
        entry.unpack_in(dir).map_err(io)?;
    }
    Ok(())
}

/// [`cleanup_all_exports`] as a cleanup of [`crate::interrupt::remove_leftovers`].
fn remove_exports() {
    cleanup_all_exports();
}

/// Removes every live export directory of this process and the process's parent
/// directory. Meant for a SIGINT/SIGTERM handler right before the process exits: from
/// then on, exports in progress stop and new ones fail with [`GitError::Interrupted`].
///
/// Returns how many export directories were removed.
pub fn cleanup_all_exports() -> usize {
    let mut live = lock_live();
    live.cancelled = true;
    drop(live);
    // Wait until no archive entry is being written.
    let _writing = UNPACKING.write().unwrap_or_else(|p| p.into_inner());
    let mut live = lock_live();
    let dirs = std::mem::take(&mut live.dirs);
    for dir in &dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(Ok(parent)) = PARENT.get() {
        let _ = std::fs::remove_dir_all(parent);
    }
    dirs.len()
}

/// Removes export parent directories under the system temporary directory whose process
/// is no longer running (left behind by a crash or SIGKILL). Directories of running
/// processes, including this one, are left alone.
///
/// Returns the directories removed.
///
/// # Errors
/// When the temporary directory cannot be listed.
pub fn sweep_stale_exports() -> std::io::Result<Vec<PathBuf>> {
    sweep_stale_exports_in(&std::env::temp_dir())
}

/// [`sweep_stale_exports`] in a given directory (for tests).
///
/// # Errors
/// When `tmp` cannot be listed.
pub fn sweep_stale_exports_in(tmp: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(tmp)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = export_dir_pid(&name) else {
            continue;
        };
        if pid == std::process::id() || process_is_alive(pid) {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// The pid in `slipway-export-<pid>-<random>`.
fn export_dir_pid(name: &OsStr) -> Option<u32> {
    let name = name.to_str()?;
    let rest = name.strip_prefix(PARENT_PREFIX)?;
    rest.split('-').next()?.parse().ok()
}

fn process_is_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    // No procfs (macOS): `kill -0` asks whether the process exists.
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_v2_lists_changed_renamed_and_untracked_paths() {
        let out = b"1 .M N... 100644 100644 100644 abc abc src/main.rs\0\
2 R. N... 100644 100644 100644 abc abc R100 new name.txt\0old.txt\0\
? notes/todo file.md\0";
        let status = parse_porcelain_v2(out);
        assert_eq!(
            status.changed,
            vec![PathBuf::from("src/main.rs"), PathBuf::from("new name.txt")]
        );
        assert_eq!(status.untracked, vec![PathBuf::from("notes/todo file.md")]);
        assert!(status.is_dirty());
    }

    #[test]
    fn export_dir_pid_is_read_from_the_name() {
        assert_eq!(
            export_dir_pid(OsStr::new("slipway-export-1234-abcd")),
            Some(1234)
        );
        assert_eq!(export_dir_pid(OsStr::new("slipway-exportx")), None);
        assert_eq!(export_dir_pid(OsStr::new("other-1234")), None);
    }

    #[test]
    fn short_commit_id_has_seven_digits() {
        let id = CommitId("0123456789abcdef0123456789abcdef01234567".into());
        assert_eq!(id.short(), "0123456");
    }
}

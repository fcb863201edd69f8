//! Reproducible git repositories in temporary directories.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A git repository in a temporary directory (deleted on drop).
///
/// Every git command runs with a fixed author and committer, a date that advances by one
/// minute per commit from 2020-01-01, and the user's global and system git configuration
/// switched off, so the same calls give the same commit ids on every machine.
#[derive(Debug)]
pub struct GitRepo {
    dir: TempDir,
    commits: Cell<u32>,
}

impl GitRepo {
    /// `git init` with `main` as the initial branch.
    ///
    /// # Panics
    /// When git is not installed or fails.
    pub fn init() -> GitRepo {
        crate::require_tool("git");
        let dir = tempfile::Builder::new()
            .prefix("testkit-git-")
            .tempdir()
            .expect("temporary directory for the repository");
        let repo = GitRepo {
            dir,
            commits: Cell::new(0),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    /// A clone of `origin` (so `origin/<branch>` refs exist), with the same fixed identity.
    ///
    /// # Panics
    /// When git fails.
    pub fn clone_of(origin: &GitRepo) -> GitRepo {
        let dir = tempfile::Builder::new()
            .prefix("testkit-git-clone-")
            .tempdir()
            .expect("temporary directory for the clone");
        run_git(
            dir.path(),
            &[
                "clone",
                "--quiet",
                &origin.path().display().to_string(),
                ".",
            ],
            0,
        );
        GitRepo {
            dir,
            commits: Cell::new(origin.commits.get()),
        }
    }

    /// The top of the working tree.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `path` (relative to the top), creating parent directories.
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &GitRepo {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&full, contents).expect("write file");
        self
    }

    /// Writes an executable file (mode 0755).
    pub fn write_executable(&self, path: &str, contents: impl AsRef<[u8]>) -> &GitRepo {
        use std::os::unix::fs::PermissionsExt;
        self.write(path, contents);
        let full = self.dir.path().join(path);
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755))
            .expect("chmod 0755");
        self
    }

    /// Creates a symbolic link at `path` pointing to `target`.
    pub fn symlink(&self, path: &str, target: &str) -> &GitRepo {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::os::unix::fs::symlink(target, full).expect("symlink");
        self
    }

    /// Removes a file from the working tree.
    pub fn remove(&self, path: &str) -> &GitRepo {
        std::fs::remove_file(self.dir.path().join(path)).expect("remove file");
        self
    }

    /// Absolute path of `path` inside the working tree.
    pub fn join(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// Stages everything (`git add -A`) and commits; returns the full commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.commits.set(self.commits.get() + 1);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.head()
    }

    /// The full id of `HEAD`.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Creates branch `name` at `HEAD` without switching to it.
    pub fn branch(&self, name: &str) -> &GitRepo {
        self.git(&["branch", name]);
        self
    }

    /// Switches to `name` (a branch, tag or commit).
    pub fn checkout(&self, name: &str) -> &GitRepo {
        self.git(&["checkout", "--quiet", name]);
        self
    }

    /// Creates and switches to a new branch.
    pub fn checkout_new(&self, name: &str) -> &GitRepo {
        self.git(&["checkout", "--quiet", "-b", name]);
        self
    }

    /// Creates an annotated tag at `HEAD`.
    pub fn tag(&self, name: &str) -> &GitRepo {
        self.git(&["tag", "-a", "-m", name, name]);
        self
    }

    /// Runs `git <args>` in the repository with the fixed identity; returns trimmed stdout.
    ///
    /// # Panics
    /// When git exits with an error (the message includes its stderr).
    pub fn git(&self, args: &[&str]) -> String {
        run_git(self.dir.path(), args, self.commits.get())
    }
}

fn run_git(dir: &Path, args: &[&str], tick: u32) -> String {
    // One minute per commit, from a fixed instant.
    let date = format!("{} +0000", 1_577_836_800 + u64::from(tick) * 60);
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.invalid")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git ({e}): run `scripts/test.sh`"));
    assert!(
        output.status.success(),
        "`git {}` failed in `{}`: {}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_calls_give_same_commit_ids() {
        let make = || {
            let repo = GitRepo::init();
            repo.write("a.txt", "hello\n");
            repo.commit("first");
            repo.write("b.txt", "world\n");
            repo.commit("second")
        };
        let first = make();
        assert_eq!(first.len(), 40);
        assert_eq!(first, make());
    }

    #[test]
    fn branch_does_not_switch_but_checkout_does() {
        let repo = GitRepo::init();
        repo.commit("root");
        repo.branch("other");
        assert_eq!(repo.git(&["branch", "--show-current"]), "main");
        repo.checkout("other");
        assert_eq!(repo.git(&["branch", "--show-current"]), "other");
    }

    #[test]
    fn clone_has_origin_branches() {
        let origin = GitRepo::init();
        origin.commit("root");
        origin.checkout_new("backend-dev");
        let sha = origin.commit("backend");
        let clone = GitRepo::clone_of(&origin);
        assert_eq!(clone.git(&["rev-parse", "origin/backend-dev"]), sha);
    }
}

//! Git sources against real repositories made by `testkit::GitRepo`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slipway_build::git::{GitError, Repository, sweep_stale_exports_in};
use testkit::{GitRepo, snapshot};

/// `main` (checked out) and `backend-dev` (not checked out), with different files.
fn two_branch_repo() -> GitRepo {
    let repo = GitRepo::init();
    repo.write("README.md", "main readme\n")
        .write("service/Dockerfile", "FROM scratch\nCOPY app /app\n")
        .write_executable("service/app", "#!/bin/sh\necho main\n")
        .symlink("service/link", "app")
        .write(".gitignore", "*.log\n");
    repo.commit("main: first");
    repo.checkout_new("backend-dev");
    repo.write("service/app", "#!/bin/sh\necho backend\n")
        .write("service/extra.txt", "only on backend-dev\n");
    repo.commit("backend-dev: change app");
    repo.checkout("main");
    repo
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn discover_from_a_subdirectory_finds_the_top() {
    let repo = two_branch_repo();
    let opened = Repository::discover(&repo.join("service")).unwrap();
    assert_eq!(
        opened.top().canonicalize().unwrap(),
        repo.path().canonicalize().unwrap()
    );
}

#[test]
fn discover_outside_a_repository_is_not_a_repository_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repository::discover(dir.path()).unwrap_err();
    assert!(matches!(err, GitError::NotARepository(_)), "{err:?}");
}

#[test]
fn head_branch_and_short_sha_describe_the_checkout() {
    let repo = two_branch_repo();
    let opened = Repository::discover(repo.path()).unwrap();
    let head = opened.head().unwrap();
    assert_eq!(head.as_str(), repo.head());
    assert_eq!(head.short(), &repo.head()[..7]);
    assert_eq!(opened.branch().unwrap().as_deref(), Some("main"));
}

#[test]
fn branch_is_none_when_head_is_detached() {
    let repo = two_branch_repo();
    let sha = repo.head();
    repo.checkout(&sha);
    let opened = Repository::discover(repo.path()).unwrap();
    assert_eq!(opened.branch().unwrap(), None);
    assert_eq!(opened.head().unwrap().as_str(), sha);
}

#[test]
fn resolve_accepts_remote_branches_tags_and_short_shas() {
    let origin = two_branch_repo();
    let backend = origin.git(&["rev-parse", "backend-dev"]);
    origin.tag("v1.0.0");
    let clone = GitRepo::clone_of(&origin);
    let opened = Repository::discover(clone.path()).unwrap();
    assert_eq!(
        opened.resolve("origin/backend-dev").unwrap().as_str(),
        backend
    );
    // An annotated tag resolves to its commit, not to the tag object.
    assert_eq!(opened.resolve("v1.0.0").unwrap().as_str(), origin.head());
    assert_eq!(opened.resolve(&backend[..10]).unwrap().as_str(), backend);
}

#[test]
fn unknown_ref_is_a_typed_error_naming_it() {
    let repo = two_branch_repo();
    let opened = Repository::discover(repo.path()).unwrap();
    for rev in ["origin/nope", "no-such-branch", "--output=x", "deadbeef"] {
        match opened.resolve(rev) {
            Err(GitError::UnknownRef(name)) => assert_eq!(name, rev),
            other => panic!("expected UnknownRef for {rev}, got {other:?}"),
        }
    }
    let err = opened.resolve("origin/nope").unwrap_err();
    assert_eq!(err.to_string(), "unknown git ref `origin/nope`");
}

#[test]
fn status_lists_tracked_changes_and_untracked_files_but_not_ignored_ones() {
    let repo = two_branch_repo();
    let opened = Repository::discover(repo.path()).unwrap();
    assert!(!opened.status().unwrap().is_dirty());

    repo.write("debug.log", "ignored\n");
    assert!(
        !opened.status().unwrap().is_dirty(),
        "ignored files are not dirt"
    );

    repo.write("README.md", "changed\n")
        .write("new/file.txt", "new\n");
    let status = opened.status().unwrap();
    assert!(status.is_dirty());
    assert_eq!(status.changed, vec![PathBuf::from("README.md")]);
    assert_eq!(status.untracked, vec![PathBuf::from("new/file.txt")]);
}

#[test]
fn export_of_unchecked_out_branch_leaves_repository_untouched() {
    let repo = two_branch_repo();
    let before = snapshot(repo.path());
    let opened = Repository::discover(repo.path()).unwrap();

    let main = opened.resolve("main").unwrap();
    let backend = opened.resolve("backend-dev").unwrap();
    let main_export = opened.export(&main, None).unwrap();
    let backend_export = opened.export(&backend, None).unwrap();

    // Side by side, each with its own content.
    assert_ne!(main_export.path(), backend_export.path());
    assert_eq!(
        read(&main_export.path().join("service/app")),
        "#!/bin/sh\necho main\n"
    );
    assert_eq!(
        read(&backend_export.path().join("service/app")),
        "#!/bin/sh\necho backend\n"
    );
    assert!(backend_export.path().join("service/extra.txt").exists());
    assert!(!main_export.path().join("service/extra.txt").exists());
    assert!(!main_export.path().join(".git").exists());
    assert_eq!(backend_export.commit(), &backend);

    // The repository is byte-for-byte what it was, with one worktree and a clean status.
    assert_eq!(snapshot(repo.path()), before);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
    assert_eq!(repo.git(&["branch", "--show-current"]), "main");
}

#[test]
fn export_keeps_executable_bits_and_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let repo = two_branch_repo();
    let opened = Repository::discover(repo.path()).unwrap();
    let export = opened.export(&opened.head().unwrap(), None).unwrap();
    let app = std::fs::metadata(export.path().join("service/app")).unwrap();
    assert_eq!(app.permissions().mode() & 0o111, 0o111);
    let readme = std::fs::metadata(export.path().join("README.md")).unwrap();
    assert_eq!(readme.permissions().mode() & 0o111, 0);
    assert_eq!(
        std::fs::read_link(export.path().join("service/link")).unwrap(),
        PathBuf::from("app")
    );
}

#[test]
fn export_of_a_subdirectory_is_rooted_at_it() {
    let repo = two_branch_repo();
    let opened = Repository::discover(repo.path()).unwrap();
    let backend = opened.resolve("backend-dev").unwrap();
    let export = opened.export(&backend, Some(Path::new("service"))).unwrap();
    assert!(export.path().join("Dockerfile").is_file());
    assert!(export.path().join("extra.txt").is_file());
    assert!(!export.path().join("README.md").exists());
}

#[test]
fn export_of_a_missing_subdirectory_names_it() {
    let repo = two_branch_repo();
    let opened = Repository::discover(repo.path()).unwrap();
    let head = opened.head().unwrap();
    match opened.export(&head, Some(Path::new("nope/dir"))) {
        Err(GitError::PathNotInCommit { path, commit }) => {
            assert_eq!(path, "nope/dir");
            assert_eq!(commit, head.as_str());
        }
        other => panic!("expected PathNotInCommit, got {other:?}"),
    }
}

#[test]
fn dropping_an_export_removes_its_directory() {
    let repo = two_branch_repo();
    let opened = Repository::discover(repo.path()).unwrap();
    let export = opened.export(&opened.head().unwrap(), None).unwrap();
    let dir = export.path().to_path_buf();
    assert!(dir.join("README.md").is_file());
    let name = dir
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(&format!("slipway-export-{}-", std::process::id())),
        "{name}"
    );
    drop(export);
    assert!(!dir.exists());
}

#[test]
fn sweep_removes_exports_of_dead_processes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let dead = tmp.path().join(format!("slipway-export-{dead_pid}-abc"));
    let alive = tmp
        .path()
        .join(format!("slipway-export-{}-def", std::process::id()));
    let unrelated = tmp.path().join("something-else");
    for dir in [&dead, &alive, &unrelated] {
        std::fs::create_dir_all(dir.join("export-x")).unwrap();
    }
    let removed = sweep_stale_exports_in(tmp.path()).unwrap();
    assert_eq!(removed, vec![dead.clone()]);
    assert!(!dead.exists());
    assert!(alive.exists());
    assert!(unrelated.exists());
}

fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "`{}` is missing: build it with `cargo test -p slipway-build` (examples are built with the tests)",
        path.display()
    );
    path
}

#[test]
fn sigint_during_exports_leaves_no_temporary_directory() {
    use std::io::{BufRead, BufReader};
    let repo = two_branch_repo();
    // A big enough tree that SIGINT is likely to land in the middle of an export.
    for i in 0..300 {
        repo.write(
            &format!("bulk/file-{i:04}.txt"),
            format!("{i}\n").repeat(50),
        );
    }
    repo.commit("bulk");
    let before = snapshot(repo.path());
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(example_binary("export_and_wait"))
        .arg(repo.path())
        .arg("main")
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("an export line").unwrap();
    assert!(
        first.starts_with(&tmp.path().display().to_string()),
        "{first}"
    );
    assert!(Path::new(&first).join("bulk/file-0299.txt").is_file());
    lines.next().expect("a second export line").unwrap();
    assert!(std::fs::read_dir(tmp.path()).unwrap().count() > 0);

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "example did not exit after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(130));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(snapshot(repo.path()), before);
}

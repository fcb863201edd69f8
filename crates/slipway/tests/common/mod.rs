//! What the end-to-end tests of the binary share: running slipway, git, and a project
//! copied from `examples/demo` whose sandbox is stopped when the test ends.
#![allow(dead_code)]

pub mod microservices;
pub mod progressive;
pub mod sandbox;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn slipway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(dir)
        .env("SLIPWAY_USER", "tester@ci")
        .env("SLIPWAY_CI", "none")
        .env_remove("NO_COLOR")
        .output()
        .expect("the slipway binary runs")
}

pub fn text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".slipway" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// Stops the project's sandbox when the test ends, whatever happened.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.path().join(".slipway/sandbox/kubeconfig")
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        sandbox::kubectl(&self.kubeconfig(), args)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.path().join(".slipway/sandbox/pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// The stories of one test file run one after the other: each starts a sandbox and
/// builds images, and together on two cores they would only test the machine's patience.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A copy of `examples/demo` in a new git repository, its registry on a free port.
pub fn demo() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo");
    copy_dir(&src, dir.path());
    // A free port for the sandbox's registry, so the test never meets another sandbox.
    let port = free_port();
    let config = dir.path().join("slipway.yaml");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:5405", &format!("127.0.0.1:{port}"));
    fs::write(&config, text).unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "demo"]);
    Project { dir }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

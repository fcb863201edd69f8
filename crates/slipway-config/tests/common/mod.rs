//! Helpers shared by the integration tests: a project directory with files and a config.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use slipway_config::{Config, Diagnostic, Diagnostics, LoadError};

/// The complete example of `docs/config.md`.
pub const FULL_EXAMPLE: &str = include_str!("full_example.yaml");

/// Every file and directory the full example refers to.
pub const FULL_EXAMPLE_FILES: &[&str] = &[
    "Dockerfile",
    "frontend/Dockerfile",
    "dist/",
    "deploy/k8s/deployment.yaml",
    "deploy/k8s/migrate/job.yaml",
    "deploy/overlays/uat/kustomization.yaml",
    "deploy/overlays/prod/kustomization.yaml",
    "deploy/prod.env",
    "deploy/uat.env",
    "deploy/nginx.conf",
    "deploy/site.conf",
    "deploy/secrets.env",
    "deploy/apns.p8",
];

/// A temporary project directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project with the given files (a trailing `/` makes a directory).
    pub fn with_files(files: &[&str]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let path = dir.path().join(f);
            if f.ends_with('/') {
                std::fs::create_dir_all(&path).unwrap();
            } else {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, "x").unwrap();
            }
        }
        Project { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("slipway.yaml")
    }

    /// Write `slipway.yaml` and load it.
    pub fn load(&self, yaml: &str) -> Result<Config, LoadError> {
        let path = self.config_path();
        std::fs::write(&path, yaml).unwrap();
        slipway_config::load(&path)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// Load `yaml` in a project with `files` and return the diagnostics (panics if it loads).
pub fn diagnostics(files: &[&str], yaml: &str) -> Diagnostics {
    let project = Project::with_files(files);
    match project.load(yaml) {
        Ok(_) => panic!("expected the config to be refused:\n{yaml}"),
        Err(LoadError::Invalid(d)) => d,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Parse without touching the disk for the config itself; paths resolve against `dir`.
pub fn parse_in(dir: &Path, yaml: &str) -> Result<Config, LoadError> {
    slipway_config::parse(yaml, &dir.join("slipway.yaml"))
}

/// The expected diagnostic, as `(line, column, key, message, hint)`.
pub type Expected<'a> = (usize, usize, &'a str, &'a str, Option<&'a str>);

pub fn assert_diag(d: &Diagnostic, expected: Expected<'_>) {
    let (line, column, key, message, hint) = expected;
    assert_eq!(
        (
            d.line,
            d.column,
            d.key.as_str(),
            d.message.as_str(),
            d.hint.as_deref()
        ),
        (line, column, key, message, hint),
    );
}

/// Assert that loading gives exactly one diagnostic, equal to `expected`.
pub fn assert_single(files: &[&str], yaml: &str, expected: Expected<'_>) {
    let d = diagnostics(files, yaml);
    assert_eq!(d.items.len(), 1, "expected one diagnostic, got:\n{d}");
    assert_diag(&d.items[0], expected);
}

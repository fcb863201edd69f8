//! Dockerfile builds with podman, with the same contract as [`crate::buildah`].
//!
//! Before anything runs, the Dockerfile and its target stage are checked
//! ([`crate::buildah::check_dockerfile`]). Then
//!
//! ```text
//! podman [--storage-driver vfs --root R --runroot R/run] build --isolation chroot \
//!     -f <dockerfile> [--target <t>] --platform <os/arch> --build-arg K=V… --label k=v… \
//!     [--no-cache] [--authfile <f>] [--tls-verify=false] -t <image> <context>
//! podman [...] push [--authfile <f>] --tls-verify=<bool> --digestfile <f> \
//!     <image> docker://<image>
//! ```
//!
//! Without a private storage root, podman uses its own configuration (the user's
//! storage, where `podman images` shows what was built). `--isolation chroot` runs `RUN`
//! steps without a container runtime, so builds also work inside containers, as
//! buildah's do.
//!
//! Credentials reach podman only through `--authfile`, a private (0600) file in a private
//! directory that is removed afterwards. Each output line is passed to a sink prefixed
//! with the image name. Each podman command runs in its own process group with that
//! private directory as its `TMPDIR`; on an interruption ([`crate::interrupt`]) it is
//! stopped with SIGTERM, and the build containers that appeared in podman's storage while
//! an interrupted `build` ran are removed afterwards.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::builder::{DockerfileBuild, dockerfile_builder};
use crate::cli::{self, Bud, builder_error};
use crate::credentials::Credentials;

/// How podman is run.
#[derive(Debug, Clone, Default)]
pub struct PodmanOptions {
    /// A private storage directory (`--root`, with the `vfs` driver), instead of the one
    /// podman's configuration names.
    pub storage_root: Option<PathBuf>,
    /// Registries to reach over plain HTTP although not loopback.
    pub insecure_hosts: Vec<String>,
}

builder_error! {
    /// Errors of a podman build.
    pub enum PodmanError {
        program = "podman",
        not_installed = "cannot run `podman`: {0}; install podman (Debian, Ubuntu: `apt-get install podman`; Fedora: `dnf install podman`) or choose another builder",
        failed = "`podman {step}` for `{image}` failed with {status}; its output is above",
    }
}

/// Checks the Dockerfile and its target stage, as [`crate::buildah::check_dockerfile`].
///
/// # Errors
/// [`PodmanError::MissingDockerfile`] or [`PodmanError::MissingTarget`].
pub fn check_dockerfile(build: &DockerfileBuild) -> Result<(), PodmanError> {
    cli::check_dockerfile(build)
}

/// podman with the storage settings of `options`.
fn podman(options: &PodmanOptions) -> Bud<'_> {
    Bud {
        program: "podman",
        global_args: global_args(options),
        build_step: "build",
        tmp_prefix: "slipway-podman-",
        insecure_hosts: &options.insecure_hosts,
        // Its own containers and those of buildah (which `podman build` creates).
        list_containers: &["ps", "--all", "--external", "--quiet", "--no-trunc"],
        remove_container: &["rm", "--force"],
    }
}

/// The options before podman's subcommand.
fn global_args(options: &PodmanOptions) -> Vec<OsString> {
    options
        .storage_root
        .as_deref()
        .map(cli::vfs_storage_args)
        .unwrap_or_default()
}

/// The arguments of `podman build` for `build` (after the global options), with
/// `authfile` holding the credentials if there are any.
pub fn build_args(
    build: &DockerfileBuild,
    options: &PodmanOptions,
    authfile: Option<&Path>,
) -> Vec<OsString> {
    podman(options).build_args(build, authfile)
}

/// Builds `build` with podman and pushes it; returns the pushed manifest digest.
///
/// # Errors
/// [`PodmanError::MissingDockerfile`] and [`PodmanError::MissingTarget`] before anything
/// runs; [`PodmanError::NotInstalled`]; [`PodmanError::Failed`] when `build` or `push`
/// fails (their output went to `sink`); [`PodmanError::Interrupted`].
pub fn build_and_push(
    build: &DockerfileBuild,
    options: &PodmanOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<String, PodmanError> {
    podman(options).build_and_push(build, credentials, sink)
}

/// Builds `build` with podman into its storage, tagged `build.image`, without pushing
/// (the first half of [`build_and_push`]).
///
/// # Errors
/// As [`build_and_push`], for the `build` step.
pub fn build_image(
    build: &DockerfileBuild,
    options: &PodmanOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<(), PodmanError> {
    podman(options).build_image(build, credentials, sink)
}

/// Pushes the image `build.image` from podman's storage to its registry; returns the
/// pushed manifest digest (the second half of [`build_and_push`]).
///
/// # Errors
/// [`PodmanError::NotInstalled`]; [`PodmanError::Failed`] when the push fails.
pub fn push_image(
    build: &DockerfileBuild,
    options: &PodmanOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<String, PodmanError> {
    podman(options).push_image(build, credentials, sink)
}

dockerfile_builder!(PodmanOptions, PodmanError::Interrupted);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tests::{build, strings};

    #[test]
    fn build_command_line_carries_every_setting() {
        let options = PodmanOptions::default();
        let args = build_args(&build(), &options, Some(Path::new("/tmp/p/auth.json")));
        assert_eq!(
            strings(&args),
            [
                "build",
                "--isolation",
                "chroot",
                "-f",
                "/src/web/Dockerfile",
                "--target",
                "runtime",
                "--platform",
                "linux/amd64",
                "--build-arg",
                "GO_VERSION=1.24",
                "--label",
                "org.opencontainers.image.version=7",
                "--no-cache",
                "--authfile",
                "/tmp/p/auth.json",
                "-t",
                "registry.example.com/shop/web:7",
                "/src/web",
            ]
        );
        assert!(global_args(&options).is_empty());
    }

    #[test]
    fn insecure_registry_and_private_storage() {
        let options = PodmanOptions {
            storage_root: Some(PathBuf::from("/tmp/s")),
            insecure_hosts: vec!["registry.example.com".into()],
        };
        let args = strings(&build_args(&build(), &options, None));
        assert!(args.contains(&"--tls-verify=false".to_owned()), "{args:?}");
        assert!(!args.contains(&"--authfile".to_owned()), "{args:?}");
        assert_eq!(
            strings(&global_args(&options)),
            [
                "--storage-driver",
                "vfs",
                "--root",
                "/tmp/s",
                "--runroot",
                "/tmp/s/run"
            ]
        );
    }
}

//! Dockerfile builds with buildah, the checks every Dockerfile builder shares, and the
//! choice of builder. [`crate::podman`] and [`crate::docker`] build the same
//! [`DockerfileBuild`] with their own programs.
//!
//! Before anything runs, the Dockerfile is checked: it must exist, and the requested
//! target stage must be one of its `FROM … AS <name>` stages (the error lists those that
//! exist). Then
//!
//! ```text
//! buildah --storage-driver vfs [--root R --runroot R/run] bud --isolation chroot \
//!     -f <dockerfile> [--target <t>] --platform <os/arch> --build-arg K=V… --label k=v… \
//!     [--no-cache] [--authfile <f>] [--tls-verify=false] -t <image> <context>
//! buildah --storage-driver vfs [...] push [--authfile <f>] --tls-verify=<bool> \
//!     --digestfile <f> <image> docker://<image>
//! ```
//!
//! Credentials go to buildah only through `--authfile`, a private (0600) file deleted
//! afterwards, never on its command line. Each output line of buildah is passed to a sink
//! prefixed with the image name, so parallel builds stay readable.
//!
//! Each buildah command runs in its own process group with its own private `TMPDIR` (a
//! directory in `$TMPDIR`, else `/var/tmp`, where buildah would otherwise write), which
//! also holds the authfile and is removed when the command is done, whatever happened.
//! When the process is interrupted ([`crate::interrupt`]), buildah is stopped with
//! SIGTERM; buildah removes its working container itself when it is stopped during a
//! `RUN` step, not during other steps (`COPY`, `ADD`, the commit), so the containers that
//! appeared in buildah's storage while an interrupted `bud` ran are removed afterwards.

use std::path::PathBuf;

use crate::builder::{DockerfileBuild, dockerfile_builder};
use crate::cli::{self, Bud, builder_error};
use crate::credentials::Credentials;

/// How buildah is run.
#[derive(Debug, Clone, Default)]
pub struct BuildahOptions {
    /// A private storage directory (`--root`), instead of the system's.
    pub storage_root: Option<PathBuf>,
    /// Registries to reach over plain HTTP although not loopback.
    pub insecure_hosts: Vec<String>,
}

builder_error! {
    /// Errors of a Dockerfile build.
    pub enum BuildahError {
        program = "buildah",
        not_installed = "cannot run `buildah`: {0}",
        failed = "`buildah {step}` for `{image}` failed with {status}",
    }
}

/// Checks what can be checked before running a builder: the Dockerfile exists and has
/// the target stage.
///
/// # Errors
/// [`BuildahError::MissingDockerfile`] or [`BuildahError::MissingTarget`].
pub fn check_dockerfile(build: &DockerfileBuild) -> Result<(), BuildahError> {
    cli::check_dockerfile(build)
}

/// buildah with the storage of `options`.
fn buildah(options: &BuildahOptions) -> Bud<'_> {
    let global_args = options.storage_root.as_deref().map_or_else(
        || vec!["--storage-driver".into(), "vfs".into()],
        cli::vfs_storage_args,
    );
    Bud {
        program: "buildah",
        global_args,
        build_step: "bud",
        tmp_prefix: "slipway-buildah-",
        insecure_hosts: &options.insecure_hosts,
        list_containers: &["containers", "--quiet", "--notruncate", "--noheading"],
        remove_container: &["rm"],
    }
}

/// Builds `build` with buildah and pushes it; returns the pushed manifest digest.
///
/// # Errors
/// [`BuildahError::MissingDockerfile`] and [`BuildahError::MissingTarget`] before
/// anything runs; [`BuildahError::NotInstalled`]; [`BuildahError::Failed`] when `bud`
/// or `push` fails (their output went to `sink`).
pub fn build_and_push(
    build: &DockerfileBuild,
    options: &BuildahOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<String, BuildahError> {
    buildah(options).build_and_push(build, credentials, sink)
}

/// Builds `build` with buildah into its storage, tagged `build.image`, without pushing
/// (the first half of [`build_and_push`]).
///
/// # Errors
/// As [`build_and_push`], for the `bud` step.
pub fn build_image(
    build: &DockerfileBuild,
    options: &BuildahOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<(), BuildahError> {
    buildah(options).build_image(build, credentials, sink)
}

/// Pushes the image `build.image` from buildah's storage to its registry; returns the
/// pushed manifest digest (the second half of [`build_and_push`]).
///
/// # Errors
/// [`BuildahError::NotInstalled`]; [`BuildahError::Failed`] when the push fails.
pub fn push_image(
    build: &DockerfileBuild,
    options: &BuildahOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<String, BuildahError> {
    buildah(options).push_image(build, credentials, sink)
}

dockerfile_builder!(BuildahOptions, BuildahError::Interrupted);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bud_command_line_is_podman_s_with_bud() {
        use std::path::Path;

        use crate::cli::tests::{build, strings};
        use crate::podman::{self, PodmanOptions};

        let insecure_hosts = vec!["registry.example.com".into()];
        let options = BuildahOptions {
            storage_root: Some(PathBuf::from("/tmp/s")),
            insecure_hosts: insecure_hosts.clone(),
        };
        let auth = Some(Path::new("/tmp/p/auth.json"));
        let bud = strings(&buildah(&options).build_args(&build(), auth));
        let podman_options = PodmanOptions {
            storage_root: None,
            insecure_hosts,
        };
        let podman = strings(&podman::build_args(&build(), &podman_options, auth));
        assert_eq!((bud[0].as_str(), podman[0].as_str()), ("bud", "build"));
        assert_eq!(bud[1..], podman[1..]);
        assert!(bud.contains(&"--tls-verify=false".to_owned()), "{bud:?}");
        // As podman's with a storage root (pinned in podman's tests).
        assert_eq!(
            buildah(&options).global_args,
            cli::vfs_storage_args(Path::new("/tmp/s"))
        );
        assert_eq!(
            strings(&buildah(&BuildahOptions::default()).global_args),
            ["--storage-driver", "vfs"]
        );
    }
}

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

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::buildah::{
    self, BuildahError, DockerfileBuild, RunError, authfile, private_dir_named, registry_host,
    run_streaming,
};
use crate::credentials::Credentials;
use crate::interrupt;
use crate::registry::uses_http;

/// How podman is run.
#[derive(Debug, Clone, Default)]
pub struct PodmanOptions {
    /// A private storage directory (`--root`, with the `vfs` driver), instead of the one
    /// podman's configuration names.
    pub storage_root: Option<PathBuf>,
    /// Registries to reach over plain HTTP although not loopback.
    pub insecure_hosts: Vec<String>,
}

/// Errors of a podman build.
#[derive(Debug, thiserror::Error)]
pub enum PodmanError {
    /// The Dockerfile does not exist.
    #[error("Dockerfile `{}` does not exist", .0.display())]
    MissingDockerfile(PathBuf),
    /// The target stage is not in the Dockerfile.
    #[error("target stage `{target}` is not in `{}`; stages: {}", dockerfile.display(), if stages.is_empty() { "none named".to_owned() } else { stages.join(", ") })]
    MissingTarget {
        /// The requested stage.
        target: String,
        /// The Dockerfile.
        dockerfile: PathBuf,
        /// The named stages it has.
        stages: Vec<String>,
    },
    /// podman cannot be started.
    #[error(
        "cannot run `podman`: {0}; install podman (Debian, Ubuntu: `apt-get install podman`; Fedora: `dnf install podman`) or choose another builder"
    )]
    NotInstalled(#[source] std::io::Error),
    /// podman failed; its output went to the sink.
    #[error("`podman {step}` for `{image}` failed with {status}; its output is above")]
    Failed {
        /// `build` or `push`.
        step: &'static str,
        /// The image.
        image: String,
        /// The exit status.
        status: String,
    },
    /// A temporary file could not be written or read.
    #[error("cannot use temporary file: {0}")]
    Io(#[from] std::io::Error),
    /// The process is being interrupted ([`crate::interrupt`]): podman was stopped or not
    /// started, and what it left was removed.
    #[error("interrupted")]
    Interrupted,
}

impl From<RunError> for PodmanError {
    fn from(e: RunError) -> PodmanError {
        match e {
            RunError::Interrupted => PodmanError::Interrupted,
            RunError::NotStarted(e) => PodmanError::NotInstalled(e),
            RunError::Wait(e) => PodmanError::Io(e),
        }
    }
}

/// Checks the Dockerfile and its target stage, as [`buildah::check_dockerfile`].
///
/// # Errors
/// [`PodmanError::MissingDockerfile`] or [`PodmanError::MissingTarget`].
pub fn check_dockerfile(build: &DockerfileBuild) -> Result<(), PodmanError> {
    buildah::check_dockerfile(build).map_err(|e| match e {
        BuildahError::MissingTarget {
            target,
            dockerfile,
            stages,
        } => PodmanError::MissingTarget {
            target,
            dockerfile,
            stages,
        },
        BuildahError::MissingDockerfile(path) => PodmanError::MissingDockerfile(path),
        other => PodmanError::Io(std::io::Error::other(other.to_string())),
    })
}

/// `podman` with the storage settings of `options`, stdin closed.
fn podman(options: &PodmanOptions) -> Command {
    let mut command = Command::new("podman");
    command.args(global_args(options));
    command.stdin(Stdio::null());
    command
}

/// The options before podman's subcommand.
fn global_args(options: &PodmanOptions) -> Vec<OsString> {
    let mut args = Vec::new();
    if let Some(root) = &options.storage_root {
        args.push("--storage-driver".into());
        args.push("vfs".into());
        args.push("--root".into());
        args.push(root.into());
        args.push("--runroot".into());
        args.push(root.join("run").into());
    }
    args
}

/// The arguments of `podman build` for `build` (after the global options), with
/// `authfile` holding the credentials if there are any.
pub fn build_args(
    build: &DockerfileBuild,
    options: &PodmanOptions,
    authfile: Option<&Path>,
) -> Vec<OsString> {
    let insecure = uses_http(registry_host(&build.image), &options.insecure_hosts);
    let mut args: Vec<OsString> = vec!["build".into(), "--isolation".into(), "chroot".into()];
    args.push("-f".into());
    args.push(build.dockerfile.clone().into());
    if let Some(target) = &build.target {
        args.push("--target".into());
        args.push(target.into());
    }
    args.push("--platform".into());
    args.push(build.platform.to_string().into());
    for (name, value) in &build.build_args {
        args.push("--build-arg".into());
        args.push(format!("{name}={value}").into());
    }
    for (name, value) in &build.labels {
        args.push("--label".into());
        args.push(format!("{name}={value}").into());
    }
    if build.no_cache {
        args.push("--no-cache".into());
    }
    if let Some(auth) = authfile {
        args.push("--authfile".into());
        args.push(auth.into());
    }
    if insecure {
        args.push("--tls-verify=false".into());
    }
    args.push("-t".into());
    args.push(build.image.clone().into());
    args.push(build.context.clone().into());
    args
}

/// The ids of the containers in podman's storage, its own and those of buildah (which
/// `podman build` creates), or `None` when they cannot be listed.
fn container_ids(options: &PodmanOptions) -> Option<BTreeSet<String>> {
    let mut list = podman(options);
    list.args(["ps", "--all", "--external", "--quiet", "--no-trunc"])
        .stderr(Stdio::null())
        .process_group(0);
    let output = list.output().ok().filter(|o| o.status.success())?;
    Some(
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

/// Removes the containers that are in podman's storage now but were not in `before`.
fn remove_containers_since(options: &PodmanOptions, before: &BTreeSet<String>) {
    let Some(now) = container_ids(options) else {
        return;
    };
    for id in now.difference(before) {
        let mut rm = podman(options);
        rm.args(["rm", "--force", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let _ = rm.status();
    }
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
    build_image(build, options, credentials, sink)?;
    push_image(build, options, credentials, sink)
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
    check_dockerfile(build)?;
    if interrupt::requested() {
        return Err(PodmanError::Interrupted);
    }
    let host = registry_host(&build.image);
    let tmp = private_dir_named("slipway-podman-")?;
    let auth = credentials
        .map(|c| authfile(tmp.path(), host, c))
        .transpose()?;
    // What is in the storage before, to remove what an interrupted build leaves.
    let before = container_ids(options);

    let mut command = podman(options);
    command.args(build_args(
        build,
        options,
        auth.as_ref().map(tempfile::NamedTempFile::path),
    ));
    let status = run_streaming(command, &tmp, &build.image, sink);
    if interrupt::requested() {
        if let Some(before) = &before {
            remove_containers_since(options, before);
        }
        return Err(PodmanError::Interrupted);
    }
    let status = status?;
    if !status.success() {
        return Err(PodmanError::Failed {
            step: "build",
            image: build.image.clone(),
            status: status.to_string(),
        });
    }
    Ok(())
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
    let host = registry_host(&build.image);
    let insecure = uses_http(host, &options.insecure_hosts);
    let tmp = private_dir_named("slipway-podman-")?;
    let auth = credentials
        .map(|c| authfile(tmp.path(), host, c))
        .transpose()?;
    let digestfile = tmp.path().join("digest");
    let mut push = podman(options);
    push.arg("push");
    if let Some(auth) = &auth {
        push.arg("--authfile").arg(auth.path());
    }
    push.arg(format!("--tls-verify={}", !insecure))
        .arg("--digestfile")
        .arg(&digestfile)
        .arg(&build.image)
        .arg(format!("docker://{}", build.image));
    let status = run_streaming(push, &tmp, &build.image, sink);
    if interrupt::requested() {
        return Err(PodmanError::Interrupted);
    }
    let status = status?;
    if !status.success() {
        return Err(PodmanError::Failed {
            step: "push",
            image: build.image.clone(),
            status: status.to_string(),
        });
    }
    Ok(std::fs::read_to_string(&digestfile)?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::platform::Platform;

    fn build() -> DockerfileBuild {
        DockerfileBuild {
            context: PathBuf::from("/src/web"),
            dockerfile: PathBuf::from("/src/web/Dockerfile"),
            target: Some("runtime".into()),
            platform: Platform::linux_amd64(),
            build_args: BTreeMap::from([("GO_VERSION".into(), "1.24".into())]),
            labels: BTreeMap::from([("org.opencontainers.image.version".into(), "7".into())]),
            image: "registry.example.com/shop/web:7".into(),
            no_cache: true,
        }
    }

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

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

//! What the Dockerfile builders that run a program ([`crate::buildah`],
//! [`crate::podman`], [`crate::docker`]) share: the errors they have in common, the
//! check of the Dockerfile, the Dockerfile arguments of their build commands, the
//! private directory and authfile of one command, and the streaming runner.
//!
//! [`Bud`] is the whole build and push of the programs with buildah's command line
//! (buildah and podman):
//!
//! ```text
//! <program> <global args> <bud|build> --isolation chroot \
//!     -f <dockerfile> [--target <t>] --platform <os/arch> --build-arg K=V… --label k=v… \
//!     [--no-cache] [--authfile <f>] [--tls-verify=false] -t <image> <context>
//! <program> <global args> push [--authfile <f>] --tls-verify=<bool> \
//!     --digestfile <f> <image> docker://<image>
//! ```

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;

use crate::builder::DockerfileBuild;
use crate::credentials::Credentials;
use crate::dockerfile::named_stages;
use crate::interrupt::{self, PrivateDir, SpawnError};
use crate::registry::uses_http;

/// Defines the error enum of a Dockerfile builder: the variants every builder has
/// (`MissingDockerfile`, `MissingTarget`, `NotInstalled` with the given message, `Io`,
/// `Interrupted`), then the builder's own, and implements [`BuilderError`] for it; with
/// `failed`, the builder's own is `Failed { step, image, status }` with that message.
macro_rules! builder_error {
    // With `failed`: also `Failed { step, image, status }` and [`StepError`].
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            program = $program:literal,
            not_installed = $not_installed:literal,
            failed = $failed:literal,
        }
    ) => {
        builder_error! {
            $(#[$meta])*
            pub enum $name {
                program = $program,
                not_installed = $not_installed,
                #[doc = concat!("`", $program, "` failed; its output went to the sink.")]
                #[error($failed)]
                Failed {
                    /// The build subcommand or `push`.
                    step: &'static str,
                    /// The image.
                    image: String,
                    /// The exit status.
                    status: String,
                },
            }
        }

        impl $crate::cli::StepError for $name {
            fn failed(step: &'static str, image: String, status: String) -> Self {
                $name::Failed {
                    step,
                    image,
                    status,
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            program = $program:literal,
            not_installed = $not_installed:literal,
            $($own:tt)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        pub enum $name {
            /// The Dockerfile does not exist.
            #[error("Dockerfile `{}` does not exist", .0.display())]
            MissingDockerfile(std::path::PathBuf),
            /// The target stage is not in the Dockerfile.
            #[error("target stage `{target}` is not in `{}`; stages: {}", dockerfile.display(), if stages.is_empty() { "none named".to_owned() } else { stages.join(", ") })]
            MissingTarget {
                /// The requested stage.
                target: String,
                /// The Dockerfile.
                dockerfile: std::path::PathBuf,
                /// The named stages it has.
                stages: Vec<String>,
            },
            #[doc = concat!("`", $program, "` cannot be started (usually: it is not installed).")]
            #[error($not_installed)]
            NotInstalled(#[source] std::io::Error),
            $($own)*
            /// A temporary file could not be written or read.
            #[error("cannot use temporary file: {0}")]
            Io(#[from] std::io::Error),
            /// The process is being interrupted ([`crate::interrupt`]): the builder was
            /// stopped or not started, and what it left was removed.
            #[error("interrupted")]
            Interrupted,
        }

        impl $crate::cli::BuilderError for $name {
            fn interrupted() -> Self {
                $name::Interrupted
            }
            fn not_installed(e: std::io::Error) -> Self {
                $name::NotInstalled(e)
            }
            fn missing_dockerfile(dockerfile: std::path::PathBuf) -> Self {
                $name::MissingDockerfile(dockerfile)
            }
            fn missing_target(
                target: String,
                dockerfile: std::path::PathBuf,
                stages: Vec<String>,
            ) -> Self {
                $name::MissingTarget {
                    target,
                    dockerfile,
                    stages,
                }
            }
        }
    };
}
pub(crate) use builder_error;

/// The errors every Dockerfile builder has; see [`builder_error`].
pub(crate) trait BuilderError: From<std::io::Error> {
    /// The process is being interrupted.
    fn interrupted() -> Self;
    /// The program cannot be started.
    fn not_installed(e: std::io::Error) -> Self;
    /// The Dockerfile does not exist.
    fn missing_dockerfile(dockerfile: PathBuf) -> Self;
    /// The target stage is not in the Dockerfile.
    fn missing_target(target: String, dockerfile: PathBuf, stages: Vec<String>) -> Self;
}

/// Checks what can be checked before running a builder: the Dockerfile exists and has
/// the target stage.
pub(crate) fn check_dockerfile<E: BuilderError>(build: &DockerfileBuild) -> Result<(), E> {
    let text = std::fs::read_to_string(&build.dockerfile)
        .map_err(|_| E::missing_dockerfile(build.dockerfile.clone()))?;
    if let Some(target) = &build.target {
        let stages = named_stages(&text);
        if !stages.contains(&target.to_ascii_lowercase()) {
            return Err(E::missing_target(
                target.clone(),
                build.dockerfile.clone(),
                stages,
            ));
        }
    }
    Ok(())
}

/// The arguments every builder's build command has, in this order:
/// `-f <dockerfile> [--target <t>] --platform <os/arch> --build-arg K=V… --label k=v…
/// [--no-cache]`.
pub(crate) fn dockerfile_args(build: &DockerfileBuild) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-f".into(), build.dockerfile.clone().into()];
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
    args
}

/// `--storage-driver vfs --root <root> --runroot <root>/run`: the options of buildah and
/// podman for a private storage directory.
pub(crate) fn vfs_storage_args(root: &Path) -> Vec<OsString> {
    vec![
        "--storage-driver".into(),
        "vfs".into(),
        "--root".into(),
        root.into(),
        "--runroot".into(),
        root.join("run").into(),
    ]
}

/// The registry host of an image reference (`host:port/repo:tag` → `host:port`).
pub(crate) fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Writes a private authfile with `credentials` for `host` into `dir`.
pub(crate) fn authfile(
    dir: &Path,
    host: &str,
    credentials: &Credentials,
) -> std::io::Result<tempfile::NamedTempFile> {
    // NamedTempFile is created with mode 0600.
    let mut file = tempfile::Builder::new()
        .prefix("slipway-auth-")
        .tempfile_in(dir)?;
    let json = serde_json::json!({ "auths": { host: { "auth": basic_auth(credentials) } } });
    file.write_all(json.to_string().as_bytes())?;
    file.flush()?;
    Ok(file)
}

/// `user:secret` in base64, the `auth` of an `auths` entry.
pub(crate) fn basic_auth(credentials: &Credentials) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        credentials.username,
        credentials.secret.expose()
    ))
}

/// Where buildah and podman write temporary files when `TMPDIR` is not set.
const BUILDAH_TMP: &str = "/var/tmp";

/// A private directory `<prefix><random>` in `$TMPDIR`, else `/var/tmp`, else the
/// system's temporary directory: the `TMPDIR` of one builder command and its
/// credentials.
pub(crate) fn private_dir_named(prefix: &str) -> std::io::Result<PrivateDir> {
    let base = std::env::var_os("TMPDIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(BUILDAH_TMP), PathBuf::from);
    PrivateDir::new_in(&base, prefix).or_else(|_| PrivateDir::new_in(&std::env::temp_dir(), prefix))
}

/// Starts `command` as an [`interrupt::Builder`]: [`BuilderError::interrupted`] when the
/// process is being interrupted, [`BuilderError::not_installed`] when it cannot start.
pub(crate) fn spawn<E: BuilderError>(command: &mut Command) -> Result<interrupt::Builder, E> {
    interrupt::Builder::spawn(command).map_err(|e| match e {
        SpawnError::Interrupted => E::interrupted(),
        SpawnError::Io(e) => E::not_installed(e),
    })
}

/// Runs `command` as an [`interrupt::Builder`] with `TMPDIR` set to `tmp`, passing each
/// line of its stdout and stderr to `sink` as `<prefix>: <line>`.
pub(crate) fn run_streaming<E: BuilderError>(
    mut command: Command,
    tmp: &PrivateDir,
    prefix: &str,
    sink: &mut dyn FnMut(&str),
) -> Result<std::process::ExitStatus, E> {
    command
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut builder = spawn::<E>(&mut command)?;
    let child = &mut builder.child;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(tx);
    for line in rx {
        sink(&format!("{prefix}: {line}"));
    }
    for reader in readers {
        let _ = reader.join();
    }
    Ok(builder.wait()?)
}

/// The error of a [`Bud`] builder whose `bud`/`build` or `push` step failed.
pub(crate) trait StepError: BuilderError {
    /// `<program> <step>` for `image` exited with `status`; its output went to the sink.
    fn failed(step: &'static str, image: String, status: String) -> Self;
}

/// A builder with buildah's command line (buildah, podman): how it is run and what
/// differs between them.
pub(crate) struct Bud<'a> {
    /// The program.
    pub program: &'static str,
    /// The options before the subcommand.
    pub global_args: Vec<OsString>,
    /// The build subcommand: `bud` or `build`.
    pub build_step: &'static str,
    /// The prefix of each command's private directory.
    pub tmp_prefix: &'static str,
    /// Registries to reach over plain HTTP although not loopback.
    pub insecure_hosts: &'a [String],
    /// The arguments that list the ids of all containers in the storage.
    pub list_containers: &'static [&'static str],
    /// The arguments that remove a container, before its id.
    pub remove_container: &'static [&'static str],
}

impl Bud<'_> {
    /// The program with its global arguments, stdin closed.
    fn command(&self) -> Command {
        let mut command = Command::new(self.program);
        command.args(&self.global_args);
        command.stdin(Stdio::null());
        command
    }

    /// The arguments of the build subcommand for `build` (after the global options),
    /// with `authfile` holding the credentials if there are any.
    pub fn build_args(&self, build: &DockerfileBuild, authfile: Option<&Path>) -> Vec<OsString> {
        let insecure = uses_http(registry_host(&build.image), self.insecure_hosts);
        let mut args: Vec<OsString> = vec![
            self.build_step.into(),
            "--isolation".into(),
            "chroot".into(),
        ];
        args.extend(dockerfile_args(build));
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

    /// The ids of the containers in the storage, or `None` when they cannot be listed.
    fn container_ids(&self) -> Option<BTreeSet<String>> {
        let mut list = self.command();
        list.args(self.list_containers)
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

    /// Removes the containers that are in the storage now but were not in `before`:
    /// those an interrupted build left.
    fn remove_containers_since(&self, before: &BTreeSet<String>) {
        let Some(now) = self.container_ids() else {
            return;
        };
        // One at a time: another interrupted build may be removing the same one.
        for id in now.difference(before) {
            let mut rm = self.command();
            rm.args(self.remove_container)
                .arg(id)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0);
            let _ = rm.status();
        }
    }

    /// The private directory of one command and, when there are credentials, the
    /// authfile in it.
    fn private_dir<E: BuilderError>(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
    ) -> Result<(PrivateDir, Option<tempfile::NamedTempFile>), E> {
        let tmp = private_dir_named(self.tmp_prefix)?;
        let auth = credentials
            .map(|c| authfile(tmp.path(), registry_host(&build.image), c))
            .transpose()?;
        Ok((tmp, auth))
    }

    /// Runs `command` for `step` of `build` with [`run_streaming`] and turns an
    /// interruption or a failure into an error; `interrupted` runs first on an
    /// interruption.
    fn run_step<E: StepError>(
        build: &DockerfileBuild,
        step: &'static str,
        command: Command,
        tmp: &PrivateDir,
        sink: &mut dyn FnMut(&str),
        interrupted: impl FnOnce(),
    ) -> Result<(), E> {
        let status = run_streaming::<E>(command, tmp, &build.image, sink);
        if interrupt::requested() {
            interrupted();
            return Err(E::interrupted());
        }
        let status = status?;
        if !status.success() {
            return Err(E::failed(step, build.image.clone(), status.to_string()));
        }
        Ok(())
    }

    /// Builds `build` and pushes it; returns the pushed manifest digest.
    pub fn build_and_push<E: StepError>(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<String, E> {
        self.build_image::<E>(build, credentials, sink)?;
        self.push_image(build, credentials, sink)
    }

    /// Builds `build` into the storage, tagged `build.image`, without pushing; removes
    /// the containers an interrupted build left.
    pub fn build_image<E: StepError>(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<(), E> {
        check_dockerfile::<E>(build)?;
        if interrupt::requested() {
            return Err(E::interrupted());
        }
        let (tmp, auth) = self.private_dir::<E>(build, credentials)?;
        // What is in the storage before, to remove what an interrupted build leaves.
        let before = self.container_ids();

        let mut command = self.command();
        command.args(self.build_args(build, auth.as_ref().map(tempfile::NamedTempFile::path)));
        Self::run_step(build, self.build_step, command, &tmp, sink, || {
            if let Some(before) = &before {
                self.remove_containers_since(before);
            }
        })
    }

    /// Pushes the image `build.image` from the storage to its registry; returns the
    /// pushed manifest digest.
    pub fn push_image<E: StepError>(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<String, E> {
        let insecure = uses_http(registry_host(&build.image), self.insecure_hosts);
        let (tmp, auth) = self.private_dir::<E>(build, credentials)?;
        let digestfile = tmp.path().join("digest");
        let mut push = self.command();
        push.arg("push");
        if let Some(auth) = &auth {
            push.arg("--authfile").arg(auth.path());
        }
        push.arg(format!("--tls-verify={}", !insecure))
            .arg("--digestfile")
            .arg(&digestfile)
            .arg(&build.image)
            .arg(format!("docker://{}", build.image));
        Self::run_step::<E>(build, "push", push, &tmp, sink, || {})?;
        Ok(std::fs::read_to_string(&digestfile)?.trim().to_owned())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::platform::Platform;

    /// A build with every setting, for the command-line tests of the builders.
    pub(crate) fn build() -> DockerfileBuild {
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

    /// `args` as strings.
    pub(crate) fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn registry_host_is_the_first_component_when_it_looks_like_a_host() {
        assert_eq!(registry_host("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000");
        assert_eq!(registry_host("myacr.azurecr.io/app:1"), "myacr.azurecr.io");
        assert_eq!(registry_host("library/nginx:1"), "docker.io");
        assert_eq!(registry_host("nginx"), "docker.io");
    }

    #[test]
    fn authfile_is_private_and_holds_base64_credentials() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = authfile(dir.path(), "reg:5000", &Credentials::new("u", "p")).unwrap();
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert_eq!(text, r#"{"auths":{"reg:5000":{"auth":"dTpw"}}}"#);
    }

    #[test]
    fn builder_errors_keep_their_messages() {
        use crate::buildah::BuildahError;
        use crate::docker::DockerError;
        use crate::podman::PodmanError;

        fn common<E: BuilderError + std::fmt::Display>() -> Vec<String> {
            [
                E::missing_dockerfile("/w/Dockerfile".into()),
                E::missing_target("x".into(), "/w/Dockerfile".into(), vec![]),
                E::missing_target(
                    "x".into(),
                    "/w/Dockerfile".into(),
                    vec!["a".into(), "b".into()],
                ),
                E::from(std::io::Error::other("disk")),
                E::interrupted(),
            ]
            .iter()
            .map(ToString::to_string)
            .collect()
        }
        let expected = [
            "Dockerfile `/w/Dockerfile` does not exist",
            "target stage `x` is not in `/w/Dockerfile`; stages: none named",
            "target stage `x` is not in `/w/Dockerfile`; stages: a, b",
            "cannot use temporary file: disk",
            "interrupted",
        ];
        assert_eq!(common::<BuildahError>(), expected);
        assert_eq!(common::<PodmanError>(), expected);
        assert_eq!(common::<DockerError>(), expected);

        let missing = || std::io::Error::other("gone");
        assert_eq!(
            BuildahError::not_installed(missing()).to_string(),
            "cannot run `buildah`: gone"
        );
        assert_eq!(
            PodmanError::not_installed(missing()).to_string(),
            "cannot run `podman`: gone; install podman (Debian, Ubuntu: `apt-get install podman`; Fedora: `dnf install podman`) or choose another builder"
        );
        assert_eq!(
            DockerError::not_installed(missing()).to_string(),
            "cannot run `docker`: gone; install Docker, or choose another builder (`builder: buildah` or `builder: podman`)"
        );
        assert_eq!(
            BuildahError::failed("bud", "r/i:1".into(), "exit status: 1".into()).to_string(),
            "`buildah bud` for `r/i:1` failed with exit status: 1"
        );
        assert_eq!(
            PodmanError::failed("push", "r/i:1".into(), "exit status: 1".into()).to_string(),
            "`podman push` for `r/i:1` failed with exit status: 1; its output is above"
        );
        assert!(matches!(
            BuildahError::failed("push", "r/i:1".into(), "s".into()),
            BuildahError::Failed { step: "push", .. }
        ));
    }
}

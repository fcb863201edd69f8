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

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;

use crate::credentials::Credentials;
use crate::interrupt::{self, PrivateDir, SpawnError};
use crate::platform::Platform;
use crate::registry::uses_http;

/// Which program builds images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    /// `buildah` (daemonless, rootless-friendly).
    Buildah,
    /// `docker buildx`.
    Docker,
    /// `podman`.
    Podman,
    /// slipway's own builder (no Dockerfile, files only).
    Native,
}

impl BuilderKind {
    /// The first of `buildah`, `podman`, `docker` found on `PATH`, else
    /// [`BuilderKind::Native`]: the order in which `builder: auto` picks a Dockerfile
    /// builder.
    pub fn detect() -> BuilderKind {
        Self::detect_in(std::env::var_os("PATH").as_deref())
    }

    /// [`BuilderKind::detect`] with an explicit search path.
    pub fn detect_in(search_path: Option<&OsStr>) -> BuilderKind {
        let found = |program: &str| {
            search_path.is_some_and(|path| {
                std::env::split_paths(path).any(|dir| dir.join(program).is_file())
            })
        };
        [
            ("buildah", BuilderKind::Buildah),
            ("podman", BuilderKind::Podman),
            ("docker", BuilderKind::Docker),
        ]
        .into_iter()
        .find(|(program, _)| found(program))
        .map_or(BuilderKind::Native, |(_, kind)| kind)
    }
}

/// A Dockerfile build and where its image goes.
#[derive(Debug, Clone)]
pub struct DockerfileBuild {
    /// The build context.
    pub context: PathBuf,
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// `--target` stage.
    pub target: Option<String>,
    /// `--platform`.
    pub platform: Platform,
    /// `--build-arg`s.
    pub build_args: BTreeMap<String, String>,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
    /// Full image reference, `registry/repo:tag`.
    pub image: String,
    /// `--no-cache`.
    pub no_cache: bool,
}

/// How buildah is run.
#[derive(Debug, Clone, Default)]
pub struct BuildahOptions {
    /// A private storage directory (`--root`), instead of the system's.
    pub storage_root: Option<PathBuf>,
    /// Registries to reach over plain HTTP although not loopback.
    pub insecure_hosts: Vec<String>,
}

/// Errors of a Dockerfile build.
#[derive(Debug, thiserror::Error)]
pub enum BuildahError {
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
    /// buildah is not installed.
    #[error("cannot run `buildah`: {0}")]
    NotInstalled(#[source] std::io::Error),
    /// buildah failed; its output went to the sink.
    #[error("`buildah {step}` for `{image}` failed with {status}")]
    Failed {
        /// `bud` or `push`.
        step: &'static str,
        /// The image.
        image: String,
        /// The exit status.
        status: String,
    },
    /// A temporary file could not be written or read.
    #[error("cannot use temporary file: {0}")]
    Io(#[from] std::io::Error),
    /// The process is being interrupted ([`crate::interrupt`]): buildah was stopped or
    /// not started, and what it left was removed.
    #[error("interrupted")]
    Interrupted,
}

/// The named stages of a Dockerfile (`FROM image AS name`), in order, lowercased.
pub fn dockerfile_stages(text: &str) -> Vec<String> {
    // Join continuation lines first, so `FROM x \` + `AS y` counts.
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if !words.first()?.eq_ignore_ascii_case("FROM") {
                return None;
            }
            let words: Vec<&str> = words[1..]
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            match words.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("AS") => {
                    Some(name.to_ascii_lowercase())
                }
                _ => None,
            }
        })
        .collect()
}

/// Checks what can be checked before running a builder: the Dockerfile exists and has
/// the target stage.
///
/// # Errors
/// [`BuildahError::MissingDockerfile`] or [`BuildahError::MissingTarget`].
pub fn check_dockerfile(build: &DockerfileBuild) -> Result<(), BuildahError> {
    let text = std::fs::read_to_string(&build.dockerfile)
        .map_err(|_| BuildahError::MissingDockerfile(build.dockerfile.clone()))?;
    if let Some(target) = &build.target {
        let stages = dockerfile_stages(&text);
        if !stages.contains(&target.to_ascii_lowercase()) {
            return Err(BuildahError::MissingTarget {
                target: target.clone(),
                dockerfile: build.dockerfile.clone(),
                stages,
            });
        }
    }
    Ok(())
}

/// The registry host of an image reference (`host:port/repo:tag` → `host:port`).
pub(crate) fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

fn buildah(options: &BuildahOptions) -> Command {
    let mut command = Command::new("buildah");
    command.args(["--storage-driver", "vfs"]);
    if let Some(root) = &options.storage_root {
        command.arg("--root").arg(root);
        command.arg("--runroot").arg(root.join("run"));
    }
    command.stdin(Stdio::null());
    command
}

/// Writes a private authfile with `credentials` for `host` into `dir`.
pub(crate) fn authfile(
    dir: &std::path::Path,
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

/// A private directory for one buildah command: its `TMPDIR` and the authfile.
fn private_dir() -> Result<PrivateDir, BuildahError> {
    Ok(private_dir_named("slipway-buildah-")?)
}

/// A private directory `<prefix><random>` in `$TMPDIR`, else `/var/tmp`, else the
/// system's temporary directory: the `TMPDIR` of one builder command and its
/// credentials.
pub(crate) fn private_dir_named(prefix: &str) -> std::io::Result<PrivateDir> {
    let base = std::env::var_os("TMPDIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(BUILDAH_TMP), PathBuf::from);
    PrivateDir::new_in(&base, prefix).or_else(|_| PrivateDir::new_in(&std::env::temp_dir(), prefix))
}

/// The ids of buildah's containers in the storage `options` name, or `None` when they
/// cannot be listed.
fn container_ids(options: &BuildahOptions) -> Option<BTreeSet<String>> {
    let mut list = buildah(options);
    list.args(["containers", "--quiet", "--notruncate", "--noheading"])
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

/// Removes the containers that are in buildah's storage now but were not in `before`:
/// those an interrupted `bud` left.
fn remove_containers_since(options: &BuildahOptions, before: &BTreeSet<String>) {
    let Some(now) = container_ids(options) else {
        return;
    };
    // One at a time: another interrupted build may be removing the same one.
    for id in now.difference(before) {
        let mut rm = buildah(options);
        rm.args(["rm", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let _ = rm.status();
    }
}

/// Why a builder command did not give an exit status.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The process is being interrupted; the command did not start.
    Interrupted,
    /// The program could not be started (usually: it is not installed).
    NotStarted(std::io::Error),
    /// Waiting for it failed.
    Wait(std::io::Error),
}

impl From<RunError> for BuildahError {
    fn from(e: RunError) -> BuildahError {
        match e {
            RunError::Interrupted => BuildahError::Interrupted,
            RunError::NotStarted(e) => BuildahError::NotInstalled(e),
            RunError::Wait(e) => BuildahError::Io(e),
        }
    }
}

/// Runs `command` as an [`interrupt::Builder`] with `TMPDIR` set to `tmp`, passing each
/// line of its stdout and stderr to `sink` as `<prefix>: <line>`.
pub(crate) fn run_streaming(
    mut command: Command,
    tmp: &PrivateDir,
    prefix: &str,
    sink: &mut dyn FnMut(&str),
) -> Result<std::process::ExitStatus, RunError> {
    command
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut builder = interrupt::Builder::spawn(&mut command).map_err(|e| match e {
        SpawnError::Interrupted => RunError::Interrupted,
        SpawnError::Io(e) => RunError::NotStarted(e),
    })?;
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
    builder.wait().map_err(RunError::Wait)
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
    build_image(build, options, credentials, sink)?;
    push_image(build, options, credentials, sink)
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
    check_dockerfile(build)?;
    if interrupt::requested() {
        return Err(BuildahError::Interrupted);
    }
    let host = registry_host(&build.image);
    let insecure = uses_http(host, &options.insecure_hosts);
    let tmp = private_dir()?;
    let auth = credentials
        .map(|c| authfile(tmp.path(), host, c))
        .transpose()?;
    // What is in the storage before, to remove what an interrupted build leaves.
    let before = container_ids(options);

    let mut bud = buildah(options);
    bud.args(["bud", "--isolation", "chroot", "-f"])
        .arg(&build.dockerfile);
    if let Some(target) = &build.target {
        bud.args(["--target", target]);
    }
    bud.args(["--platform", &build.platform.to_string()]);
    for (name, value) in &build.build_args {
        bud.args(["--build-arg", &format!("{name}={value}")]);
    }
    for (name, value) in &build.labels {
        bud.args(["--label", &format!("{name}={value}")]);
    }
    if build.no_cache {
        bud.arg("--no-cache");
    }
    if let Some(auth) = &auth {
        bud.arg("--authfile").arg(auth.path());
    }
    if insecure {
        bud.arg("--tls-verify=false");
    }
    bud.args(["-t", &build.image]).arg(&build.context);
    let status = run_streaming(bud, &tmp, &build.image, sink);
    if interrupt::requested() {
        if let Some(before) = &before {
            remove_containers_since(options, before);
        }
        return Err(BuildahError::Interrupted);
    }
    let status = status?;
    if !status.success() {
        return Err(BuildahError::Failed {
            step: "bud",
            image: build.image.clone(),
            status: status.to_string(),
        });
    }
    Ok(())
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
    let host = registry_host(&build.image);
    let insecure = uses_http(host, &options.insecure_hosts);
    let tmp = private_dir()?;
    let auth = credentials
        .map(|c| authfile(tmp.path(), host, c))
        .transpose()?;
    let digestfile = tmp.path().join("digest");
    let mut push = buildah(options);
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
        return Err(BuildahError::Interrupted);
    }
    let status = status?;
    if !status.success() {
        return Err(BuildahError::Failed {
            step: "push",
            image: build.image.clone(),
            status: status.to_string(),
        });
    }
    Ok(std::fs::read_to_string(&digestfile)?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_read_from_from_lines() {
        let text = "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM golang:1 AS Build\n\
                    RUN go build\nfrom scratch as runtime\nFROM alpine\nFROM busybox \\\n  AS debug\n";
        assert_eq!(dockerfile_stages(text), ["build", "runtime", "debug"]);
    }

    #[test]
    fn registry_host_is_the_first_component_when_it_looks_like_a_host() {
        assert_eq!(registry_host("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000");
        assert_eq!(registry_host("myacr.azurecr.io/app:1"), "myacr.azurecr.io");
        assert_eq!(registry_host("library/nginx:1"), "docker.io");
        assert_eq!(registry_host("nginx"), "docker.io");
    }

    #[test]
    fn detect_prefers_buildah_and_falls_back_to_native() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            BuilderKind::detect_in(Some(dir.path().as_os_str())),
            BuilderKind::Native
        );
        std::fs::write(dir.path().join("docker"), "").unwrap();
        assert_eq!(
            BuilderKind::detect_in(Some(dir.path().as_os_str())),
            BuilderKind::Docker
        );
        std::fs::write(dir.path().join("buildah"), "").unwrap();
        assert_eq!(
            BuilderKind::detect_in(Some(dir.path().as_os_str())),
            BuilderKind::Buildah
        );
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
}

//! Dockerfile builds with `docker buildx build`, with the same contract as
//! [`crate::buildah`].
//!
//! Before anything runs, the Dockerfile and its target stage are checked
//! ([`crate::buildah::check_dockerfile`]), and [`check_engine`] makes sure the Docker
//! daemon answers and the buildx plugin is installed, so that a missing engine is one
//! clear error instead of a failed build. Then
//!
//! ```text
//! docker buildx build --progress plain -f <dockerfile> [--target <t>] --platform <os/arch> \
//!     --build-arg K=V… --label k=v… [--no-cache] --provenance=false \
//!     --metadata-file <f> (--push | --load) -t <image> <context>
//! ```
//!
//! The pushed digest is the `containerimage.digest` of the metadata file. Provenance
//! attestations are off, so the registry receives one image manifest, as from the other
//! builders.
//!
//! Credentials reach docker only through `DOCKER_CONFIG`, which points to a private
//! directory created for the command: its `config.json` is the user's, without any
//! `auths`, `credsStore` or `credHelpers`, plus an `auths` entry for the image's registry
//! when there are credentials. The user's `contexts`, `cli-plugins` and `buildx`
//! directories are linked into it, so the same Docker endpoint, plugins and buildx
//! builder are used. The directory is removed when the command is done.
//!
//! Each command runs in its own process group; on an interruption
//! ([`crate::interrupt`]) it is stopped with SIGTERM, which cancels the build in the
//! engine. Nothing is left in a local storage: the build runs in the engine.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::builder::{DockerfileBuild, dockerfile_builder};
use crate::cli::{
    self, basic_auth, builder_error, dockerfile_args, private_dir_named, registry_host,
    run_streaming, spawn,
};
use crate::credentials::Credentials;
use crate::interrupt::{self, PrivateDir};

/// The entries of the user's Docker configuration directory that the private one links
/// to: where the endpoint, the CLI plugins and the buildx builders are described.
const LINKED: [&str; 3] = ["contexts", "cli-plugins", "buildx"];

/// Keys of `config.json` that hold or find credentials; never copied.
const CREDENTIAL_KEYS: [&str; 3] = ["auths", "credsStore", "credHelpers"];

/// The `auths` key docker uses for Docker Hub.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// How docker is run.
#[derive(Debug, Clone, Default)]
pub struct DockerOptions {
    /// The Docker configuration directory whose contexts, CLI plugins and buildx
    /// builders are used: `$DOCKER_CONFIG`, else `~/.docker`, when `None`.
    pub config_dir: Option<PathBuf>,
}

builder_error! {
    /// Errors of a docker build.
    pub enum DockerError {
        program = "docker",
        not_installed = "cannot run `docker`: {0}; install Docker, or choose another builder (`builder: buildah` or `builder: podman`)",
        /// The Docker daemon does not answer.
        #[error(
            "cannot reach the Docker daemon ({detail}); start Docker, or choose another builder: `builder: buildah` or `builder: podman` for a Dockerfile image, `builder: native` for a `files` image"
        )]
        DaemonUnreachable {
            /// What docker said.
            detail: String,
        },
        /// `docker buildx` is not installed.
        #[error(
            "`docker buildx` is not available ({detail}); install the Docker buildx plugin (`docker-buildx-plugin` from Docker's packages; Docker Desktop includes it), or choose another builder (`builder: buildah` or `builder: podman`)"
        )]
        BuildxMissing {
            /// What docker said.
            detail: String,
        },
        /// `docker buildx build` failed; its output went to the sink.
        #[error("`docker buildx build` for `{image}` failed with {status}; its output is above")]
        Failed {
            /// The image.
            image: String,
            /// The exit status.
            status: String,
        },
        /// The build pushed, but its metadata file names no digest.
        #[error(
            "`docker buildx build` pushed `{image}` but reported no `containerimage.digest` in its metadata file; update the buildx plugin"
        )]
        NoDigest {
            /// The image.
            image: String,
        },
    }
}

/// Checks the Dockerfile and its target stage, as [`crate::buildah::check_dockerfile`].
///
/// # Errors
/// [`DockerError::MissingDockerfile`] or [`DockerError::MissingTarget`].
pub fn check_dockerfile(build: &DockerfileBuild) -> Result<(), DockerError> {
    cli::check_dockerfile(build)
}

/// The arguments of `docker` that build `build` and push it (`push`) or load it into the
/// engine, writing the build's metadata to `metadata_file`.
pub fn build_args(build: &DockerfileBuild, push: bool, metadata_file: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "buildx".into(),
        "build".into(),
        "--progress".into(),
        "plain".into(),
    ];
    args.extend(dockerfile_args(build));
    args.push("--provenance=false".into());
    args.push("--metadata-file".into());
    args.push(metadata_file.into());
    args.push(if push { "--push" } else { "--load" }.into());
    args.push("-t".into());
    args.push(build.image.clone().into());
    args.push(build.context.clone().into());
    args
}

/// The user's Docker configuration directory.
fn user_config_dir(options: &DockerOptions) -> Option<PathBuf> {
    options
        .config_dir
        .clone()
        .or_else(|| {
            std::env::var_os("DOCKER_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".docker"))
        })
}

/// Writes the private Docker configuration into `dir` (see the module documentation):
/// the user's settings from `user` without credentials, `credentials` for `host`, and
/// links to the user's contexts, CLI plugins and buildx builders.
fn write_private_config(
    dir: &Path,
    user: Option<&Path>,
    host: &str,
    credentials: Option<&Credentials>,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let mut config = user
        .and_then(|user| std::fs::read(user.join("config.json")).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|value| match value {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    for key in CREDENTIAL_KEYS {
        config.remove(key);
    }
    let key = if host == "docker.io" {
        DOCKER_HUB_AUTH_KEY
    } else {
        host
    };
    let auths = match credentials {
        Some(credentials) => serde_json::json!({ key: { "auth": basic_auth(credentials) } }),
        None => serde_json::json!({}),
    };
    config.insert("auths".into(), auths);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("config.json"))?;
    file.write_all(serde_json::Value::Object(config).to_string().as_bytes())?;
    file.flush()?;
    if let Some(user) = user {
        for name in LINKED {
            let target = user.join(name);
            if target.exists() {
                std::os::unix::fs::symlink(&target, dir.join(name))?;
            }
        }
    }
    Ok(())
}

/// A private directory holding a Docker configuration for one command.
fn private_config(
    options: &DockerOptions,
    host: &str,
    credentials: Option<&Credentials>,
) -> Result<PrivateDir, DockerError> {
    let tmp = private_dir_named("slipway-docker-")?;
    let config = tmp.path().join("config");
    std::fs::create_dir(&config)?;
    write_private_config(
        &config,
        user_config_dir(options).as_deref(),
        host,
        credentials,
    )?;
    Ok(tmp)
}

/// `docker` with `DOCKER_CONFIG` and `TMPDIR` in `tmp`, stdin closed.
fn docker(tmp: &PrivateDir) -> Command {
    let mut command = Command::new("docker");
    command
        .env("DOCKER_CONFIG", tmp.path().join("config"))
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null());
    command
}

/// Runs a short docker command in its own process group; returns whether it succeeded
/// and what it wrote to stderr, trimmed.
fn probe(tmp: &PrivateDir, args: &[&str], name: &str) -> Result<(bool, String), DockerError> {
    let stderr_path = tmp.path().join(format!("{name}.stderr"));
    let mut command = docker(tmp);
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path)?);
    let builder = spawn::<DockerError>(&mut command)?;
    let status = builder.wait()?;
    if interrupt::requested() {
        return Err(DockerError::Interrupted);
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    Ok((status.success(), first_lines(&stderr)))
}

/// The non-empty lines of `text` joined with `; `, at most three.
fn first_lines(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a line of docker's output says the daemon cannot be reached.
fn says_daemon_unreachable(line: &str) -> bool {
    line.contains("Cannot connect to the Docker daemon")
        || line.contains("Is the docker daemon running")
}

/// Checks that the Docker daemon answers and that `docker buildx` is installed, with the
/// endpoint and plugins of the user's configuration.
///
/// # Errors
/// [`DockerError::NotInstalled`], [`DockerError::DaemonUnreachable`],
/// [`DockerError::BuildxMissing`], [`DockerError::Interrupted`].
pub fn check_engine(options: &DockerOptions) -> Result<(), DockerError> {
    let tmp = private_config(options, "docker.io", None)?;
    check_engine_with(&tmp)
}

fn check_engine_with(tmp: &PrivateDir) -> Result<(), DockerError> {
    require(
        tmp,
        &["version", "--format", "{{.Server.Version}}"],
        "version",
        "`docker version` failed",
        |detail| DockerError::DaemonUnreachable { detail },
    )?;
    require(
        tmp,
        &["buildx", "version"],
        "buildx",
        "`docker buildx version` failed",
        |detail| DockerError::BuildxMissing { detail },
    )
}

/// Runs the [`probe`] `args`; when it fails, the error `error` makes of what docker
/// said, or of `fallback` when it said nothing.
fn require(
    tmp: &PrivateDir,
    args: &[&str],
    name: &str,
    fallback: &str,
    error: fn(String) -> DockerError,
) -> Result<(), DockerError> {
    let (ok, detail) = probe(tmp, args, name)?;
    if ok {
        return Ok(());
    }
    Err(error(if detail.is_empty() {
        fallback.to_owned()
    } else {
        detail
    }))
}

/// Builds `build` with `docker buildx build --push`; returns the pushed manifest digest.
///
/// # Errors
/// [`DockerError::MissingDockerfile`] and [`DockerError::MissingTarget`] before anything
/// runs; the errors of [`check_engine`]; [`DockerError::Failed`] when the build or push
/// fails (the output went to `sink`); [`DockerError::NoDigest`].
pub fn build_and_push(
    build: &DockerfileBuild,
    options: &DockerOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<String, DockerError> {
    run_build(build, options, credentials, true, sink)?.ok_or_else(|| DockerError::NoDigest {
        image: build.image.clone(),
    })
}

/// Builds `build` with `docker buildx build --load`, into the Docker engine's images,
/// without pushing.
///
/// # Errors
/// As [`build_and_push`].
pub fn build_image(
    build: &DockerfileBuild,
    options: &DockerOptions,
    credentials: Option<&Credentials>,
    sink: &mut dyn FnMut(&str),
) -> Result<(), DockerError> {
    run_build(build, options, credentials, false, sink).map(|_| ())
}

fn run_build(
    build: &DockerfileBuild,
    options: &DockerOptions,
    credentials: Option<&Credentials>,
    push: bool,
    sink: &mut dyn FnMut(&str),
) -> Result<Option<String>, DockerError> {
    check_dockerfile(build)?;
    if interrupt::requested() {
        return Err(DockerError::Interrupted);
    }
    let tmp = private_config(options, registry_host(&build.image), credentials)?;
    check_engine_with(&tmp)?;
    let metadata = tmp.path().join("metadata.json");
    let mut command = docker(&tmp);
    command.args(build_args(build, push, &metadata));
    let mut daemon_gone = None;
    let status = run_streaming::<DockerError>(command, &tmp, &build.image, &mut |line| {
        if daemon_gone.is_none() && says_daemon_unreachable(line) {
            daemon_gone = Some(line.to_owned());
        }
        sink(line);
    });
    if interrupt::requested() {
        return Err(DockerError::Interrupted);
    }
    let status = status?;
    if !status.success() {
        if let Some(line) = daemon_gone {
            let prefix = format!("{}: ", build.image);
            let detail = line.strip_prefix(&prefix).unwrap_or(&line).to_owned();
            return Err(DockerError::DaemonUnreachable { detail });
        }
        return Err(DockerError::Failed {
            image: build.image.clone(),
            status: status.to_string(),
        });
    }
    if !push {
        return Ok(None);
    }
    let metadata: serde_json::Value = std::fs::read(&metadata)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    Ok(metadata["containerimage.digest"]
        .as_str()
        .filter(|d| is_digest(d))
        .map(str::to_owned))
}

/// `sha256:` and 64 lowercase hex digits.
fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

dockerfile_builder!(DockerOptions, DockerError::Interrupted);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_config_keeps_settings_drops_credentials_and_links_contexts() {
        use std::os::unix::fs::PermissionsExt;
        let user = tempfile::tempdir().unwrap();
        std::fs::write(
            user.path().join("config.json"),
            r#"{"auths":{"other.example.com":{"auth":"c2VjcmV0"}},"credsStore":"desktop",
                "credHelpers":{"x.example.com":"ecr-login"},"currentContext":"colima",
                "proxies":{"default":{"httpProxy":"http://proxy:3128"}}}"#,
        )
        .unwrap();
        std::fs::create_dir(user.path().join("contexts")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_private_config(
            dir.path(),
            Some(user.path()),
            "registry.example.com",
            Some(&Credentials::new("u", "p")),
        )
        .unwrap();
        let path = dir.path().join("config.json");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            config["auths"],
            serde_json::json!({ "registry.example.com": { "auth": "dTpw" } })
        );
        assert_eq!(config["currentContext"], "colima");
        assert_eq!(
            config["proxies"]["default"]["httpProxy"],
            "http://proxy:3128"
        );
        assert!(config.get("credsStore").is_none());
        assert!(config.get("credHelpers").is_none());
        assert_eq!(
            std::fs::read_link(dir.path().join("contexts")).unwrap(),
            user.path().join("contexts")
        );
        assert!(!dir.path().join("buildx").exists());
    }

    #[test]
    fn docker_hub_credentials_use_docker_s_key() {
        let dir = tempfile::tempdir().unwrap();
        write_private_config(
            dir.path(),
            None,
            "docker.io",
            Some(&Credentials::new("u", "p")),
        )
        .unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["auths"][DOCKER_HUB_AUTH_KEY]["auth"], "dTpw");
    }

    #[test]
    fn digests_are_checked() {
        assert!(is_digest(&format!("sha256:{}", "a1".repeat(32))));
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest(&format!("sha512:{}", "a1".repeat(32))));
    }
}

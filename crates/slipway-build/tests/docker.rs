//! The `docker buildx` builder: the command line it runs, and the clear error the real
//! docker CLI gives when no Docker daemon answers (a Docker context whose socket does not
//! exist, so the outcome is the same with or without a daemon on the machine).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_build::builder::DockerfileBuild;
use slipway_build::credentials::Credentials;
use slipway_build::docker::{self, DockerError, DockerOptions};
use slipway_build::orchestrate::{self, BuildOptions, FailureKind};
use slipway_build::platform::Platform;
use testkit::GitRepo;

const DOCKERFILE: &str = "FROM scratch AS build\n\
COPY hello.txt /hello.txt\n\
\n\
FROM scratch AS runtime\n\
COPY --from=build /hello.txt /srv/hello.txt\n";

fn build_for(context: &Path, image: &str) -> DockerfileBuild {
    DockerfileBuild {
        context: context.to_path_buf(),
        dockerfile: context.join("Dockerfile"),
        target: Some("runtime".into()),
        platform: Platform::linux_amd64(),
        build_args: BTreeMap::from([("GO_VERSION".into(), "1.24".into())]),
        labels: BTreeMap::from([
            ("dev.slipway.service".into(), "web".into()),
            ("org.opencontainers.image.version".into(), "7".into()),
        ]),
        image: image.to_owned(),
        no_cache: true,
    }
}

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn command_line_pushes_with_a_metadata_file_and_every_setting() {
    let build = build_for(Path::new("/src/web"), "registry.example.com/shop/web:7");
    let args = docker::build_args(&build, true, Path::new("/tmp/d/metadata.json"));
    assert_eq!(
        strings(&args),
        [
            "buildx",
            "build",
            "--progress",
            "plain",
            "-f",
            "/src/web/Dockerfile",
            "--target",
            "runtime",
            "--platform",
            "linux/amd64",
            "--build-arg",
            "GO_VERSION=1.24",
            "--label",
            "dev.slipway.service=web",
            "--label",
            "org.opencontainers.image.version=7",
            "--no-cache",
            "--provenance=false",
            "--metadata-file",
            "/tmp/d/metadata.json",
            "--push",
            "-t",
            "registry.example.com/shop/web:7",
            "/src/web",
        ]
    );

    let mut local = build.clone();
    local.target = None;
    local.no_cache = false;
    local.build_args.clear();
    let args = strings(&docker::build_args(&local, false, Path::new("/m")));
    assert!(args.contains(&"--load".to_owned()), "{args:?}");
    for absent in ["--push", "--target", "--no-cache", "--build-arg"] {
        assert!(!args.contains(&absent.to_owned()), "{absent} in {args:?}");
    }
}

/// Whether the docker CLI is installed; prints why a test is skipped when it is not.
fn docker_installed() -> bool {
    let found = Command::new("docker").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: the docker CLI is not installed");
    }
    found
}

/// Whether `DOCKER_HOST` or `DOCKER_CONTEXT` would override the test's context.
fn endpoint_overridden() -> bool {
    let set = ["DOCKER_HOST", "DOCKER_CONTEXT"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if set {
        eprintln!(
            "skipped: DOCKER_HOST or DOCKER_CONTEXT is set and would override the test's Docker context"
        );
    }
    set
}

/// A Docker configuration directory whose current context points to a socket that does
/// not exist, made with the real CLI; returns it and the socket path.
fn config_without_daemon(dir: &Path) -> (PathBuf, PathBuf) {
    let config = dir.join("docker");
    std::fs::create_dir(&config).unwrap();
    let socket = dir.join("no-daemon.sock");
    for args in [
        vec![
            "context".to_owned(),
            "create".to_owned(),
            "nowhere".to_owned(),
            "--docker".to_owned(),
            format!("host=unix://{}", socket.display()),
        ],
        vec!["context".to_owned(), "use".to_owned(), "nowhere".to_owned()],
    ] {
        let output = Command::new("docker")
            .args(&args)
            .env("DOCKER_CONFIG", &config)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (config, socket)
}

#[test]
fn no_daemon_is_a_clear_error_and_credentials_stay_private() {
    if !docker_installed() || endpoint_overridden() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, socket) = config_without_daemon(dir.path());
    let before = std::fs::read(config.join("config.json")).unwrap();
    let context = dir.path().join("web");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(context.join("hello.txt"), "hello\n").unwrap();
    let options = DockerOptions {
        config_dir: Some(config.clone()),
    };

    let err = docker::check_engine(&options).unwrap_err();
    match &err {
        DockerError::DaemonUnreachable { detail } => {
            assert!(detail.contains(&socket.display().to_string()), "{detail}");
        }
        other => panic!("expected DaemonUnreachable, got {other:?}"),
    }

    let mut lines = Vec::new();
    let build = build_for(&context, "registry.example.com/shop/web:7");
    let err = docker::build_and_push(
        &build,
        &options,
        Some(&Credentials::new("builder", "s3cret-pass")),
        &mut |l| lines.push(l.to_owned()),
    )
    .unwrap_err();
    assert!(
        matches!(err, DockerError::DaemonUnreachable { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("cannot reach the Docker daemon"),
        "{message}"
    );
    assert!(message.contains("start Docker"), "{message}");
    assert!(message.contains("`builder: buildah`"), "{message}");
    assert!(message.contains("`builder: native`"), "{message}");
    assert!(!message.contains("s3cret-pass"), "{message}");
    assert!(
        lines.iter().all(|l| !l.contains("s3cret-pass")),
        "{lines:?}"
    );
    // The user's configuration was used for the endpoint, not written to.
    assert_eq!(std::fs::read(config.join("config.json")).unwrap(), before);
}

#[test]
fn builder_docker_without_a_daemon_stops_the_build_before_anything_runs() {
    if !docker_installed() || endpoint_overridden() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = config_without_daemon(dir.path());
    let repo = GitRepo::init();
    repo.write(
        "slipway.yaml",
        "app: shop\nregistry: 127.0.0.1:1/shop\nimages:\n  web:\n    context: web\n    \
         target: runtime\n    builder: docker\n\
         environments:\n  dev:\n    context: dev\n    namespace: shop\n",
    )
    .write("web/Dockerfile", DOCKERFILE)
    .write("web/hello.txt", "hello\n");
    repo.commit("web");
    let config_file = slipway_config::load(&repo.join("slipway.yaml")).unwrap();
    let mut options = BuildOptions::new(1_700_000_000);
    options.docker.config_dir = Some(config);

    let err = orchestrate::run(&config_file, &options, &|_| {}).unwrap_err();
    assert_eq!(err.kind, FailureKind::Input, "{err}");
    assert_eq!(err.problems.len(), 1, "{err}");
    let problem = &err.problems[0];
    assert_eq!(problem.image.as_deref(), Some("web"));
    assert_eq!(problem.key.as_deref(), Some("images.web.builder"));
    assert!(
        problem
            .message
            .starts_with("cannot reach the Docker daemon"),
        "{}",
        problem.message
    );
    assert!(
        !repo.join(".slipway/artifacts.json").exists(),
        "nothing was built or recorded"
    );
}

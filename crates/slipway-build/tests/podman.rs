//! Dockerfile builds with real podman (private `vfs` storage in a temporary directory),
//! pushed to a real registry and checked with `skopeo`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use slipway_build::builder::DockerfileBuild;
use slipway_build::credentials::Credentials;
use slipway_build::orchestrate::{self, BuildOptions};
use slipway_build::platform::Platform;
use slipway_build::podman::{self, PodmanError, PodmanOptions};
use testkit::{GitRepo, Registry};

/// Three stages; `runtime` takes a build arg into a label, `debug` must not be built
/// when the target is `runtime`.
const DOCKERFILE: &str = "FROM scratch AS build\n\
COPY hello.txt /hello.txt\n\
\n\
FROM scratch AS runtime\n\
ARG GREETING=unset\n\
LABEL dev.slipway.greeting=$GREETING\n\
COPY --from=build /hello.txt /srv/hello.txt\n\
\n\
FROM scratch AS debug\n\
COPY hello.txt /debug.txt\n\
COPY hello.txt /debug-again.txt\n";

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from podman\n").unwrap();
    dir
}

fn build_for(context: &Path, image: String) -> DockerfileBuild {
    DockerfileBuild {
        context: context.to_path_buf(),
        dockerfile: context.join("Dockerfile"),
        target: Some("runtime".into()),
        platform: Platform::linux_amd64(),
        build_args: BTreeMap::from([("GREETING".into(), "hi there".into())]),
        labels: BTreeMap::from([
            ("org.opencontainers.image.revision".into(), "abc".into()),
            ("dev.slipway.service".into(), "web".into()),
        ]),
        image,
        no_cache: false,
    }
}

fn options(storage: &Path) -> PodmanOptions {
    PodmanOptions {
        storage_root: Some(storage.join("root")),
        ..PodmanOptions::default()
    }
}

fn skopeo_inspect(reference: &str, extra: &[&str]) -> Value {
    let output = Command::new("skopeo")
        .arg("inspect")
        .args(extra)
        .arg("--tls-verify=false")
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo is installed by scripts/test.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The ids of every container (podman's and buildah's) in the private storage.
fn containers(storage: &Path) -> Vec<String> {
    let root = storage.join("root");
    let output = Command::new("podman")
        .args(["--storage-driver", "vfs", "--root"])
        .arg(&root)
        .arg("--runroot")
        .arg(root.join("run"))
        .args(["ps", "--all", "--external", "--quiet", "--no-trunc"])
        .output()
        .expect("podman is installed by scripts/test.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn two_stage_dockerfile_with_target_arg_and_labels_is_built_and_pushed() {
    let context = context();
    let registry = Registry::start();
    let storage = tempfile::tempdir().unwrap();
    let image = format!("{}/shop/web:1", registry.host());
    let mut lines = Vec::new();
    let digest = podman::build_and_push(
        &build_for(context.path(), image.clone()),
        &options(storage.path()),
        None,
        &mut |line| lines.push(line.to_owned()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));

    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l.starts_with(&format!("{image}: "))),
        "{lines:#?}"
    );
    let inspect = skopeo_inspect(&image, &[]);
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Labels"]["dev.slipway.service"], "web");
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.revision"],
        "abc"
    );
    assert_eq!(inspect["Labels"]["dev.slipway.greeting"], "hi there");
    // Only the `runtime` stage's one layer: `debug` (two layers) was not the target.
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1, "{inspect}");
    // podman used the private storage, and left no build container in it.
    assert!(storage.path().join("root").is_dir());
    assert_eq!(containers(storage.path()), Vec::<String>::new());
}

#[test]
fn push_to_a_registry_with_auth_uses_a_private_authfile() {
    let context = context();
    let registry = Registry::start_with_auth("builder", "p4ss word");
    let storage = tempfile::tempdir().unwrap();
    let image = format!("{}/private/web:1", registry.host());
    let build = build_for(context.path(), image.clone());

    let mut lines = Vec::new();
    let wrong = Credentials::new("builder", "nope");
    let err = podman::build_and_push(&build, &options(storage.path()), Some(&wrong), &mut |l| {
        lines.push(l.to_owned());
    })
    .unwrap_err();
    assert!(
        matches!(err, PodmanError::Failed { step: "push", .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&image), "{err}");
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("p4ss word") && !l.contains("nope")),
        "{lines:#?}"
    );

    let right = Credentials::new("builder", "p4ss word");
    let digest =
        podman::build_and_push(&build, &options(storage.path()), Some(&right), &mut |_| {})
            .unwrap();
    let inspect = skopeo_inspect(&image, &["--creds", "builder:p4ss word"]);
    assert_eq!(inspect["Digest"], digest.as_str());
}

#[test]
fn missing_target_stage_is_reported_with_the_existing_stages_before_podman_runs() {
    let context = context();
    let storage = tempfile::tempdir().unwrap();
    let mut build = build_for(context.path(), "127.0.0.1:1/x:1".into());
    build.target = Some("tests".into());
    let err =
        podman::build_and_push(&build, &options(storage.path()), None, &mut |_| {}).unwrap_err();
    match &err {
        PodmanError::MissingTarget { target, stages, .. } => {
            assert_eq!(target, "tests");
            assert_eq!(stages, &["build", "runtime", "debug"]);
        }
        other => panic!("expected MissingTarget, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("target stage `tests`"), "{message}");
    assert!(
        message.contains("stages: build, runtime, debug"),
        "{message}"
    );
    assert!(
        !storage.path().join("root").exists(),
        "podman must not have run"
    );
}

#[test]
fn builder_podman_in_slipway_yaml_builds_with_podman() {
    let registry = Registry::start();
    let repo = GitRepo::init();
    repo.write(
        "slipway.yaml",
        format!(
            "app: shop\nregistry: {}/shop\nimages:\n  web:\n    context: web\n    \
             target: runtime\n    args: {{ GREETING: yaml }}\n    builder: podman\n\
             environments:\n  dev:\n    context: dev\n    namespace: shop\n",
            registry.host()
        ),
    )
    .write("web/Dockerfile", DOCKERFILE)
    .write("web/hello.txt", "hello\n");
    repo.commit("web");
    let config = slipway_config::load(&repo.join("slipway.yaml")).unwrap();
    let storage = tempfile::tempdir().unwrap();
    let mut options = BuildOptions::new(1_700_000_000);
    options.podman = self::options(storage.path());
    // buildah would use this storage: it must stay unused.
    options.buildah.storage_root = Some(storage.path().join("buildah"));
    options.concurrency = 1;

    let outcome = orchestrate::run(&config, &options, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    let entry = &outcome.images[0];
    let digest = entry.digest.as_deref().expect("pushed");
    let inspect = skopeo_inspect(&format!("{}:{}", entry.repository, entry.tag), &[]);
    assert_eq!(
        entry.reference,
        format!("{}:{}@{digest}", entry.repository, entry.tag)
    );
    assert_eq!(inspect["Digest"], digest);
    assert_eq!(inspect["Labels"]["dev.slipway.greeting"], "yaml");
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.version"],
        entry.tag.as_str()
    );
    assert!(storage.path().join("root").is_dir(), "podman's storage");
    assert!(!storage.path().join("buildah").exists(), "buildah ran");
}

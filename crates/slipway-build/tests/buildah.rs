//! Dockerfile builds with real buildah, from an export of a branch that is not checked
//! out, pushed to a real registry.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use slipway_build::buildah::{BuildahError, BuildahOptions, build_and_push, check_dockerfile};
use slipway_build::builder::DockerfileBuild;
use slipway_build::credentials::Credentials;
use slipway_build::git::Repository;
use slipway_build::platform::Platform;
use testkit::{GitRepo, Registry, snapshot};

const DOCKERFILE: &str = "FROM scratch AS build\n\
COPY hello.txt /hello.txt\n\
\n\
FROM scratch AS runtime\n\
COPY --from=build /hello.txt /srv/hello.txt\n";

/// `main` has no service; `frontend-dev` (not checked out) has a two-stage Dockerfile.
fn repo() -> GitRepo {
    let repo = GitRepo::init();
    repo.write("README.md", "main\n");
    repo.commit("main");
    repo.checkout_new("frontend-dev");
    repo.write("web/Dockerfile", DOCKERFILE)
        .write("web/hello.txt", "hello from frontend-dev\n");
    repo.commit("frontend");
    repo.checkout("main");
    repo
}

fn build_for(context: &Path, image: String) -> DockerfileBuild {
    DockerfileBuild {
        context: context.to_path_buf(),
        dockerfile: context.join("Dockerfile"),
        target: Some("runtime".into()),
        platform: Platform::linux_amd64(),
        build_args: BTreeMap::from([("UNUSED".into(), "1".into())]),
        labels: BTreeMap::from([
            ("org.opencontainers.image.revision".into(), "abc".into()),
            ("dev.slipway.service".into(), "web".into()),
        ]),
        image,
        no_cache: false,
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

#[test]
fn two_stage_dockerfile_from_an_unchecked_out_branch_is_built_and_pushed() {
    let repo = repo();
    let before = snapshot(repo.path());
    let registry = Registry::start();
    let storage = tempfile::tempdir().unwrap();
    let git = Repository::discover(repo.path()).unwrap();
    let commit = git.resolve("frontend-dev").unwrap();
    let export = git.export(&commit, Some(Path::new("web"))).unwrap();

    let image = format!("{}/web:{}", registry.host(), commit.short());
    let options = BuildahOptions {
        storage_root: Some(storage.path().join("root")),
        ..BuildahOptions::default()
    };
    let mut lines = Vec::new();
    let digest = build_and_push(
        &build_for(export.path(), image.clone()),
        &options,
        None,
        &mut |line| lines.push(line.to_owned()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));

    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l.starts_with(&format!("{image}: "))));
    let inspect = skopeo_inspect(&image, &[]);
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Labels"]["dev.slipway.service"], "web");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);

    drop(export);
    assert_eq!(snapshot(repo.path()), before);
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
}

#[test]
fn push_to_a_registry_with_auth_uses_a_private_authfile() {
    let repo = repo();
    let registry = Registry::start_with_auth("builder", "p4ss word");
    let storage = tempfile::tempdir().unwrap();
    let git = Repository::discover(repo.path()).unwrap();
    let export = git
        .export(
            &git.resolve("frontend-dev").unwrap(),
            Some(Path::new("web")),
        )
        .unwrap();
    let image = format!("{}/private/web:1", registry.host());
    let options = BuildahOptions {
        storage_root: Some(storage.path().join("root")),
        ..BuildahOptions::default()
    };
    let mut lines = Vec::new();
    let wrong = Credentials::new("builder", "nope");
    let err = build_and_push(
        &build_for(export.path(), image.clone()),
        &options,
        Some(&wrong),
        &mut |line| lines.push(line.to_owned()),
    )
    .unwrap_err();
    assert!(
        matches!(err, BuildahError::Failed { step: "push", .. }),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("p4ss word") && !l.contains("nope"))
    );

    let right = Credentials::new("builder", "p4ss word");
    let digest = build_and_push(
        &build_for(export.path(), image.clone()),
        &options,
        Some(&right),
        &mut |_| {},
    )
    .unwrap();
    let inspect = skopeo_inspect(&image, &["--creds", "builder:p4ss word"]);
    assert_eq!(inspect["Digest"], digest.as_str());
}

#[test]
fn missing_target_stage_is_reported_with_the_existing_stages_before_buildah_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    let mut build = build_for(dir.path(), "127.0.0.1:1/x:1".into());
    build.target = Some("tests".into());
    let storage = dir.path().join("storage");
    let options = BuildahOptions {
        storage_root: Some(storage.clone()),
        ..BuildahOptions::default()
    };
    let err = build_and_push(&build, &options, None, &mut |_| {}).unwrap_err();
    match &err {
        BuildahError::MissingTarget { target, stages, .. } => {
            assert_eq!(target, "tests");
            assert_eq!(stages, &["build", "runtime"]);
        }
        other => panic!("expected MissingTarget, got {other:?}"),
    }
    assert!(err.to_string().contains("stages: build, runtime"), "{err}");
    assert!(!storage.exists(), "buildah must not have run");
}

#[test]
fn missing_dockerfile_is_reported_before_buildah_runs() {
    let dir = tempfile::tempdir().unwrap();
    let build = build_for(dir.path(), "127.0.0.1:1/x:1".into());
    match check_dockerfile(&build) {
        Err(BuildahError::MissingDockerfile(path)) => assert_eq!(path, build.dockerfile),
        other => panic!("expected MissingDockerfile, got {other:?}"),
    }
}

//! The build-inputs digest reacts to what a build depends on, and to nothing else.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use slipway_build::inputs::{BuildInputs, InputsError, digest};
use slipway_build::platform::Platform;

fn write(root: &Path, path: &str, contents: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, contents).unwrap();
}

fn context() -> (tempfile::TempDir, BuildInputs) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Dockerfile", "FROM scratch AS base\nCOPY . /app\n");
    write(root, "src/main.js", "console.log('hi')\n");
    write(root, "docs/guide.md", "guide\n");
    write(root, "docs/keep.md", "keep\n");
    write(root, ".dockerignore", "*.log\ndocs\n!docs/keep.md\n");
    let inputs = BuildInputs {
        context: root.to_path_buf(),
        dockerfile: root.join("Dockerfile"),
        build_args: BTreeMap::from([("NODE_ENV".into(), "production".into())]),
        target: Some("base".into()),
        platform: Platform::linux_amd64(),
        base: None,
    };
    (dir, inputs)
}

#[test]
fn unchanged_inputs_give_the_same_digest() {
    let (_dir, inputs) = context();
    let first = digest(&inputs).unwrap();
    assert!(first.as_str().starts_with("sha256:"));
    assert_eq!(first.as_str().len(), 7 + 64);
    assert_eq!(digest(&inputs).unwrap(), first);
}

#[test]
fn identical_contexts_in_different_directories_give_the_same_digest() {
    let (_a, a) = context();
    let (_b, b) = context();
    assert_ne!(a.context, b.context);
    assert_eq!(digest(&a).unwrap(), digest(&b).unwrap());
}

#[test]
fn modification_times_do_not_change_the_digest() {
    let (dir, inputs) = context();
    let before = digest(&inputs).unwrap();
    let file = std::fs::File::options()
        .write(true)
        .open(dir.path().join("src/main.js"))
        .unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    assert_eq!(digest(&inputs).unwrap(), before);
}

#[test]
fn changed_file_changes_the_digest() {
    let (dir, inputs) = context();
    let before = digest(&inputs).unwrap();
    write(dir.path(), "src/main.js", "console.log('bye')\n");
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn executable_bit_changes_the_digest() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, inputs) = context();
    let before = digest(&inputs).unwrap();
    std::fs::set_permissions(
        dir.path().join("src/main.js"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn symlink_target_changes_the_digest() {
    let (dir, inputs) = context();
    std::os::unix::fs::symlink("main.js", dir.path().join("src/link")).unwrap();
    let with_link = digest(&inputs).unwrap();
    std::fs::remove_file(dir.path().join("src/link")).unwrap();
    std::os::unix::fs::symlink("other.js", dir.path().join("src/link")).unwrap();
    assert_ne!(digest(&inputs).unwrap(), with_link);
}

#[test]
fn changed_build_arg_changes_the_digest() {
    let (_dir, mut inputs) = context();
    let before = digest(&inputs).unwrap();
    inputs
        .build_args
        .insert("NODE_ENV".into(), "development".into());
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn changed_target_changes_the_digest() {
    let (_dir, mut inputs) = context();
    let before = digest(&inputs).unwrap();
    inputs.target = Some("runtime".into());
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn changed_platform_changes_the_digest() {
    let (_dir, mut inputs) = context();
    let before = digest(&inputs).unwrap();
    inputs.platform = "linux/arm64".parse().unwrap();
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn changed_base_image_changes_the_digest() {
    let (_dir, mut inputs) = context();
    let before = digest(&inputs).unwrap();
    inputs.base = Some("registry.example/base@sha256:0000".into());
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn changed_dockerfile_changes_the_digest() {
    let (dir, inputs) = context();
    let before = digest(&inputs).unwrap();
    write(
        dir.path(),
        "Dockerfile",
        "FROM scratch AS base\nCOPY src /app\n",
    );
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn added_ignored_file_does_not_change_the_digest() {
    let (dir, inputs) = context();
    let before = digest(&inputs).unwrap();
    write(dir.path(), "debug.log", "noise\n");
    write(dir.path(), "docs/new.md", "excluded with its directory\n");
    assert_eq!(digest(&inputs).unwrap(), before);
}

#[test]
fn file_kept_by_an_exception_changes_the_digest() {
    let (dir, inputs) = context();
    let before = digest(&inputs).unwrap();
    write(dir.path(), "docs/keep.md", "kept and changed\n");
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn removed_exception_changes_the_digest() {
    let (dir, inputs) = context();
    let before = digest(&inputs).unwrap();
    write(dir.path(), ".dockerignore", "*.log\ndocs\n");
    assert_ne!(digest(&inputs).unwrap(), before);
}

#[test]
fn missing_dockerfile_is_a_typed_error() {
    let (dir, mut inputs) = context();
    inputs.dockerfile = dir.path().join("Nope.Dockerfile");
    match digest(&inputs) {
        Err(InputsError::MissingDockerfile(path)) => assert_eq!(path, inputs.dockerfile),
        other => panic!("expected MissingDockerfile, got {other:?}"),
    }
}

#[test]
fn ten_thousand_file_context_is_hashed_in_parallel() {
    let (dir, inputs) = context();
    for d in 0..100 {
        for f in 0..100 {
            write(
                dir.path(),
                &format!("many/d{d:03}/f{f:03}.txt"),
                &format!("file {d} {f}\n"),
            );
        }
    }
    let start = Instant::now();
    let first = digest(&inputs).unwrap();
    let elapsed = start.elapsed();
    eprintln!("inputs digest of a 10,000-file context: {elapsed:?}");
    write(dir.path(), "many/d050/f050.txt", "changed\n");
    assert_ne!(digest(&inputs).unwrap(), first);
}

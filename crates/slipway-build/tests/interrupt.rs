//! Interrupting a build with real buildah: stopped in the middle of a step that is not a
//! `RUN` (where buildah does not clean up after itself), its working container removed,
//! and nothing starts afterwards. The only test of this file: an interruption holds for
//! the whole process.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use slipway_build::buildah::{BuildahError, BuildahOptions, build_image};
use slipway_build::builder::DockerfileBuild;
use slipway_build::git::{GitError, Repository};
use slipway_build::interrupt;
use slipway_build::platform::Platform;
use testkit::{GitRepo, HttpFiles};

/// The ids of the containers in buildah's storage under `root`.
fn containers(root: &Path) -> Vec<String> {
    let output = Command::new("buildah")
        .args(["--storage-driver", "vfs", "--root"])
        .arg(root)
        .arg("--runroot")
        .arg(root.join("run"))
        .args(["containers", "--quiet", "--notruncate"])
        .output()
        .expect("buildah is installed by scripts/test.sh");
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
fn interrupted_buildah_leaves_no_container_and_nothing_starts_afterwards() {
    let http = HttpFiles::start(&[("/data.txt", "data\n")]);
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY hello.txt /hello.txt\nADD {} /data.txt\n",
            http.url("/data.txt")
        ),
    )
    .unwrap();
    std::fs::write(context.path().join("hello.txt"), "hello\n").unwrap();
    let storage = tempfile::tempdir().unwrap();
    let root = storage.path().join("root");
    let options = BuildahOptions {
        storage_root: Some(root.clone()),
        ..BuildahOptions::default()
    };
    let build = DockerfileBuild {
        context: context.path().to_path_buf(),
        dockerfile: context.path().join("Dockerfile"),
        target: None,
        platform: Platform::linux_amd64(),
        build_args: BTreeMap::new(),
        labels: BTreeMap::new(),
        image: "localhost/interrupted:1".into(),
        no_cache: false,
    };
    let repo = GitRepo::init();
    repo.write("a.txt", "a\n");
    repo.commit("one");

    http.hold();
    let running = {
        let (build, options) = (build.clone(), options.clone());
        std::thread::spawn(move || {
            let mut output = Vec::new();
            let result = build_image(&build, &options, None, &mut |line| {
                output.push(line.to_owned());
            });
            (result, output)
        })
    };
    let under_way = http.wait_for_held(1, Duration::from_secs(300));
    let during = containers(&root);
    interrupt::request();
    let (result, output) = running.join().unwrap();
    http.release();
    assert!(under_way, "buildah never reached `ADD`: {output:?}");
    assert_eq!(during.len(), 1, "one working container while building");
    assert!(interrupt::requested());

    assert!(
        matches!(result, Err(BuildahError::Interrupted)),
        "{result:?} {output:?}"
    );
    assert_eq!(containers(&root), Vec::<String>::new(), "{output:?}");

    // Nothing starts any more: no buildah, no export.
    let mut lines = 0;
    let again = build_image(&build, &options, None, &mut |_| lines += 1);
    assert!(matches!(again, Err(BuildahError::Interrupted)), "{again:?}");
    assert_eq!(lines, 0, "buildah ran");
    let git = Repository::discover(repo.path()).unwrap();
    let head = git.head().unwrap();
    assert!(matches!(
        git.export(&head, None),
        Err(GitError::Interrupted)
    ));
}

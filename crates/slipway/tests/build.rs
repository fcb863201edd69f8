//! `slipway build` end to end: the real binary, real git repositories, a real
//! `docker-registry` on loopback, real buildah, checked with `skopeo`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use testkit::{GitRepo, HttpFiles, Registry, Snapshot, snapshot};

const DOCKERFILE: &str = "FROM scratch AS build\n\
COPY hello.txt /hello.txt\n\
\n\
FROM scratch AS runtime\n\
COPY --from=build /hello.txt /srv/hello.txt\n";

/// The default images: `web` (Dockerfile, buildah) from the working tree, `api`
/// (`files`, native) from `origin/backend-dev`, which is not checked out.
const IMAGES: &str = "\
images:
  web:
    context: web
    target: runtime
  api:
    git-ref: origin/backend-dev
    context: api
    files:
      copy: [{ src: bin/, dest: /app }]
      entrypoint: [/app/server]
";

const ENVIRONMENTS: &str = "\
environments:
  dev:
    cluster: sandbox
    namespace: shop-dev
  prod:
    context: aks-prod
    namespace: shop
    dirty: refuse
";

/// A clone whose `origin` has `main` (with `slipway.yaml` and `web/`) and
/// `backend-dev` (with `api/`, and without `web/Dockerfile`).
struct Project {
    _origin: GitRepo,
    clone: GitRepo,
    /// Private `TMPDIR` for slipway and buildah: must be empty afterwards.
    tmp: tempfile::TempDir,
    /// buildah's storage.
    storage: tempfile::TempDir,
}

fn project(registry: &str, head: &str, images: &str) -> Project {
    let origin = GitRepo::init();
    origin
        .write(
            "slipway.yaml",
            format!("app: shop\nregistry: {registry}/shop\n{head}{images}{ENVIRONMENTS}"),
        )
        .write("web/Dockerfile", DOCKERFILE)
        .write("web/hello.txt", "hello from main\n");
    origin.commit("main");
    origin.checkout_new("backend-dev");
    origin
        .write_executable("api/bin/server", "#!/bin/sh\necho api\n")
        .remove("web/Dockerfile");
    origin.commit("backend");
    origin.checkout("main");
    Project::clone_of(origin)
}

impl Project {
    /// A clone of `origin`, with its own buildah storage, Docker config and `TMPDIR`.
    fn clone_of(origin: GitRepo) -> Project {
        let clone = GitRepo::clone_of(&origin);
        let storage = tempfile::tempdir().unwrap();
        std::fs::write(
            storage.path().join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n",
                storage.path().display()
            ),
        )
        .unwrap();
        // An empty Docker config: no credentials unless `slipway.yaml` says where.
        std::fs::create_dir(storage.path().join("docker")).unwrap();
        std::fs::write(storage.path().join("docker/config.json"), "{}").unwrap();
        Project {
            _origin: origin,
            clone,
            tmp: tempfile::tempdir().unwrap(),
            storage,
        }
    }

    fn slipway(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("the slipway binary runs")
    }

    /// The slipway binary in the clone, with the project's private directories.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
        command
            .args(args)
            .current_dir(self.clone.path())
            .env("TMPDIR", self.tmp.path())
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.storage.path().join("storage.conf"),
            )
            .env("DOCKER_CONFIG", self.storage.path().join("docker"))
            .env_remove("SLIPWAY_REGISTRY_USERNAME")
            .env_remove("SLIPWAY_REGISTRY_PASSWORD")
            .env_remove("NO_COLOR");
        command
    }

    fn storage_conf(&self) -> PathBuf {
        self.storage.path().join("storage.conf")
    }

    /// The ids of the containers in the project's buildah storage.
    fn buildah_containers(&self) -> Vec<String> {
        let output = Command::new("buildah")
            .args([
                "--storage-driver",
                "vfs",
                "containers",
                "--quiet",
                "--notruncate",
            ])
            .env("CONTAINERS_STORAGE_CONF", self.storage_conf())
            .output()
            .expect("buildah is installed by scripts/test.sh");
        assert!(
            output.status.success(),
            "buildah containers: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    fn artifacts(&self) -> Value {
        let text = std::fs::read_to_string(self.clone.join(".slipway/artifacts.json"))
            .expect("artifacts.json was written");
        serde_json::from_str(&text).unwrap()
    }

    /// The repository without slipway's own `.slipway/` directory.
    fn snapshot(&self) -> Snapshot {
        let mut snap = snapshot(self.clone.path());
        snap.entries.retain(|path, _| !path.starts_with(".slipway"));
        snap
    }

    fn tmp_entries(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn skopeo_inspect(reference: &str, creds: Option<&str>) -> Value {
    let mut command = Command::new("skopeo");
    command.args(["inspect", "--tls-verify=false"]);
    if let Some(creds) = creds {
        command.args(["--creds", creds]);
    }
    let output = command
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo is installed by scripts/test.sh");
    assert!(
        output.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `^\d{8}-\d{6}-[0-9a-f]{7}$`
fn is_unique_tag(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('-').collect();
    matches!(parts.as_slice(), [date, time, sha]
        if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())
        && time.len() == 6 && time.bytes().all(|b| b.is_ascii_digit())
        && sha.len() == 7 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn image<'v>(artifacts: &'v Value, name: &str) -> &'v Value {
    artifacts["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {artifacts}"))
}

/// Nothing was uploaded and no manifest was written.
fn assert_nothing_pushed(registry: &Registry) {
    assert_eq!(registry.blob_upload_count(), 0, "{}", registry.access_log());
    assert!(
        !registry.access_log().contains("\"PUT /v2/"),
        "{}",
        registry.access_log()
    );
}

#[test]
fn images_from_two_branches_are_pushed_pinned_and_leave_the_repository_untouched() {
    let registry = Registry::start();
    let project = project(registry.host(), "", IMAGES);
    let before = project.snapshot();

    let out = project.slipway(&["build"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        out.stdout.is_empty(),
        "human output goes to stderr: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("web | "),
        "buildah output is prefixed: {stderr}"
    );

    let artifacts = project.artifacts();
    assert_eq!(artifacts["images"].as_array().unwrap().len(), 2);
    let backend = project.clone.git(&["rev-parse", "origin/backend-dev"]);
    for (name, commit) in [("web", project.clone.head()), ("api", backend)] {
        let entry = image(&artifacts, name);
        let tag = entry["tag"].as_str().unwrap();
        let digest = entry["digest"].as_str().unwrap();
        let repository = format!("{}/shop/{name}", registry.host());
        assert!(is_unique_tag(tag), "{tag}");
        assert_eq!(entry["repository"], repository.as_str());
        assert_eq!(
            entry["reference"],
            format!("{repository}:{tag}@{digest}").as_str()
        );
        assert_eq!(entry["git_commit"], commit.as_str());
        assert_eq!(entry["built"], true);
        assert!(
            stderr.contains(&format!("built  {repository}:{tag}@{digest}")),
            "{stderr}"
        );
        let inspect = skopeo_inspect(&format!("{repository}:{tag}"), None);
        assert_eq!(inspect["Digest"], digest);
        assert_eq!(
            inspect["Labels"]["org.opencontainers.image.revision"],
            commit.as_str()
        );
        assert_eq!(inspect["Labels"]["org.opencontainers.image.version"], tag);
        assert!(inspect["Labels"]["org.opencontainers.image.created"].is_string());
        assert!(inspect["Labels"]["org.opencontainers.image.source"].is_string());
    }
    assert_eq!(image(&artifacts, "api")["git_ref"], "origin/backend-dev");
    assert!(image(&artifacts, "web").get("git_ref").is_none());

    assert_eq!(project.snapshot(), before, "the repository changed");
    assert_eq!(
        project.clone.git(&["status", "--porcelain"]),
        "",
        "`.slipway/` is ignored"
    );
    assert_eq!(project.clone.git(&["worktree", "list"]).lines().count(), 1);
    assert_eq!(
        project.tmp_entries(),
        Vec::<PathBuf>::new(),
        "temporary files left"
    );
}

#[test]
fn second_build_with_nothing_changed_uploads_nothing() {
    let registry = Registry::start();
    let project = project(registry.host(), "", IMAGES);
    let first = project.slipway(&["build"], &[]);
    assert_eq!(code(&first), 0, "{}", text(&first));
    let first_artifacts = project.artifacts();
    let uploads = registry.blob_upload_count();
    assert!(uploads > 0);

    let second = project.slipway(&["build", "-o", "json"], &[]);
    assert_eq!(code(&second), 0, "{}", text(&second));
    assert_eq!(
        registry.blob_upload_count(),
        uploads,
        "blobs were uploaded again"
    );
    let printed: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(
        printed,
        project.artifacts(),
        "`-o json` prints artifacts.json"
    );
    for entry in printed["images"].as_array().unwrap() {
        assert_eq!(entry["built"], false, "{entry}");
        let name = entry["name"].as_str().unwrap();
        assert_eq!(
            entry["reference"],
            image(&first_artifacts, name)["reference"]
        );
    }
    assert!(String::from_utf8_lossy(&second.stderr).contains("skipped (inputs unchanged)"));

    // `--rebuild` builds again, under a new unique tag.
    let third = project.slipway(&["build", "api", "--rebuild"], &[]);
    assert_eq!(code(&third), 0, "{}", text(&third));
    assert_eq!(image(&project.artifacts(), "api")["built"], true);
    assert_eq!(
        image(&project.artifacts(), "web")["built"],
        false,
        "web kept from before"
    );
}

#[test]
fn build_from_a_dirty_tree_is_tagged_dirty_and_refused_where_the_environment_forbids_it() {
    let registry = Registry::start();
    let project = project(registry.host(), "", IMAGES);
    project
        .clone
        .write("web/hello.txt", "changed, not committed\n");

    let refused = project.slipway(&["build", "--env", "prod"], &[]);
    assert_eq!(code(&refused), 2, "{}", text(&refused));
    assert!(
        text(&refused).contains("uncommitted changes"),
        "{}",
        text(&refused)
    );
    assert_nothing_pushed(&registry);

    let out = project.slipway(&["build", "web"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("warning: the working tree has uncommitted changes"));
    let entry = image(&project.artifacts(), "web").clone();
    assert!(
        entry["tag"].as_str().unwrap().ends_with("-dirty"),
        "{entry}"
    );
    assert_eq!(entry["dirty"], true);
}

#[test]
fn no_push_keeps_native_images_as_oci_layouts_and_pushes_nothing() {
    let registry = Registry::start();
    let project = project(registry.host(), "", IMAGES);
    let out = project.slipway(&["build", "api", "--no-push"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_nothing_pushed(&registry);
    let entry = image(&project.artifacts(), "api").clone();
    assert_eq!(entry["pushed"], false);
    assert!(
        !entry["reference"].as_str().unwrap().contains('@'),
        "{entry}"
    );
    let index: Value = serde_json::from_slice(
        &std::fs::read(project.clone.join(".slipway/images/api/index.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(index["manifests"][0]["digest"], entry["digest"]);
}

/// Runs a build that must fail with `code` and push nothing; returns its output.
fn fails_with(code_expected: i32, registry: &Registry, project: &Project, needle: &str) -> String {
    let out = project.slipway(&["build"], &[]);
    let all = text(&out);
    assert_eq!(code(&out), code_expected, "{all}");
    assert!(all.contains(needle), "expected `{needle}` in {all}");
    assert!(!project.clone.join(".slipway/artifacts.json").exists());
    assert_nothing_pushed(registry);
    all
}

#[test]
fn missing_dockerfile_exits_2_and_pushes_nothing() {
    let registry = Registry::start();
    let images = format!("{IMAGES}  old-web:\n    git-ref: origin/backend-dev\n    context: web\n");
    let project = project(registry.host(), "", &images);
    let all = fails_with(2, &registry, &project, "Dockerfile");
    assert!(all.contains("images.old-web.dockerfile"), "{all}");
}

#[test]
fn missing_target_stage_exits_2_and_pushes_nothing() {
    let registry = Registry::start();
    let images = IMAGES.replace("target: runtime", "target: tests");
    let project = project(registry.host(), "", &images);
    let all = fails_with(2, &registry, &project, "target stage `tests`");
    assert!(
        all.contains("build, runtime"),
        "the stages are listed: {all}"
    );
}

#[test]
fn unknown_git_ref_exits_2_and_pushes_nothing() {
    let registry = Registry::start();
    let images = IMAGES.replace("origin/backend-dev", "origin/no-such-branch");
    let project = project(registry.host(), "", &images);
    let all = fails_with(
        2,
        &registry,
        &project,
        "unknown git ref `origin/no-such-branch`",
    );
    assert!(all.contains("images.api.git-ref"), "{all}");
}

#[test]
fn tag_template_producing_an_invalid_tag_exits_2_and_pushes_nothing() {
    let registry = Registry::start();
    let head = "tag: \"{git.sha}-{git.sha}-{git.sha}-{git.sha}\"\n";
    let project = project(registry.host(), head, IMAGES);
    fails_with(2, &registry, &project, "the limit is 128");
}

#[test]
fn unreachable_registry_exits_7_and_builds_nothing() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let registry = Registry::start();
    let project = project(&closed, "", IMAGES);
    let all = fails_with(7, &registry, &project, "unreachable");
    assert!(all.contains(&closed), "{all}");
    assert!(!all.contains("STEP 1"), "buildah ran: {all}");
}

#[test]
fn wrong_credentials_exit_7_and_the_password_is_never_printed() {
    let registry = Registry::start_with_auth("builder", "right-pass-0451");
    let head = format!(
        "registries:\n  {}:\n    credentials: env\n",
        registry.host()
    );
    let project = project(registry.host(), &head, IMAGES);
    let wrong = [
        ("SLIPWAY_REGISTRY_USERNAME", "builder"),
        ("SLIPWAY_REGISTRY_PASSWORD", "wrong-pass-9731"),
    ];
    let out = project.slipway(&["build"], &wrong);
    assert_eq!(code(&out), 7, "{}", text(&out));
    assert!(
        text(&out).contains("refused the credentials"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("wrong-pass-9731"));
    assert_nothing_pushed(&registry);

    let right = [
        ("SLIPWAY_REGISTRY_USERNAME", "builder"),
        ("SLIPWAY_REGISTRY_PASSWORD", "right-pass-0451"),
    ];
    let out = project.slipway(&["build", "-o", "json"], &right);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!text(&out).contains("right-pass-0451"));
    let artifacts = project.artifacts();
    for name in ["web", "api"] {
        let entry = image(&artifacts, name);
        let reference = format!(
            "{}:{}",
            entry["repository"].as_str().unwrap(),
            entry["tag"].as_str().unwrap()
        );
        let inspect = skopeo_inspect(&reference, Some("builder:right-pass-0451"));
        assert_eq!(inspect["Digest"], entry["digest"]);
    }
    assert_eq!(
        project.tmp_entries(),
        Vec::<PathBuf>::new(),
        "no authfile left behind"
    );
}

#[test]
fn docker_builder_without_a_daemon_is_named_with_its_image() {
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped: the docker CLI is not installed");
        return;
    }
    let registry = Registry::start();
    let images = IMAGES.replace(
        "    target: runtime\n",
        "    target: runtime\n    builder: docker\n",
    );
    let project = project(registry.host(), "", &images);
    let socket = project.tmp.path().join("no-daemon.sock");
    let host = format!("unix://{}", socket.display());
    let out = project.slipway(&["build"], &[("DOCKER_HOST", &host)]);
    let all = text(&out);
    assert_eq!(code(&out), 2, "{all}");
    assert!(all.contains("cannot reach the Docker daemon"), "{all}");
    assert!(all.contains("image `web`"), "{all}");
    assert!(!project.clone.join(".slipway/artifacts.json").exists());
    assert_nothing_pushed(&registry);
}

/// Processes whose environment names `needle` (a path private to one test): the
/// builders a `slipway build` of that test started.
fn processes_with_env(needle: &Path) -> Vec<String> {
    let needle = needle.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.windows(needle.len()).any(|w| w == needle) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

/// A Dockerfile whose `ADD` downloads from `url`: the build waits there while the
/// server holds the request.
fn dockerfile_adding(url: &str, file: &str) -> String {
    format!("FROM scratch\nCOPY hello.txt /hello.txt\nADD {url} /{file}\n")
}

#[test]
fn sigint_stops_a_build_of_two_branches_leaving_nothing_behind_and_a_rerun_pushes_both() {
    let registry = Registry::start();
    let http = HttpFiles::start(&[("/web.txt", "web data\n"), ("/api.txt", "api data\n")]);
    // `web` from the working tree (`main`), `api` from `backend-dev`, never checked out
    // in the clone; both built with buildah, both waiting on the server's answer.
    let origin = GitRepo::init();
    origin
        .write(
            "slipway.yaml",
            format!(
                "app: shop\nregistry: {}/shop\nimages:\n  web:\n    context: web\n  \
                 api:\n    git-ref: origin/backend-dev\n    context: api\n{ENVIRONMENTS}",
                registry.host()
            ),
        )
        .write(
            "web/Dockerfile",
            dockerfile_adding(&http.url("/web.txt"), "web.txt"),
        )
        .write("web/hello.txt", "hello from main\n");
    origin.commit("main");
    origin.checkout_new("backend-dev");
    origin
        .write(
            "api/Dockerfile",
            dockerfile_adding(&http.url("/api.txt"), "api.txt"),
        )
        .write("api/hello.txt", "hello from backend-dev\n");
    origin.commit("backend");
    origin.checkout("main");
    let project = Project::clone_of(origin);
    let head = project.clone.head();
    let branch = project.clone.git(&["branch", "--show-current"]);
    let before = project.snapshot();

    http.hold();
    let logs = tempfile::tempdir().unwrap();
    let stderr_path = logs.path().join("stderr");
    let mut child = project
        .command(&["build"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("the slipway binary runs");
    // Both images build at once where there are two cores (slipway builds one per core).
    let running = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(2);
    let under_way = http.wait_for_held(running, Duration::from_secs(300));
    let containers_during = project.buildah_containers();
    let tmp_during = project.tmp_entries();
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    http.release();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(under_way, "the builds never reached `ADD`: {stderr}");
    assert!(sent.success());
    assert!(
        !containers_during.is_empty(),
        "buildah had no working container when interrupted: {stderr}"
    );
    assert!(
        !tmp_during.is_empty(),
        "no export of `backend-dev` when interrupted: {stderr}"
    );

    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("failed"), "{stderr}");
    assert_eq!(
        project.tmp_entries(),
        Vec::<PathBuf>::new(),
        "temporary files left: {stderr}"
    );
    assert_eq!(
        project.buildah_containers(),
        Vec::<String>::new(),
        "buildah containers left: {stderr}"
    );
    assert_eq!(
        processes_with_env(&project.storage_conf()),
        Vec::<String>::new(),
        "builders still running"
    );
    assert_eq!(project.clone.git(&["worktree", "list"]).lines().count(), 1);
    assert_eq!(project.clone.git(&["status", "--porcelain"]), "");
    assert_eq!(project.clone.head(), head);
    assert_eq!(project.clone.git(&["branch", "--show-current"]), branch);
    assert_eq!(project.snapshot(), before, "the repository changed");

    // Running it again converges: both images are built and pushed.
    let out = project.slipway(&["build"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let artifacts = project.artifacts();
    let backend = project.clone.git(&["rev-parse", "origin/backend-dev"]);
    for (name, commit) in [("web", head.as_str()), ("api", backend.as_str())] {
        let entry = image(&artifacts, name);
        assert_eq!(entry["built"], true, "{entry}");
        assert_eq!(entry["git_commit"], commit);
        let reference = format!(
            "{}:{}",
            entry["repository"].as_str().unwrap(),
            entry["tag"].as_str().unwrap()
        );
        let inspect = skopeo_inspect(&reference, None);
        assert_eq!(inspect["Digest"], entry["digest"]);
        assert_eq!(
            inspect["Labels"]["org.opencontainers.image.revision"],
            commit
        );
    }
    assert_eq!(project.tmp_entries(), Vec::<PathBuf>::new());
    assert_eq!(project.buildah_containers(), Vec::<String>::new());
}

/// `api` is a `files` image of the working tree, with two extra tags.
const EXTRA_TAGS_IMAGES: &str = "\
extra-tags: [main, stable]
images:
  api:
    context: api
    files:
      copy: [{ src: bin/, dest: /app }]
      entrypoint: [/app/server]
";

#[test]
fn extra_tags_follow_a_skipped_image_built_from_another_commit() {
    let registry = Registry::start();
    let project = project(registry.host(), "", EXTRA_TAGS_IMAGES);
    let clone = &project.clone;
    let repository = format!("{}/shop/api", registry.host());
    let digest_of =
        |tag: &str| skopeo_inspect(&format!("{repository}:{tag}"), None)["Digest"].clone();
    let build = || {
        let out = project.slipway(&["build"], &[]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        image(&project.artifacts(), "api").clone()
    };

    clone.write_executable("api/bin/server", "#!/bin/sh\necho one\n");
    let first_commit = clone.commit("api one");
    let first = build();
    assert_eq!(first["built"], true);
    assert_eq!(digest_of("main"), first["digest"]);

    clone.write_executable("api/bin/server", "#!/bin/sh\necho two\n");
    clone.commit("api two");
    let second = build();
    assert_eq!(second["built"], true);
    assert_ne!(second["digest"], first["digest"]);
    assert_eq!(digest_of("main"), second["digest"]);
    assert_eq!(digest_of("stable"), second["digest"]);

    // Back to the first contents, in a new commit: the first image is reused, and its
    // extra tags move back to it.
    clone.write_executable("api/bin/server", "#!/bin/sh\necho one\n");
    let third_commit = clone.commit("api one again");
    assert_ne!(third_commit, first_commit);
    let uploads = registry.blob_upload_count();
    let third = build();
    assert_eq!(third["built"], false, "{third}");
    assert_eq!(third["digest"], first["digest"]);
    assert_eq!(digest_of("main"), first["digest"]);
    assert_eq!(digest_of("stable"), first["digest"]);
    assert_eq!(registry.blob_upload_count(), uploads, "blobs were uploaded");

    // Nothing changed: the tags already point there and are not written again.
    let puts = |log: &str| {
        log.lines()
            .filter(|l| l.contains("\"PUT /v2/") && l.contains("/manifests/"))
            .count()
    };
    let written = puts(&registry.access_log());
    let fourth = build();
    assert_eq!(fourth["built"], false);
    assert_eq!(
        puts(&registry.access_log()),
        written,
        "a manifest was pushed"
    );
    assert_eq!(digest_of("main"), first["digest"]);
}

#[test]
fn allowed_latest_release_tag_always_names_the_image_just_built_or_reused() {
    let registry = Registry::start();
    let images = EXTRA_TAGS_IMAGES.replace("extra-tags: [main, stable]\n", "");
    let project = project(
        registry.host(),
        "allow-latest: true\ntag: latest\n",
        &images,
    );
    let clone = &project.clone;
    let latest =
        || skopeo_inspect(&format!("{}/shop/api:latest", registry.host()), None)["Digest"].clone();
    let build = || {
        let out = project.slipway(&["build"], &[]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        let api = image(&project.artifacts(), "api").clone();
        assert_eq!(api["tag"], "latest", "{api}");
        api
    };

    clone.write_executable("api/bin/server", "#!/bin/sh\necho one\n");
    clone.commit("api one");
    let first = build();
    assert_eq!(latest(), first["digest"]);

    clone.write_executable("api/bin/server", "#!/bin/sh\necho two\n");
    clone.commit("api two");
    let second = build();
    assert_ne!(second["digest"], first["digest"]);
    assert_eq!(latest(), second["digest"]);

    // The first contents again: whether it is rebuilt or reused, `latest` moves back.
    clone.write_executable("api/bin/server", "#!/bin/sh\necho one\n");
    clone.commit("api one again");
    let third = build();
    assert_eq!(third["digest"], first["digest"], "{third}");
    assert_eq!(latest(), first["digest"]);
}

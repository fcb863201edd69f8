//! The images of a release, through the real binary: what `--image` accepts, what a
//! release records, tags resolved to digests, images no object runs, and `render`
//! showing what `deploy` applies. A sandbox served by `slipway sandbox serve` is the
//! cluster; a real `docker-registry` on loopback holds the images.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::sandbox::{self, Served};
use testkit::Registry;

/// A project `shop` in a git repository: images `api`, `web` and `debug` (a debug image
/// no manifest runs) pushed to `registry`; the Deployment `api` runs `image: api`, the
/// Deployment `web` names `web` by the tag `1.0`. `api` is built; `web:1.0` and
/// `api:hotfix` are copies of it.
struct Fixture {
    dir: tempfile::TempDir,
    served: Served,
    registry: Registry,
    /// The pinned reference of the build of `api`.
    api: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let served = Served::start(root, "one", &["--speed", "20"]);
        let registry = Registry::start();
        let host = registry.host().to_owned();
        let image = |name: &str| {
            format!(
                "  {name}:\n    files:\n      base: scratch\n      copy:\n        - {{ src: app.txt, dest: /app/app.txt }}\n"
            )
        };
        fs::write(
            root.join("slipway.yaml"),
            format!(
                "app: shop\nregistry: {host}/shop\nimages:\n{}{}{}manifests: k8s\nenvironments:\n  dev:\n    context: sandbox\n    kubeconfig: one.kubeconfig\n    namespaces: [shop, shop-b]\n    timeout: 2m\n",
                image("api"),
                image("web"),
                image("debug")
            ),
        )
        .unwrap();
        fs::write(root.join("app.txt"), "shop\n").unwrap();
        fs::create_dir(root.join("k8s")).unwrap();
        write_deployment(root, "api", "api");
        write_deployment(root, "web", &format!("{host}/shop/web:1.0"));
        fs::write(root.join(".gitignore"), ".slipway/\n*.log\n*.kubeconfig\n").unwrap();
        common::git(root, &["init", "-q", "-b", "main"]);
        common::git(root, &["add", "."]);
        common::git(root, &["commit", "-q", "-m", "shop"]);

        let out = sandbox::run(root, &["build", "api"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let artifacts: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(root.join(".slipway/artifacts.json")).unwrap(),
        )
        .unwrap();
        let api = artifacts["images"][0]["reference"]
            .as_str()
            .unwrap()
            .to_owned();
        let fixture = Fixture {
            dir,
            served,
            registry,
            api,
        };
        fixture.copy_api_to(&format!("{host}/shop/web:1.0"));
        fixture.copy_api_to(&format!("{host}/shop/api:hotfix"));
        fixture
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self) -> &str {
        self.registry.host()
    }

    /// The digest of the build of `api`.
    fn digest(&self) -> &str {
        self.api.split_once('@').unwrap().1
    }

    fn copy_api_to(&self, to: &str) {
        let repository = self
            .api
            .split_once('@')
            .unwrap()
            .0
            .rsplit_once(':')
            .unwrap()
            .0;
        let out = Command::new("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                &format!("docker://{repository}@{}", self.digest()),
                &format!("docker://{to}"),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn run(&self, args: &[&str]) -> Output {
        sandbox::run(self.root(), args)
    }

    /// The image the Deployment `name` runs in `namespace`, or `None` when it does not
    /// exist.
    fn running(&self, namespace: &str, name: &str) -> Option<String> {
        let out = sandbox::kubectl_get(
            &self.served.kubeconfig,
            namespace,
            &["deployment", name],
            "{.spec.template.spec.containers[0].image}",
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Nothing of the app is on the cluster.
    fn assert_nothing_deployed(&self) {
        for ns in ["shop", "shop-b"] {
            for name in ["api", "web"] {
                assert_eq!(self.running(ns, name), None, "{ns}/{name}");
            }
        }
    }

    /// The images the newest release of `namespace` records, as `name=reference`.
    fn recorded(&self, namespace: &str) -> Vec<String> {
        let out = self.run(&["history", "dev", "-o", "json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ns = doc["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["namespace"] == namespace)
            .unwrap();
        ns["releases"][0]["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}={}",
                    i["name"].as_str().unwrap(),
                    i["reference"].as_str().unwrap()
                )
            })
            .collect()
    }
}

fn write_deployment(root: &Path, name: &str, image: &str) {
    fs::write(
        root.join(format!("k8s/{name}.yaml")),
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{ app: {name} }}
  template:
    metadata:
      labels: {{ app: {name} }}
      annotations: {{ dev.slipway.sandbox/behavior: ready }}
    spec:
      securityContext: {{ runAsNonRoot: true, runAsUser: 65532 }}
      containers:
        - name: {name}
          image: {image}
          resources:
            requests: {{ cpu: 10m, memory: 16Mi }}
            limits: {{ memory: 64Mi }}
          ports:
            - {{ name: http, containerPort: 8080 }}
          readinessProbe:
            tcpSocket: {{ port: http }}
            periodSeconds: 1
"
        ),
    )
    .unwrap();
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Standard error with the lines a terminal would wrap joined again.
fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_image_override_must_be_a_reference_its_registry_holds() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new();
    let host = f.host().to_owned();
    let web = format!("web={host}/shop/web:1.0");

    // Not a reference at all.
    let out = f.run(&[
        "deploy",
        "dev",
        "--image",
        "api=Not A Ref!",
        "--image",
        &web,
    ]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("`--image api=Not A Ref!`: `Not A Ref!` is not a valid image reference"),
        "{err}"
    );
    assert!(
        err.contains("[HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST]"),
        "{err}"
    );
    f.assert_nothing_deployed();

    // A tag the registry does not have, and a digest it does not have.
    let zero = format!("sha256:{}", "0".repeat(64));
    for reference in [
        format!("{host}/shop/api:nope"),
        format!("{host}/shop/api:1@{zero}"),
    ] {
        let flag = format!("api={reference}");
        let out = f.run(&["deploy", "dev", "--image", &flag, "--image", &web]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{reference}: {err}");
        assert!(
            err.contains(&format!(
                "`--image {flag}`: the registry has no image `{reference}`; nothing was written to a cluster"
            )),
            "{err}"
        );
        f.assert_nothing_deployed();
    }

    // A tag it has: resolved to the digest it names, deployed and recorded so.
    let out = f.run(&[
        "deploy",
        "dev",
        "--image",
        &format!("api={host}/shop/api:hotfix"),
        "--image",
        &web,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let hotfix = format!("{host}/shop/api:hotfix@{}", f.digest());
    for ns in ["shop", "shop-b"] {
        assert_eq!(f.running(ns, "api").as_deref(), Some(hotfix.as_str()));
        assert!(
            f.recorded(ns).contains(&format!("api={hotfix}")),
            "{:?}",
            f.recorded(ns)
        );
    }
}

#[test]
fn an_image_override_no_object_runs_is_refused_and_a_release_records_only_what_runs() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new();
    let host = f.host().to_owned();
    // `debug` has a build too, but no manifest runs it.
    let out = f.run(&["build", "debug"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let flag = format!("debug={host}/shop/api:hotfix");
    let out = f.run(&["deploy", "dev", "--image", &flag]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains(&format!(
            "`--image {flag}`: no object of `dev` in `shop` runs image `debug`, so the release would record an image the cluster does not run; nothing was written to a cluster"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "hint: a container runs image `debug` when its `image:` is `debug` or `{host}/shop/debug`, with any tag or digest; the containers of this release run `api`, `{host}/shop/web:1.0`"
        )),
        "{err}"
    );
    f.assert_nothing_deployed();

    let web = format!("{host}/shop/web:1.0@{}", f.digest());
    let out = f.run(&["deploy", "dev", "--image", &format!("web={web}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for ns in ["shop", "shop-b"] {
        assert_eq!(
            f.recorded(ns),
            [format!("api={}", f.api), format!("web={web}")],
            "the release records what its objects run, and nothing else"
        );
    }
}

#[test]
fn a_tag_a_manifest_names_is_pinned_at_deploy_and_validate_and_diff_say_the_same() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new();
    let host = f.host().to_owned();
    // `web` has no build and the manifest names it by tag; `debug` has no build and no
    // manifest runs it.
    let out = f.run(&["validate", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("debug"), "{}", stderr(&out));
    let out = f.run(&["diff", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("debug"), "{}", stderr(&out));
    let out = f.run(&["deploy", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let web = format!("{host}/shop/web:1.0@{}", f.digest());
    for ns in ["shop", "shop-b"] {
        assert_eq!(f.running(ns, "web").as_deref(), Some(web.as_str()));
        assert_eq!(
            f.recorded(ns),
            [format!("api={}", f.api), format!("web={web}")]
        );
    }

    // A tag the registry does not have: both refuse it, in the same words, once.
    write_deployment(f.root(), "web", &format!("{host}/shop/web:2.0"));
    let expected = format!(
        "image `web` (`{host}/shop/web:2.0` in Deployment/web container `web`): the registry has no image `{host}/shop/web:2.0`; nothing was written to a cluster"
    );
    for command in ["validate", "diff"] {
        let out = f.run(&[command, "dev"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{command}: {err}");
        assert_eq!(err.matches(&expected).count(), 1, "{command}: {err}");
    }
    assert_eq!(f.running("shop", "web").as_deref(), Some(web.as_str()));
}

#[test]
fn a_first_only_deploy_says_which_images_it_needs() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new();
    // `web` has no build, and its manifest names no tag.
    write_deployment(f.root(), "web", "web");
    let out = f.run(&["deploy", "dev", "--only", "api"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains(
            "no image to deploy for `web` (run by Deployment/web container `web`) in `shop`: it has no build, there is no release yet, and the manifest does not name its repository with a tag or digest; nothing was written to a cluster"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "hint: `--only` keeps the other images as the current release runs them, but `shop` has no release yet: its first deploy needs an image for every image its objects run"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: build it with `slipway build web` (or `deploy --build`), pass `--image web=REF`, or name a tag or digest in the manifest"),
        "{err}"
    );
    assert!(!err.contains("debug"), "{err}");
    f.assert_nothing_deployed();
}

/// The image of the Deployment `name` in a `render` output.
fn rendered_image(yaml: &str, name: &str) -> String {
    let doc = yaml
        .split("---\n")
        .find(|d| d.contains("kind: Deployment") && d.contains(&format!("\n  name: {name}\n")))
        .unwrap_or_else(|| panic!("no Deployment {name} in:\n{yaml}"));
    let line = doc
        .lines()
        .map(|l| l.trim_start().trim_start_matches("- "))
        .find(|l| l.starts_with("image: "))
        .unwrap_or_else(|| panic!("no image in:\n{doc}"));
    line["image: ".len()..].trim().to_owned()
}

#[test]
fn render_shows_what_deploy_applies() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let f = Fixture::new();
    let host = f.host().to_owned();
    let hotfix = format!("api={host}/shop/api:hotfix");
    let pinned_hotfix = format!("{host}/shop/api:hotfix@{}", f.digest());

    // `--image` renders what `deploy --image` would apply.
    let out = f.run(&["render", "dev", "--image", &hotfix]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let before = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(rendered_image(&before, "api"), pinned_hotfix);
    let out = f.run(&["deploy", "dev", "--image", &hotfix]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        f.running("shop", "api").as_deref(),
        Some(pinned_hotfix.as_str())
    );

    // Without `--current`, the last build; with it, the choice `deploy` makes now: the
    // hotfix is kept until a newer build.
    let out = f.run(&["render", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        rendered_image(&String::from_utf8_lossy(&out.stdout), "api"),
        f.api
    );
    let out = f.run(&["render", "dev", "--current"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let current = String::from_utf8_lossy(&out.stdout).into_owned();
    for name in ["api", "web"] {
        assert_eq!(
            Some(rendered_image(&current, name)),
            f.running("shop", name),
            "{name}"
        );
    }
    let out = f.run(&["deploy", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        f.running("shop", "api").as_deref(),
        Some(pinned_hotfix.as_str())
    );
}

/// A project of one Deployment and one generated Secret holding `hunter2`, environment
/// `dev` (never contacted: `render` without `--current` reads no cluster).
fn secret_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("slipway.yaml"),
        "app: shop\nregistry: registry.example.com/shop\nimages:\n  api:\n    files:\n      base: scratch\n      copy: []\nmanifests: k8s\nsecrets:\n  db:\n    env-file: db.env\nenvironments:\n  dev:\n    context: nowhere\n    namespace: shop\n",
    )
    .unwrap();
    fs::write(root.join("db.env"), "PASSWORD=hunter2\n").unwrap();
    fs::create_dir(root.join("k8s")).unwrap();
    write_deployment(
        root,
        "api",
        "registry.example.com/shop/api:1@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    );
    dir
}

#[test]
fn render_shows_secret_values_only_as_a_hash_keyed_by_the_project() {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;
    let one = secret_project();
    let other = secret_project();
    let render = |dir: &Path| {
        let out = sandbox::run(dir, &["render", "dev"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = render(one.path());
    let shown = |yaml: &str| {
        let line = yaml
            .lines()
            .find(|l| l.trim_start().starts_with("PASSWORD: "))
            .unwrap_or_else(|| panic!("no PASSWORD in:\n{yaml}"));
        line.trim_start()["PASSWORD: ".len()..].trim().to_owned()
    };
    // Neither the value nor an unkeyed hash of it, which anyone could compare with the
    // hash of a guess.
    assert!(
        !first.contains("hunter2") && !first.contains("aHVudGVyMg"),
        "{first}"
    );
    for encoded in ["\"aHVudGVyMg==\"", "aHVudGVyMg==", "hunter2"] {
        let unkeyed: String = Sha256::digest(encoded.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!first.contains(&unkeyed), "{first}");
    }
    assert!(shown(&first).starts_with("<redacted hmac:"), "{first}");
    // The key stays with the project, readable by its owner only; renders made with it
    // agree, so a changed value still shows; another project's key shows another hash.
    let key = one.path().join(".slipway/render-key");
    let mode = fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(render(one.path()), first);
    assert_ne!(shown(&render(other.path())), shown(&first));
    fs::write(one.path().join("db.env"), "PASSWORD=hunter3\n").unwrap();
    assert_ne!(shown(&render(one.path())), shown(&first));
    // A key others may read is refused.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let out = sandbox::run(one.path(), &["render", "dev"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("may be read by others (mode 644)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_namespace_field_that_is_not_a_name_is_reported_at_its_line() {
    let dir = secret_project();
    let root = dir.path();
    write_deployment(
        root,
        "api",
        "registry.example.com/shop/api:1@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    );
    let manifest = root.join("k8s/api.yaml");
    let text = fs::read_to_string(&manifest).unwrap();
    for (value, what) in [("123", "a number"), ("[a, b]", "a list")] {
        fs::write(
            &manifest,
            text.replace(
                "  name: api\n",
                &format!("  name: api\n  namespace: {value}\n"),
            ),
        )
        .unwrap();
        for command in ["render", "validate"] {
            let out = sandbox::run(root, &[command, "dev"]);
            let err = stderr(&out);
            assert_eq!(code(&out), 2, "{command}: {err}");
            assert!(
                err.contains(&format!(
                    "k8s/api.yaml:5: `metadata.namespace`: Deployment/api has {what} here, not a namespace name"
                )),
                "{command}: {err}"
            );
            assert!(out.stdout.is_empty(), "{command}");
        }
    }
}

#[test]
fn an_unknown_rule_id_is_reported_at_its_line_and_column() {
    let dir = secret_project();
    let root = dir.path();
    let config = root.join("slipway.yaml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "    namespace: shop\n",
            "    namespace: shop\n    rules:\n      image-pinned: warning\n      readyness-probe: off\n",
        ),
    )
    .unwrap();
    let out = sandbox::run(root, &["validate", "dev"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    // Line 18, column 7: the key `readyness-probe`.
    assert!(
        err.contains(
            "slipway.yaml:18:7: `rules.readyness-probe` (in `defaults` or `environments.dev`)"
        ),
        "{err}"
    );
}

#[test]
fn an_unset_from_env_variable_is_reported_at_its_line() {
    let dir = secret_project();
    let root = dir.path();
    let config = root.join("slipway.yaml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "    env-file: db.env\n",
            "    env-file: db.env\n    from-env:\n      - SLIPWAY_TEST_SET\n      - SLIPWAY_TEST_NEVER_SET\n",
        ),
    )
    .unwrap();
    let out = sandbox::command(root, &["render", "dev"])
        .env("SLIPWAY_TEST_SET", "x")
        .env_remove("SLIPWAY_TEST_NEVER_SET")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("slipway.yaml:14: `secrets.db.from-env`: the environment variable `SLIPWAY_TEST_NEVER_SET` is not set"),
        "{err}"
    );
}

#[test]
fn a_kustomization_names_every_refused_feature_at_once() {
    let dir = secret_project();
    let root = dir.path();
    fs::write(
        root.join("k8s/kustomization.yaml"),
        "resources:\n  - api.yaml\nhelmCharts:\n  - name: redis\nhelmGlobals:\n  chartHome: charts\nvalidators:\n  - validator.yaml\n",
    )
    .unwrap();
    for command in ["render", "validate"] {
        let out = sandbox::run(root, &[command, "dev"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{command}: {err}");
        for (line, field) in [(3, "helmCharts"), (5, "helmGlobals"), (7, "validators")] {
            assert!(
                err.contains(&format!("k8s/kustomization.yaml:{line}: `{field}`")),
                "{command}: {field}: {err}"
            );
        }
        assert!(
            err.contains(
                "are not supported by the native kustomize renderer; set `kustomize: kubectl`"
            ),
            "{err}"
        );
    }
}

#[test]
fn a_finding_of_several_namespaces_is_said_once_naming_them() {
    let dir = secret_project();
    let root = dir.path();
    let config = root.join("slipway.yaml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "    namespace: shop\n",
            "    namespaces: [shop, shop-b, shop-c]\n",
        ),
    )
    .unwrap();
    let manifest = root.join("k8s/api.yaml");
    let text = fs::read_to_string(&manifest).unwrap();
    let without_probe = text.split("          readinessProbe:").next().unwrap();
    fs::write(&manifest, without_probe).unwrap();
    let out = sandbox::run(root, &["validate", "dev"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert_eq!(err.matches("warning[readiness-probe]").count(), 1, "{err}");
    assert!(
        err.contains("  in namespaces `shop`, `shop-b`, `shop-c`"),
        "{err}"
    );
    for ns in ["shop", "shop-b", "shop-c"] {
        assert!(
            err.contains(&format!("namespace `{ns}`: 0 error(s), 1 warning(s)")),
            "{err}"
        );
    }
}

#[test]
fn an_image_named_like_a_declared_one_from_elsewhere_gets_a_readable_hint() {
    let dir = secret_project();
    let root = dir.path();
    write_deployment(root, "api", "other.example.com/team/api:1.2");
    for command in ["render", "validate"] {
        let out = sandbox::run(root, &[command, "dev"]);
        let err = stderr(&out);
        assert!(
            err.contains(
                "warning: Deployment/api container `api` runs `other.example.com/team/api:1.2`, which is named like image `api` of `slipway.yaml` but is not its repository `registry.example.com/shop/api`: slipway leaves it as written (not pinned, not recorded); write `image: api` or `registry.example.com/shop/api[:TAG]` in the manifest to run that image"
            ),
            "{command}: {err}"
        );
        assert_eq!(
            err.matches("is named like image").count(),
            1,
            "{command}: {err}"
        );
    }
}

#[test]
fn two_tags_of_one_image_in_the_manifests_are_refused_not_pinned_to_one() {
    let dir = secret_project();
    let root = dir.path();
    write_deployment(root, "api", "registry.example.com/shop/api:1.0");
    write_deployment(root, "worker", "registry.example.com/shop/api:2.0");
    for command in ["render", "validate"] {
        let out = sandbox::run(root, &[command, "dev"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{command}: {err}");
        assert!(
            err.contains("image `api` is `registry.example.com/shop/api:1.0` in Deployment/api container `api` but `registry.example.com/shop/api:2.0` in Deployment/worker container `worker`: a release runs one reference per image"),
            "{command}: {err}"
        );
        assert!(out.stdout.is_empty(), "{command}");
    }
}

#[test]
fn generated_secret_names_are_keyed_by_the_cluster_so_a_guess_cannot_be_checked() {
    use sha2::{Digest, Sha256};
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = secret_project();
    let root = dir.path();
    let served = Served::start(root, "one", &["--speed", "20"]);
    let config = root.join("slipway.yaml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "    context: nowhere\n",
            "    context: sandbox\n    kubeconfig: one.kubeconfig\n    timeout: 2m\n",
        ),
    )
    .unwrap();
    let secret_names = || {
        let out = sandbox::kubectl_get(
            &served.kubeconfig,
            "shop",
            &["secrets"],
            "{.items[*].metadata.name}",
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|n| n.starts_with("db-"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let out = sandbox::run(root, &["deploy", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names = secret_names();
    assert_eq!(names.len(), 1, "{names:?}");
    // What the name would be with an unkeyed hash of the content: anyone could compute
    // it for a guessed password and compare.
    let content = r#"["Secret","Opaque",{"PASSWORD":"aHVudGVyMg=="},null]"#;
    let unkeyed: String = Sha256::digest(content.as_bytes())
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_ne!(names[0], format!("db-{unkeyed}"));
    assert!(
        !sandbox::kubectl_get(
            &served.kubeconfig,
            "shop",
            &["secret", "shop-slipway-key"],
            "{.data.key}"
        )
        .stdout
        .is_empty(),
        "the namespace keeps the key"
    );
    // The key stays: the same content keeps its name, and `render --current` shows it.
    let out = sandbox::run(root, &["deploy", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(secret_names(), names);
    let out = sandbox::run(root, &["render", "dev", "--current"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("name: {}\n", names[0])),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

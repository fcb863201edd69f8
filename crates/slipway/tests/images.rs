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

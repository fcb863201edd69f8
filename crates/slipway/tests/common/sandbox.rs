//! What the tests of the binary against a sandbox share: running slipway without
//! colours, a sandbox served by `slipway sandbox serve`, `kubectl` against a kubeconfig,
//! and a small project of one image and one Deployment.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The slipway binary with `args`, run in `dir` as `tester@ci` without colours.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .current_dir(dir)
        .env("SLIPWAY_USER", "tester@ci")
        .env("NO_COLOR", "1")
        // The same output wherever the tests run, a CI runner included.
        .env("SLIPWAY_CI", "none");
    command
}

/// Runs the slipway binary with `args` in `dir` (see [`command`]).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir, args)
        .output()
        .expect("the slipway binary runs")
}

/// `kubectl --kubeconfig <kubeconfig> <args>`.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs")
}

/// `kubectl -n <namespace> get <what>` with a JSONPath.
pub fn kubectl_get(kubeconfig: &Path, namespace: &str, what: &[&str], jsonpath: &str) -> Output {
    let jsonpath = format!("-o=jsonpath={jsonpath}");
    let mut args = vec!["-n", namespace, "get"];
    args.extend_from_slice(what);
    args.push(&jsonpath);
    kubectl(kubeconfig, &args)
}

/// A sandbox served by `slipway sandbox serve`, its kubeconfig at `<dir>/<name>.kubeconfig`
/// and its log at `<dir>/<name>.log`; stopped (SIGTERM) when dropped.
pub struct Served {
    child: Child,
    pub kubeconfig: PathBuf,
    /// The API server's address, as the kubeconfig names it.
    pub server: String,
}

impl Served {
    /// Starts `slipway sandbox serve --listen 127.0.0.1:0` with `args` and waits until
    /// it serves.
    pub fn start(dir: &Path, name: &str, args: &[&str]) -> Served {
        let kubeconfig = dir.join(format!("{name}.kubeconfig"));
        let child = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0"])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .expect("the sandbox starts");
        // The kubeconfig is written once the sandbox serves.
        let deadline = Instant::now() + Duration::from_secs(60);
        let server = loop {
            if let Ok(text) = fs::read_to_string(&kubeconfig)
                && let Some(line) = text.lines().find(|l| l.trim_start().starts_with("server:"))
            {
                break line.trim_start()["server:".len()..].trim().to_string();
            }
            assert!(Instant::now() < deadline, "sandbox {name} did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Served {
            child,
            kubeconfig,
            server,
        }
    }

    /// `kubectl <args>` against this sandbox; panics unless kubectl succeeds.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = kubectl(&self.kubeconfig, args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Writes the project `shop` in `root`: one image `api` built from `app.txt`, its
/// configuration `shop-config` from `app.env`, manifests in `k8s` with the Deployment of
/// [`write_deployment`], and `environments` (the lines under `environments:`).
pub fn write_project(root: &Path, environments: &str, behavior: &str) {
    fs::write(
        root.join("slipway.yaml"),
        format!(
            "app: shop\n\
             images:\n\
             \x20 api:\n\
             \x20   repository: registry.example.com/shop/api\n\
             \x20   files:\n\
             \x20     base: scratch\n\
             \x20     copy:\n\
             \x20       - {{ src: app.txt, dest: /app/app.txt }}\n\
             manifests: k8s\n\
             config:\n\
             \x20 shop-config:\n\
             \x20   env-file: app.env\n\
             environments:\n\
             {environments}"
        ),
    )
    .unwrap();
    fs::write(root.join("app.txt"), "shop\n").unwrap();
    fs::write(root.join("app.env"), "GREETING=hello\n").unwrap();
    fs::create_dir(root.join("k8s")).unwrap();
    write_deployment(root, behavior);
}

/// Writes `k8s/api.yaml`: the Deployment `api` of two replicas that never takes one down
/// during an update, whose pods behave as `behavior` says (`slow-start=8s`: ready eight
/// seconds after they start).
pub fn write_deployment(root: &Path, behavior: &str) {
    fs::write(
        root.join("k8s/api.yaml"),
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {{ app: api }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{ maxUnavailable: 0, maxSurge: 1 }}
  template:
    metadata:
      labels: {{ app: api }}
      annotations: {{ dev.slipway.sandbox/behavior: \"{behavior}\" }}
    spec:
      securityContext: {{ runAsNonRoot: true, runAsUser: 65532 }}
      containers:
        - name: api
          image: api
          envFrom:
            - configMapRef: {{ name: shop-config }}
          resources:
            requests: {{ cpu: 50m, memory: 64Mi }}
            limits: {{ memory: 128Mi }}
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

/// A pinned reference of the never-built `api` image (the sandbox takes images of
/// registries it does not check as present).
pub fn image(n: u32) -> String {
    format!("registry.example.com/shop/api:{n}@sha256:{n:064x}")
}

/// A project `shop` ([`write_project`]) whose `dev` environment is the project's sandbox in
/// namespace `shop-dev`, with `lines` more under `dev:` (each indented by four spaces and
/// ending in a newline); the sandbox is stopped when the test ends.
pub struct DevProject {
    pub sandbox: super::Project,
}

impl DevProject {
    pub fn new(lines: &str) -> DevProject {
        let dir = tempfile::tempdir().unwrap();
        write_project(
            dir.path(),
            &format!(
                "\x20 dev:\n\
                 \x20   cluster: sandbox\n\
                 \x20   namespace: shop-dev\n\
                 {lines}"
            ),
            "ready",
        );
        DevProject {
            sandbox: super::Project { dir },
        }
    }

    pub fn path(&self) -> &Path {
        self.sandbox.path()
    }

    pub fn kubeconfig(&self) -> std::path::PathBuf {
        self.sandbox.kubeconfig()
    }

    /// Rewrites the Deployment so that its new pods behave as `behavior` says
    /// (`slow-start=8s`: ready eight seconds after they start).
    pub fn set_behavior(&self, behavior: &str) {
        write_deployment(self.path(), behavior);
    }

    pub fn command(&self, args: &[&str]) -> Command {
        command(self.path(), args)
    }

    pub fn slipway(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("the slipway binary runs")
    }

    /// `kubectl -n shop-dev get …` with a JSONPath, which must succeed.
    pub fn kubectl_get(&self, what: &[&str], jsonpath: &str) -> String {
        let out = kubectl_get(&self.kubeconfig(), "shop-dev", what, jsonpath);
        assert!(
            out.status.success(),
            "kubectl get {what:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

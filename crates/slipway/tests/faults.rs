//! Deploys against a misbehaving cluster: `slipway sandbox serve` answers 5% of the API
//! requests with an injected 500, 503 or 429 and closes every watch after two seconds.
//! Twenty deploys in a row, each with a new image and new configuration: every one
//! either succeeds and the cluster — read with the real `kubectl` — runs exactly what it
//! deployed, or fails with an `error:` message and a non-zero exit code. A deploy never
//! reports success over a wrong state.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Exit codes a failed deploy may end with here (`src/exit.rs`): rolled back, failed
/// without rollback, lock held, cluster unreachable or refusing.
const ROLLED_BACK: i32 = 4;
const FAILURE_CODES: &[i32] = &[ROLLED_BACK, 5, 6, 7];

const DEPLOYS: u32 = 20;

/// A project whose `dev` environment is a sandbox served by `slipway sandbox serve` with
/// fault injection, reached by kubeconfig context. The server is stopped at the end.
struct Faulty {
    dir: tempfile::TempDir,
    server: Child,
}

impl Faulty {
    fn start() -> Faulty {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let kubeconfig = root.join("sandbox.kubeconfig");
        let server = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args([
                "sandbox",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--kubeconfig",
            ])
            .arg(&kubeconfig)
            .args([
                "--speed",
                "10",
                "--fault-rate",
                "0.05",
                "--watch-drop-after",
                "2s",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(root.join("serve.log")).unwrap())
            .spawn()
            .expect("the slipway binary starts");
        let project = Faulty { dir, server };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !kubeconfig.exists() {
            assert!(Instant::now() < deadline, "the sandbox did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        fs::write(
            root.join("slipway.yaml"),
            "app: shop\n\
             images:\n\
             \x20 api:\n\
             \x20   repository: registry.example.com/shop/api\n\
             \x20   files:\n\
             \x20     base: scratch\n\
             \x20     copy:\n\
             \x20       - { src: app.txt, dest: /app/app.txt }\n\
             manifests: k8s\n\
             config:\n\
             \x20 shop-config:\n\
             \x20   env-file: app.env\n\
             environments:\n\
             \x20 dev:\n\
             \x20   context: sandbox\n\
             \x20   kubeconfig: sandbox.kubeconfig\n\
             \x20   namespace: shop-dev\n\
             \x20   timeout: 60s\n",
        )
        .unwrap();
        fs::write(root.join("app.txt"), "shop\n").unwrap();
        fs::create_dir(root.join("k8s")).unwrap();
        fs::write(
            root.join("k8s/api.yaml"),
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: { app: api }
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 }
  template:
    metadata:
      labels: { app: api }
      annotations: { dev.slipway.sandbox/behavior: ready }
    spec:
      securityContext: { runAsNonRoot: true, runAsUser: 65532 }
      containers:
        - name: api
          image: api
          envFrom:
            - configMapRef: { name: shop-config }
          resources:
            requests: { cpu: 50m, memory: 64Mi }
            limits: { memory: 128Mi }
          ports:
            - { name: http, containerPort: 8080 }
          readinessProbe:
            tcpSocket: { port: http }
            periodSeconds: 1
",
        )
        .unwrap();
        project
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn kubeconfig(&self) -> PathBuf {
        self.path().join("sandbox.kubeconfig")
    }

    fn deploy(&self, n: u32) -> Output {
        Command::new(env!("CARGO_BIN_EXE_slipway"))
            // A deploy whose lease could not be released (a fault on the release)
            // holds the lock until the lease expires: the next one waits for that.
            .args([
                "deploy",
                "dev",
                "--wait-lock",
                "45s",
                "--image",
                &format!("api={}", image(n)),
            ])
            .current_dir(self.path())
            .env("SLIPWAY_USER", "tester@ci")
            .env("NO_COLOR", "1")
            .output()
            .expect("the slipway binary runs")
    }

    /// `kubectl -n shop-dev get …` with a JSONPath. kubectl meets the injected faults
    /// too: a failed read is asked again.
    fn kubectl_get(&self, what: &[&str], jsonpath: &str) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            let out = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(self.kubeconfig())
                .args(["-n", "shop-dev", "get"])
                .args(what)
                .arg(format!("-o=jsonpath={jsonpath}"))
                .output()
                .expect("kubectl runs");
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                last.contains("injected fault") || last.contains("try again later"),
                "kubectl get {what:?}: {last}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("kubectl get {what:?} kept failing: {last}");
    }

    /// The image recorded for `revision`, from `slipway history dev -o json` (asked
    /// again when a fault answers).
    fn recorded_image(&self, revision: u64) -> String {
        for _ in 0..20 {
            let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
                .args(["history", "dev", "-o", "json"])
                .current_dir(self.path())
                .output()
                .expect("the slipway binary runs");
            if !out.status.success() {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let release = doc["namespaces"][0]["releases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["revision"] == revision)
                .unwrap_or_else(|| panic!("revision {revision} is not recorded: {doc}"))
                .clone();
            return release["images"][0]["reference"]
                .as_str()
                .unwrap()
                .to_string();
        }
        panic!("`slipway history dev` kept failing");
    }

    /// What the cluster runs: the Deployment's image and the `VERSION` of the ConfigMap
    /// it reads, once every replica is ready on the current template; `None` while a
    /// rollout is unfinished.
    fn running(&self) -> Option<(String, String)> {
        let get = |path: &str| self.kubectl_get(&["deployment", "api"], path);
        let state = get(
            "{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].envFrom[0].configMapRef.name} \
             {.metadata.generation} {.status.observedGeneration} \
             {.status.replicas} {.status.updatedReplicas} {.status.readyReplicas} {.status.availableReplicas}",
        );
        let fields: Vec<&str> = state.split_whitespace().collect();
        let [image, config, generation, observed, replicas @ ..] = fields.as_slice() else {
            panic!("unexpected deployment state: {state}");
        };
        if generation != observed || replicas != ["2"; 4] {
            return None;
        }
        let version = self.kubectl_get(&["configmap", config], "{.data.VERSION}");
        Some((image.to_string(), version))
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.server.id().to_string())
            .status();
        let _ = self.server.wait();
    }
}

/// A pinned reference of the never-built `api` image (the sandbox takes images of
/// registries it does not check as present).
fn image(n: u32) -> String {
    format!("registry.example.com/shop/api:{n}@sha256:{n:064x}")
}

#[test]
fn deploys_through_injected_faults_never_report_success_over_a_wrong_state() {
    let p = Faulty::start();
    let mut successes = 0;
    let mut takeovers = 0;
    let mut codes = Vec::new();
    for n in 1..=DEPLOYS {
        fs::write(p.path().join("app.env"), format!("VERSION={n}\n")).unwrap();
        let out = p.deploy(n);
        let code = out.status.code().unwrap_or(-1);
        let err = String::from_utf8_lossy(&out.stderr);
        codes.push(code);
        if err.contains("whose lease expired") {
            takeovers += 1;
        }
        if code == 0 {
            successes += 1;
            assert!(err.contains("is live in `shop-dev`"), "deploy {n}: {err}");
            let expected = (image(n), n.to_string());
            assert_eq!(
                p.running().as_ref(),
                Some(&expected),
                "deploy {n} succeeded but the cluster runs something else\n{err}"
            );
            continue;
        }
        // A failure says so, with a reason, and a known exit code.
        let message = err
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or_else(|| {
                panic!("deploy {n} failed (exit {code}) without an error line:\n{err}")
            });
        assert!(!message.trim().is_empty(), "deploy {n}: {err}");
        assert!(
            FAILURE_CODES.contains(&code),
            "deploy {n} failed with exit code {code}:\n{err}"
        );
        if code == ROLLED_BACK {
            // The restored release runs again, exactly: its image, and the configuration
            // deployed with that image (deploy `k` pairs image `k` with `VERSION=k`).
            let restored: u64 = message
                .split(" and revision ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|r| r.parse().ok())
                .unwrap_or_else(|| panic!("deploy {n}: no restored revision in {message}"));
            let restored_image = p.recorded_image(restored);
            let k = restored_image
                .split(':')
                .nth(1)
                .and_then(|t| t.split('@').next())
                .unwrap()
                .to_string();
            assert_eq!(
                p.running(),
                Some((restored_image, k)),
                "deploy {n} says it rolled back, but the cluster runs something else\n{err}"
            );
        }
        eprintln!("deploy {n}: exit {code}: {message}\n{err}");
    }
    eprintln!(
        "{successes} of {DEPLOYS} deploys succeeded through injected faults; exit codes {codes:?}; \
         {takeovers} took over a lease left behind"
    );
}

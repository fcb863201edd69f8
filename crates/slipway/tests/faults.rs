//! Deploys against a misbehaving cluster: `slipway sandbox serve` answers 5% of the API
//! requests with an injected 500, 503 or 429 and closes every watch after two seconds.
//! Twenty deploys in a row, each with a new image and new configuration: every one
//! either succeeds and the cluster — read with the real `kubectl` — runs exactly what it
//! deployed, or fails with an `error:` message and a non-zero exit code. A deploy never
//! reports success over a wrong state.

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

mod common;

use common::sandbox::{self, Served, image, kubectl_get, write_project};

/// Exit codes a failed deploy may end with here (`src/exit.rs`): rolled back, failed
/// without rollback, lock held, cluster unreachable or refusing.
const ROLLED_BACK: i32 = 4;
const FAILURE_CODES: &[i32] = &[ROLLED_BACK, 5, 6, 7];

const DEPLOYS: u32 = 20;

/// A project whose `dev` environment is a sandbox served by `slipway sandbox serve` with
/// fault injection, reached by kubeconfig context. The server is stopped at the end.
struct Faulty {
    server: Served,
    dir: tempfile::TempDir,
}

impl Faulty {
    fn start() -> Faulty {
        let dir = tempfile::tempdir().unwrap();
        let server = Served::start(
            dir.path(),
            "sandbox",
            &[
                "--speed",
                "10",
                "--fault-rate",
                "0.05",
                "--watch-drop-after",
                "2s",
            ],
        );
        write_project(
            dir.path(),
            "\x20 dev:\n\
             \x20   context: sandbox\n\
             \x20   kubeconfig: sandbox.kubeconfig\n\
             \x20   namespace: shop-dev\n\
             \x20   timeout: 60s\n",
            "ready",
        );
        Faulty { server, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn kubeconfig(&self) -> &Path {
        &self.server.kubeconfig
    }

    fn deploy(&self, n: u32) -> Output {
        // A deploy whose lease could not be released (a fault on the release) holds the
        // lock until the lease expires: the next one waits for that.
        sandbox::run(
            self.path(),
            &[
                "deploy",
                "dev",
                "--wait-lock",
                "45s",
                "--image",
                &format!("api={}", image(n)),
            ],
        )
    }

    /// `kubectl -n shop-dev get …` with a JSONPath. kubectl meets the injected faults
    /// too: a failed read is asked again.
    fn kubectl_get(&self, what: &[&str], jsonpath: &str) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            let out = kubectl_get(self.kubeconfig(), "shop-dev", what, jsonpath);
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
            let out = sandbox::run(self.path(), &["history", "dev", "-o", "json"]);
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

/// CPU time (user + system) a process used so far, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel's USER_HZ is 100 on every architecture Linux supports today.
    Duration::from_millis(ticks * 10)
}

#[test]
fn an_outage_fails_the_deploy_in_bounded_time_without_a_busy_loop() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Instant;

    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(dir.path(), "sandbox", &[]);
    write_project(
        dir.path(),
        "\x20 dev:\n\
         \x20   context: sandbox\n\
         \x20   kubeconfig: sandbox.kubeconfig\n\
         \x20   namespace: shop-dev\n\
         \x20   timeout: 5m\n",
        "ready",
    );
    let out = sandbox::run(
        dir.path(),
        &["deploy", "dev", "--image", &format!("api={}", image(1))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A rollout that would take two minutes; the API server goes away once it is tracked.
    sandbox::write_deployment(dir.path(), "slow-start=120s");
    let pin = format!("api={}", image(2));
    let mut child = sandbox::command(
        dir.path(),
        &["deploy", "dev", "--image", &pin, "-o", "json"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "progress" && event["workload"] == "deployment/api" {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    drop(server);
    let down = Instant::now();

    // While the cluster is down, the deploy waits; it does not spin.
    std::thread::sleep(Duration::from_secs(1));
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(5));
    let used = cpu_time(pid) - before;
    if used > Duration::from_millis(1500) {
        let _ = child.kill();
        panic!("{used:?} of CPU in 5 s while the cluster was down");
    }

    // It gives up after the documented bound (30 s without an answer), not after the
    // five-minute rollout timeout, and says why.
    let out = child.wait_with_output().unwrap();
    let elapsed = down.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(elapsed < Duration::from_secs(100), "{elapsed:?}\n{err}");
    assert!(
        [5, 7].contains(&out.status.code().unwrap_or(-1)),
        "{:?}\n{err}",
        out.status
    );
    assert!(err.contains("not answered for 30s"), "{err}");
    eprintln!(
        "while the cluster was down: {used:?} of CPU in 5 s; gave up {elapsed:?} after it went down"
    );
}

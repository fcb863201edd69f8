//! The deploy engine tells the truth, through the real binary against the project's
//! sandbox: a release is recorded `deployed` only when every workload it owns runs what
//! it records — whether this run changed it or a killed run did — and stays up once
//! ready; `status` never counts an old pod as a ready replica of the new release.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

mod common;

use common::sandbox::{DevProject as Project, image};
use common::{SERIAL, text};

/// Exit code of a failed rollout whose previous release was restored (`src/exit.rs`).
const ROLLED_BACK: i32 = 4;

impl Project {
    fn deploy(&self, n: u32, extra: &[&str]) -> (i32, String, String) {
        let pin = format!("api={}", image(n));
        let mut args = vec!["deploy", "dev", "--image", &pin];
        args.extend_from_slice(extra);
        text(&self.slipway(&args))
    }

    /// Starts `slipway deploy dev --image api=<image> -o json` and kills it with SIGKILL
    /// once its Deployment is applied and being tracked.
    fn deploy_killed_after_apply(&self, n: u32) {
        let pin = format!("api={}", image(n));
        let mut child: Child = self
            .command(&["deploy", "dev", "--image", &pin, "-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the slipway binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut applied = false;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            applied |= line.contains("\"object\":\"Deployment/api\"");
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if event["event"] == "progress" && event["workload"] == "deployment/api" {
                break;
            }
        }
        assert!(applied, "the Deployment was applied before the kill");
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().code(), None, "killed by a signal");
    }

    /// `(revision, status)` of every release, oldest first.
    fn history(&self) -> Vec<(u64, String)> {
        let (code, out, err) = text(&self.slipway(&["history", "dev", "-o", "json"]));
        assert_eq!(code, 0, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut releases: Vec<_> = doc["namespaces"][0]["releases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["revision"].as_u64().unwrap(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        releases.reverse();
        releases
    }

    /// Adds the pre-deploy hook `migrate`: the Job of `hooks/migrate.yaml`, see
    /// [`Project::set_migration`].
    fn add_migration(&self, behavior: &str) {
        let config = self.path().join("slipway.yaml");
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "manifests: k8s\n",
            "manifests: k8s\nhooks:\n  migrate:\n    job: hooks/migrate.yaml\n    timeout: 2m\n",
        );
        std::fs::write(&config, text).unwrap();
        std::fs::create_dir_all(self.path().join("hooks")).unwrap();
        self.set_migration(behavior);
    }

    /// Rewrites the migration Job so that its pod behaves as `behavior` says
    /// (`complete-after=30s`).
    fn set_migration(&self, behavior: &str) {
        std::fs::write(
            self.path().join("hooks/migrate.yaml"),
            format!(
                "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {{ dev.slipway.sandbox/behavior: \"{behavior}\" }}
    spec:
      restartPolicy: Never
      securityContext: {{ runAsNonRoot: true, runAsUser: 65532 }}
      containers:
        - name: migrate
          image: registry.example.com/shop/migrate:1@sha256:{:064x}
          resources:
            requests: {{ cpu: 10m, memory: 16Mi }}
            limits: {{ memory: 32Mi }}
",
                1
            ),
        )
        .unwrap();
    }

    /// The Deployment runs `image` on both replicas, all of them ready.
    fn assert_running(&self, image: &str) {
        let get = |path: &str| self.kubectl_get(&["deployment", "api"], path);
        assert_eq!(get("{.spec.template.spec.containers[0].image}"), image);
        assert_eq!(
            get("{.status.replicas}/{.status.updatedReplicas}/{.status.readyReplicas}"),
            "2/2/2"
        );
    }
}

fn first_release(p: &Project) {
    let (code, _, err) = p.deploy(1, &[]);
    assert_eq!(code, 0, "{err}");
    p.assert_running(&image(1));
}

#[test]
fn rerun_after_a_kill_verifies_the_workloads_it_did_not_change() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("\x20   timeout: 20s\n");
    first_release(&p);

    // A version that never becomes ready, killed once it is applied.
    p.set_behavior("never-ready");
    p.deploy_killed_after_apply(2);

    // Its new pod is not ready; an old pod still counts in `readyReplicas`, but
    // `status` does not call the Deployment ready.
    let (code, out, err) = text(&p.slipway(&["status", "dev"]));
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("deployment/api"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(" 0/2 ready"), "{out}");

    // The same deploy again: its plan changes nothing, yet it follows the Deployment,
    // finds it never ready, and restores revision 1.
    let (code, _, err) = p.deploy(2, &["--wait-lock", "2m"]);
    assert_eq!(code, ROLLED_BACK, "{err}");
    assert!(err.contains("deployment/api"), "{err}");
    assert_eq!(
        p.history(),
        [
            (1, "deployed".to_string()),
            (2, "failed".to_string()),
            (3, "rolled-back".to_string()),
        ]
    );
    p.assert_running(&image(1));
}

#[test]
fn a_release_that_crashes_after_passing_its_probe_is_not_recorded_as_deployed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // No `settle` in the file: the default window applies.
    let p = Project::new("\x20   timeout: 60s\n");
    first_release(&p);

    // Ready at once, then the background worker dies three seconds after each start.
    p.set_behavior("crash-after=3s");
    let (code, _, err) = p.deploy(2, &[]);
    assert_eq!(code, ROLLED_BACK, "{err}");
    assert!(err.contains("watching its pods for restarts"), "{err}");
    assert!(
        err.contains("restarted") && err.contains("exit code 1"),
        "the crash is named with how the container exited: {err}"
    );
    assert_eq!(
        p.history(),
        [(1, "deployed".to_string()), (2, "rolled-back".to_string())]
    );
    p.assert_running(&image(1));
}

#[test]
fn a_rerun_never_runs_its_migration_beside_the_killed_deploys() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("\x20   timeout: 60s\n");
    p.add_migration("complete-after=1s");
    first_release(&p);

    // A deploy killed while its migration runs (it takes 20 s): its Job goes on.
    p.set_migration("complete-after=20s");
    let pin = format!("api={}", image(2));
    let mut child = p
        .command(&["deploy", "dev", "--image", &pin, "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "hook-started" {
            assert_eq!(event["job"], "migrate-r2");
            break;
        }
    }
    // Let the Job's pod start.
    std::thread::sleep(std::time::Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        p.kubectl_get(&["job", "migrate-r2"], "{.status.active}"),
        "1"
    );

    // The next deploy waits for that migration to end before it starts its own.
    p.set_migration("complete-after=1s");
    let (code, _, err) = p.deploy(2, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("job/migrate-r2"), "the wait is shown: {err}");
    let finished = p.kubectl_get(&["job", "migrate-r2"], "{.status.completionTime}");
    let started = p.kubectl_get(&["job", "migrate-r3"], "{.metadata.creationTimestamp}");
    assert!(!finished.is_empty(), "the first migration finished");
    // RFC 3339 times of one format compare as strings.
    assert!(
        started >= finished,
        "the second migration was created at {started}, before the first one finished at {finished}"
    );
}

/// Exit code of a release that failed validation (`src/exit.rs`).
const VALIDATION: i32 = 3;

#[test]
fn a_new_object_the_cluster_refuses_stops_diff_and_deploy_before_the_migration() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("\x20   timeout: 60s\n");
    p.add_migration("complete-after=1s");
    first_release(&p);

    // A new ConfigMap whose label value the API server refuses.
    std::fs::write(
        p.path().join("k8s/extra.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  labels:\n    tier: \"not valid!\"\ndata:\n  a: b\n",
    )
    .unwrap();
    let (code, _, err) = text(&p.slipway(&["diff", "dev"]));
    assert_eq!(code, VALIDATION, "{err}");
    assert!(
        err.contains("the cluster refuses `ConfigMap/extra`") && err.contains("not valid!"),
        "{err}"
    );
    let (code, _, err) = p.deploy(2, &[]);
    assert_eq!(code, VALIDATION, "{err}");
    assert!(
        err.contains("the cluster refuses `ConfigMap/extra`"),
        "{err}"
    );
    assert!(!err.contains("running job"), "no migration ran: {err}");
    let jobs = p.kubectl_get(&["jobs"], "{.items[*].metadata.name}");
    assert_eq!(jobs, "migrate-r1");
    assert_eq!(p.history(), [(1, "deployed".to_string())]);
    p.assert_running(&image(1));
}

#[test]
fn a_kind_the_cluster_does_not_serve_is_refused_before_anything_is_written() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("\x20   timeout: 60s\n");
    std::fs::write(
        p.path().join("k8s/widget.yaml"),
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: gear\nspec:\n  size: 3\n",
    )
    .unwrap();
    let (code, _, err) = p.deploy(1, &[]);
    assert_eq!(code, VALIDATION, "{err}");
    assert!(
        err.contains("the cluster refuses `Widget/gear`")
            && err.contains("does not serve the kind `Widget` in `example.com/v1`"),
        "{err}"
    );
    assert!(
        err.contains("k8s/widget.yaml:1)"),
        "the refusal names the object's file and line: {err}"
    );
    assert!(
        !err.contains("running the same command again converges"),
        "{err}"
    );
    // Neither the namespace nor the lock's Lease was written.
    let out = p
        .sandbox
        .kubectl(&["get", "namespace", "shop-dev", "-o", "name"]);
    assert!(!out.status.success(), "the namespace was not created");
}

#[test]
fn names_and_sizes_the_cluster_refuses_are_caught_offline_by_validate() {
    let p = Project::new("\x20   timeout: 60s\n");
    std::fs::write(
        p.path().join("k8s/bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Api_Bad\ndata:\n  a: b\n",
    )
    .unwrap();
    let big = "x".repeat(1024 * 1024 + 1);
    std::fs::write(
        p.path().join("k8s/big.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: {big}\n"),
    )
    .unwrap();
    let (code, out, err) = text(&p.slipway(&["validate", "dev"]));
    let all = format!("{out}{err}");
    assert_eq!(code, VALIDATION, "{all}");
    assert!(all.contains("k8s/bad.yaml:4:9"), "{all}");
    assert!(
        all.contains("`Api_Bad` is not a valid name: it must be an RFC 1123 subdomain"),
        "{all}"
    );
    assert!(all.contains("e.g. `api-bad`"), "{all}");
    assert!(all.contains("k8s/big.yaml:5:1"), "{all}");
    assert!(
        all.contains("the ConfigMap holds 1048581 bytes of data, more than the 1 MiB"),
        "{all}"
    );
}

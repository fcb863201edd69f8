//! `slipway uninstall ENV` through the real binary against the project's sandbox: it
//! asks first, lists with `--dry-run`, removes the release's objects and hook Jobs under
//! the lock, keeps the release records (marked) unless `--delete-records`, and leaves
//! the environment ready for a first install.

use std::path::Path;
use std::process::Output;

mod common;

use common::sandbox::{self, image, write_project};
use common::{SERIAL, text};

/// Exit code of a command that needs a confirmation it did not get (`src/exit.rs`).
const NOT_APPROVED: i32 = 10;

fn slipway(dir: &Path, args: &[&str]) -> Output {
    sandbox::command(dir, args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the slipway binary runs")
}

/// The names of the objects of `kinds` in `shop-dev` (`deployment.apps/api`, …).
fn objects(p: &common::Project, kinds: &str) -> String {
    let out = p.kubectl(&["-n", "shop-dev", "get", kinds, "-o", "name"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn history(dir: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = text(&slipway(dir, &["history", "dev", "-o", "json"]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc["namespaces"][0]["releases"].as_array().unwrap().clone()
}

#[test]
fn uninstall_removes_the_release_and_its_hook_jobs_and_keeps_the_records_unless_asked() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    write_project(
        dir.path(),
        "\x20 dev:\n\
         \x20   cluster: sandbox\n\
         \x20   namespace: shop-dev\n\
         \x20   timeout: 2m\n\
         \x20   settle: 0s\n",
        "ready",
    );
    let config = std::fs::read_to_string(dir.path().join("slipway.yaml")).unwrap();
    std::fs::write(
        dir.path().join("slipway.yaml"),
        config.replace(
            "manifests: k8s\n",
            "manifests: k8s\nhooks:\n  migrate:\n    when: pre-deploy\n    job: migrate.yaml\n    timeout: 1m\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("migrate.yaml"),
        format!(
            "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {{dev.slipway.sandbox/behavior: \"complete-after=1s\"}}
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/shop/migrate:1@sha256:{}
          resources:
            requests: {{cpu: 10m, memory: 16Mi}}
            limits: {{memory: 64Mi}}
",
            "3".repeat(64)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("k8s/token.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-token\ntype: Opaque\nstringData:\n  token: t0ken\n",
    )
    .unwrap();
    let p = common::Project { dir };

    // Nothing deployed yet: nothing to remove, and it says so.
    let (code, _, err) = text(&slipway(p.path(), &["uninstall", "dev", "--yes"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("removed 0 object(s) from `shop-dev`; no release record"),
        "{err}"
    );

    let pin = format!("api={}", image(1));
    let (code, _, err) = text(&slipway(p.path(), &["deploy", "dev", "--image", &pin]));
    assert_eq!(code, 0, "{err}");
    let before = objects(&p, "deployments,jobs,configmaps,secrets");
    for name in [
        "deployment.apps/api",
        "job.batch/migrate-r1",
        "secret/api-token",
    ] {
        assert!(before.contains(name), "{before}");
    }

    // Without a terminal and without `--yes`: refused, nothing removed.
    let (code, _, err) = text(&slipway(p.path(), &["uninstall", "dev"]));
    assert_eq!(code, NOT_APPROVED, "{err}");
    assert!(err.contains("--dry-run"), "{err}");
    assert_eq!(objects(&p, "deployments,jobs,configmaps,secrets"), before);

    // `--dry-run` lists, removes nothing.
    let (code, _, err) = text(&slipway(p.path(), &["uninstall", "dev", "--dry-run"]));
    assert_eq!(code, 0, "{err}");
    for name in [
        "  - Deployment/api",
        "  - Job/migrate-r1",
        "  - Secret/api-token",
        "  - Secret/slipway-applyset-shop",
    ] {
        assert!(err.contains(name), "{err}");
    }
    assert!(err.contains("would remove"), "{err}");
    assert_eq!(objects(&p, "deployments,jobs,configmaps,secrets"), before);

    let (code, _, err) = text(&slipway(p.path(), &["uninstall", "dev", "--yes"]));
    assert_eq!(code, 0, "{err}");
    let after = objects(&p, "deployments,jobs,configmaps,secrets,leases");
    for name in [
        "deployment.apps/api",
        "job.batch/migrate-r1",
        "secret/api-token",
        "configmap/shop-config",
        "secret/slipway-applyset-shop",
        "lease.coordination.k8s.io/slipway-lock-shop",
    ] {
        assert!(!after.contains(name), "{name} is left: {after}");
    }
    // The records stay, and no longer say the release runs.
    assert!(after.contains("secret/slipway.release.shop.v1"), "{after}");
    let releases = history(p.path());
    assert_eq!(releases[0]["status"], "superseded", "{releases:?}");
    assert!(
        releases[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("uninstalled"),
        "{releases:?}"
    );
    let (code, out, err) = text(&slipway(p.path(), &["status", "dev"]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("(deployed)"), "{out}");

    // The next deploy is a first install.
    let pin = format!("api={}", image(2));
    let (code, _, err) = text(&slipway(p.path(), &["deploy", "dev", "--image", &pin]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("revision 2 is live"), "{err}");
    assert!(objects(&p, "deployments").contains("deployment.apps/api"));

    // `--delete-records` removes the records too.
    let (code, _, err) = text(&slipway(
        p.path(),
        &["uninstall", "dev", "--yes", "--delete-records"],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(history(p.path()).is_empty());
    let after = objects(&p, "deployments,secrets");
    assert!(!after.contains("deployment.apps/api"), "{after}");
    assert!(!after.contains("slipway.release"), "{after}");
}

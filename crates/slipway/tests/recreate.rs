//! Fields the cluster does not let change in place: a Job of the manifests whose template
//! changes stops the release before anything is applied, naming the object, the field and
//! the way out; listed under `recreate`, it is deleted and created again, in `diff` and in
//! `deploy`.

use std::fs;

mod common;

use common::SERIAL;
use common::sandbox::{DevProject, image};

fn job(message: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: db-seed\nspec:\n  backoffLimit: 0\n  template:\n    metadata:\n      annotations: {{ dev.slipway.sandbox/behavior: \"complete-after=1s\" }}\n    spec:\n      restartPolicy: Never\n      securityContext: {{ runAsNonRoot: true, runAsUser: 65532 }}\n      containers:\n        - name: seed\n          image: registry.example.com/shop/seed:1@sha256:{:064x}\n          args: [\"{message}\"]\n          resources:\n            requests: {{ cpu: 10m, memory: 16Mi }}\n            limits: {{ memory: 32Mi }}\n",
        7
    )
}

fn deploy(p: &DevProject, args: &[&str]) -> (i32, String) {
    let image = format!("api={}", image(1));
    let mut all = vec!["deploy", "dev", "--image", &image];
    all.extend_from_slice(args);
    let out = p.slipway(&all);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn job_uid(p: &DevProject) -> String {
    p.kubectl_get(&["job", "db-seed"], "{.metadata.uid}")
}

#[test]
fn a_changed_job_template_stops_the_release_unless_the_job_is_recreated() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    fs::write(p.path().join("k8s/seed.yaml"), job("first")).unwrap();
    let (code, err) = deploy(&p, &[]);
    assert_eq!(code, 0, "{err}");
    let first = job_uid(&p);

    // A new argument: the Job's template cannot change in place.
    fs::write(p.path().join("k8s/seed.yaml"), job("second")).unwrap();
    let (code, err) = deploy(&p, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("the cluster refuses `Job/db-seed`"), "{err}");
    assert!(err.contains("field is immutable"), "{err}");
    assert!(
        err.contains("list `Job/db-seed` under `recreate:`"),
        "{err}"
    );
    assert!(err.contains("(from ./k8s/seed.yaml:1)"), "{err}");
    assert_eq!(job_uid(&p), first, "nothing was applied");

    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text = text.replace(
        "    settle: 0s\n",
        "    settle: 0s\n    recreate: [Job/db-seed]\n",
    );
    fs::write(&config, text).unwrap();
    let out = p.slipway(&["diff", "dev", "--image", &format!("api={}", image(1))]);
    let diff = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{diff}");
    assert!(
        diff.contains("  ! Job/db-seed (deleted and created again: "),
        "{diff}"
    );
    assert_eq!(job_uid(&p), first, "diff writes nothing");

    let (code, err) = deploy(&p, &[]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(job_uid(&p), first, "a new Job");
    assert_eq!(
        p.kubectl_get(
            &["job", "db-seed"],
            "{.spec.template.spec.containers[0].args[0]}"
        ),
        "second"
    );
    assert_eq!(
        p.kubectl_get(&["job", "db-seed"], "{.status.succeeded}"),
        "1",
        "the new Job ran to completion within the release"
    );
}

#[test]
fn recreate_must_name_an_object_of_the_release() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = DevProject::new("\x20   settle: 0s\n\x20   recreate: [Job/nothing]\n");
    let (code, err) = deploy(&p, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`recreate` names `Job/nothing`, which the release of `dev` has not"),
        "{err}"
    );
}

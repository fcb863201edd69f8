//! The main job, end to end, through the real binary on a copy of `examples/demo`: build
//! with the native builder into the sandbox's registry, migrate, roll out, see drift
//! made with the real `kubectl`, deploy over it, roll back, and a release whose image
//! is missing, diagnosed and rolled back.

use std::fs;
use std::process::Command;

mod common;

use common::{SERIAL, demo, slipway, text};

#[test]
fn demo_deploys_shows_drift_keeps_the_repository_and_rolls_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = demo();

    let (code, _, err) = text(&slipway(p.path(), &["deploy", "dev", "--build"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("hook `migrate`: running job `demo-migrate-r1`"),
        "{err}"
    );
    assert!(err.contains("revision 1 is live in `demo-dev`"), "{err}");
    // Tags are unique, sortable and traceable: UTC time and commit.
    let artifacts = fs::read_to_string(p.path().join(".slipway/artifacts.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&artifacts).unwrap();
    let tag = doc["images"][0]["tag"].as_str().unwrap();
    assert!(
        tag.len() == 23 && tag.as_bytes()[8] == b'-' && tag.as_bytes()[15] == b'-',
        "{tag}"
    );

    // The pods run the pinned images, digests included.
    let out = p.kubectl(&[
        "-n",
        "demo-dev",
        "get",
        "deployment",
        "api",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    let image = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        image.contains("/demo/api:") && image.contains("@sha256:"),
        "{image}"
    );

    let (code, out, err) = text(&slipway(p.path(), &["status", "dev"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revision 1 (deployed)"), "{out}");
    assert!(
        out.contains("deployment/api") && out.contains("1/1 ready"),
        "{out}"
    );

    // An imperative change on the cluster (seed 004) is drift, named with its manager.
    let hotfix = image.replace(&image[image.find(":2").unwrap()..], ":hotfix");
    let set = p.kubectl(&[
        "-n",
        "demo-dev",
        "set",
        "image",
        "deployment/api",
        &format!("api={hotfix}"),
    ]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let (_, out, _) = text(&slipway(p.path(), &["status", "dev"]));
    assert!(
        out.contains("drift:") && out.contains("set by `kubectl-set`"),
        "{out}"
    );

    // The next deploy does not silently overwrite it: it says so.
    let (code, _, err) = text(&slipway(p.path(), &["deploy", "dev"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("was changed on the cluster by `kubectl-set`"),
        "{err}"
    );
    let (_, out, _) = text(&slipway(p.path(), &["status", "dev"]));
    assert!(!out.contains("drift:"), "{out}");

    // With `-o json`, standard output is a stream of JSON lines ending with the outcome.
    let (code, out, err) = text(&slipway(p.path(), &["deploy", "dev", "-o", "json"]));
    assert_eq!(code, 0, "{err}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(events.iter().any(|e| e["event"] == "plan"), "{out}");
    assert!(
        events.iter().any(|e| e["event"] == "hook-finished"),
        "{out}"
    );
    let last = events.last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["outcome"].as_str()),
        (Some("done"), Some("deployed"))
    );

    let (code, _, err) = text(&slipway(p.path(), &["rollback", "dev"]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = text(&slipway(p.path(), &["history", "dev"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[2].starts_with("4         deployed     rollback"),
        "{out}"
    );
    assert!(lines[3].starts_with("3         superseded"), "{out}");

    // No secret value appears in any output or release record (the demo's secret
    // env file holds `DB_PASSWORD=demo-only-not-a-secret`).
    let secret = "demo-only-not-a-secret";
    let secret_b64 = "ZGVtby1vbmx5LW5vdC1hLXNlY3JldA==";
    let mut seen = String::new();
    for args in [
        &["render", "dev"][..],
        &["render", "dev", "-o", "json"][..],
        &["diff", "dev"][..],
        &["status", "dev", "-o", "json"][..],
        &["history", "dev", "-o", "json"][..],
        &["-v", "deploy", "dev"][..],
    ] {
        let (_, out, err) = text(&slipway(p.path(), args));
        seen.push_str(&out);
        seen.push_str(&err);
    }
    let records = p.kubectl(&[
        "-n",
        "demo-dev",
        "get",
        "secrets",
        "-l",
        "slipway.dev/app=demo",
        "-o",
        "json",
    ]);
    let list: serde_json::Value = serde_json::from_slice(&records.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    assert!(items.len() >= 3, "one record per revision");
    for item in items {
        let release = slipway_deploy::record::from_secret(item).unwrap();
        seen.push_str(&serde_json::to_string(&release).unwrap());
    }
    assert!(seen.contains("demo-secrets-"), "the secret's name is shown");
    assert!(
        !seen.contains(secret) && !seen.contains(secret_b64),
        "a secret value leaked"
    );

    // The repository is as it was: slipway's own files are ignored by git.
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(p.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "");
}

#[test]
fn missing_images_stop_the_migration_or_roll_the_release_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = demo();
    let (code, _, err) = text(&slipway(p.path(), &["deploy", "dev", "--build"]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(p.path().join(".slipway/artifacts.json")).unwrap(),
    )
    .unwrap();
    let image = |name: &str| {
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap()
            .clone()
    };
    // A newer build of `name` whose image is gone from the registry (an `--image` that
    // does not exist is refused before anything is applied, so a build stands in).
    let artifacts = p.path().join(".slipway/artifacts.json");
    let built = fs::read_to_string(&artifacts).unwrap();
    let missing = |name: &str| {
        let mut doc: serde_json::Value = serde_json::from_str(&built).unwrap();
        for entry in doc["images"].as_array_mut().unwrap() {
            if entry["name"] == name {
                entry["reference"] = serde_json::json!(format!(
                    "{}:gone@sha256:{}",
                    entry["repository"].as_str().unwrap(),
                    "0".repeat(64)
                ));
                entry["created"] = serde_json::json!("2999-01-01T00:00:00Z");
            }
        }
        fs::write(&artifacts, doc.to_string()).unwrap();
    };
    let running = |deployment: &str| {
        let out = p.kubectl(&[
            "-n",
            "demo-dev",
            "get",
            "deployment",
            deployment,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // The migration runs the api image: when it cannot start, nothing else changes.
    missing("api");
    let (code, _, err) = text(&slipway(p.path(), &["deploy", "dev", "--timeout", "60s"]));
    assert_eq!(code, 9, "{err}");
    assert!(
        err.contains("job/demo-migrate-r2: ImagePullBackOff"),
        "{err}"
    );
    assert!(
        err.contains("hook `migrate` failed in `demo-dev`; no workload was changed"),
        "{err}"
    );
    assert_eq!(running("api"), image("api")["reference"].as_str().unwrap());

    // A workload whose image is missing is diagnosed, and the previous release restored.
    missing("web");
    let (code, _, err) = text(&slipway(p.path(), &["deploy", "dev", "--timeout", "60s"]));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("deployment/web"), "{err}");
    assert!(
        err.contains("ImagePullBackOff") || err.contains("ErrImagePull"),
        "{err}"
    );
    assert!(err.contains("revision 1 was restored"), "{err}");
    for name in ["api", "web", "worker"] {
        assert_eq!(
            running(name),
            image(name)["reference"].as_str().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn the_demo_s_canary_and_blue_green_environments_release_a_new_build_progressively() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = demo();
    for env in ["canary", "blue-green"] {
        let (code, _, err) = text(&slipway(p.path(), &["deploy", env, "--build"]));
        assert_eq!(code, 0, "{env}: {err}");
        assert!(
            !err.contains("canary of") && !err.contains("blue-green of"),
            "{err}"
        );
    }
    // A new version of both services, committed.
    fs::write(p.path().join("services/api/app.txt"), "api v2\n").unwrap();
    fs::write(
        p.path().join("services/web/index.html"),
        "<h1>web v2</h1>\n",
    )
    .unwrap();
    common::git(p.path(), &["commit", "-qam", "v2"]);

    let (code, _, err) = text(&slipway(p.path(), &["deploy", "canary", "--build"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("canary of deployment/api: step 1 of 2: 25 % of the traffic")
            && err.contains("canary of deployment/api: step 2 of 2: 50 % of the traffic")
            && err.contains("canary of deployment/api passed every step"),
        "{err}"
    );
    let (code, _, err) = text(&slipway(p.path(), &["deploy", "blue-green", "--build"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "blue-green of deployment/web: the new version starts behind service/web-preview"
        ) && err.contains(
            "blue-green web pre-switch: http preview-health = status 200 (status 200) ok"
        ) && err.contains("service/web switched to the new version in one write"),
        "{err}"
    );
    // Each ends as rendered: no canary or preview left, the Services' own selectors.
    for (ns, label) in [
        ("demo-canary", "slipway.dev/canary-of"),
        ("demo-blue-green", "slipway.dev/preview-of"),
    ] {
        let out = p.kubectl(&[
            "-n",
            ns,
            "get",
            "deployments,services",
            "-l",
            label,
            "-o",
            "name",
        ]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{ns}");
    }
    let out = p.kubectl(&[
        "-n",
        "demo-blue-green",
        "get",
        "service",
        "web",
        "-o",
        "jsonpath={.spec.selector}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"app.kubernetes.io/name\":\"web\"}"
    );
}

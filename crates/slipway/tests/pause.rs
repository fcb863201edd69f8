//! Canary steps without a `pause`, through the binary against the project's sandbox: the
//! release pauses there (its canary left at that weight, recorded `paused`), a second
//! process resumes it to the end or aborts it, and a new deploy is refused meanwhile; an
//! nginx canary keeps its Ingress weight while paused and `status` shows its measurements.

use std::collections::BTreeSet;
use std::fs;

mod common;

use common::SERIAL;
use common::sandbox::{DevProject, image};

/// Paused at a canary step.
const PAUSED: i32 = 11;
/// A release is paused: a new one is refused.
const RELEASE_PAUSED: i32 = 12;
/// Nothing is paused to resume or abort.
const NOTHING_PAUSED: i32 = 13;

/// A project whose Deployment `api` rolls out as a canary: 25 % for a second, then
/// 50 % until `deploy --resume` or `abort`.
fn project() -> DevProject {
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(
        "strategies:\n  api:\n    canary:\n      steps:\n        - { weight: 25, pause: 1s }\n        - { weight: 50 }\n",
    );
    fs::write(config, text).unwrap();
    p
}

fn run(p: &DevProject, args: &[&str]) -> (i32, String, String) {
    let out = p.slipway(args);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn deploy(p: &DevProject, n: u32) -> (i32, String, String) {
    run(
        p,
        &["deploy", "dev", "--image", &format!("api={}", image(n))],
    )
}

/// The names of the pods of `shop-dev` that run `image`.
fn pods_running(p: &DevProject, image: &str) -> BTreeSet<String> {
    let out = p.kubectl_get(
        &["pods"],
        "{range .items[*]}{.metadata.name} {.spec.containers[0].image} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    );
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, img) = (w.next()?, w.next()?);
            (img == image && w.next().is_none()).then(|| name.to_owned())
        })
        .collect()
}

fn canary_objects(p: &DevProject) -> String {
    p.kubectl_get(
        &[
            "deployments,services,ingresses",
            "-l",
            "slipway.dev/canary-of",
        ],
        "{.items[*].metadata.name}",
    )
}

/// The image of the Deployment `api` itself.
fn stable_image(p: &DevProject) -> String {
    p.kubectl_get(
        &["deployment", "api"],
        "{.spec.template.spec.containers[0].image}",
    )
}

/// `history -o json`: the releases of `shop-dev`, newest first.
fn history(p: &DevProject) -> Vec<serde_json::Value> {
    let (code, out, err) = run(p, &["history", "dev", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc["namespaces"][0]["releases"].as_array().unwrap().clone()
}

#[test]
fn a_paused_canary_is_shown_refuses_a_new_deploy_and_is_resumed_by_another_process() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project();
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");

    let (code, _, err) = deploy(&p, 2);
    assert_eq!(code, PAUSED, "{err}");
    assert!(err.contains("slipway deploy dev --resume"), "{err}");
    assert!(err.contains("slipway abort dev"), "{err}");
    // The canary runs at 50 %: two pods beside the two stable ones, which are untouched.
    assert_eq!(canary_objects(&p), "api-canary");
    assert_eq!(
        p.kubectl_get(&["deployment", "api-canary"], "{.spec.replicas}"),
        "2"
    );
    assert_eq!(pods_running(&p, &image(2)).len(), 2);
    assert_eq!(stable_image(&p), image(1));

    let releases = history(&p);
    assert_eq!(releases[0]["revision"], 2);
    assert_eq!(releases[0]["status"], "paused");
    assert_eq!(releases[0]["paused"]["step"], 2);
    assert_eq!(releases[0]["paused"]["weight"], 50);
    assert_eq!(releases[1]["status"], "deployed");
    let (code, out, err) = run(&p, &["history", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("paused"), "{out}");

    let (code, out, err) = run(&p, &["status", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("PAUSED: revision 2 at canary api step 2/2 (50%, 2 pods)"),
        "{out}"
    );
    let (code, out, err) = run(&p, &["status", "dev", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let paused = &status["namespaces"][0]["paused"];
    assert_eq!(paused["revision"], 2, "{status:#}");
    assert_eq!(paused["at"]["weight"], 50, "{status:#}");

    // A new release would stack on the paused one: refused, nothing changes.
    let (code, _, err) = deploy(&p, 3);
    assert_eq!(code, RELEASE_PAUSED, "{err}");
    assert!(err.contains("revision 2 is paused"), "{err}");
    assert!(err.contains("--resume") && err.contains("abort"), "{err}");
    assert_eq!(history(&p).len(), 2);
    assert_eq!(canary_objects(&p), "api-canary");

    // Another process continues the same release to its end.
    let (code, _, err) = run(&p, &["deploy", "dev", "--resume"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(canary_objects(&p), "");
    assert_eq!(
        p.kubectl_get(&["deployments"], "{.items[*].metadata.name}"),
        "api"
    );
    assert_eq!(stable_image(&p), image(2));
    assert_eq!(pods_running(&p, &image(2)).len(), 2);
    let releases = history(&p);
    assert_eq!(releases.len(), 2, "the same release, no new revision");
    assert_eq!(releases[0]["status"], "deployed");
    assert_eq!(releases[1]["status"], "superseded");

    // Nothing is paused any more.
    let (code, _, err) = run(&p, &["deploy", "dev", "--resume"]);
    assert_eq!(code, NOTHING_PAUSED, "{err}");
}

#[test]
fn abort_from_another_process_removes_the_paused_canary_and_leaves_stable_untouched() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project();
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");
    let stable = pods_running(&p, &image(1));

    let (code, _, err) = deploy(&p, 2);
    assert_eq!(code, PAUSED, "{err}");
    assert_eq!(canary_objects(&p), "api-canary");

    let (code, _, err) = run(&p, &["abort", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("aborted"), "{err}");
    assert_eq!(canary_objects(&p), "");
    assert_eq!(stable_image(&p), image(1));
    assert_eq!(pods_running(&p, &image(1)), stable);
    let releases = history(&p);
    assert!(
        matches!(
            releases[0]["status"].as_str(),
            Some("failed" | "rolled-back")
        ),
        "{releases:#?}"
    );
    assert!(
        releases[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("aborted by tester@ci"),
        "{releases:#?}"
    );
    assert_eq!(releases[1]["status"], "deployed");

    let (code, _, err) = run(&p, &["abort", "dev"]);
    assert_eq!(code, NOTHING_PAUSED, "{err}");
    assert!(err.contains("no release of `dev` is paused"), "{err}");
}

#[test]
fn a_release_resumed_at_its_first_step_runs_the_steps_after_it_only() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project();
    let config = p.path().join("slipway.yaml");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("- { weight: 25, pause: 1s }", "- { weight: 25 }")
        .replace("- { weight: 50 }", "- { weight: 50, pause: 1s }");
    fs::write(&config, text).unwrap();
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &p,
        &[
            "deploy",
            "dev",
            "-o",
            "json",
            "--image",
            &format!("api={}", image(2)),
        ],
    );
    assert_eq!(code, PAUSED, "{err}");
    let done: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["event"] == "done")
        .collect();
    assert_eq!(done[0]["outcome"], "paused", "{out}");
    assert_eq!(done[0]["paused"]["step"], 1, "{out}");
    assert_eq!(
        p.kubectl_get(&["deployment", "api-canary"], "{.spec.replicas}"),
        "1"
    );

    let (code, out, err) = run(&p, &["deploy", "dev", "--resume", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let steps: Vec<(u64, u64)> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "canary-step")
        .map(|e| (e["step"].as_u64().unwrap(), e["weight"].as_u64().unwrap()))
        .collect();
    assert_eq!(steps, [(2, 50)], "{out}");
    assert_eq!(canary_objects(&p), "");
    assert_eq!(stable_image(&p), image(2));
    assert_eq!(history(&p)[0]["status"], "deployed");
}

#[test]
fn a_paused_nginx_canary_keeps_its_weight_and_status_shows_its_last_measurements() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(
        "strategies:\n  api:\n    canary:\n      traffic: nginx\n      ingress: api\n      service: api\n      steps:\n        - { weight: 30 }\n      analysis:\n        - name: health\n          http: { path: /healthz }\n",
    );
    fs::write(config, text).unwrap();
    fs::write(
        p.path().join("k8s/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: { app: api }\n  ports:\n    - { name: http, port: 80, targetPort: http }\n",
    )
    .unwrap();
    fs::write(
        p.path().join("k8s/ingress.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: api\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: shop.example\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: { name: api, port: { number: 80 } }\n",
    )
    .unwrap();
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = deploy(&p, 2);
    assert_eq!(code, PAUSED, "{err}");
    // While paused the canary Ingress sends 30 % to the canary's Service.
    assert_eq!(
        p.kubectl_get(
            &["ingress", "api-canary"],
            "{.metadata.annotations.nginx\\.ingress\\.kubernetes\\.io/canary-weight}"
        ),
        "30"
    );
    assert_eq!(canary_objects(&p), "api-canary api-canary api-canary");

    let (code, out, err) = run(&p, &["status", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("PAUSED: revision 2 at canary api step 1/1 (30%"),
        "{out}"
    );
    assert!(
        out.contains("measured: http health [1/1] = status 200"),
        "{out}"
    );

    // Aborted: the user's Ingress and Service alone remain, the stable version serves.
    let (code, _, err) = run(&p, &["abort", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(canary_objects(&p), "");
    assert_eq!(
        p.kubectl_get(&["ingress"], "{.items[*].metadata.name}"),
        "api"
    );
    assert_eq!(stable_image(&p), image(1));
}

//! Canary releases through the binary, against the project's sandbox: the steps run with
//! the stable Deployment untouched, a healthy canary ends with exactly the rendered
//! objects, a crashing one is aborted at its first step with the stable pods still
//! serving, and ingress-nginx's canary Ingress carries each step's weight while it runs.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

use common::SERIAL;
use common::progressive::{
    self, ROLLED_BACK, canary_objects, deploy_json, history, kubectl_apply, pods_running, position,
    replace_in_config, stable_image,
};
use common::sandbox::{DevProject, image};

/// A project whose Deployment `api` rolls out as a canary of two steps; `traffic` is
/// added under `canary:` (each line indented by six spaces).
fn project(traffic: &str) -> DevProject {
    progressive::project(&format!(
        "  api:\n    canary:\n{traffic}      steps:\n        - {{ weight: 25, pause: 3s }}\n        - {{ weight: 50, pause: 2s }}\n"
    ))
}

#[test]
fn a_healthy_canary_runs_its_steps_then_leaves_exactly_the_rendered_objects() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("");
    let (code, _, err) = deploy_json(&p, 1);
    assert_eq!(code, 0, "a first install rolls as usual: {err}");
    assert!(!err.contains("canary"), "{err}");
    let stable = pods_running(&p, &image(1));
    assert_eq!(stable.len(), 2, "{stable:?}");

    let (code, events, err) = deploy_json(&p, 2);
    assert_eq!(code, 0, "{err}");
    let steps: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["event"] == "canary-step")
        .map(|e| {
            (
                e["weight"].as_u64().unwrap(),
                e["replicas"].as_u64().unwrap(),
            )
        })
        .collect();
    // 25 % beside two stable pods: one canary pod; 50 %: two.
    assert_eq!(steps, [(25, 1), (50, 2)]);
    assert!(
        err.contains("step 1 of 2: 25 % of the traffic on 1 new pod(s)"),
        "{err}"
    );
    // The Deployment itself is applied only once every step passed.
    let promoted = position(&events, |e| e["event"] == "canary-promoted");
    let applied = position(&events, |e| {
        e["event"] == "applied" && e["object"] == "Deployment/api"
    });
    assert!(promoted < applied, "{events:#?}");
    assert!(
        !events[..promoted]
            .iter()
            .any(|e| e["event"] == "applied" && e["object"] == "Deployment/api")
    );
    assert_eq!(canary_objects(&p), "");
    assert_eq!(
        p.kubectl_get(&["deployments"], "{.items[*].metadata.name}"),
        "api"
    );
    assert_eq!(pods_running(&p, &image(2)).len(), 2);
}

#[test]
fn a_crashing_canary_is_aborted_at_its_first_step_and_the_stable_pods_keep_serving() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("");
    let (code, _, err) = deploy_json(&p, 1);
    assert_eq!(code, 0, "{err}");
    let stable = pods_running(&p, &image(1));

    // Healthy for a second after each start, then the process dies.
    p.set_behavior("crash-after=1s");
    let (code, events, err) = deploy_json(&p, 2);
    assert_eq!(code, ROLLED_BACK, "{err}");
    let steps = events
        .iter()
        .filter(|e| e["event"] == "canary-step")
        .count();
    assert_eq!(steps, 1, "aborted at its first step: {events:#?}");
    let failed = &events[position(&events, |e| e["event"] == "failed")];
    assert_eq!(failed["workload"], "deployment/api-canary");
    let message = failed["message"].as_str().unwrap();
    assert!(message.starts_with("step 1 of 2 (25 %"), "{message}");
    assert!(
        err.contains("aborted: its objects were removed; all traffic is on the stable pods"),
        "{err}"
    );
    // Before the previous release is re-applied as it was, the stable Deployment was
    // never applied.
    let rolling_back = position(&events, |e| e["event"] == "rolling-back");
    assert!(
        !events[..rolling_back]
            .iter()
            .any(|e| e["event"] == "applied" && e["object"] == "Deployment/api"),
        "{events:#?}"
    );
    // The very same stable pods, still running the previous image; no canary object.
    assert_eq!(pods_running(&p, &image(1)), stable);
    assert_eq!(canary_objects(&p), "");
}

#[test]
fn an_nginx_canary_ingress_carries_each_step_s_weight_while_it_runs() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("      traffic: nginx\n      ingress: api\n      service: api\n");
    progressive::write_service(&p);
    progressive::write_ingress(&p);
    let (code, _, err) = deploy_json(&p, 1);
    assert_eq!(code, 0, "{err}");

    let mut child = p
        .command(&["deploy", "dev", "--image", &format!("api={}", image(2))])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Watched from outside while the release runs: the canary Ingress and Service.
    let mut weights = BTreeSet::new();
    let mut selector = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        let out = common::sandbox::kubectl_get(
            &p.kubeconfig(),
            "shop-dev",
            &["ingress", "api-canary", "--ignore-not-found"],
            "{.metadata.annotations.nginx\\.ingress\\.kubernetes\\.io/canary}={.metadata.annotations.nginx\\.ingress\\.kubernetes\\.io/canary-weight} {.spec.rules[0].http.paths[0].backend.service.name}",
        );
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !text.is_empty() {
            weights.insert(text);
            if selector.is_empty() {
                let svc = common::sandbox::kubectl_get(
                    &p.kubeconfig(),
                    "shop-dev",
                    &["service", "api-canary", "--ignore-not-found"],
                    "{.spec.selector}",
                );
                selector = String::from_utf8_lossy(&svc.stdout).into_owned();
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        weights,
        BTreeSet::from([
            "true=25 api-canary".to_owned(),
            "true=50 api-canary".to_owned()
        ]),
        "{err}"
    );
    assert!(
        selector.contains("\"slipway.dev/canary-of\":\"api\"")
            && selector.contains("\"app\":\"api\""),
        "{selector}"
    );
    assert_eq!(canary_objects(&p), "");
    // The user's Ingress is as rendered.
    assert_eq!(
        p.kubectl_get(&["ingress"], "{.items[*].metadata.name}"),
        "api"
    );
}

#[test]
fn a_strategy_for_a_deployment_the_release_lacks_stops_before_anything_is_written() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("");
    replace_in_config(&p, "strategies:\n  api:", "strategies:\n  web:");
    let (code, _, err) = deploy_json(&p, 1);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`strategies.web` needs the Deployment `web`"),
        "{err}"
    );
    assert!(err.contains("slipway.yaml:"), "{err}");
    let namespaces = common::sandbox::kubectl(&p.kubeconfig(), &["get", "namespace", "shop-dev"]);
    assert!(!namespaces.status.success(), "nothing was written");
}

#[test]
fn a_canary_a_killed_release_left_is_removed_by_the_next_release() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("");
    let (code, _, err) = deploy_json(&p, 1);
    assert_eq!(code, 0, "{err}");
    // What a release killed in the middle of its canary leaves: the canary Deployment.
    let leftover = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api-canary\n  labels: { slipway.dev/canary-of: api }\nspec:\n  replicas: 1\n  selector:\n    matchLabels: { app: api, slipway.dev/canary-of: api }\n  template:\n    metadata:\n      labels: { app: api, slipway.dev/canary-of: api }\n    spec:\n      containers: [{ name: api, image: registry.example.com/shop/api:9 }]\n";
    kubectl_apply(&p, "leftover.yaml", leftover);
    assert_eq!(canary_objects(&p), "api-canary");

    // The same version again: no canary runs, and the leftover goes.
    let (code, events, err) = deploy_json(&p, 1);
    assert_eq!(code, 0, "{err}");
    assert!(!events.iter().any(|e| e["event"] == "canary-step"));
    assert_eq!(canary_objects(&p), "");
}

#[test]
fn ctrl_c_during_a_canary_removes_it_and_leaves_the_stable_pods_untouched() {
    use std::io::{BufRead, BufReader};
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("");
    replace_in_config(&p, "weight: 25, pause: 3s", "weight: 25, pause: 60s");
    let (code, _, err) = deploy_json(&p, 1);
    assert_eq!(code, 0, "{err}");
    let stable = pods_running(&p, &image(1));

    let mut child = p
        .command(&["deploy", "dev", "--image", &format!("api={}", image(2))])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    // Interrupted once the canary's pod is ready and its step is being watched.
    for line in lines.by_ref() {
        let line = line.unwrap();
        let watching = line.contains("api-canary ready: ready; watching its pods");
        seen.push(line);
        if watching {
            break;
        }
    }
    assert_eq!(canary_objects(&p), "api-canary", "{seen:#?}");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    seen.extend(lines.map(|l| l.unwrap()));
    let code = child.wait().unwrap().code();
    let text = seen.join("\n");
    assert_eq!(code, Some(130), "{text}");
    assert!(text.contains("aborted: its objects were removed"), "{text}");
    assert_eq!(canary_objects(&p), "");
    assert_eq!(pods_running(&p, &image(1)), stable);
    // The stable Deployment was never written, and the release is recorded as stopped.
    assert_eq!(stable_image(&p), image(1));
    let releases = history(&p);
    let newest = &releases[0];
    assert_eq!(newest["revision"], 2, "{releases:#?}");
    assert!(
        matches!(newest["status"].as_str(), Some("failed" | "rolled-back")),
        "{releases:#?}"
    );
    assert!(
        newest["outcome"].as_str().unwrap().contains("Interrupted"),
        "{releases:#?}"
    );
}

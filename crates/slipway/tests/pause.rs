//! Canary steps without a `pause`, through the binary against the project's sandbox: the
//! release pauses there (its canary left at that weight, recorded `paused`), a second
//! process resumes it to the end or aborts it, and a new deploy is refused meanwhile; an
//! nginx canary keeps its Ingress weight while paused and `status` shows its measurements.

mod common;

use common::SERIAL;
use common::progressive::{
    self, canary_objects, deploy, deploy_json, events, history, of_kind, pods_running,
    replace_in_config, run, stable_image,
};
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
    progressive::project(
        "  api:\n    canary:\n      steps:\n        - { weight: 25, pause: 1s }\n        - { weight: 50 }\n",
    )
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
    replace_in_config(&p, "- { weight: 25, pause: 1s }", "- { weight: 25 }");
    replace_in_config(&p, "- { weight: 50 }", "- { weight: 50, pause: 1s }");
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");
    let (code, events_of_2, err) = deploy_json(&p, 2);
    assert_eq!(code, PAUSED, "{err}");
    let done = of_kind(&events_of_2, "done");
    assert_eq!(done[0]["outcome"], "paused", "{events_of_2:#?}");
    assert_eq!(done[0]["paused"]["step"], 1, "{events_of_2:#?}");
    assert_eq!(
        p.kubectl_get(&["deployment", "api-canary"], "{.spec.replicas}"),
        "1"
    );

    let (code, out, err) = run(&p, &["deploy", "dev", "--resume", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let steps: Vec<(u64, u64)> = of_kind(&events(&out), "canary-step")
        .iter()
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
    let p = progressive::project(
        "  api:\n    canary:\n      traffic: nginx\n      ingress: api\n      service: api\n      steps:\n        - { weight: 30 }\n      analysis:\n        - name: health\n          http: { path: /healthz }\n",
    );
    progressive::write_service(&p);
    progressive::write_ingress(&p);
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

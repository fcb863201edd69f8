//! Blue-green releases through the binary, against the project's sandbox, watched from
//! outside with kubectl: the active Service never has ready endpoints of both versions,
//! the switch happens only once the preview is ready, a failure under traffic switches
//! back, and a finished release leaves exactly the rendered objects.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

use common::SERIAL;
use common::sandbox::{DevProject, image, kubectl_get};

const ROLLED_BACK: i32 = 4;

fn project(delay: &str) -> DevProject {
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "strategies:\n  api:\n    blue-green:\n      service: api\n      pre-switch: 1s\n      scale-down-delay: {delay}\n"
    ));
    fs::write(config, text).unwrap();
    fs::write(
        p.path().join("k8s/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: { app: api }\n  ports:\n    - { name: http, port: 80, targetPort: http }\n",
    )
    .unwrap();
    p
}

fn get(p: &DevProject, what: &[&str], jsonpath: &str) -> String {
    let out = kubectl_get(&p.kubeconfig(), "shop-dev", what, jsonpath);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The images behind the ready endpoints of the Service `api`, as kubectl sees them now.
fn serving_images(p: &DevProject) -> BTreeSet<String> {
    let images: BTreeMap<String, String> = get(
        p,
        &["pods"],
        "{range .items[*]}{.status.podIP} {.spec.containers[0].image}{\"\\n\"}{end}",
    )
    .lines()
    .filter_map(|l| {
        let (ip, image) = l.split_once(' ')?;
        Some((ip.to_owned(), image.to_owned()))
    })
    .collect();
    get(
        p,
        &["endpointslices", "-l", "kubernetes.io/service-name=api"],
        "{range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready}{\"\\n\"}{end}",
    )
    .lines()
    .filter(|l| l.ends_with(" true"))
    .filter_map(|l| images.get(l.split(' ').next()?).cloned())
    .collect()
}

/// Runs `deploy dev --image api=<n>` while watching the Service; returns the exit code,
/// standard error and every set of serving images seen.
fn deploy_watched(p: &DevProject, n: u32) -> (i32, String, Vec<BTreeSet<String>>) {
    let mut child = p
        .command(&["deploy", "dev", "--image", &format!("api={}", image(n))])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        let now = serving_images(p);
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        seen,
    )
}

fn leftovers(p: &DevProject) -> String {
    get(
        p,
        &["deployments,services", "-l", "slipway.dev/preview-of"],
        "{.items[*].metadata.name}",
    )
}

#[test]
fn a_blue_green_switch_never_serves_both_versions_and_ends_as_rendered() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("2s");
    let out = p.slipway(&["deploy", "dev", "--image", &format!("api={}", image(1))]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(serving_images(&p), BTreeSet::from([image(1)]));

    let (code, err, seen) = deploy_watched(&p, 2);
    assert_eq!(code, 0, "{err}");
    assert!(
        seen.iter().all(|s| s.len() <= 1),
        "both versions served at once: {seen:?}"
    );
    // Old, then new: one switch.
    let versions: Vec<&BTreeSet<String>> = seen.iter().filter(|s| !s.is_empty()).collect();
    assert_eq!(
        versions.first().unwrap(),
        &&BTreeSet::from([image(1)]),
        "{seen:?}"
    );
    assert_eq!(
        versions.last().unwrap(),
        &&BTreeSet::from([image(2)]),
        "{seen:?}"
    );
    let switch = err
        .find("switched to the new version in one write")
        .expect(&err);
    let preview = err.find("starts behind service/api-preview").expect(&err);
    assert!(preview < switch, "{err}");
    // Exactly the rendered objects: the Service's own selector, no preview.
    assert_eq!(
        get(&p, &["service", "api"], "{.spec.selector}"),
        "{\"app\":\"api\"}"
    );
    assert_eq!(leftovers(&p), "");
    assert_eq!(
        get(&p, &["deployments"], "{.items[*].metadata.name}"),
        "api"
    );
    assert_eq!(
        get(
            &p,
            &["deployment", "api"],
            "{.spec.template.spec.containers[0].image}"
        ),
        image(2)
    );
}

#[test]
fn a_version_that_fails_after_the_switch_is_switched_back_in_one_write() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("6s");
    let out = p.slipway(&["deploy", "dev", "--image", &format!("api={}", image(1))]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stable = get(&p, &["pods", "-l", "app=api"], "{.items[*].metadata.name}");

    // Ready for three seconds after each start, then the process dies: after the switch.
    p.set_behavior("crash-after=3s");
    let (code, err, seen) = deploy_watched(&p, 2);
    assert_eq!(code, ROLLED_BACK, "{err}");
    assert!(
        err.contains("switched to the new version in one write"),
        "{err}"
    );
    assert!(
        err.contains("aborted: all traffic is back on the previous version"),
        "{err}"
    );
    assert!(
        seen.iter().all(|s| s.len() <= 1),
        "both versions served at once: {seen:?}"
    );
    assert!(seen.contains(&BTreeSet::from([image(2)])), "{seen:?}");
    assert_eq!(serving_images(&p), BTreeSet::from([image(1)]));
    assert_eq!(
        get(&p, &["pods", "-l", "app=api"], "{.items[*].metadata.name}"),
        stable,
        "the previous version's pods were never touched"
    );
    assert_eq!(
        get(&p, &["service", "api"], "{.spec.selector}"),
        "{\"app\":\"api\"}"
    );
    assert_eq!(leftovers(&p), "");
}

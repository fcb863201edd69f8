//! Blue-green releases through the binary, against the project's sandbox, watched from
//! outside with kubectl: the active Service never has ready endpoints of both versions,
//! the switch happens only once the preview is ready, a failure under traffic switches
//! back, a finished release leaves exactly the rendered objects, and `rollback` inside the
//! scale-down delay switches back in one write — with the deploy running, or killed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

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

/// What the Service `api` serves, watched from outside while it runs: `kubectl get
/// endpointslices --watch` for its endpoints and `kubectl get pods --watch` for the
/// image behind each address (the sandbox never gives an address twice). Every change
/// kubectl reports is kept, not a sample.
struct Serving {
    slices: (Child, Arc<Mutex<Vec<Value>>>),
    pods: (Child, Arc<Mutex<Vec<Value>>>),
}

impl Serving {
    fn watch(p: &DevProject) -> Serving {
        Serving {
            slices: stream(
                p,
                &["endpointslices", "-l", "kubernetes.io/service-name=api"],
            ),
            pods: stream(p, &["pods"]),
        }
    }

    /// Every set of images behind the Service's ready endpoints, in the order kubectl
    /// reported them, without repeats.
    fn stop(mut self) -> Vec<BTreeSet<String>> {
        // The last events in flight reach kubectl's output first.
        std::thread::sleep(Duration::from_millis(300));
        let _ = self.slices.0.kill();
        let _ = self.pods.0.kill();
        let text = |v: &Value, at: &str| v.pointer(at).and_then(Value::as_str).map(str::to_owned);
        let images: BTreeMap<String, String> = self
            .pods
            .1
            .lock()
            .unwrap()
            .iter()
            .filter_map(|pod| {
                Some((
                    text(pod, "/status/podIP")?,
                    text(pod, "/spec/containers/0/image")?,
                ))
            })
            .collect();
        let mut ready: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut seen: Vec<BTreeSet<String>> = Vec::new();
        for slice in self.slices.1.lock().unwrap().iter() {
            let addresses = slice["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["conditions"]["ready"] == true)
                .filter_map(|e| text(e, "/addresses/0"))
                .collect();
            ready.insert(text(slice, "/metadata/name").unwrap_or_default(), addresses);
            let now: BTreeSet<String> = ready
                .values()
                .flatten()
                .map(|ip| images.get(ip).cloned().unwrap_or_else(|| format!("? {ip}")))
                .collect();
            if seen.last() != Some(&now) {
                seen.push(now);
            }
        }
        seen
    }
}

/// `kubectl get <what> --watch -o json`: the objects as kubectl reports them, once the
/// first one (the state now) came. (Not a JSONPath with `range`: kubectl's JSONPath
/// printer prints a `range` only for the first object of a watch.)
fn stream(p: &DevProject, what: &[&str]) -> (Child, Arc<Mutex<Vec<Value>>>) {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(p.kubeconfig())
        .args(["-n", "shop-dev", "get"])
        .args(what)
        .args(["--watch", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let objects = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().unwrap();
    let sink = Arc::clone(&objects);
    std::thread::spawn(move || {
        let reader = std::io::BufReader::new(out);
        for object in serde_json::Deserializer::from_reader(reader).into_iter::<Value>() {
            match object {
                Ok(o) => sink.lock().unwrap().push(o),
                Err(_) => break,
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while objects.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "kubectl's watch printed nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, objects)
}

/// Runs `deploy dev --image api=<n>` while watching the Service; returns the exit code,
/// standard error and every set of serving images seen.
fn deploy_watched(p: &DevProject, n: u32) -> (i32, String, Vec<BTreeSet<String>>) {
    let serving = Serving::watch(p);
    let out = p.slipway(&["deploy", "dev", "--image", &format!("api={}", image(n))]);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        serving.stop(),
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
    first_release(&p);
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
    first_release(&p);
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

/// The first release, of image 1, which each test then changes.
fn first_release(p: &DevProject) {
    let out = p.slipway(&["deploy", "dev", "--image", &format!("api={}", image(1))]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a release switched back shows from outside: never both versions at once; old,
/// new, old, with nothing between.
fn assert_switched_then_back(seen: &[BTreeSet<String>]) {
    assert!(
        seen.iter().all(|s| s.len() <= 1),
        "both versions served at once: {seen:?}"
    );
    let versions: Vec<&BTreeSet<String>> = seen.iter().filter(|s| !s.is_empty()).collect();
    assert_eq!(
        versions,
        [
            &BTreeSet::from([image(1)]),
            &BTreeSet::from([image(2)]),
            &BTreeSet::from([image(1)])
        ],
        "{seen:?}"
    );
}

/// Back as before the release: the previous version's same pods (none started), the
/// Service's rendered selector, no preview left.
fn assert_back_as_before(p: &DevProject, stable_hash: &str, stable: &str) {
    assert_eq!(pods_of(p, stable_hash), stable);
    assert_eq!(
        get(p, &["service", "api"], "{.spec.selector}"),
        "{\"app\":\"api\"}"
    );
    assert_eq!(leftovers(p), "");
}

/// The pods of the Service's app and their `pod-template-hash`, as `(names, hash)` of the
/// one version running.
fn stable_pods(p: &DevProject) -> (String, String) {
    let hash = get(
        p,
        &["pods", "-l", "app=api"],
        "{.items[0].metadata.labels.pod-template-hash}",
    );
    let names = pods_of(p, &hash);
    assert!(!names.is_empty() && !hash.is_empty(), "no pods of api");
    (names, hash)
}

/// The names of the pods of one ReplicaSet, by its `pod-template-hash`.
fn pods_of(p: &DevProject, hash: &str) -> String {
    get(
        p,
        &["pods", "-l", &format!("app=api,pod-template-hash={hash}")],
        "{.items[*].metadata.name}",
    )
}

/// Starts `deploy dev --image api=<n>` in the background and returns once the Service
/// serves the new version only (the switch).
fn deploy_until_switched(p: &DevProject, n: u32) -> Child {
    let mut child = p
        .command(&["deploy", "dev", "--image", &format!("api={}", image(n))])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while serving_images(p) != BTreeSet::from([image(n)]) {
        assert!(
            Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "the deploy never switched"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// `kubectl get service api --watch`: every selector the Service has from now on, as
/// kubectl reports them.
fn watch_selector(p: &DevProject) -> (Child, Arc<Mutex<Vec<Value>>>) {
    stream(p, &["service", "api"])
}

/// The selectors kubectl saw, as JSON text, without repeats of the same one in a row.
fn distinct(services: &Mutex<Vec<Value>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for service in services.lock().unwrap().iter() {
        let selector = service["spec"]["selector"].to_string();
        if out.last() != Some(&selector) {
            out.push(selector);
        }
    }
    out
}

fn history(p: &DevProject) -> Vec<serde_json::Value> {
    let out = p.slipway(&["history", "dev", "-o", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["namespaces"][0]["releases"].as_array().unwrap().clone()
}

#[test]
fn a_rollback_inside_the_scale_down_delay_switches_back_in_one_write_and_the_deploy_concludes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("120s");
    first_release(&p);
    let (stable, stable_hash) = stable_pods(&p);

    let serving = Serving::watch(&p);
    let deploy = deploy_until_switched(&p, 2);
    let (mut watch, selectors) = watch_selector(&p);
    let status = p.slipway(&["status", "dev"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("SWITCHED: revision 2 serves through service/api; the previous pods of deployment/api stay until")
            && status.contains("switch back in one write: slipway rollback dev"),
        "{status}"
    );
    let rolled = p.slipway(&["rollback", "dev"]);
    let (code, err) = (
        rolled.status.code().unwrap(),
        String::from_utf8_lossy(&rolled.stderr).into_owned(),
    );
    let deployed = deploy.wait_with_output().unwrap();
    let deploy_err = String::from_utf8_lossy(&deployed.stderr).into_owned();
    let _ = watch.kill();
    let seen = serving.stop();

    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "service/api switched back to the previous version of deployment/api in one write"
        ),
        "{err}"
    );
    assert!(err.contains("revision 2 rolled-back"), "{err}");
    // The deploy ended inside its two-minute delay, rolled back.
    assert_eq!(deployed.status.code(), Some(ROLLED_BACK), "{deploy_err}");
    assert!(
        deploy_err.contains("rolled back by tester@ci during the scale-down delay"),
        "{deploy_err}"
    );
    assert_switched_then_back(&seen);
    assert_eq!(serving_images(&p), BTreeSet::from([image(1)]));
    // One write: the first selector after the switch is the previous version's.
    let selectors = distinct(&selectors);
    assert!(
        selectors.len() >= 2 && !selectors[0].contains(&stable_hash),
        "{selectors:?}"
    );
    assert!(
        selectors[1].contains(&format!("\"pod-template-hash\":\"{stable_hash}\"")),
        "{selectors:?}"
    );
    // No pod started: the previous version's pods are the same ones.
    assert_back_as_before(&p, &stable_hash, &stable);
    let releases = history(&p);
    assert_eq!(releases[0]["revision"], 2, "{releases:?}");
    assert_eq!(releases[0]["status"], "rolled-back", "{releases:?}");
    assert_eq!(releases[1]["status"], "deployed", "{releases:?}");
}

#[test]
fn a_rollback_after_the_deploy_was_killed_inside_the_delay_switches_back_and_restores() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("120s");
    first_release(&p);
    let (stable, stable_hash) = stable_pods(&p);

    let serving = Serving::watch(&p);
    let mut deploy = deploy_until_switched(&p, 2);
    deploy.kill().unwrap(); // SIGKILL: nothing of the deploy runs any more.
    deploy.wait().unwrap();
    let rolled = p.slipway(&["rollback", "dev"]);
    let (code, err) = (
        rolled.status.code().unwrap(),
        String::from_utf8_lossy(&rolled.stderr).into_owned(),
    );
    let seen = serving.stop();

    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("switched back to the previous version of deployment/api in one write"),
        "{err}"
    );
    assert!(err.contains("its deploy is gone"), "{err}");
    assert_switched_then_back(&seen);
    assert_eq!(serving_images(&p), BTreeSet::from([image(1)]));
    assert_back_as_before(&p, &stable_hash, &stable);
    let releases = history(&p);
    assert_eq!(releases[0]["revision"], 3, "{releases:?}");
    assert_eq!(releases[0]["status"], "deployed", "{releases:?}");
    assert_eq!(releases[1]["status"], "failed", "{releases:?}");
    let outcome = releases[1]["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("service/api switched back to the previous version of deployment/api"),
        "{outcome}"
    );
}

#[test]
fn a_warning_event_about_a_new_pod_after_the_switch_switches_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project("60s");
    first_release(&p);
    let (stable, stable_hash) = stable_pods(&p);
    let deploy = deploy_until_switched(&p, 2);
    let pod = get(
        &p,
        &["pods", "-l", "slipway.dev/preview-of=api"],
        "{.items[0].metadata.name}",
    );
    assert!(!pod.is_empty());
    // Events carry whole seconds: this one comes after the second the phase began.
    std::thread::sleep(Duration::from_millis(1100));
    // What a kubelet reports of a volume it cannot mount, written here with kubectl.
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: {pod}.mount\n  namespace: shop-dev\ninvolvedObject:\n  kind: Pod\n  name: {pod}\n  namespace: shop-dev\n  fieldPath: spec.containers{{api}}\ntype: Warning\nreason: FailedMount\nmessage: 'MountVolume.SetUp failed for volume \"tls\" : secret \"tls\" not found'\nsource:\n  component: kubelet\ncount: 1\n"
    );
    let mut create = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(p.kubeconfig())
        .args(["create", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut create.stdin.take().unwrap(), event.as_bytes()).unwrap();
    assert!(create.wait().unwrap().success());

    let out = deploy.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(ROLLED_BACK), "{err}");
    assert!(
        err.contains(&format!(
            "WarningEvent: after the switch: pod {pod}: Warning FailedMount: MountVolume.SetUp failed"
        )),
        "{err}"
    );
    assert_eq!(serving_images(&p), BTreeSet::from([image(1)]));
    assert_eq!(pods_of(&p, &stable_hash), stable);
    assert_eq!(leftovers(&p), "");
}

//! What the tests of progressive releases (canary, analysis checks, paused releases)
//! share: a [`DevProject`] with a `strategies:` block, its Service and Ingress in front
//! of the Deployment `api`, deploys of a numbered image, and what kubectl and `history`
//! say of the result.

use std::collections::BTreeSet;
use std::fs;

use super::sandbox::{DevProject, image};

/// 4: the release failed and the previous one was restored.
pub const ROLLED_BACK: i32 = 4;

/// A [`DevProject`] whose `dev` environment allows a minute and settles for no time, with
/// `strategies` appended as the text under a top-level `strategies:` (its first line
/// indented by two spaces: `"  api:\n    canary:\n…"`).
pub fn project(strategies: &str) -> DevProject {
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("strategies:\n");
    text.push_str(strategies);
    fs::write(config, text).unwrap();
    p
}

/// Writes `k8s/service.yaml`: the Service `api` (port 80, named `http`) in front of the
/// Deployment's pods.
pub fn write_service(p: &DevProject) {
    fs::write(
        p.path().join("k8s/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: { app: api }\n  ports:\n    - { name: http, port: 80, targetPort: http }\n",
    )
    .unwrap();
}

/// Writes `k8s/ingress.yaml`: the nginx Ingress `api` of host `shop.example`, all of its
/// paths to the Service `api` ([`write_service`]).
pub fn write_ingress(p: &DevProject) {
    fs::write(
        p.path().join("k8s/ingress.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: api\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: shop.example\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: { name: api, port: { number: 80 } }\n",
    )
    .unwrap();
}

/// Runs slipway with `args` in the project: the exit code, standard output and error.
pub fn run(p: &DevProject, args: &[&str]) -> (i32, String, String) {
    let out = p.slipway(args);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `deploy dev --image api=<image(n)>`: the exit code, standard output and error.
pub fn deploy(p: &DevProject, n: u32) -> (i32, String, String) {
    run(
        p,
        &["deploy", "dev", "--image", &format!("api={}", image(n))],
    )
}

/// `deploy dev -o json --image api=<image(n)>`: the exit code, the JSON events and
/// standard error.
pub fn deploy_json(p: &DevProject, n: u32) -> (i32, Vec<serde_json::Value>, String) {
    let (code, out, err) = run(
        p,
        &[
            "deploy",
            "dev",
            "-o",
            "json",
            "--image",
            &format!("api={}", image(n)),
        ],
    );
    (code, events(&out), err)
}

/// The JSON events of `-o json` output, one a line.
pub fn events(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The events whose `event` is `kind`.
pub fn of_kind<'e>(events: &'e [serde_json::Value], kind: &str) -> Vec<&'e serde_json::Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The index of the first event that is `wanted`; panics when there is none.
pub fn position(
    events: &[serde_json::Value],
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> usize {
    events
        .iter()
        .position(wanted)
        .unwrap_or_else(|| panic!("no such event in {events:#?}"))
}

/// The names of the pods of `shop-dev` that run `image` and are not terminating.
pub fn pods_running(p: &DevProject, image: &str) -> BTreeSet<String> {
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

/// The names of the canary's Deployments, Services and Ingresses (labelled
/// `slipway.dev/canary-of`), space-separated.
pub fn canary_objects(p: &DevProject) -> String {
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
pub fn stable_image(p: &DevProject) -> String {
    p.kubectl_get(
        &["deployment", "api"],
        "{.spec.template.spec.containers[0].image}",
    )
}

/// `history -o json`: the releases of `shop-dev`, newest first.
pub fn history(p: &DevProject) -> Vec<serde_json::Value> {
    let (code, out, err) = run(p, &["history", "dev", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc["namespaces"][0]["releases"].as_array().unwrap().clone()
}

/// Writes `yaml` to `<project>/<file>` and `kubectl apply`s it in `shop-dev`, as someone
/// (or something) other than slipway would; panics unless kubectl succeeds.
pub fn kubectl_apply(p: &DevProject, file: &str, yaml: &str) {
    let path = p.path().join(file);
    fs::write(&path, yaml).unwrap();
    let out = super::sandbox::kubectl(
        &p.kubeconfig(),
        &["-n", "shop-dev", "apply", "-f", &path.display().to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replaces `from` (which must be there) by `to` in the project's `slipway.yaml`.
pub fn replace_in_config(p: &DevProject, from: &str, to: &str) {
    let config = p.path().join("slipway.yaml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(from),
        "`{from}` is not in slipway.yaml:\n{text}"
    );
    fs::write(config, text.replace(from, to)).unwrap();
}

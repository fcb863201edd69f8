//! Whole-output snapshots of what users read: the help texts, a configuration error, a
//! validation failure, a deploy's plain-text progress and the diagnosis of a release that
//! was rolled back. A change to any of them shows as a reviewed diff of the files in
//! `tests/snapshots/` (`cargo insta review`, or `INSTA_UPDATE=always` then `git diff`).
//!
//! What differs from run to run — pod names, pod IPs, UIDs, how many times an event
//! repeated, how many intermediate progress lines a rollout printed — is replaced or
//! dropped by [`normalise`] before the comparison; everything else is compared as is.

use std::fs;
use std::path::Path;
use std::process::Output;

mod common;

use common::sandbox::{self, DevProject};

/// The binary with `args` in `dir`, without colours and with a fixed user and width.
fn run(dir: &Path, args: &[&str]) -> Output {
    sandbox::command(dir, args)
        .env_remove("COLUMNS")
        .env_remove("SLIPWAY_LOG")
        .output()
        .expect("the slipway binary runs")
}

fn both(out: &Output) -> String {
    format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Replaces what changes from run to run, and drops intermediate rollout lines (how many
/// a rollout prints depends on timing; the first plan line and the final state stay).
fn normalise(text: &str) -> String {
    let rules: &[(&str, &str)] = &[
        // Pod names: `api-6cd5b68674-j2s2d` (the template hash is stable, the suffix not).
        (r"\b(api-[0-9a-f]{8,10})-[a-z0-9]{5}\b", "$1-[pod]"),
        (r"\b10\.244\.\d+\.\d+\b", "[pod-ip]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uid]",
        ),
        (r" \(x\d+\)", " (xN)"),
        (
            r"in \d+ms \(\d+ms including waiting\)",
            "in [t] ([t] including waiting)",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        // The registry of the test images cannot be reached; how that fails depends on
        // the machine's resolver.
        (
            r"\(registry `([^`]*)` is unreachable: .*?\); ",
            "(registry `$1` is unreachable: [reason]); ",
        ),
    ];
    let mut text = text.to_owned();
    for (pattern, with) in rules {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, *with)
            .into_owned();
    }
    let mut out: Vec<&str> = Vec::new();
    // Where the "last events:" of a diagnosis start in `out`: events of the same second
    // come in any order, so they are compared sorted; and which of the pod's `Normal`
    // events (pulled, created, started) are among the last few shown depends on timing,
    // so only its warnings are compared.
    let mut events: Option<usize> = None;
    for line in text.lines() {
        if line.contains(" rolling: ") {
            continue;
        }
        // A line repeated (a probe failing every second) is shown once.
        if out.last() == Some(&line) {
            continue;
        }
        match events {
            Some(start) if !line.starts_with("    ") => {
                out[start..].sort_unstable();
                events = None;
            }
            Some(_) if line.starts_with("    Normal ") => continue,
            _ => {}
        }
        out.push(line);
        if line.trim() == "last events:" {
            events = Some(out.len());
        }
    }
    if let Some(start) = events {
        out[start..].sort_unstable();
    }
    out.join("\n") + "\n"
}

#[test]
fn help_texts() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("help_short", &["-h"][..]),
        ("help_long", &["--help"][..]),
        ("help_deploy", &["deploy", "--help"][..]),
        ("help_rollback", &["rollback", "--help"][..]),
    ] {
        let out = run(dir.path(), args);
        assert!(out.status.success(), "{args:?}: {}", both(&out));
        insta::assert_snapshot!(name, String::from_utf8_lossy(&out.stdout));
    }
}

const PROJECT: &str = "\
app: shop
registry: registry.example.com/shop
images:
  api: {}
environmnets:
  dev:
    cluster: sandbox
    namespace: shop-dev
";

#[test]
fn a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("slipway.yaml"), PROJECT).unwrap();
    let out = run(dir.path(), &["validate", "dev"]);
    insta::assert_snapshot!(both(&out));
}

/// A Deployment that parses but breaks the rules: its selector matches no pod of its
/// template, an unpinned `latest` image, no probes, no resources, root allowed.
const UNSAFE_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: { app: api }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: api
          image: registry.example.com/shop/api:latest
          ports:
            - containerPort: 8080
";

#[test]
fn a_validation_failure() {
    let p = DevProject::new("");
    fs::write(p.path().join("k8s/api.yaml"), UNSAFE_DEPLOYMENT).unwrap();
    let out = run(p.path(), &["validate", "dev"]);
    insta::assert_snapshot!(normalise(&both(&out)));
    assert!(
        !p.kubeconfig().exists(),
        "validate starts no sandbox and writes to no cluster"
    );
}

#[test]
fn a_deploy_and_a_rolled_back_release() {
    let p = DevProject::new("    settle: 0s\n");
    let image = |n| format!("api={}", sandbox::image(n));
    let first = run(p.path(), &["deploy", "dev", "--image", &image(1)]);
    assert_eq!(first.status.code(), Some(0), "{}", both(&first));
    insta::assert_snapshot!("deploy_progress", normalise(&both(&first)));

    // The next release never becomes ready: it fails, revision 1 is restored.
    p.set_behavior("never-ready");
    let failed = run(
        p.path(),
        &["deploy", "dev", "--timeout", "8s", "--image", &image(2)],
    );
    assert_eq!(failed.status.code(), Some(4), "{}", both(&failed));
    insta::assert_snapshot!("rollback_diagnosis", normalise(&both(&failed)));
}

#[test]
fn the_normaliser_keeps_what_is_stable() {
    let text = "  + Deployment/api\n  deployment/api rolling: updated 0/2\n  pod: api-6cd5b68674-j2s2d at 10.244.0.6\n  x\n  x\n  last events:\n    Warning b (x3)\n    Normal c\n    Warning a\n  last log lines:\n";
    assert_eq!(
        normalise(text),
        "  + Deployment/api\n  pod: api-6cd5b68674-[pod] at [pod-ip]\n  x\n  last events:\n    Warning a\n    Warning b (xN)\n  last log lines:\n"
    );
}

//! Builders for the integration tests: small, valid objects that a test bends into the
//! shape it needs.
#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;

use serde_json::{Value, json};
use slipway_check::{CheckOptions, Finding, Level, Manifest, Report, check};

pub fn manifest(file: &str, line: usize, object: Value) -> Manifest {
    Manifest::new(object, PathBuf::from(file), line)
}

/// A container that passes every rule.
pub fn good_container(name: &str) -> Value {
    json!({
        "name": name,
        "image": format!("registry.example.com/{name}:1.2.3@sha256:{}", "a".repeat(64)),
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
        "livenessProbe": {"tcpSocket": {"port": 8080}},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"}
        },
        "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true}
    })
}

/// A Deployment `name` with pod labels `app: name` that passes every rule.
pub fn good_deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [good_container(name)]}
            }
        }
    })
}

pub fn service(name: &str, selector: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": "http"}]}
    })
}

pub fn pdb(name: &str, selector: Value) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"maxUnavailable": 1, "selector": selector}
    })
}

/// The container `index` of a Deployment built by [`good_deployment`].
pub fn container_mut(deployment: &mut Value, index: usize) -> &mut Value {
    &mut deployment["spec"]["template"]["spec"]["containers"][index]
}

pub fn pod_spec_mut(deployment: &mut Value) -> &mut Value {
    &mut deployment["spec"]["template"]["spec"]
}

/// Checks `objects` (one file each, `k8s/<n>.yaml`, line 1) with default options.
pub fn run(objects: Vec<Value>) -> Report {
    run_with(objects, &CheckOptions::default())
}

pub fn run_with(objects: Vec<Value>, options: &CheckOptions) -> Report {
    let manifests: Vec<Manifest> = objects
        .into_iter()
        .enumerate()
        .map(|(i, o)| manifest(&format!("k8s/{i}.yaml"), 1, o))
        .collect();
    check(&manifests, options)
}

/// The findings of `rule`.
pub fn of_rule<'r>(report: &'r Report, rule: &str) -> Vec<&'r Finding> {
    report.findings.iter().filter(|f| f.rule == rule).collect()
}

/// The findings of `rule`, as `level field: message`.
pub fn lines(report: &Report, rule: &str) -> Vec<String> {
    of_rule(report, rule)
        .into_iter()
        .map(|f| format!("{} {}: {}", f.level, f.field, f.message))
        .collect()
}

pub fn production() -> CheckOptions {
    CheckOptions {
        production: true,
        ..CheckOptions::default()
    }
}

pub fn with_level(rule: &str, level: Level) -> CheckOptions {
    let mut options = CheckOptions::default();
    options.levels.insert(rule.to_owned(), level);
    options
}

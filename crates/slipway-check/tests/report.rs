//! Level overrides, ordering of findings, and the `rules` overrides check.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::json;
use slipway_check::{Level, check, check_levels};

fn rootish_deployment() -> serde_json::Value {
    let mut d = good_deployment("api", 2);
    container_mut(&mut d, 0)
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    d
}

#[test]
fn off_silences_a_rule() {
    let report = run_with(
        vec![rootish_deployment()],
        &with_level("run-as-root", Level::Off),
    );
    assert!(of_rule(&report, "run-as-root").is_empty());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn error_promotes_a_warning() {
    let report = run(vec![rootish_deployment()]);
    assert_eq!(of_rule(&report, "run-as-root")[0].level, Level::Warning);
    assert!(!report.has_errors());

    let report = run_with(
        vec![rootish_deployment()],
        &with_level("run-as-root", Level::Error),
    );
    assert_eq!(of_rule(&report, "run-as-root")[0].level, Level::Error);
    assert!(report.has_errors());
}

#[test]
fn warning_demotes_an_error() {
    let mut d = good_deployment("api", 2);
    container_mut(&mut d, 0)["image"] = json!("api:latest");
    let report = run_with(vec![d], &with_level("image-pinned", Level::Warning));
    assert_eq!(of_rule(&report, "image-pinned")[0].level, Level::Warning);
    assert!(!report.has_errors());
}

#[test]
fn findings_are_sorted_by_file_line_and_rule_and_stable() {
    let mut bad = good_deployment("api", 1);
    bad["spec"]["strategy"] = json!({"type": "Recreate"});
    container_mut(&mut bad, 0)["image"] = json!("api:latest");
    container_mut(&mut bad, 0)
        .as_object_mut()
        .unwrap()
        .remove("readinessProbe");
    let svc = service("api", json!({"app": "nothing"}));
    let manifests = vec![
        manifest("k8s/b.yaml", 20, svc.clone()),
        manifest("k8s/b.yaml", 1, bad.clone()),
        manifest("k8s/a.yaml", 5, svc),
        manifest("k8s/a.yaml", 1, bad),
    ];
    let report = check(&manifests, &production());
    let order: Vec<(String, usize, &str)> = report
        .findings
        .iter()
        .map(|f| (f.file.display().to_string(), f.line, f.rule))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(
        order
            .iter()
            .map(|(f, l, r)| format!("{f}:{l} {r}"))
            .collect::<Vec<_>>(),
        vec![
            "k8s/a.yaml:1 image-pinned",
            "k8s/a.yaml:1 last-replica-down",
            "k8s/a.yaml:1 readiness-probe",
            "k8s/a.yaml:5 service-selector",
            "k8s/b.yaml:1 duplicate-object",
            "k8s/b.yaml:1 image-pinned",
            "k8s/b.yaml:1 last-replica-down",
            "k8s/b.yaml:1 readiness-probe",
            "k8s/b.yaml:20 duplicate-object",
            "k8s/b.yaml:20 service-selector",
        ]
    );
    // The same input in another order gives the same report.
    let mut reversed = manifests.clone();
    reversed.reverse();
    let again = check(&reversed, &production());
    assert_eq!(again, report);
    assert_eq!(check(&manifests, &production()), report);
}

#[test]
fn check_levels_reports_unknown_rules_with_a_suggestion() {
    let levels = BTreeMap::from([
        ("pdb-mising".to_owned(), Level::Error),
        ("readiness-probe".to_owned(), Level::Off),
    ]);
    let problems = check_levels(&levels);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].message, "unknown rule `pdb-mising`");
    assert_eq!(problems[0].fix, "did you mean `pdb-missing`?");
}

#[test]
fn check_levels_reports_that_schema_cannot_be_changed() {
    let problems = check_levels(&BTreeMap::from([("schema".to_owned(), Level::Off)]));
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].message,
        "the level of rule `schema` cannot be changed"
    );
}

//! `strategies`: canary rollouts as written, and every mistake in them with its line.

mod common;

use std::time::Duration;

use common::{Project, assert_single, diagnostics};
use slipway_config::{BlueGreen, Canary, CanaryStep, Rollout, Strategy, Traffic};

fn canary(s: &Strategy) -> &Canary {
    match &s.rollout {
        Rollout::Canary(c) => c,
        other => panic!("not a canary: {other:?}"),
    }
}

const ENVS: &str = "environments:\n  dev:\n    cluster: sandbox\n    namespace: demo-dev\n";

#[test]
fn a_canary_is_read_with_its_steps_and_reaches_every_environment() {
    let yaml = format!(
        "app: demo\nstrategies:\n  api:\n    canary:\n      steps:\n        - {{ weight: 10, pause: 30s }}\n        - {{ weight: 50, pause: 2m }}\n{ENVS}"
    );
    let config = Project::with_files(&[]).load(&yaml).unwrap();
    let strategy = &config.environments[0].strategies["api"];
    assert_eq!(canary(strategy).traffic, Traffic::Replicas);
    assert_eq!(
        canary(strategy).steps,
        [
            CanaryStep {
                weight: 10,
                pause: Duration::from_secs(30)
            },
            CanaryStep {
                weight: 50,
                pause: Duration::from_secs(120)
            },
        ]
    );
    assert_eq!(strategy.at.line, 3);
}

#[test]
fn an_environment_replaces_a_workload_s_strategy() {
    let yaml = "app: demo\nstrategies:\n  api:\n    canary:\n      steps: [{ weight: 10, pause: 30s }]\n\
                environments:\n  dev:\n    cluster: sandbox\n    namespace: demo-dev\n    strategies:\n      api:\n        canary:\n          traffic: nginx\n          ingress: api\n          service: api\n          steps: [{ weight: 25, pause: 1s }]\n";
    let config = Project::with_files(&[]).load(yaml).unwrap();
    let env = canary(&config.environments[0].strategies["api"]);
    assert_eq!(
        env.traffic,
        Traffic::Nginx {
            ingress: "api".into(),
            service: "api".into()
        }
    );
    assert_eq!(env.steps[0].weight, 25);
    // The top level keeps its own.
    assert_eq!(canary(&config.strategies["api"]).steps[0].weight, 10);
}

#[test]
fn weights_must_grow_and_stay_below_100() {
    let yaml = format!(
        "app: demo\nstrategies:\n  api:\n    canary:\n      steps:\n        - {{ weight: 50, pause: 1s }}\n        - {{ weight: 20, pause: 1s }}\n        - {{ weight: 100, pause: 1s }}\n{ENVS}"
    );
    let diags = diagnostics(&[], &yaml);
    let messages: Vec<String> = diags.items.iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "weights grow from step to step: `20` follows `50`",
            "a weight is a percentage from 1 to 99, found `100`"
        ],
        "{diags:?}"
    );
    assert_eq!(diags.items[0].line, 7);
}

#[test]
fn nginx_needs_its_ingress_and_service() {
    assert_single(
        &[],
        &format!(
            "app: demo\nstrategies:\n  api:\n    canary:\n      traffic: nginx\n      service: api\n      steps: [{{ weight: 10, pause: 1s }}]\n{ENVS}"
        ),
        (
            4,
            5,
            "strategies.api.canary.ingress",
            "missing required key `ingress` in `strategies.api.canary`",
            Some("name the Ingress whose traffic is split"),
        ),
    );
}

#[test]
fn analysis_providers_are_refused_as_not_built() {
    assert_single(
        &[],
        &format!(
            "app: demo\nstrategies:\n  api:\n    canary:\n      steps: [{{ weight: 10, pause: 1s }}]\n      analysis: []\n{ENVS}"
        ),
        (
            6,
            7,
            "strategies.api.canary.analysis",
            "analysis providers (`prometheus`, `http`, `job`) are not built in this version",
            Some(
                "remove `analysis:`; the built-in checks (readiness, restarts and warning events of the canary's pods) always run",
            ),
        ),
    );
}

#[test]
fn a_blue_green_takes_its_defaults() {
    let yaml =
        format!("app: demo\nstrategies:\n  web:\n    blue-green:\n      service: web\n{ENVS}");
    let config = Project::with_files(&[]).load(&yaml).unwrap();
    assert_eq!(
        config.strategies["web"].rollout,
        Rollout::BlueGreen(BlueGreen {
            service: "web".into(),
            preview_service: "web-preview".into(),
            pre_switch: Duration::ZERO,
            scale_down_delay: Duration::from_secs(30),
        })
    );
}

#[test]
fn a_strategy_is_a_canary_or_a_blue_green_not_both() {
    assert_single(
        &[],
        &format!(
            "app: demo\nstrategies:\n  web:\n    canary:\n      steps: [{{ weight: 10, pause: 1s }}]\n    blue-green:\n      service: web\n{ENVS}"
        ),
        (
            6,
            5,
            "strategies.web.blue-green",
            "a Deployment rolls out as a canary or blue-green, not both",
            Some("keep one of `canary` and `blue-green`"),
        ),
    );
}

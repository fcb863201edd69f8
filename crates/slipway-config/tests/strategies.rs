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
        "app: demo\nstrategies:\n  api:\n    canary:\n      steps:\n        - {{ weight: 10, pause: 30s }}\n        - {{ weight: 50, pause: 2m }}\n        - {{ weight: 80 }}\n{ENVS}"
    );
    let config = Project::with_files(&[]).load(&yaml).unwrap();
    let strategy = &config.environments[0].strategies["api"];
    assert_eq!(canary(strategy).traffic, Traffic::Replicas);
    assert_eq!(
        canary(strategy).steps,
        [
            CanaryStep {
                weight: 10,
                pause: Some(Duration::from_secs(30))
            },
            CanaryStep {
                weight: 50,
                pause: Some(Duration::from_secs(120))
            },
            // Without a `pause` the step waits for `deploy --resume`.
            CanaryStep {
                weight: 80,
                pause: None
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

const ANALYSIS: &str = r#"app: demo
strategies:
  api:
    canary:
      traffic: nginx
      ingress: api
      service: api
      steps: [{ weight: 10, pause: 1m }]
      analysis:
        - name: success-rate
          prometheus:
            address: http://prometheus.monitoring:9090/
            query: sum(rate(x{canary="{{canary-service}}",status!~"5.."}[1m])) / sum(rate(x{canary="{{canary-service}}"}[1m]))
            success: result >= 0.95
            failure: result < 0.5
            token-env: PROMETHEUS_TOKEN
          interval: 5s
          count: 3
          failure-limit: 1
          no-data: pass
        - name: health
          http: { port: 80, path: /healthz, json: '.status == "ok"' }
        - name: smoke
          job: { image: curlimages/curl, command: [curl, -f, http://api-canary/], timeout: 1m }
"#;

#[test]
fn analysis_checks_are_read_with_their_defaults() {
    use slipway_config::analysis::{Condition, Op};
    use slipway_config::{Address, JobRun, NoData, Provider, SecretSource};
    let config = Project::with_files(&[])
        .load(&format!("{ANALYSIS}{ENVS}"))
        .unwrap();
    let checks = &canary(&config.strategies["api"]).analysis;
    assert_eq!(checks.len(), 3);
    let prom = &checks[0];
    assert_eq!(prom.name, "success-rate");
    assert_eq!(prom.at.line, 10);
    assert_eq!(
        (prom.interval, prom.count, prom.failure_limit, prom.no_data),
        (Duration::from_secs(5), 3, 1, NoData::Pass)
    );
    let Provider::Prometheus(p) = &prom.provider else {
        panic!("{prom:?}")
    };
    assert_eq!(
        p.address,
        Address::Url("http://prometheus.monitoring:9090".into())
    );
    assert!(p.query.contains("{{canary-service}}"));
    assert_eq!(
        p.success,
        Some(Condition {
            op: Op::Ge,
            value: 0.95
        })
    );
    assert_eq!(p.failure.as_ref().map(|c| c.op), Some(Op::Lt));
    assert_eq!(p.token, Some(SecretSource::Env("PROMETHEUS_TOKEN".into())));

    let http = &checks[1];
    assert_eq!(
        (http.interval, http.count, http.failure_limit, http.no_data),
        (Duration::from_secs(10), 1, 0, NoData::Fail)
    );
    let Provider::Http(h) = &http.provider else {
        panic!("{http:?}")
    };
    assert_eq!(
        (
            h.service.as_deref(),
            h.port.as_deref(),
            h.path.as_str(),
            h.status
        ),
        (None, Some("80"), "/healthz", 200)
    );
    assert_eq!(h.json.as_ref().unwrap().text, ".status == \"ok\"");

    let Provider::Job(j) = &checks[2].provider else {
        panic!("{:?}", checks[2])
    };
    assert_eq!(j.timeout, Duration::from_secs(60));
    assert_eq!(
        j.run,
        JobRun::Image {
            image: "curlimages/curl".into(),
            command: Some(vec![
                "curl".into(),
                "-f".into(),
                "http://api-canary/".into()
            ]),
        }
    );
}

#[test]
fn blue_green_phases_have_their_own_checks() {
    let yaml = format!(
        "app: demo\nstrategies:\n  web:\n    blue-green:\n      service: web\n      pre-switch-analysis:\n        - name: smoke\n          job: {{ manifest: smoke.yaml }}\n      post-switch-analysis:\n        - name: health\n          http: {{ path: /healthz, status: 204 }}\n{ENVS}"
    );
    let project = Project::with_files(&["smoke.yaml"]);
    let config = project.load(&yaml).unwrap();
    let Rollout::BlueGreen(bg) = &config.strategies["web"].rollout else {
        panic!()
    };
    assert_eq!(bg.pre_switch_analysis[0].name, "smoke");
    assert!(matches!(
        &bg.pre_switch_analysis[0].provider,
        slipway_config::Provider::Job(j) if j.run == slipway_config::JobRun::Manifest(project.path("smoke.yaml"))
    ));
    assert_eq!(bg.post_switch_analysis[0].name, "health");
}

/// A canary whose `analysis:` list is `checks` (each line indented by eight spaces).
fn with_checks(checks: &str) -> String {
    format!(
        "app: demo\nstrategies:\n  api:\n    canary:\n      traffic: nginx\n      ingress: api\n      service: api\n      steps: [{{ weight: 10, pause: 1s }}]\n      analysis:\n{checks}{ENVS}"
    )
}

#[test]
fn a_condition_that_does_not_compare_the_result_is_refused_with_its_line() {
    assert_single(
        &[],
        &with_checks(
            "        - name: rate\n          prometheus:\n            address: http://p:9090\n            query: up\n            success: value >= 1\n",
        ),
        (
            14,
            22,
            "strategies.api.canary.analysis[0].prometheus.success",
            "a condition compares `result`, found `value` on the left of `>=`",
            Some("write `result OP NUMBER`, e.g. `result >= 0.95`"),
        ),
    );
}

#[test]
fn a_prometheus_check_needs_a_condition() {
    assert_single(
        &[],
        &with_checks(
            "        - name: rate\n          prometheus:\n            address: http://p:9090\n            query: up\n",
        ),
        (
            11,
            11,
            "strategies.api.canary.analysis[0].prometheus.success",
            "missing required key `success` in `strategies.api.canary.analysis[0].prometheus`",
            Some(
                "a condition on the result: `success: result >= 0.95` and/or `failure: result > 0.05`",
            ),
        ),
    );
}

#[test]
fn an_unknown_placeholder_is_refused() {
    let d = diagnostics(
        &[],
        &with_checks(
            "        - name: rate\n          prometheus:\n            address: http://p:9090\n            query: up{service=\"{{canary}}\"}\n            success: result == 1\n",
        ),
    );
    assert_eq!(d.items.len(), 1, "{d:?}");
    let item = &d.items[0];
    assert_eq!(item.line, 13);
    assert_eq!(
        item.key,
        "strategies.api.canary.analysis[0].prometheus.query"
    );
    assert_eq!(item.message, "unknown placeholder `{{canary}}`");
}

#[test]
fn a_replicas_canary_has_no_service_placeholders() {
    assert_single(
        &[],
        &format!(
            "app: demo\nstrategies:\n  api:\n    canary:\n      steps: [{{ weight: 10, pause: 1s }}]\n      analysis:\n        - name: rate\n          prometheus: {{ address: http://p:9090, query: 'up{{service=\"{{{{canary-service}}}}\"}}', success: result == 1 }}\n{ENVS}"
        ),
        (
            8,
            56,
            "strategies.api.canary.analysis[0].prometheus.query",
            "`{{canary-service}}` has no value with `traffic: replicas`",
            Some(
                "the canary's pods sit behind the Deployment's own Service and have no Service of their own; select them by `{{canary-deployment}}` (their pods' names start with it)",
            ),
        ),
    );
}

#[test]
fn a_check_has_exactly_one_provider_and_a_name() {
    let d = diagnostics(
        &[],
        &with_checks(
            "        - name: both\n          http: {}\n          job: { image: busybox }\n        - interval: 5s\n          http: {}\n",
        ),
    );
    let found: Vec<(usize, &str, &str)> = d
        .items
        .iter()
        .map(|i| (i.line, i.key.as_str(), i.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                12,
                "strategies.api.canary.analysis[0].job",
                "a check has one provider"
            ),
            (
                13,
                "strategies.api.canary.analysis[1].name",
                "missing required key `name` in `strategies.api.canary.analysis[1]`"
            ),
        ]
    );
}

#[test]
fn counts_limits_and_no_data_are_checked() {
    let d = diagnostics(
        &[],
        &with_checks(
            "        - name: a\n          http: { status: 700 }\n        - name: b\n          http: {}\n          count: 2\n          failure-limit: 2\n        - name: c\n          job: { image: busybox }\n          no-data: pass\n        - name: d\n          http: {}\n          no-data: maybe\n",
        ),
    );
    let found: Vec<(usize, &str)> = d
        .items
        .iter()
        .map(|i| (i.line, i.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (11, "`700` is not an HTTP status"),
            (
                15,
                "`failure-limit: 2` tolerates every one of the 2 measurement(s)"
            ),
            (18, "`no-data` is for `prometheus` checks"),
            (21, "unknown no-data value `maybe`"),
        ]
    );
}

#[test]
fn an_http_check_of_a_replicas_canary_names_its_service() {
    assert_single(
        &[],
        &format!(
            "app: demo\nstrategies:\n  api:\n    canary:\n      steps: [{{ weight: 10, pause: 1s }}]\n      analysis:\n        - name: health\n          http: {{ path: /healthz }}\n{ENVS}"
        ),
        (
            8,
            11,
            "strategies.api.canary.analysis[0].http.service",
            "missing required key `service` in `strategies.api.canary.analysis[0].http`",
            Some(
                "with `traffic: replicas` the canary has no Service of its own: name the Service to ask",
            ),
        ),
    );
}

#[test]
fn a_json_condition_is_checked_and_tokens_come_from_a_variable_or_a_file() {
    let d = diagnostics(
        &[],
        &with_checks(
            "        - name: a\n          http: { json: '.status = 1' }\n        - name: b\n          prometheus: { address: p:9090, query: up, success: result > 0, token-env: 'abc def' }\n",
        ),
    );
    let found: Vec<(usize, &str, &str)> = d
        .items
        .iter()
        .map(|i| (i.line, i.key.as_str(), i.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                11,
                "strategies.api.canary.analysis[0].http.json",
                "`.status = 1` is not a condition: no comparison (`==`, `!=`, `>=`, `>`, `<=`, `<`)"
            ),
            (
                13,
                "strategies.api.canary.analysis[1].prometheus.address",
                "the address of Prometheus is an `http://` or `https://` URL"
            ),
            (
                13,
                "strategies.api.canary.analysis[1].prometheus.token-env",
                "`abc def` is not an environment variable name"
            ),
        ]
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
            pre_switch_analysis: vec![],
            post_switch_analysis: vec![],
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

#[test]
fn the_documented_analysis_example_loads() {
    let doc = include_str!("../../../docs/config.md");
    let section = &doc[doc.find("#### Analysis").expect("docs have the section")..];
    let start = section.find("```yaml\n").unwrap() + 8;
    let end = start + section[start..].find("```").unwrap();
    let yaml = format!("app: demo\n{}{ENVS}", &section[start..end]);
    let config = Project::with_files(&["deploy/smoke-job.yaml"])
        .load(&yaml)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(canary(&config.strategies["api"]).analysis.len(), 3);
    let Rollout::BlueGreen(bg) = &config.strategies["web"].rollout else {
        panic!()
    };
    assert_eq!(
        (bg.pre_switch_analysis.len(), bg.post_switch_analysis.len()),
        (1, 1)
    );
}

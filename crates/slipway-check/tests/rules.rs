//! Every policy rule fires on a bad example and stays silent on the good one.

mod common;

use common::*;
use serde_json::{Value, json};
use slipway_check::{CheckOptions, Level};

fn deployment_with_container(change: impl FnOnce(&mut Value)) -> Value {
    let mut d = good_deployment("api", 2);
    change(container_mut(&mut d, 0));
    d
}

fn strategy(replicas: Option<i64>, strategy: Value) -> Value {
    let mut d = good_deployment("api", 1);
    match replicas {
        Some(n) => d["spec"]["replicas"] = json!(n),
        None => {
            d["spec"].as_object_mut().unwrap().remove("replicas");
        }
    }
    if strategy.is_null() {
        d["spec"].as_object_mut().unwrap().remove("strategy");
    } else {
        d["spec"]["strategy"] = strategy;
    }
    d
}

#[test]
fn good_objects_have_no_findings_in_production() {
    let report = run_with(
        vec![
            good_deployment("api", 3),
            service("api", json!({"app": "api"})),
            pdb("api", json!({"matchLabels": {"app": "api"}})),
        ],
        &production(),
    );
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

// image-pinned

#[test]
fn image_pinned_fires_on_latest_tag() {
    let report = run(vec![deployment_with_container(|c| {
        c["image"] = json!("registry.example.com/api:latest")
    })]);
    assert_eq!(
        lines(&report, "image-pinned"),
        vec![
            "error spec.template.spec.containers[api].image: image `registry.example.com/api:latest` uses the `latest` tag and no digest"
        ]
    );
}

#[test]
fn image_pinned_fires_on_untagged_image() {
    let report = run(vec![deployment_with_container(|c| {
        c["image"] = json!("localhost:5000/api")
    })]);
    assert_eq!(
        lines(&report, "image-pinned"),
        vec![
            "error spec.template.spec.containers[api].image: image `localhost:5000/api` has no tag and no digest, so it means `latest`"
        ]
    );
}

#[test]
fn image_pinned_fires_on_tag_without_digest() {
    let report = run(vec![deployment_with_container(|c| {
        c["image"] = json!("api:1.4.2")
    })]);
    assert_eq!(of_rule(&report, "image-pinned").len(), 1);
}

#[test]
fn image_pinned_fires_on_init_container() {
    let mut d = good_deployment("api", 2);
    let mut init = good_container("migrate");
    init["image"] = json!("migrate:latest");
    pod_spec_mut(&mut d)["initContainers"] = json!([init]);
    let report = run(vec![d]);
    assert_eq!(
        of_rule(&report, "image-pinned")[0].field,
        "spec.template.spec.initContainers[migrate].image"
    );
}

#[test]
fn image_pinned_silent_on_digest() {
    let report = run(vec![good_deployment("api", 2)]);
    assert!(of_rule(&report, "image-pinned").is_empty());
}

// readiness-probe

#[test]
fn readiness_probe_fires_on_deployment_container_without_probe() {
    let report = run(vec![deployment_with_container(|c| {
        c.as_object_mut().unwrap().remove("readinessProbe");
    })]);
    assert_eq!(
        lines(&report, "readiness-probe"),
        vec![
            "warning spec.template.spec.containers[api].readinessProbe: container `api` has no readiness probe: it gets traffic and counts as ready as soon as it starts"
        ]
    );
}

#[test]
fn readiness_probe_silent_on_job_container() {
    let mut container = good_container("once");
    container.as_object_mut().unwrap().remove("readinessProbe");
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}
    });
    let report = run(vec![job]);
    assert!(of_rule(&report, "readiness-probe").is_empty());
}

#[test]
fn readiness_probe_silent_when_probe_is_set() {
    assert!(of_rule(&run(vec![good_deployment("api", 2)]), "readiness-probe").is_empty());
}

// resources

#[test]
fn resources_fires_without_requests_or_memory_limit() {
    let report = run(vec![deployment_with_container(|c| {
        c.as_object_mut().unwrap().remove("resources");
    })]);
    assert_eq!(
        lines(&report, "resources"),
        vec![
            "warning spec.template.spec.containers[api].resources: container `api` has no `requests.cpu`, no `requests.memory`, no `limits.memory`"
        ]
    );
}

#[test]
fn resources_fires_without_memory_limit() {
    let report = run(vec![deployment_with_container(|c| {
        c["resources"] = json!({"requests": {"cpu": "1", "memory": "1Gi"}});
    })]);
    assert_eq!(
        lines(&report, "resources"),
        vec![
            "warning spec.template.spec.containers[api].resources: container `api` has no `limits.memory`"
        ]
    );
}

#[test]
fn resources_silent_when_limits_imply_requests() {
    let report = run(vec![deployment_with_container(|c| {
        c["resources"] = json!({"limits": {"cpu": 1, "memory": "1Gi"}});
    })]);
    assert!(of_rule(&report, "resources").is_empty());
}

// last-replica-down

#[test]
fn last_replica_down_fires_on_one_replica_with_max_unavailable_one() {
    let d = strategy(
        Some(1),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    );
    let report = run(vec![d]);
    let found = of_rule(&report, "last-replica-down");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].level, Level::Warning);
    assert_eq!(found[0].field, "spec.strategy.rollingUpdate.maxUnavailable");
    assert_eq!(
        found[0].message,
        "with `1` replica, `maxUnavailable: 1` and `maxSurge: 0`, a rollout may stop the only pod before its replacement is ready: downtime on every deploy"
    );
    assert!(found[0].fix.contains("`maxUnavailable: 0, maxSurge: 1`"));
}

#[test]
fn last_replica_down_fires_on_unset_replicas_with_max_unavailable_one() {
    let d = strategy(None, json!({"rollingUpdate": {"maxUnavailable": 1}}));
    assert_eq!(of_rule(&run(vec![d]), "last-replica-down").len(), 1);
}

#[test]
fn last_replica_down_fires_on_recreate() {
    let report = run(vec![strategy(Some(1), json!({"type": "Recreate"}))]);
    assert_eq!(
        lines(&report, "last-replica-down"),
        vec![
            "warning spec.strategy.type: strategy `Recreate` stops every pod before the new ones start: downtime on every deploy"
        ]
    );
}

#[test]
fn last_replica_down_fires_when_surge_is_zero_and_unavailable_rounds_to_zero() {
    // 25% of 1 rounds down to 0 and surge is 0: Kubernetes lets one pod go anyway.
    let d = strategy(Some(1), json!({"rollingUpdate": {"maxSurge": 0}}));
    let found = of_rule(&run(vec![d]), "last-replica-down").len();
    assert_eq!(found, 1);
}

#[test]
fn last_replica_down_fires_when_max_unavailable_covers_every_replica() {
    let d = strategy(
        Some(2),
        json!({"rollingUpdate": {"maxUnavailable": "100%"}}),
    );
    assert_eq!(of_rule(&run(vec![d]), "last-replica-down").len(), 1);
}

#[test]
fn last_replica_down_silent_with_default_percentages_on_one_replica() {
    // 25% maxUnavailable rounds down to 0, 25% maxSurge rounds up to 1.
    let report = run(vec![
        strategy(Some(1), Value::Null),
        strategy(None, Value::Null),
    ]);
    assert!(of_rule(&report, "last-replica-down").is_empty());
}

#[test]
fn last_replica_down_silent_with_explicit_default_percentages_on_one_replica() {
    let d = strategy(
        Some(1),
        json!({"rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    );
    assert!(of_rule(&run(vec![d]), "last-replica-down").is_empty());
}

#[test]
fn last_replica_down_silent_with_max_unavailable_zero_and_max_surge_one() {
    let d = strategy(
        Some(1),
        json!({"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}),
    );
    assert!(of_rule(&run(vec![d]), "last-replica-down").is_empty());
}

#[test]
fn last_replica_down_silent_on_two_replicas_with_max_unavailable_one() {
    let d = strategy(
        Some(2),
        json!({"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    );
    assert!(of_rule(&run(vec![d]), "last-replica-down").is_empty());
}

// workload-selector

#[test]
fn workload_selector_fires_when_selector_misses_template_labels() {
    let mut d = good_deployment("api", 2);
    d["spec"]["selector"] = json!({"matchLabels": {"app": "apx"}});
    assert_eq!(of_rule(&run(vec![d]), "workload-selector").len(), 1);
}

#[test]
fn workload_selector_silent_when_selector_matches() {
    assert!(of_rule(&run(vec![good_deployment("api", 2)]), "workload-selector").is_empty());
}

// service-selector

#[test]
fn service_selector_fires_when_no_pod_template_matches() {
    let report = run(vec![
        good_deployment("api", 2),
        service("api", json!({"app": "web"})),
    ]);
    assert_eq!(
        lines(&report, "service-selector"),
        vec![
            "error spec.selector: selector `app=web` matches no rendered pod template: the Service would have no endpoints"
        ]
    );
}

#[test]
fn service_selector_fires_when_matching_pods_are_in_another_namespace() {
    let mut s = service("api", json!({"app": "api"}));
    s["metadata"]["namespace"] = json!("other");
    assert_eq!(
        of_rule(&run(vec![good_deployment("api", 2), s]), "service-selector").len(),
        1
    );
}

#[test]
fn service_selector_silent_when_a_pod_template_matches() {
    let report = run(vec![
        good_deployment("api", 2),
        service("api", json!({"app": "api"})),
    ]);
    assert!(of_rule(&report, "service-selector").is_empty());
}

#[test]
fn service_selector_silent_on_service_without_selector() {
    let mut s = service("external", json!({}));
    s["spec"].as_object_mut().unwrap().remove("selector");
    assert!(of_rule(&run(vec![s]), "service-selector").is_empty());
}

// missing-reference

fn with_references() -> Value {
    let mut d = good_deployment("api", 2);
    let spec = pod_spec_mut(&mut d);
    spec["serviceAccountName"] = json!("api-sa");
    spec["imagePullSecrets"] = json!([{"name": "pull"}]);
    spec["volumes"] = json!([
        {"name": "config", "configMap": {"name": "api-files"}},
        {"name": "tls", "secret": {"secretName": "api-tls"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "api-data"}},
        {"name": "both", "projected": {"sources": [{"configMap": {"name": "proj-cm"}}, {"secret": {"name": "proj-secret"}}]}}
    ]);
    let c = &mut spec["containers"][0];
    c["env"] = json!([
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "api-env", "key": "mode"}}},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]);
    c["envFrom"] =
        json!([{"configMapRef": {"name": "api-all"}}, {"secretRef": {"name": "api-secrets"}}]);
    d
}

#[test]
fn missing_reference_fires_on_every_kind_of_reference() {
    let report = run(vec![with_references()]);
    let p = "spec.template.spec";
    let c = "spec.template.spec.containers[api]";
    let mut fields: Vec<String> = of_rule(&report, "missing-reference")
        .iter()
        .map(|f| f.field.clone())
        .collect();
    fields.sort();
    let mut expected = vec![
        format!("{c}.env[DB_PASSWORD].valueFrom.secretKeyRef.name"),
        format!("{c}.env[MODE].valueFrom.configMapKeyRef.name"),
        format!("{c}.envFrom[0].configMapRef.name"),
        format!("{c}.envFrom[1].secretRef.name"),
        format!("{p}.imagePullSecrets[0]"),
        format!("{p}.serviceAccountName"),
        format!("{p}.volumes[both].projected.sources[0].configMap.name"),
        format!("{p}.volumes[both].projected.sources[1].secret.name"),
        format!("{p}.volumes[config].configMap.name"),
        format!("{p}.volumes[data].persistentVolumeClaim.claimName"),
        format!("{p}.volumes[tls].secret.secretName"),
    ];
    expected.sort();
    assert_eq!(fields, expected);
    let sa = of_rule(&report, "missing-reference")
        .into_iter()
        .find(|f| f.field.ends_with("serviceAccountName"))
        .unwrap();
    assert_eq!(
        sa.message,
        "ServiceAccount `api-sa` is referenced but neither rendered nor expected to exist: the pods would not start"
    );
}

#[test]
fn missing_reference_silent_when_rendered_or_expected_to_exist() {
    let named = |kind: &str, name: &str| {
        let api = "v1";
        json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "shop"}})
    };
    let mut objects = vec![with_references()];
    for (kind, name) in [
        ("ServiceAccount", "api-sa"),
        ("ConfigMap", "api-files"),
        ("Secret", "api-tls"),
        ("ConfigMap", "proj-cm"),
        ("Secret", "proj-secret"),
        ("ConfigMap", "api-env"),
        ("ConfigMap", "api-all"),
        ("Secret", "api-secrets"),
    ] {
        objects.push(named(kind, name));
    }
    let mut pvc = named("PersistentVolumeClaim", "api-data");
    pvc["spec"] =
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
    objects.push(pvc);
    let mut options = CheckOptions::default();
    options
        .expected_to_exist
        .insert(("Secret".into(), "pull".into()));
    options
        .expected_to_exist
        .insert(("Secret".into(), "db".into()));
    let report = run_with(objects, &options);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn missing_reference_silent_on_optional_references_and_default_service_account() {
    let mut d = good_deployment("api", 2);
    let spec = pod_spec_mut(&mut d);
    spec["serviceAccountName"] = json!("default");
    spec["volumes"] = json!([{"name": "extra", "configMap": {"name": "maybe", "optional": true}}]);
    spec["containers"][0]["envFrom"] = json!([{"secretRef": {"name": "maybe", "optional": true}}]);
    assert!(of_rule(&run(vec![d]), "missing-reference").is_empty());
}

// probe-port

#[test]
fn probe_port_fires_on_undeclared_port_name() {
    let report = run(vec![deployment_with_container(|c| {
        c["readinessProbe"] = json!({"httpGet": {"path": "/ready", "port": "web"}});
    })]);
    assert_eq!(
        lines(&report, "probe-port"),
        vec![
            "error spec.template.spec.containers[api].readinessProbe.httpGet.port: readiness probe port `web` is not among the ports of container `api` (`http`/`8080`)"
        ]
    );
}

#[test]
fn an_undeclared_port_number_is_a_warning_of_its_own_rule() {
    let report = run(vec![deployment_with_container(|c| {
        c["livenessProbe"] = json!({"tcpSocket": {"port": 8081}});
        c["startupProbe"] = json!({"grpc": {"port": 9090}});
    })]);
    assert!(of_rule(&report, "probe-port").is_empty());
    let found = of_rule(&report, "probe-port-number");
    assert!(
        found.iter().all(|f| f.level == Level::Warning),
        "{found:#?}"
    );
    let fields: Vec<_> = found.iter().map(|f| f.field.clone()).collect();
    assert_eq!(
        fields,
        vec![
            "spec.template.spec.containers[api].livenessProbe.tcpSocket.port",
            "spec.template.spec.containers[api].startupProbe.grpc.port",
        ]
    );
}

#[test]
fn probe_port_silent_when_port_is_declared_by_name_or_number() {
    assert!(of_rule(&run(vec![good_deployment("api", 2)]), "probe-port").is_empty());
}

// privileged

#[test]
fn privileged_fires_on_privileged_container() {
    let report = run(vec![deployment_with_container(|c| {
        c["securityContext"]["privileged"] = json!(true);
    })]);
    assert_eq!(
        lines(&report, "privileged"),
        vec![
            "error spec.template.spec.containers[api].securityContext.privileged: container `api` runs privileged: it has full access to the node"
        ]
    );
}

#[test]
fn privileged_fires_on_allowed_privilege_escalation() {
    let report = run(vec![deployment_with_container(|c| {
        c["securityContext"]["allowPrivilegeEscalation"] = json!(true);
    })]);
    assert_eq!(of_rule(&report, "privileged").len(), 1);
}

#[test]
fn privileged_fires_on_sys_admin_capability() {
    let report = run(vec![deployment_with_container(|c| {
        c["securityContext"]["capabilities"] = json!({"add": ["SYS_ADMIN"]});
    })]);
    assert_eq!(of_rule(&report, "privileged").len(), 1);
}

#[test]
fn privileged_silent_on_unprivileged_container() {
    assert!(of_rule(&run(vec![good_deployment("api", 2)]), "privileged").is_empty());
}

// run-as-root

#[test]
fn run_as_root_fires_on_run_as_user_zero() {
    let report = run(vec![deployment_with_container(|c| {
        c["securityContext"] = json!({"runAsUser": 0});
    })]);
    assert_eq!(
        lines(&report, "run-as-root"),
        vec![
            "warning spec.template.spec.containers[api].securityContext.runAsUser: container `api` runs as root (`runAsUser: 0`)"
        ]
    );
}

#[test]
fn run_as_root_fires_without_run_as_non_root() {
    let report = run(vec![deployment_with_container(|c| {
        c.as_object_mut().unwrap().remove("securityContext");
    })]);
    assert_eq!(
        lines(&report, "run-as-root"),
        vec![
            "warning spec.template.spec.containers[api].securityContext: container `api` may run as root: neither it nor the pod sets `runAsNonRoot: true`"
        ]
    );
}

#[test]
fn run_as_root_silent_with_pod_level_run_as_non_root() {
    let mut d = deployment_with_container(|c| {
        c.as_object_mut().unwrap().remove("securityContext");
    });
    pod_spec_mut(&mut d)["securityContext"] = json!({"runAsNonRoot": true});
    assert!(of_rule(&run(vec![d]), "run-as-root").is_empty());
}

#[test]
fn run_as_root_silent_with_non_zero_user() {
    let report = run(vec![deployment_with_container(|c| {
        c["securityContext"] = json!({"runAsUser": 1000});
    })]);
    assert!(of_rule(&report, "run-as-root").is_empty());
}

// plaintext-credentials

#[test]
fn plaintext_credentials_fires_on_literal_password_without_showing_it() {
    let report = run(vec![deployment_with_container(|c| {
        c["env"] = json!([{"name": "DB_PASSWORD", "value": "hunter2-s3cr3t"}]);
    })]);
    let found = of_rule(&report, "plaintext-credentials");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].field,
        "spec.template.spec.containers[api].env[DB_PASSWORD].value"
    );
    assert_eq!(
        found[0].message,
        "env `DB_PASSWORD` of container `api` holds a credential in plain text in the manifest"
    );
    let everything = format!("{:?}", report.findings);
    assert!(
        !everything.contains("hunter2"),
        "the value leaked: {everything}"
    );
}

#[test]
fn plaintext_credentials_fires_on_camel_case_api_key() {
    let report = run(vec![deployment_with_container(|c| {
        c["env"] = json!([{"name": "stripeApiKey", "value": "sk_live"}]);
    })]);
    assert_eq!(of_rule(&report, "plaintext-credentials").len(), 1);
}

#[test]
fn plaintext_credentials_silent_on_secret_references_and_ordinary_names() {
    let report = run(vec![deployment_with_container(|c| {
        c["env"] = json!([
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "TOKEN_URL", "value": "https://auth.example.com/token"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "TOKENIZER", "value": "bpe"}
        ]);
    })]);
    assert!(of_rule(&report, "plaintext-credentials").is_empty());
}

// pdb-missing

#[test]
fn pdb_missing_fires_in_production_without_pdb() {
    let report = run_with(vec![good_deployment("api", 3)], &production());
    assert_eq!(
        lines(&report, "pdb-missing"),
        vec![
            "warning spec.replicas: `3` replicas and no PodDisruptionBudget selects their pods: a node drain may stop all of them at once"
        ]
    );
}

#[test]
fn pdb_missing_fires_when_pdb_selects_other_pods() {
    let report = run_with(
        vec![
            good_deployment("api", 3),
            pdb("web", json!({"matchLabels": {"app": "web"}})),
        ],
        &production(),
    );
    assert_eq!(of_rule(&report, "pdb-missing").len(), 1);
}

#[test]
fn pdb_missing_silent_with_matching_pdb() {
    let report = run_with(
        vec![
            good_deployment("api", 3),
            pdb(
                "api",
                json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "web"]}]}),
            ),
        ],
        &production(),
    );
    assert!(of_rule(&report, "pdb-missing").is_empty());
}

#[test]
fn pdb_missing_silent_outside_production() {
    assert!(of_rule(&run(vec![good_deployment("api", 3)]), "pdb-missing").is_empty());
}

#[test]
fn pdb_missing_silent_on_one_replica() {
    let report = run_with(vec![good_deployment("api", 1)], &production());
    assert!(of_rule(&report, "pdb-missing").is_empty());
}

// duplicate-object

#[test]
fn duplicate_object_fires_on_the_same_object_rendered_twice() {
    let report = run(vec![good_deployment("api", 2), good_deployment("api", 2)]);
    assert_eq!(
        lines(&report, "duplicate-object"),
        vec![
            "error metadata.name: `Deployment/api` is also rendered from `k8s/0.yaml:1`; one would silently overwrite the other"
        ]
    );
}

#[test]
fn duplicate_object_silent_on_same_name_of_another_kind() {
    let report = run(vec![
        good_deployment("api", 2),
        service("api", json!({"app": "api"})),
    ]);
    assert!(of_rule(&report, "duplicate-object").is_empty());
}

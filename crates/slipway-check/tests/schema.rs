//! Strict decoding: unknown fields, wrong types, missing required fields, unknown kinds
//! and custom resources.

mod common;

use std::path::Path;

use common::*;
use serde_json::json;
use slipway_check::{CheckOptions, CrdSchemas, Level, check};

#[test]
fn good_objects_have_no_schema_findings() {
    let report = run(vec![
        good_deployment("api", 2),
        service("api", json!({"app": "api"})),
        pdb("api", json!({"matchLabels": {"app": "api"}})),
    ]);
    assert_eq!(lines(&report, "schema"), Vec::<String>::new());
    assert!(report.unchecked.is_empty());
}

#[test]
fn unknown_field_is_reported_with_its_path_file_and_line() {
    let mut d = good_deployment("api", 2);
    container_mut(&mut d, 0)["imagePullPolcy"] = json!("Always");
    let report = check(&[manifest("k8s/api.yaml", 12, d)], &CheckOptions::default());
    let found = of_rule(&report, "schema");
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = found[0];
    assert_eq!(f.field, "spec.template.spec.containers[0].imagePullPolcy");
    assert_eq!(f.message, "unknown field `imagePullPolcy`");
    assert_eq!(f.file, Path::new("k8s/api.yaml"));
    assert_eq!(f.line, 12);
    assert_eq!(f.level, Level::Error);
    assert_eq!(f.object.kind, "Deployment");
    assert_eq!(f.object.name, "api");
    assert_eq!(f.object.namespace.as_deref(), Some("shop"));
}

#[test]
fn wrong_type_is_reported_with_its_path_file_and_line() {
    let mut d = good_deployment("api", 2);
    d["spec"]["replicas"] = json!("3");
    let report = check(&[manifest("k8s/api.yaml", 30, d)], &CheckOptions::default());
    let found = of_rule(&report, "schema");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field, "spec.replicas");
    assert!(
        found[0].message.contains("invalid type: string \"3\""),
        "{}",
        found[0].message
    );
    assert_eq!(
        (found[0].file.as_path(), found[0].line),
        (Path::new("k8s/api.yaml"), 30)
    );
}

#[test]
fn missing_required_field_is_reported_with_its_path_file_and_line() {
    let mut d = good_deployment("api", 2);
    container_mut(&mut d, 0)
        .as_object_mut()
        .unwrap()
        .remove("name");
    let report = check(&[manifest("k8s/api.yaml", 7, d)], &CheckOptions::default());
    let found = of_rule(&report, "schema");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field, "spec.template.spec.containers[0]");
    assert_eq!(found[0].message, "missing required field `name`");
    assert_eq!(
        (found[0].file.as_path(), found[0].line),
        (Path::new("k8s/api.yaml"), 7)
    );
}

#[test]
fn missing_name_is_reported() {
    let report = run(vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
    ]);
    assert_eq!(
        lines(&report, "schema"),
        vec!["error metadata.name: missing required field `metadata.name`"]
    );
}

#[test]
fn misspelled_builtin_kind_is_an_error_with_a_suggestion() {
    let mut d = good_deployment("api", 2);
    d["kind"] = json!("Deploymnet");
    let report = run(vec![d]);
    let found = of_rule(&report, "schema");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].field, "kind");
    assert_eq!(found[0].message, "unknown kind `Deploymnet` in `apps/v1`");
    assert_eq!(found[0].fix, "did you mean `kind: Deployment`?");
    assert!(report.unchecked.is_empty());
}

#[test]
fn builtin_kind_under_a_retired_version_is_an_error_naming_the_served_one() {
    let mut d = good_deployment("api", 2);
    d["apiVersion"] = json!("extensions/v1beta1");
    let report = run(vec![d]);
    let found = of_rule(&report, "schema");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].message,
        "`Deployment` is not served as `extensions/v1beta1`"
    );
    assert_eq!(found[0].fix, "set `apiVersion: apps/v1`");
}

fn widget_crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {"size": {"type": "integer"}, "color": {"type": "string", "enum": ["red", "blue"]}}
                    }}
                }}
            }]
        }
    })
}

fn widget(spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

#[test]
fn custom_resource_without_schema_is_listed_as_unchecked() {
    let report = run(vec![widget(json!({"size": 1}))]);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(report.unchecked.len(), 1);
    assert_eq!(report.unchecked[0].object.kind, "Widget");
    assert_eq!(report.unchecked[0].file, Path::new("k8s/0.yaml"));
}

#[test]
fn custom_resource_is_validated_against_a_crd_in_the_input() {
    let report = run(vec![
        widget_crd(),
        widget(json!({"size": "3", "colour": "red"})),
    ]);
    assert_eq!(
        lines(&report, "schema"),
        vec![
            "error spec.colour: unknown field `colour`",
            "error spec.size: expected `integer`, found string `\"3\"`",
        ]
    );
    assert!(report.unchecked.is_empty());
}

#[test]
fn custom_resource_is_validated_against_the_cluster_schema() {
    let options = CheckOptions {
        crd_schemas: Some(CrdSchemas::from_crds([&widget_crd()])),
        ..CheckOptions::default()
    };
    let report = run_with(vec![widget(json!({"color": "green"}))], &options);
    assert_eq!(
        lines(&report, "schema"),
        vec![
            "error spec: missing required field `size`",
            "error spec.color: `\"green\"` is not one of `\"red\"`, `\"blue\"`",
        ]
    );
}

#[test]
fn valid_custom_resource_has_no_findings() {
    let report = run(vec![
        widget_crd(),
        widget(json!({"size": 2, "color": "blue"})),
    ]);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.unchecked.is_empty());
}

#[test]
fn schema_cannot_be_switched_off() {
    let mut d = good_deployment("api", 2);
    d["spec"]["replicas"] = json!("3");
    let report = run_with(vec![d], &with_level("schema", Level::Off));
    assert_eq!(of_rule(&report, "schema").len(), 1);
    assert!(report.has_errors());
}

#[test]
fn realistic_application_decodes_without_schema_findings() {
    let sts = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop", "labels": {"app.kubernetes.io/name": "db"}},
        "spec": {
            "serviceName": "db", "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}, "annotations": {"checksum/config": "abc"}},
                "spec": {
                    "terminationGracePeriodSeconds": 30,
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app": "db"}}}}]}},
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}],
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "db"}}}],
                    "containers": [{
                        "name": "postgres", "image": "postgres:16",
                        "args": ["-c", "max_connections=200"],
                        "ports": [{"name": "pg", "containerPort": 5432, "protocol": "TCP"}],
                        "env": [
                            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}}
                        ],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data", "subPath": "pg"}],
                        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 5"]}}},
                        "readinessProbe": {"exec": {"command": ["pg_isready"]}, "periodSeconds": 5, "failureThreshold": 3},
                        "resources": {"requests": {"cpu": 0.5, "memory": "1Gi"}, "limits": {"memory": 2147483648u64}}
                    }]
                }
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                "resources": {"requests": {"storage": "10Gi"}}}}]
        }
    });
    let others = vec![
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
            "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": {"app": "db"},
                     "ports": [{"name": "pg", "port": 5432, "targetPort": "pg", "protocol": "TCP"}]}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
            "stringData": {"a": "b"}, "data": {"c": "ZA=="}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web",
                "annotations": {"nginx.ingress.kubernetes.io/canary-weight": "0"}},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
                "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "concurrencyPolicy": "Forbid",
                "jobTemplate": {"spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure",
                    "containers": [{"name": "job", "image": "job:1"}]}}}}}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                "ports": [{"port": 8080, "protocol": "TCP"}]}]}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}),
    ];
    let mut objects = vec![sts];
    objects.extend(others);
    let report = run(objects);
    assert_eq!(lines(&report, "schema"), Vec::<String>::new());
    assert!(report.unchecked.is_empty());
}

#[test]
fn every_type_problem_in_a_realistic_object_names_its_field() {
    let mut d = good_deployment("api", 2);
    container_mut(&mut d, 0)["env"] = json!([{"name": "PORT", "value": 8080}]);
    let report = run(vec![d]);
    let found = of_rule(&report, "schema");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].field,
        "spec.template.spec.containers[0].env[0].value"
    );
}

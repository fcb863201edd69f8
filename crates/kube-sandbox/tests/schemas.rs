//! Schemas, judged by kubectl: `kubectl explain` of built-in kinds and custom resources
//! from the OpenAPI v3 documents, and custom resources pruned, defaulted and validated
//! against their CRD's structural schema with the real errors.

mod common;

use common::Env;

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [size]
            properties:
              replicas: {type: integer, minimum: 1, default: 2, description: How many widgets.}
              size: {type: string, enum: [S, M, L]}
              labels:
                type: object
                x-kubernetes-preserve-unknown-fields: true
"#;

#[tokio::test]
async fn kubectl_explain_shows_the_real_schema_of_a_built_in_field() {
    let env = Env::start().await;
    let out = env
        .kubectl(&["explain", "deployment.spec.strategy"])
        .await
        .ok()
        .stdout;
    for part in [
        "GROUP:      apps",
        "KIND:       Deployment",
        "VERSION:    v1",
        "FIELD: strategy <DeploymentStrategy>",
        "DeploymentStrategy describes how to replace existing pods with new ones.",
        "rollingUpdate\t<RollingUpdateDeployment>",
        "type\t<string>",
    ] {
        assert!(out.contains(part), "`{part}` in\n{out}");
    }
    let pods = env
        .kubectl(&["explain", "pod.spec.containers.readinessProbe.httpGet.port"])
        .await
        .ok()
        .stdout;
    assert!(pods.contains("FIELD: port <IntOrString>"), "{pods}");
    let hpa = env
        .kubectl(&[
            "explain",
            "hpa.spec.targetCPUUtilizationPercentage",
            "--api-version=autoscaling/v1",
        ])
        .await
        .ok()
        .stdout;
    assert!(
        hpa.contains("FIELD: targetCPUUtilizationPercentage <integer>"),
        "{hpa}"
    );
}

#[tokio::test]
async fn custom_resources_follow_their_structural_schema() {
    let env = Env::start().await;
    env.apply(CRD).await;
    env.until(10, "widgets served", |e| {
        e.store()
            .registry()
            .find("example.com", "v1", "widgets")
            .map(|_| ())
    })
    .await;
    let explained = env
        .kubectl(&["explain", "widgets.spec.replicas"])
        .await
        .ok()
        .stdout;
    assert!(
        explained.contains("FIELD: replicas <integer>") && explained.contains("How many widgets."),
        "{explained}"
    );
    // A wrong type and a value outside the enum: the real 422.
    let bad = env
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {replicas: many, size: XL}\n",
        )
        .await;
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("The Widget \"w\" is invalid: ")
            && bad.stderr.contains("spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"")
            && bad.stderr.contains("spec.size: Unsupported value: \"XL\": supported values: \"S\", \"M\", \"L\""),
        "{}",
        bad.stderr
    );
    let missing = env
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {replicas: 3}\n",
        )
        .await;
    assert!(
        missing.stderr.contains("spec.size: Required value"),
        "{}",
        missing.stderr
    );
    // An unknown field is refused by kubectl's strict validation, pruned without it;
    // defaults are filled in; preserved fields stay.
    let strict = env
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: M, colour: red}\n",
        )
        .await;
    assert!(
        strict
            .stderr
            .contains("strict decoding error: unknown field \"spec.colour\""),
        "{}",
        strict.stderr
    );
    env.kubectl_stdin(
        &["apply", "--validate=false", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: M, colour: red, labels: {any: {thing: 1}}}\n",
    )
    .await
    .ok();
    let w = env.get_json(&["get", "widget", "w"]).await;
    assert_eq!(
        w["spec"],
        serde_json::json!({"size": "M", "replicas": 2, "labels": {"any": {"thing": 1}}})
    );
}

//! Lists as a real server answers them: consistent `continue` pages, `resourceVersionMatch`,
//! `410 Expired` once a snapshot has left the history, and field selectors limited to
//! what each kind supports — through kubectl and over HTTP.

mod common;

use common::Env;
use kube_sandbox::SandboxOptions;
use serde_json::{Value, json};

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

async fn create_cm(env: &Env, name: &str) {
    let body = json!({"metadata": {"name": name, "labels": {"paged": "yes"}}}).to_string();
    let (code, out) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            &body,
        )
        .await;
    assert_eq!(code, 201, "{out}");
}

#[tokio::test]
async fn kubectl_is_told_which_field_selectors_a_kind_refuses() {
    let env = Env::start().await;
    let out = env
        .kubectl(&["get", "configmaps", "--field-selector", "data.a=1"])
        .await;
    assert_ne!(out.code, 0);
    assert_eq!(
        out.stderr.trim(),
        "Error from server (BadRequest): Unable to find \"/v1, Resource=configmaps\" that match label selector \"\", field selector \"data.a=1\": \"data.a\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    let out = env
        .kubectl(&["get", "nodes", "--field-selector", "metadata.namespace=x"])
        .await;
    assert!(
        out.stderr
            .contains("field label not supported: metadata.namespace"),
        "{}",
        out.stderr
    );
    // The labels a kind does support work, in kubectl's own spelling.
    let out = env
        .kubectl(&[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "spec.nodeName=sandbox-node,status.phase=Running",
        ])
        .await
        .ok();
    assert!(out.stderr.contains("No resources found"), "{}", out.stderr);
    let nodes = env
        .kubectl(&[
            "get",
            "nodes",
            "--field-selector",
            "spec.unschedulable=false",
            "-o",
            "name",
        ])
        .await
        .ok();
    assert_eq!(nodes.stdout.trim(), "node/sandbox-node");
}

#[tokio::test]
async fn a_continue_token_older_than_the_history_is_expired_with_a_token_to_go_on() {
    let env = Env::start_with(SandboxOptions {
        watch_history: 16,
        ..Default::default()
    })
    .await;
    for i in 0..4 {
        create_cm(&env, &format!("cm-{i}")).await;
    }
    let path = "/api/v1/namespaces/default/configmaps?labelSelector=paged&limit=1";
    let (_, body) = env.http_get(path).await;
    let first = parse(&body);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let snapshot = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // More changes than the history keeps.
    for i in 0..20 {
        create_cm(&env, &format!("later-{i:02}")).await;
    }
    let (code, body) = env.http_get(&format!("{path}&continue={token}")).await;
    assert_eq!(code, 410, "{body}");
    let status = parse(&body);
    assert_eq!(status["reason"], "Expired");
    assert!(
        status["message"].as_str().unwrap().starts_with(
            "The provided continue parameter is too old to display a consistent list result."
        ),
        "{status}"
    );
    // Its token goes on with the objects as they are now.
    let again = status["metadata"]["continue"].as_str().unwrap();
    let (code, body) = env
        .http_get(&format!(
            "/api/v1/namespaces/default/configmaps?labelSelector=paged&limit=100&continue={again}"
        ))
        .await;
    assert_eq!(code, 200, "{body}");
    let names: Vec<String> = parse(&body)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 23, "{names:?}");
    assert_eq!(names[0], "cm-1");
    // An exact read of that version is gone too.
    let (code, body) = env
        .http_get(&format!(
            "/api/v1/namespaces/default/configmaps?resourceVersion={snapshot}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(code, 410, "{body}");
    assert_eq!(
        parse(&body)["message"],
        "The resourceVersion for the provided list is too old."
    );
}

#[tokio::test]
async fn list_options_are_validated_as_the_real_server_does() {
    let env = Env::start().await;
    let (code, body) = env
        .http_get("/api/v1/configmaps?resourceVersionMatch=NotOlderThan&continue=abc")
        .await;
    assert_eq!(code, 422, "{body}");
    let status = parse(&body);
    assert_eq!(
        status["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided, resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided]"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueForbidden"
    );
    let (code, body) = env
        .http_get("/api/v1/configmaps?resourceVersion=5&continue=abc")
        .await;
    assert_eq!(
        (code, parse(&body)["message"].clone()),
        (
            400,
            json!("specifying resource version is not allowed when using continue")
        )
    );
    // A version the store has not reached: the real server waits, then answers 504.
    let (code, body) = env
        .http_get("/api/v1/configmaps?resourceVersion=999999&resourceVersionMatch=NotOlderThan")
        .await;
    assert_eq!(code, 504, "{body}");
    let status = parse(&body);
    assert_eq!(status["reason"], "Timeout");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("Too large resource version: 999999, current: "),
        "{status}"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
    let (code, body) = env
        .http_get(
            "/api/v1/configmaps?watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1",
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        ),
        "{body}"
    );
}

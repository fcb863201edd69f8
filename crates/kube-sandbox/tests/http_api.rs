//! API semantics checked over raw HTTP: watch windows, status objects, subresources.

mod common;

use common::Env;
use kube_sandbox::SandboxOptions;
use serde_json::{Value, json};

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse)
        .collect()
}

async fn create_cm(env: &Env, name: &str, labels: Value) -> Value {
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"a": "1"}});
    let (code, out) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            &body.to_string(),
        )
        .await;
    assert_eq!(code, 201, "{out}");
    parse(&out)
}

#[tokio::test]
async fn watch_from_too_old_resource_version_gets_expired_error_event() {
    let env = Env::start_with(SandboxOptions {
        watch_history: 16,
        ..Default::default()
    })
    .await;
    for i in 0..40 {
        create_cm(&env, &format!("c{i}"), json!({})).await;
    }
    let (code, body) = env
        .http_get("/api/v1/configmaps?watch=1&resourceVersion=2&timeoutSeconds=1")
        .await;
    assert_eq!(code, 200);
    let events = lines(&body);
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["kind"], "Status");
    assert_eq!(events[0]["object"]["reason"], "Expired");
    assert_eq!(events[0]["object"]["code"], 410);
}

#[tokio::test]
async fn watch_resumes_after_resource_version_with_selectors() {
    let env = Env::start().await;
    let first = create_cm(&env, "a", json!({"app": "x"})).await;
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    create_cm(&env, "b", json!({"app": "y"})).await;
    create_cm(&env, "c", json!({"app": "x"})).await;
    let (_, body) = env
        .http_get(&format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&labelSelector=app%3Dx&timeoutSeconds=1"))
        .await;
    let events = lines(&body);
    let names: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("ADDED", "c")]);
    let (_, body) = env.http_get("/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Db&timeoutSeconds=1").await;
    let names: Vec<String> = lines(&body)
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["ADDED b"]);
}

#[tokio::test]
async fn send_initial_events_ends_with_the_initial_events_end_bookmark() {
    let env = Env::start().await;
    create_cm(&env, "a", json!({})).await;
    create_cm(&env, "b", json!({})).await;
    let (code, body) = env
        .http_get("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1&fieldSelector=metadata.name%21%3Dkube-root-ca.crt")
        .await;
    assert_eq!(code, 200);
    let events = lines(&body);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "ADDED", "BOOKMARK"], "{body}");
    let bm = &events[2]["object"];
    assert_eq!(
        bm["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(
        bm["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let (code, body) = env
        .http_get("/api/v1/configmaps?watch=1&sendInitialEvents=true")
        .await;
    assert_eq!(code, 422, "{body}");
}

#[tokio::test]
async fn errors_are_status_objects_with_reason_and_code() {
    let env = Env::start().await;
    let (code, body) = env
        .http_get("/apis/apps/v1/namespaces/default/deployments/nope")
        .await;
    assert_eq!(code, 404);
    let s = parse(&body);
    assert_eq!(
        (s["kind"].as_str(), s["reason"].as_str(), s["code"].as_i64()),
        (Some("Status"), Some("NotFound"), Some(404))
    );
    assert_eq!(
        s["details"],
        json!({"name": "nope", "group": "apps", "kind": "deployments"})
    );

    create_cm(&env, "dup", json!({})).await;
    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            r#"{"metadata":{"name":"dup"}}"#,
        )
        .await;
    assert_eq!(code, 409);
    assert_eq!(parse(&body)["reason"], "AlreadyExists");

    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            r#"{"metadata":{}}"#,
        )
        .await;
    assert_eq!(code, 422);
    let s = parse(&body);
    assert_eq!(s["reason"], "Invalid");
    assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");

    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            "{not json",
        )
        .await;
    assert_eq!(
        (code, parse(&body)["reason"].clone()),
        (400, json!("BadRequest"))
    );

    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps/dup",
            "application/json",
            "{}",
        )
        .await;
    assert_eq!(
        (code, parse(&body)["reason"].clone()),
        (405, json!("MethodNotAllowed"))
    );

    let (code, body) = env
        .http(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/dup",
            "text/plain",
            "{}",
        )
        .await;
    assert_eq!(
        (code, parse(&body)["reason"].clone()),
        (415, json!("UnsupportedMediaType"))
    );

    let (code, body) = env
        .http(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/dup",
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: ConfigMap\n",
        )
        .await;
    // PatchOptions are validated before the object: an apply without a field manager is
    // `422 Invalid` (kind `PatchOptions`, group `meta.k8s.io`), as on a real server.
    assert_eq!(code, 422, "{body}");
    assert_eq!(parse(&body)["details"]["kind"], json!("PatchOptions"));
}

#[tokio::test]
async fn generate_name_and_list_paging_with_limit_and_continue() {
    let env = Env::start().await;
    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            r#"{"metadata":{"generateName":"gen-"}}"#,
        )
        .await;
    assert_eq!(code, 201);
    let name = parse(&body)["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    for n in ["p1", "p2", "p3"] {
        create_cm(&env, n, json!({"page": "yes"})).await;
    }
    let (_, body) = env
        .http_get("/api/v1/namespaces/default/configmaps?labelSelector=page&limit=2")
        .await;
    let page = parse(&body);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let token = page["metadata"]["continue"].as_str().unwrap();
    let (_, body) = env
        .http_get(&format!(
            "/api/v1/namespaces/default/configmaps?labelSelector=page&limit=2&continue={token}"
        ))
        .await;
    let page = parse(&body);
    assert_eq!(page["items"][0]["metadata"]["name"], "p3");
    assert!(page["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn pods_list_by_status_phase_field_selector() {
    let env = Env::start().await;
    // A request no node can satisfy keeps the pod Pending.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "64"}}}]}});
    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/pods",
            "application/json",
            &pod.to_string(),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(parse(&body)["status"]["phase"], "Pending");
    let (_, body) = env
        .http_get("/api/v1/pods?fieldSelector=status.phase%3DPending")
        .await;
    assert_eq!(parse(&body)["items"].as_array().unwrap().len(), 1);
    let (_, body) = env
        .http_get("/api/v1/pods?fieldSelector=status.phase%3DRunning")
        .await;
    assert_eq!(parse(&body)["items"], json!([]));
}

#[tokio::test]
async fn scale_and_status_subresources_write_only_their_part() {
    let env = Env::start().await;
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let (code, _) = env
        .http(
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            "application/json",
            &deploy.to_string(),
        )
        .await;
    assert_eq!(code, 201);
    let (code, body) = env
        .http_get("/apis/apps/v1/namespaces/default/deployments/d/scale")
        .await;
    assert_eq!(code, 200);
    let scale = parse(&body);
    assert_eq!(
        (scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()),
        (Some("Scale"), Some(1))
    );
    assert_eq!(scale["status"]["selector"], "a=b");
    let (code, body) = env
        .http(
            "PATCH",
            "/apis/apps/v1/namespaces/default/deployments/d/scale",
            "application/merge-patch+json",
            r#"{"spec":{"replicas":4}}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 99}, "status": {"replicas": 4, "readyReplicas": 4}});
    let (code, body) = env
        .http(
            "PUT",
            "/apis/apps/v1/namespaces/default/deployments/d/status",
            "application/json",
            &status.to_string(),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let d = parse(&body);
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["status"]["readyReplicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);
    let (_, body) = env.http("PUT", "/apis/apps/v1/namespaces/default/deployments/d/scale", "application/json",
        r#"{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"d","resourceVersion":"1"},"spec":{"replicas":2}}"#).await;
    assert_eq!(parse(&body)["reason"], "Conflict");
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed_and_dry_run_deletes_nothing() {
    let env = Env::start().await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
    env.http(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &body.to_string(),
    )
    .await;
    let (code, _) = env
        .http(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/held?dryRun=All",
            "application/json",
            "",
        )
        .await;
    assert_eq!(code, 200);
    let (_, body) = env
        .http_get("/api/v1/namespaces/default/configmaps/held")
        .await;
    assert!(parse(&body)["metadata"].get("deletionTimestamp").is_none());
    let (code, body) = env
        .http(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/held",
            "application/json",
            "",
        )
        .await;
    assert_eq!(code, 200);
    assert!(parse(&body)["metadata"]["deletionTimestamp"].is_string());
    let (code, _) = env
        .http(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/held",
            "application/merge-patch+json",
            r#"{"metadata":{"finalizers":null}}"#,
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = env
        .http_get("/api/v1/namespaces/default/configmaps/held")
        .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn delete_collection_removes_matching_objects() {
    let env = Env::start().await;
    create_cm(&env, "x1", json!({"kill": "yes"})).await;
    create_cm(&env, "x2", json!({"kill": "yes"})).await;
    create_cm(&env, "keep", json!({})).await;
    let (code, _) = env
        .http(
            "DELETE",
            "/api/v1/namespaces/default/configmaps?labelSelector=kill%3Dyes",
            "application/json",
            "",
        )
        .await;
    assert_eq!(code, 200);
    let (_, body) = env.http_get("/api/v1/namespaces/default/configmaps").await;
    let names: Vec<Value> = parse(&body)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].clone())
        // The namespace's published CA is not the test's.
        .filter(|n| n != "kube-root-ca.crt")
        .collect();
    assert_eq!(names, [json!("keep")]);
}

#[tokio::test]
async fn discovery_and_openapi_documents_are_served() {
    let env = Env::start().await;
    let (_, body) = env.http_get("/apis").await;
    let groups = parse(&body);
    assert_eq!(groups["kind"], "APIGroupList");
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "apps" && g["preferredVersion"]["groupVersion"] == "apps/v1")
    );
    let (_, body) = env.http_get("/apis/apps/v1").await;
    let list = parse(&body);
    assert!(
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "deployments/scale" && r["kind"] == "Scale")
    );
    let (_, body) = env.http_get("/openapi/v3").await;
    let url = parse(&body)["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, body) = env.http_get(&url).await;
    assert_eq!(code, 200);
    assert!(
        parse(&body)["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
            .is_object()
    );
    for p in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(env.http_get(p).await, (200, "ok".to_string()));
    }
}

#[tokio::test]
async fn static_token_is_required_when_configured() {
    let env = Env::start_with(SandboxOptions {
        token: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    let (code, body) = env.http_get("/api/v1/namespaces").await;
    assert_eq!(code, 401);
    assert_eq!(parse(&body)["reason"], "Unauthorized");
    assert!(env.sandbox.kubeconfig_yaml().contains("token: s3cret"));
    let auth = "Authorization: Bearer s3cret\r\n";
    let (code, _) = env
        .http_with("GET", "/api/v1/namespaces", "application/json", auth, "")
        .await;
    assert_eq!(code, 200);
    let wrong = "Authorization: Bearer wrong\r\n";
    let (code, _) = env
        .http_with("GET", "/api/v1/namespaces", "application/json", wrong, "")
        .await;
    assert_eq!(code, 401);
    // Public information stays anonymous, as on a real server.
    assert_eq!(env.http_get("/version").await.0, 200);
}

//! What a real cluster gives every client beyond the objects themselves, judged by
//! kubectl: `/metrics`, the `kube-root-ca.crt` ConfigMap in every namespace, the status
//! conditions of a namespace being deleted, graceful pod deletion, and a body over the
//! size limit answered as a `Status`.

mod common;

use common::Env;
use kube_sandbox::SandboxOptions;
use serde_json::Value;
use std::time::{Duration, Instant};

fn condition<'a>(obj: &'a Value, type_: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn metrics_count_requests_under_the_apiserver_names() {
    let env = Env::start().await;
    env.kubectl(&["get", "pods"]).await.ok();
    env.kubectl(&["create", "configmap", "c", "--from-literal=a=1"])
        .await
        .ok();
    let text = env.kubectl(&["get", "--raw", "/metrics"]).await.ok().stdout;
    assert!(
        text.contains("# TYPE apiserver_request_total counter\n"),
        "{text}"
    );
    let count = |line_start: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"))
    };
    assert!(
        count(
            "apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\"}"
        ) >= 1
    );
    assert_eq!(
        count(
            "apiserver_request_total{code=\"201\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"POST\",version=\"v1\"}"
        ),
        1
    );
    assert!(
        count(
            "apiserver_request_duration_seconds_count{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\"}"
        ) >= 1
    );
    assert_eq!(
        count("apiserver_storage_objects{resource=\"namespaces\"}"),
        4
    );
    assert!(text.contains("apiserver_current_inflight_requests{request_kind=\"readOnly\"} 1\n"));
}

#[tokio::test]
async fn every_namespace_gets_the_root_ca_config_map_and_keeps_it() {
    let env = Env::start_with(SandboxOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    let ca = env.sandbox.ca_pem().unwrap().to_string();
    env.kubectl(&["create", "namespace", "shop"]).await.ok();
    let read = |env: &Env| env.get_in("shop", "", "configmaps", "kube-root-ca.crt");
    let cm = env.until(10, "kube-root-ca.crt in shop", read).await;
    assert_eq!(cm["data"]["ca.crt"], ca.as_str());
    let out = env
        .kubectl(&["-n", "shop", "get", "configmaps", "-o", "name"])
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "configmap/kube-root-ca.crt");
    // The built-in namespaces have it too.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        env.until(10, "kube-root-ca.crt", |e| {
            e.get_in(ns, "", "configmaps", "kube-root-ca.crt")
        })
        .await;
    }
    // A deleted one is put back, a changed one restored.
    let uid = cm["metadata"]["uid"].clone();
    env.kubectl(&["-n", "shop", "delete", "configmap", "kube-root-ca.crt"])
        .await
        .ok();
    env.until(10, "a new kube-root-ca.crt", |e| {
        read(e).filter(|c| c["metadata"]["uid"] != uid)
    })
    .await;
    env.kubectl(&[
        "-n",
        "shop",
        "patch",
        "configmap",
        "kube-root-ca.crt",
        "--type=merge",
        "-p",
        r#"{"data":{"ca.crt":"forged"}}"#,
    ])
    .await
    .ok();
    env.until(10, "the CA restored", |e| {
        read(e).filter(|c| c["data"]["ca.crt"] == ca.as_str())
    })
    .await;
}

#[tokio::test]
async fn a_namespace_being_deleted_says_what_remains_and_what_holds_it() {
    let env = Env::start().await;
    env.kubectl(&["create", "namespace", "gone"]).await.ok();
    env.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: gone, finalizers: [example.com/hold]}\n")
        .await;
    env.kubectl(&["delete", "namespace", "gone", "--wait=false"])
        .await
        .ok();
    let ns = env
        .until(10, "deletion conditions", |e| {
            e.get_in("", "", "namespaces", "gone")
                .filter(|n| !condition(n, "NamespaceContentRemaining").is_null())
        })
        .await;
    let ns_json = env.get_json(&["get", "namespace", "gone"]).await;
    assert_eq!(ns_json["status"]["phase"], "Terminating");
    let c = condition(&ns, "NamespaceContentRemaining");
    assert_eq!(
        (
            c["status"].as_str(),
            c["reason"].as_str(),
            c["message"].as_str()
        ),
        (
            Some("True"),
            Some("SomeResourcesRemain"),
            Some("Some resources are remaining: configmaps. has 1 resource instances")
        )
    );
    let c = condition(&ns, "NamespaceFinalizersRemaining");
    assert_eq!(
        (
            c["status"].as_str(),
            c["reason"].as_str(),
            c["message"].as_str()
        ),
        (
            Some("True"),
            Some("SomeFinalizersRemain"),
            Some(
                "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
            )
        )
    );
    for (t, reason) in [
        ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered"),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "ParsedGroupVersions",
        ),
        ("NamespaceDeletionContentFailure", "ContentDeleted"),
    ] {
        let c = condition(&ns, t);
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str()),
            (Some("False"), Some(reason)),
            "{t}"
        );
    }
    env.kubectl(&[
        "-n",
        "gone",
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await
    .ok();
    env.until(10, "the namespace removed", |e| {
        e.get_in("", "", "namespaces", "gone")
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_running_pod_is_deleted_after_its_grace_period_or_at_once_when_forced() {
    let env = Env::start().await;
    for name in ["slow", "forced"] {
        env.kubectl(&["run", name, "--image=nginx:1.27"]).await.ok();
        env.kubectl(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{name}"),
            "--timeout=20s",
        ])
        .await
        .ok();
    }
    let asked = Instant::now();
    env.kubectl(&["delete", "pod", "slow", "--grace-period=3", "--wait=false"])
        .await
        .ok();
    let pod = env.get_json(&["get", "pod", "slow"]).await;
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 3);
    assert!(
        pod["metadata"]["finalizers"].is_null(),
        "{}",
        pod["metadata"]
    );
    let at = pod["metadata"]["deletionTimestamp"].as_str().unwrap();
    let created = pod["metadata"]["creationTimestamp"].as_str().unwrap();
    assert!(at > created, "the deletion is due later: {at}");
    let row = env
        .kubectl(&["get", "pod", "slow", "--no-headers"])
        .await
        .ok()
        .stdout;
    assert_eq!(row.split_whitespace().nth(2), Some("Terminating"), "{row}");
    env.until(10, "the pod gone", |e| {
        e.get("", "pods", "slow").is_none().then_some(())
    })
    .await;
    assert!(
        asked.elapsed() >= Duration::from_millis(2500),
        "gone after {:?}",
        asked.elapsed()
    );
    let forced = env
        .kubectl(&["delete", "pod", "forced", "--grace-period=0", "--force"])
        .await
        .ok();
    assert!(
        forced.stdout.contains("pod \"forced\" force deleted"),
        "{}",
        forced.stdout
    );
    assert!(env.get("", "pods", "forced").is_none());
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_with_a_status() {
    let env = Env::start().await;
    let big = "x".repeat(3 * 1024 * 1024 + 10);
    let body = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"a\":\"{big}\"}}}}"
    );
    let (code, out) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            &body,
        )
        .await;
    assert_eq!(code, 413);
    let status: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "RequestEntityTooLarge");
    assert_eq!(
        status["message"],
        "Request entity too large: limit is 3145728"
    );
}

#[tokio::test]
async fn logs_follow_the_container_until_it_ends() {
    let env = Env::start().await;
    env.kubectl(&[
        "run",
        "worker",
        "--image=nginx:1.27",
        "--restart=Never",
        "--annotations=dev.slipway.sandbox/behavior=complete-after=2s",
    ])
    .await
    .ok();
    env.until(10, "the container running", |e| {
        e.get("", "pods", "worker")
            .filter(|p| p["status"]["containerStatuses"][0]["state"]["running"].is_object())
    })
    .await;
    let started = Instant::now();
    let out = env.kubectl(&["logs", "-f", "worker"]).await.ok();
    assert!(
        out.stdout.contains("started (image nginx:1.27")
            && out
                .stdout
                .trim_end()
                .ends_with("sandbox: exiting with code 0"),
        "{}",
        out.stdout
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "followed for {:?}",
        started.elapsed()
    );
    // A finished container's log is read at once.
    let again = env.kubectl(&["logs", "-f", "worker"]).await.ok();
    assert_eq!(again.stdout, out.stdout);
}

#[tokio::test]
async fn autoscalers_are_served_as_v1_and_v2_from_one_object() {
    let env = Env::start().await;
    env.kubectl(&["create", "deployment", "web", "--image=nginx:1.27"])
        .await
        .ok();
    env.kubectl(&[
        "autoscale",
        "deployment",
        "web",
        "--min=2",
        "--max=5",
        "--cpu-percent=70",
    ])
    .await
    .ok();
    let v2 = env
        .get_json(&["get", "horizontalpodautoscalers.v2.autoscaling", "web"])
        .await;
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    let v1 = env
        .get_json(&["get", "horizontalpodautoscalers.v1.autoscaling", "web"])
        .await;
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
    assert_eq!(v1["spec"]["minReplicas"], 2);
    // A write in v1 is seen in v2, and what v1 cannot say survives it.
    env.kubectl(&[
        "patch",
        "horizontalpodautoscalers.v2.autoscaling",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":60}}}}"#,
    ])
    .await
    .ok();
    env.kubectl(&[
        "patch",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"targetCPUUtilizationPercentage":50}}"#,
    ])
    .await
    .ok();
    let v2 = env
        .get_json(&["get", "horizontalpodautoscalers.v2.autoscaling", "web"])
        .await;
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        50
    );
    assert_eq!(
        v2["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        60
    );
    assert!(
        v2["metadata"]["annotations"].is_null(),
        "{}",
        v2["metadata"]
    );
    let discovery = env
        .kubectl(&["get", "--raw", "/apis/autoscaling"])
        .await
        .ok()
        .json();
    assert_eq!(discovery["preferredVersion"]["version"], "v2");
    assert_eq!(discovery["versions"].as_array().unwrap().len(), 2);
}

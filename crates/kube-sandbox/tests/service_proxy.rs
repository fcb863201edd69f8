//! The service proxy subresource (`services/NAME[:PORT]/proxy/PATH`) judged by real
//! kubectl (`get --raw`) and a plain HTTP client, and the request behaviours (`errors=`,
//! `latency=`) of the simulated apps that answer it.

mod common;

use common::Env;
use kube_sandbox::{SandboxOptions, SandboxUser};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A Deployment of `replicas` pods with the behaviour annotation `behavior` and a Service
/// of the same name with port 80 named `http`.
fn app(name: &str, replicas: u32, behavior: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations:
        dev.slipway.sandbox/behavior: "{behavior}"
    spec:
      containers:
      - name: app
        image: example.com/{name}:1
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
  - name: http
    port: 80
    targetPort: 8080
"#
    )
}

/// Waits until the Endpoints of `name` list `n` ready addresses.
async fn ready(env: &Env, name: &str, n: usize) {
    env.until(30, &format!("{n} ready endpoints of {name}"), |e| {
        let ep = e.get_in("default", "", "endpoints", name)?;
        let count = ep["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["addresses"].as_array().map_or(0, Vec::len))
            .sum::<usize>();
        (count == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn kubectl_get_raw_reaches_a_ready_pod_of_the_service() {
    let env = Env::start().await;
    env.apply(&app("web", 2, "ready")).await;
    ready(&env, "web", 2).await;
    let out = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/services/web:80/proxy/healthz",
        ])
        .await
        .ok();
    let body = out.json();
    assert!(body["pod"].as_str().unwrap().starts_with("web-"), "{body}");
    assert_eq!(body["image"], "example.com/web:1");
    assert_eq!(body["path"], "/healthz");
    assert_eq!(body["status"], 200);
    // Every form of the service id, and no path at all.
    for (id, path) in [
        ("web:http", "/proxy/a/b"),
        ("http:web:80", "/proxy"),
        ("http:web:http", "/proxy/x?y=1"),
        ("web%3A80", "/proxy/escaped"),
    ] {
        let (code, body) = env
            .http_get(&format!("/api/v1/namespaces/default/services/{id}{path}"))
            .await;
        assert_eq!(code, 200, "{id}{path}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let want = path.trim_start_matches("/proxy").split('?').next().unwrap();
        let want = if want.is_empty() { "/" } else { want };
        assert_eq!(body["path"], want, "{id}{path}");
    }
    // Other verbs reach the app too.
    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/services/web:80/proxy/orders",
            "application/json",
            "{}",
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"method\":\"POST\""), "{body}");
    // As on a real server, a named port must be named: the bare name asks for the port
    // without a name.
    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/web/proxy/")
        .await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("no endpoints available for service \\\"web\\\""),
        "{body}"
    );
}

#[tokio::test]
async fn the_proxy_answers_as_the_real_server_when_it_cannot() {
    let env = Env::start().await;
    env.apply(&app("web", 1, "ready")).await;
    env.apply(&app("dark", 1, "never-ready")).await;
    ready(&env, "web", 1).await;
    env.until(
        30,
        "the never-ready pod among the not-ready addresses",
        |e| {
            let ep = e.get_in("default", "", "endpoints", "dark")?;
            ep["subsets"][0]["notReadyAddresses"][0]
                .is_object()
                .then_some(())
        },
    )
    .await;
    env.apply(&app("ghost", 0, "ready")).await;
    env.until(30, "the endpoints of ghost", |e| {
        e.get_in("default", "", "endpoints", "ghost")
    })
    .await;
    let status = |body: &str| -> Value { serde_json::from_str(body).unwrap() };

    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/dark:80/proxy/")
        .await;
    assert_eq!(code, 503, "{body}");
    let s = status(&body);
    assert_eq!(s["kind"], "Status");
    assert_eq!(s["reason"], "ServiceUnavailable");
    // Only not-ready addresses: the real server names the service as the request did.
    assert_eq!(
        s["message"],
        "no endpoints available for service \"dark:80\""
    );
    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/ghost:80/proxy/")
        .await;
    assert_eq!(code, 503, "{body}");
    // No subsets at all: the service's name.
    assert_eq!(
        status(&body)["message"],
        "no endpoints available for service \"ghost\""
    );

    let out = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/services/dark:80/proxy/",
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("no endpoints available for service \\\"dark:80\\\"")
            || out
                .stderr
                .contains("no endpoints available for service \"dark:80\""),
        "{}",
        out.stderr
    );

    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/web:81/proxy/")
        .await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        status(&body)["message"],
        "no service port 81 found for service \"web\""
    );

    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/web:grpc/proxy/")
        .await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        status(&body)["message"],
        "no endpoints available for service \"web:grpc\""
    );

    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/nope:80/proxy/")
        .await;
    assert_eq!(code, 404, "{body}");
    let s = status(&body);
    assert_eq!(s["reason"], "NotFound");
    assert_eq!(s["message"], "services \"nope\" not found");
    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/nope/proxy/")
        .await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(status(&body)["message"], "endpoints \"nope\" not found");

    let (code, body) = env
        .http_get("/api/v1/namespaces/default/services/ftp:web:80/proxy/")
        .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        status(&body)["message"],
        "invalid service request \"ftp:web:80\""
    );
}

#[tokio::test]
async fn errors_and_latency_shape_the_answers_deterministically() {
    let env = Env::with_speed(10.0).await;
    env.apply(&app("flaky", 1, "slow-start=1s,errors=0.25,latency=1s"))
        .await;
    ready(&env, "flaky", 1).await;
    let mut failed = 0;
    let mut slowest_fast = Duration::MAX;
    for _ in 0..20 {
        let started = Instant::now();
        let (code, body) = env
            .http_get("/api/v1/namespaces/default/services/flaky:80/proxy/")
            .await;
        slowest_fast = slowest_fast.min(started.elapsed());
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], code, "{body}");
        match code {
            200 => {}
            500 => failed += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    // One pod, one sequence: exactly a quarter of 20.
    assert_eq!(failed, 5);
    // latency=1s at speed 10 is 100 ms per answer.
    assert!(
        slowest_fast >= Duration::from_millis(100),
        "{slowest_fast:?}"
    );
}

#[tokio::test]
async fn the_image_label_gives_the_request_behaviour_too() {
    let env = Env::start_with(SandboxOptions {
        registry_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    })
    .await;
    let registry = env.sandbox.registry_addr().unwrap().to_string();
    let image = tokio::task::spawn_blocking(move || {
        common::push_image(&registry, "demo/broken", "1", Some("ready,errors=1"))
    })
    .await
    .unwrap();
    let yaml = app("broken", 1, "").replace(
        "        dev.slipway.sandbox/behavior: \"\"\n",
        "        unrelated: \"x\"\n",
    );
    env.apply(&yaml.replace("example.com/broken:1", &image))
        .await;
    ready(&env, "broken", 1).await;
    for _ in 0..3 {
        let (code, body) = env
            .http_get("/api/v1/namespaces/default/services/broken:80/proxy/")
            .await;
        assert_eq!(code, 500, "{body}");
    }
}

#[tokio::test]
async fn rbac_asks_for_get_on_services_proxy() {
    let env = Env::start_with(SandboxOptions {
        tls: true,
        users: vec![SandboxUser {
            name: "alice".into(),
            groups: vec![],
        }],
        ..Default::default()
    })
    .await;
    env.apply(&app("web", 1, "ready")).await;
    ready(&env, "web", 1).await;
    let raw = [
        "--context",
        "alice",
        "get",
        "--raw",
        "/api/v1/namespaces/default/services/web:80/proxy/healthz",
    ];
    let out = env.kubectl(&raw).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(
            "services \"web:80\" is forbidden: User \"alice\" cannot get resource \"services/proxy\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        out.stderr
    );
    // `view` has no proxy rights; `edit` has.
    env.kubectl(&[
        "create",
        "rolebinding",
        "alice-view",
        "--clusterrole=view",
        "--user=alice",
    ])
    .await
    .ok();
    assert_ne!(env.kubectl(&raw).await.code, 0);
    env.kubectl(&[
        "create",
        "rolebinding",
        "alice-edit",
        "--clusterrole=edit",
        "--user=alice",
    ])
    .await
    .ok();
    let body = env.kubectl(&raw).await.ok().json();
    assert_eq!(body["path"], "/healthz");
}

#[tokio::test]
async fn lifecycles_keep_their_meaning_in_a_combination() {
    let env = Env::with_speed(20.0).await;
    let pod = |name: &str, behavior: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n    dev.slipway.sandbox/behavior: \"{behavior}\"\nspec:\n  restartPolicy: Never\n  containers:\n  - name: app\n    image: example.com/app:1\n"
        )
    };
    env.apply(&pod("exits", "errors=0.5,exit=3,latency=2s"))
        .await;
    env.apply(&pod("twice", "ready,crash")).await;
    env.until(30, "exits terminated with code 3", |e| {
        let p = e.get("", "pods", "exits")?;
        (p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3).then_some(())
    })
    .await;
    // Two lifecycles are not a behaviour: the pod runs as `ready` and its log says why.
    env.until(30, "twice ready", |e| {
        let p = e.get("", "pods", "twice")?;
        (p["status"]["containerStatuses"][0]["ready"] == true).then_some(())
    })
    .await;
    let log = env.kubectl(&["logs", "twice"]).await.ok().stdout;
    assert!(
        log.contains("unknown behavior \"ready,crash\", running as \"ready\""),
        "{log}"
    );
}

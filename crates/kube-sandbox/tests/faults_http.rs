//! Fault injection: share of faulted requests, the Status answers, latency, dropped
//! watches, and real kubectl against a faulty server.

mod common;

use common::Env;
use kube_sandbox::SandboxOptions;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_of_faults_matches_the_rate_and_answers_are_statuses() {
    let env = Env::start_with(SandboxOptions {
        fault_rate: 0.25,
        fault_seed: 7,
        ..Default::default()
    })
    .await;
    let n = 400;
    let mut faults = std::collections::BTreeMap::new();
    for _ in 0..n {
        let (code, body) = env.http_get("/api/v1/namespaces/default/configmaps").await;
        if code != 200 {
            *faults.entry(code).or_insert(0) += 1;
            let status: serde_json::Value = serde_json::from_str(&body).expect("a Status");
            assert_eq!(status["kind"], "Status");
            assert_eq!(status["code"], code);
            let reason = match code {
                500 => "InternalError",
                503 => "ServiceUnavailable",
                429 => "TooManyRequests",
                other => panic!("unexpected code {other}: {body}"),
            };
            assert_eq!(status["reason"], reason);
        }
    }
    let total: i32 = faults.values().sum();
    eprintln!("{total} faults of {n}: {faults:?}");
    assert!((60..=140).contains(&total), "{total} faults of {n}");
    assert_eq!(faults.len(), 3, "{faults:?}");
    // 429 carries Retry-After: 1.
    let mut seen = false;
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(env.sandbox.addr())
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        if buf.starts_with("HTTP/1.1 429") {
            assert!(
                buf.to_ascii_lowercase().contains("retry-after: 1\r\n"),
                "{buf}"
            );
            seen = true;
            break;
        }
    }
    assert!(seen, "a 429 within 200 requests");
    // Version, health and discovery are never faulted.
    for path in [
        "/version",
        "/healthz",
        "/readyz",
        "/livez",
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/openapi/v3",
    ] {
        for _ in 0..20 {
            assert_eq!(env.http_get(path).await.0, 200, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_faults() {
    let mut runs = vec![];
    for _ in 0..2 {
        let env = Env::start_with(SandboxOptions {
            fault_rate: 0.5,
            fault_seed: 99,
            ..Default::default()
        })
        .await;
        let mut codes = vec![];
        for _ in 0..50 {
            codes.push(env.http_get("/api/v1/namespaces").await.0);
        }
        runs.push(codes);
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_dropped_watches() {
    let env = Env::start_with(SandboxOptions {
        latency: Some(Duration::from_millis(150)),
        watch_drop_after: Some(Duration::from_millis(700)),
        ..Default::default()
    })
    .await;
    let t = Instant::now();
    assert_eq!(env.http_get("/api/v1/namespaces").await.0, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    // A watch without timeoutSeconds ends after watch_drop_after.
    let t = Instant::now();
    let (code, body) = env.http_get("/api/v1/namespaces?watch=1").await;
    assert_eq!(code, 200);
    assert!(body.contains("\"ADDED\""), "{body}");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_succeeds_or_reports_the_status() {
    let env = Env::start_with(SandboxOptions {
        fault_rate: 0.3,
        fault_seed: 3,
        ..Default::default()
    })
    .await;
    let mut ok = 0;
    let mut failed = 0;
    for _ in 0..12 {
        let out = env
            .kubectl(&["get", "configmaps", "-n", "kube-system"])
            .await;
        if out.code == 0 {
            ok += 1;
        } else {
            failed += 1;
            assert!(
                out.stderr.contains("injected fault")
                    || out
                        .stderr
                        .contains("the server is currently unable to handle the request")
                    || out.stderr.contains("has asked us to try again later"),
                "kubectl failed without the Status message: {}",
                out.stderr
            );
        }
    }
    eprintln!("kubectl: {ok} succeeded, {failed} failed with the Status message");
    assert!(ok > 0, "kubectl eventually succeeds");
    // Writes too: retry until the create is acknowledged.
    let mut created = false;
    for _ in 0..20 {
        let out = env
            .kubectl(&["create", "configmap", "faulty", "--from-literal=a=b"])
            .await;
        if out.code == 0 || out.stderr.contains("AlreadyExists") {
            created = true;
            break;
        }
    }
    assert!(created);
}

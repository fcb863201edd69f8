//! The Job, Endpoints and StatefulSet controllers, judged by the real kubectl.

mod common_images;

use common_images::{Env, deployment_yaml, push_image};
use kube_sandbox::store::EventType;
use serde_json::Value;

const SPEED: f64 = 20.0;

fn job_yaml(name: &str, image: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec_extra}  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: task\n        image: {image}\n"
    )
}

fn conditions(o: &Value) -> Vec<(String, String)> {
    o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_with_complete_after_image_completes_all_completions() {
    let reg = testkit::Registry::start();
    let image = push_image(reg.host(), "migrate", "v1", Some("complete-after=2s"));
    let env = Env::start(SPEED).await;
    env.apply(&job_yaml(
        "migrate",
        &image,
        "  completions: 2\n  parallelism: 1\n",
    ))
    .await;
    env.kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/migrate",
        "--timeout=30s",
    ])
    .await
    .ok();
    let job = env.get("batch", "jobs", "migrate").unwrap();
    assert_eq!(job["status"]["succeeded"], 2);
    assert!(job["status"]["active"].is_null());
    assert!(job["status"]["startTime"].is_string() && job["status"]["completionTime"].is_string());
    assert_eq!(
        conditions(&job),
        [
            (
                "SuccessCriteriaMet".to_string(),
                "CompletionsReached".to_string()
            ),
            ("Complete".to_string(), "CompletionsReached".to_string())
        ]
    );
    let pods = env.pods();
    assert_eq!(pods.len(), 2);
    assert!(
        pods.iter().all(|p| p["status"]["phase"] == "Succeeded"
            && p["metadata"]["labels"]["job-name"] == "migrate")
    );
    let events = env.events_for("migrate");
    for p in &pods {
        let m = format!("Created pod: {}", p["metadata"]["name"].as_str().unwrap());
        assert!(
            events.iter().any(|e| e.1 == "SuccessfulCreate" && e.2 == m),
            "{events:?}"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e.1 == "Completed" && e.2 == "Job completed")
    );
    let logs = env.kubectl(&["logs", "job/migrate"]).await.ok().stdout;
    assert!(logs.contains("exiting with code 0"), "{logs}");
    let row = env
        .kubectl(&["get", "pods", "--no-headers"])
        .await
        .ok()
        .stdout;
    assert!(
        row.lines()
            .all(|l| l.split_whitespace().nth(2) == Some("Completed")),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_job_stops_at_its_backoff_limit() {
    let reg = testkit::Registry::start();
    let image = push_image(reg.host(), "broken", "v1", Some("exit=1"));
    let env = Env::start(SPEED).await;
    env.apply(&job_yaml("broken", &image, "  backoffLimit: 1\n"))
        .await;
    env.kubectl(&[
        "wait",
        "--for=condition=failed",
        "job/broken",
        "--timeout=30s",
    ])
    .await
    .ok();
    let job = env.get("batch", "jobs", "broken").unwrap();
    assert_eq!(job["status"]["failed"], 2);
    assert_eq!(
        conditions(&job),
        [
            (
                "FailureTarget".to_string(),
                "BackoffLimitExceeded".to_string()
            ),
            ("Failed".to_string(), "BackoffLimitExceeded".to_string())
        ]
    );
    let failed = job["status"]["conditions"][1].clone();
    assert_eq!(
        failed["message"],
        "Job has reached the specified backoff limit"
    );
    assert!(
        env.events_for("broken")
            .iter()
            .any(|e| e.0 == "Warning" && e.1 == "BackoffLimitExceeded")
    );
    let pods = env.pods();
    assert_eq!(pods.len(), 2, "no pod after the limit");
    for p in &pods {
        let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(
            (p["status"]["phase"].as_str(), t["exitCode"].as_i64()),
            (Some("Failed"), Some(1))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_list_ready_pods_and_keep_unready_ones_apart() {
    let reg = testkit::Registry::start();
    let good = push_image(reg.host(), "svc", "good", None);
    let bad = push_image(reg.host(), "svc", "bad", Some("never-ready"));
    let env = Env::start(SPEED).await;
    let port = "        ports:\n        - name: http\n          containerPort: 8080\n";
    env.apply(&deployment_yaml("web", &good, 2, "", port)).await;
    env.apply(&deployment_yaml("stuck", &bad, 1, "", port))
        .await;
    let svc = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - name: web\n    port: 80\n    targetPort: http\n"
        )
    };
    env.apply(&svc("web")).await;
    env.apply(&svc("stuck")).await;
    env.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .await
        .ok();
    let ep = env
        .until(10, "two ready addresses", |e| {
            e.get("", "endpoints", "web").filter(|ep| {
                ep["subsets"][0]["addresses"]
                    .as_array()
                    .is_some_and(|a| a.len() == 2)
            })
        })
        .await;
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);
    assert_eq!(ep["subsets"][0]["ports"][0]["name"], "web");
    let table = env
        .kubectl(&["get", "endpoints", "web", "--no-headers"])
        .await
        .ok()
        .stdout;
    let ips: Vec<String> = env
        .pods()
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "web")
        .map(|p| format!("{}:8080", p["status"]["podIP"].as_str().unwrap()))
        .collect();
    for ip in &ips {
        assert!(table.contains(ip.as_str()), "{table} lacks {ip}");
    }
    let stuck = env
        .until(10, "an unready address", |e| {
            e.get("", "endpoints", "stuck")
                .filter(|ep| ep["subsets"][0]["notReadyAddresses"].is_array())
        })
        .await;
    assert!(stuck["subsets"][0]["addresses"].is_null());
    assert_eq!(
        stuck["subsets"][0]["notReadyAddresses"][0]["targetRef"]["kind"],
        "Pod"
    );

    // Deleting the Service removes its Endpoints.
    env.kubectl(&["delete", "service", "stuck"]).await.ok();
    env.until(10, "endpoints removed", |e| {
        e.get("", "endpoints", "stuck").is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_creates_pods_in_order_and_rolls_from_the_highest_ordinal() {
    let env = Env::start(SPEED).await;
    let sts = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 3\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    spec:\n      containers:\n      - name: db\n        image: {image}\n"
        )
    };
    let mut rx = env.store().subscribe();
    env.apply(&sts("postgres:16")).await;
    env.kubectl(&["rollout", "status", "statefulset/db", "--timeout=30s"])
        .await
        .ok();
    let mut created = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if ev.storage_key == "/pods" && ev.event_type == EventType::Added {
            created.push(ev.object["metadata"]["name"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(created, ["db-0", "db-1", "db-2"]);
    let mut rx = env.store().subscribe();
    env.apply(&sts("postgres:17")).await;
    env.kubectl(&["rollout", "status", "statefulset/db", "--timeout=30s"])
        .await
        .ok();
    let mut deleted = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if ev.storage_key == "/pods" && ev.event_type == EventType::Deleted {
            deleted.push(ev.object["metadata"]["name"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(deleted, ["db-2", "db-1", "db-0"]);
    let s = env.get("apps", "statefulsets", "db").unwrap();
    assert_eq!(
        s["status"]["currentRevision"],
        s["status"]["updateRevision"]
    );
    assert_eq!(s["status"]["updatedReplicas"], 3);
}

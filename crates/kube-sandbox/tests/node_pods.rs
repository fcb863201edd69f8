//! The simulated node: scheduling, image resolution against a real registry, container
//! behaviours, pod status shapes, events and logs — as `kubectl get/logs` show them.

mod common;

use common::{Env, container_state, push_image};
use kube_sandbox::store::EventType;
use serde_json::Value;

const SPEED: f64 = 20.0;

fn pod_yaml(
    name: &str,
    image: &str,
    annotations: &str,
    spec_extra: &str,
    container_extra: &str,
) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n{annotations}spec:\n{spec_extra}  containers:\n  - name: app\n    image: {image}\n{container_extra}"
    )
}

fn cond(pod: &Value, t: &str) -> Value {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == t)
        .cloned()
        .unwrap_or_default()
}

async fn row(env: &Env, name: &str) -> Vec<String> {
    let out = env
        .kubectl(&["get", "pod", name, "--no-headers"])
        .await
        .ok()
        .stdout;
    out.split_whitespace().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_pod_has_the_real_status_shape_events_and_logs() {
    let reg = testkit::Registry::start();
    let image = push_image(reg.host(), "ok", "v1", None);
    let env = Env::with_speed(SPEED).await;
    env.kubectl(&["run", "ok", "--image", &image]).await.ok();
    env.kubectl(&["wait", "--for=condition=Ready", "pod/ok", "--timeout=30s"])
        .await
        .ok();
    let pod = env
        .kubectl(&["get", "pod", "ok", "-o", "json"])
        .await
        .ok()
        .json();
    let st = &pod["status"];
    assert_eq!(st["phase"], "Running");
    assert_eq!(pod["spec"]["nodeName"], "sandbox-node");
    for t in [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert_eq!(cond(&pod, t)["status"], "True", "{t}");
    }
    let c = &st["containerStatuses"][0];
    assert_eq!(
        (
            c["ready"].as_bool(),
            c["started"].as_bool(),
            c["restartCount"].as_i64()
        ),
        (Some(true), Some(true), Some(0))
    );
    assert_eq!(c["image"], image.as_str());
    assert!(
        c["imageID"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/ok@sha256:", reg.host())),
        "{}",
        c["imageID"]
    );
    assert!(c["state"]["running"]["startedAt"].is_string());
    assert!(st["podIP"].as_str().unwrap().starts_with("10.244."));
    assert!(st["hostIP"].is_string() && st["startTime"].is_string());
    assert_eq!(st["qosClass"], "BestEffort");
    let reasons: Vec<String> = env.events_for("ok").into_iter().map(|e| e.1).collect();
    for r in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(
            reasons.iter().any(|x| x == r),
            "{r} missing from {reasons:?}"
        );
    }
    assert_eq!(&row(&env, "ok").await[1..4], ["1/1", "Running", "0"]);
    let logs = env.kubectl(&["logs", "ok"]).await.ok().stdout;
    assert!(logs.contains("container ok started"), "{logs}");
    let events = env.kubectl(&["get", "events"]).await.ok().stdout;
    assert!(
        events.contains("Successfully assigned default/ok to sandbox-node"),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_goes_from_err_image_pull_to_image_pull_back_off() {
    let reg = testkit::Registry::start();
    let image = format!("{}/nope:v1", reg.host());
    let env = Env::with_speed(SPEED).await;
    let mut rx = env.store().subscribe();
    env.kubectl(&["run", "miss", "--image", &image]).await.ok();
    let pod = env
        .until(20, "ImagePullBackOff", |e| {
            e.get("", "pods", "miss")
                .filter(|p| container_state(p) == "ImagePullBackOff")
        })
        .await;
    let waiting = &pod["status"]["containerStatuses"][0]["state"]["waiting"];
    assert_eq!(
        waiting["message"],
        format!("Back-off pulling image \"{image}\"")
    );
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(cond(&pod, "Ready")["reason"], "ContainersNotReady");
    assert_eq!(
        cond(&pod, "Ready")["message"],
        "containers with unready status: [miss]"
    );
    let mut err_pull = None;
    while let Ok(ev) = rx.try_recv() {
        if ev.storage_key == "/pods" && container_state(&ev.object) == "ErrImagePull" {
            err_pull = Some(
                ev.object["status"]["containerStatuses"][0]["state"]["waiting"]["message"].clone(),
            );
        }
    }
    let full = image.clone();
    let expected = format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
    );
    assert_eq!(
        err_pull.expect("ErrImagePull came first"),
        expected.as_str()
    );
    let events = env.events_for("miss");
    let has = |t: &str, r: &str, m: &str| events.iter().any(|e| e.0 == t && e.1 == r && e.2 == m);
    assert!(
        has("Normal", "Pulling", &format!("Pulling image \"{image}\"")),
        "{events:?}"
    );
    assert!(
        has(
            "Warning",
            "Failed",
            &format!("Failed to pull image \"{image}\": {expected}")
        ),
        "{events:?}"
    );
    assert!(
        has("Warning", "Failed", "Error: ErrImagePull"),
        "{events:?}"
    );
    assert!(
        has(
            "Normal",
            "BackOff",
            &format!("Back-off pulling image \"{image}\"")
        ),
        "{events:?}"
    );
    assert!(
        has("Warning", "Failed", "Error: ImagePullBackOff"),
        "{events:?}"
    );
    let status = row(&env, "miss").await[2].clone();
    assert!(
        status == "ImagePullBackOff" || status == "ErrImagePull",
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_image_enters_crash_loop_back_off_with_growing_restarts() {
    let reg = testkit::Registry::start();
    let image = push_image(reg.host(), "boom", "v1", Some("crash"));
    let env = Env::with_speed(SPEED).await;
    env.kubectl(&["run", "boom", "--image", &image]).await.ok();
    let pod = env
        .until(20, "CrashLoopBackOff after two restarts", |e| {
            e.get("", "pods", "boom").filter(|p| {
                container_state(p) == "CrashLoopBackOff"
                    && p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2)
            })
        })
        .await;
    let c = &pod["status"]["containerStatuses"][0];
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let msg = c["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("back-off ")
            && msg.ends_with(&format!(
                "restarting failed container=boom pod=boom_default({uid})"
            )),
        "{msg}"
    );
    let last = &c["lastState"]["terminated"];
    assert_eq!(
        (last["exitCode"].as_i64(), last["reason"].as_str()),
        (Some(1), Some("Error"))
    );
    assert!(last["startedAt"].is_string() && last["finishedAt"].is_string());
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(c["ready"], false);
    let backoff = format!("Back-off restarting failed container boom in pod boom_default({uid})");
    assert!(
        env.events_for("boom")
            .iter()
            .any(|e| e.0 == "Warning" && e.1 == "BackOff" && e.2 == backoff)
    );
    let cols = row(&env, "boom").await;
    assert_eq!(cols[1], "0/1");
    assert!(
        cols[2] == "CrashLoopBackOff" || cols[2] == "Error",
        "{cols:?}"
    );
    assert!(cols[3].parse::<i64>().unwrap() >= 2, "{cols:?}");
    let previous = env
        .kubectl(&["logs", "boom", "--previous"])
        .await
        .ok()
        .stdout;
    assert!(previous.contains("exiting with code 1"), "{previous}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_requesting_too_much_cpu_stays_pending_unschedulable() {
    let env = Env::with_speed(SPEED).await;
    let big = "    resources:\n      requests:\n        cpu: \"64\"\n";
    env.kubectl_in(
        &["apply", "-f", "-"],
        Some(&pod_yaml("big", "nginx:1.27", "", "", big)),
    )
    .await
    .ok();
    let pod = env
        .until(10, "Unschedulable", |e| {
            e.get("", "pods", "big")
                .filter(|p| cond(p, "PodScheduled")["reason"] == "Unschedulable")
        })
        .await;
    let message = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";
    let c = cond(&pod, "PodScheduled");
    assert_eq!(
        (c["status"].as_str(), c["message"].as_str()),
        (Some("False"), Some(message))
    );
    assert!(pod["spec"]["nodeName"].is_null());
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(pod["status"]["qosClass"], "Burstable");
    assert!(
        env.events_for("big")
            .iter()
            .any(|e| e.0 == "Warning" && e.1 == "FailedScheduling" && e.2 == format!("{message}."))
    );
    assert_eq!(&row(&env, "big").await[1..3], ["0/1", "Pending"]);
    // The node reports what it can allocate.
    let node = env
        .kubectl(&["get", "node", "sandbox-node", "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(node["status"]["allocatable"]["cpu"], "4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_annotation_overrides_the_image_label_and_exit_codes_finish_the_pod() {
    let reg = testkit::Registry::start();
    let image = push_image(reg.host(), "tool", "v1", Some("crash"));
    let env = Env::with_speed(SPEED).await;
    let ann = "  annotations:\n    dev.slipway.sandbox/behavior: exit=3\n";
    env.kubectl_in(
        &["apply", "-f", "-"],
        Some(&pod_yaml(
            "tool",
            &image,
            ann,
            "  restartPolicy: Never\n",
            "",
        )),
    )
    .await
    .ok();
    let pod = env
        .until(10, "pod Failed", |e| {
            e.get("", "pods", "tool")
                .filter(|p| p["status"]["phase"] == "Failed")
        })
        .await;
    let t = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(3), Some("Error"))
    );
    assert_eq!(cond(&pod, "Ready")["reason"], "PodCompleted");
    assert_eq!(row(&env, "tool").await[2], "Error");

    // slow-start: Running but not ready until the start-up time has passed.
    let slow = "  annotations:\n    dev.slipway.sandbox/behavior: slow-start=20s\n";
    let probe =
        "    readinessProbe:\n      tcpSocket:\n        port: 8080\n      periodSeconds: 5\n";
    env.kubectl_in(
        &["apply", "-f", "-"],
        Some(&pod_yaml("slow", &image, slow, "", probe)),
    )
    .await
    .ok();
    let pod = env
        .until(10, "slow pod running", |e| {
            e.get("", "pods", "slow")
                .filter(|p| container_state(p) == "Running")
        })
        .await;
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], false);
    env.kubectl(&["wait", "--for=condition=Ready", "pod/slow", "--timeout=20s"])
        .await
        .ok();
    let unhealthy = env
        .events_for("slow")
        .into_iter()
        .find(|e| e.1 == "Unhealthy")
        .expect("probe failures before ready");
    assert!(
        unhealthy
            .2
            .starts_with("Readiness probe failed: dial tcp 10.244."),
        "{unhealthy:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_pod_terminates_gracefully_then_disappears() {
    let env = Env::with_speed(SPEED).await;
    env.kubectl(&["run", "bye", "--image=nginx:1.27"])
        .await
        .ok();
    env.kubectl(&["wait", "--for=condition=Ready", "pod/bye", "--timeout=20s"])
        .await
        .ok();
    let mut rx = env.store().subscribe();
    env.kubectl(&["delete", "pod", "bye", "--wait=true"])
        .await
        .ok();
    assert!(env.get("", "pods", "bye").is_none());
    let mut terminating = false;
    let mut deleted = false;
    while let Ok(ev) = rx.try_recv() {
        if ev.storage_key == "/pods" {
            terminating |= ev.event_type == EventType::Modified
                && ev.object["metadata"]["deletionTimestamp"].is_string();
            deleted |= ev.event_type == EventType::Deleted;
        }
    }
    assert!(terminating && deleted);
    assert!(
        env.events_for("bye")
            .iter()
            .any(|e| e.1 == "Killing" && e.2 == "Stopping container bye")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_container_with_a_readiness_probe_is_never_ready() {
    let env = Env::with_speed(SPEED).await;
    let mut rx = env.store().subscribe();
    let ann = "  annotations:\n    dev.slipway.sandbox/behavior: crash\n";
    let probe =
        "    readinessProbe:\n      tcpSocket:\n        port: 8080\n      periodSeconds: 1\n";
    env.kubectl_in(
        &["apply", "-f", "-"],
        Some(&pod_yaml("boom", "nginx:1.27", ann, "", probe)),
    )
    .await
    .ok();
    env.until(30, "two restarts", |e| {
        e.get("", "pods", "boom")
            .filter(|p| p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(2))
    })
    .await;
    let mut seen = 0;
    while let Ok(ev) = rx.try_recv() {
        if ev.storage_key == "/pods" && ev.object["metadata"]["name"] == "boom" {
            seen += 1;
            let c = &ev.object["status"]["containerStatuses"][0];
            assert_ne!(c["ready"], true, "a crashing app answered its probe: {c}");
            assert_ne!(
                cond(&ev.object, "Ready")["status"],
                "True",
                "{}",
                ev.object["status"]
            );
        }
    }
    assert!(seen > 3, "the pod's changes were observed ({seen})");
    assert_eq!(row(&env, "boom").await[1], "0/1");
    assert!(
        env.events_for("boom")
            .iter()
            .any(|e| e.1 == "Unhealthy"
                && e.2.starts_with("Readiness probe failed: dial tcp 10.244.")),
        "{:?}",
        env.events_for("boom")
    );
}

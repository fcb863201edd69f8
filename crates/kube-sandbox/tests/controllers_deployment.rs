//! The Deployment and ReplicaSet controllers, judged by the real kubectl: rollouts,
//! history, undo, restart, pause/resume, scale, progress deadlines, cascading deletion.

mod common;

use common::{Env, deployment_yaml, push_image};
use kube_sandbox::store::EventType;
use serde_json::Value;

const SPEED: f64 = 20.0;

fn rs_of(env: &Env, deploy: &str) -> Vec<Value> {
    let mut v: Vec<Value> = env
        .list("apps", "replicasets")
        .into_iter()
        .filter(|r| r["metadata"]["ownerReferences"][0]["name"] == deploy)
        .collect();
    v.sort_by_key(|r| {
        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .unwrap_or("0")
            .parse::<i64>()
            .unwrap_or(0)
    });
    v
}

fn revision(o: &Value) -> &str {
    o["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .unwrap_or("")
}

fn image(d: &Value) -> &str {
    d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_deployment_rolls_out_and_set_image_undo_walk_the_revisions() {
    let reg = testkit::Registry::start();
    let v1 = push_image(reg.host(), "web", "v1", None);
    let v2 = push_image(reg.host(), "web", "v2", None);
    let env = Env::with_speed(SPEED).await;
    env.kubectl(&[
        "create",
        "deployment",
        "web",
        "--image",
        &v1,
        "--replicas",
        "3",
    ])
    .await
    .ok();
    let out = env
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .await
        .ok();
    assert!(
        out.stdout
            .contains("deployment \"web\" successfully rolled out"),
        "{}",
        out.stdout
    );
    env.kubectl(&[
        "wait",
        "--for=condition=available",
        "deployment/web",
        "--timeout=30s",
    ])
    .await
    .ok();

    // The ReplicaSet: name, hash label, owner, annotations.
    let rss = rs_of(&env, "web");
    assert_eq!(rss.len(), 1);
    let rs = &rss[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("hash label");
    let rs_name = rs["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(rs_name, format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash
    );
    let owner = &rs["metadata"]["ownerReferences"][0];
    assert_eq!(
        (
            owner["kind"].as_str(),
            owner["controller"].as_bool(),
            owner["blockOwnerDeletion"].as_bool()
        ),
        (Some("Deployment"), Some(true), Some(true))
    );
    let ann = &rs["metadata"]["annotations"];
    assert_eq!(
        (
            ann["deployment.kubernetes.io/revision"].as_str(),
            ann["deployment.kubernetes.io/desired-replicas"].as_str(),
            ann["deployment.kubernetes.io/max-replicas"].as_str()
        ),
        (Some("1"), Some("3"), Some("4"))
    );
    assert_eq!(rs["status"]["readyReplicas"], 3);

    // Pods are named after the ReplicaSet and owned by it.
    let pods = env.pods();
    assert_eq!(pods.len(), 3);
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert!(
            name.starts_with(&format!("{rs_name}-")) && name.len() == rs_name.len() + 6,
            "{name}"
        );
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["name"],
            rs_name.as_str()
        );
        assert_eq!(p["status"]["phase"], "Running");
    }

    // Deployment status as calculateStatus writes it.
    let d = env
        .kubectl(&["get", "deployment", "web", "-o", "json"])
        .await
        .ok()
        .json();
    let st = &d["status"];
    assert_eq!(
        (
            st["replicas"].as_i64(),
            st["updatedReplicas"].as_i64(),
            st["readyReplicas"].as_i64(),
            st["availableReplicas"].as_i64()
        ),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert_eq!(st["observedGeneration"], d["metadata"]["generation"]);
    let cond = |t: &str| {
        st["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(cond("Available")["reason"], "MinimumReplicasAvailable");
    assert_eq!(cond("Progressing")["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        cond("Progressing")["message"],
        format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
    );
    assert_eq!(revision(&d), "1");
    assert!(
        env.events_for("web")
            .iter()
            .any(|(_, r, m)| r == "ScalingReplicaSet"
                && m == &format!("Scaled up replica set {rs_name} from 0 to 3"))
    );
    let table = env.kubectl(&["get", "deployment", "web"]).await.ok().stdout;
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()[1..4]
            == ["3/3", "3", "3"],
        "{table}"
    );

    // set image → revision 2, the old ReplicaSet scaled to 0.
    env.kubectl(&["set", "image", "deployment/web", &format!("*={v2}")])
        .await
        .ok();
    env.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .await
        .ok();
    let rss = rs_of(&env, "web");
    assert_eq!(rss.len(), 2);
    assert_eq!(
        (revision(&rss[0]), rss[0]["spec"]["replicas"].as_i64()),
        ("1", Some(0))
    );
    assert_eq!(
        (revision(&rss[1]), rss[1]["spec"]["replicas"].as_i64()),
        ("2", Some(3))
    );
    assert!(
        env.events_for("web")
            .iter()
            .any(|(_, _, m)| m == &format!("Scaled down replica set {rs_name} from 1 to 0"))
    );
    let history = env
        .kubectl(&["rollout", "history", "deployment/web"])
        .await
        .ok()
        .stdout;
    let revs: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revs, ["1", "2"], "{history}");

    // undo → the v1 ReplicaSet comes back as revision 3 and remembers revision 1.
    env.kubectl(&["rollout", "undo", "deployment/web"])
        .await
        .ok();
    env.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .await
        .ok();
    let d = env.get("apps", "deployments", "web").unwrap();
    assert_eq!((image(&d), revision(&d)), (v1.as_str(), "3"));
    let back = env.get("apps", "replicasets", &rs_name).unwrap();
    assert_eq!(revision(&back), "3");
    assert_eq!(
        back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(back["spec"]["replicas"], 3);

    // undo --to-revision=2 → v2 again, as revision 4.
    env.kubectl(&["rollout", "undo", "deployment/web", "--to-revision=2"])
        .await
        .ok();
    env.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .await
        .ok();
    let d = env.get("apps", "deployments", "web").unwrap();
    assert_eq!((image(&d), revision(&d)), (v2.as_str(), "4"));
    assert_eq!(
        rs_of(&env, "web").len(),
        2,
        "no ReplicaSet is created for a rollback"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_pause_resume_and_restart_drive_the_rollout() {
    let reg = testkit::Registry::start();
    let v1 = push_image(reg.host(), "api", "v1", None);
    let v2 = push_image(reg.host(), "api", "v2", None);
    let env = Env::with_speed(SPEED).await;
    env.apply(&deployment_yaml("api", &v1, 2, "", "")).await;
    env.kubectl(&["rollout", "status", "deployment/api", "--timeout=30s"])
        .await
        .ok();

    env.kubectl(&["scale", "deployment/api", "--replicas=4"])
        .await
        .ok();
    env.kubectl(&["rollout", "status", "deployment/api", "--timeout=30s"])
        .await
        .ok();
    assert_eq!(
        env.get("apps", "deployments", "api").unwrap()["status"]["availableReplicas"],
        4
    );
    let rs = &rs_of(&env, "api")[0];
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
        "4"
    );
    assert!(
        env.events_for("api")
            .iter()
            .any(|(_, _, m)| m.ends_with("from 2 to 4"))
    );

    env.kubectl(&["rollout", "pause", "deployment/api"])
        .await
        .ok();
    env.kubectl(&["set", "image", "deployment/api", &format!("*={v2}")])
        .await
        .ok();
    env.until(10, "the paused condition", |e| {
        let d = e.get("apps", "deployments", "api")?;
        let c = d["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Progressing")?
            .clone();
        (c["reason"] == "DeploymentPaused"
            && d["status"]["observedGeneration"] == d["metadata"]["generation"])
            .then_some(())
    })
    .await;
    assert_eq!(
        rs_of(&env, "api").len(),
        1,
        "a paused deployment starts no rollout"
    );
    let undo = env.kubectl(&["rollout", "undo", "deployment/api"]).await;
    assert_ne!(undo.code, 0, "kubectl refuses to undo a paused deployment");

    env.kubectl(&["rollout", "resume", "deployment/api"])
        .await
        .ok();
    env.kubectl(&["rollout", "status", "deployment/api", "--timeout=30s"])
        .await
        .ok();
    let rss = rs_of(&env, "api");
    assert_eq!(rss.len(), 2);
    assert_eq!(rss[1]["spec"]["replicas"], 4);

    env.kubectl(&["rollout", "restart", "deployment/api"])
        .await
        .ok();
    env.kubectl(&["rollout", "status", "deployment/api", "--timeout=30s"])
        .await
        .ok();
    let rss = rs_of(&env, "api");
    assert_eq!(rss.len(), 3);
    assert!(
        rss[2]["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    assert_eq!(revision(&rss[2]), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_ready_image_makes_rollout_status_fail_on_progress_deadline() {
    let reg = testkit::Registry::start();
    let bad = push_image(reg.host(), "slow", "bad", Some("never-ready"));
    let env = Env::with_speed(SPEED).await;
    let probe = "        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: 8080\n          periodSeconds: 2\n";
    env.apply(&deployment_yaml(
        "slow",
        &bad,
        1,
        "  progressDeadlineSeconds: 40\n",
        probe,
    ))
    .await;
    let out = env
        .kubectl(&["rollout", "status", "deployment/slow", "--timeout=30s"])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("deployment \"slow\" exceeded its progress deadline"),
        "{}",
        out.stderr
    );
    let d = env.get("apps", "deployments", "slow").unwrap();
    let c = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    let rs_name = rs_of(&env, "slow")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("False"), Some("ProgressDeadlineExceeded"))
    );
    assert_eq!(
        c["message"],
        format!("ReplicaSet \"{rs_name}\" has timed out progressing.")
    );
    let available = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Available")
        .unwrap()
        .clone();
    assert_eq!(available["reason"], "MinimumReplicasUnavailable");
    let pod = env.pods().remove(0);
    let pod_name = pod["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], false);
    assert!(
        env.events_for(&pod_name)
            .iter()
            .any(|(t, r, m)| t == "Warning"
                && r == "Unhealthy"
                && m == "Readiness probe failed: HTTP probe failed with statuscode: 503")
    );
    let row = env
        .kubectl(&["get", "pods", "--no-headers"])
        .await
        .ok()
        .stdout;
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["0/1", "Running"], "{row}");
}

/// Records the Deployment's available replicas after every change during a rollout to
/// `image`. The events are drained while the rollout runs, so none is lost to a full
/// channel on a busy machine.
async fn availability_during(env: &Env, name: &str, image: &str) -> Vec<i64> {
    let mut rx = env.store().subscribe();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let watched = name.to_string();
    let collector = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = &mut stopped => break,
            };
            match ev {
                Ok(ev) => {
                    if ev.storage_key == "apps/deployments"
                        && ev.object["metadata"]["name"] == watched.as_str()
                        && ev.event_type != EventType::Deleted
                    {
                        seen.push(
                            ev.object["status"]["availableReplicas"]
                                .as_i64()
                                .unwrap_or(0),
                        );
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        seen
    });
    env.kubectl(&[
        "set",
        "image",
        &format!("deployment/{name}"),
        &format!("*={image}"),
    ])
    .await
    .ok();
    env.kubectl(&[
        "rollout",
        "status",
        &format!("deployment/{name}"),
        "--timeout=30s",
    ])
    .await
    .ok();
    let _ = stop.send(());
    collector.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_one_replica_never_drops_below_one_ready() {
    let reg = testkit::Registry::start();
    let v1 = push_image(reg.host(), "one", "v1", None);
    // The new version takes a moment to start, as real ones do: long enough for the
    // old ReplicaSet's status to show its pod gone before the new pod is ready.
    let v2 = push_image(reg.host(), "one", "v2", Some("slow-start=4s"));
    let env = Env::with_speed(SPEED).await;
    let surge = "  strategy:\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0\n";
    env.apply(&deployment_yaml("one", &v1, 1, surge, "")).await;
    env.kubectl(&["rollout", "status", "deployment/one", "--timeout=30s"])
        .await
        .ok();
    let seen = availability_during(&env, "one", &v2).await;
    assert!(
        !seen.is_empty() && seen.iter().all(|a| *a >= 1),
        "availability dipped: {seen:?}"
    );

    // The opposite setting (maxUnavailable 1, maxSurge 0) stops the old pod first.
    let drop = "  strategy:\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 1\n";
    env.apply(&deployment_yaml("two", &v1, 1, drop, "")).await;
    env.kubectl(&["rollout", "status", "deployment/two", "--timeout=30s"])
        .await
        .ok();
    let seen = availability_during(&env, "two", &v2).await;
    assert!(
        seen.contains(&0),
        "maxSurge 0 goes through zero available: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_scales_old_pods_away_before_creating_new_ones_and_history_is_limited() {
    let reg = testkit::Registry::start();
    let tags: Vec<String> = (1..=3)
        .map(|i| push_image(reg.host(), "rec", &format!("v{i}"), None))
        .collect();
    let env = Env::with_speed(SPEED).await;
    let spec = "  revisionHistoryLimit: 1\n  strategy:\n    type: Recreate\n";
    env.apply(&deployment_yaml("rec", &tags[0], 2, spec, ""))
        .await;
    env.kubectl(&["rollout", "status", "deployment/rec", "--timeout=30s"])
        .await
        .ok();
    let first = rs_of(&env, "rec")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let mut rx = env.store().subscribe();
    for t in &tags[1..] {
        env.kubectl(&["set", "image", "deployment/rec", &format!("*={t}")])
            .await
            .ok();
        env.kubectl(&["rollout", "status", "deployment/rec", "--timeout=30s"])
            .await
            .ok();
    }
    let mut messages = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if ev.storage_key == "/events"
            && ev.event_type == EventType::Added
            && ev.object["involvedObject"]["name"] == "rec"
        {
            messages.push(
                ev.object["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    let down = messages
        .iter()
        .position(|m| m == &format!("Scaled down replica set {first} from 2 to 0"))
        .expect("old scaled down");
    let up = messages
        .iter()
        .position(|m| m.starts_with("Scaled up replica set") && !m.contains(&first))
        .expect("new scaled up");
    assert!(down < up, "Recreate stops old pods first: {messages:?}");
    assert!(
        messages.iter().all(|m| !m.contains("from 1 to")),
        "Recreate never scales gradually: {messages:?}"
    );
    let rss = env
        .until(10, "history cleanup", |e| {
            let r = rs_of(e, "rec");
            (r.len() == 2).then_some(r)
        })
        .await;
    assert_eq!(revision(&rss[1]), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_deployment_cascades_to_replicasets_and_terminating_pods() {
    let env = Env::with_speed(SPEED).await;
    env.kubectl(&[
        "create",
        "deployment",
        "gone",
        "--image=nginx:1.27",
        "--replicas=2",
    ])
    .await
    .ok();
    env.kubectl(&["rollout", "status", "deployment/gone", "--timeout=30s"])
        .await
        .ok();
    let mut rx = env.store().subscribe();
    env.kubectl(&["delete", "deployment", "gone"]).await.ok();
    env.until(20, "pods and replicasets gone", |e| {
        (e.pods().is_empty() && e.list("apps", "replicasets").is_empty()).then_some(())
    })
    .await;
    let mut terminating = false;
    while let Ok(ev) = rx.try_recv() {
        if ev.storage_key == "/pods"
            && ev.event_type == EventType::Modified
            && ev.object["metadata"]["deletionTimestamp"].is_string()
        {
            terminating = true;
        }
    }
    assert!(
        terminating,
        "pods show a deletionTimestamp before they disappear"
    );
}

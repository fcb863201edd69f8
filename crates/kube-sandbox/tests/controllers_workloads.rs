//! The Job, Endpoints, StatefulSet and DaemonSet controllers, judged by the real kubectl.

mod common;

use common::{Env, deployment_yaml, push_image};
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
    let env = Env::with_speed(SPEED).await;
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
    let env = Env::with_speed(SPEED).await;
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
    let env = Env::with_speed(SPEED).await;
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
    let env = Env::with_speed(SPEED).await;
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

/// The revision numbers `kubectl rollout history` lists.
async fn history(env: &Env, target: &str) -> Vec<i64> {
    let out = env.kubectl(&["rollout", "history", target]).await.ok();
    out.stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_rollout_history_and_undo_use_controller_revisions() {
    let env = Env::with_speed(SPEED).await;
    let sts = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 2\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    spec:\n      containers:\n      - name: db\n        image: {image}\n"
        )
    };
    let rollout = || env.kubectl(&["rollout", "status", "statefulset/db", "--timeout=60s"]);
    env.apply(&sts("postgres:16")).await;
    rollout().await.ok();
    assert_eq!(history(&env, "statefulset/db").await, [1]);
    env.apply(&sts("postgres:17")).await;
    rollout().await.ok();
    assert_eq!(history(&env, "statefulset/db").await, [1, 2]);

    let s = env.get_json(&["get", "statefulset", "db"]).await;
    let revisions = env
        .get_json(&["get", "controllerrevisions", "-l", "app=db"])
        .await;
    let items = revisions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{revisions:#}");
    let by_number = |n: i64| {
        items
            .iter()
            .find(|r| r["revision"] == n)
            .unwrap_or_else(|| panic!("revision {n} in {revisions:#}"))
            .clone()
    };
    let (first, second) = (by_number(1), by_number(2));
    for r in [&first, &second] {
        let owner = &r["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "StatefulSet");
        assert_eq!(owner["uid"], s["metadata"]["uid"]);
        assert_eq!(owner["controller"], true);
        assert_eq!(r["data"]["spec"]["template"]["$patch"], "replace");
        let hash = r["metadata"]["labels"]["controller.kubernetes.io/hash"]
            .as_str()
            .unwrap();
        assert_eq!(r["metadata"]["name"], format!("db-{hash}"));
    }
    assert_eq!(
        first["data"]["spec"]["template"]["spec"]["containers"][0]["image"],
        "postgres:16"
    );
    assert_eq!(s["status"]["updateRevision"], second["metadata"]["name"]);
    assert_eq!(s["status"]["currentRevision"], second["metadata"]["name"]);

    let one = env
        .kubectl(&["rollout", "history", "statefulset/db", "--revision=1"])
        .await
        .ok();
    assert!(one.stdout.contains("postgres:16"), "{}", one.stdout);
    assert!(!one.stdout.contains("postgres:17"), "{}", one.stdout);

    // Undo goes back to revision 1's template, which becomes revision 3.
    let undo = env
        .kubectl(&["rollout", "undo", "statefulset/db"])
        .await
        .ok();
    assert_eq!(undo.stdout.trim(), "statefulset.apps/db rolled back");
    rollout().await.ok();
    assert_eq!(history(&env, "statefulset/db").await, [2, 3]);
    let s = env.get_json(&["get", "statefulset", "db"]).await;
    assert_eq!(
        s["spec"]["template"]["spec"]["containers"][0]["image"],
        "postgres:16"
    );
    let third = env
        .get_json(&[
            "get",
            "controllerrevision",
            first["metadata"]["name"].as_str().unwrap(),
        ])
        .await;
    assert_eq!(third["revision"], 3);
    assert_eq!(third["metadata"]["uid"], first["metadata"]["uid"]);
    assert_eq!(s["status"]["updateRevision"], third["metadata"]["name"]);
    for p in env.pods() {
        assert_eq!(p["spec"]["containers"][0]["image"], "postgres:16");
        assert_eq!(
            p["metadata"]["labels"]["controller-revision-hash"],
            third["metadata"]["name"]
        );
    }
    let again = env
        .kubectl(&["rollout", "undo", "statefulset/db", "--to-revision=3"])
        .await
        .ok();
    assert_eq!(
        again.stdout.trim(),
        "statefulset.apps/db skipped rollback (current template already matches revision 3)"
    );
    let missing = env
        .kubectl(&["rollout", "undo", "statefulset/db", "--to-revision=7"])
        .await;
    assert_ne!(missing.code, 0);
    assert!(
        missing
            .stderr
            .contains("unable to find specified revision 7 in history"),
        "{}",
        missing.stderr
    );

    let table = env.kubectl(&["get", "controllerrevisions"]).await.ok();
    let rows: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "CONTROLLER", "REVISION", "AGE"]);
    assert!(
        rows.iter().any(|r| r[..3]
            == [
                third["metadata"]["name"].as_str().unwrap(),
                "statefulset.apps/db",
                "3"
            ]),
        "{}",
        table.stdout
    );

    // Beyond revisionHistoryLimit, the oldest unused revisions go.
    env.kubectl(&[
        "patch",
        "statefulset",
        "db",
        "-p",
        r#"{"spec":{"revisionHistoryLimit":1}}"#,
    ])
    .await
    .ok();
    env.kubectl(&["set", "image", "statefulset/db", "db=postgres:18"])
        .await
        .ok();
    rollout().await.ok();
    env.until(10, "revision 2 to be deleted", |e| {
        (e.list("apps", "controllerrevisions").len() == 2).then_some(())
    })
    .await;
    assert_eq!(history(&env, "statefulset/db").await, [3, 4]);
}

/// The EndpointSlices of Service `name`, read with kubectl by their service-name label.
async fn slices(env: &Env, name: &str) -> Vec<Value> {
    let label = format!("kubernetes.io/service-name={name}");
    env.get_json(&["get", "endpointslices", "-l", &label]).await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The (address, ready, serving, terminating) of each endpoint of a slice.
fn slice_endpoints(slice: &Value) -> Vec<(String, bool, bool, bool)> {
    slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let c = &e["conditions"];
            (
                e["addresses"][0].as_str().unwrap_or_default().to_string(),
                c["ready"] == true,
                c["serving"] == true,
                c["terminating"] == true,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpointslices_follow_ready_unready_and_terminating_pods() {
    let reg = testkit::Registry::start();
    let good = push_image(reg.host(), "svc", "good", None);
    let bad = push_image(reg.host(), "svc", "bad", Some("never-ready"));
    let env = Env::with_speed(SPEED).await;
    let port = "        ports:\n        - name: http\n          containerPort: 8080\n";
    env.apply(&deployment_yaml("web", &good, 2, "", port)).await;
    env.apply(&deployment_yaml("stuck", &bad, 1, "", port))
        .await;
    let svc = |name: &str, app: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels:\n    tier: front\nspec:\n  selector:\n    app: {app}\n  ports:\n  - name: web\n    port: 80\n    targetPort: http\n"
        )
    };
    env.apply(&svc("web", "web")).await;
    env.apply(&svc("stuck", "stuck")).await;
    env.apply(&svc("empty", "nothing")).await;
    env.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .await
        .ok();
    let ready_ips = |env: &Env, app: &str| {
        let mut ips: Vec<String> = env
            .pods()
            .iter()
            .filter(|p| p["metadata"]["labels"]["app"] == app && p["status"]["podIP"].is_string())
            .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
            .collect();
        ips.sort();
        ips
    };
    let ips = ready_ips(&env, "web");
    assert_eq!(ips.len(), 2);
    env.until(10, "both web pods in the slice", |e| {
        e.list("discovery.k8s.io", "endpointslices")
            .into_iter()
            .find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "web")
            .filter(|s| s["endpoints"].as_array().is_some_and(|a| a.len() == 2))
    })
    .await;

    let web = slices(&env, "web").await;
    assert_eq!(web.len(), 1, "{web:#?}");
    let s = &web[0];
    let service = env.get_json(&["get", "service", "web"]).await;
    assert!(s["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(s["addressType"], "IPv4");
    assert_eq!(
        s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(s["metadata"]["labels"]["tier"], "front");
    let owner = &s["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Service");
    assert_eq!(owner["uid"], service["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(
        s["ports"],
        serde_json::json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(
        slice_endpoints(s),
        ips.iter()
            .map(|ip| (ip.clone(), true, true, false))
            .collect::<Vec<_>>()
    );
    for e in s["endpoints"].as_array().unwrap() {
        assert_eq!(e["targetRef"]["kind"], "Pod");
        assert_eq!(e["nodeName"], "sandbox-node");
    }

    // A pod that never becomes ready is listed, neither ready nor serving.
    env.until(10, "the stuck pod in its slice", |e| {
        e.list("discovery.k8s.io", "endpointslices")
            .into_iter()
            .find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "stuck")
            .filter(|s| s["endpoints"].as_array().is_some_and(|a| a.len() == 1))
    })
    .await;
    let stuck = slices(&env, "stuck").await;
    let stuck_ip = ready_ips(&env, "stuck");
    assert_eq!(
        slice_endpoints(&stuck[0]),
        [(stuck_ip[0].clone(), false, false, false)]
    );

    // A Service whose selector matches nothing has one slice without endpoints or ports.
    let empty = slices(&env, "empty").await;
    assert_eq!(empty.len(), 1, "{empty:#?}");
    assert!(empty[0]["endpoints"].is_null(), "{:#}", empty[0]);
    assert!(empty[0]["ports"].is_null(), "{:#}", empty[0]);

    let table = env
        .kubectl(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name in (web,empty)",
        ])
        .await
        .ok()
        .stdout;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    );
    let row = |prefix: &str| {
        rows.iter()
            .find(|r| r[0].starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} row in {table}"))
            .clone()
    };
    assert_eq!(row("web-")[1..4], ["IPv4", "8080", ips.join(",").as_str()]);
    assert_eq!(row("empty-")[1..4], ["IPv4", "<unset>", "<unset>"]);

    // A terminating pod stays in the slice, marked terminating and not ready, while the
    // Endpoints object drops it at once.
    env.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lingering\n  labels:\n    app: web\nspec:\n  terminationGracePeriodSeconds: 400\n  containers:\n  - name: app\n    image: {good}\n    ports:\n    - name: http\n      containerPort: 8080\n"
    ))
    .await;
    let ip = env
        .until(20, "the lingering pod ready in the slice", |e| {
            let pod = e.get("", "pods", "lingering")?;
            let ip = pod["status"]["podIP"].as_str()?.to_string();
            e.list("discovery.k8s.io", "endpointslices")
                .iter()
                .flat_map(slice_endpoints)
                .any(|(a, ready, _, _)| a == ip && ready)
                .then_some(ip)
        })
        .await;
    env.kubectl(&["delete", "pod", "lingering", "--wait=false"])
        .await
        .ok();
    env.until(10, "the lingering pod terminating in the slice", |e| {
        e.list("discovery.k8s.io", "endpointslices")
            .iter()
            .flat_map(slice_endpoints)
            .any(|(a, ready, _, terminating)| a == ip && !ready && terminating)
            .then_some(())
    })
    .await;
    let ep = env.get("", "endpoints", "web").unwrap();
    assert!(!ep.to_string().contains(&format!("\"{ip}\"")), "{ep:#}");

    // Deleting the Service removes its slices.
    env.kubectl(&["delete", "service", "web"]).await.ok();
    env.until(10, "the web slice removed", |e| {
        e.list("discovery.k8s.io", "endpointslices")
            .iter()
            .all(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] != "web")
            .then_some(())
    })
    .await;
}

fn daemonset_yaml(image: &str, spec_extra: &str, pod_extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n{spec_extra}  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n        tier: node\n    spec:\n{pod_extra}      containers:\n      - name: agent\n        image: {image}\n"
    )
}

/// The DaemonSet's pods that are not terminating.
fn daemon_pods(env: &Env) -> Vec<Value> {
    env.pods()
        .into_iter()
        .filter(|p| {
            p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
                && p["metadata"]["deletionTimestamp"].is_null()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_runs_one_pod_on_the_node_and_rolls_it_with_history_and_undo() {
    let env = Env::with_speed(SPEED).await;
    let rollout = || env.kubectl(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    env.apply(&daemonset_yaml("fluentd:1", "", "")).await;
    let out = rollout().await.ok();
    assert!(
        out.stdout
            .contains("daemon set \"agent\" successfully rolled out"),
        "{}",
        out.stdout
    );
    let ds = env.get_json(&["get", "daemonset", "agent"]).await;
    assert_eq!(ds["spec"]["updateStrategy"]["type"], "RollingUpdate");
    assert_eq!(
        ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
        1
    );
    let st = &ds["status"];
    for k in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "updatedNumberScheduled",
        "numberReady",
        "numberAvailable",
    ] {
        assert_eq!(st[k], 1, "{k} in {st:#}");
    }
    assert_eq!(st["numberMisscheduled"], 0);
    assert!(st["numberUnavailable"].is_null(), "{st:#}");
    assert_eq!(st["observedGeneration"], ds["metadata"]["generation"]);

    let pods = daemon_pods(&env);
    assert_eq!(pods.len(), 1);
    let first = &pods[0];
    let name = first["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("agent-") && name.len() == "agent-".len() + 5,
        "{name}"
    );
    let owner = &first["metadata"]["ownerReferences"][0];
    assert_eq!(owner["name"], "agent");
    assert_eq!(owner["uid"], ds["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    let labels = &first["metadata"]["labels"];
    assert_eq!(labels["app"], "agent");
    assert_eq!(labels["tier"], "node");
    assert_eq!(labels["pod-template-generation"], "1");
    let hash1 = labels["controller-revision-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first["spec"]["nodeName"], "sandbox-node");
    assert_eq!(first["status"]["phase"], "Running");
    assert_eq!(history(&env, "daemonset/agent").await, [1]);

    // A new image: the old pod goes, a new one comes.
    env.kubectl(&["set", "image", "daemonset/agent", "agent=fluentd:2"])
        .await
        .ok();
    rollout().await.ok();
    let pods = daemon_pods(&env);
    assert_eq!(pods.len(), 1, "{pods:#?}");
    let second = &pods[0];
    assert_ne!(second["metadata"]["name"], first["metadata"]["name"]);
    assert_eq!(second["spec"]["containers"][0]["image"], "fluentd:2");
    assert_eq!(second["metadata"]["labels"]["pod-template-generation"], "2");
    let hash2 = second["metadata"]["labels"]["controller-revision-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(hash1, hash2);
    assert_eq!(history(&env, "daemonset/agent").await, [1, 2]);
    let revisions = env
        .get_json(&["get", "controllerrevisions", "-l", "app=agent"])
        .await;
    let items = revisions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{revisions:#}");
    for r in items {
        let owner = &r["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "DaemonSet");
        assert_eq!(owner["uid"], ds["metadata"]["uid"]);
        let hash = r["metadata"]["labels"]["controller-revision-hash"]
            .as_str()
            .unwrap();
        assert_eq!(r["metadata"]["name"], format!("agent-{hash}"));
        let want = if r["revision"] == 1 { &hash1 } else { &hash2 };
        assert_eq!(hash, want);
    }
    let one = env
        .kubectl(&["rollout", "history", "daemonset/agent", "--revision=1"])
        .await
        .ok();
    assert!(one.stdout.contains("fluentd:1"), "{}", one.stdout);

    // Undo restores the first template, which becomes revision 3.
    let undo = env
        .kubectl(&["rollout", "undo", "daemonset/agent"])
        .await
        .ok();
    assert_eq!(undo.stdout.trim(), "daemonset.apps/agent rolled back");
    rollout().await.ok();
    assert_eq!(history(&env, "daemonset/agent").await, [2, 3]);
    let pods = daemon_pods(&env);
    assert_eq!(pods.len(), 1, "{pods:#?}");
    assert_eq!(pods[0]["spec"]["containers"][0]["image"], "fluentd:1");
    assert_eq!(
        pods[0]["metadata"]["labels"]["controller-revision-hash"],
        hash1.as_str()
    );

    // Deleting the DaemonSet deletes its pod and revisions.
    env.kubectl(&["delete", "daemonset", "agent"]).await.ok();
    env.until(20, "the daemon pods to be gone", |e| {
        e.pods().is_empty().then_some(())
    })
    .await;
    env.until(10, "the revisions to be gone", |e| {
        e.list("apps", "controllerrevisions")
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_follows_the_node_selector_and_on_delete() {
    let env = Env::with_speed(SPEED).await;
    let selector = "      nodeSelector:\n        disk: ssd\n";
    env.apply(&daemonset_yaml(
        "fluentd:1",
        "  updateStrategy:\n    type: OnDelete\n",
        selector,
    ))
    .await;
    env.until(10, "the status to be observed", |e| {
        let ds = e.get("apps", "daemonsets", "agent")?;
        (ds["status"]["observedGeneration"] == 1).then_some(())
    })
    .await;
    let ds = env.get("apps", "daemonsets", "agent").unwrap();
    assert_eq!(ds["status"]["desiredNumberScheduled"], 0);
    assert_eq!(ds["status"]["currentNumberScheduled"], 0);
    assert!(env.pods().is_empty());

    // Once the node has the label, the pod comes.
    env.kubectl(&["label", "node", "sandbox-node", "disk=ssd"])
        .await
        .ok();
    let first = env
        .until(20, "a ready daemon pod", |e| {
            let ds = e.get("apps", "daemonsets", "agent")?;
            (ds["status"]["numberReady"] == 1).then(|| daemon_pods(e))
        })
        .await;
    assert_eq!(first.len(), 1);

    // OnDelete: a new template changes nothing until the pod is deleted.
    env.kubectl(&["set", "image", "daemonset/agent", "agent=fluentd:2"])
        .await
        .ok();
    env.until(10, "the new generation to be observed", |e| {
        let ds = e.get("apps", "daemonsets", "agent")?;
        (ds["status"]["observedGeneration"] == 2).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let ds = env.get("apps", "daemonsets", "agent").unwrap();
    assert!(ds["status"]["updatedNumberScheduled"].is_null(), "{ds:#}");
    let pods = daemon_pods(&env);
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["metadata"]["name"], first[0]["metadata"]["name"]);
    let old = pods[0]["metadata"]["name"].as_str().unwrap();
    env.kubectl(&["delete", "pod", old, "--wait=false"])
        .await
        .ok();
    let pods = env
        .until(20, "the replacement pod", |e| {
            let pods = daemon_pods(e);
            (pods.len() == 1 && pods[0]["metadata"]["name"] != old).then_some(pods)
        })
        .await;
    assert_eq!(pods[0]["spec"]["containers"][0]["image"], "fluentd:2");

    // Without the label, the pod goes.
    env.kubectl(&["label", "node", "sandbox-node", "disk-"])
        .await
        .ok();
    env.until(20, "the daemon pod to be gone", |e| {
        let ds = e.get("apps", "daemonsets", "agent")?;
        (e.pods().is_empty() && ds["status"]["desiredNumberScheduled"] == 0).then_some(())
    })
    .await;
}

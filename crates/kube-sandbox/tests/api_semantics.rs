//! What a real API server refuses or fills in, judged through the real kubectl: immutable
//! fields, what a Service keeps on update, node ports, status on create, Job admission.

mod common;

use common::Env;
use serde_json::Value;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: default }
spec:
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec: { containers: [ { name: api, image: registry.example.com/api:1 } ] }
";

#[tokio::test]
async fn a_changed_deployment_selector_is_refused_as_immutable() {
    let env = Env::start().await;
    env.apply(DEPLOYMENT).await;
    let changed = DEPLOYMENT.replace("app: api }", "app: api2 }");
    let out = env.kubectl_in(&["apply", "-f", "-"], Some(&changed)).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("spec.selector: Invalid value")
            && out.stderr.contains("field is immutable"),
        "{}",
        out.stderr
    );
    // The same through server-side apply, and through a dry run: refused, nothing changed.
    let out = env
        .kubectl_in(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--dry-run=server",
                "-f",
                "-",
            ],
            Some(&changed),
        )
        .await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("field is immutable"), "{}", out.stderr);
    let live = env.get_json(&["get", "deployment", "api"]).await;
    assert_eq!(live["spec"]["selector"]["matchLabels"]["app"], "api");
}

#[tokio::test]
async fn immutable_configmaps_and_secret_types_cannot_change() {
    let env = Env::start().await;
    env.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: frozen, namespace: default }\nimmutable: true\ndata: { a: \"1\" }\n",
    )
    .await;
    let out = env
        .kubectl_in(
            &["apply", "-f", "-"],
            Some("apiVersion: v1\nkind: ConfigMap\nmetadata: { name: frozen, namespace: default }\nimmutable: true\ndata: { a: \"2\" }\n"),
        )
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{}",
        out.stderr
    );
    // Labels may still change on an immutable ConfigMap.
    env.kubectl(&["label", "configmap", "frozen", "tier=x"])
        .await
        .ok();

    env.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: { name: creds, namespace: default }\ntype: Opaque\nstringData: { a: b }\n",
    )
    .await;
    let out = env
        .kubectl(&[
            "patch",
            "secret",
            "creds",
            "--type=merge",
            "-p",
            r#"{"type":"kubernetes.io/basic-auth"}"#,
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("type: Invalid value") && out.stderr.contains("field is immutable"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_service_keeps_its_cluster_ip_on_replace_and_refuses_another() {
    let env = Env::start().await;
    let svc = "apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: default }\nspec:\n  type: NodePort\n  selector: { app: web }\n  ports: [ { port: 80 } ]\n";
    env.apply(svc).await;
    let before = env.get_json(&["get", "service", "web"]).await;
    let ip = before["spec"]["clusterIP"].as_str().unwrap().to_string();
    let node_port = before["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!(
        (30000..=32767).contains(&node_port),
        "a NodePort Service gets a node port: {before}"
    );

    // `kubectl replace` sends a PUT without clusterIP or nodePort: both are kept.
    env.kubectl_in(&["replace", "-f", "-"], Some(svc))
        .await
        .ok();
    let after = env.get_json(&["get", "service", "web"]).await;
    assert_eq!(after["spec"]["clusterIP"], Value::from(ip.clone()));
    assert_eq!(after["spec"]["ports"][0]["nodePort"], node_port);

    // A second NodePort Service gets another port.
    env.apply(&svc.replace("name: web", "name: web2")).await;
    let other = env.get_json(&["get", "service", "web2"]).await;
    assert_ne!(other["spec"]["ports"][0]["nodePort"], node_port);

    let moved = svc.replace(
        "type: NodePort",
        "type: NodePort\n  clusterIP: 10.96.200.200",
    );
    let out = env.kubectl_in(&["replace", "-f", "-"], Some(&moved)).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("spec.clusterIPs[0]") && out.stderr.contains("may not change once set"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_service_without_ports_is_refused_unless_headless() {
    let env = Env::start().await;
    let out = env
        .kubectl_in(
            &["apply", "-f", "-"],
            Some("apiVersion: v1\nkind: Service\nmetadata: { name: bare, namespace: default }\nspec: { selector: { app: x } }\n"),
        )
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("spec.ports: Required value"),
        "{}",
        out.stderr
    );
    env.apply(
        "apiVersion: v1\nkind: Service\nmetadata: { name: headless, namespace: default }\nspec: { clusterIP: None, selector: { app: x } }\n",
    )
    .await;
}

#[tokio::test]
async fn a_create_answers_with_status_and_a_job_gets_its_selector_at_admission() {
    let env = Env::start().await;
    let out = env
        .kubectl_in(&["create", "-f", "-", "-o", "json"], Some(DEPLOYMENT))
        .await
        .ok()
        .json();
    assert!(out["status"].is_object(), "status is in the answer: {out}");

    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: { name: migrate, namespace: default }\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [ { name: m, image: registry.example.com/m:1 } ]\n";
    let created = env
        .kubectl_in(
            &["create", "--dry-run=server", "-f", "-", "-o", "json"],
            Some(job),
        )
        .await
        .ok()
        .json();
    let uid = created["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        created["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let labels = &created["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["batch.kubernetes.io/job-name"], "migrate");
    assert_eq!(labels["controller-uid"], uid);
    assert_eq!(created["spec"]["completionMode"], "NonIndexed");
    assert_eq!(created["spec"]["suspend"], false);
    assert_eq!(
        created["spec"]["podReplacementPolicy"],
        "TerminatingOrFailed"
    );

    // Applied twice, server-side, as a deploy tool re-runs a hook: the second apply is
    // not a change of the immutable template.
    env.kubectl_in(&["apply", "--server-side", "-f", "-"], Some(job))
        .await
        .ok();
    env.kubectl_in(&["apply", "--server-side", "-f", "-"], Some(job))
        .await
        .ok();
    // A changed template is refused.
    let out = env
        .kubectl_in(
            &["apply", "--server-side", "-f", "-"],
            Some(&job.replace("m:1", "m:2")),
        )
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("spec.template") && out.stderr.contains("field is immutable"),
        "{}",
        out.stderr
    );
}

/// Polls `kubectl get pods -l job-name=<job> -o name` until `want` says yes (10 s at most).
async fn pods_of_job(env: &Env, job: &str, want: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        last = env
            .kubectl(&[
                "get",
                "pods",
                "-l",
                &format!("job-name={job}"),
                "-o",
                "name",
            ])
            .await
            .ok()
            .stdout;
        if want(&last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    last
}

#[tokio::test]
async fn a_job_deleted_without_a_propagation_policy_orphans_its_pods() {
    let env = Env::start().await;
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: { name: NAME, namespace: default }\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [ { name: m, image: registry.example.com/m:1 } ]\n";
    for name in ["kept", "taken"] {
        env.apply(&job.replace("NAME", name)).await;
        let pods = pods_of_job(&env, name, |p| !p.trim().is_empty()).await;
        assert!(!pods.trim().is_empty(), "the Job {name} runs a pod");
    }

    // A client that names no policy (the API's default for batch/v1): the pod stays,
    // without its owner.
    let (code, body) = env
        .http(
            "DELETE",
            "/apis/batch/v1/namespaces/default/jobs/kept",
            "application/json",
            "",
        )
        .await;
    assert_eq!(code, 200, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let pods = env.get_json(&["get", "pods", "-l", "job-name=kept"]).await;
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the pod is orphaned, not deleted: {pods}");
    assert!(
        items[0]["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|o| o.is_empty()),
        "{}",
        items[0]["metadata"]
    );

    // kubectl asks for background propagation: the pods go with the Job (they are being
    // deleted, within their grace period).
    env.kubectl(&["delete", "job", "taken"]).await.ok();
    let mut deleting = false;
    for _ in 0..100 {
        let pods = env.get_json(&["get", "pods", "-l", "job-name=taken"]).await;
        let items = pods["items"].as_array().unwrap();
        if items
            .iter()
            .all(|p| !p["metadata"]["deletionTimestamp"].is_null())
        {
            deleting = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(deleting, "the pods of a Job deleted by kubectl are deleted");
}

#[tokio::test]
async fn kubectl_auth_can_i_and_whoami_answer() {
    let env = Env::start().await;
    let out = env
        .kubectl(&["auth", "can-i", "create", "deployments", "-n", "default"])
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "yes");
    let out = env
        .kubectl(&["auth", "whoami", "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(out["kind"], "SelfSubjectReview");
    assert_eq!(out["status"]["userInfo"]["username"], "sandbox-admin");
    // A review is a question: nothing is stored.
    let (code, _) = env
        .http_get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
        .await;
    assert_eq!(code, 405);
}

#[tokio::test]
async fn the_resources_of_a_v1_32_server_are_served_and_prune_works_with_its_default_list() {
    let env = Env::start().await;
    let out = env.kubectl(&["api-resources", "-o", "name"]).await.ok();
    for r in [
        "persistentvolumes",
        "replicationcontrollers",
        "resourcequotas",
        "limitranges",
        "podtemplates",
        "storageclasses.storage.k8s.io",
        "csidrivers.storage.k8s.io",
        "volumeattachments.storage.k8s.io",
        "ingressclasses.networking.k8s.io",
        "priorityclasses.scheduling.k8s.io",
        "runtimeclasses.node.k8s.io",
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        "certificatesigningrequests.certificates.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectreviews.authentication.k8s.io",
    ] {
        assert!(
            out.stdout.lines().any(|l| l == r),
            "{r} missing from:\n{}",
            out.stdout
        );
    }
    env.apply("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: { name: fast }\nprovisioner: example.com/disk\nreclaimPolicy: Delete\n")
        .await;
    env.apply("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: { name: high }\nvalue: 1000\n")
        .await;

    // `kubectl apply --prune -l` with its default allow-list (it lists persistentvolumes
    // and replicationcontrollers, among others).
    let two = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a, namespace: default, labels: { set: p } }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: b, namespace: default, labels: { set: p } }\n";
    env.kubectl_in(&["apply", "--prune", "-l", "set=p", "-f", "-"], Some(two))
        .await
        .ok();
    let one = two.split("---\n").next().unwrap();
    let out = env
        .kubectl_in(&["apply", "--prune", "-l", "set=p", "-f", "-"], Some(one))
        .await
        .ok();
    assert!(
        out.stdout.contains("configmap/b pruned"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test]
async fn wrong_request_options_are_refused_as_the_real_server_refuses_them() {
    let env = Env::start().await;
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"o"}}"#;
    let (code, body) = env
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=Some",
            "application/json",
            cm,
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(r#"CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value"#),
        "{body}"
    );

    env.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: { name: o, namespace: default }\n")
        .await;
    let (code, body) = env
        .http(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/o",
            "application/apply-patch+yaml",
            cm,
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("fieldManager: Required value: is required for apply patch"),
        "{body}"
    );
    let (code, body) = env
        .http(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/o?force=true",
            "application/merge-patch+json",
            r#"{"data":{"a":"b"}}"#,
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("force: Forbidden: may not be specified for non-apply patch"),
        "{body}"
    );

    // An object being deleted takes no new finalizer.
    env.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: { name: held, namespace: default, finalizers: [example.com/a] }\n")
        .await;
    env.kubectl(&["delete", "configmap", "held", "--wait=false"])
        .await
        .ok();
    let out = env
        .kubectl(&[
            "patch",
            "configmap",
            "held",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/b"}]"#,
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("no new finalizers can be added if the object is being deleted"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn configmaps_and_secrets_hold_at_most_one_mebibyte() {
    let env = Env::start().await;
    let big = env.dir.join("big.txt");
    std::fs::write(&big, "x".repeat(1024 * 1024 + 1)).unwrap();
    let from_file = format!("--from-file=big={}", big.display());
    for (kind, extra) in [("configmap", vec![]), ("secret", vec!["generic"])] {
        let mut args = vec!["create", kind];
        args.extend(extra.iter().copied());
        args.extend(["big", from_file.as_str(), "--dry-run=server"]);
        let out = env.kubectl(&args).await;
        assert_ne!(out.code, 0, "{kind}: {}", out.stdout);
        assert!(
            out.stderr
                .contains("Too long: must have at most 1048576 bytes"),
            "{kind}: {}",
            out.stderr
        );
    }
    // Exactly one mebibyte is accepted.
    std::fs::write(&big, "x".repeat(1024 * 1024)).unwrap();
    env.kubectl(&[
        "create",
        "configmap",
        "big",
        from_file.as_str(),
        "--dry-run=server",
    ])
    .await
    .ok();
}

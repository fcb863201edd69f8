//! The real kubectl drives the sandbox.

mod common;

use common::{APP, Env};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn kubectl_version_reports_the_server_version() {
    let env = Env::start().await;
    let out = env.kubectl(&["version", "-o", "json"]).await.ok().json();
    assert_eq!(
        out["serverVersion"]["gitVersion"],
        kube_sandbox::KUBERNETES_VERSION
    );
    assert_eq!(out["serverVersion"]["major"], "1");
}

#[tokio::test]
async fn api_resources_lists_builtin_kinds_with_short_names() {
    let env = Env::start().await;
    let out = env.kubectl(&["api-resources"]).await.ok();
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from:\n{}", out.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("deployments"),
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
    assert_eq!(
        line("configmaps"),
        ["configmaps", "cm", "v1", "true", "ConfigMap"]
    );
    assert_eq!(
        line("namespaces"),
        ["namespaces", "ns", "v1", "false", "Namespace"]
    );
    for r in [
        "customresourcedefinitions",
        "leases",
        "ingresses",
        "horizontalpodautoscalers",
        "clusterrolebindings",
        "cronjobs",
    ] {
        line(r);
    }
}

#[tokio::test]
async fn builtin_namespaces_and_node_are_listed() {
    let env = Env::start().await;
    let out = env.kubectl(&["get", "namespaces", "-o", "name"]).await.ok();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            out.stdout.contains(&format!("namespace/{ns}\n")),
            "{}",
            out.stdout
        );
    }
    let nodes = env.kubectl(&["get", "nodes"]).await.ok();
    assert!(
        nodes.stdout.contains("sandbox-node   Ready"),
        "{}",
        nodes.stdout
    );
}

#[tokio::test]
async fn client_side_apply_creates_then_patches_changed_field() {
    let env = Env::start().await;
    let out = env.kubectl_stdin(&["apply", "-f", "-"], APP).await.ok();
    assert_eq!(
        out.stdout,
        "deployment.apps/web created\nservice/web created\nconfigmap/web-config created\n"
    );
    let changed = APP.replace("replicas: 2", "replicas: 4");
    let out = env
        .kubectl_stdin(&["apply", "-f", "-"], &changed)
        .await
        .ok();
    assert_eq!(
        out.stdout,
        "deployment.apps/web configured\nservice/web unchanged\nconfigmap/web-config unchanged\n"
    );
    let d = env.get_json(&["get", "deployment", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap()
            .contains("\"replicas\":4")
    );
    // Defaults of the real API server are there.
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    let svc = env.get_json(&["get", "service", "web"]).await;
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.96.")
    );
}

#[tokio::test]
async fn server_side_apply_conflict_names_other_manager_and_force_conflicts_takes_over() {
    let env = Env::start().await;
    let out = env
        .kubectl_stdin(&["apply", "--server-side", "-f", "-"], APP)
        .await
        .ok();
    assert!(
        out.stdout
            .contains("deployment.apps/web serverside-applied"),
        "{}",
        out.stdout
    );
    let d = env
        .get_json(&["get", "deployment", "web", "--show-managed-fields"])
        .await;
    let mf = d["metadata"]["managedFields"].as_array().unwrap();
    let apply = mf
        .iter()
        .find(|m| m["manager"] == "kubectl" && m["operation"] == "Apply")
        .unwrap();
    assert_eq!(apply["fieldsType"], "FieldsV1");
    assert!(apply["fieldsV1"]["f:spec"]["f:replicas"].is_object());

    env.kubectl(&["scale", "deployment", "web", "--replicas=5"])
        .await
        .ok();
    let out = env
        .kubectl_stdin(&["apply", "--server-side", "-f", "-"], APP)
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1 at "),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(": .spec.replicas"), "{}", out.stderr);

    env.kubectl(&["set", "image", "deployment/web", "web=nginx:1.26"])
        .await
        .ok();
    let out = env
        .kubectl_stdin(
            &["apply", "--server-side", "-f", "-"],
            &APP.replace("replicas: 2", "replicas: 5"),
        )
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("conflict with \"kubectl-set\" using apps/v1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(".spec.template.spec.containers[name=\"web\"].image"),
        "{}",
        out.stderr
    );

    env.kubectl_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        APP,
    )
    .await
    .ok();
    let d = env
        .get_json(&["get", "deployment", "web", "--show-managed-fields"])
        .await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(!managers.contains(&"kubectl-set"), "{managers:?}");
}

#[tokio::test]
async fn get_prints_tables_yaml_json_jsonpath_and_filters_by_label() {
    let env = Env::start().await;
    env.kubectl_stdin(&["apply", "-f", "-"], APP).await.ok();
    env.kubectl(&["create", "configmap", "other", "--from-literal=a=b"])
        .await
        .ok();
    // The controllers roll the Deployment out; the table shows it once it has.
    env.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await
        .ok();
    let table = env.kubectl(&["get", "deployments"]).await.ok();
    let header: Vec<&str> = table
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    let row: Vec<&str> = table
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row[..4], ["web", "2/2", "2", "2"], "{}", table.stdout);
    let cms = env.kubectl(&["get", "cm"]).await.ok();
    assert!(cms.stdout.starts_with("NAME"), "{}", cms.stdout);
    assert!(
        cms.stdout
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["web-config", "1"])),
        "{}",
        cms.stdout
    );
    let svc = env.kubectl(&["get", "svc", "web"]).await.ok();
    let header: Vec<&str> = svc
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert!(svc.stdout.contains("80/TCP"), "{}", svc.stdout);

    let yaml = env
        .kubectl(&["get", "cm", "web-config", "-o", "yaml"])
        .await
        .ok();
    assert!(yaml.stdout.contains("kind: ConfigMap\n"), "{}", yaml.stdout);
    assert!(
        yaml.stdout.contains("  greeting: hello\n"),
        "{}",
        yaml.stdout
    );
    let json = env.get_json(&["get", "cm", "web-config"]).await;
    assert_eq!(json["data"]["greeting"], "hello");
    assert!(json["metadata"]["uid"].as_str().unwrap().len() == 36);
    let jp = env
        .kubectl(&["get", "cm", "web-config", "-o", "jsonpath={.data.greeting}"])
        .await
        .ok();
    assert_eq!(jp.stdout, "hello");

    let labelled = env
        .kubectl(&["get", "cm", "-l", "app=web", "-o", "name"])
        .await
        .ok();
    assert_eq!(labelled.stdout, "configmap/web-config\n");
    let not_web = env
        .kubectl(&["get", "cm", "-l", "app notin (web),!missing", "-o", "name"])
        .await
        .ok();
    assert!(
        not_web.stdout.contains("configmap/other") && !not_web.stdout.contains("web-config"),
        "{}",
        not_web.stdout
    );
    let none = env.kubectl(&["get", "cm", "-l", "app=nothing"]).await.ok();
    assert!(
        none.stderr
            .contains("No resources found in default namespace."),
        "{}",
        none.stderr
    );
    let missing = env.kubectl(&["get", "cm", "nope"]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("Error from server (NotFound): configmaps \"nope\" not found"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn get_watch_streams_added_modified_and_deleted_events() {
    let env = Env::start().await;
    let mut child = env
        .command(&[
            "get",
            "configmaps",
            "--field-selector=metadata.name=watched",
            "--watch",
            "--output-watch-events",
        ])
        .spawn()
        .expect("kubectl get -w");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(700)).await;
    env.kubectl(&["create", "configmap", "watched", "--from-literal=a=b"])
        .await
        .ok();
    env.kubectl(&["label", "configmap", "watched", "x=y"])
        .await
        .ok();
    env.kubectl(&["delete", "configmap", "watched"]).await.ok();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 3 {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("watch line in time")
            .unwrap()
            .expect("line");
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"EVENT") {
            assert_eq!(cols[..4], ["EVENT", "NAME", "DATA", "AGE"]);
            continue;
        }
        seen.push(format!("{} {}", cols[0], cols[1]));
    }
    child.kill().await.ok();
    assert_eq!(
        seen,
        ["ADDED watched", "MODIFIED watched", "DELETED watched"]
    );
}

#[tokio::test]
async fn describe_configmap_shows_labels_and_data() {
    let env = Env::start().await;
    env.kubectl_stdin(&["apply", "-f", "-"], APP).await.ok();
    let out = env
        .kubectl(&["describe", "configmap", "web-config"])
        .await
        .ok();
    assert!(
        out.stdout.contains("Name:         web-config"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Labels:       app=web"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("greeting:\n----\nhello"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn create_deployment_and_set_image_merges_containers_by_name() {
    let env = Env::start().await;
    let out = env
        .kubectl(&[
            "create",
            "deployment",
            "hello",
            "--image=nginx:1.25",
            "--replicas=3",
            "--port=80",
        ])
        .await
        .ok();
    assert_eq!(out.stdout, "deployment.apps/hello created\n");
    let d = env.get_json(&["get", "deploy", "hello"]).await;
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "hello");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert!(
        d["spec"]["template"]["metadata"]
            .get("creationTimestamp")
            .is_none_or(Value::is_null)
    );
    // A second container, then set image on the first only.
    env.kubectl(&[
        "patch",
        "deploy",
        "hello",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}"#,
    ])
    .await
    .ok();
    let out = env
        .kubectl(&["set", "image", "deployment/hello", "nginx=nginx:1.26"])
        .await
        .ok();
    assert_eq!(out.stdout, "deployment.apps/hello image updated\n");
    let d = env.get_json(&["get", "deploy", "hello"]).await;
    let cs = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[0]["image"], "nginx:1.26");
    assert_eq!(cs[0]["ports"][0]["containerPort"], 80);
    assert_eq!(cs[1]["image"], "busybox");
    assert_eq!(d["metadata"]["generation"], 3);
}

#[tokio::test]
async fn create_commands_that_send_protobuf_are_understood() {
    let env = Env::start().await;
    env.kubectl(&[
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=password=hunter2",
    ])
    .await
    .ok();
    let s = env.get_json(&["get", "secret", "s"]).await;
    assert_eq!(s["data"]["password"], "aHVudGVyMg==");
    assert_eq!(s["type"], "Opaque");
    env.kubectl(&["create", "service", "clusterip", "api", "--tcp=80:8080"])
        .await
        .ok();
    let svc = env.get_json(&["get", "svc", "api"]).await;
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(svc["spec"]["selector"]["app"], "api");
    env.kubectl(&[
        "create",
        "job",
        "once",
        "--image=busybox",
        "--",
        "echo",
        "hi",
    ])
    .await
    .ok();
    let job = env.get_json(&["get", "job", "once"]).await;
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["echo", "hi"])
    );
    env.kubectl(&["create", "serviceaccount", "bot"]).await.ok();
    env.kubectl(&["get", "sa", "bot", "default"]).await.ok();
}

#[tokio::test]
async fn label_annotate_and_patch_types_change_the_object() {
    let env = Env::start().await;
    env.kubectl_stdin(&["apply", "-f", "-"], APP).await.ok();
    assert_eq!(
        env.kubectl(&["label", "cm", "web-config", "tier=front"])
            .await
            .ok()
            .stdout,
        "configmap/web-config labeled\n"
    );
    assert_eq!(
        env.kubectl(&["annotate", "cm", "web-config", "note=hi"])
            .await
            .ok()
            .stdout,
        "configmap/web-config annotated\n"
    );
    env.kubectl(&[
        "patch",
        "cm",
        "web-config",
        "--type=merge",
        "-p",
        r#"{"data":{"extra":"1"}}"#,
    ])
    .await
    .ok();
    env.kubectl(&[
        "patch",
        "cm",
        "web-config",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/greeting"}]"#,
    ])
    .await
    .ok();
    env.kubectl(&["patch", "deploy", "web", "--type=strategic", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"A","value":"1"}]}]}}}}"#]).await.ok();
    let cm = env.get_json(&["get", "cm", "web-config"]).await;
    assert_eq!(cm["metadata"]["labels"]["tier"], "front");
    assert_eq!(cm["metadata"]["annotations"]["note"], "hi");
    assert_eq!(cm["data"], serde_json::json!({"extra": "1"}));
    let d = env.get_json(&["get", "deploy", "web"]).await;
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.25");
    assert_eq!(c["env"][0]["name"], "A");
    let bad = env
        .kubectl(&[
            "patch",
            "cm",
            "web-config",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/data/missing"}]"#,
        ])
        .await;
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr
            .contains("doc is missing path: \"/data/missing\""),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn delete_collects_dependents_by_owner_reference() {
    let env = Env::start().await;
    env.kubectl(&["create", "configmap", "parent"]).await.ok();
    let uid = env
        .kubectl(&["get", "cm", "parent", "-o", "jsonpath={.metadata.uid}"])
        .await
        .ok()
        .stdout;
    let child = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: parent\n    uid: {uid}\n"
    );
    env.kubectl_stdin(&["apply", "-f", "-"], &child).await.ok();
    env.kubectl(&["get", "cm", "child"]).await.ok();
    let out = env.kubectl(&["delete", "configmap", "parent"]).await.ok();
    assert_eq!(out.stdout, "configmap \"parent\" deleted\n");
    let gone = env.kubectl(&["get", "cm", "child"]).await;
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("configmaps \"child\" not found"),
        "{}",
        gone.stderr
    );

    // With --cascade=orphan the child stays, without its owner reference.
    env.kubectl(&["create", "configmap", "parent"]).await.ok();
    let uid = env
        .kubectl(&["get", "cm", "parent", "-o", "jsonpath={.metadata.uid}"])
        .await
        .ok()
        .stdout;
    let child = child.replace(
        &child[child.find("uid: ").unwrap() + 5..].trim().to_string(),
        &uid,
    );
    env.kubectl_stdin(&["apply", "-f", "-"], &child).await.ok();
    env.kubectl(&["delete", "configmap", "parent", "--cascade=orphan"])
        .await
        .ok();
    let kept = env.get_json(&["get", "cm", "child"]).await;
    assert!(kept["metadata"].get("ownerReferences").is_none(), "{kept}");
}

#[tokio::test]
async fn namespace_deletion_removes_its_contents() {
    let env = Env::start().await;
    assert_eq!(
        env.kubectl(&["create", "namespace", "team"])
            .await
            .ok()
            .stdout,
        "namespace/team created\n"
    );
    env.kubectl(&["create", "configmap", "c", "-n", "team"])
        .await
        .ok();
    env.kubectl(&["create", "deployment", "d", "-n", "team", "--image=nginx"])
        .await
        .ok();
    let sa = env
        .kubectl(&[
            "get",
            "serviceaccount",
            "default",
            "-n",
            "team",
            "-o",
            "name",
        ])
        .await
        .ok();
    assert_eq!(sa.stdout, "serviceaccount/default\n");
    env.kubectl(&["delete", "namespace", "team"]).await.ok();
    let ns = env.kubectl(&["get", "namespace", "team"]).await;
    assert!(
        ns.stderr.contains("namespaces \"team\" not found"),
        "{}",
        ns.stderr
    );
    let (code, body) = env.http_get("/api/v1/namespaces/team/configmaps").await;
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["items"],
        serde_json::json!([])
    );
    let create = env
        .kubectl(&["create", "configmap", "late", "-n", "team"])
        .await;
    assert!(
        create.stderr.contains("namespaces \"team\" not found"),
        "{}",
        create.stderr
    );
}

#[tokio::test]
async fn replace_with_stale_resource_version_conflicts() {
    let env = Env::start().await;
    env.kubectl_stdin(&["apply", "-f", "-"], APP).await.ok();
    let stale = env
        .kubectl(&["get", "cm", "web-config", "-o", "yaml"])
        .await
        .ok()
        .stdout;
    env.kubectl(&["label", "cm", "web-config", "bump=1"])
        .await
        .ok();
    let out = env.kubectl_stdin(&["replace", "-f", "-"], &stale).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("Error from server (Conflict): error when replacing \"STDIN\": Operation cannot be fulfilled on configmaps \"web-config\": the object has been modified; please apply your changes to the latest version and try again"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn dry_run_server_validates_but_stores_nothing() {
    let env = Env::start().await;
    let before = env.get_json(&["get", "cm"]).await["metadata"]["resourceVersion"].clone();
    let out = env
        .kubectl(&[
            "create",
            "configmap",
            "dry",
            "--from-literal=a=b",
            "--dry-run=server",
            "-o",
            "jsonpath={.data.a}",
        ])
        .await
        .ok();
    assert_eq!(out.stdout, "b");
    let out = env
        .kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], APP)
        .await
        .ok();
    assert!(
        out.stdout
            .contains("deployment.apps/web created (server dry run)"),
        "{}",
        out.stdout
    );
    let none = env
        .kubectl(&[
            "get",
            "cm,deploy",
            "--field-selector=metadata.name!=kube-root-ca.crt",
            "-o",
            "name",
        ])
        .await
        .ok();
    assert_eq!(none.stdout, "");
    let after = env.get_json(&["get", "cm"]).await["metadata"]["resourceVersion"].clone();
    assert_eq!(before, after);
    let invalid = env
        .kubectl(&["create", "configmap", "Bad_Name", "--dry-run=server"])
        .await;
    assert!(
        invalid
            .stderr
            .contains("is invalid: metadata.name: Invalid value: \"Bad_Name\""),
        "{}",
        invalid.stderr
    );
}

#[tokio::test]
async fn unknown_kind_errors_with_kubectl_wording() {
    let env = Env::start().await;
    let out = env.kubectl(&["get", "frobnicators"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        "error: the server doesn't have a resource type \"frobnicators\""
    );
    let out = env
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: Frob\nmetadata: {name: x}\n",
        )
        .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("no matches for kind \"Frob\" in version \"v1\""),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn strict_field_validation_rejects_unknown_fields() {
    let env = Env::start().await;
    let out = env
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {a: b}\n",
        )
        .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("strict decoding error: unknown field \"datta\""),
        "{}",
        out.stderr
    );
    let out = env
        .kubectl_stdin(
            &["apply", "--validate=false", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {a: b}\n",
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
"#;

#[tokio::test]
async fn crd_creation_serves_its_kind() {
    let env = Env::start().await;
    env.kubectl_stdin(&["apply", "-f", "-"], CRD).await.ok();
    let crd = env.get_json(&["get", "crd", "widgets.example.com"]).await;
    assert!(
        crd["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    );
    let out = env
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n",
        )
        .await
        .ok();
    assert_eq!(out.stdout, "widget.example.com/w1 created\n");
    let table = env.kubectl(&["get", "widgets"]).await.ok();
    let header: Vec<&str> = table
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "AGE"]);
    assert!(table.stdout.contains("w1     3"), "{}", table.stdout);
    let jp = env
        .kubectl(&["get", "wd", "w1", "-o", "jsonpath={.spec.size}"])
        .await
        .ok();
    assert_eq!(jp.stdout, "3");
    let res = env
        .kubectl(&["api-resources", "--api-group=example.com"])
        .await
        .ok();
    assert!(
        res.stdout.contains("widgets") && res.stdout.contains("Widget"),
        "{}",
        res.stdout
    );
    // Deleting the definition removes the kind.
    env.kubectl(&["delete", "crd", "widgets.example.com"])
        .await
        .ok();
    let (code, _) = env
        .http_get("/apis/example.com/v1/namespaces/default/widgets")
        .await;
    assert_eq!(code, 404);
}

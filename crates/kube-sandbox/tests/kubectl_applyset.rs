//! `kubectl apply --prune --applyset` (KUBECTL_APPLYSET=true) against the sandbox: the
//! parent Secret, ConfigMap or custom resource is created or patched with server-side
//! apply, members are labelled, and a later apply without an object prunes exactly that
//! object, by listing every group-kind the parent names in every namespace it names.

mod common;

use common::Env;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

const PART_OF: &str = "applyset.kubernetes.io/part-of";

const SETTINGS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
";

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
";

/// RFC 4648 base64 with the URL-safe alphabet and no padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The id the ApplySet specification gives a parent:
/// `applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1`.
fn applyset_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}").as_bytes());
    format!("applyset-{}-v1", base64url(&digest))
}

fn labels(obj: &Value, key: &str) -> String {
    obj["metadata"]["labels"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn annotation(obj: &Value, key: &str) -> String {
    obj["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn lines(out: &str) -> BTreeSet<String> {
    out.lines().map(str::to_string).collect()
}

/// `kubectl apply --prune --applyset=<parent> -f <dir>` with ApplySets switched on.
async fn apply_set(env: &Env, ns: Option<&str>, parent: &str, dir: &str, extra: &[&str]) -> String {
    let flag = format!("--applyset={parent}");
    let mut args = vec!["apply", "--prune", flag.as_str(), "-f", dir];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(extra);
    env.kubectl_env(&[("KUBECTL_APPLYSET", "true")], &args)
        .await
        .ok()
        .stdout
}

/// What one round checks: the parent's resource and kind, how objects are applied, and
/// which of the three members is dropped from the directory the second time.
struct Round {
    parent_resource: &'static str,
    parent_kind: &'static str,
    server_side: bool,
    dropped: &'static str,
}

async fn round(r: Round) {
    // Simulated time runs fast, so the pruned Deployment's pods finish their grace period.
    let env = Env::with_speed(20.0).await;
    let ns = "shop";
    env.kubectl(&["create", "namespace", ns]).await.ok();
    // Not a member: pruning must leave it alone.
    env.kubectl(&[
        "-n",
        ns,
        "create",
        "configmap",
        "bystander",
        "--from-literal=a=b",
    ])
    .await
    .ok();
    let dir = env.dir.join("manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        ("settings.yaml", SETTINGS, "configmap/settings"),
        ("web.yaml", WEB, "deployment.apps/web"),
        ("service.yaml", SERVICE, "service/web"),
    ];
    for (file, body, _) in files {
        std::fs::write(dir.join(file), body).unwrap();
    }
    let dir = dir.to_string_lossy().into_owned();
    let parent = format!("{}/catalog", r.parent_resource);
    // The default parent type is a Secret: name it without a resource then.
    let parent_flag = if r.parent_resource == "secrets" {
        "catalog".to_string()
    } else {
        parent.clone()
    };
    let extra: &[&str] = if r.server_side {
        &["--server-side"]
    } else {
        &[]
    };
    let verb = if r.server_side {
        "serverside-applied"
    } else {
        "created"
    };

    let out = apply_set(&env, Some(ns), &parent_flag, &dir, extra).await;
    let expected: BTreeSet<String> = files
        .iter()
        .map(|(_, _, name)| format!("{name} {verb}"))
        .collect();
    assert_eq!(lines(&out), expected, "{out}");

    let id = applyset_id("catalog", ns, r.parent_kind, "");
    let p = env.get_json(&["-n", ns, "get", &parent]).await;
    assert_eq!(labels(&p, "applyset.kubernetes.io/id"), id, "{p:#}");
    assert!(
        annotation(&p, "applyset.kubernetes.io/tooling").starts_with("kubectl/v1."),
        "{p:#}"
    );
    assert_eq!(
        annotation(&p, "applyset.kubernetes.io/contains-group-kinds"),
        "ConfigMap,Deployment.apps,Service"
    );
    assert_eq!(
        p["metadata"]["annotations"]["applyset.kubernetes.io/additional-namespaces"],
        ""
    );
    let members = env
        .kubectl(&[
            "-n",
            ns,
            "get",
            "configmaps,deployments,services,secrets",
            "-l",
            &format!("{PART_OF}={id}"),
            "-o",
            "name",
        ])
        .await
        .ok();
    assert_eq!(
        lines(&members.stdout),
        files
            .iter()
            .map(|(_, _, name)| name.to_string())
            .collect::<BTreeSet<_>>()
    );

    // Again, without one of them.
    let (dropped_file, _, dropped) = files
        .iter()
        .find(|(_, _, name)| *name == r.dropped)
        .expect("a member");
    std::fs::remove_file(std::path::Path::new(&dir).join(dropped_file)).unwrap();
    let out = apply_set(&env, Some(ns), &parent_flag, &dir, extra).await;
    let unchanged = if r.server_side {
        "serverside-applied"
    } else {
        "unchanged"
    };
    let mut expected: BTreeSet<String> = files
        .iter()
        .filter(|(_, _, name)| name != dropped)
        .map(|(_, _, name)| format!("{name} {unchanged}"))
        .collect();
    expected.insert(format!("{dropped} pruned"));
    assert_eq!(lines(&out), expected, "{out}");

    let gone = env.kubectl(&["-n", ns, "get", dropped]).await;
    assert_eq!(gone.code, 1, "{} is still there: {}", dropped, gone.stdout);
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
    for (_, _, name) in files.iter().filter(|(_, _, name)| name != dropped) {
        let obj = env.get_json(&["-n", ns, "get", name]).await;
        assert_eq!(labels(&obj, PART_OF), id, "{obj:#}");
    }
    env.kubectl(&["-n", ns, "get", "configmap", "bystander"])
        .await
        .ok();

    let p = env
        .get_json(&["-n", ns, "get", &parent, "--show-managed-fields"])
        .await;
    assert_eq!(labels(&p, "applyset.kubernetes.io/id"), id);
    let kinds = match *dropped {
        "service/web" => "ConfigMap,Deployment.apps",
        "deployment.apps/web" => "ConfigMap,Service",
        _ => "Deployment.apps,Service",
    };
    assert_eq!(
        annotation(&p, "applyset.kubernetes.io/contains-group-kinds"),
        kinds,
        "{p:#}"
    );
    assert!(
        annotation(&p, "applyset.kubernetes.io/tooling").starts_with("kubectl/v1."),
        "{p:#}"
    );
    let managers: Vec<(String, String)> = p["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["manager"].as_str().unwrap_or_default().to_string(),
                m["operation"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        managers,
        [("kubectl-applyset".to_string(), "Apply".to_string())]
    );

    if *dropped == "deployment.apps/web" {
        // The prune deletes in the background: the Deployment's ReplicaSet and pods follow.
        env.until(30, "the pruned Deployment's pods to go", |env| {
            (env.list_in(ns, "apps", "replicasets").is_empty()
                && env.list_in(ns, "", "pods").is_empty())
            .then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn secret_parent_client_side_prunes_the_removed_service() {
    round(Round {
        parent_resource: "secrets",
        parent_kind: "Secret",
        server_side: false,
        dropped: "service/web",
    })
    .await;
}

#[tokio::test]
async fn secret_parent_server_side_prunes_the_removed_configmap() {
    round(Round {
        parent_resource: "secrets",
        parent_kind: "Secret",
        server_side: true,
        dropped: "configmap/settings",
    })
    .await;
}

#[tokio::test]
async fn configmap_parent_client_side_prunes_the_removed_deployment_and_its_pods() {
    round(Round {
        parent_resource: "configmaps",
        parent_kind: "ConfigMap",
        server_side: false,
        dropped: "deployment.apps/web",
    })
    .await;
}

#[tokio::test]
async fn configmap_parent_server_side_prunes_the_removed_service() {
    round(Round {
        parent_resource: "configmaps",
        parent_kind: "ConfigMap",
        server_side: true,
        dropped: "service/web",
    })
    .await;
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: releases.example.com
spec:
  group: example.com
  scope: Cluster
  names: {plural: releases, singular: release, kind: Release}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

#[tokio::test]
async fn custom_resource_parent_spans_namespaces_and_cluster_scoped_kinds() {
    let env = Env::start().await;
    env.apply(CRD).await;
    for ns in ["team-a", "team-b"] {
        env.kubectl(&["create", "namespace", ns]).await.ok();
    }
    let id = applyset_id("site", "", "Release", "example.com");
    // A custom resource parent must exist first, with its id and tooling.
    env.apply(&format!(
        "apiVersion: example.com/v1\nkind: Release\nmetadata:\n  name: site\n  labels:\n    applyset.kubernetes.io/id: {id}\n  annotations:\n    applyset.kubernetes.io/tooling: kubectl/v1.32\n    applyset.kubernetes.io/contains-group-kinds: \"\"\n"
    ))
    .await;
    let dir = env.dir.join("site");
    std::fs::create_dir_all(&dir).unwrap();
    let all = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team-a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: team-b}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: site-reader}\nrules: []\n";
    std::fs::write(dir.join("all.yaml"), all).unwrap();
    let dir_s = dir.to_string_lossy().into_owned();

    // Only CRDs labelled as parent types may be parents: kubectl finds them with an
    // existence selector on the CRD list.
    let refused = env
        .kubectl_env(
            &[("KUBECTL_APPLYSET", "true")],
            &[
                "apply",
                "--prune",
                "--applyset=releases.example.com/site",
                "-f",
                &dir_s,
            ],
        )
        .await;
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("is not permitted as an ApplySet parent"),
        "{}",
        refused.stderr
    );
    env.kubectl(&[
        "label",
        "crd",
        "releases.example.com",
        "applyset.kubernetes.io/is-parent-type=true",
    ])
    .await
    .ok();

    let out = apply_set(&env, None, "releases.example.com/site", &dir_s, &[]).await;
    assert_eq!(
        lines(&out),
        lines(
            "configmap/a created\nconfigmap/b created\nclusterrole.rbac.authorization.k8s.io/site-reader created"
        )
    );
    let p = env.get_json(&["get", "releases", "site"]).await;
    assert_eq!(
        annotation(&p, "applyset.kubernetes.io/contains-group-kinds"),
        "ClusterRole.rbac.authorization.k8s.io,ConfigMap"
    );
    assert_eq!(
        annotation(&p, "applyset.kubernetes.io/additional-namespaces"),
        "team-a,team-b"
    );
    assert_eq!(labels(&p, "applyset.kubernetes.io/id"), id);

    std::fs::write(
        dir.join("all.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: team-a}\n",
    )
    .unwrap();
    // A server-side dry run reports the prune and deletes nothing.
    let out = apply_set(
        &env,
        None,
        "releases.example.com/site",
        &dir_s,
        &["--dry-run=server"],
    )
    .await;
    assert_eq!(
        lines(&out),
        lines(
            "configmap/a unchanged (server dry run)\nconfigmap/b pruned (server dry run)\nclusterrole.rbac.authorization.k8s.io/site-reader pruned (server dry run)"
        )
    );
    env.kubectl(&["-n", "team-b", "get", "configmap", "b"])
        .await
        .ok();
    env.kubectl(&["get", "clusterrole", "site-reader"])
        .await
        .ok();
    let p = env.get_json(&["get", "releases", "site"]).await;
    assert_eq!(
        annotation(&p, "applyset.kubernetes.io/additional-namespaces"),
        "team-a,team-b"
    );

    let out = apply_set(&env, None, "releases.example.com/site", &dir_s, &[]).await;
    assert_eq!(
        lines(&out),
        lines(
            "configmap/a unchanged\nconfigmap/b pruned\nclusterrole.rbac.authorization.k8s.io/site-reader pruned"
        )
    );
    assert_eq!(
        env.kubectl(&["-n", "team-b", "get", "configmap", "b"])
            .await
            .code,
        1
    );
    assert_eq!(
        env.kubectl(&["get", "clusterrole", "site-reader"])
            .await
            .code,
        1
    );
    let a = env
        .get_json(&["-n", "team-a", "get", "configmap", "a"])
        .await;
    assert_eq!(labels(&a, PART_OF), id);
    let p = env.get_json(&["get", "releases", "site"]).await;
    assert_eq!(
        annotation(&p, "applyset.kubernetes.io/contains-group-kinds"),
        "ConfigMap"
    );
    assert_eq!(
        annotation(&p, "applyset.kubernetes.io/additional-namespaces"),
        "team-a"
    );
}

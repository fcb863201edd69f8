//! HTTPS, authentication and RBAC, judged by the real kubectl: the generated CA in the
//! kubeconfig, client certificates and tokens of users, ServiceAccount tokens from the
//! TokenRequest API, 401 for anonymous requests and the real 403 messages.

mod common;

use common::Env;
use kube_sandbox::{SandboxOptions, SandboxUser};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

async fn secure(users: &[(&str, &[&str])]) -> Env {
    Env::start_with(SandboxOptions {
        tls: true,
        users: users
            .iter()
            .map(|(name, groups)| SandboxUser {
                name: name.to_string(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            })
            .collect(),
        ..Default::default()
    })
    .await
}

/// The sandbox's kubeconfig with its `sandbox` user replaced by `user` (YAML after `user:`).
fn with_user(kubeconfig: &str, user: &str) -> String {
    let start = kubeconfig.find("users:\n").unwrap();
    format!(
        "{}users:\n- name: sandbox\n  user: {user}\npreferences: {{}}\n",
        &kubeconfig[..start]
    )
}

#[tokio::test]
async fn kubectl_trusts_the_generated_ca_and_the_admin_certificate() {
    let env = secure(&[]).await;
    assert!(env.sandbox.url().starts_with("https://127.0.0.1:"));
    let kubeconfig = std::fs::read_to_string(&env.kubeconfig).unwrap();
    assert!(kubeconfig.contains("certificate-authority-data: "));
    assert!(!kubeconfig.contains("insecure-skip-tls-verify"));
    let out = env
        .kubectl(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .await
        .ok();
    assert_eq!(out.stdout, "sandbox-admin");
    env.kubectl(&["create", "namespace", "shop"]).await.ok();
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "c",
        "--from-literal=k=v",
    ])
    .await
    .ok();
    // A watch streams over HTTP/2 through TLS (beside the namespace's published CA).
    let mut child = env
        .command(&[
            "-n",
            "shop",
            "get",
            "configmaps",
            "--field-selector=metadata.name!=kube-root-ca.crt",
            "--watch",
            "-o",
            "name",
        ])
        .spawn()
        .expect("kubectl get -w");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert_eq!(first.unwrap().unwrap().as_deref(), Some("configmap/c"));
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "d",
        "--from-literal=k=v",
    ])
    .await
    .ok();
    let next = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert_eq!(next.unwrap().unwrap().as_deref(), Some("configmap/d"));
    let _ = child.kill().await;
    let out = env
        .kubectl(&["get", "clusterroles", "-o", "name"])
        .await
        .ok();
    for role in ["cluster-admin", "admin", "edit", "view"] {
        assert!(
            out.stdout
                .contains(&format!("clusterrole.rbac.authorization.k8s.io/{role}\n")),
            "{}",
            out.stdout
        );
    }
}

#[tokio::test]
async fn an_anonymous_request_is_unauthorized() {
    let env = secure(&[]).await;
    // kubectl would ask for a user name on stdin after a 401: curl shows the answer.
    let ca = env.dir.join("ca.pem");
    std::fs::write(&ca, env.sandbox.ca_pem().unwrap()).unwrap();
    let mut curl = tokio::process::Command::new("curl");
    curl.args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(&ca)
        .arg(format!(
            "{}/api/v1/namespaces/default/pods",
            env.sandbox.url()
        ));
    let out = common::run(curl, None).await.ok();
    assert_eq!(
        out.stdout,
        "{\"apiVersion\":\"v1\",\"code\":401,\"kind\":\"Status\",\"message\":\"Unauthorized\",\"metadata\":{},\"reason\":\"Unauthorized\",\"status\":\"Failure\"}\n401"
    );
    // The version stays public, as `system:public-info-viewer` makes it.
    let mut curl = tokio::process::Command::new("curl");
    curl.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&ca)
        .arg(format!("{}/version", env.sandbox.url()));
    assert_eq!(common::run(curl, None).await.ok().stdout, "200");
}

#[tokio::test]
async fn a_user_without_a_binding_gets_the_real_forbidden_message() {
    let env = secure(&[("alice", &["dev"])]).await;
    env.kubectl(&["create", "namespace", "shop"]).await.ok();
    for context in ["alice", "alice-token"] {
        let out = env
            .kubectl(&[
                "--context",
                context,
                "-n",
                "shop",
                "create",
                "deployment",
                "api",
                "--image=nginx",
            ])
            .await;
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert_eq!(
            out.stderr.trim(),
            "error: failed to create deployment: deployments.apps is forbidden: User \"alice\" cannot create resource \"deployments\" in API group \"apps\" in the namespace \"shop\""
        );
        let out = env.kubectl(&["--context", context, "get", "nodes"]).await;
        assert!(
            out.stderr.contains("Error from server (Forbidden): nodes is forbidden: User \"alice\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"),
            "{}",
            out.stderr
        );
    }
    let out = env
        .kubectl(&[
            "--context",
            "alice",
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.groups}",
        ])
        .await
        .ok();
    assert_eq!(out.stdout, "[\"dev\",\"system:authenticated\"]");
}

#[tokio::test]
async fn edit_in_a_namespace_allows_its_workloads_and_nothing_beyond() {
    let env = secure(&[("alice", &[])]).await;
    env.kubectl(&["create", "namespace", "shop"]).await.ok();
    env.kubectl(&["create", "namespace", "other"]).await.ok();
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        "alice-edit",
        "--clusterrole=edit",
        "--user=alice",
    ])
    .await
    .ok();
    env.kubectl(&[
        "--context",
        "alice",
        "-n",
        "shop",
        "create",
        "deployment",
        "api",
        "--image=nginx",
    ])
    .await
    .ok();
    env.kubectl(&[
        "--context",
        "alice",
        "-n",
        "shop",
        "scale",
        "deployment",
        "api",
        "--replicas=2",
    ])
    .await
    .ok();
    env.kubectl(&["--context", "alice", "get", "namespace", "shop"])
        .await
        .ok();
    let can = |args: Vec<&'static str>| {
        let env = &env;
        async move {
            let mut all = vec!["--context", "alice", "auth", "can-i"];
            all.extend(args);
            env.kubectl(&all).await.stdout.trim().to_string()
        }
    };
    assert_eq!(
        can(vec!["create", "deployments", "-n", "shop"]).await,
        "yes"
    );
    assert_eq!(can(vec!["get", "secrets", "-n", "shop"]).await, "yes");
    assert_eq!(
        can(vec!["create", "deployments", "-n", "other"]).await,
        "no"
    );
    assert_eq!(can(vec!["create", "roles", "-n", "shop"]).await, "no");
    assert_eq!(
        can(vec!["create", "leases.coordination.k8s.io", "-n", "shop"]).await,
        "no"
    );
    assert_eq!(can(vec!["create", "namespaces"]).await, "no");
    let list = env
        .kubectl(&[
            "--context",
            "alice",
            "-n",
            "shop",
            "auth",
            "can-i",
            "--list",
        ])
        .await
        .ok();
    let row = |resource: &str| {
        list.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(resource))
            .unwrap_or_else(|| panic!("{resource} missing from:\n{}", list.stdout))
            .to_string()
    };
    assert!(
        row("deployments.apps")
            .contains("[create delete deletecollection patch update get list watch]"),
        "{}",
        list.stdout
    );
    assert!(row("selfsubjectaccessreviews.authorization.k8s.io").contains("[create]"));
    let out = env
        .kubectl(&["--context", "alice", "-n", "other", "get", "configmaps"])
        .await;
    assert!(
        out.stderr.contains("configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"other\""),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_service_account_token_from_the_token_request_api_authenticates() {
    let env = secure(&[]).await;
    env.kubectl(&["create", "namespace", "shop"]).await.ok();
    env.kubectl(&["-n", "shop", "create", "serviceaccount", "deployer"])
        .await
        .ok();
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "role",
        "cm-reader",
        "--verb=get,list",
        "--resource=configmaps",
        "--resource-name=settings",
    ])
    .await
    .ok();
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        "deployer",
        "--role=cm-reader",
        "--serviceaccount=shop:deployer",
    ])
    .await
    .ok();
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "settings",
        "--from-literal=k=v",
    ])
    .await
    .ok();
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "other",
        "--from-literal=k=v",
    ])
    .await
    .ok();
    let token = env
        .kubectl(&["-n", "shop", "create", "token", "deployer"])
        .await
        .ok()
        .stdout;
    let token = token.trim();
    assert!(token.len() >= 40);
    let sa = with_user(
        &std::fs::read_to_string(&env.kubeconfig).unwrap(),
        &format!("\n    token: {token}"),
    );
    let config = env.dir.join("sa.kubeconfig");
    std::fs::write(&config, sa).unwrap();
    let kubectl = |args: &[&str]| {
        let mut c = env.command(&[]);
        c.arg("--kubeconfig").arg(&config).args(args);
        common::run(c, None)
    };
    let out = kubectl(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ])
    .await
    .ok();
    assert_eq!(out.stdout, "system:serviceaccount:shop:deployer");
    // The TokenReview API knows the token, and not a made-up one.
    for (token, expected) in [
        (token, "true system:serviceaccount:shop:deployer"),
        ("made-up", "false "),
    ] {
        let review = format!(
            "{{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{{\"token\":\"{token}\"}}}}"
        );
        let out = env
            .kubectl_stdin(
                &[
                    "create",
                    "-f",
                    "-",
                    "-o",
                    "jsonpath={.status.authenticated} {.status.user.username}",
                ],
                &review,
            )
            .await
            .ok();
        assert_eq!(out.stdout, expected);
    }
    kubectl(&["-n", "shop", "get", "configmap", "settings"])
        .await
        .ok();
    let out = kubectl(&["-n", "shop", "get", "configmap", "other"]).await;
    assert!(
        out.stderr.contains("configmaps \"other\" is forbidden: User \"system:serviceaccount:shop:deployer\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"shop\""),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_certificate_issued_after_start_authenticates_its_user() {
    let env = secure(&[]).await;
    let (cert, key) = env
        .sandbox
        .issue_certificate("carol", &["ops".to_string()])
        .unwrap()
        .unwrap();
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let config = with_user(
        &std::fs::read_to_string(&env.kubeconfig).unwrap(),
        &format!(
            "\n    client-certificate-data: {}\n    client-key-data: {}",
            b64(&cert),
            b64(&key)
        ),
    );
    std::fs::write(&env.kubeconfig, config).unwrap();
    let out = env
        .kubectl(&["auth", "whoami", "-o", "jsonpath={.status.userInfo}"])
        .await
        .ok();
    assert_eq!(
        out.stdout,
        "{\"groups\":[\"ops\",\"system:authenticated\"],\"username\":\"carol\"}"
    );
}

#[tokio::test]
async fn a_restart_from_state_keeps_the_bindings_under_a_new_authority() {
    let state =
        std::env::temp_dir().join(format!("kube-sandbox-auth-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let options = || SandboxOptions {
        tls: true,
        users: vec![SandboxUser {
            name: "alice".into(),
            groups: vec![],
        }],
        state_dir: Some(state.clone()),
        ..Default::default()
    };
    let first = kube_sandbox::Sandbox::start(options()).await.unwrap();
    let kubeconfig = state.with_extension("kubeconfig");
    first.write_kubeconfig(&kubeconfig).unwrap();
    for args in [
        &["create", "namespace", "shop"][..],
        &[
            "-n",
            "shop",
            "create",
            "rolebinding",
            "alice",
            "--clusterrole=view",
            "--user=alice",
        ],
    ] {
        let mut kubectl = tokio::process::Command::new("kubectl");
        kubectl.arg("--kubeconfig").arg(&kubeconfig).args(args);
        common::run(kubectl, None).await.ok();
    }
    let old_ca = first.ca_pem().unwrap().to_string();
    first.shutdown().await;
    let _ = std::fs::remove_file(&kubeconfig);
    let env = Env::start_with(options()).await;
    assert_ne!(env.sandbox.ca_pem().unwrap(), old_ca);
    env.kubectl(&["--context", "alice", "-n", "shop", "get", "pods"])
        .await
        .ok();
    let out = env
        .kubectl(&[
            "get",
            "clusterroles",
            "-l",
            "kubernetes.io/bootstrapping=rbac-defaults",
            "-o",
            "name",
        ])
        .await
        .ok();
    assert_eq!(out.stdout.lines().count(), 7, "{}", out.stdout);
    let _ = std::fs::remove_dir_all(&state);
}

#[tokio::test]
async fn an_administrator_impersonates_and_a_user_may_not() {
    let env = secure(&[("alice", &[])]).await;
    env.kubectl(&["create", "namespace", "shop"]).await.ok();
    let can = |args: &'static [&'static str]| {
        let env = &env;
        async move { env.kubectl(args).await.stdout.trim().to_string() }
    };
    let question = &[
        "--as",
        "bob",
        "-n",
        "shop",
        "auth",
        "can-i",
        "create",
        "deployments",
    ];
    assert_eq!(can(question).await, "no");
    env.kubectl(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        "bob",
        "--clusterrole=edit",
        "--group=deployers",
    ])
    .await
    .ok();
    assert_eq!(can(question).await, "no");
    assert_eq!(
        can(&[
            "--as",
            "bob",
            "--as-group",
            "deployers",
            "-n",
            "shop",
            "auth",
            "can-i",
            "create",
            "deployments"
        ])
        .await,
        "yes"
    );
    let out = env
        .kubectl(&["--as", "bob", "-n", "shop", "get", "pods"])
        .await;
    assert!(
        out.stderr.contains("pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"shop\""),
        "{}",
        out.stderr
    );
    let out = env
        .kubectl(&[
            "--context",
            "alice",
            "--as",
            "bob",
            "-n",
            "shop",
            "get",
            "pods",
        ])
        .await;
    assert!(
        out.stderr.contains("users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{}",
        out.stderr
    );
}

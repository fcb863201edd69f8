//! slipway against a sandbox that speaks TLS, authenticates and authorizes: deploys with a
//! client certificate, a token and an exec credential plugin (as AKS's kubelogin works),
//! by identities that hold only namespace-scoped rights, and a deploy that lacks one.

mod common;

use std::fs;
use std::path::Path;

use common::sandbox::{self, Served};

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A sandbox over TLS with the users `alice` and `bob`, the namespace `shop`, and the
/// ServiceAccount `shop/deployer`.
fn serve(dir: &Path) -> Served {
    let served = Served::start(
        dir,
        "tls",
        &[
            "--tls",
            "--speed",
            "20",
            "--user",
            "alice:developers",
            "--user",
            "bob",
        ],
    );
    assert!(
        served.server.starts_with("https://127.0.0.1:"),
        "{}",
        served.server
    );
    served.kubectl(&["create", "namespace", "shop"]);
    served.kubectl(&["-n", "shop", "create", "serviceaccount", "deployer"]);
    served
}

/// `edit` in `shop` for `subject` (`--user=alice`, `--serviceaccount=shop:deployer`), and
/// the Lease rights slipway's deploy lock needs beyond `edit` when `with_lease`.
fn grant(served: &Served, name: &str, subject: &str, with_lease: bool) {
    served.kubectl(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        &format!("{name}-edit"),
        "--clusterrole=edit",
        subject,
    ]);
    if with_lease {
        served.kubectl(&[
            "-n",
            "shop",
            "create",
            "role",
            &format!("{name}-lock"),
            "--verb=get,create,update,patch,delete",
            "--resource=leases.coordination.k8s.io",
        ]);
        served.kubectl(&[
            "-n",
            "shop",
            "create",
            "rolebinding",
            &format!("{name}-lock"),
            &format!("--role={name}-lock"),
            subject,
        ]);
    }
}

/// The project `shop` whose environment `uat` deploys to `shop` through `context` of
/// `kubeconfig`.
fn project(dir: &Path, kubeconfig: &str, context: &str) {
    sandbox::write_project(
        dir,
        &format!(
            "  uat:\n    context: {context}\n    kubeconfig: {kubeconfig}\n    namespace: shop\n    timeout: 2m\n    settle: 0s\n"
        ),
        "ready",
    );
}

fn deploy(dir: &Path) -> std::process::Output {
    let image = format!("api={}", sandbox::image(1));
    sandbox::run(dir, &["deploy", "uat", "--image", &image])
}

/// The cluster's resourceVersion: it moves with every write, whatever its kind.
fn written(served: &Served) -> String {
    served
        .kubectl(&["get", "--raw", "/api/v1/namespaces/shop/configmaps?limit=1"])
        .split("\"resourceVersion\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string()
}

fn assert_deployed(served: &Served) {
    let images = served.kubectl(&[
        "-n",
        "shop",
        "get",
        "deployment",
        "api",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(images, sandbox::image(1));
    let ready = served.kubectl(&[
        "-n",
        "shop",
        "get",
        "deployment",
        "api",
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    assert_eq!(ready, "2");
}

#[test]
fn deploys_over_tls_with_a_client_certificate_of_a_namespace_editor() {
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    grant(&served, "alice", "--user=alice", true);
    project(dir.path(), "tls.kubeconfig", "alice");
    let out = deploy(dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_deployed(&served);
}

#[test]
fn deploys_over_tls_with_a_bearer_token() {
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    grant(&served, "alice", "--user=alice", true);
    project(dir.path(), "tls.kubeconfig", "alice-token");
    let out = deploy(dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_deployed(&served);
}

#[test]
fn deploys_with_an_exec_credential_plugin_and_a_service_account_token() {
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    grant(&served, "deployer", "--serviceaccount=shop:deployer", true);
    // The token lives in a file the plugin reads, never on a command line.
    let token = served.kubectl(&["-n", "shop", "create", "token", "deployer"]);
    let token_file = dir.path().join("deployer.token");
    fs::write(&token_file, token.trim()).unwrap();
    let plugin = dir.path().join("get-token.sh");
    fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$(cat '{}')\"\n",
            token_file.display()
        ),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut fs::metadata(&plugin).unwrap().permissions(),
        0o755,
    );
    fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // The sandbox's cluster (server and CA), with a user whose credentials come from the plugin.
    let text = fs::read_to_string(&served.kubeconfig).unwrap();
    let clusters = &text[..text.find("contexts:\n").unwrap()];
    fs::write(
        dir.path().join("exec.kubeconfig"),
        format!(
            "{clusters}contexts:\n- name: aks\n  context:\n    cluster: sandbox\n    user: kubelogin\ncurrent-context: aks\nusers:\n- name: kubelogin\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            plugin.display()
        ),
    )
    .unwrap();
    project(dir.path(), "exec.kubeconfig", "aks");
    let out = deploy(dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_deployed(&served);
    assert!(
        !stderr(&out).contains(token.trim()),
        "the token leaked: {}",
        stderr(&out)
    );
}

#[test]
fn a_deploy_missing_a_right_stops_before_anything_is_applied() {
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    // `edit` alone gives no rights on Leases, which the deploy lock needs.
    grant(&served, "bob", "--user=bob", false);
    project(dir.path(), "tls.kubeconfig", "bob");
    let before = written(&served);
    let out = deploy(dir.path());
    let err = stderr(&out);
    assert_eq!(code(&out), 7, "{err}");
    // Asked before anything is written: the rights the lock needs, all at once.
    assert!(
        err.contains("this identity may not `get`, `create`, `update` `leases.coordination.k8s.io` in namespace `shop`; nothing was written"),
        "{err}"
    );
    assert!(
        err.contains("the deploy lock is a Lease (`coordination.k8s.io`), which the built-in `edit` role does not grant"),
        "{err}"
    );
    assert_eq!(written(&served), before, "the cluster was written to");
    let applied = served.kubectl(&[
        "-n",
        "shop",
        "get",
        "deployments,configmaps,secrets",
        "-o",
        "name",
    ]);
    assert!(!applied.contains("deployment.apps/api"), "{applied}");
    assert!(!applied.contains("shop-config"), "{applied}");
}

#[test]
fn a_deploy_that_may_not_read_secrets_stops_before_anything_is_applied() {
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    // `view` and the lock, but no Secrets, where slipway keeps its release records.
    served.kubectl(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        "alice-view",
        "--clusterrole=view",
        "--user=alice",
    ]);
    served.kubectl(&[
        "-n",
        "shop",
        "create",
        "role",
        "alice-lock",
        "--verb=get,create,update,patch,delete",
        "--resource=leases.coordination.k8s.io",
    ]);
    served.kubectl(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        "alice-lock",
        "--role=alice-lock",
        "--user=alice",
    ]);
    project(dir.path(), "tls.kubeconfig", "alice");
    let before = written(&served);
    let out = deploy(dir.path());
    let err = stderr(&out);
    assert_eq!(code(&out), 7, "{err}");
    assert!(
        err.contains("user `alice` may not `list` `secrets` in namespace `shop`"),
        "{err}"
    );
    assert_eq!(written(&served), before, "the cluster was written to");
    let applied = served.kubectl(&[
        "-n",
        "shop",
        "get",
        "deployments,configmaps,secrets,leases",
        "-o",
        "name",
    ]);
    assert!(!applied.contains("deployment.apps/api"), "{applied}");
    assert!(!applied.contains("shop-config"), "{applied}");
}

#[test]
fn a_user_named_like_the_administrator_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (arg, message) in [
        (
            "sandbox",
            "`--user sandbox`: the kubeconfig already has a user or context `sandbox`",
        ),
        ("alice:dev,", "`--user alice:dev,`: `` is not a group name"),
        (
            "al ice",
            "`--user al ice`: the user name must be letters, digits",
        ),
    ] {
        let out = sandbox::run(
            dir.path(),
            &[
                "sandbox",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--tls",
                "--user",
                arg,
            ],
        );
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}

#[test]
fn a_deploy_whose_manifests_need_a_right_it_lacks_stops_before_anything_is_written() {
    // The rights a release needs are asked of the cluster before the lock is taken.
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    grant(&served, "alice", "--user=alice", true);
    project(dir.path(), "tls.kubeconfig", "alice");
    // `edit` may not create Roles.
    fs::write(
        dir.path().join("k8s/role.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: api-reader\nrules:\n  - apiGroups: [\"\"]\n    resources: [configmaps]\n    verbs: [get]\n",
    )
    .unwrap();
    let out = deploy(dir.path());
    let err = stderr(&out);
    // A right refused is exit code 7, as credentials refused are, found before anything
    // is written: not even the lock's Lease.
    assert_eq!(code(&out), 7, "{err}");
    assert!(
        err.contains("this identity may not `get`, `patch` `roles.rbac.authorization.k8s.io` in namespace `shop`; nothing was written"),
        "{err}"
    );
    assert!(err.contains("kubectl auth can-i --list"), "{err}");
    let applied = served.kubectl(&[
        "-n",
        "shop",
        "get",
        "deployments,configmaps,secrets,roles,leases",
        "-o",
        "name",
    ]);
    assert!(!applied.contains("lease"), "{applied}");
    assert!(!applied.contains("deployment.apps/api"), "{applied}");
    assert!(!applied.contains("shop-config"), "{applied}");
}

#[test]
fn a_token_the_cluster_does_not_know_is_reported_as_refused_credentials() {
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let text = fs::read_to_string(&served.kubeconfig).unwrap();
    let clusters = &text[..text.find("contexts:\n").unwrap()];
    fs::write(
        dir.path().join("stale.kubeconfig"),
        format!(
            "{clusters}contexts:\n- name: stale\n  context:\n    cluster: sandbox\n    user: stale\ncurrent-context: stale\nusers:\n- name: stale\n  user:\n    token: revoked-token-0123456789\n"
        ),
    )
    .unwrap();
    project(dir.path(), "stale.kubeconfig", "stale");
    let out = deploy(dir.path());
    let err = stderr(&out);
    assert_eq!(code(&out), 7, "{err}");
    assert!(
        err.contains("Unauthorized: the cluster did not accept the credentials of this kubeconfig context (its token, client certificate or exec plugin's credential is missing, unknown or expired)"),
        "{err}"
    );
    assert!(!err.contains("revoked-token-0123456789"), "{err}");
}

#[test]
fn an_http_analysis_check_needs_the_service_proxy_right_before_anything_is_written() {
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    // Everything the release writes, but not `services/proxy`.
    served.kubectl(&[
        "-n",
        "shop",
        "create",
        "role",
        "deployer",
        "--verb=get,list,watch,create,update,patch,delete",
        "--resource=deployments.apps,configmaps,secrets,services,leases.coordination.k8s.io",
    ]);
    served.kubectl(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        "deployer",
        "--role=deployer",
        "--user=bob",
    ]);
    project(dir.path(), "tls.kubeconfig", "bob");
    let config = dir.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("strategies:\n  api:\n    canary:\n      steps: [{ weight: 50, pause: 1s }]\n      analysis:\n        - name: health\n          http: { service: api, path: /healthz }\n");
    fs::write(&config, text).unwrap();
    let before = written(&served);
    let out = deploy(dir.path());
    let err = stderr(&out);
    assert_eq!(code(&out), 7, "{err}");
    assert!(
        err.contains(
            "this identity may not `get` `services/proxy` in namespace `shop`; nothing was written"
        ),
        "{err}"
    );
    assert_eq!(written(&served), before, "the cluster was written to");

    // With `edit` (which grants `services/proxy`) and the lock's Lease, it deploys.
    grant(&served, "bob", "--user=bob", true);
    let out = deploy(dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_deployed(&served);
}

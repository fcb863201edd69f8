//! The setting of the list benchmark (`scripts/bench-sandbox.sh`): a sandbox serving HTTPS
//! with authentication and RBAC, 5,000 pods over 50 namespaces, and a user `reader` who is
//! no administrator and may list pods through a ClusterRoleBinding to the built-in `view`
//! role. Writes its kubeconfig (contexts `sandbox` and `reader`) to the path given, then
//! serves until killed.
//!
//! `cargo run --release -p kube-sandbox --example bench_list -- KUBECONFIG [PODS]`

use kube_sandbox::store::WriteCtx;
use kube_sandbox::{Sandbox, SandboxOptions, SandboxUser};
use serde_json::json;
use std::time::Instant;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let kubeconfig = args
        .next()
        .map(std::path::PathBuf::from)
        .ok_or_else(|| std::io::Error::other("usage: bench_list KUBECONFIG [PODS]"))?;
    let pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let sandbox = Sandbox::start(SandboxOptions {
        tls: true,
        users: vec![SandboxUser {
            name: "reader".into(),
            groups: vec![],
        }],
        ..Default::default()
    })
    .await?;
    let store = sandbox.store();
    let reg = store.registry();
    let find = |g: &str, r: &str| reg.find(g, "v1", r).expect("served").clone();
    let ctx = WriteCtx {
        manager: "bench".into(),
        ..Default::default()
    };
    let binding = json!({"metadata": {"name": "reader-views"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "reader"}]});
    store
        .create(
            &find("rbac.authorization.k8s.io", "clusterrolebindings"),
            "",
            binding,
            &ctx,
        )
        .map_err(|e| std::io::Error::other(e.message))?;
    let namespaces = 50;
    for n in 0..namespaces {
        let ns = json!({"metadata": {"name": format!("bench-{n}")}});
        store
            .create(&find("", "namespaces"), "", ns, &ctx)
            .map_err(|e| std::io::Error::other(e.message))?;
    }
    let t = Instant::now();
    let pod_rt = find("", "pods");
    for i in 0..pods {
        let pod = json!({"metadata": {"name": format!("pod-{i}"), "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "registry.example.com/bench:1"}]}});
        store
            .create(&pod_rt, &format!("bench-{}", i % namespaces), pod, &ctx)
            .map_err(|e| std::io::Error::other(e.message))?;
    }
    eprintln!("created {pods} pods in {:?}", t.elapsed());
    sandbox.write_kubeconfig(&kubeconfig)?;
    println!("ready");
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}

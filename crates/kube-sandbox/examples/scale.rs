//! Scale check: 5,000 pods over 50 namespaces and 100 open watches, then times
//! `kubectl get pods -A` against the sandbox.
//!
//! `cargo run --release -p kube-sandbox --example scale [PODS] [WATCHES]`

use kube_sandbox::store::WriteCtx;
use kube_sandbox::{Sandbox, SandboxOptions};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let watches: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let sandbox = Sandbox::start(SandboxOptions::default()).await?;
    let dir = std::env::temp_dir().join(format!("kube-sandbox-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig)?;
    let store = sandbox.store();
    let reg = store.registry();
    let ns_rt = reg
        .find("", "v1", "namespaces")
        .expect("namespaces")
        .clone();
    let pod_rt = reg.find("", "v1", "pods").expect("pods").clone();
    let ctx = WriteCtx {
        manager: "scale".into(),
        ..Default::default()
    };
    let namespaces = 50;
    for n in 0..namespaces {
        let _ = store.create(
            &ns_rt,
            "",
            json!({"metadata": {"name": format!("scale-{n}")}}),
            &ctx,
        );
    }
    let t = Instant::now();
    for i in 0..pods {
        let ns = format!("scale-{}", i % namespaces);
        let pod = json!({"metadata": {"name": format!("pod-{i}"), "labels": {"app": "scale"}},
            "spec": {"containers": [{"name": "c", "image": "example.com/scale:1"}]}});
        if let Err(e) = store.create(&pod_rt, &ns, pod, &ctx) {
            eprintln!("pod {i}: {}", e.message);
        }
    }
    println!("created {pods} pods in {:?}", t.elapsed());
    // Open watches over HTTP, kept open while kubectl lists.
    let mut open = vec![];
    for i in 0..watches {
        let mut s = tokio::net::TcpStream::connect(sandbox.addr()).await?;
        let path = format!(
            "/api/v1/namespaces/scale-{}/pods?watch=1&resourceVersion={}",
            i % namespaces,
            store.current_rv()
        );
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await?;
        let mut buf = [0u8; 256];
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
        open.push(s);
    }
    println!("{} watches open", open.len());
    tokio::time::sleep(Duration::from_secs(2)).await;
    for round in 0..3 {
        let t = Instant::now();
        let out = tokio::process::Command::new("/usr/bin/kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(["get", "pods", "-A", "--no-headers"])
            .output()
            .await?;
        let lines = String::from_utf8_lossy(&out.stdout).lines().count();
        println!(
            "kubectl get pods -A (round {round}): {lines} rows in {:?} (exit {})",
            t.elapsed(),
            out.status
        );
    }
    drop(open);
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

//! Persistence: a sandbox serving from a state directory in a separate process is killed
//! with SIGKILL during 200 concurrent writes and restarted on the same directory; every
//! acknowledged write is there, resourceVersions continue above the old ones, a Deployment
//! that was Ready stays Ready, and kubectl works against the restarted server.
//!
//! The server process is this test binary itself, re-run with `CHILD_STATE` set (see
//! `child_server`).

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD_STATE: &str = "KUBE_SANDBOX_PERSIST_CHILD_STATE";

/// Not a test on its own: serves a sandbox from `$CHILD_STATE` until killed.
#[test]
fn child_server() {
    let Some(dir) = std::env::var_os(CHILD_STATE).map(PathBuf::from) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sandbox = kube_sandbox::Sandbox::start(kube_sandbox::SandboxOptions {
            state_dir: Some(dir.join("state")),
            speed: 20.0,
            ..Default::default()
        })
        .await
        .expect("sandbox starts");
        sandbox
            .write_kubeconfig(&dir.join("kubeconfig"))
            .expect("kubeconfig");
        std::fs::write(dir.join("addr.tmp"), sandbox.addr().to_string()).expect("addr");
        std::fs::rename(dir.join("addr.tmp"), dir.join("addr")).expect("addr");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

/// The server process; killed (SIGKILL) and reaped when dropped.
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill(); // SIGKILL on Unix
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(dir: &Path) -> (Server, String) {
    let _ = std::fs::remove_file(dir.join("addr"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("child.log"))
        .expect("log");
    let mut child = Server(
        Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
            .env(CHILD_STATE, dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("child starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(addr) = std::fs::read_to_string(dir.join("addr")) {
            return (child, addr);
        }
        if Instant::now() > deadline {
            child.kill();
            panic!("the child did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A blocking HTTP/1.1 request: (status, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((status, rest.to_string()))
}

fn get(addr: &str, path: &str) -> (u16, Value) {
    let (code, body) = http(addr, "GET", path, "").expect("request");
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn deployment_ready(addr: &str) -> bool {
    let (code, d) = get(addr, "/apis/apps/v1/namespaces/default/deployments/web");
    code == 200 && d["status"]["readyReplicas"] == 2 && d["status"]["availableReplicas"] == 2
}

/// (name, restartCount, Ready) of the Deployment's pods.
fn pods(addr: &str) -> Vec<(String, i64, bool)> {
    let (_, list) = get(
        addr,
        "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb",
    );
    let mut out: Vec<_> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p["status"]["containerStatuses"][0]["restartCount"]
                    .as_i64()
                    .unwrap_or(-1),
                ready,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn kill_9_during_concurrent_writes_loses_no_acknowledged_write() {
    if std::env::var_os(CHILD_STATE).is_some() {
        return;
    }
    let dir =
        std::env::temp_dir().join(format!("kube-sandbox-persist-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (mut child, addr) = spawn(&dir);

    // A Deployment that becomes Ready before the crash.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example.com/web:1"}]}}}});
    let (code, body) = http(
        &addr,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        &deploy.to_string(),
    )
    .expect("create deployment");
    assert_eq!(code, 201, "{body}");
    wait_for("the Deployment to be ready", || deployment_ready(&addr));
    wait_for("both pods to be ready", || {
        let p = pods(&addr);
        p.len() == 2 && p.iter().all(|x| x.2)
    });
    let pods_before = pods(&addr);

    // 200 concurrent creates from 8 threads; SIGKILL once about half are acknowledged.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (addr, acked, count) = (addr.clone(), acked.clone(), count.clone());
            std::thread::spawn(move || {
                for i in 0..25 {
                    let name = format!("cm-{t}-{i}");
                    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name}, "data": {"n": format!("{t}/{i}")}});
                    match http(
                        &addr,
                        "POST",
                        "/api/v1/namespaces/default/configmaps",
                        &obj.to_string(),
                    ) {
                        Ok((code, body)) if (200..300).contains(&code) => {
                            let v: Value = serde_json::from_str(&body).expect("JSON");
                            acked.lock().unwrap().push((name, rv(&v)));
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok((code, body)) => panic!("unexpected answer {code}: {body}"),
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    wait_for("100 acknowledged writes", || {
        count.load(Ordering::SeqCst) >= 100
    });
    child.kill();
    for t in threads {
        t.join().expect("writer thread");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 100, "{}", acked.len());
    eprintln!("{} writes acknowledged before SIGKILL", acked.len());

    // Restart on the same directory.
    let (mut child, addr) = spawn(&dir);
    // Read at once, before the controllers could have rebuilt anything.
    assert!(
        deployment_ready(&addr),
        "the Deployment is Ready after the restart"
    );
    for (name, acked_rv) in &acked {
        let (code, cm) = get(
            &addr,
            &format!("/api/v1/namespaces/default/configmaps/{name}"),
        );
        assert_eq!(code, 200, "acknowledged ConfigMap {name} is missing");
        assert_eq!(rv(&cm), *acked_rv, "{name}");
    }
    let max_acked = acked.iter().map(|a| a.1).max().unwrap_or(0);
    let (code, body) = http(
        &addr,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"after-restart"}}"#,
    )
    .expect("create after restart");
    assert_eq!(code, 201, "{body}");
    let new_rv = rv(&serde_json::from_str(&body).expect("JSON"));
    assert!(new_rv > max_acked, "{new_rv} > {max_acked}");

    // The pods were re-adopted, not restarted: same names, restart counts, still Ready.
    assert_eq!(pods(&addr), pods_before);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(pods(&addr), pods_before);
    assert!(deployment_ready(&addr));

    // Real kubectl against the restarted server.
    let kubectl = |args: &[&str]| {
        let out = Command::new("/usr/bin/kubectl")
            .arg("--kubeconfig")
            .arg(dir.join("kubeconfig"))
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(args)
            .env("HOME", &dir)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let cms = kubectl(&["get", "configmaps", "-o", "name"]);
    for (name, _) in &acked {
        assert!(
            cms.contains(&format!("configmap/{name}\n")),
            "{name} in {cms}"
        );
    }
    let d = kubectl(&["get", "deployment", "web"]);
    assert!(d.contains("2/2"), "{d}");
    kubectl(&["rollout", "status", "deployment/web", "--timeout=20s"]);

    child.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_job_whose_pod_ran_when_the_sandbox_was_killed_completes_after_the_restart() {
    let dir = std::env::temp_dir().join(format!("kube-sandbox-job-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (mut child, addr) = spawn(&dir);
    // 60 simulated seconds at speed 20: 3 s of the test's time.
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"template": {
            "metadata": {"annotations": {"dev.slipway.sandbox/behavior": "complete-after=60s"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "registry.example.com/m:1"}]}}}});
    let (code, body) = http(
        &addr,
        "POST",
        "/apis/batch/v1/namespaces/default/jobs",
        &job.to_string(),
    )
    .expect("create");
    assert_eq!(code, 201, "{body}");
    wait_for("the job's pod running", || {
        let (_, list) = get(
            &addr,
            "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dmigrate",
        );
        list["items"][0]["status"]["containerStatuses"][0]["state"]["running"].is_object()
    });
    child.kill();
    let (mut child, _addr) = spawn(&dir);
    let out = Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args([
            "wait",
            "--for=condition=Complete",
            "job/migrate",
            "--timeout=20s",
        ])
        .env("HOME", &dir)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "the job did not complete: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "job.batch/migrate condition met"
    );
    child.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

//! Harness for the controller and node tests: a sandbox with a high speed factor, the real
//! kubectl as a child process, a real `docker-registry` with tiny images pushed over the
//! distribution API, and polling helpers with deadlines (never blind sleeps).

#![allow(dead_code)]

use kube_sandbox::store::ListOpts;
use kube_sandbox::{Sandbox, SandboxHandle, SandboxOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

pub const KUBECTL: &str = "/usr/bin/kubectl";

pub struct Env {
    pub sandbox: SandboxHandle,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "kubectl failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl Env {
    /// A sandbox whose simulated time runs `speed` times faster.
    pub async fn start(speed: f64) -> Env {
        Self::start_with(SandboxOptions {
            speed,
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(options: SandboxOptions) -> Env {
        let sandbox = Sandbox::start(options).await.expect("sandbox starts");
        let dir = std::env::temp_dir().join(format!(
            "kube-sandbox-ctl-{}-{}",
            std::process::id(),
            sandbox.addr().port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let kubeconfig = dir.join("kubeconfig");
        sandbox
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        Env {
            sandbox,
            dir,
            kubeconfig,
        }
    }

    pub async fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut c = tokio::process::Command::new(KUBECTL);
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .args(args)
            .env("HOME", &self.dir)
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = c.spawn().expect("kubectl runs");
        if let Some(s) = stdin {
            let mut w = child.stdin.take().expect("stdin");
            w.write_all(s.as_bytes()).await.expect("write stdin");
            drop(w);
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl finished within 60 s")
            .expect("kubectl output");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_in(args, None).await
    }

    pub async fn apply(&self, yaml: &str) -> Out {
        self.kubectl_in(&["apply", "-f", "-"], Some(yaml))
            .await
            .ok()
    }

    fn rt(&self, group: &str, resource: &str) -> kube_sandbox::resources::ResourceType {
        let version = if group == "autoscaling" { "v2" } else { "v1" };
        self.sandbox
            .store()
            .registry()
            .find(group, version, resource)
            .expect("served")
            .clone()
    }

    /// Objects of `group/resource` in `default`, straight from the store.
    pub fn list(&self, group: &str, resource: &str) -> Vec<Value> {
        let store = self.sandbox.store();
        let page = store
            .list(
                &self.rt(group, resource),
                Some("default"),
                &ListOpts::default(),
            )
            .expect("list");
        page.items.iter().map(|o| (**o).clone()).collect()
    }

    pub fn get(&self, group: &str, resource: &str, name: &str) -> Option<Value> {
        self.sandbox
            .store()
            .get(&self.rt(group, resource), "default", name)
            .ok()
    }

    pub fn pods(&self) -> Vec<Value> {
        self.list("", "pods")
    }

    /// Events of `default` about `name` (any kind), as (type, reason, message).
    pub fn events_for(&self, name: &str) -> Vec<(String, String, String)> {
        self.list("", "events")
            .into_iter()
            .filter(|e| e["involvedObject"]["name"] == name)
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (s("type"), s("reason"), s("message"))
            })
            .collect()
    }

    /// Polls until `f` returns `Some`, or panics with `what` after `secs` seconds.
    pub async fn until<T>(&self, secs: u64, what: &str, mut f: impl FnMut(&Env) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    pub fn store(&self) -> Arc<kube_sandbox::Store> {
        self.sandbox.store()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn container_state(pod: &Value) -> String {
    let s = &pod["status"]["containerStatuses"][0]["state"];
    s["waiting"]["reason"]
        .as_str()
        .or(s["terminated"]["reason"].as_str())
        .unwrap_or(if s["running"].is_object() {
            "Running"
        } else {
            ""
        })
        .to_string()
}

// ------------------------------------------------------------------ images

fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(host).expect("registry reachable");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, buf[end + 4..].to_vec())
}

fn digest(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn push_blob(host: &str, repo: &str, bytes: &[u8]) -> String {
    let d = digest(bytes);
    let (status, head, _) = http(
        host,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(status, 202, "upload start: {head}");
    let location = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .expect("Location header")
        .trim()
        .to_string();
    let path = location
        .split_once("://")
        .map(|(_, r)| &r[r.find('/').unwrap_or(0)..])
        .unwrap_or(&location)
        .to_string();
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, head, _) = http(
        host,
        "PUT",
        &format!("{path}{sep}digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    );
    assert_eq!(status, 201, "upload finish: {head}");
    d
}

/// Pushes a tiny image (one empty gzip layer) whose config carries the sandbox behaviour
/// label when given; returns `host/repo:tag`.
pub fn push_image(host: &str, repo: &str, tag: &str, behavior: Option<&str>) -> String {
    let labels = match behavior {
        Some(b) => json!({"dev.slipway.sandbox/behavior": b}),
        None => json!({}),
    };
    let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
        "config": {"Labels": labels, "Cmd": ["/app"]}, "rootfs": {"type": "layers", "diff_ids": []}}))
    .expect("config");
    let layer: &[u8] = &[
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let config_digest = push_blob(host, repo, &config);
    let layer_digest = push_blob(host, repo, layer);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    }))
    .expect("manifest");
    let (status, head, _) = http(
        host,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &manifest,
    );
    assert_eq!(status, 201, "manifest push: {head}");
    format!("{host}/{repo}:{tag}")
}

/// A Deployment manifest with one container.
pub fn deployment_yaml(
    name: &str,
    image: &str,
    replicas: i64,
    extra_spec: &str,
    container_extra: &str,
) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n{extra_spec}  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: {image}\n{container_extra}"
    )
}

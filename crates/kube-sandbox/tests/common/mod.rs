//! The one test harness of the sandbox's integration tests: a sandbox in-process, its
//! kubeconfig in a temporary directory, the real kubectl (or any other real client) as a
//! child process, raw HTTP requests, reads straight from the store, tiny images pushed to a
//! registry over the distribution API, and polling helpers with deadlines (never blind
//! sleeps).

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
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The real kubectl.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// How long a child process may run before the test gives up on it (a guard against a
/// hung client, not a measurement).
const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// A running sandbox with its kubeconfig in a temporary directory (removed on drop).
pub struct Env {
    pub sandbox: SandboxHandle,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

/// What a child process printed, and how it ended.
pub struct Out {
    /// The program and its arguments, for failure messages.
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts the process exited with 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "{} failed:\nstdout: {}\nstderr: {}",
            self.command, self.stdout, self.stderr
        );
        self
    }

    /// Stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `command` to completion, with `stdin` written to it when given.
pub async fn run(mut command: tokio::process::Command, stdin: Option<&str>) -> Out {
    let std = command.as_std();
    let described = std::iter::once(std.get_program())
        .chain(std.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{described} runs: {e}"));
    if let Some(s) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(s.as_bytes()).await.expect("write stdin");
        drop(w);
    }
    let out = tokio::time::timeout(CHILD_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{described} still running after {CHILD_DEADLINE:?}"))
        .expect("child output");
    Out {
        command: described,
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Env {
    /// A sandbox with the default options.
    pub async fn start() -> Env {
        Self::start_with(SandboxOptions::default()).await
    }

    /// A sandbox whose simulated time runs `speed` times faster.
    pub async fn with_speed(speed: f64) -> Env {
        Self::start_with(SandboxOptions {
            speed,
            ..Default::default()
        })
        .await
    }

    /// A sandbox started with `options`.
    pub async fn start_with(options: SandboxOptions) -> Env {
        let sandbox = Sandbox::start(options).await.expect("sandbox starts");
        let dir = std::env::temp_dir().join(format!(
            "kube-sandbox-test-{}-{}",
            std::process::id(),
            sandbox.addr().port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
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

    /// `dir/p` as a string.
    pub fn path(&self, p: &str) -> String {
        self.dir.join(p).to_string_lossy().into_owned()
    }

    /// A kubectl command against this sandbox (its own kubeconfig, cache and home), with
    /// piped output; for children the test reads while they run (`kubectl get -w`).
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(KUBECTL);
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .args(args)
            .env("HOME", &self.dir)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// Runs kubectl with `stdin` written to it when given.
    pub async fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Out {
        run(self.command(args), stdin).await
    }

    /// Runs kubectl.
    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_in(args, None).await
    }

    /// Runs kubectl with `input` on stdin (for `-f -`).
    pub async fn kubectl_stdin(&self, args: &[&str], input: &str) -> Out {
        self.kubectl_in(args, Some(input)).await
    }

    /// Runs kubectl with extra environment variables.
    pub async fn kubectl_env(&self, vars: &[(&str, &str)], args: &[&str]) -> Out {
        let mut c = self.command(args);
        c.envs(vars.iter().copied());
        run(c, None).await
    }

    /// `kubectl apply -f -` of `yaml`, which must succeed.
    pub async fn apply(&self, yaml: &str) -> Out {
        self.kubectl_in(&["apply", "-f", "-"], Some(yaml))
            .await
            .ok()
    }

    /// `kubectl <args> -o json`, which must succeed.
    pub async fn get_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        self.kubectl(&a).await.ok().json()
    }

    /// A raw HTTP request; returns (status, body).
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, String) {
        self.http_with(method, path, content_type, "", body).await
    }

    /// A raw HTTP request with extra header lines (each ending in CRLF).
    pub async fn http_with(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        headers: &str,
        body: &str,
    ) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(self.sandbox.addr())
            .await
            .expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n{headers}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read");
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        (status, body)
    }

    /// A raw `GET`; returns (status, body).
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        self.http("GET", path, "application/json", "").await
    }

    /// The in-process store.
    pub fn store(&self) -> Arc<kube_sandbox::Store> {
        self.sandbox.store()
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

    /// Objects of `group/resource` in namespace `ns`, straight from the store.
    pub fn list_in(&self, ns: &str, group: &str, resource: &str) -> Vec<Value> {
        let store = self.sandbox.store();
        let page = store
            .list(&self.rt(group, resource), Some(ns), &ListOpts::default())
            .expect("list");
        page.items.iter().map(|o| (**o).clone()).collect()
    }

    /// Objects of `group/resource` in `default`, straight from the store.
    pub fn list(&self, group: &str, resource: &str) -> Vec<Value> {
        self.list_in("default", group, resource)
    }

    /// One object of `group/resource` in namespace `ns` (`""` for cluster-scoped ones),
    /// straight from the store.
    pub fn get_in(&self, ns: &str, group: &str, resource: &str, name: &str) -> Option<Value> {
        self.sandbox
            .store()
            .get(&self.rt(group, resource), ns, name)
            .ok()
    }

    /// One object of `group/resource` in `default`, straight from the store.
    pub fn get(&self, group: &str, resource: &str, name: &str) -> Option<Value> {
        self.get_in("default", group, resource, name)
    }

    /// The pods of `default`.
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
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The state of a pod's first container: a waiting or terminated reason, or `Running`.
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

/// `sha256:<hex>` of `bytes`, as registries name blobs and manifests.
pub fn sha256(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

// ------------------------------------------------------------------ images

fn registry_http(
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

fn push_blob(host: &str, repo: &str, bytes: &[u8]) -> String {
    let d = sha256(bytes);
    let (status, head, _) = registry_http(
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
    let (status, head, _) = registry_http(
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
    let (status, head, _) = registry_http(
        host,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &manifest,
    );
    assert_eq!(status, 201, "manifest push: {head}");
    format!("{host}/{repo}:{tag}")
}

// ------------------------------------------------------------------ manifests

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

/// A Deployment, a Service and a ConfigMap labelled `app: web`.
pub const APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
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
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels: {app: web}
data:
  greeting: hello
"#;

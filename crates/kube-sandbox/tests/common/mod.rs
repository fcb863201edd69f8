//! Test harness: a sandbox in-process, its kubeconfig in a temporary directory, and the
//! real kubectl as a child process.

#![allow(dead_code)]

use kube_sandbox::{Sandbox, SandboxHandle, SandboxOptions};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    pub async fn start() -> Env {
        Self::start_with(SandboxOptions::default()).await
    }

    pub async fn start_with(options: SandboxOptions) -> Env {
        let sandbox = Sandbox::start(options).await.expect("sandbox starts");
        let dir = std::env::temp_dir().join(format!(
            "kube-sandbox-test-{}-{}",
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

    pub async fn kubectl(&self, args: &[&str]) -> Out {
        let out = self.command(args).output().await.expect("kubectl runs");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl with `input` on stdin (for `-f -`).
    pub async fn kubectl_stdin(&self, args: &[&str], input: &str) -> Out {
        let mut c = self.command(args);
        c.stdin(Stdio::piped());
        let mut child = c.spawn().expect("kubectl runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.as_bytes())
            .await
            .expect("write stdin");
        drop(stdin);
        let out = child.wait_with_output().await.expect("kubectl finishes");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

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

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        self.http("GET", path, "application/json", "").await
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

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

//! The project's sandbox through the binary: a taken registry port is named at once, and a
//! sandbox whose settings changed in `slipway.yaml` is restarted with its state; and
//! `slipway sandbox serve`'s ingress metrics flags.

mod common;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::sandbox::{Served, write_project};
use common::{Project, free_port, slipway, text};

/// A project `shop` whose `api` image lives in `repository`, with one sandbox environment.
fn project(repository: &str) -> Project {
    let dir = tempfile::tempdir().unwrap();
    write_project(
        dir.path(),
        "  dev:\n    cluster: sandbox\n    namespace: shop-dev\n",
        "ready",
    );
    set_repository(dir.path(), repository);
    Project { dir }
}

fn set_repository(root: &Path, repository: &str) {
    let config = root.join("slipway.yaml");
    let text = fs::read_to_string(&config).unwrap();
    let text = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("repository:") {
                format!("    repository: {repository}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(&config, text + "\n").unwrap();
}

/// GET /v2/ on `port` answers as a registry does.
fn registry_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.write_all(
        format!("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[test]
fn a_taken_registry_port_is_named_with_its_key_and_no_sandbox_is_started() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let project = project(&format!("127.0.0.1:{port}/shop/api"));

    let out = slipway(project.path(), &["status", "dev"]);
    let (code, stdout, stderr) = text(&out);
    assert_eq!(code, 7, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}"))
            && stderr.contains("images.api.repository")
            && stderr.contains("another process listens there"),
        "the port and its key are named:\n{stderr}"
    );
    assert!(
        !stderr.contains("started the sandbox"),
        "nothing is said to have started:\n{stderr}"
    );
    assert!(
        !project.kubeconfig().exists(),
        "no sandbox was left running"
    );
    drop(taken);
}

#[test]
fn a_sandbox_whose_registry_moved_is_restarted_with_its_state() {
    let project = project("registry.example.com/shop/api");
    let out = slipway(project.path(), &["status", "dev"]);
    let (code, stdout, stderr) = text(&out);
    assert!(
        stderr.contains("started the sandbox"),
        "rc {code}\n{stdout}\n{stderr}"
    );
    // Something to find again after the restart: the sandbox keeps its state.
    let created = project.kubectl(&["create", "namespace", "kept"]);
    assert!(created.status.success(), "{created:?}");

    // The repository moves to a loopback registry: the sandbox must now serve it.
    let port = free_port();
    set_repository(project.path(), &format!("127.0.0.1:{port}/shop/api"));
    assert!(!registry_answers(port));
    let out = slipway(project.path(), &["status", "dev"]);
    let (code, stdout, stderr) = text(&out);
    assert!(
        stderr.contains("restarting the sandbox cluster"),
        "rc {code}\n{stdout}\n{stderr}"
    );
    assert!(
        registry_answers(port),
        "the restarted sandbox serves the registry on {port}:\n{stderr}"
    );
    let kept = project.kubectl(&["get", "namespace", "kept", "-o", "name"]);
    assert_eq!(
        String::from_utf8_lossy(&kept.stdout).trim(),
        "namespace/kept",
        "{kept:?}"
    );

    // Unchanged settings: the same sandbox answers, nothing restarts.
    let out = slipway(project.path(), &["status", "dev"]);
    let (_, _, stderr) = text(&out);
    assert!(
        !stderr.contains("restarting") && !stderr.contains("started the sandbox"),
        "{stderr}"
    );
}

/// GET `path` on `addr` (`HOST:PORT`): the whole answer, status line and headers included.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the listener accepts");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// The first line of `log` (polled until `timeout`) that contains `needle`.
fn wait_for_line(log: &Path, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return Some(line.to_string());
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sandbox_serve_prints_its_ingress_metrics_url_and_serves_metrics_there() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        "metrics",
        &[
            "--ingress-metrics-listen",
            "127.0.0.1:0",
            "--ingress-rate",
            "5",
        ],
    );
    let log = dir.path().join("metrics.log");
    let line = wait_for_line(
        &log,
        "serving ingress traffic metrics",
        Duration::from_secs(10),
    )
    .unwrap_or_else(|| {
        panic!(
            "no metrics URL printed:\n{}",
            fs::read_to_string(&log).unwrap()
        )
    });
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').expect("a path"));
    assert_eq!(path, "/metrics", "{line}");
    let port: u16 = addr
        .strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a loopback address: {line}"));
    assert_ne!(port, 0, "{line}");
    let answer = http_get(addr, path);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("# TYPE nginx_ingress_controller_requests counter"),
        "{answer}"
    );
    drop(served);
}

#[test]
fn sandbox_serve_with_ingress_metrics_off_serves_none_and_refuses_a_bad_address() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "off", &["--ingress-metrics-listen", "off"]);
    served.kubectl(&["get", "namespaces"]);
    let log = fs::read_to_string(dir.path().join("off.log")).unwrap();
    assert!(log.contains("serving the Kubernetes API"), "{log}");
    assert!(!log.contains("ingress traffic metrics"), "{log}");
    drop(served);

    let out = slipway(
        dir.path(),
        &["sandbox", "serve", "--ingress-metrics-listen", "nowhere"],
    );
    let (code, _, stderr) = text(&out);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`--ingress-metrics-listen nowhere` is not an address"),
        "{stderr}"
    );
    // The environment variable stands in for the flag.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["sandbox", "serve"])
        .env("SLIPWAY_SANDBOX_INGRESS_METRICS_LISTEN", "elsewhere")
        .output()
        .unwrap();
    let (code, _, stderr) = text(&out);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`--ingress-metrics-listen elsewhere` is not an address"),
        "{stderr}"
    );
    let out = slipway(dir.path(), &["sandbox", "serve", "--ingress-rate", "NaN"]);
    let (code, _, stderr) = text(&out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`--ingress-rate NaN`"), "{stderr}");
}

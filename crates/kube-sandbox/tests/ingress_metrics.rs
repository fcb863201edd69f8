//! The simulated ingress traffic and its metrics endpoint, judged by a real Prometheus
//! (scraping it with a static config and answering PromQL), plus the Gateway API HTTPRoute
//! CRD fixture installed with real kubectl.
//!
//! The Prometheus test prints that it skipped and returns when `prometheus` is not on PATH
//! (`scripts/test.sh` installs it).

mod common;

use common::Env;
use kube_sandbox::SandboxOptions;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HTTPROUTE_CRD: &str = include_str!("fixtures/gateway-api/httproute-crd.yaml");

/// A Deployment (one pod, behaviour `behavior`) and a Service `name` on port 80.
fn app(name: &str, behavior: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations:
        dev.slipway.sandbox/behavior: "{behavior}"
    spec:
      containers:
      - name: app
        image: example.com/{name}:1
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
  - port: 80
    targetPort: 8080
"#
    )
}

/// An Ingress `name` for host `shop.example` path `/` to Service `service`, with extra
/// annotations (YAML lines at the annotations' indentation).
fn ingress(name: &str, service: &str, annotations: &str) -> String {
    format!(
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  annotations:
    example.com/owner: shop
{annotations}spec:
  ingressClassName: nginx
  rules:
  - host: shop.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {service}
            port:
              number: 80
"#
    )
}

/// Waits until Service `name` has a ready endpoint.
async fn ready(env: &Env, name: &str) {
    env.until(30, &format!("a ready endpoint of {name}"), |e| {
        let ep = e.get_in("default", "", "endpoints", name)?;
        ep["subsets"][0]["addresses"][0].is_object().then_some(())
    })
    .await;
}

/// A plain HTTP/1.1 GET (no authentication); returns (status, body).
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
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

/// The value of the sample of `name` whose label text contains every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn sandbox_options(rate: f64) -> SandboxOptions {
    SandboxOptions {
        ingress_metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ingress_rate: rate,
        ..Default::default()
    }
}

/// Stable `web` (`ready`) and canary `web-canary` (`errors=0.2,latency=300ms`) behind an
/// Ingress and a canary Ingress of weight `weight`.
async fn canary_release(env: &Env, weight: u32) {
    env.apply(&app("web", "ready")).await;
    env.apply(&app("web-canary", "errors=0.2,latency=300ms"))
        .await;
    ready(env, "web").await;
    ready(env, "web-canary").await;
    env.apply(&ingress("web", "web", "")).await;
    env.apply(&ingress(
        "web-canary",
        "web-canary",
        &format!(
            "    nginx.ingress.kubernetes.io/canary: \"true\"\n    nginx.ingress.kubernetes.io/canary-weight: \"{weight}\"\n"
        ),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_counts_requests_split_by_the_canary_weight() {
    let env = Env::start_with(sandbox_options(100.0)).await;
    let addr = env.sandbox.ingress_metrics_addr().expect("metrics served");
    assert_eq!(
        env.sandbox.ingress_metrics_url().unwrap(),
        format!("http://{addr}/metrics")
    );
    canary_release(&env, 20).await;
    // An Ingress whose Service has no ready pod: every request is a 503.
    env.apply(&app("dark", "never-ready")).await;
    env.apply(&ingress("dark", "dark", "").replace("shop.example", "dark.example"))
        .await;
    let text = env
        .until(30, "a thousand requests through the Ingress", |_| {
            let (code, text) = get(addr, "/metrics").ok()?;
            assert_eq!(code, 200);
            let total: f64 = text
                .lines()
                .filter(|l| {
                    l.starts_with("nginx_ingress_controller_requests{")
                        && l.contains("host=\"shop.example\"")
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            (total >= 1000.0).then_some(text)
        })
        .await;
    let name = "nginx_ingress_controller_requests";
    let common = [
        "namespace=\"default\"",
        "ingress=\"web\"",
        "service=\"web\"",
        "method=\"GET\"",
        "path=\"/\"",
        "host=\"shop.example\"",
        "controller_class=\"k8s.io/ingress-nginx\"",
        "controller_namespace=\"ingress-nginx\"",
        "controller_pod=\"ingress-nginx-controller-sandbox\"",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut v = common.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let stable_ok = sample(&text, name, &with(&["canary=\"\"", "status=\"200\""])).unwrap();
    assert_eq!(
        sample(&text, name, &with(&["canary=\"\"", "status=\"500\""])),
        None
    );
    let canary = "canary=\"default-web-canary-80\"";
    let canary_ok = sample(&text, name, &with(&[canary, "status=\"200\""])).unwrap();
    let canary_err = sample(&text, name, &with(&[canary, "status=\"500\""])).unwrap();
    let canary_total = canary_ok + canary_err;
    let all = stable_ok + canary_total;
    // The split and the errors are deterministic: exact to within a request or two (the
    // scrape may fall between the two backends' counters of one tick).
    assert!(
        (canary_total / all - 0.2).abs() < 0.01,
        "canary share {canary_total}/{all}"
    );
    assert!(
        (canary_err / canary_total - 0.2).abs() < 0.01,
        "canary errors {canary_err}/{canary_total}"
    );
    // The histogram: the canary's 300 ms land in the 0.5 bucket, not the 0.25 one.
    let h = "nginx_ingress_controller_request_duration_seconds_bucket";
    assert_eq!(
        sample(&text, h, &with(&[canary, "status=\"200\"", "le=\"0.25\""])),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, h, &with(&[canary, "status=\"200\"", "le=\"0.5\""])),
        Some(canary_ok)
    );
    assert_eq!(
        sample(
            &text,
            h,
            &with(&["canary=\"\"", "status=\"200\"", "le=\"0.005\""])
        ),
        Some(stable_ok)
    );
    let c = "nginx_ingress_controller_request_duration_seconds_count";
    assert_eq!(
        sample(&text, c, &with(&[canary, "status=\"500\""])),
        Some(canary_err)
    );
    assert!(text.contains("# TYPE nginx_ingress_controller_requests counter\n"));
    assert!(text.contains("# TYPE nginx_ingress_controller_request_duration_seconds histogram\n"));
    // No ready pod: 503.
    assert!(
        sample(
            &text,
            name,
            &["ingress=\"dark\"", "service=\"dark\"", "status=\"503\""]
        )
        .unwrap()
            > 0.0,
        "{text}"
    );
    // A deleted Ingress's series go, as ingress-nginx removes them.
    env.kubectl(&["delete", "ingress", "dark"]).await.ok();
    env.until(10, "the deleted Ingress's series gone", |_| {
        let (_, text) = get(addr, "/metrics").ok()?;
        (!text.contains("ingress=\"dark\"")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_httproute_fixture_installs_and_routes_split_by_weight() {
    let env = Env::start_with(sandbox_options(100.0)).await;
    let addr = env.sandbox.ingress_metrics_addr().unwrap();
    env.kubectl_stdin(&["apply", "-f", "-"], HTTPROUTE_CRD)
        .await
        .ok();
    env.until(10, "httproutes served", |e| {
        e.sandbox
            .store()
            .registry()
            .find("gateway.networking.k8s.io", "v1", "httproutes")
            .map(|_| ())
    })
    .await;
    env.apply(&app("api", "ready")).await;
    env.apply(&app("api-next", "errors=0.5")).await;
    ready(&env, "api").await;
    ready(&env, "api-next").await;
    env.apply(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: api
spec:
  parentRefs:
  - name: public
  hostnames: [api.example]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /v1}
    backendRefs:
    - name: api
      port: 80
      weight: 75
    - name: api-next
      port: 80
      weight: 25
"#,
    )
    .await;
    // Read back: the schema's defaults are filled in.
    let route = env.get_json(&["get", "httproute", "api"]).await;
    assert_eq!(route["spec"]["parentRefs"][0]["kind"], "Gateway");
    assert_eq!(
        route["spec"]["parentRefs"][0]["group"],
        "gateway.networking.k8s.io"
    );
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][1]["weight"], 25);
    assert_eq!(
        route["spec"]["rules"][0]["backendRefs"][1]["kind"],
        "Service"
    );
    let table = env.kubectl(&["get", "httproutes"]).await.ok();
    assert!(table.stdout.contains("api.example"), "{}", table.stdout);
    // The schema holds: a negative weight is refused.
    let bad = env
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: bad\nspec:\n  rules:\n  - backendRefs:\n    - name: api\n      weight: -1\n",
        )
        .await;
    assert_ne!(bad.code, 0, "{}", bad.stdout);

    let text = env
        .until(30, "400 requests down the route", |_| {
            let (_, text) = get(addr, "/metrics").ok()?;
            let n: f64 = text
                .lines()
                .filter(|l| {
                    l.starts_with("nginx_ingress_controller_requests{")
                        && l.contains("ingress=\"api\"")
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            (n >= 400.0).then_some(text)
        })
        .await;
    let name = "nginx_ingress_controller_requests";
    let route = [
        "controller_class=\"gateway.networking.k8s.io/sandbox\"",
        "ingress=\"api\"",
        "host=\"api.example\"",
        "path=\"/v1\"",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut v = route.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let stable = sample(&text, name, &with(&["service=\"api\"", "canary=\"\""])).unwrap();
    let next_ok = sample(
        &text,
        name,
        &with(&[
            "service=\"api-next\"",
            "canary=\"default-api-next-80\"",
            "status=\"200\"",
        ]),
    )
    .unwrap();
    let next_err = sample(
        &text,
        name,
        &with(&["service=\"api-next\"", "status=\"500\""]),
    )
    .unwrap();
    let next = next_ok + next_err;
    assert!(
        (next / (stable + next) - 0.25).abs() < 0.01,
        "{next} of {}",
        stable + next
    );
    assert!((next_err / next - 0.5).abs() < 0.02, "{next_err} of {next}");
}

/// The real Prometheus, killed when dropped (also when the test panics).
struct Prometheus {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    /// Starts `binary` scraping `target` (`host:port`) every second.
    fn start(binary: &PathBuf, target: SocketAddr) -> Prometheus {
        let dir = std::env::temp_dir().join(format!(
            "kube-sandbox-prometheus-{}-{}",
            std::process::id(),
            target.port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: ingress-nginx\n  static_configs:\n  - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Prometheus { child, dir, addr }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// The scalar result of an instant PromQL query, `None` while it has no sample.
    fn query(&self, promql: &str) -> Option<f64> {
        let q: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let (code, body) = get(self.addr, &format!("/api/v1/query?query={q}")).ok()?;
        assert_eq!(code, 200, "{promql}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{body}");
        let value = v["data"]["result"][0]["value"][1].as_str()?.parse().ok()?;
        Some(value).filter(|f: &f64| f.is_finite())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_sees_the_canary_error_ratio_and_share() {
    let Some(binary) = on_path("prometheus") else {
        eprintln!("SKIPPED: `prometheus` is not on PATH (scripts/test.sh installs it)");
        return;
    };
    let env = Env::start_with(sandbox_options(100.0)).await;
    let target = env.sandbox.ingress_metrics_addr().unwrap();
    canary_release(&env, 50).await;
    let prometheus = Prometheus::start(&binary, target);

    // The target is up (a stock static scrape config, no authentication).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if prometheus.query("up{job=\"ingress-nginx\"} == 1").is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped {target}:\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let canary_errors = "sum(rate(nginx_ingress_controller_requests{canary!=\"\",status=~\"5..\"}[10s])) / sum(rate(nginx_ingress_controller_requests{canary!=\"\"}[10s]))";
    let stable_errors = "sum(rate(nginx_ingress_controller_requests{canary=\"\",status=~\"5..\"}[10s])) or vector(0)";
    let stable_rate = "sum(rate(nginx_ingress_controller_requests{canary=\"\"}[10s]))";
    let canary_share = "sum(rate(nginx_ingress_controller_requests{canary!=\"\"}[10s])) / sum(rate(nginx_ingress_controller_requests[10s]))";
    let canary_p50 = "histogram_quantile(0.5, sum by (le) (rate(nginx_ingress_controller_request_duration_seconds_bucket{canary!=\"\"}[10s])))";
    // Wait for a window full of samples.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let samples = prometheus
            .query("count_over_time(nginx_ingress_controller_requests{canary!=\"\",status=\"200\"}[10s])")
            .unwrap_or(0.0);
        if samples >= 8.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "too few samples ({samples}):\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ratio = prometheus.query(canary_errors).expect(canary_errors);
    assert!((ratio - 0.2).abs() < 0.03, "canary error ratio {ratio}");
    let stable = prometheus.query(stable_errors).expect(stable_errors);
    assert_eq!(stable, 0.0, "stable errors");
    let stable_rps = prometheus.query(stable_rate).expect(stable_rate);
    assert!(stable_rps > 30.0, "stable requests per second {stable_rps}");
    let share = prometheus.query(canary_share).expect(canary_share);
    assert!((share - 0.5).abs() < 0.05, "canary share {share}");
    let p50 = prometheus.query(canary_p50).expect(canary_p50);
    assert!((0.25..=0.5).contains(&p50), "canary p50 {p50}");

    // The service proxy answers from the same pods, through real kubectl.
    let out = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/services/web:80/proxy/healthz",
        ])
        .await
        .ok();
    let body = out.json();
    assert_eq!(body["status"], 200);
    assert!(body["pod"].as_str().unwrap().starts_with("web-"));
    drop(prometheus);
}

//! Analysis checks through the binary, against the project's sandbox: an HTTP check
//! through the service proxy, a Job check and a Prometheus query (against a real
//! Prometheus scraping the sandbox's ingress metrics, when `prometheus` is installed)
//! abort a bad canary at its first step with all traffic back on the stable pods and
//! pass a good one; the failed check — its value, condition and time — is printed, in
//! the `-o json` events and in `slipway history`.

use std::fs;

mod common;

use common::SERIAL;
use common::sandbox::{DevProject, image};

/// 4: the release failed and the previous one was restored.
const ROLLED_BACK: i32 = 4;

/// A project whose Deployment `api` rolls out as an ingress-nginx canary of two steps,
/// with `checks` under `analysis:` (each line indented by eight spaces).
fn project(checks: &str) -> DevProject {
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "strategies:\n  api:\n    canary:\n      traffic: nginx\n      ingress: api\n      service: api\n      steps:\n        - {{ weight: 25, pause: 2s }}\n        - {{ weight: 50, pause: 2s }}\n      analysis:\n{checks}"
    ));
    fs::write(config, text).unwrap();
    fs::write(
        p.path().join("k8s/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: { app: api }\n  ports:\n    - { name: http, port: 80, targetPort: http }\n",
    )
    .unwrap();
    fs::write(
        p.path().join("k8s/ingress.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: api\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: shop.example\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: { name: api, port: { number: 80 } }\n",
    )
    .unwrap();
    p
}

fn deploy(p: &DevProject, n: u32) -> (i32, Vec<serde_json::Value>, String) {
    let out = p.slipway(&[
        "deploy",
        "dev",
        "-o",
        "json",
        "--image",
        &format!("api={}", image(n)),
    ]);
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.code().unwrap(),
        events,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn of_kind<'e>(events: &'e [serde_json::Value], kind: &str) -> Vec<&'e serde_json::Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

fn canary_objects(p: &DevProject) -> String {
    p.kubectl_get(
        &[
            "deployments,services,ingresses",
            "-l",
            "slipway.dev/canary-of",
        ],
        "{.items[*].metadata.name}",
    )
}

/// The images the pods of `shop-dev` that are not terminating run, one per pod, sorted.
fn pod_images(p: &DevProject) -> Vec<String> {
    let mut images: Vec<String> = p
        .kubectl_get(
            &["pods", "-l", "app=api"],
            "{range .items[*]}{.spec.containers[0].image} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
        )
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let image = w.next()?;
            w.next().is_none().then(|| image.to_owned())
        })
        .collect();
    images.sort();
    images
}

/// The failed check of an aborted release: exit code 4, one canary step, the `failed`
/// event naming the check, the canary's objects gone and the stable pods serving.
fn assert_aborted_by(
    p: &DevProject,
    result: &(i32, Vec<serde_json::Value>, String),
    check: &str,
    provider: &str,
) -> serde_json::Value {
    let (code, events, err) = result;
    assert_eq!(*code, ROLLED_BACK, "{err}");
    assert_eq!(of_kind(events, "canary-step").len(), 1, "{err}");
    let failed = of_kind(events, "failed");
    let failed = failed.first().unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(failed["reason"], "AnalysisFailed", "{failed}");
    let c = &failed["check"];
    assert_eq!(c["check"], check, "{failed}");
    assert_eq!(c["provider"], provider, "{failed}");
    assert_eq!(c["strategy"], "canary");
    assert_eq!(c["deployment"], "api");
    assert_eq!(c["phase"], "step 1/2 (25%)");
    assert!(c["time"].as_str().unwrap().ends_with('Z'), "{c}");
    assert!(
        err.contains(&format!(
            "check `{check}` ({provider}) of canary api, step 1/2 (25%): measured"
        )),
        "{err}"
    );
    assert!(
        err.contains("aborted: its objects were removed; all traffic is on the stable pods"),
        "{err}"
    );
    assert_eq!(canary_objects(p), "");
    assert_eq!(pod_images(p), [image(1), image(1)]);
    c.clone()
}

const HTTP_CHECK: &str = "        - name: health\n          http: { path: /healthz }\n";

#[test]
fn an_http_check_through_the_service_proxy_aborts_a_failing_canary_and_history_shows_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project(HTTP_CHECK);
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "a first install rolls as usual: {err}");

    // Every request the new pods answer fails.
    p.set_behavior("errors=1");
    let result = deploy(&p, 2);
    let c = assert_aborted_by(&p, &result, "health", "http");
    assert!(
        c["value"].as_str().unwrap().starts_with("status 500"),
        "{c}"
    );
    assert_eq!(c["condition"], "status 200");

    // `history` says which check failed the release, with what it measured and when.
    let out = p.slipway(&["history", "dev"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "failed check `health` (http) of canary api, step 1/2 (25%): measured status 500"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("at {}", c["time"].as_str().unwrap())),
        "{text}"
    );
    let out = p.slipway(&["history", "dev", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let releases = &json["namespaces"][0]["releases"];
    assert_eq!(releases[0]["status"], "rolled-back");
    assert_eq!(releases[0]["failed_check"], c);
    assert!(releases[1]["failed_check"].is_null(), "{json}");
}

#[test]
fn an_http_check_passes_a_healthy_canary_and_reports_each_measurement() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project(
        "        - name: health\n          http: { path: /healthz, json: '.status == 200' }\n          interval: 1s\n          count: 2\n",
    );
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");
    let (code, events, err) = deploy(&p, 2);
    assert_eq!(code, 0, "{err}");
    let measured = of_kind(&events, "analysis");
    assert_eq!(
        measured.len(),
        4,
        "two measurements at each of two steps: {measured:#?}"
    );
    assert!(
        measured.iter().all(|m| m["verdict"] == "passed"),
        "{measured:#?}"
    );
    assert_eq!(measured[0]["phase"], "step 1/2 (25%)");
    assert_eq!(measured[3]["phase"], "step 2/2 (50%)");
    assert!(
        err.contains("canary api step 1/2 (25%): http health [1/2] = status 200, .status = 200 (status 200 and .status == 200) ok"),
        "{err}"
    );
    assert_eq!(canary_objects(&p), "");
    assert_eq!(pod_images(&p), [image(2), image(2)]);
}

#[test]
fn a_job_check_aborts_when_its_job_fails_and_its_job_is_removed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p =
        project("        - name: smoke\n          job: { manifest: smoke.yaml, timeout: 30s }\n");
    let job = |behavior: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: smoke\nspec:\n  backoffLimit: 0\n  template:\n    metadata:\n      annotations: {{ dev.slipway.sandbox/behavior: \"{behavior}\" }}\n    spec:\n      restartPolicy: Never\n      containers:\n        - {{ name: smoke, image: registry.example.com/shop/smoke:1 }}\n"
        )
    };
    fs::write(p.path().join("smoke.yaml"), job("complete-after=1s")).unwrap();
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");
    // What a release interrupted while its check's Job ran leaves: the Job, running.
    let leftover = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: smoke-r9-s1-1\n  labels: { slipway.dev/analysis-of: api }\nspec:\n  template:\n    metadata:\n      annotations: { dev.slipway.sandbox/behavior: \"complete-after=600s\" }\n    spec:\n      restartPolicy: Never\n      containers: [{ name: smoke, image: registry.example.com/shop/smoke:1 }]\n";
    fs::write(p.path().join("leftover.yaml"), leftover).unwrap();
    let out = common::sandbox::kubectl(
        &p.kubeconfig(),
        &[
            "-n",
            "shop-dev",
            "apply",
            "-f",
            &p.path().join("leftover.yaml").display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A passing smoke test: the canary goes on to its second step and is promoted.
    let (code, events, err) = deploy(&p, 2);
    assert_eq!(code, 0, "{err}");
    let measured = of_kind(&events, "analysis");
    assert_eq!(measured.len(), 2, "{measured:#?}");
    assert!(
        measured[0]["value"]
            .as_str()
            .unwrap()
            .starts_with("Job smoke-r2-s1-1 succeeded"),
        "{measured:#?}"
    );

    fs::write(p.path().join("smoke.yaml"), job("exit=1")).unwrap();
    let result = deploy(&p, 3);
    let (code, ..) = &result;
    assert_eq!(*code, ROLLED_BACK, "{}", result.2);
    // The stable pods are those of the second release.
    let (_, events, err) = &result;
    assert_eq!(of_kind(events, "canary-step").len(), 1, "{err}");
    let failed = of_kind(events, "failed")[0];
    let c = &failed["check"];
    assert_eq!(
        (c["check"].as_str(), c["provider"].as_str()),
        (Some("smoke"), Some("job"))
    );
    assert!(
        c["value"]
            .as_str()
            .unwrap()
            .starts_with("Job smoke-r3-s1-1 failed"),
        "{c}"
    );
    assert_eq!(c["condition"], "the Job succeeds");
    assert_eq!(canary_objects(&p), "");
    assert_eq!(pod_images(&p), [image(2), image(2)]);
    // The check's Jobs are deleted once measured, and the one left behind is gone too.
    assert_eq!(
        p.kubectl_get(
            &["jobs", "-l", "slipway.dev/analysis-of=api"],
            "{.items[*].metadata.name}"
        ),
        ""
    );
}

#[test]
fn a_blue_green_preview_failing_its_pre_switch_check_never_gets_the_traffic() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(
        "strategies:\n  api:\n    blue-green:\n      service: api\n      pre-switch: 1s\n      scale-down-delay: 1s\n      pre-switch-analysis:\n        - name: preview-health\n          http: { path: /healthz }\n      post-switch-analysis:\n        - name: live-health\n          http: { service: api, path: /healthz }\n",
    );
    fs::write(config, text).unwrap();
    fs::write(
        p.path().join("k8s/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: { app: api }\n  ports:\n    - { name: http, port: 80, targetPort: http }\n",
    )
    .unwrap();
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");

    // A healthy new version passes both phases.
    let (code, events, err) = deploy(&p, 2);
    assert_eq!(code, 0, "{err}");
    let phases: Vec<(&str, &str)> = of_kind(&events, "analysis")
        .iter()
        .map(|m| (m["phase"].as_str().unwrap(), m["check"].as_str().unwrap()))
        .collect();
    assert_eq!(
        phases,
        [
            ("pre-switch", "preview-health"),
            ("post-switch", "live-health")
        ],
        "{err}"
    );

    p.set_behavior("errors=1");
    let (code, events, err) = deploy(&p, 3);
    assert_eq!(code, ROLLED_BACK, "{err}");
    assert!(of_kind(&events, "blue-green-switched").is_empty(), "{err}");
    let failed = of_kind(&events, "failed")[0];
    assert_eq!(failed["check"]["phase"], "pre-switch", "{failed}");
    assert_eq!(failed["check"]["strategy"], "blue-green");
    assert_eq!(failed["check"]["check"], "preview-health");
    assert!(
        err.contains(
            "check `preview-health` (http) of blue-green api, pre-switch: measured status 500"
        ),
        "{err}"
    );
    assert_eq!(pod_images(&p), [image(2), image(2)]);
}

/// A real Prometheus (the Debian `prometheus` binary) scraping `target` every second,
/// stopped when dropped.
struct Prometheus {
    child: std::process::Child,
    dir: tempfile::TempDir,
    address: String,
}

impl Prometheus {
    fn start(target: &str) -> Option<Prometheus> {
        let binary = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("prometheus"))
                .find(|p| p.is_file())
        })?;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: ingress-nginx\n  static_configs:\n  - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = std::process::Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Some(Prometheus {
            child,
            dir,
            address: format!("127.0.0.1:{port}"),
        })
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Whether an instant query (no characters that need escaping) has a sample.
    fn has_sample(&self, promql: &str) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.address) else {
            return false;
        };
        let request = format!(
            "GET /api/v1/query?query={promql} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        let mut answer = String::new();
        if stream.write_all(request.as_bytes()).is_err()
            || stream.read_to_string(&mut answer).is_err()
        {
            return false;
        }
        answer.starts_with("HTTP/1.1 200") && answer.contains("\"value\"")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The canary's success rate as ingress-nginx counts it: the requests its upstream
/// (`<namespace>-<service>-<port>`) answered without a 5xx, over all it answered.
const SUCCESS_RATE: &str = "        - name: success-rate\n          prometheus:\n            address: http://PROMETHEUS\n            query: >-\n              sum(rate(nginx_ingress_controller_requests{namespace=\"{{namespace}}\",canary=\"{{namespace}}-{{canary-service}}-80\",status!~\"5..\"}[4s]))\n              / sum(rate(nginx_ingress_controller_requests{namespace=\"{{namespace}}\",canary=\"{{namespace}}-{{canary-service}}-80\"}[4s]))\n            success: result >= 0.95\n          interval: 1s\n          count: 16\n          failure-limit: 8\n";

#[test]
fn a_prometheus_success_rate_aborts_a_canary_with_20_percent_errors_and_passes_a_healthy_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = project(SUCCESS_RATE);
    // The first deploy starts the project's sandbox: 40 requests a second down the
    // Ingress.
    let out = p
        .command(&["deploy", "dev", "--image", &format!("api={}", image(1))])
        .env("SLIPWAY_SANDBOX_INGRESS_RATE", "40")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = fs::read_to_string(p.path().join(".slipway/sandbox/state/ingress-metrics-url"))
        .expect("the sandbox serves its ingress metrics");
    let target = metrics
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let Some(prometheus) = Prometheus::start(&target) else {
        eprintln!("SKIPPED: `prometheus` is not on PATH (scripts/test.sh installs it)");
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !prometheus.has_sample("nginx_ingress_controller_requests") {
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus never scraped {target}:\n{}",
            prometheus.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let config = p.path().join("slipway.yaml");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("PROMETHEUS", &prometheus.address);
    fs::write(&config, text).unwrap();

    // One request in five the new pods answer fails.
    p.set_behavior("errors=0.2");
    let result = deploy(&p, 2);
    let c = assert_aborted_by(&p, &result, "success-rate", "prometheus");
    let value: f64 = c["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("a measured number: {c}"));
    assert!((0.6..0.95).contains(&value), "{c}");
    assert_eq!(c["condition"], "result >= 0.95");
    assert_eq!(c["failures"], 9);
    // The address of Prometheus is never printed.
    assert!(!result.2.contains(&prometheus.address), "{}", result.2);

    // A healthy version passes the same query at both steps.
    p.set_behavior("ready");
    let (code, events, err) = deploy(&p, 3);
    assert_eq!(code, 0, "{err}\n{}", prometheus.log());
    let passed: Vec<&str> = of_kind(&events, "analysis")
        .iter()
        .filter(|m| m["verdict"] == "passed")
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert!(passed.len() >= 16, "{err}");
    assert!(
        passed.iter().all(|v| v.parse::<f64>().unwrap() >= 0.95),
        "{passed:?}"
    );
    assert_eq!(canary_objects(&p), "");
    assert_eq!(pod_images(&p), [image(3), image(3)]);
}

#[test]
fn a_blue_green_failing_its_post_switch_check_switches_the_traffic_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = DevProject::new("\x20   timeout: 60s\n\x20   settle: 0s\n");
    let config = p.path().join("slipway.yaml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(
        "strategies:\n  api:\n    blue-green:\n      service: api\n      scale-down-delay: 1s\n      post-switch-analysis:\n        - name: live\n          http: { service: api, port: http, path: /orders }\n",
    );
    fs::write(config, text).unwrap();
    fs::write(
        p.path().join("k8s/service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: { app: api }\n  ports:\n    - { name: http, port: 80, targetPort: http }\n",
    )
    .unwrap();
    let (code, _, err) = deploy(&p, 1);
    assert_eq!(code, 0, "{err}");

    // Ready, so switched to; then every request under traffic fails.
    p.set_behavior("errors=1");
    let (code, events, err) = deploy(&p, 2);
    assert_eq!(code, ROLLED_BACK, "{err}");
    assert_eq!(of_kind(&events, "blue-green-switched").len(), 1, "{err}");
    let aborted = of_kind(&events, "blue-green-aborted");
    assert_eq!(aborted[0]["switched_back"], true, "{err}");
    let c = &of_kind(&events, "failed")[0]["check"];
    assert_eq!(
        (c["phase"].as_str(), c["check"].as_str()),
        (Some("post-switch"), Some("live"))
    );
    assert!(
        c["value"].as_str().unwrap().starts_with("status 500"),
        "{c}"
    );
    assert!(
        err.contains("check `live` (http) of blue-green api, post-switch"),
        "{err}"
    );
    assert_eq!(pod_images(&p), [image(1), image(1)]);
    assert_eq!(
        p.kubectl_get(&["service", "api"], "{.spec.selector}"),
        "{\"app\":\"api\"}"
    );
}

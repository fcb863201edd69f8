//! Analysis: the checks a canary's steps and a blue-green's phases run beside the
//! built-in ones (readiness, restarts, warning events of the new pods).
//!
//! Each check is measured `count` times, `interval` apart; more than `failure_limit`
//! failed measurements fail it, and the first failing check fails the phase (the others
//! stop). A measurement is one of:
//! - Prometheus: an instant query (`/api/v1/query`); each sample of a vector, or the
//!   scalar, is checked against `success` (every sample meets it) and `failure` (no
//!   sample meets it). An empty result, or only `NaN` samples (a ratio of no requests),
//!   is *no data*: a failed measurement under `no-data: fail` (the default), a passed
//!   one, said so, under `no-data: pass`;
//! - HTTP: a GET through the API server's service proxy, with slipway's own cluster
//!   client and credentials: the status must be the expected one and, with a JSON
//!   condition, the body must meet it;
//! - Job: a Job run to completion as hooks run theirs, then deleted.
//!
//! Every measurement is reported ([`Event::Measured`]); a failed check becomes a
//! [`Diagnosis`] carrying the [`FailedCheck`], which the release's record keeps.
//!
//! Secrets never leave this module: a bearer token is read when a query is sent, and
//! neither it nor the address of Prometheus (which may hold credentials) is reported.

use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use jiff::Timestamp;
use serde_json::{Value, json};
use slipway_config::analysis::{Condition, fill_placeholders};
use slipway_config::{Address, HttpCheck, NoData, PrometheusCheck, SecretSource};

use super::{Event, hooks};
use crate::cluster::{Cluster, object_name};
use crate::record::FailedCheck;
use crate::track::{self, Diagnosis, Progress, TrackOptions, Workload};

/// One check, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub provider: Provider,
    pub interval: Duration,
    pub count: u32,
    pub failure_limit: u32,
    pub no_data: NoData,
}

/// What a check measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Prometheus(PrometheusCheck),
    Http(HttpCheck),
    /// A Job manifest (labelled as an object of the release) that must succeed within
    /// `timeout`.
    Job {
        job: Value,
        timeout: Duration,
    },
}

impl Provider {
    pub fn kind(&self) -> &'static str {
        match self {
            Provider::Prometheus(_) => "prometheus",
            Provider::Http(_) => "http",
            Provider::Job { .. } => "job",
        }
    }
}

/// What the checks of one phase look at: the names their placeholders and defaults
/// stand for, and where the phase is.
#[derive(Debug, Clone)]
pub(super) struct Subject {
    /// `canary` or `blue-green`.
    pub strategy: &'static str,
    /// The Deployment rolled out.
    pub deployment: String,
    /// `step 1/3 (10%)`, `pre-switch`, `post-switch`.
    pub phase: String,
    /// A short form of the phase for Job names: `s1`, `pre`, `post`.
    pub phase_tag: String,
    pub namespace: String,
    /// The stable (or active) Service, when there is one.
    pub service: Option<String>,
    /// `<deployment>-canary` or `<deployment>-preview`.
    pub canary_deployment: String,
    /// The Service that selects only the new pods, when there is one: the default target
    /// of an HTTP check.
    pub canary_service: Option<String>,
    /// The release's revision, for Job names.
    pub revision: u64,
}

impl Subject {
    fn placeholder(&self, name: &str) -> Option<String> {
        match name {
            "namespace" => Some(self.namespace.clone()),
            "deployment" => Some(self.deployment.clone()),
            "service" => self.service.clone(),
            "canary-deployment" => Some(self.canary_deployment.clone()),
            "canary-service" => self.canary_service.clone(),
            _ => None,
        }
    }

    fn fill(&self, text: &str) -> String {
        fill_placeholders(text, |n| self.placeholder(n))
    }
}

/// How one measurement went, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// No data, counted as passed under `no-data: pass`.
    NoDataPassed,
    /// Failed, within the check's `failure-limit`.
    Tolerated {
        failures: u32,
        limit: u32,
    },
    Failed,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Passed => "ok",
            Verdict::NoDataPassed => "no data, passed (no-data: pass)",
            Verdict::Tolerated { .. } => "failed, tolerated",
            Verdict::Failed => "failed",
        }
    }
}

/// One measurement of a check, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub strategy: &'static str,
    pub deployment: String,
    pub phase: String,
    pub check: String,
    pub provider: &'static str,
    /// 1-based, of `count`.
    pub measurement: u32,
    pub count: u32,
    pub value: String,
    pub condition: String,
    pub verdict: Verdict,
    /// RFC 3339 UTC.
    pub time: String,
}

/// What one measurement found.
#[derive(Debug, Clone, PartialEq)]
struct Found {
    value: String,
    condition: String,
    /// `None`: no data.
    ok: Option<bool>,
}

/// Runs the checks of one phase side by side.
///
/// # Errors
///
/// The diagnosis of the first check that failed, naming it, its value, its condition
/// and the time.
pub(super) async fn run(
    cluster: &Arc<Cluster>,
    checks: &[Check],
    subject: &Subject,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    if checks.is_empty() {
        return Ok(());
    }
    let client = http_client();
    try_join_all(
        checks
            .iter()
            .map(|c| run_check(cluster, &client, c, subject, report)),
    )
    .await
    .map(|_| ())
}

async fn run_check(
    cluster: &Arc<Cluster>,
    client: &reqwest::Client,
    check: &Check,
    subject: &Subject,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let mut failures = 0;
    for i in 0..check.count {
        if i > 0 {
            tokio::time::sleep(check.interval).await;
        }
        let found = measure(cluster, client, check, subject, i + 1, report).await;
        let time = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let verdict = judge(found.ok, check, &mut failures);
        report(Event::Measured(Measured {
            strategy: subject.strategy,
            deployment: subject.deployment.clone(),
            phase: subject.phase.clone(),
            check: check.name.clone(),
            provider: check.provider.kind(),
            measurement: i + 1,
            count: check.count,
            value: found.value.clone(),
            condition: found.condition.clone(),
            verdict: verdict.clone(),
            time: time.clone(),
        }));
        if verdict == Verdict::Failed {
            let failed = FailedCheck {
                deployment: subject.deployment.clone(),
                strategy: subject.strategy.into(),
                phase: subject.phase.clone(),
                check: check.name.clone(),
                provider: check.provider.kind().into(),
                value: found.value,
                condition: found.condition,
                time,
                failures,
                failure_limit: check.failure_limit,
            };
            return Err(Box::new(Diagnosis {
                workload: format!("deployment/{}", subject.canary_deployment),
                reason: "AnalysisFailed".into(),
                message: format!(
                    "{} check `{}` measured {}, needs {} (at {})",
                    failed.provider, failed.check, failed.value, failed.condition, failed.time
                ),
                pod: None,
                container: None,
                events: vec![],
                logs: vec![],
                check: Some(Box::new(failed)),
            }));
        }
    }
    Ok(())
}

/// The verdict of a measurement that found `ok` (`None`: no data), counting it in
/// `failures` when it failed.
fn judge(ok: Option<bool>, check: &Check, failures: &mut u32) -> Verdict {
    let passed = ok.unwrap_or(check.no_data == NoData::Pass);
    if passed {
        return if ok.is_none() {
            Verdict::NoDataPassed
        } else {
            Verdict::Passed
        };
    }
    *failures += 1;
    if *failures <= check.failure_limit {
        Verdict::Tolerated {
            failures: *failures,
            limit: check.failure_limit,
        }
    } else {
        Verdict::Failed
    }
}

async fn measure(
    cluster: &Arc<Cluster>,
    client: &reqwest::Client,
    check: &Check,
    subject: &Subject,
    n: u32,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Found {
    match &check.provider {
        Provider::Prometheus(p) => prometheus(client, p, subject).await,
        Provider::Http(h) => http(cluster, h, subject).await,
        Provider::Job { job, timeout } => {
            run_job(cluster, &check.name, job, *timeout, subject, n, report).await
        }
    }
}

fn http_client() -> reqwest::Client {
    // The same TLS provider as the cluster's client, whichever is made first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// The built-in checks of `workload` — ready within the release's time budget, then no
/// restart, still ready and no warning event ([`super::warnings`]) for `options.settle`
/// — with `checks` measured beside them once its pods are ready. The phase lasts as
/// long as the longer of the two.
///
/// # Errors
///
/// The diagnosis of the first check, built-in or not, that failed.
pub(super) async fn watch(
    cluster: &Arc<Cluster>,
    workload: &Workload,
    options: &TrackOptions,
    checks: &[Check],
    subject: &Subject,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let progress = |p: &Progress| report(Event::Progress(p.clone()));
    let ns = &workload.namespace;
    let workloads = std::slice::from_ref(workload);
    let ready = TrackOptions {
        settle: Duration::ZERO,
        ..options.clone()
    };
    track::track(cluster, ns, workloads, &ready, &progress).await?;
    let ready_at = Timestamp::now();
    let watched = track::track(cluster, ns, workloads, options, &progress);
    let analysed = run(cluster, checks, subject, report);
    let phase = async { tokio::try_join!(watched, analysed).map(|_| ()) };
    tokio::select! {
        result = phase => result,
        warning = super::warnings::first(cluster, workload, ready_at) => Err(warning),
    }
}

// ---- Prometheus ----------------------------------------------------------------------

/// The conditions of a Prometheus check as one text: `result >= 0.95`,
/// `not result > 0.05`, or both joined by `and`.
fn prometheus_condition(p: &PrometheusCheck) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &p.success {
        parts.push(s.to_string());
    }
    if let Some(f) = &p.failure {
        parts.push(format!("not {f}"));
    }
    parts.join(" and ")
}

async fn prometheus(client: &reqwest::Client, p: &PrometheusCheck, subject: &Subject) -> Found {
    let condition = prometheus_condition(p);
    let error = |value: String| Found {
        value,
        condition: condition.clone(),
        ok: Some(false),
    };
    let address = match &p.address {
        Address::Url(url) => url.clone(),
        Address::Env(name) => match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => v.trim().trim_end_matches('/').to_owned(),
            _ => {
                return error(format!(
                    "error: the environment variable `{name}` holding the address of Prometheus is not set"
                ));
            }
        },
    };
    let mut request = client
        .get(format!("{address}/api/v1/query"))
        .query(&[("query", subject.fill(&p.query))]);
    match token(p.token.as_ref()) {
        Ok(Some(token)) => request = request.bearer_auth(token),
        Ok(None) => {}
        Err(e) => return error(format!("error: {e}")),
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return error(format!("error: Prometheus unreachable: {}", causes(e)));
        }
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return error(format!("error: reading Prometheus's answer: {}", causes(e)));
        }
    };
    match evaluate_query_response(status.as_u16(), &body, p) {
        Ok(found) => found,
        Err(e) => error(format!("error: {e}")),
    }
}

/// An HTTP client error with its causes, without the URL (which may hold credentials).
fn causes(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The bearer token, read now from its variable or file.
fn token(source: Option<&SecretSource>) -> Result<Option<String>, String> {
    let Some(source) = source else {
        return Ok(None);
    };
    let token = match source {
        SecretSource::Env(name) => std::env::var(name).map_err(|_| {
            format!("the environment variable `{name}` holding the token is not set")
        })?,
        SecretSource::File(path) => {
            let path = match path.to_str().and_then(|p| p.strip_prefix("~/")) {
                Some(rest) => std::env::var_os("HOME")
                    .map(|h| std::path::PathBuf::from(h).join(rest))
                    .unwrap_or_else(|| path.clone()),
                None => path.clone(),
            };
            std::fs::read_to_string(&path)
                .map_err(|e| format!("reading the token file `{}`: {e}", path.display()))?
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    Ok(Some(token))
}

/// Reads an answer of `/api/v1/query` and checks it: each sample of a vector, or the
/// scalar, against the check's conditions.
fn evaluate_query_response(status: u16, body: &[u8], p: &PrometheusCheck) -> Result<Found, String> {
    let condition = prometheus_condition(p);
    let answer: Value = serde_json::from_slice(body).map_err(|_| {
        format!("Prometheus answered {status} with a body that is not JSON (is the address the Prometheus HTTP API?)")
    })?;
    if answer["status"] != "success" {
        return Err(format!(
            "Prometheus refused the query ({status}): {}: {}",
            answer["errorType"].as_str().unwrap_or("error"),
            answer["error"].as_str().unwrap_or("no message")
        ));
    }
    let data = &answer["data"];
    let samples: Vec<(String, f64)> = match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .map(|r| r.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| Ok((labels(&s["metric"]), sample_value(&s["value"])?)))
            .collect::<Result<_, String>>()?,
        Some("scalar") => vec![(String::new(), sample_value(&data["result"])?)],
        Some("matrix") => {
            return Err("the query returns a range vector: write an instant query (e.g. `sum(rate(x[1m]))`, not `x[1m]`)".into());
        }
        other => {
            return Err(format!(
                "Prometheus returned a result of type `{}`, not a vector or a scalar",
                other.unwrap_or("none")
            ));
        }
    };
    let samples: Vec<(String, f64)> = samples.into_iter().filter(|(_, v)| !v.is_nan()).collect();
    if samples.is_empty() {
        return Ok(Found {
            value: "no data".into(),
            condition,
            ok: None,
        });
    }
    let meets = |v: f64| {
        p.success.as_ref().is_none_or(|c: &Condition| c.holds(v))
            && !p.failure.as_ref().is_some_and(|c: &Condition| c.holds(v))
    };
    let show = |(labels, v): &(String, f64)| {
        if samples.len() > 1 && !labels.is_empty() {
            format!("{} {labels}", number(*v))
        } else {
            number(*v)
        }
    };
    let failing: Vec<&(String, f64)> = samples.iter().filter(|(_, v)| !meets(*v)).collect();
    let (value, ok) = match failing.first() {
        Some(first) => (show(first), false),
        None => {
            let shown: Vec<String> = samples.iter().take(3).map(show).collect();
            let more = if samples.len() > 3 {
                format!(" (and {} more)", samples.len() - 3)
            } else {
                String::new()
            };
            (format!("{}{more}", shown.join(", ")), true)
        }
    };
    Ok(Found {
        value,
        condition,
        ok: Some(ok),
    })
}

/// `[<time>, "<value>"]` → the value.
fn sample_value(v: &Value) -> Result<f64, String> {
    let text = v[1].as_str().ok_or("a sample without a value")?;
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        t => t
            .parse()
            .map_err(|_| format!("the sample value `{t}` is not a number")),
    }
}

/// `{a="1",b="2"}`, or nothing for a sample without labels.
fn labels(metric: &Value) -> String {
    let Some(m) = metric.as_object().filter(|m| !m.is_empty()) else {
        return String::new();
    };
    let pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// A measured number, short: `0.998`, `12`, `0.0001234`.
fn number(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    if text == "0" || text == "-0" {
        format!("{v:e}")
    } else {
        text
    }
}

// ---- HTTP through the service proxy ---------------------------------------------------

/// The API server's path of the service proxy for the check.
fn proxy_path(h: &HttpCheck, subject: &Subject, port: Option<&str>) -> Option<String> {
    let service = h
        .service
        .clone()
        .or_else(|| subject.canary_service.clone())?;
    let target = match port {
        Some(p) => format!("{service}:{p}"),
        None => service,
    };
    Some(format!(
        "/api/v1/namespaces/{}/services/{target}/proxy{}",
        subject.namespace,
        subject.fill(&h.path)
    ))
}

fn http_condition(h: &HttpCheck) -> String {
    match &h.json {
        Some(j) => format!("status {} and {}", h.status, j.text),
        None => format!("status {}", h.status),
    }
}

async fn http(cluster: &Arc<Cluster>, h: &HttpCheck, subject: &Subject) -> Found {
    let condition = http_condition(h);
    let error = |value: String| Found {
        value,
        condition: condition.clone(),
        ok: Some(false),
    };
    // Without a port, the Service's first port.
    let port = match &h.port {
        Some(p) => Some(p.clone()),
        None => {
            let service = h.service.clone().or_else(|| subject.canary_service.clone());
            match service {
                Some(s) => cluster
                    .get("v1", "Service", &subject.namespace, &s)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|svc| {
                        svc.pointer("/spec/ports/0/port")
                            .and_then(Value::as_u64)
                            .map(|p| p.to_string())
                    }),
                None => None,
            }
        }
    };
    let Some(path) = proxy_path(h, subject, port.as_deref()) else {
        return error("error: no Service to ask".into());
    };
    // Ready pods become endpoints a moment later: the API server's own "no endpoints
    // available" is asked again for a while before it counts.
    let deadline = tokio::time::Instant::now() + ENDPOINTS_WAIT;
    let (status, body) = loop {
        let request = match http::Request::get(path.as_str()).body(kube::client::Body::empty()) {
            Ok(r) => r,
            Err(e) => return error(format!("error: {e}")),
        };
        let response = match cluster.client().send(request).await {
            Ok(r) => r,
            Err(e) => return error(format!("error: {e}")),
        };
        let status = response.status().as_u16();
        let body = match response.into_body().collect_bytes().await {
            Ok(b) => b,
            Err(e) => return error(format!("status {status}, error reading the body: {e}")),
        };
        if !no_endpoints_yet(status, &body) || tokio::time::Instant::now() >= deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (value, ok) = evaluate_http(status, &body, h);
    Found {
        value,
        condition,
        ok: Some(ok),
    }
}

/// How long an HTTP check waits for the Service's endpoints once the pods are ready.
const ENDPOINTS_WAIT: Duration = Duration::from_secs(15);

/// Whether an answer is the API server's own `503` for a Service without ready endpoints
/// (a Status), not the app's.
fn no_endpoints_yet(status: u16, body: &[u8]) -> bool {
    status == 503
        && serde_json::from_slice::<Value>(body).is_ok_and(|v| {
            v["kind"] == "Status"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("no endpoints available"))
        })
}

/// Checks an answer's status and body: the value shown is the status, and with a JSON
/// condition, what the path found.
fn evaluate_http(status: u16, body: &[u8], h: &HttpCheck) -> (String, bool) {
    if status != h.status {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let excerpt: String = text.chars().take(120).collect();
        let more = if text.chars().count() > 120 {
            "…"
        } else {
            ""
        };
        return if excerpt.is_empty() {
            (format!("status {status}"), false)
        } else {
            (format!("status {status} ({excerpt}{more})"), false)
        };
    }
    let Some(json) = &h.json else {
        return (format!("status {status}"), true);
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return (format!("status {status}, a body that is not JSON"), false);
    };
    let found = json.find(&body);
    let shown = found.map_or_else(|| "nothing".to_owned(), Value::to_string);
    let path = json
        .text
        .split([' ', '=', '!', '<', '>'])
        .next()
        .unwrap_or("");
    (
        format!("status {status}, {path} = {shown}"),
        json.holds(found),
    )
}

// ---- Jobs -----------------------------------------------------------------------------

/// The label on an analysis Job, naming the Deployment it checks.
pub const ANALYSIS_OF: &str = "slipway.dev/analysis-of";

/// Deletes the Jobs of `checks` an interrupted or killed release left for `deployment`
/// (a finished measurement deletes its own); nothing is asked of the cluster when no
/// check runs a Job.
pub(super) async fn remove_jobs(
    cluster: &Arc<Cluster>,
    ns: &str,
    deployment: &str,
    checks: &[&Check],
) -> Result<(), crate::cluster::ClusterError> {
    if !checks
        .iter()
        .any(|c| matches!(c.provider, Provider::Job { .. }))
    {
        return Ok(());
    }
    let jobs = cluster
        .list(
            "batch/v1",
            "Job",
            ns,
            &format!("{ANALYSIS_OF}={deployment}"),
        )
        .await?;
    for job in &jobs {
        if let Some(name) = object_name(job) {
            cluster.delete("batch/v1", "Job", ns, name).await?;
        }
    }
    Ok(())
}

/// Runs the check's Job to completion (as a hook runs its own), then deletes it.
async fn run_job(
    cluster: &Arc<Cluster>,
    check: &str,
    job: &Value,
    timeout: Duration,
    subject: &Subject,
    n: u32,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Found {
    let condition = "the Job succeeds".to_owned();
    let mut job = job.clone();
    let base = object_name(&job).unwrap_or(check).to_owned();
    let suffix = format!("-r{}-{}-{n}", subject.revision, subject.phase_tag);
    let keep = 63usize.saturating_sub(suffix.len());
    let base: String = base.chars().take(keep).collect();
    let name = format!("{}{suffix}", base.trim_end_matches('-'));
    job["metadata"]["name"] = json!(name);
    job["metadata"]["namespace"] = json!(subject.namespace);
    job["metadata"]["labels"][ANALYSIS_OF] = json!(subject.deployment);
    let ns = &subject.namespace;
    let (result, logs) = hooks::run_job(cluster, ns, &job, timeout, report).await;
    let _ = cluster.delete("batch/v1", "Job", ns, &name).await;
    match result {
        Ok(()) => Found {
            value: format!("Job {name} succeeded"),
            condition,
            ok: Some(true),
        },
        Err(d) => {
            let last = logs
                .last()
                .map(|l| format!("; last log line: {l}"))
                .unwrap_or_default();
            Found {
                value: format!("Job {name} failed: {}: {}{last}", d.reason, d.message),
                condition,
                ok: Some(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_config::analysis::JsonCondition;

    fn prom(success: Option<&str>, failure: Option<&str>) -> PrometheusCheck {
        PrometheusCheck {
            address: Address::Url("http://p".into()),
            query: "up".into(),
            success: success.map(|s| Condition::parse(s).unwrap()),
            failure: failure.map(|s| Condition::parse(s).unwrap()),
            token: None,
        }
    }

    fn vector(samples: &[(&str, &str)]) -> Vec<u8> {
        let result: Vec<Value> = samples
            .iter()
            .map(|(pod, v)| json!({"metric": if pod.is_empty() { json!({}) } else { json!({"pod": pod}) }, "value": [1.0, v]}))
            .collect();
        serde_json::to_vec(
            &json!({"status": "success", "data": {"resultType": "vector", "result": result}}),
        )
        .unwrap()
    }

    #[test]
    fn a_vector_passes_when_every_sample_meets_the_conditions() {
        let p = prom(Some("result >= 0.95"), None);
        let found = evaluate_query_response(200, &vector(&[("", "0.998")]), &p).unwrap();
        assert_eq!(
            found,
            Found {
                value: "0.998".into(),
                condition: "result >= 0.95".into(),
                ok: Some(true)
            }
        );
        let found =
            evaluate_query_response(200, &vector(&[("a", "0.99"), ("b", "0.81")]), &p).unwrap();
        assert_eq!(found.value, "0.81 {pod=\"b\"}");
        assert_eq!(found.ok, Some(false));
        let p = prom(Some("result >= 0.95"), Some("result > 0.999"));
        let found = evaluate_query_response(200, &vector(&[("", "1")]), &p).unwrap();
        assert_eq!(
            (found.value.as_str(), found.condition.as_str(), found.ok),
            ("1", "result >= 0.95 and not result > 0.999", Some(false))
        );
    }

    #[test]
    fn no_samples_or_nan_is_no_data_never_a_pass() {
        let p = prom(None, Some("result > 0.05"));
        for body in [vector(&[]), vector(&[("", "NaN")])] {
            let found = evaluate_query_response(200, &body, &p).unwrap();
            assert_eq!((found.value.as_str(), found.ok), ("no data", None));
        }
    }

    #[test]
    fn scalars_errors_and_range_vectors() {
        let p = prom(Some("result < 300"), None);
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"120.5"]}}"#;
        let found = evaluate_query_response(200, scalar, &p).unwrap();
        assert_eq!((found.value.as_str(), found.ok), ("120.5", Some(true)));
        let refused =
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#;
        assert_eq!(
            evaluate_query_response(400, refused, &p).unwrap_err(),
            "Prometheus refused the query (400): bad_data: parse error at char 4"
        );
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(
            evaluate_query_response(200, matrix, &p)
                .unwrap_err()
                .contains("range vector")
        );
        assert!(
            evaluate_query_response(502, b"<html>", &p)
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn no_data_fails_unless_told_and_failures_are_tolerated_up_to_the_limit() {
        let mut check = Check {
            name: "rate".into(),
            provider: Provider::Prometheus(prom(Some("result > 0"), None)),
            interval: Duration::from_secs(1),
            count: 4,
            failure_limit: 1,
            no_data: NoData::Fail,
        };
        let mut failures = 0;
        assert_eq!(judge(Some(true), &check, &mut failures), Verdict::Passed);
        assert_eq!(
            judge(None, &check, &mut failures),
            Verdict::Tolerated {
                failures: 1,
                limit: 1
            }
        );
        assert_eq!(judge(Some(false), &check, &mut failures), Verdict::Failed);
        assert_eq!(failures, 2);
        check.no_data = NoData::Pass;
        let mut failures = 0;
        assert_eq!(judge(None, &check, &mut failures), Verdict::NoDataPassed);
        assert_eq!(failures, 0);
    }

    #[test]
    fn numbers_are_shown_short() {
        assert_eq!(number(0.99812345), "0.9981");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.00001234), "1.234e-5");
        assert_eq!(number(f64::INFINITY), "+Inf");
    }

    fn subject() -> Subject {
        Subject {
            strategy: "canary",
            deployment: "api".into(),
            phase: "step 1/2 (25%)".into(),
            phase_tag: "s1".into(),
            namespace: "shop".into(),
            service: Some("api".into()),
            canary_deployment: "api-canary".into(),
            canary_service: Some("api-canary".into()),
            revision: 3,
        }
    }

    #[test]
    fn an_http_check_asks_the_service_proxy_and_checks_status_and_body() {
        let mut h = HttpCheck {
            service: None,
            port: None,
            path: "/healthz/{{deployment}}".into(),
            status: 200,
            json: None,
        };
        assert_eq!(
            proxy_path(&h, &subject(), Some("80")).unwrap(),
            "/api/v1/namespaces/shop/services/api-canary:80/proxy/healthz/api"
        );
        h.service = Some("other".into());
        assert_eq!(
            proxy_path(&h, &subject(), None).unwrap(),
            "/api/v1/namespaces/shop/services/other/proxy/healthz/api"
        );
        assert_eq!(evaluate_http(200, b"", &h), ("status 200".into(), true));
        assert_eq!(
            evaluate_http(503, b"injected error\n", &h),
            ("status 503 (injected error)".into(), false)
        );
        h.json = Some(JsonCondition::parse(".status == \"ok\"").unwrap());
        assert_eq!(http_condition(&h), "status 200 and .status == \"ok\"");
        assert_eq!(
            evaluate_http(200, br#"{"status":"ok"}"#, &h),
            ("status 200, .status = \"ok\"".into(), true)
        );
        assert_eq!(
            evaluate_http(200, br#"{"status":"degraded"}"#, &h),
            ("status 200, .status = \"degraded\"".into(), false)
        );
        assert_eq!(
            evaluate_http(200, b"fine", &h),
            ("status 200, a body that is not JSON".into(), false)
        );
    }

    /// A one-request HTTP server answering `body`; hands back the request it got.
    async fn canned_prometheus(
        status: &'static str,
        body: &'static str,
    ) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (address, served)
    }

    #[tokio::test]
    async fn a_query_is_sent_with_its_placeholders_filled_and_the_token() {
        let (address, served) = canned_prometheus(
            "200 OK",
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.81"]}]}}"#,
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cr3t\n").unwrap();
        let mut p = prom(Some("result >= 0.95"), None);
        p.address = Address::Url(address);
        p.query = "sum(rate(x{canary=\"{{canary-service}}\"}[1m]))".into();
        p.token = Some(SecretSource::File(file));
        let found = prometheus(&http_client(), &p, &subject()).await;
        assert_eq!(
            found,
            Found {
                value: "0.81".into(),
                condition: "result >= 0.95".into(),
                ok: Some(false)
            }
        );
        let request = served.await.unwrap();
        assert!(
            request.starts_with("GET /api/v1/query?query=sum%28rate%28x%7Bcanary%3D%22api-canary%22%7D%5B1m%5D%29%29 HTTP/1.1"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("authorization: bearer s3cr3t"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn an_https_prometheus_is_asked_over_tls() {
        // Nothing listens there: the request fails after the client was built with TLS.
        let mut p = prom(Some("result >= 0.95"), None);
        p.address = Address::Url("https://127.0.0.1:1".into());
        let found = prometheus(&http_client(), &p, &subject()).await;
        assert!(
            found.value.starts_with("error: Prometheus unreachable"),
            "{}",
            found.value
        );
    }

    #[tokio::test]
    async fn an_unreachable_or_refusing_prometheus_is_a_failed_measurement() {
        let (address, _served) = canned_prometheus(
            "400 Bad Request",
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        )
        .await;
        let mut p = prom(Some("result >= 0.95"), None);
        p.address = Address::Url(address);
        let found = prometheus(&http_client(), &p, &subject()).await;
        assert_eq!(
            (found.value.as_str(), found.ok),
            (
                "error: Prometheus refused the query (400): bad_data: parse error",
                Some(false)
            )
        );
        p.address = Address::Url("http://user:pw@127.0.0.1:1".into());
        let found = prometheus(&http_client(), &p, &subject()).await;
        assert!(
            found.value.starts_with("error: Prometheus unreachable"),
            "{}",
            found.value
        );
        assert!(
            found.value.contains("onnect"),
            "the cause is said: {}",
            found.value
        );
        assert!(!found.value.contains("pw"), "{}", found.value);
        p.address = Address::Env("SLIPWAY_TEST_NO_SUCH_PROMETHEUS".into());
        let found = prometheus(&http_client(), &p, &subject()).await;
        assert!(
            found.value.contains("`SLIPWAY_TEST_NO_SUCH_PROMETHEUS`"),
            "{}",
            found.value
        );
    }

    #[test]
    fn only_the_api_server_s_no_endpoints_answer_is_asked_again() {
        let status = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"api-canary\"","reason":"ServiceUnavailable","code":503}"#;
        assert!(no_endpoints_yet(503, status));
        assert!(!no_endpoints_yet(503, br#"{"status":"down"}"#));
        assert!(!no_endpoints_yet(500, status));
    }

    #[test]
    fn a_token_is_read_from_its_variable_and_never_empty() {
        assert_eq!(token(None), Ok(None));
        let missing = SecretSource::Env("SLIPWAY_TEST_NO_SUCH_TOKEN_VARIABLE".into());
        assert!(token(Some(&missing)).unwrap_err().contains("is not set"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cr3t\n").unwrap();
        assert_eq!(
            token(Some(&SecretSource::File(file))),
            Ok(Some("s3cr3t".into()))
        );
    }
}

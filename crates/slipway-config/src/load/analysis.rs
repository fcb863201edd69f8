//! `analysis`, `pre-switch-analysis`, `post-switch-analysis`: the checks of a canary's
//! steps and of a blue-green's phases.

use super::*;
use crate::analysis::{Condition, JsonCondition, unknown_placeholders};

const CHECK_KEYS: &[&str] = &[
    "name",
    "prometheus",
    "http",
    "job",
    "interval",
    "count",
    "failure-limit",
    "no-data",
];
const PROMETHEUS_KEYS: &[&str] = &[
    "address",
    "address-env",
    "query",
    "success",
    "failure",
    "token-env",
    "token-file",
];
const HTTP_KEYS: &[&str] = &["service", "port", "path", "status", "json"];
const JOB_KEYS: &[&str] = &["manifest", "image", "command", "timeout"];
const PROVIDERS: &[&str] = &["prometheus", "http", "job"];

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(300);

impl Cx {
    /// A list of checks. `default_service` says whether an `http` check has a Service to
    /// default to (a canary with `traffic: replicas` has none of its own).
    pub(super) fn analysis(&mut self, v: &Val<'_>, default_service: bool) -> Option<Vec<Check>> {
        let items = self.list(v)?;
        let mut checks: Vec<Check> = Vec::new();
        let mut ok = true;
        for item in &items {
            match self.check(item, default_service) {
                Some(check) => {
                    if let Some(first) = checks.iter().find(|c| c.name == check.name) {
                        self.error(
                            item.at(),
                            &item.path,
                            format!("two checks are named `{}`", check.name),
                            Some(format!(
                                "the first is on line {}; each check of a list has its own name",
                                first.at.line
                            )),
                        );
                        ok = false;
                    }
                    checks.push(check);
                }
                None => ok = false,
            }
        }
        ok.then_some(checks)
    }

    fn check(&mut self, item: &Val<'_>, default_service: bool) -> Option<Check> {
        let m = self.map(item, Some(CHECK_KEYS))?;
        let name = match m.get("name") {
            Some(v) => self.dns_label(&v, "check"),
            None => {
                self.missing(
                    &m,
                    "name",
                    Some("name the check, e.g. `name: success-rate`".into()),
                );
                None
            }
        };
        let given: Vec<Val<'_>> = PROVIDERS.iter().filter_map(|p| m.get(p)).collect();
        let provider = match given.as_slice() {
            [] => {
                self.missing(
                    &m,
                    "prometheus",
                    Some("a check is `prometheus:`, `http:` or `job:`".into()),
                );
                None
            }
            [one] => match one.name() {
                "prometheus" => self
                    .prometheus(one, default_service)
                    .map(Provider::Prometheus),
                "http" => self.http(one, default_service).map(Provider::Http),
                _ => self.job(one).map(Provider::Job),
            },
            [_, second, ..] => {
                self.error(
                    second.key,
                    &second.path,
                    "a check has one provider",
                    Some(
                        "keep one of `prometheus`, `http` and `job`; write two checks for two"
                            .into(),
                    ),
                );
                None
            }
        };
        let interval = match m.get("interval") {
            Some(v) => self.duration(&v).and_then(|d| {
                if d.is_zero() {
                    self.error(v.at(), &v.path, "`interval` must be longer than 0s", None);
                    None
                } else {
                    Some(d)
                }
            }),
            None => Some(DEFAULT_INTERVAL),
        };
        let count = match m.get("count") {
            Some(v) => self.u32(&v).and_then(|n| {
                if n == 0 {
                    self.error(
                        v.at(),
                        &v.path,
                        "`count` must be at least 1",
                        Some("how many measurements are taken, `interval` apart".into()),
                    );
                    None
                } else {
                    Some(n)
                }
            }),
            None => Some(1),
        };
        let failure_limit = match m.get("failure-limit") {
            Some(v) => self.u32(&v),
            None => Some(0),
        };
        if let (Some(count), Some(limit), Some(v)) = (count, failure_limit, m.get("failure-limit"))
            && limit >= count
        {
            self.error(
                v.at(),
                &v.path,
                format!("`failure-limit: {limit}` tolerates every one of the {count} measurement(s)"),
                Some("the limit is how many failed measurements are tolerated; keep it below `count`".into()),
            );
            return None;
        }
        let no_data = match m.get("no-data") {
            Some(v) => self.keyword(&v, NoData::ALL, NoData::WHAT),
            None => Some(NoData::Fail),
        };
        if let (Some(v), Some(_), Some(Provider::Job(_) | Provider::Http(_))) =
            (m.get("no-data"), no_data, &provider)
        {
            self.error(
                v.key,
                &v.path,
                "`no-data` is for `prometheus` checks",
                Some("an HTTP answer or a Job always says something: it passes or fails".into()),
            );
            return None;
        }
        Some(Check {
            name: name?,
            at: position(item.at()),
            provider: provider?,
            interval: interval?,
            count: count?,
            failure_limit: failure_limit?,
            no_data: no_data?,
        })
    }

    /// A string whose placeholders are all known; `{{service}}` and `{{canary-service}}`
    /// only where there are `services` (not for a canary with `traffic: replicas`).
    fn with_placeholders(&mut self, v: &Val<'_>, services: bool) -> Option<String> {
        let text = self.nonempty(v)?;
        if !services
            && let Some(p) = ["service", "canary-service"]
                .into_iter()
                .find(|p| text.contains(&format!("{{{{{p}}}}}")))
        {
            self.error(
                v.at(),
                &v.path,
                format!("`{{{{{p}}}}}` has no value with `traffic: replicas`"),
                Some("the canary's pods sit behind the Deployment's own Service and have no Service of their own; select them by `{{canary-deployment}}` (their pods' names start with it)".into()),
            );
            return None;
        }
        let unknown = unknown_placeholders(&text);
        if let Some(first) = unknown.first() {
            self.error(
                v.at(),
                &v.path,
                format!("unknown placeholder `{{{{{first}}}}}`"),
                Some(format!(
                    "the placeholders are {}",
                    crate::analysis::PLACEHOLDERS
                        .iter()
                        .map(|p| format!("`{{{{{p}}}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            return None;
        }
        Some(text)
    }

    fn condition(&mut self, v: &Val<'_>) -> Option<Condition> {
        let text = self.text(v)?;
        match Condition::parse(&text) {
            Ok(c) => Some(c),
            Err(message) => {
                self.error(
                    v.at(),
                    &v.path,
                    message,
                    Some("write `result OP NUMBER`, e.g. `result >= 0.95`".into()),
                );
                None
            }
        }
    }

    fn env_name(&mut self, v: &Val<'_>) -> Option<String> {
        let name = self.nonempty(v)?;
        let valid = !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.error(
                v.at(),
                &v.path,
                format!("`{name}` is not an environment variable name"),
                Some(
                    "name the variable, e.g. `PROMETHEUS_TOKEN`; never write its value here".into(),
                ),
            );
            return None;
        }
        Some(name)
    }

    fn prometheus(&mut self, v: &Val<'_>, services: bool) -> Option<PrometheusCheck> {
        let m = self.map(v, Some(PROMETHEUS_KEYS))?;
        let address = match (m.get("address"), m.get("address-env")) {
            (Some(a), None) => self.nonempty(&a).and_then(|url| {
                if url.starts_with("http://") || url.starts_with("https://") {
                    Some(Address::Url(url.trim_end_matches('/').to_owned()))
                } else {
                    self.error(
                        a.at(),
                        &a.path,
                        "the address of Prometheus is an `http://` or `https://` URL",
                        Some("e.g. `address: http://prometheus.monitoring:9090`".into()),
                    );
                    None
                }
            }),
            (None, Some(e)) => self.env_name(&e).map(Address::Env),
            (Some(_), Some(e)) => {
                self.error(
                    e.key,
                    &e.path,
                    "`address` and `address-env` cannot both be set",
                    Some("keep one".into()),
                );
                None
            }
            (None, None) => {
                self.missing(
                    &m,
                    "address",
                    Some("the Prometheus HTTP API, e.g. `address: http://prometheus.monitoring:9090`, or `address-env: PROMETHEUS_URL`".into()),
                );
                None
            }
        };
        let query = match m.get("query") {
            Some(q) => self.with_placeholders(&q, services),
            None => {
                self.missing(&m, "query", Some("a PromQL instant query".into()));
                None
            }
        };
        let success = m.get("success").map(|c| self.condition(&c));
        let failure = m.get("failure").map(|c| self.condition(&c));
        let conditions_ok = !matches!(success, Some(None)) && !matches!(failure, Some(None));
        if success.is_none() && failure.is_none() {
            self.missing(
                &m,
                "success",
                Some("a condition on the result: `success: result >= 0.95` and/or `failure: result > 0.05`".into()),
            );
            return None;
        }
        let token = match (m.get("token-env"), m.get("token-file")) {
            (None, None) => Some(None),
            (Some(e), None) => self.env_name(&e).map(|n| Some(SecretSource::Env(n))),
            (None, Some(f)) => {
                let written = self.nonempty(&f)?;
                if written.starts_with("~/") {
                    Some(Some(SecretSource::File(PathBuf::from(written))))
                } else {
                    self.local_path(&f, Path::new(""), PathKind::File, false, PATH_HINT)
                        .map(|p| Some(SecretSource::File(p)))
                }
            }
            (Some(_), Some(f)) => {
                self.error(
                    f.key,
                    &f.path,
                    "`token-env` and `token-file` cannot both be set",
                    Some("keep one".into()),
                );
                None
            }
        };
        Some(PrometheusCheck {
            address: address?,
            query: query?,
            success: success.flatten(),
            failure: failure.flatten(),
            token: token?,
        })
        .filter(|_| conditions_ok)
    }

    fn http(&mut self, v: &Val<'_>, default_service: bool) -> Option<HttpCheck> {
        let m = self.map(v, Some(HTTP_KEYS))?;
        let service = match m.get("service") {
            Some(s) => Some(self.dns_label(&s, "Service")),
            None if default_service => Some(None),
            None => {
                self.missing(
                    &m,
                    "service",
                    Some("with `traffic: replicas` the canary has no Service of its own: name the Service to ask".into()),
                );
                None
            }
        };
        let port = match m.get("port") {
            Some(p) => self.text(&p).and_then(|text| {
                let number = text.parse::<u16>().is_ok_and(|n| n > 0);
                if number || is_dns_label(&text) && text.len() <= 15 {
                    Some(Some(text))
                } else {
                    self.error(
                        p.at(),
                        &p.path,
                        format!("`{text}` is not a port number or name"),
                        Some(
                            "a number from 1 to 65535, or the name of a port of the Service".into(),
                        ),
                    );
                    None
                }
            }),
            None => Some(None),
        };
        let path = match m.get("path") {
            Some(p) => self
                .with_placeholders(&p, default_service)
                .and_then(|path| {
                    if path.starts_with('/') {
                        Some(path)
                    } else {
                        self.error(
                            p.at(),
                            &p.path,
                            format!("`{path}` does not start with `/`"),
                            Some("e.g. `path: /healthz`".into()),
                        );
                        None
                    }
                }),
            None => Some("/".to_owned()),
        };
        let status = match m.get("status") {
            Some(s) => self.u32(&s).and_then(|n| {
                if (100..=599).contains(&n) {
                    Some(n as u16)
                } else {
                    self.error(
                        s.at(),
                        &s.path,
                        format!("`{n}` is not an HTTP status"),
                        Some("a status from 100 to 599, e.g. `status: 200`".into()),
                    );
                    None
                }
            }),
            None => Some(200),
        };
        let json = match m.get("json") {
            Some(j) => self.text(&j).and_then(|text| match JsonCondition::parse(&text) {
                Ok(c) => Some(Some(c)),
                Err(message) => {
                    self.error(
                        j.at(),
                        &j.path,
                        message,
                        Some("e.g. `json: .status == \"ok\"` (quote the whole condition in YAML)".into()),
                    );
                    None
                }
            }),
            None => Some(None),
        };
        Some(HttpCheck {
            service: service?,
            port: port?,
            path: path?,
            status: status?,
            json: json?,
        })
    }

    fn job(&mut self, v: &Val<'_>) -> Option<JobCheck> {
        let m = self.map(v, Some(JOB_KEYS))?;
        let timeout = match m.get("timeout") {
            Some(t) => self.duration(&t),
            None => Some(DEFAULT_JOB_TIMEOUT),
        };
        let run = match (m.get("manifest"), m.get("image")) {
            (Some(manifest), None) => {
                if let Some(c) = m.get("command") {
                    self.error(
                        c.key,
                        &c.path,
                        "`command` needs `image`",
                        Some("a `manifest` Job sets its own command".into()),
                    );
                    return None;
                }
                self.local_path(&manifest, Path::new(""), PathKind::File, true, PATH_HINT)
                    .map(JobRun::Manifest)
            }
            (None, Some(image)) => {
                let image = self.nonempty(&image);
                let command = match m.get("command") {
                    Some(c) => self.string_list(&c).map(Some),
                    None => Some(None),
                };
                Some(JobRun::Image {
                    image: image?,
                    command: command?,
                })
            }
            (Some(_), Some(image)) => {
                self.error(
                    image.key,
                    &image.path,
                    "`image` cannot be used with `manifest`",
                    Some("a Job check runs a Job manifest (`manifest`) or a Job generated from an image (`image`)".into()),
                );
                None
            }
            (None, None) => {
                self.missing(
                    &m,
                    "image",
                    Some("`image` (with `command`) or `manifest` (a file holding a Job)".into()),
                );
                None
            }
        };
        Some(JobCheck {
            run: run?,
            timeout: timeout?,
        })
    }
}

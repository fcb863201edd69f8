//! What happened during a release, with the moment of each event: the plan, each
//! workload's and hook's bar from start to ready or failed with its phases (pull,
//! start, settle), the events of a failure (BackOff, Unhealthy) at their times, the
//! diagnosis and the rollback. The job summary and the release report are made from it.
//!
//! The release report's JSON is this journal, per namespace, with the release's
//! images and provenance beside it; its shape is documented in `docs/ci.md`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use slipway_deploy::engine::{Change, Event};
use slipway_deploy::status::State;
use slipway_deploy::track::Diagnosis;

/// The events of every namespace of one command, as they came.
#[derive(Debug)]
pub struct Journal {
    started: Instant,
    started_at: jiff::Timestamp,
    namespaces: Vec<Namespace>,
}

#[derive(Debug, Default)]
struct Namespace {
    name: String,
    start: f64,
    end: f64,
    plan: Vec<Value>,
    rows: Vec<Row>,
    /// Revision → status, as recorded.
    recorded: BTreeMap<u64, String>,
    diagnosis: Option<Value>,
    rollback_to: Option<u64>,
    /// The previous release is being restored: its bars are new rows.
    restoring: bool,
    /// What the caller knows of the release (images, provenance, user, action).
    context: Value,
}

#[derive(Debug)]
struct Row {
    name: String,
    kind: &'static str,
    start: f64,
    end: Option<f64>,
    result: &'static str,
    phases: Vec<(String, f64, Option<f64>)>,
    moments: Vec<Value>,
}

impl Row {
    fn new(name: String, kind: &'static str, at: f64) -> Row {
        Row {
            name,
            kind,
            start: at,
            end: None,
            result: "running",
            phases: Vec::new(),
            moments: Vec::new(),
        }
    }

    fn enter(&mut self, phase: &str, at: f64) {
        if self
            .phases
            .last()
            .is_some_and(|(p, _, end)| p == phase && end.is_none())
        {
            return;
        }
        self.close_phase(at);
        self.phases.push((phase.into(), at, None));
    }

    fn close_phase(&mut self, at: f64) {
        if let Some((_, _, end)) = self.phases.last_mut()
            && end.is_none()
        {
            *end = Some(at);
        }
    }

    fn finish(&mut self, result: &'static str, at: f64) {
        if self.end.is_none() {
            self.close_phase(at);
            self.end = Some(at);
            self.result = result;
        }
    }
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new()
    }
}

impl Namespace {
    /// A moment `what` (`reason`, `message`, `warning`) at `at` on the row `name`, made
    /// when the row does not exist yet.
    fn moment(&mut self, name: &str, at: f64, mut what: Value) {
        let i = match self.rows.iter().rposition(|r| r.name == name) {
            Some(i) => i,
            None => {
                self.rows.push(Row::new(name.to_owned(), "workload", at));
                self.rows.len() - 1
            }
        };
        what["at"] = json!(round(at));
        self.rows[i].moments.push(what);
    }
}

impl Journal {
    pub fn new() -> Journal {
        Journal {
            started: Instant::now(),
            started_at: jiff::Timestamp::now(),
            namespaces: Vec::new(),
        }
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn namespace(&mut self, ns: &str) -> &mut Namespace {
        let at = self.now();
        match self.namespaces.iter().position(|n| n.name == ns) {
            Some(i) => &mut self.namespaces[i],
            None => {
                self.namespaces.push(Namespace {
                    name: ns.into(),
                    start: at,
                    end: at,
                    context: json!({}),
                    ..Namespace::default()
                });
                self.namespaces.last_mut().expect("just pushed")
            }
        }
    }

    /// What the caller knows of the release in `ns`, merged into its report.
    pub fn context(&mut self, ns: &str, context: Value) {
        let n = self.namespace(ns);
        if let (Some(into), Some(from)) = (n.context.as_object_mut(), context.as_object()) {
            for (k, v) in from {
                into.insert(k.clone(), v.clone());
            }
        }
    }

    /// Notes `event` of the release in `ns`, now.
    pub fn record(&mut self, ns: &str, event: &Event) {
        let at = self.now();
        let started_at = self.started_at;
        let n = self.namespace(ns);
        n.end = at;
        let suffix = if n.restoring { " (restore)" } else { "" };
        match event {
            Event::Planned(plan) => {
                n.plan = plan
                    .iter()
                    .map(|p| {
                        json!({
                            "object": p.object,
                            "change": crate::commands::change_word(&p.change),
                            "fields": match &p.change {
                                Change::Update(f) => f.iter().map(|c| c.path.clone()).collect(),
                                _ => Vec::new(),
                            },
                        })
                    })
                    .collect();
            }
            Event::HookStarted { name, .. } => {
                n.rows.push(Row::new(format!("hook/{name}"), "hook", at));
                if let Some(r) = n.rows.last_mut() {
                    r.enter("run", at);
                }
            }
            Event::HookFinished { name, .. } => {
                let label = format!("hook/{name}");
                if let Some(r) = n.rows.iter_mut().rev().find(|r| r.name == label) {
                    r.finish("ready", at);
                }
            }
            Event::Applied { object, .. } => {
                let label = workload_label(object);
                if let Some(label) = label {
                    let name = format!("{label}{suffix}");
                    if !n.rows.iter().any(|r| r.name == name && r.end.is_none()) {
                        let mut row = Row::new(name, "workload", at);
                        row.enter("start", at);
                        n.rows.push(row);
                    }
                }
            }
            Event::Progress(p) => {
                let name = format!("{}{suffix}", p.workload);
                let i = match n.rows.iter().rposition(|r| r.name == name) {
                    Some(i) => i,
                    None => {
                        n.rows.push(Row::new(name, "workload", at));
                        n.rows.len() - 1
                    }
                };
                let row = &mut n.rows[i];
                if row.end.is_some() {
                    // A workload followed again (settled, then a new progress).
                    row.end = None;
                    row.result = "running";
                }
                match p.state {
                    State::Current if p.message.contains("watching its pods") => {
                        row.enter("settle", at);
                    }
                    State::Current => row.finish("ready", at),
                    State::Failed => row.finish("failed", at),
                    State::InProgress | State::Terminating => {
                        let phase = if p.message.to_ascii_lowercase().contains("pull") {
                            "pull"
                        } else {
                            "start"
                        };
                        row.enter(phase, at);
                    }
                }
            }
            Event::Failed(d) => {
                let name = format!("{}{suffix}", d.workload);
                let row = match n.rows.iter().rposition(|r| r.name == name) {
                    Some(i) => &mut n.rows[i],
                    None => {
                        n.rows.push(Row::new(name, "workload", at));
                        n.rows.last_mut().expect("just pushed")
                    }
                };
                row.finish("failed", at);
                for e in &d.events {
                    let when = e
                        .time
                        .parse::<jiff::Timestamp>()
                        .ok()
                        .map(|t| (t.as_millisecond() - started_at.as_millisecond()) as f64 / 1000.0)
                        .map(|s| s.clamp(row.start, at));
                    if let Some(when) = when {
                        row.moments.push(json!({
                            "at": round(when), "reason": e.reason, "message": e.message,
                            "warning": e.warning, "count": e.count,
                        }));
                    }
                }
                n.diagnosis = Some(diagnosis_json(d));
            }
            Event::RollingBack { to_revision } => {
                n.rollback_to = Some(*to_revision);
                n.restoring = true;
            }
            Event::Recorded { revision, status } => {
                n.recorded.insert(*revision, status.as_str().into());
            }
            Event::CanaryStep {
                deployment,
                step,
                steps,
                weight,
                replicas,
                ..
            } => n.moment(
                &format!("deployment/{deployment}-canary{suffix}"),
                at,
                json!({"reason": "CanaryStep", "warning": false,
                    "message": format!("step {step} of {steps}: {weight} % on {replicas} pod(s)")}),
            ),
            Event::Measured(m) => {
                let of = if m.strategy == "canary" {
                    "canary"
                } else {
                    "preview"
                };
                n.moment(
                    &format!("deployment/{}-{of}{suffix}", m.deployment),
                    at,
                    json!({"reason": "Analysis", "warning": m.verdict != slipway_deploy::engine::Verdict::Passed,
                        "message": format!("{} {} {} = {} ({}) {}", m.phase, m.provider, m.check, m.value, m.condition, m.verdict.as_str())}),
                )
            }
            Event::CanaryAborted { deployment, .. } => n.moment(
                &format!("deployment/{deployment}-canary{suffix}"),
                at,
                json!({"reason": "CanaryAborted", "warning": true,
                    "message": "the canary's objects were removed; all traffic on the stable pods"}),
            ),
            Event::CanaryPromoted { deployment } => n.moment(
                &format!("deployment/{deployment}-canary{suffix}"),
                at,
                json!({"reason": "CanaryPromoted", "warning": false,
                    "message": format!("every step passed: deployment/{deployment} rolls")}),
            ),
            Event::BlueGreenPreview { deployment, .. } => n.moment(
                &format!("deployment/{deployment}-preview{suffix}"),
                at,
                json!({"reason": "Preview", "warning": false,
                    "message": "the new version starts behind the preview Service"}),
            ),
            Event::BlueGreenSwitched {
                deployment,
                service,
                ..
            } => n.moment(
                &format!("deployment/{deployment}-preview{suffix}"),
                at,
                json!({"reason": "Switched", "warning": false,
                    "message": format!("service/{service} switched to the new version")}),
            ),
            Event::BlueGreenAborted { deployment, .. } => n.moment(
                &format!("deployment/{deployment}-preview{suffix}"),
                at,
                json!({"reason": "SwitchedBack", "warning": true,
                    "message": "all traffic back on the previous version"}),
            ),
            Event::SwitchedBack {
                deployment,
                service,
                ..
            } => n.moment(
                &format!("deployment/{deployment}-preview{suffix}"),
                at,
                json!({"reason": "RollbackRequested", "warning": true,
                    "message": format!("service/{service} switched back to the previous version by rollback")}),
            ),
            Event::LockTaken { .. }
            | Event::Concluded { .. }
            | Event::Pruning(_)
            | Event::Adopting(_)
            | Event::Conflict { .. } => {}
        }
    }

    /// The report of every namespace, as JSON (see the module documentation).
    pub fn to_json(&self, environment: &str, action: &str) -> Value {
        let namespaces: Vec<Value> = self
            .namespaces
            .iter()
            .map(|n| self.namespace_json(n))
            .collect();
        report_document(environment, action, namespaces)
    }

    /// The report of namespace `ns`, as the release record keeps it (see
    /// `commands::report::keep_in_record`); `None` when nothing happened there.
    pub fn namespace_report(&self, ns: &str) -> Option<Value> {
        self.namespaces
            .iter()
            .find(|n| n.name == ns)
            .map(|n| self.namespace_json(n))
    }

    fn namespace_json(&self, n: &Namespace) -> Value {
        let (revision, status) = n
            .recorded
            .iter()
            .next_back()
            .map(|(r, s)| (Some(*r), s.clone()))
            .unwrap_or((None, "not recorded".into()));
        let end = n
            .end
            .max(n.rows.iter().filter_map(|r| r.end).fold(n.start, f64::max));
        let rows: Vec<Value> = n
            .rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "kind": r.kind,
                    "start": round(r.start - n.start),
                    "end": round(r.end.unwrap_or(end) - n.start),
                    "result": r.result,
                    "phases": r.phases.iter().map(|(p, s, e)| json!({
                        "phase": p, "start": round(s - n.start), "end": round(e.unwrap_or(r.end.unwrap_or(end)) - n.start),
                    })).collect::<Vec<_>>(),
                    "moments": r.moments.iter().map(|m| {
                        let mut m = m.clone();
                        m["at"] = json!(round(m["at"].as_f64().unwrap_or(0.0) - n.start));
                        m
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut doc = json!({
            "namespace": n.name,
            "revision": revision,
            "status": status,
            "started": jiff::Timestamp::from_millisecond(
                self.started_at.as_millisecond() + (n.start * 1000.0) as i64
            ).map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default(),
            "plan": n.plan,
            "timeline": {"duration": round(end - n.start), "rows": rows},
            "diagnosis": n.diagnosis,
            "rollback": n.rollback_to.map(|to| json!({"to_revision": to})),
        });
        if let (Some(into), Some(from)) = (doc.as_object_mut(), n.context.as_object()) {
            for (k, v) in from {
                into.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        doc
    }
}

/// The report document around the namespaces' reports.
pub fn report_document(environment: &str, action: &str, namespaces: Vec<Value>) -> Value {
    let statuses: Vec<&str> = namespaces
        .iter()
        .filter_map(|n| n["status"].as_str())
        .collect();
    let outcome = if statuses.contains(&"failed") {
        "failed"
    } else if statuses.contains(&"rolled-back") {
        "rolled-back"
    } else if !statuses.is_empty() && statuses.iter().all(|s| *s == "deployed") {
        "deployed"
    } else {
        "not concluded"
    };
    json!({
        "report": "slipway.release-report.v1",
        "environment": environment,
        "action": action,
        "outcome": outcome,
        "generated": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "namespaces": namespaces,
    })
}

/// A diagnosis as JSON, for the summary and the report.
pub fn diagnosis_json(d: &Diagnosis) -> Value {
    json!({
        "workload": d.workload, "reason": d.reason, "message": d.message,
        "pod": d.pod, "container": d.container,
        "events": d.events.iter().map(|e| json!({
            "time": e.time, "warning": e.warning, "reason": e.reason,
            "message": e.message, "count": e.count,
        })).collect::<Vec<_>>(),
        "logs": d.logs,
        "check": d.check.as_deref().map(|c| serde_json::to_value(c).unwrap_or_default()),
    })
}

/// `Deployment/api` → `deployment/api` for the kinds whose rollout is followed.
fn workload_label(object: &str) -> Option<String> {
    let (kind, name) = object.split_once('/')?;
    slipway_deploy::track::is_tracked_kind(kind)
        .then(|| format!("{}/{name}", kind.to_ascii_lowercase()))
}

fn round(seconds: f64) -> f64 {
    (seconds.max(0.0) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_deploy::engine::Planned;
    use slipway_deploy::record::ReleaseStatus;
    use slipway_deploy::track::Progress;

    #[test]
    fn a_failed_workload_gets_a_failed_bar_and_the_restore_a_row_of_its_own() {
        let mut j = Journal::new();
        j.record(
            "shop",
            &Event::Planned(vec![Planned {
                object: "Deployment/api".into(),
                change: Change::Create,
            }]),
        );
        j.record(
            "shop",
            &Event::Applied {
                object: "Deployment/api".into(),
                change: Change::Create,
            },
        );
        j.record(
            "shop",
            &Event::Progress(Progress {
                workload: "deployment/api".into(),
                state: State::InProgress,
                message: "waiting: ErrImagePull".into(),
            }),
        );
        j.record(
            "shop",
            &Event::Failed(Box::new(Diagnosis {
                workload: "deployment/api".into(),
                reason: "CrashLoopBackOff".into(),
                message: "restarted 3 times".into(),
                pod: Some("api-1".into()),
                container: Some("api".into()),
                events: vec![],
                logs: vec!["boom".into()],
                check: None,
            })),
        );
        j.record("shop", &Event::RollingBack { to_revision: 1 });
        j.record(
            "shop",
            &Event::Progress(Progress {
                workload: "deployment/api".into(),
                state: State::Current,
                message: "ready".into(),
            }),
        );
        j.record(
            "shop",
            &Event::Recorded {
                revision: 2,
                status: ReleaseStatus::RolledBack,
            },
        );
        let doc = j.to_json("dev", "deploy");
        assert_eq!(doc["outcome"], "rolled-back");
        let ns = &doc["namespaces"][0];
        assert_eq!(ns["revision"], 2);
        assert_eq!(ns["rollback"]["to_revision"], 1);
        assert_eq!(ns["diagnosis"]["pod"], "api-1");
        let rows = ns["timeline"]["rows"].as_array().unwrap();
        assert_eq!(rows[0]["name"], "deployment/api");
        assert_eq!(rows[0]["result"], "failed");
        let phases: Vec<&str> = rows[0]["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap())
            .collect();
        assert_eq!(phases, ["start", "pull"]);
        assert_eq!(rows[1]["name"], "deployment/api (restore)");
        assert_eq!(rows[1]["result"], "ready");
        assert_eq!(ns["plan"][0]["change"], "create");
    }
}

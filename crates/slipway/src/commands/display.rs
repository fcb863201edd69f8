//! How a release shows itself while it runs: on a terminal, one live line per workload
//! (its replica counts as they move) with the other events printed above them; plain
//! lines when standard error is not a terminal; one JSON line per event on standard
//! output with `-o json`.
//!
//! Several namespaces of an environment may be released at once (one task per
//! cluster): every line and bar then carries its namespace.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use slipway_deploy::engine::{Change, Event, Measured, Verdict};
use slipway_deploy::status::State;
use slipway_deploy::track::Progress;

use crate::printer::{Format, Printer};

/// The progress display of one command.
pub struct DeployDisplay<'p> {
    printer: &'p Printer,
    /// Namespaces are named on every line (several run at once).
    prefixed: bool,
    multi: Option<MultiProgress>,
    /// Live bars by namespace and workload.
    bars: Mutex<HashMap<(String, String), ProgressBar>>,
    /// How the plan shows (see [`DeployDisplay::plan_only`]).
    plan: PlanView,
    /// Every event with its moment, for the job summary and the release report.
    journal: Mutex<crate::ci::journal::Journal>,
}

/// How a release's plan shows for humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanView {
    /// Before a release: the changed objects with their changed fields' names.
    Fields,
    /// The plan is the answer (`diff`, `deploy --dry-run`): every changed field with
    /// its old and new value.
    Values,
    /// The plan is the answer, given as JSON on standard output: not repeated on
    /// standard error.
    Hidden,
}

impl<'p> DeployDisplay<'p> {
    /// A display for `printer`; live bars only on a terminal, in human output, without
    /// `-q`. `prefixed` names the namespace on every line.
    pub fn new(printer: &'p Printer, prefixed: bool) -> DeployDisplay<'p> {
        let interactive =
            !printer.quiet && printer.format == Format::Human && std::io::stderr().is_terminal();
        DeployDisplay {
            printer,
            prefixed,
            multi: interactive
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(HashMap::new()),
            plan: PlanView::Fields,
            journal: Mutex::new(crate::ci::journal::Journal::new()),
        }
    }

    /// The plan is what the command answers (`diff`, `deploy --dry-run`): it shows
    /// each changed field's old and new value, or only the fields' names when the
    /// printer asks for the compact form; with `-o json` it is on standard output only.
    pub fn plan_only(mut self, plan_only: bool) -> Self {
        self.plan = match (plan_only, self.printer.format, self.printer.compact_plan) {
            (false, _, _) => PlanView::Fields,
            (true, Format::Json, _) => PlanView::Hidden,
            (true, Format::Human, true) => PlanView::Fields,
            (true, Format::Human, false) => PlanView::Values,
        };
        self
    }

    /// The printer behind the display.
    pub fn printer(&self) -> &Printer {
        self.printer
    }

    fn prefix(&self, ns: &str) -> String {
        if self.prefixed {
            format!("[{ns}] ")
        } else {
            String::new()
        }
    }

    /// A line for humans about namespace `ns` (hidden with `-q`), printed above the
    /// live bars.
    pub fn line(&self, ns: &str, text: &str) {
        if self.printer.quiet {
            return;
        }
        let text = format!("{}{text}", self.prefix(ns));
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => crate::printer::stderr_line(&text),
        }
    }

    /// The journal of the releases so far (see [`crate::ci::journal`]).
    pub fn journal(&self) -> std::sync::MutexGuard<'_, crate::ci::journal::Journal> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What a CI system shows of an event: a group per phase (when one namespace runs
    /// at a time: groups do not nest or interleave) and the failure as an annotation.
    fn ci_event(&self, ns: &str, e: &Event) {
        let Some(ci) = &self.printer.ci else {
            return;
        };
        if !self.prefixed {
            let group = match e {
                Event::Planned(_) => Some(("plan", format!("plan of `{ns}`"))),
                Event::HookStarted { name, .. } => {
                    Some(("hook", format!("hook `{name}` in `{ns}`")))
                }
                Event::Applied { .. } | Event::Progress(_) => {
                    Some(("rollout", format!("rollout in `{ns}`")))
                }
                Event::RollingBack { to_revision } => Some((
                    "rollback",
                    format!("rollback of `{ns}` to revision {to_revision}"),
                )),
                _ => None,
            };
            if let Some((phase, title)) = group
                && ci.open_group().as_deref() != Some(phase)
                && !(phase == "rollout" && ci.open_group().as_deref() == Some("rollback"))
            {
                ci.group(phase, &title);
            }
            if matches!(e, Event::HookFinished { .. } | Event::Recorded { .. }) {
                ci.end_group();
            }
        }
        if let Event::Failed(d) = e {
            let pod = d
                .pod
                .as_ref()
                .map(|p| format!(" (pod `{p}`)"))
                .unwrap_or_default();
            ci.annotate(&[crate::ci::Annotation {
                level: crate::ci::Level::Error,
                location: None,
                title: Some(format!("rollout failed in {ns}")),
                message: format!("{}: {}: {}{pod}", d.workload, d.reason, d.message),
            }]);
        }
    }

    /// One event of the release in `ns`.
    pub fn event(&self, ns: &str, e: &Event) {
        self.journal().record(ns, e);
        self.ci_event(ns, e);
        if self.printer.format == Format::Json {
            let mut json = event_json(e);
            json["namespace"] = serde_json::json!(ns);
            self.printer.json_line(&json);
        }
        if let Event::Progress(p) = e
            && let Some(multi) = &self.multi
        {
            let key = (ns.to_string(), p.workload.clone());
            let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
            let bar = bars.entry(key.clone()).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{prefix} {spinner} {msg} ({elapsed})")
                        .expect("valid template"),
                );
                bar.set_prefix(format!("{}{}", self.prefix(ns), p.workload));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            });
            match p.state {
                State::Current => {
                    bar.set_style(
                        ProgressStyle::with_template("{prefix} ✓ {msg} ({elapsed})")
                            .expect("valid template"),
                    );
                    bar.finish_with_message(format!("ready: {}", p.message));
                    bars.remove(&key);
                }
                State::Failed => {
                    bar.set_style(failed_style());
                    bar.abandon_with_message(format!("failed: {}", p.message));
                    bars.remove(&key);
                }
                State::InProgress | State::Terminating => {
                    bar.set_message(format!("{}: {}", progress_word(p), p.message));
                }
            }
            return;
        }
        // The failed workload's line ends there; a rollback's tracking gets a new one.
        if let Event::Failed(d) = e
            && let Some(bar) = self
                .bars
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(ns.to_string(), d.workload.clone()))
        {
            bar.set_style(failed_style());
            bar.abandon_with_message(format!("failed: {}", d.reason));
        }
        let text = match e {
            Event::Planned(_) | Event::Pruning(_) if self.plan == PlanView::Hidden => None,
            Event::Planned(plan) if self.plan == PlanView::Values => plan_values_text(plan),
            _ => event_text(e),
        };
        if let Some(text) = text {
            for line in text.lines() {
                self.line(ns, line);
            }
        }
    }

    /// Leaves bars that never finished (their release stopped) as they are.
    pub fn finish(&self) {
        for (_, bar) in self.bars.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            bar.abandon();
        }
    }
}

/// How a workload's line ends when it failed.
fn failed_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} ✗ {msg} ({elapsed})").expect("valid template")
}

/// `rolling` for workloads, `running` for Jobs (hooks and Jobs of the release).
fn progress_word(p: &Progress) -> &'static str {
    if p.state == State::InProgress && p.workload.starts_with("job/") {
        "running"
    } else {
        state_word(p.state)
    }
}

fn state_word(state: State) -> &'static str {
    match state {
        State::Current => "ready",
        State::Failed => "failed",
        State::InProgress => "rolling",
        State::Terminating => "terminating",
    }
}

/// The word `-o json` and the plan use for a change.
pub fn change_word(c: &Change) -> &'static str {
    match c {
        Change::Create => "create",
        Change::Update(_) => "update",
        Change::Recreate(_) => "recreate",
        Change::Unchanged => "unchanged",
    }
}

/// One event as a JSON value, for `-o json`: the stream a CI system or a dashboard
/// follows while people read the lines on standard error.
fn event_json(e: &Event) -> serde_json::Value {
    use serde_json::json;
    match e {
        Event::LockTaken { took_over_from } => {
            json!({"event": "lock",
                "took_over_from": took_over_from.as_ref().map(|t| t.holder()),
                "holder_gone": matches!(took_over_from, Some(slipway_deploy::lock::TakeOver::HolderGone { .. }))})
        }
        Event::Concluded { revision } => json!({"event": "concluded", "revision": revision}),
        Event::Planned(plan) => json!({"event": "plan", "objects": plan.iter().map(|p| json!({
            "object": p.object, "change": change_word(&p.change),
            "fields": match &p.change { Change::Update(f) => f.iter().map(|c| c.path.clone()).collect(), _ => vec![] },
            "changes": changes_json(&p.change),
        })).collect::<Vec<_>>()}),
        Event::Pruning(objects) => json!({"event": "prune", "objects": objects}),
        Event::Adopting(objects) => json!({"event": "adopting", "objects": objects.iter()
            .map(|(o, r)| json!({"object": o, "helm_release": r})).collect::<Vec<_>>()}),
        Event::HookStarted { name, job } => {
            json!({"event": "hook-started", "hook": name, "job": job})
        }
        Event::HookFinished { name, logs } => {
            json!({"event": "hook-finished", "hook": name, "logs": logs})
        }
        Event::Conflict { object, fields } => json!({"event": "conflict", "object": object,
            "fields": fields.iter().map(|(f, m)| json!({"field": f, "manager": m})).collect::<Vec<_>>()}),
        Event::Applied { object, change } => {
            json!({"event": "applied", "object": object, "change": change_word(change)})
        }
        Event::Progress(p) => json!({"event": "progress", "workload": p.workload,
            "state": format!("{:?}", p.state), "message": p.message}),
        Event::CanaryStep {
            deployment,
            step,
            steps,
            weight,
            replicas,
            pause,
        } => json!({"event": "canary-step", "deployment": deployment, "step": step,
            "steps": steps, "weight": weight, "replicas": replicas, "pause_seconds": pause.map(|p| p.as_secs_f64())}),
        Event::CanaryAborted {
            deployment,
            removed,
        } => json!({"event": "canary-aborted", "deployment": deployment, "removed": removed}),
        Event::CanaryPromoted { deployment } => {
            json!({"event": "canary-promoted", "deployment": deployment})
        }
        Event::BlueGreenPreview {
            deployment,
            preview_service,
        } => {
            json!({"event": "blue-green-preview", "deployment": deployment, "preview_service": preview_service})
        }
        Event::BlueGreenSwitched {
            deployment,
            service,
            delay,
        } => json!({"event": "blue-green-switched", "deployment": deployment, "service": service,
            "scale_down_delay_seconds": delay.as_secs_f64()}),
        Event::BlueGreenAborted {
            deployment,
            switched_back,
        } => {
            json!({"event": "blue-green-aborted", "deployment": deployment, "switched_back": switched_back})
        }
        Event::SwitchedBack {
            revision,
            deployment,
            service,
        } => {
            json!({"event": "switched-back", "revision": revision, "deployment": deployment, "service": service})
        }
        Event::Measured(m) => json!({"event": "analysis", "strategy": m.strategy,
            "deployment": m.deployment, "phase": m.phase, "check": m.check, "provider": m.provider,
            "measurement": m.measurement, "count": m.count, "value": m.value,
            "condition": m.condition, "verdict": verdict_word(&m.verdict), "time": m.time}),
        Event::Failed(d) => json!({"event": "failed", "workload": d.workload, "reason": d.reason,
            "message": d.message, "pod": d.pod, "container": d.container,
            "check": d.check.as_deref().map(|c| serde_json::to_value(c).unwrap_or_default())}),
        Event::RollingBack { to_revision } => {
            json!({"event": "rolling-back", "to_revision": to_revision})
        }
        Event::Recorded { revision, status } => {
            json!({"event": "recorded", "revision": revision, "status": status.as_str()})
        }
    }
}

/// The lines an event prints for humans; `None` for events shown only in JSON.
fn event_text(e: &Event) -> Option<String> {
    let text = match e {
        Event::LockTaken {
            took_over_from: Some(t),
        } => format!("lock taken over from {t}"),
        Event::LockTaken { .. } | Event::Applied { .. } => return None,
        Event::Concluded { revision } => {
            format!("revision {revision} was left pending by an interrupted deploy: marked failed")
        }
        Event::Planned(plan) => {
            let mut lines = Vec::new();
            for p in plan {
                match &p.change {
                    Change::Unchanged => {}
                    Change::Create => lines.push(format!("  + {}", p.object)),
                    Change::Recreate(why) => lines.push(format!(
                        "  ! {} (deleted and created again: {why})",
                        p.object
                    )),
                    Change::Update(fields) => {
                        // Secret fields name keys only; values are never shown.
                        let shown: Vec<&str> =
                            fields.iter().take(4).map(|c| c.path.as_str()).collect();
                        let more = fields.len().saturating_sub(4);
                        let tail = if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        };
                        lines.push(format!("  ~ {} ({}{tail})", p.object, shown.join(", ")));
                    }
                }
            }
            if lines.is_empty() {
                return None;
            }
            lines.join("\n")
        }
        Event::Pruning(objects) => objects
            .iter()
            .map(|o| format!("  - {o}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Event::Adopting(objects) => objects
            .iter()
            .map(|(o, r)| {
                format!("taking over {o} from Helm release `{r}` (server-side apply with force)")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Event::HookStarted { name, job } => format!("hook `{name}`: running job `{job}`"),
        Event::HookFinished { name, logs } => {
            if logs.is_empty() {
                return None;
            }
            logs.iter()
                .map(|l| format!("  {name} | {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Event::Conflict { object, fields } => fields
            .iter()
            .map(|(field, manager)| {
                format!(
                    "warning: {object}: `{field}` was changed on the cluster by `{manager}`; this release sets it back to what the repository says"
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Event::Progress(p) => format!("  {} {}: {}", p.workload, progress_word(p), p.message),
        Event::CanaryStep {
            deployment,
            step,
            steps,
            weight,
            replicas,
            pause,
        } => match pause {
            Some(pause) => format!(
                "  canary of deployment/{deployment}: step {step} of {steps}: {weight} % of the traffic on {replicas} new pod(s), watched for {}s",
                pause.as_secs()
            ),
            None => format!(
                "  canary of deployment/{deployment}: step {step} of {steps}: {weight} % of the traffic on {replicas} new pod(s), then paused until `deploy --resume` or `abort`"
            ),
        },
        Event::CanaryAborted {
            deployment,
            removed: true,
        } => format!(
            "  canary of deployment/{deployment} aborted: its objects were removed; all traffic is on the stable pods"
        ),
        Event::CanaryAborted {
            deployment,
            removed: false,
        } => format!(
            "  canary of deployment/{deployment} aborted, but its objects could not all be removed: `kubectl get all -l slipway.dev/canary-of={deployment}` lists them"
        ),
        Event::CanaryPromoted { deployment } => format!(
            "  canary of deployment/{deployment} passed every step: rolling deployment/{deployment} to the new version"
        ),
        Event::BlueGreenPreview {
            deployment,
            preview_service,
        } => format!(
            "  blue-green of deployment/{deployment}: the new version starts behind service/{preview_service}; no user traffic reaches it yet"
        ),
        Event::BlueGreenSwitched {
            deployment,
            service,
            delay,
        } => format!(
            "  blue-green of deployment/{deployment}: service/{service} switched to the new version in one write; the previous version's pods stay {}s",
            delay.as_secs()
        ),
        Event::BlueGreenAborted {
            deployment,
            switched_back: true,
        } => format!(
            "  blue-green of deployment/{deployment} aborted: all traffic is back on the previous version; the preview was removed"
        ),
        Event::BlueGreenAborted {
            deployment,
            switched_back: false,
        } => format!(
            "  blue-green of deployment/{deployment} aborted, but its Service could not be switched back: `kubectl get service -o yaml` shows its selector"
        ),
        Event::SwitchedBack {
            revision,
            deployment,
            service,
        } => format!(
            "  revision {revision} is in the scale-down delay of its blue-green switch: service/{service} switched back to the previous version of deployment/{deployment} in one write; its deploy concludes the release"
        ),
        Event::Measured(m) => measured_text(m),
        Event::Failed(d) => match &d.check {
            Some(c) => format!(
                "rollout failed: {}: {}: {}\n  check `{}` ({}) of {} {}, {}: measured {}, needs {}, at {}",
                d.workload,
                d.reason,
                d.message,
                c.check,
                c.provider,
                c.strategy,
                c.deployment,
                c.phase,
                c.value,
                c.condition,
                c.time
            ),
            None => format!("rollout failed: {}: {}: {}", d.workload, d.reason, d.message),
        },
        Event::RollingBack { to_revision } => format!("rolling back to revision {to_revision}"),
        Event::Recorded { revision, status } => {
            format!("recorded revision {revision}: {}", status.as_str())
        }
    };
    Some(text)
}

/// `passed`, `no-data-passed`, `tolerated`, `failed`: a measurement's verdict in JSON.
fn verdict_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::NoDataPassed => "no-data-passed",
        Verdict::Tolerated { .. } => "tolerated",
        Verdict::Failed => "failed",
    }
}

/// `  canary api step 1/3 (10%): prometheus success-rate = 0.998 (result >= 0.95) ok`,
/// with `[2/3]` when the check measures more than once.
fn measured_text(m: &Measured) -> String {
    let nth = if m.count > 1 {
        format!(" [{}/{}]", m.measurement, m.count)
    } else {
        String::new()
    };
    let verdict = match &m.verdict {
        Verdict::Tolerated { failures, limit } => {
            format!("failed ({failures} of {limit} tolerated)")
        }
        v => v.as_str().to_owned(),
    };
    format!(
        "  {} {} {}: {} {}{nth} = {} ({}) {verdict}",
        m.strategy, m.deployment, m.phase, m.provider, m.check, m.value, m.condition
    )
}

/// The changed fields of an update with their old and new values (a Secret's values
/// are hashes already), for `-o json`: `[{"field", "old", "new"}]`, a side missing
/// when the field is added or removed.
pub fn changes_json(change: &Change) -> serde_json::Value {
    let Change::Update(fields) = change else {
        return serde_json::json!([]);
    };
    fields
        .iter()
        .map(|c| {
            let mut field = serde_json::json!({"field": c.path});
            if let Some(old) = &c.old {
                field["old"] = old.clone();
            }
            if let Some(new) = &c.new {
                field["new"] = new.clone();
            }
            field
        })
        .collect()
}

/// Values longer than this are cut (`…`): a whole added container is better read in
/// `slipway render`.
const VALUE_WIDTH: usize = 200;

/// A value of a changed field as one line: JSON (strings quoted), `(none)` where the
/// field is absent.
fn value_text(value: Option<&serde_json::Value>) -> String {
    let Some(value) = value else {
        return "(none)".into();
    };
    let text = value.to_string();
    if text.chars().count() <= VALUE_WIDTH {
        return text;
    }
    let cut: String = text.chars().take(VALUE_WIDTH).collect();
    format!("{cut}…")
}

/// The plan with every changed field and its values, as `diff` shows it:
///
/// ```text
///   ~ Deployment/api
///       spec.replicas: 2 → 3
///   + ConfigMap/c
/// ```
fn plan_values_text(plan: &[slipway_deploy::engine::Planned]) -> Option<String> {
    let mut lines = Vec::new();
    for p in plan {
        match &p.change {
            Change::Unchanged => {}
            Change::Create => lines.push(format!("  + {}", p.object)),
            Change::Recreate(why) => lines.push(format!(
                "  ! {} (deleted and created again: {why})",
                p.object
            )),
            Change::Update(fields) => {
                lines.push(format!("  ~ {}", p.object));
                for c in fields {
                    lines.push(format!(
                        "      {}: {} → {}",
                        c.path,
                        value_text(c.old.as_ref()),
                        value_text(c.new.as_ref())
                    ));
                }
            }
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_deploy::engine::Planned;
    use slipway_deploy::fielddiff::FieldChange;

    #[test]
    fn plan_lines_name_fields_and_hide_unchanged_objects() {
        let plan = vec![
            Planned {
                object: "Deployment/api".into(),
                change: Change::Update(
                    (0..6)
                        .map(|i| FieldChange {
                            path: format!("spec.f{i}"),
                            old: Some(serde_json::json!(i)),
                            new: None,
                        })
                        .collect(),
                ),
            },
            Planned {
                object: "Service/api".into(),
                change: Change::Unchanged,
            },
            Planned {
                object: "ConfigMap/c".into(),
                change: Change::Create,
            },
        ];
        let text = event_text(&Event::Planned(plan)).unwrap();
        assert_eq!(
            text,
            "  ~ Deployment/api (spec.f0, spec.f1, spec.f2, spec.f3 and 2 more)\n  + ConfigMap/c"
        );
        let unchanged = vec![Planned {
            object: "Service/api".into(),
            change: Change::Unchanged,
        }];
        assert_eq!(event_text(&Event::Planned(unchanged)), None);
    }

    #[test]
    fn progress_is_one_json_line_with_its_state() {
        let e = Event::Progress(Progress {
            workload: "deployment/api".into(),
            state: State::InProgress,
            message: "1 of 3 updated replicas are available".into(),
        });
        let json = event_json(&e);
        assert_eq!(json["event"], "progress");
        assert_eq!(json["state"], "InProgress");
        assert_eq!(
            event_text(&e).unwrap(),
            "  deployment/api rolling: 1 of 3 updated replicas are available"
        );
    }

    #[test]
    fn plan_values_show_old_and_new_and_absent_sides() {
        let plan = vec![Planned {
            object: "Deployment/api".into(),
            change: Change::Update(vec![
                FieldChange {
                    path: "spec.replicas".into(),
                    old: Some(serde_json::json!(2)),
                    new: Some(serde_json::json!(3)),
                },
                FieldChange {
                    path: "spec.paused".into(),
                    old: None,
                    new: Some(serde_json::json!("x".repeat(300))),
                },
            ]),
        }];
        let text = plan_values_text(&plan).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  ~ Deployment/api");
        assert_eq!(lines[1], "      spec.replicas: 2 → 3");
        assert!(
            lines[2].starts_with("      spec.paused: (none) → \"xxx"),
            "{text}"
        );
        assert!(lines[2].ends_with('…'), "{text}");
        let json = changes_json(&plan[0].change);
        assert_eq!(
            json[0],
            serde_json::json!({"field": "spec.replicas", "old": 2, "new": 3})
        );
        assert!(json[1].get("old").is_none(), "{json}");
    }
}

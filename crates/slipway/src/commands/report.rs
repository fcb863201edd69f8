//! The release report and what a release leaves for CI: provenance stamped on every
//! object before it is applied, the CI outputs and job summary once the releases ran,
//! and `--report FILE` (or `slipway report ENV [REV]`, from the record): a
//! self-contained HTML page — inline CSS, no script, nothing loaded from the network —
//! and its data as `FILE.json`.
//!
//! The page is made from the report's JSON only (see `docs/ci.md` for its shape), so
//! what it shows is exactly what the JSON says.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use slipway_deploy::engine::DeployInput;
use slipway_deploy::record::{Provenance, Release};

use crate::cli::{GlobalArgs, ReportArgs};
use crate::error::CliError;
use crate::printer::Printer;

use super::deploy::{Job, histories, runtime};
use super::project;

/// Stamps every object and hook Job of each release with its provenance (commit,
/// repository, CI run and job, user, the revision it will be recorded as, action), on
/// the object's own metadata.
pub(super) fn stamp_provenance(jobs: &mut [Job]) {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let base = crate::ci::provenance::of_environment(|k| std::env::var(k).ok(), &cwd);
    for job in jobs {
        let p = Provenance {
            commit: job.input.git_commit.clone(),
            user: Some(job.input.user.clone()),
            revision: Some(slipway_deploy::record::next_revision(&job.target.records)),
            action: Some(job.input.action.clone()),
            ..base.clone()
        };
        for o in &mut job.input.objects {
            p.stamp(o);
        }
        for h in &mut job.input.hooks {
            p.stamp(&mut h.job);
        }
    }
}

/// The annotation of a release record that keeps the report of its release (the
/// timeline, plan, diagnosis and rollback), for `slipway report` to make the same page
/// later. It is written under a field manager of its own, so the release's later writes
/// of the record (superseded, rolled back) keep it.
pub const RECORD_REPORT_ANNOTATION: &str = "slipway.dev/report";

/// Keeps `report` (one namespace's, from the journal) on its release record: read,
/// annotated and written back only if the record did not change meanwhile (retried
/// when it did).
pub(super) async fn keep_in_record(
    cluster: &slipway_deploy::cluster::Cluster,
    app: &str,
    ns: &str,
    report: &Value,
) -> Result<(), slipway_deploy::cluster::ClusterError> {
    let Some(revision) = report["revision"].as_u64() else {
        return Ok(());
    };
    let kept = json!({
        "timeline": report["timeline"],
        "plan": report["plan"],
        "diagnosis": report["diagnosis"],
        "rollback": report["rollback"],
    })
    .to_string();
    let name = slipway_deploy::record::record_name(app, revision);
    for _ in 0..5 {
        let Some(mut secret) = cluster.get("v1", "Secret", ns, &name).await? else {
            return Ok(());
        };
        if let Some(meta) = secret.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
            annotations[RECORD_REPORT_ANNOTATION] = json!(kept);
        }
        match cluster.replace(&secret, ns).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A provenance as JSON.
pub fn provenance_json(p: Option<&Provenance>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!({
            "commit": p.commit, "repository": p.repository, "ci_run": p.ci_run,
            "ci_job": p.ci_job, "user": p.user, "revision": p.revision, "action": p.action,
        }),
    }
}

/// The provenance of the release `status` shows, one line per known value.
pub(super) fn provenance_lines(p: &Provenance) -> String {
    let mut text = String::new();
    let fields = [
        ("commit", p.commit.clone()),
        ("repository", p.repository.clone()),
        ("ci run", p.ci_run.clone()),
        ("ci job", p.ci_job.clone()),
        ("by", p.user.clone()),
        ("revision", p.revision.map(|r| r.to_string())),
        ("action", p.action.clone()),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            let _ = writeln!(text, "  {k}: {v}");
        }
    }
    text
}

/// What the report says of a release besides its events: images, user, action,
/// provenance.
pub(super) fn context(input: &DeployInput) -> Value {
    let provenance = input.objects.iter().find_map(Provenance::of_object);
    json!({
        "images": images_json(&input.images),
        "user": input.user,
        "action": input.action,
        "source_revision": input.source_revision,
        "provenance": provenance_json(provenance.as_ref()),
    })
}

fn images_json(images: &[slipway_deploy::record::ReleaseImage]) -> Value {
    images
        .iter()
        .map(|i| json!({"name": i.name, "reference": i.reference, "source": i.source}))
        .collect()
}

/// Once the releases of a command ran: the CI outputs and job summary, and the report
/// when one was asked for. A file that cannot be written is a warning: the release
/// itself is done.
pub(super) fn release_finished(printer: &Printer, report: &Value, path: Option<&Path>) {
    if let Some(ci) = &printer.ci {
        ci.end_group();
        if let Err(e) = crate::ci::outputs::write(ci, report) {
            printer.info(&format!("warning: the CI outputs were not written: {e}"));
        }
        if let Err(e) = crate::ci::outputs::summary(ci, report) {
            printer.info(&format!("warning: the job summary was not written: {e}"));
        }
    }
    if let Some(path) = path {
        match write_report(path, report) {
            Ok(json_path) => printer.info(&format!(
                "report: `{}` (data: `{}`)",
                path.display(),
                json_path.display()
            )),
            Err(e) => printer.info(&format!(
                "warning: the report `{}` was not written: {e}",
                path.display()
            )),
        }
    }
}

/// Writes the page at `path` and its JSON at `path.json`; returns the latter's path.
fn write_report(path: &Path, report: &Value) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut json_path = path.as_os_str().to_owned();
    json_path.push(".json");
    let json_path = PathBuf::from(json_path);
    std::fs::write(path, html(report))?;
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(report).expect("JSON") + "\n",
    )?;
    Ok(json_path)
}

/// `slipway report ENV [REV]`: the report of a recorded release, from its record in
/// every namespace of the environment.
pub fn run(args: &ReportArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    let rt = runtime()?;
    let all = histories(&rt, &project, &env, global, printer)?;
    let mut namespaces = Vec::new();
    let mut revision_shown = None;
    for target in &all {
        let (ns, records) = (&target.ns, &target.records);
        let chosen = match args.revision {
            Some(rev) => records.iter().find(|r| r.revision == rev),
            None => slipway_deploy::record::current(records).or(records.last()),
        };
        let Some(release) = chosen else {
            return Err(match args.revision {
                Some(rev) => CliError::usage(format!(
                    "revision {rev} is not recorded in `{ns}` for `{}`",
                    env.name
                ))
                .hint(format!(
                    "`slipway history {}` lists the revisions",
                    env.name
                )),
                None => CliError::usage(format!("`{}` has no release in `{ns}`", env.name)),
            });
        };
        revision_shown.get_or_insert(release.revision);
        let secret = rt
            .block_on(target.connection().get(
                "v1",
                "Secret",
                ns,
                &slipway_deploy::record::record_name(&project.config.app, release.revision),
            ))
            .ok()
            .flatten();
        let kept = secret
            .as_ref()
            .and_then(|s| s.pointer("/metadata/annotations"))
            .and_then(|a| a.get(RECORD_REPORT_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Value>(text).ok());
        namespaces.push(from_record(release, kept.as_ref()));
    }
    let action = namespaces
        .first()
        .and_then(|n| n["action"].as_str())
        .unwrap_or("deploy")
        .to_string();
    let report = crate::ci::journal::report_document(&env.name, &action, namespaces);
    let path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "slipway-report-{}-{}.html",
            env.name,
            revision_shown.unwrap_or_default()
        ))
    });
    let json_path = write_report(&path, &report)
        .map_err(|e| CliError::usage(format!("cannot write `{}`: {e}", path.display())))?;
    if printer.format == crate::printer::Format::Json {
        printer.json(&report);
    }
    printer.info(&format!(
        "report: `{}` (data: `{}`)",
        path.display(),
        json_path.display()
    ));
    Ok(())
}

/// A namespace's report from its record: the report the release kept on it (its
/// timeline, plan, diagnosis and rollback), else — a release made before reports were
/// kept — the phases the record timed (hooks, rollout) and its outcome.
fn from_record(r: &Release, kept: Option<&Value>) -> Value {
    let start = r.started.parse::<jiff::Timestamp>().ok();
    let end = r
        .finished
        .as_deref()
        .and_then(|f| f.parse::<jiff::Timestamp>().ok());
    let total = match (start, end) {
        (Some(s), Some(e)) => (e.as_millisecond() - s.as_millisecond()) as f64 / 1000.0,
        _ => r.durations.iter().map(|(_, d)| d).sum(),
    };
    let mut at = 0.0;
    let rows: Vec<Value> = r
        .durations
        .iter()
        .map(|(phase, seconds)| {
            let row = json!({
                "name": phase, "kind": "phase", "start": at, "end": at + seconds,
                "result": if r.status == slipway_deploy::record::ReleaseStatus::Failed
                    || r.status == slipway_deploy::record::ReleaseStatus::RolledBack { "failed" } else { "ready" },
                "phases": [], "moments": [],
            });
            at += seconds;
            row
        })
        .collect();
    let plan: Vec<Value> = r
        .manifest
        .iter()
        .map(|o| {
            json!({
                "object": format!("{}/{}",
                    o.get("kind").and_then(Value::as_str).unwrap_or("?"),
                    o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?")),
                "change": "applied", "fields": [],
            })
        })
        .collect();
    let failed = matches!(
        r.status,
        slipway_deploy::record::ReleaseStatus::Failed
            | slipway_deploy::record::ReleaseStatus::RolledBack
    );
    let mut doc = json!({
        "namespace": r.namespace,
        "revision": r.revision,
        "status": r.status.as_str(),
        "started": r.started,
        "finished": r.finished,
        "user": r.user,
        "action": r.action,
        "source_revision": r.source_revision,
        "images": images_json(&r.images),
        "provenance": provenance_json(r.provenance().as_ref()),
        "plan": plan,
        "timeline": {"duration": total.max(at), "rows": rows},
        "diagnosis": if failed { json!({"workload": "", "reason": "", "message": r.outcome, "pod": null, "container": null, "events": [], "logs": []}) } else { Value::Null },
        "rollback": Value::Null,
        "outcome_text": r.outcome,
    });
    if let Some(kept) = kept {
        for key in ["timeline", "plan", "diagnosis", "rollback"] {
            if !kept[key].is_null() {
                doc[key] = kept[key].clone();
            }
        }
    }
    doc
}

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

const STYLE: &str = r#"
:root{--fg:#1d2330;--muted:#5b6475;--bg:#fff;--panel:#f5f7fa;--line:#dde2ea;--ok:#1f9d55;--fail:#d64545;--run:#3b7dd8;--pull:#8e6bd8;--start:#3b7dd8;--settle:#3fb3a3}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.35em;margin:.2em 0 .6em}
h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
h3{font-size:1em;margin:1em 0 .4em}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff;font-size:.85em;vertical-align:middle}
.deployed,.ready{background:var(--ok)}.failed,.rolled-back{background:var(--fail)}.running,.not-concluded,.pending{background:var(--run)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:.3em 0}
td,th{text-align:left;padding:.3em .5em;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{color:var(--muted);font-weight:600;overflow-wrap:normal;white-space:nowrap}
.timeline{margin:.5em 0}
.row{display:grid;grid-template-columns:minmax(8em,14em) 1fr;gap:.6em;align-items:center;margin:.25em 0}
.label{font:13px/1.3 ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.track{position:relative;height:22px;background:var(--panel);border-radius:4px}
.bar{position:absolute;top:3px;height:16px;border-radius:3px;opacity:.85}
.bar.ready{background:var(--ok)}.bar.failed{background:var(--fail)}.bar.running{background:var(--run)}
.phase{position:absolute;top:14px;height:5px;opacity:.9}
.phase.pull{background:var(--pull)}.phase.start,.phase.run{background:var(--start)}.phase.settle{background:var(--settle)}
.moment{position:absolute;top:0;width:3px;height:22px;background:var(--fail);margin-left:-1px}
.axis{display:flex;justify-content:space-between;color:var(--muted);font-size:12px}
.legend span{display:inline-block;margin-right:1em;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:12px;height:10px;margin-right:.3em;border-radius:2px;vertical-align:middle}
pre{background:var(--panel);padding:.6em;border-radius:4px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.muted{color:var(--muted)}
@media (max-width:640px){
 main{padding:10px}
 .row{grid-template-columns:1fr;gap:.1em}
 dl.facts{grid-template-columns:1fr}
 dl.facts dt{margin-top:.4em}
 table.plan tr>:nth-child(3){display:none}
}
"#;

/// The report page: self-contained, readable on a laptop and on a phone.
pub fn html(report: &Value) -> String {
    let env = s(report, "environment");
    let action = s(report, "action");
    let outcome = s(report, "outcome");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>slipway {} {} — {}</title><style>{STYLE}</style></head><body><main>\
<h1>slipway {} <code>{}</code> <span class=\"badge {}\" id=\"outcome\">{}</span></h1>\
<p class=\"muted\">report made {}</p>",
        esc(action),
        esc(env),
        esc(outcome),
        esc(action),
        esc(env),
        esc(&outcome.replace(' ', "-")),
        esc(outcome),
        esc(s(report, "generated")),
    );
    for n in report["namespaces"].as_array().into_iter().flatten() {
        namespace_html(&mut h, n);
    }
    h.push_str("</main></body></html>\n");
    h
}

fn namespace_html(h: &mut String, n: &Value) {
    let ns = s(n, "namespace");
    let status = s(n, "status");
    let revision = n["revision"]
        .as_u64()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "–".into());
    let _ = write!(
        h,
        "<section class=\"namespace\" data-namespace=\"{}\"><h2>namespace <code>{}</code> · revision {} <span class=\"badge {}\">{}</span></h2>",
        esc(ns),
        esc(ns),
        esc(&revision),
        esc(&status.replace(' ', "-")),
        esc(status)
    );
    // Facts and provenance.
    h.push_str("<dl class=\"facts\">");
    let mut fact = |k: &str, v: &str| {
        if !v.is_empty() {
            let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), v);
        }
    };
    fact("action", &esc(s(n, "action")));
    fact("started", &esc(s(n, "started")));
    fact("user", &esc(s(n, "user")));
    if let Some(src) = n["source_revision"].as_u64() {
        fact("source revision", &src.to_string());
    }
    let p = &n["provenance"];
    fact(
        "commit",
        &p["commit"]
            .as_str()
            .map(|c| format!("<code>{}</code>", esc(c)))
            .unwrap_or_default(),
    );
    fact("repository", &esc(s(p, "repository")));
    fact(
        "CI run",
        &p["ci_run"]
            .as_str()
            .map(|u| format!("<a href=\"{}\">{}</a>", esc(u), esc(u)))
            .unwrap_or_default(),
    );
    fact("CI job", &esc(s(p, "ci_job")));
    if let Some(text) = n["outcome_text"].as_str() {
        fact("outcome", &esc(text));
    }
    h.push_str("</dl>");
    // Images.
    let images = n["images"].as_array().cloned().unwrap_or_default();
    if !images.is_empty() {
        h.push_str(
            "<h3>Images</h3><table class=\"images\"><tr><th>image</th><th>reference</th></tr>",
        );
        for i in &images {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(s(i, "name")),
                esc(s(i, "reference"))
            );
        }
        h.push_str("</table>");
    }
    timeline_html(h, n);
    diagnosis_html(h, n);
    // The plan.
    let plan = n["plan"].as_array().cloned().unwrap_or_default();
    if !plan.is_empty() {
        let unchanged = plan
            .iter()
            .filter(|p| s(p, "change") == "unchanged")
            .count();
        h.push_str("<h3>Plan</h3><table class=\"plan\"><tr><th>object</th><th>change</th><th>fields</th></tr>");
        for p in plan.iter().filter(|p| s(p, "change") != "unchanged") {
            let fields: Vec<String> = p["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(esc))
                .collect();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(s(p, "object")),
                esc(s(p, "change")),
                fields.join(", ")
            );
        }
        h.push_str("</table>");
        if unchanged > 0 {
            let _ = write!(h, "<p class=\"muted\">{unchanged} object(s) unchanged</p>");
        }
    }
    h.push_str("</section>");
}

/// A percentage of the timeline, for CSS.
fn pct(seconds: f64, duration: f64) -> f64 {
    if duration <= 0.0 {
        return 0.0;
    }
    ((seconds / duration) * 100.0).clamp(0.0, 100.0)
}

fn timeline_html(h: &mut String, n: &Value) {
    let rows = n["timeline"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if rows.is_empty() {
        return;
    }
    let duration = n["timeline"]["duration"].as_f64().unwrap_or(0.0).max(0.001);
    h.push_str("<h3>Timeline</h3><div class=\"legend\"><span><i style=\"background:var(--pull)\"></i>pull</span><span><i style=\"background:var(--start)\"></i>start</span><span><i style=\"background:var(--settle)\"></i>settle</span><span><i style=\"background:var(--ok)\"></i>ready</span><span><i style=\"background:var(--fail)\"></i>failed / event</span></div><div class=\"timeline\">");
    for r in &rows {
        let start = r["start"].as_f64().unwrap_or(0.0);
        let end = r["end"].as_f64().unwrap_or(start).max(start);
        let left = pct(start, duration);
        let width = (pct(end, duration) - left).max(0.4);
        let result = s(r, "result");
        let _ = write!(
            h,
            "<div class=\"row\"><div class=\"label\">{}</div><div class=\"track\"><div class=\"bar {}\" data-name=\"{}\" data-start=\"{start}\" data-end=\"{end}\" style=\"left:{left:.3}%;width:{width:.3}%\" title=\"{} {}: {start:.1}s → {end:.1}s\"></div>",
            esc(s(r, "name")),
            esc(result),
            esc(s(r, "name")),
            esc(s(r, "name")),
            esc(result),
        );
        for p in r["phases"].as_array().into_iter().flatten() {
            let ps = p["start"].as_f64().unwrap_or(start);
            let pe = p["end"].as_f64().unwrap_or(ps).max(ps);
            let pl = pct(ps, duration);
            let pw = (pct(pe, duration) - pl).max(0.2);
            let _ = write!(
                h,
                "<div class=\"phase {}\" style=\"left:{pl:.3}%;width:{pw:.3}%\" title=\"{}: {ps:.1}s → {pe:.1}s\"></div>",
                esc(s(p, "phase")),
                esc(s(p, "phase"))
            );
        }
        for m in r["moments"].as_array().into_iter().flatten() {
            let at = m["at"].as_f64().unwrap_or(0.0);
            let _ = write!(
                h,
                "<div class=\"moment\" data-reason=\"{}\" style=\"left:{:.3}%\" title=\"{:.1}s {}: {}\"></div>",
                esc(s(m, "reason")),
                pct(at, duration),
                at,
                esc(s(m, "reason")),
                esc(s(m, "message"))
            );
        }
        h.push_str("</div></div>");
    }
    let _ = write!(
        h,
        "<div class=\"row\"><div></div><div class=\"axis\"><span>0s</span><span>{:.1}s</span><span>{:.1}s</span></div></div></div>",
        duration / 2.0,
        duration
    );
}

fn diagnosis_html(h: &mut String, n: &Value) {
    let d = &n["diagnosis"];
    if d.is_null() {
        return;
    }
    h.push_str("<h3>Why it failed</h3><div class=\"diagnosis\">");
    if !s(d, "workload").is_empty() {
        let _ = write!(
            h,
            "<p><code>{}</code>: <strong>{}</strong>: {}</p>",
            esc(s(d, "workload")),
            esc(s(d, "reason")),
            esc(s(d, "message"))
        );
    } else {
        let _ = write!(h, "<p>{}</p>", esc(s(d, "message")));
    }
    if let Some(pod) = d["pod"].as_str() {
        let container = d["container"]
            .as_str()
            .map(|c| format!(" (container <code>{}</code>)", esc(c)))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<p>pod <code class=\"pod\">{}</code>{container}</p>",
            esc(pod)
        );
    }
    let events = d["events"].as_array().cloned().unwrap_or_default();
    if !events.is_empty() {
        h.push_str("<p class=\"muted\">last events</p><pre>");
        for e in &events {
            let kind = if e["warning"].as_bool() == Some(true) {
                "Warning"
            } else {
                "Normal"
            };
            let _ = writeln!(
                h,
                "{} {kind} {}: {}",
                esc(s(e, "time")),
                esc(s(e, "reason")),
                esc(s(e, "message"))
            );
        }
        h.push_str("</pre>");
    }
    let logs = d["logs"].as_array().cloned().unwrap_or_default();
    if !logs.is_empty() {
        h.push_str("<p class=\"muted\">last log lines</p><pre class=\"logs\">");
        for l in &logs {
            let _ = writeln!(h, "{}", esc(l.as_str().unwrap_or("")));
        }
        h.push_str("</pre>");
    }
    if let Some(to) = n["rollback"]["to_revision"].as_u64() {
        let _ = write!(h, "<p class=\"rollback\">rolled back to revision {to}</p>");
    }
    h.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_places_bars_by_the_json_and_escapes_what_it_shows() {
        let report = json!({
            "environment": "dev", "action": "deploy", "outcome": "rolled-back", "generated": "now",
            "namespaces": [{"namespace": "shop", "revision": 2, "status": "rolled-back",
                "timeline": {"duration": 10.0, "rows": [{"name": "deployment/<api>", "start": 2.5, "end": 7.5, "result": "failed", "phases": [], "moments": []}]},
                "diagnosis": {"workload": "deployment/api", "reason": "CrashLoopBackOff", "message": "m", "pod": "api-1", "container": "api", "events": [], "logs": ["<script>"]},
                "rollback": {"to_revision": 1}}],
        });
        let page = html(&report);
        assert!(
            page.contains("style=\"left:25.000%;width:50.000%\""),
            "{page}"
        );
        assert!(page.contains("deployment/&lt;api&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("rolled back to revision 1"));
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}

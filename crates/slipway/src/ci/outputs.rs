//! What a command leaves for the pipeline besides its log: validation findings as
//! annotations (and GitLab's Code Quality report), the outputs later steps read
//! (revision, environment, images with their digests, outcome), and a job summary in
//! Markdown (the release table, the diagnosis of a failure, the timeline).
//!
//! Only what the release records is written: images, revisions, commits and the
//! diagnosis. Secret values never reach a record or a report, so never reach these.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use slipway_check::{Level as CheckLevel, Report};

use super::{Annotation, Ci, Level, Location, System, repository_path};

/// The file GitLab reads Code Quality findings from, unless
/// `SLIPWAY_CODE_QUALITY_REPORT` names another.
pub const CODE_QUALITY_FILE: &str = "gl-code-quality-report.json";
/// The dotenv file GitLab reads a job's outputs from, unless `SLIPWAY_DOTENV` names
/// another.
pub const DOTENV_FILE: &str = "slipway.env";

/// Shows the findings of the namespaces' validation as annotations at their file, line
/// and column, errors first; on GitLab, also writes them as a Code Quality report.
pub fn findings(ci: &Ci, reports: &[(&str, &Report)]) -> std::io::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    let mut annotations = Vec::new();
    let mut quality = Vec::new();
    for (_, report) in reports {
        for f in &report.findings {
            let file = repository_path(&f.file);
            let key = (file.clone(), f.line, f.rule, f.message.clone());
            if !seen.insert(key) {
                continue;
            }
            let level = match f.level {
                CheckLevel::Error => Level::Error,
                _ => Level::Warning,
            };
            let message = format!(
                "{}/{} `{}`: {}; fix: {}",
                f.object.kind, f.object.name, f.field, f.message, f.fix
            );
            let fingerprint: String = Sha256::digest(
                format!(
                    "{}\0{}\0{}\0{}/{}",
                    f.rule, file, f.field, f.object.kind, f.object.name
                )
                .as_bytes(),
            )
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
            quality.push(json!({
                "description": message,
                "check_name": f.rule,
                "fingerprint": fingerprint,
                "severity": if level == Level::Error { "major" } else { "minor" },
                "location": {"path": file, "lines": {"begin": f.line}},
            }));
            annotations.push(Annotation {
                level,
                location: Some(Location {
                    file,
                    line: f.line,
                    column: f.column,
                }),
                title: Some(f.rule.to_string()),
                message,
            });
        }
    }
    ci.annotate(&annotations);
    if ci.system == System::Gitlab {
        let path = std::env::var_os("SLIPWAY_CODE_QUALITY_REPORT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(CODE_QUALITY_FILE));
        let text = serde_json::to_string_pretty(&Value::Array(quality)).expect("JSON");
        std::fs::write(&path, text)?;
    }
    Ok(())
}

/// The outputs of a release for later steps, from its report: `environment`,
/// `outcome`, `revision` (of the first namespace), `revisions` (JSON, namespace →
/// revision), `images` (JSON, image → reference with its digest) and one
/// `image_<name>` per image.
pub fn values(report: &Value) -> Vec<(String, String)> {
    let namespaces = report["namespaces"].as_array().cloned().unwrap_or_default();
    let mut out = vec![
        (
            "environment".to_string(),
            report["environment"].as_str().unwrap_or("").to_string(),
        ),
        (
            "outcome".into(),
            report["outcome"].as_str().unwrap_or("").to_string(),
        ),
    ];
    let first_revision = namespaces
        .first()
        .and_then(|n| n["revision"].as_u64())
        .map(|r| r.to_string())
        .unwrap_or_default();
    out.push(("revision".into(), first_revision));
    let revisions: serde_json::Map<String, Value> = namespaces
        .iter()
        .filter_map(|n| Some((n["namespace"].as_str()?.to_string(), n["revision"].clone())))
        .collect();
    out.push(("revisions".into(), Value::Object(revisions).to_string()));
    let mut images = serde_json::Map::new();
    for n in &namespaces {
        for i in n["images"].as_array().into_iter().flatten() {
            if let (Some(name), Some(reference)) = (i["name"].as_str(), i["reference"].as_str()) {
                images
                    .entry(name.to_string())
                    .or_insert_with(|| json!(reference));
            }
        }
    }
    for (name, reference) in &images {
        let key: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        out.push((
            format!("image_{key}"),
            reference.as_str().unwrap_or("").to_string(),
        ));
    }
    out.push(("images".into(), Value::Object(images).to_string()));
    out
}

/// Random hex, for a delimiter no value can contain by chance.
fn random_hex() -> String {
    let mut bytes = [0u8; 12];
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Writes the outputs (see [`values`]) where the system reads them: GitHub's
/// `$GITHUB_OUTPUT` file (each value between delimiters, so a value may hold any line),
/// Azure's `task.setvariable` commands (output variables of the step), GitLab's dotenv
/// report (`SLIPWAY_<NAME>=value`).
pub fn write(ci: &Ci, report: &Value) -> std::io::Result<()> {
    let values = values(report);
    match ci.system {
        System::Github => {
            let Some(path) = std::env::var_os("GITHUB_OUTPUT") else {
                return Ok(());
            };
            let mut text = String::new();
            for (name, value) in &values {
                let delimiter = loop {
                    let d = format!("slipway_{}", random_hex());
                    if !value.contains(&d) {
                        break d;
                    }
                };
                text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
            }
            append(std::path::Path::new(&path), &text)
        }
        System::Azure => {
            for (name, value) in &values {
                ci.emit(&format!(
                    "##vso[task.setvariable variable={name};isOutput=true]{}",
                    super::azure_data(value)
                ));
            }
            Ok(())
        }
        System::Gitlab => {
            let path = std::env::var_os("SLIPWAY_DOTENV")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DOTENV_FILE));
            let mut text = String::new();
            for (name, value) in &values {
                // A dotenv value is one line.
                let value = value.replace(['\n', '\r'], " ");
                text.push_str(&format!("SLIPWAY_{}={value}\n", name.to_ascii_uppercase()));
            }
            std::fs::write(path, text)
        }
    }
}

/// Writes the job summary: appended to `$GITHUB_STEP_SUMMARY` on GitHub; on Azure,
/// written to a file (in `$AGENT_TEMPDIRECTORY`, else `.slipway/`) uploaded with
/// `task.uploadsummary`. GitLab has no job summary: nothing is written.
pub fn summary(ci: &Ci, report: &Value) -> std::io::Result<()> {
    let text = markdown(report);
    match ci.system {
        System::Github => match std::env::var_os("GITHUB_STEP_SUMMARY") {
            Some(path) => append(std::path::Path::new(&path), &text),
            None => Ok(()),
        },
        System::Azure => {
            let dir = std::env::var_os("AGENT_TEMPDIRECTORY")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".slipway"));
            std::fs::create_dir_all(&dir)?;
            let name = format!(
                "slipway-{}-{}.md",
                report["action"].as_str().unwrap_or("release"),
                report["environment"].as_str().unwrap_or("env")
            );
            let path = std::path::absolute(dir.join(name))?;
            std::fs::write(&path, text)?;
            ci.emit(&format!(
                "##vso[task.uploadsummary]{}",
                super::azure_data(&path.display().to_string())
            ));
            Ok(())
        }
        System::Gitlab => Ok(()),
    }
}

/// A value for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The job summary of a release, in Markdown.
pub fn markdown(report: &Value) -> String {
    use std::fmt::Write as _;
    let env = report["environment"].as_str().unwrap_or("");
    let action = report["action"].as_str().unwrap_or("");
    let outcome = report["outcome"].as_str().unwrap_or("");
    let mut md = format!("### slipway {action} `{env}`: {outcome}\n\n");
    md.push_str(
        "| namespace | revision | status | took | commit | by |\n|---|---|---|---|---|---|\n",
    );
    let namespaces = report["namespaces"].as_array().cloned().unwrap_or_default();
    for n in &namespaces {
        let revision = n["revision"]
            .as_u64()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "–".into());
        let commit = n["provenance"]["commit"]
            .as_str()
            .map(|c| format!("`{}`", &c[..c.len().min(12)]))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            md,
            "| `{}` | {revision} | {} | {:.1}s | {commit} | {} |",
            cell(n["namespace"].as_str().unwrap_or("")),
            cell(n["status"].as_str().unwrap_or("")),
            n["timeline"]["duration"].as_f64().unwrap_or(0.0),
            cell(n["user"].as_str().unwrap_or("")),
        );
    }
    let images: Vec<&Value> = namespaces
        .first()
        .and_then(|n| n["images"].as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if !images.is_empty() {
        md.push_str("\n| image | reference |\n|---|---|\n");
        for i in images {
            let _ = writeln!(
                md,
                "| `{}` | `{}` |",
                cell(i["name"].as_str().unwrap_or("")),
                cell(i["reference"].as_str().unwrap_or(""))
            );
        }
    }
    if let Some(run) = namespaces
        .first()
        .and_then(|n| n["provenance"]["ci_run"].as_str())
    {
        let _ = writeln!(md, "\nRun: {run}");
    }
    for n in &namespaces {
        let d = &n["diagnosis"];
        if d.is_null() {
            continue;
        }
        let _ = writeln!(
            md,
            "\n#### Why it failed in `{}`\n\n**{}**: **{}**: {}",
            n["namespace"].as_str().unwrap_or(""),
            d["workload"].as_str().unwrap_or(""),
            d["reason"].as_str().unwrap_or(""),
            d["message"].as_str().unwrap_or("")
        );
        if let Some(pod) = d["pod"].as_str() {
            let container = d["container"]
                .as_str()
                .map(|c| format!(" (container `{c}`)"))
                .unwrap_or_default();
            let _ = writeln!(md, "\npod `{pod}`{container}");
        }
        let events = d["events"].as_array().cloned().unwrap_or_default();
        let logs = d["logs"].as_array().cloned().unwrap_or_default();
        if !events.is_empty() || !logs.is_empty() {
            md.push_str("\n```text\n");
            for e in &events {
                let _ = writeln!(
                    md,
                    "{} {}: {}",
                    if e["warning"].as_bool() == Some(true) {
                        "Warning"
                    } else {
                        "Normal"
                    },
                    e["reason"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("").replace("```", "'''")
                );
            }
            if !logs.is_empty() {
                md.push_str("last log lines:\n");
                for l in &logs {
                    let _ = writeln!(md, "  {}", l.as_str().unwrap_or("").replace("```", "'''"));
                }
            }
            md.push_str("```\n");
        }
        if let Some(to) = n["rollback"]["to_revision"].as_u64() {
            let _ = writeln!(md, "\nRolled back to revision {to}.");
        }
    }
    md.push_str(&gantt(&namespaces));
    md
}

/// The timeline as a Mermaid Gantt chart (GitHub draws it in the summary).
fn gantt(namespaces: &[Value]) -> String {
    use std::fmt::Write as _;
    let rows: usize = namespaces
        .iter()
        .map(|n| n["timeline"]["rows"].as_array().map_or(0, Vec::len))
        .sum();
    if rows == 0 {
        return String::new();
    }
    let mut md = String::from("\n```mermaid\ngantt\n  dateFormat x\n  axisFormat %M:%S\n");
    for n in namespaces {
        let _ = writeln!(
            md,
            "  section {}",
            clean(n["namespace"].as_str().unwrap_or(""))
        );
        for r in n["timeline"]["rows"].as_array().into_iter().flatten() {
            let tag = match r["result"].as_str() {
                Some("failed") => "crit, ",
                Some("ready") => "done, ",
                _ => "active, ",
            };
            let ms = |v: &Value| (v.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            let (start, end) = (ms(&r["start"]), ms(&r["end"]).max(ms(&r["start"]) + 1));
            let _ = writeln!(
                md,
                "  {} :{tag}{start}, {end}",
                clean(r["name"].as_str().unwrap_or(""))
            );
        }
    }
    md.push_str("```\n");
    md
}

/// A name Mermaid takes as a task or section title.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, ':' | '#' | ';') { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Value {
        json!({
            "environment": "dev", "action": "deploy", "outcome": "rolled-back",
            "namespaces": [{
                "namespace": "shop-dev", "revision": 2, "status": "rolled-back", "user": "ci",
                "images": [{"name": "api", "reference": "r.example/api:1@sha256:ab"}],
                "provenance": {"commit": "0123456789abcdef", "ci_run": "https://ci/run/1"},
                "timeline": {"duration": 3.5, "rows": [{"name": "deployment/api", "start": 0.1, "end": 3.0, "result": "failed"}]},
                "diagnosis": {"workload": "deployment/api", "reason": "CrashLoopBackOff", "message": "m", "pod": "api-1", "container": "api", "events": [], "logs": ["boom"]},
                "rollback": {"to_revision": 1},
            }],
        })
    }

    #[test]
    fn outputs_carry_the_revision_and_the_images_with_their_digests() {
        let v = values(&report());
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("revision"), Some("2"));
        assert_eq!(get("outcome"), Some("rolled-back"));
        assert_eq!(get("image_api"), Some("r.example/api:1@sha256:ab"));
        assert_eq!(
            get("images"),
            Some(r#"{"api":"r.example/api:1@sha256:ab"}"#)
        );
        assert_eq!(get("revisions"), Some(r#"{"shop-dev":2}"#));
    }

    #[test]
    fn the_summary_names_the_failing_pod_and_reason_and_draws_the_timeline() {
        let md = markdown(&report());
        assert!(
            md.starts_with("### slipway deploy `dev`: rolled-back\n"),
            "{md}"
        );
        assert!(
            md.contains("| `shop-dev` | 2 | rolled-back | 3.5s | `0123456789ab` | ci |"),
            "{md}"
        );
        assert!(
            md.contains("**deployment/api**: **CrashLoopBackOff**: m"),
            "{md}"
        );
        assert!(md.contains("pod `api-1` (container `api`)"), "{md}");
        assert!(md.contains("  deployment/api :crit, 100, 3000"), "{md}");
        assert!(md.contains("Rolled back to revision 1."), "{md}");
    }
}

//! `slipway test ENV`: a chart's `test` hooks (`helm.sh/hook: test`, Pods or Jobs) run
//! against the current release of each namespace, as `helm test` runs them: rendered
//! with the release's images, an earlier run's object replaced, each watched until it
//! succeeds or fails, its logs printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway_deploy::cluster::{Apply, Cluster};
use slipway_render::release::RenderedHook;

use crate::cli::{GlobalArgs, TestArgs};
use crate::error::CliError;
use crate::exit;
use crate::printer::{Format, Printer};

use super::{deploy, project, release};

/// How long a test may run without `--timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

pub fn run(args: &TestArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    if env.chart.is_none() {
        return Err(CliError::usage(format!(
            "`slipway test` runs the `test` hooks of a chart, and `{}` has no chart",
            env.name
        ))
        .hint("set `manifests.chart` in `slipway.yaml` (see docs/helm.md)"));
    }
    let timeout = deploy::parse_duration("--timeout", &args.timeout, DEFAULT_TIMEOUT)?;
    let rt = deploy::runtime()?;
    let all = deploy::histories(&rt, &project, &env, global, printer)?;
    let resolver = release::Resolver::new(&project.config, release::RegistryNeed::BestEffort);
    let mut warnings = release::Warnings::default();
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for t in &all {
        let ns = &t.ns;
        let Some(current) = slipway_deploy::record::current(&t.records) else {
            return Err(CliError::usage(format!(
                "`{ns}` has no deployed release of `{}` to test",
                env.name
            ))
            .hint(format!("deploy it first: `slipway deploy {}`", env.name)));
        };
        let key = rt.block_on(release::cluster_key(
            t.connection(),
            &project.config.app,
            ns,
        ))?;
        // The chart as the current release has it: its images, its revision.
        let overrides: Vec<(String, String)> = current
            .images
            .iter()
            .map(|i| (i.name.clone(), i.reference.clone()))
            .collect();
        let request = release::ImageRequest {
            builds: &[],
            overrides: &overrides,
            origin: release::OverrideOrigin::Promotion,
            only: &[],
            missing: release::MissingImages::KeepManifest,
        };
        let target = release::Target {
            ns,
            current: Some(current),
            secret_key: &key.key,
            at: super::deploy::chart_release(
                &rt,
                &t.connection,
                &env,
                current.revision,
                t.records.iter().any(|r| r.revision < current.revision),
            )?,
        };
        let (_, rendered) = release::release_namespace(
            &project,
            &env,
            &target,
            &request,
            &resolver,
            &mut warnings,
        )?;
        if rendered.tests.is_empty() {
            printer.info(&format!("the chart has no `test` hooks to run in `{ns}`"));
            continue;
        }
        for test in &rendered.tests {
            printer.info(&format!(
                "test `{}` in `{ns}` (revision {})",
                test.name, current.revision
            ));
            let outcome = rt.block_on(run_test(&t.connection, ns, test, timeout));
            let outcome = outcome.map_err(|e| {
                CliError::new(exit::UNREACHABLE, format!("test `{}`: {e}", test.name))
            })?;
            for line in &outcome.logs {
                printer.info(&format!("  {} | {line}", test.name));
            }
            let state = if outcome.passed { "passed" } else { "failed" };
            printer.info(&format!(
                "test `{}`: {state} ({}) in {:.1}s",
                test.name, outcome.phase, outcome.seconds
            ));
            if !outcome.passed {
                failed.push(format!("`{}` in `{ns}`", test.name));
            }
            results.push(json!({
                "namespace": ns,
                "test": test.name,
                "kind": test.job.kind(),
                "passed": outcome.passed,
                "phase": outcome.phase,
                "seconds": outcome.seconds,
                "logs": outcome.logs,
            }));
        }
    }
    warnings.print(printer, all.len());
    if printer.format == Format::Json {
        printer.json(&json!({"environment": env.name, "tests": results}));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            exit::HOOK_FAILED,
            format!("test {} failed", failed.join(", ")),
        ))
    }
}

/// How one test ended.
struct Outcome {
    passed: bool,
    /// `Succeeded`, `Failed`, `Complete` or `timed out`.
    phase: String,
    seconds: f64,
    logs: Vec<String>,
}

/// Replaces an earlier run's object, applies the test and watches it until it is over.
async fn run_test(
    cluster: &Arc<Cluster>,
    ns: &str,
    test: &RenderedHook,
    timeout: Duration,
) -> Result<Outcome, slipway_deploy::cluster::ClusterError> {
    let obj = &test.job.value;
    let api_version = obj["apiVersion"].as_str().unwrap_or("v1");
    let kind = test.job.kind();
    let name = test.job.name();
    // An earlier run's object goes first, as Helm's default `before-hook-creation`.
    cluster.delete(api_version, kind, ns, name).await?;
    let started = Instant::now();
    while cluster.get(api_version, kind, ns, name).await?.is_some() {
        if started.elapsed() > timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    cluster.apply(obj, ns, Apply::Force).await?;
    let phase = loop {
        let live = cluster.get(api_version, kind, ns, name).await?;
        if let Some(phase) = live.as_ref().and_then(|l| finished(kind, l)) {
            break phase;
        }
        if started.elapsed() > timeout {
            break "timed out".to_owned();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let passed = phase == "Succeeded" || phase == "Complete";
    let pods = if kind == "Job" {
        cluster
            .list("v1", "Pod", ns, &format!("job-name={name}"))
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    } else {
        vec![name.to_owned()]
    };
    let mut logs = Vec::new();
    for pod in pods {
        logs.extend(slipway_deploy::track::last_logs(cluster, ns, &pod, None).await);
    }
    let delete = if passed {
        test.delete_on_success
    } else {
        test.delete_on_failure
    };
    if delete {
        cluster.delete(api_version, kind, ns, name).await?;
    }
    Ok(Outcome {
        passed,
        phase,
        seconds: started.elapsed().as_secs_f64(),
        logs,
    })
}

/// How a test object ended, once it has: a Pod's phase, a Job's condition.
fn finished(kind: &str, live: &Value) -> Option<String> {
    if kind == "Pod" {
        let phase = live.pointer("/status/phase").and_then(Value::as_str)?;
        return matches!(phase, "Succeeded" | "Failed").then(|| phase.to_owned());
    }
    let conditions = live
        .pointer("/status/conditions")
        .and_then(Value::as_array)?;
    conditions.iter().find_map(|c| {
        let kind = c.get("type").and_then(Value::as_str)?;
        let on = c.get("status").and_then(Value::as_str) == Some("True");
        (on && matches!(kind, "Complete" | "Failed")).then(|| kind.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_end_by_phase_and_jobs_by_condition() {
        let pod = json!({"status": {"phase": "Succeeded"}});
        assert_eq!(finished("Pod", &pod).as_deref(), Some("Succeeded"));
        assert_eq!(
            finished("Pod", &json!({"status": {"phase": "Running"}})),
            None
        );
        let job = json!({"status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert_eq!(finished("Job", &job).as_deref(), Some("Failed"));
        assert_eq!(finished("Job", &json!({"status": {}})), None);
    }
}

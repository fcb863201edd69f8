//! Hooks: Jobs run to completion under names unique to the release — pre-deploy hooks
//! (migrations) before any workload changes, post-deploy hooks (smoke tests) once every
//! workload is ready. No hook of a release ever runs beside a hook Job of an earlier
//! release that still runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    DeployError, DeployInput, During, Event, Hook, conclude, delete_object, interrupted,
    set_namespace_if_namespaced, unless_interrupted,
};
use crate::cluster::{Apply, Cluster, object_name};
use crate::record::Release;
use crate::track::{self, Diagnosis, Progress, TrackOptions, Workload};

/// Waits for the hook Jobs of earlier releases that still run, then runs the pre-deploy
/// hooks in file order. A failed or interrupted hook records the release as failed
/// (nothing else was changed) and stops it.
///
/// # Errors
///
/// [`DeployError::HookFailed`], [`DeployError::Interrupted`], or a cluster error.
pub(super) async fn pre_deploy(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    release: &mut Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), DeployError> {
    let ns = &input.namespace;
    let revision = release.revision;
    let started = Instant::now();
    // A hook Job of an earlier, interrupted release may still run: never beside it.
    if !input.hooks.is_empty() {
        let wait = unless_interrupted(
            &input.interrupt,
            wait_for_earlier_hooks(cluster, ns, &input.hooks, revision, report),
        );
        let (outcome, error) = match wait.await {
            Some(Ok(())) => (None, None),
            Some(Err(DeployError::HookFailed { name, diagnosis })) => (
                Some(format!("hook `{name}`: {}", diagnosis.message)),
                Some(DeployError::HookFailed { name, diagnosis }),
            ),
            Some(Err(e)) => return Err(e),
            None => (
                Some("interrupted while an earlier release's hook Job ran".to_owned()),
                Some(DeployError::Interrupted {
                    during: "while waiting for an earlier release's hook Job".into(),
                }),
            ),
        };
        if let (Some(outcome), Some(error)) = (outcome, error) {
            conclude::stopped(cluster, release, outcome, report).await?;
            return Err(error);
        }
    }
    let pre_hooks: Vec<&Hook> = input.hooks.iter().filter(|h| !h.post_deploy).collect();
    for hook in &pre_hooks {
        let run = run_hook(cluster, ns, hook, revision, report);
        let (outcome, error) = match unless_interrupted(&input.interrupt, run).await {
            Some(Ok(())) => continue,
            Some(Err(diagnosis)) => (
                format!("hook `{}` failed: {}", hook.name, diagnosis.message),
                DeployError::HookFailed {
                    name: hook.name.clone(),
                    diagnosis,
                },
            ),
            None => (
                format!(
                    "interrupted while hook `{}` ran; its Job may still be running",
                    hook.name
                ),
                DeployError::Interrupted {
                    during: format!("while hook `{}` ran", hook.name),
                },
            ),
        };
        conclude::stopped(cluster, release, outcome, report).await?;
        return Err(error);
    }
    if !pre_hooks.is_empty() {
        release
            .durations
            .push(("hooks".into(), started.elapsed().as_secs_f64()));
    }
    Ok(())
}

/// Runs the post-deploy hooks in file order, once every workload is ready; the first
/// that fails (or is interrupted) fails the release.
///
/// # Errors
///
/// The diagnosis of the failed hook.
pub(super) async fn post_deploy(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    release: &mut Release,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let post_hooks: Vec<&Hook> = input.hooks.iter().filter(|h| h.post_deploy).collect();
    if post_hooks.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let mut result = Ok(());
    for hook in &post_hooks {
        let run = run_hook(cluster, &input.namespace, hook, release.revision, report);
        result = unless_interrupted(&input.interrupt, run)
            .await
            .unwrap_or_else(|| Err(interrupted(&format!("hook `{}`", hook.name), "it finished")));
        if result.is_err() {
            break;
        }
    }
    release
        .durations
        .push(("post-deploy hooks".into(), started.elapsed().as_secs_f64()));
    result
}

/// Waits for the hook Jobs of earlier releases that still run — a deploy killed or
/// interrupted while its migration ran leaves its Job running — so that no hook of this
/// release (`revision`) ever runs beside one of them. Each is waited for up to its hook's
/// timeout, and reported as it goes; a Job that failed is over too, and one whose pod
/// can never start (a missing image) ran nothing and is stopped.
///
/// # Errors
///
/// [`DeployError::HookFailed`] when one still runs after its hook's timeout;
/// a cluster error.
async fn wait_for_earlier_hooks(
    cluster: &Arc<Cluster>,
    ns: &str,
    hooks: &[Hook],
    revision: u64,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), DeployError> {
    let jobs = cluster
        .list("batch/v1", "Job", ns, "")
        .await
        .during("reading the hook Jobs of earlier releases")?;
    for hook in hooks {
        let base = object_name(&hook.job).unwrap_or(&hook.name);
        for job in &jobs {
            let Some(name) = object_name(job) else {
                continue;
            };
            let Some(of) = hook_job_revision(base, name).filter(|r| *r != revision) else {
                continue;
            };
            if job_finished(job) {
                continue;
            }
            let workload = Workload {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                namespace: ns.to_string(),
                name: name.to_string(),
            };
            report(Event::Progress(Progress {
                workload: workload.label(),
                state: crate::status::State::InProgress,
                message: format!(
                    "hook `{}` of revision {of} still runs: waiting for it to end before any hook of revision {revision} starts",
                    hook.name
                ),
            }));
            let options = TrackOptions {
                timeout: hook.timeout,
                crashloop_tolerance: u32::MAX,
                since: Timestamp::now(),
                settle: Duration::ZERO,
            };
            let progress = |p: &Progress| report(Event::Progress(p.clone()));
            let tracked = track::track(
                cluster,
                ns,
                std::slice::from_ref(&workload),
                &options,
                &progress,
            )
            .await;
            let Err(diagnosis) = tracked else { continue };
            // Failed is over as well; only a Job that still runs stops this release.
            let now = cluster
                .get("batch/v1", "Job", ns, name)
                .await
                .during(format!("reading Job `{name}`"))?;
            if now.as_ref().is_none_or(job_finished) {
                continue;
            }
            // A Job whose pod can never start (its image is missing, say) runs nothing:
            // it is stopped, so that it cannot start later beside this release's hook.
            if NEVER_STARTS.contains(&diagnosis.reason.as_str()) {
                delete_object(cluster, job, ns)
                    .await
                    .during(format!("stopping Job `{name}`"))?;
                report(Event::Progress(Progress {
                    workload: workload.label(),
                    state: crate::status::State::Terminating,
                    message: format!(
                        "stopped: its pod never started ({}), so it ran nothing",
                        diagnosis.reason
                    ),
                }));
                continue;
            }
            return Err(DeployError::HookFailed {
                name: hook.name.clone(),
                diagnosis: Box::new(Diagnosis {
                    message: format!(
                        "the Job `{name}` of revision {of} still runs after {}s; no hook of revision {revision} was started beside it (delete the Job to stop it)",
                        hook.timeout.as_secs()
                    ),
                    ..*diagnosis
                }),
            });
        }
    }
    Ok(())
}

/// Reasons of a pod whose container can never start as it is: a Job with such a pod runs
/// nothing and can be stopped safely.
const NEVER_STARTS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "Unschedulable",
];

/// The revision whose hook Job `name` is, when it is one of the hook Job `base`
/// (`migrate-r12` → 12).
fn hook_job_revision(base: &str, name: &str) -> Option<u64> {
    let digits = name.strip_prefix(base)?.strip_prefix("-r")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A Job that completed or failed, or is being deleted with no pod left running.
fn job_finished(job: &Value) -> bool {
    let condition = |kind: &str| {
        crate::value::condition_parts(job, kind).is_some_and(|(status, _, _)| status == "True")
    };
    let active = job
        .pointer("/status/active")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    condition("Complete")
        || condition("Failed")
        || (job.pointer("/metadata/deletionTimestamp").is_some() && active == 0)
}

/// Runs a hook Job to completion under a name unique to the release.
async fn run_hook(
    cluster: &Arc<Cluster>,
    ns: &str,
    hook: &Hook,
    revision: u64,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), Box<Diagnosis>> {
    let mut job = hook.job.clone();
    let base = object_name(&job).unwrap_or(&hook.name).to_string();
    let name = format!("{base}-r{revision}");
    job["metadata"]["name"] = json!(name);
    report(Event::HookStarted {
        name: hook.name.clone(),
        job: name.clone(),
    });
    let (result, logs) = run_job(cluster, ns, &job, hook.timeout, report).await;
    report(Event::HookFinished {
        name: hook.name.clone(),
        logs: logs.clone(),
    });
    // A chart's `hook-delete-policy`: the Job goes once it is over, its logs read.
    let delete = if result.is_ok() {
        hook.delete_on_success
    } else {
        hook.delete_on_failure
    };
    if delete {
        let _ = delete_object(cluster, &job, ns).await;
    }
    match result {
        Ok(()) => Ok(()),
        Err(mut d) => {
            if d.logs.is_empty() {
                d.logs = logs;
            }
            Err(d)
        }
    }
}

/// Runs `job` (named as it is to run) to completion within `timeout`: applied (a Job of
/// the same name from an interrupted run is taken over), tracked, and its pods' last log
/// lines read. Hooks and analysis checks both run their Jobs this way.
pub(super) async fn run_job(
    cluster: &Arc<Cluster>,
    ns: &str,
    job: &Value,
    timeout: Duration,
    report: &(dyn Fn(Event) + Send + Sync),
) -> (Result<(), Box<Diagnosis>>, Vec<String>) {
    let mut job = job.clone();
    let name = object_name(&job).unwrap_or_default().to_string();
    set_namespace_if_namespaced(&mut job, ns);
    let workload = Workload {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        namespace: ns.to_string(),
        name: name.clone(),
    };
    let since = Timestamp::now();
    // A Job of the same release may exist from an interrupted run: apply is idempotent.
    if let Err(e) = cluster.apply(&job, ns, Apply::Force).await {
        let d = Box::new(Diagnosis {
            workload: workload.label(),
            reason: "ApplyFailed".into(),
            message: e.to_string(),
            pod: None,
            container: None,
            events: vec![],
            logs: vec![],
            check: None,
        });
        return (Err(d), vec![]);
    }
    let options = TrackOptions {
        timeout,
        crashloop_tolerance: u32::MAX,
        since,
        settle: Duration::ZERO,
    };
    let progress = |p: &Progress| report(Event::Progress(p.clone()));
    let result = track::track(
        cluster,
        ns,
        std::slice::from_ref(&workload),
        &options,
        &progress,
    )
    .await;
    let logs = job_logs(cluster, ns, &name).await;
    (result, logs)
}

async fn job_logs(cluster: &Arc<Cluster>, ns: &str, job: &str) -> Vec<String> {
    let pods = cluster
        .list("v1", "Pod", ns, &format!("job-name={job}"))
        .await
        .unwrap_or_default();
    let mut lines = Vec::new();
    for pod in pods {
        if let Some(name) = object_name(&pod) {
            lines.extend(track::last_logs(cluster, ns, name, None).await);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_jobs_of_other_revisions_are_recognised_by_name() {
        assert_eq!(hook_job_revision("migrate", "migrate-r12"), Some(12));
        assert_eq!(hook_job_revision("migrate", "migrate-r"), None);
        assert_eq!(hook_job_revision("migrate", "migrate-data-r2"), None);
        assert_eq!(hook_job_revision("migrate", "other-r2"), None);
        let running = json!({"status": {"active": 1}});
        assert!(!job_finished(&running));
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert!(job_finished(&failed));
    }
}

//! The Job controller (`pkg/controller/job/job_controller.go`): runs pods until
//! `completions` have succeeded, at most `parallelism` at a time, and gives up once more
//! than `backoffLimit` pods have failed or `activeDeadlineSeconds` (÷ speed) have passed.
//!
//! As in Kubernetes 1.31+, the terminal conditions come in pairs: `SuccessCriteriaMet` then
//! `Complete` (reason `CompletionsReached`), and `FailureTarget` then `Failed` (reason
//! `BackoffLimitExceeded` or `DeadlineExceeded`); the remaining active pods are deleted on
//! failure. A replacement pod after a failure waits the job back-off (10 s doubling, ÷
//! speed). A Job without a selector gets the generated one
//! (`batch.kubernetes.io/controller-uid`) and the matching template labels, which the real
//! API server adds at creation.

use super::events::Component;
use super::replicaset::pod_from_template;
use super::{Ctx, active_pods, int_at, is_terminating, pod_ready};
use crate::util::{now_rfc3339, parse_rfc3339, str_at};
use serde_json::{Value, json};
use std::time::Duration;

fn condition_true(status: &Value, type_: &str) -> bool {
    status["conditions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["type"] == type_ && c["status"] == "True")
    })
}

fn push_condition(status: &mut Value, type_: &str, reason: &str, message: &str, now: &str) {
    let c = json!({"type": type_, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
        "reason": reason, "message": message});
    match status["conditions"].as_array_mut() {
        Some(a) => a.push(c),
        None => status["conditions"] = json!([c]),
    }
}

fn finished_at(pod: &Value) -> i64 {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c["state"]["terminated"]["finishedAt"]
                .as_str()
                .and_then(parse_rfc3339)
        })
        .max()
        .unwrap_or(0)
}

/// Adds the generated selector and labels to a Job stored without them (by a sandbox from
/// before admission generated them); true when the Job was changed.
fn ensure_selector(ctx: &Ctx, job: &Value) -> bool {
    if !job["spec"]["selector"].is_null() || job["spec"]["manualSelector"] == json!(true) {
        return false;
    }
    ctx.mutate(&ctx.jobs, job, crate::kinds::generate_job_selector)
        .is_some()
}

pub(crate) fn sync(ctx: &Ctx, ns: &str, name: &str) -> Option<Duration> {
    let job = ctx.get(&ctx.jobs, ns, name)?;
    if is_terminating(&job) || ensure_selector(ctx, &job) {
        return None;
    }
    let pods = ctx.owned(&ctx.pods, &job);
    let active = active_pods(&pods);
    let succeeded = pods
        .iter()
        .filter(|p| str_at(p, "status.phase") == "Succeeded")
        .count() as i64;
    let failed_pods: Vec<&Value> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| str_at(p, "status.phase") == "Failed")
        .collect();
    let failed = failed_pods.len() as i64;
    let now = now_rfc3339();
    let mut status = if job["status"].is_object() {
        job["status"].clone()
    } else {
        json!({})
    };
    let finished = condition_true(&status, "Complete") || condition_true(&status, "Failed");
    let suspended = job["spec"]["suspend"] == json!(true);
    if status["startTime"].is_null() && !suspended {
        status["startTime"] = json!(now);
    }
    let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
    let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1);
    let backoff_limit = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
    let mut requeue = None;
    let mut active_count = active.len() as i64;
    if !finished {
        let started = status["startTime"]
            .as_str()
            .and_then(parse_rfc3339)
            .unwrap_or(0) as f64;
        let deadline = job["spec"]["activeDeadlineSeconds"]
            .as_i64()
            .map(|s| started + s as f64 / ctx.speed);
        let failure = if failed > backoff_limit {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else if deadline.is_some_and(|d| d <= super::now_f64()) {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else {
            None
        };
        if let Some((reason, message)) = failure {
            for p in &active {
                ctx.delete(&ctx.pods, p);
                ctx.events.normal(
                    Component::Job,
                    &job,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", str_at(p, "metadata.name")),
                );
            }
            active_count = 0;
            push_condition(&mut status, "FailureTarget", reason, message, &now);
            push_condition(&mut status, "Failed", reason, message, &now);
            ctx.events.warning(Component::Job, &job, reason, message);
        } else if succeeded >= completions {
            let message = "Reached expected number of succeeded pods";
            push_condition(
                &mut status,
                "SuccessCriteriaMet",
                "CompletionsReached",
                message,
                &now,
            );
            push_condition(&mut status, "Complete", "CompletionsReached", message, &now);
            status["completionTime"] = json!(now);
            ctx.events
                .normal(Component::Job, &job, "Completed", "Job completed");
        } else if !suspended {
            let want = parallelism.min(completions - succeeded);
            // Back-off before replacing failed pods: 10 s doubling, capped at 6 minutes.
            let wait = if failed > 0 {
                let last = failed_pods
                    .iter()
                    .map(|p| finished_at(p))
                    .max()
                    .unwrap_or(0) as f64;
                let backoff = (10.0 * 2f64.powi((failed - 1).min(10) as i32)).min(360.0);
                last + backoff / ctx.speed - super::now_f64()
            } else {
                0.0
            };
            if active_count < want && wait > 0.0 {
                requeue = Some(Duration::from_secs_f64(wait + 0.05));
            } else if active_count < want {
                let missing = want - active_count;
                for _ in 0..missing {
                    let pod =
                        pod_from_template(&job, &job["spec"]["template"], &format!("{name}-"));
                    if let Some(p) = ctx.create(&ctx.pods, ns, pod) {
                        active_count += 1;
                        ctx.events.normal(
                            Component::Job,
                            &job,
                            "SuccessfulCreate",
                            &format!("Created pod: {}", str_at(&p, "metadata.name")),
                        );
                    }
                }
            } else if active_count > want {
                let mut extra = active.clone();
                super::replicaset::deletion_order(&mut extra);
                for p in extra.into_iter().take((active_count - want) as usize) {
                    ctx.delete(&ctx.pods, p);
                    active_count -= 1;
                }
            }
            if let Some(d) = deadline {
                let left = Duration::from_secs_f64((d - super::now_f64()).max(0.0) + 0.05);
                requeue = Some(requeue.map_or(left, |r: Duration| r.min(left)));
            }
        }
    }
    let ready = active.iter().filter(|p| pod_ready(p)).count() as i64;
    let obj = status.as_object_mut().expect("status is an object");
    for (k, v) in [
        ("active", active_count),
        ("succeeded", succeeded),
        ("failed", failed),
    ] {
        if v > 0 {
            obj.insert(k.into(), json!(v));
        } else {
            obj.remove(k);
        }
    }
    obj.insert(
        "ready".into(),
        json!(if active_count == 0 { 0 } else { ready }),
    );
    obj.insert("uncountedTerminatedPods".into(), json!({}));
    let _ = int_at;
    ctx.write_status(&ctx.jobs, &job, status);
    requeue
}

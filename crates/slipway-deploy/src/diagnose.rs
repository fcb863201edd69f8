//! Why a rollout is not getting anywhere, read from its pods and events as soon as the
//! answer is certain — a missing image, a container that keeps crashing, a pod no node
//! can take — instead of waiting for a deadline and reporting "timed out".
//!
//! "Certain" means the cluster will not fix it by itself: an image pull that failed and
//! went into back-off, a container that crashed more often than the environment
//! tolerates, a pod unschedulable for longer than a rolling update's surge explains. A
//! first pull error or a failing readiness probe is not certain yet: it is reported
//! with the deadline.

use serde_json::Value;

use crate::status::SCHEDULE_WINDOW_SECONDS;
use crate::value::{self, condition_parts, int, list, str};

/// What is wrong with one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProblem {
    pub pod: String,
    pub container: Option<String>,
    /// The kubelet's or scheduler's reason (`ImagePullBackOff`, `CrashLoopBackOff`,
    /// `Unschedulable`, `ReadinessProbeFailing`, …).
    pub reason: String,
    pub message: String,
    /// True when the cluster will not recover without a change.
    pub certain: bool,
    pub restarts: i64,
}

/// Waiting reasons that mean the container cannot start with this spec.
const FATAL_WAITING: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The most important problem of `pod`, if it has one.
///
/// `crashloop_tolerance` is how many restarts are accepted before a crashing
/// container is a certain failure; `age_seconds` is how long ago the pod was created.
pub fn pod_problem(pod: &Value, crashloop_tolerance: u32, age_seconds: f64) -> Option<PodProblem> {
    let name = value::name(pod).to_string();
    if let Some(("False", "Unschedulable", message)) = condition_parts(pod, "PodScheduled") {
        return Some(PodProblem {
            pod: name,
            container: None,
            reason: "Unschedulable".into(),
            message: message.to_string(),
            certain: age_seconds >= SCHEDULE_WINDOW_SECONDS,
            restarts: 0,
        });
    }

    let statuses = list(pod, "status.initContainerStatuses")
        .iter()
        .chain(list(pod, "status.containerStatuses"));
    let mut found: Option<PodProblem> = None;
    for c in statuses {
        let container = str(c, "name").map(str::to_string);
        let restarts = int(c, "restartCount").unwrap_or(0);
        let waiting = str(c, "state.waiting.reason");
        let waiting_message = str(c, "state.waiting.message").unwrap_or("");
        let problem = match waiting {
            Some(reason) if FATAL_WAITING.contains(&reason) => {
                Some((reason, waiting_message.to_string(), true))
            }
            Some("ErrImagePull") => Some(("ErrImagePull", waiting_message.to_string(), false)),
            Some("CrashLoopBackOff") => {
                let exit = int(c, "lastState.terminated.exitCode");
                let message = match exit {
                    Some(code) => format!(
                        "container exited with code {code} and was restarted {restarts} times"
                    ),
                    None => format!("container was restarted {restarts} times"),
                };
                Some((
                    "CrashLoopBackOff",
                    message,
                    restarts > i64::from(crashloop_tolerance),
                ))
            }
            _ => None,
        };
        let problem = problem.or_else(|| {
            // A running container that is not ready: its readiness probe fails.
            let running = value::at(c, "state.running").is_some();
            let ready = c.get("ready").and_then(Value::as_bool).unwrap_or(false);
            (running && !ready && str(pod, "status.phase") == Some("Running")).then(|| {
                (
                    "ReadinessProbeFailing",
                    "container is running but not ready".to_string(),
                    false,
                )
            })
        });
        if let Some((reason, message, certain)) = problem {
            let candidate = PodProblem {
                pod: name.clone(),
                container,
                reason: reason.to_string(),
                message,
                certain,
                restarts,
            };
            // Keep the most telling one: certain before uncertain, then the first.
            if found
                .as_ref()
                .is_none_or(|f| !f.certain && candidate.certain)
            {
                found = Some(candidate);
            }
        }
    }
    found
}

/// One event, as shown under a diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    pub time: String,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub count: i64,
}

/// The last `limit` events about the object named `name`, oldest first, from core/v1
/// or events.k8s.io/v1 Events.
pub fn events_for(events: &[Value], kind: &str, name: &str, limit: usize) -> Vec<EventLine> {
    let mut lines: Vec<EventLine> = events
        .iter()
        .filter(|e| {
            let regarding = e.get("involvedObject").or_else(|| e.get("regarding"));
            regarding.is_some_and(|r| {
                str(r, "name") == Some(name) && str(r, "kind").is_none_or(|k| k == kind)
            })
        })
        .map(|e| {
            let time = [
                "lastTimestamp",
                "eventTime",
                "deprecatedLastTimestamp",
                "firstTimestamp",
            ]
            .iter()
            .find_map(|f| str(e, f))
            .or_else(|| str(e, "metadata.creationTimestamp"))
            .unwrap_or("")
            .to_string();
            EventLine {
                time,
                warning: str(e, "type") == Some("Warning"),
                reason: str(e, "reason").unwrap_or("").to_string(),
                message: str(e, "message")
                    .or_else(|| str(e, "note"))
                    .unwrap_or("")
                    .to_string(),
                count: int(e, "count")
                    .or_else(|| int(e, "series.count"))
                    .unwrap_or(1),
            }
        })
        .collect();
    // RFC 3339 times in UTC sort as text.
    lines.sort_by(|a, b| a.time.cmp(&b.time));
    // Warnings say what went wrong: when there are more events than room, the latest
    // warnings stay first, and the latest normal events fill what is left.
    let warnings = lines.iter().filter(|l| l.warning).count();
    let mut normals_left = limit.saturating_sub(warnings.min(limit));
    let mut warnings_left = limit.min(warnings);
    let mut kept: Vec<EventLine> = Vec::with_capacity(limit);
    for line in lines.into_iter().rev() {
        let room = if line.warning {
            &mut warnings_left
        } else {
            &mut normals_left
        };
        if *room > 0 {
            *room -= 1;
            kept.push(line);
        }
    }
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_keep_their_place_when_events_overflow() {
        let event = |t: &str, ty: &str, reason: &str| {
            serde_json::json!({"involvedObject": {"kind": "Pod", "name": "p"},
                "lastTimestamp": t, "type": ty, "reason": reason, "message": reason})
        };
        let events = vec![
            event("2026-01-01T00:00:01Z", "Normal", "Scheduled"),
            event("2026-01-01T00:00:02Z", "Warning", "Failed"),
            event("2026-01-01T00:00:03Z", "Normal", "Pulling"),
            event("2026-01-01T00:00:04Z", "Normal", "Pulling2"),
            event("2026-01-01T00:00:05Z", "Warning", "BackOff"),
            event("2026-01-01T00:00:06Z", "Normal", "Pulling3"),
        ];
        let kept: Vec<String> = events_for(&events, "Pod", "p", 3)
            .into_iter()
            .map(|l| l.reason)
            .collect();
        assert_eq!(kept, ["Failed", "BackOff", "Pulling3"]);
        let all = events_for(&events, "Pod", "p", 10);
        assert_eq!(all.len(), 6);
    }
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-7f9-x2"}, "status": status})
    }

    fn waiting(reason: &str, message: &str, restarts: i64) -> Value {
        pod(json!({"phase": "Pending", "containerStatuses": [{
            "name": "api", "ready": false, "restartCount": restarts,
            "state": {"waiting": {"reason": reason, "message": message}}
        }]}))
    }

    #[test]
    fn image_pull_back_off_is_certain() {
        let p = pod_problem(
            &waiting("ImagePullBackOff", "Back-off pulling image \"r/api:1\"", 0),
            2,
            5.0,
        )
        .unwrap();
        assert_eq!((p.reason.as_str(), p.certain), ("ImagePullBackOff", true));
        assert_eq!(p.container.as_deref(), Some("api"));
        assert_eq!(p.pod, "api-7f9-x2");
    }

    #[test]
    fn first_pull_error_is_not_certain_yet() {
        let p = pod_problem(&waiting("ErrImagePull", "not found", 0), 2, 5.0).unwrap();
        assert!(!p.certain);
    }

    #[test]
    fn crash_loop_is_certain_only_beyond_the_tolerance() {
        let mut crashing = waiting("CrashLoopBackOff", "back-off 10s", 2);
        crashing["status"]["containerStatuses"][0]["lastState"] =
            json!({"terminated": {"exitCode": 3, "reason": "Error"}});
        let p = pod_problem(&crashing, 2, 30.0).unwrap();
        assert!(!p.certain);
        assert_eq!(
            p.message,
            "container exited with code 3 and was restarted 2 times"
        );
        crashing["status"]["containerStatuses"][0]["restartCount"] = json!(3);
        assert!(pod_problem(&crashing, 2, 30.0).unwrap().certain);
    }

    #[test]
    fn unschedulable_becomes_certain_after_the_window() {
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient memory."}]}),
        );
        assert!(!pod_problem(&p, 2, 1.0).unwrap().certain);
        let problem = pod_problem(&p, 2, 16.0).unwrap();
        assert!(problem.certain);
        assert!(problem.message.contains("Insufficient memory"));
    }

    #[test]
    fn running_but_not_ready_is_a_readiness_problem_not_yet_certain() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [{
            "name": "api", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": "t"}}}]}));
        let problem = pod_problem(&p, 2, 60.0).unwrap();
        assert_eq!(
            (problem.reason.as_str(), problem.certain),
            ("ReadinessProbeFailing", false)
        );
    }

    #[test]
    fn healthy_pod_has_no_problem() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [{
            "name": "api", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "t"}}}]}));
        assert_eq!(pod_problem(&p, 2, 60.0), None);
    }

    #[test]
    fn certain_problem_of_a_sidecar_wins_over_an_uncertain_one() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "api", "ready": false, "restartCount": 0, "state": {"running": {}}},
            {"name": "proxy", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ImagePullBackOff", "message": "m"}}}]}));
        assert_eq!(
            pod_problem(&p, 2, 60.0).unwrap().container.as_deref(),
            Some("proxy")
        );
    }

    #[test]
    fn events_are_filtered_by_object_and_the_last_ones_kept_in_time_order() {
        let ev = |name: &str, time: &str, reason: &str| {
            json!({
                "involvedObject": {"kind": "Pod", "name": name},
                "type": "Warning", "reason": reason, "message": reason, "lastTimestamp": time, "count": 2
            })
        };
        let events = vec![
            ev("api-1", "2026-01-01T00:00:03Z", "BackOff"),
            ev("web-1", "2026-01-01T00:00:04Z", "Other"),
            ev("api-1", "2026-01-01T00:00:01Z", "Pulling"),
            ev("api-1", "2026-01-01T00:00:02Z", "Failed"),
        ];
        let lines = events_for(&events, "Pod", "api-1", 2);
        let reasons: Vec<&str> = lines.iter().map(|l| l.reason.as_str()).collect();
        assert_eq!(reasons, ["Failed", "BackOff"]);
        assert!(lines[0].warning);
        assert_eq!(lines[0].count, 2);
    }
}

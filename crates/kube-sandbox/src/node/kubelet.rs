//! The simulated kubelet: one state machine per pod bound to the node, written back as pod
//! status in the shapes a real kubelet produces.
//!
//! A container goes `ContainerCreating` → (image resolution) → `Running`, or
//! `ErrImagePull` → `ImagePullBackOff` with retries; a running container then follows its
//! [`Behavior`]: it becomes ready (honouring the readiness probe's `initialDelaySeconds`
//! and `periodSeconds`), never becomes ready (`Unhealthy` events), or exits — and is
//! restarted with the kubelet's back-off (immediately the first time, then 10 s doubling to
//! 5 min, shown as `CrashLoopBackOff`) when the restart policy says so. Every duration is
//! divided by the speed factor.

use super::behavior::{BEHAVIOR_KEY, Behavior};
use super::image::Resolved;
use super::logs;
use crate::controllers::Ctx;
use crate::util::{format_rfc3339, now_rfc3339, now_secs, str_at};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// One container's simulated life.
#[derive(Debug, Clone)]
pub(crate) enum State {
    /// Waiting for its image.
    Creating,
    /// The last pull failed; `backoff_shown` once `ImagePullBackOff` replaced `ErrImagePull`.
    PullFailed {
        message: String,
        since: Instant,
        retry_at: Instant,
        backoff_shown: bool,
    },
    Running {
        started_at: String,
        since: Instant,
    },
    /// Exited; restarts at `restart_at` when the restart policy says so.
    Exited {
        terminated: Value,
        restart_at: Option<Instant>,
        backoff_secs: f64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub name: String,
    pub image: String,
    pub spec: Value,
    pub state: State,
    pub pulling: bool,
    pub pull_attempts: u32,
    pub resolved: Option<Resolved>,
    pub behavior: Behavior,
    pub restart_count: i64,
    pub exits: u32,
    pub last_terminated: Option<Value>,
    pub ready: bool,
    pub ready_at: Option<Instant>,
    pub next_probe: Option<Instant>,
    pub exit_at: Option<(Instant, i32)>,
    pub container_id: String,
}

/// One pod on the node.
pub(crate) struct PodRuntime {
    pub ns: String,
    pub name: String,
    pub uid: String,
    pub pod: Value,
    pub ip: String,
    pub host_ip: String,
    pub start_time: String,
    pub containers: Vec<Container>,
    pub remove_at: Option<Instant>,
}

fn hex_id() -> String {
    format!(
        "{:016x}{:016x}{:016x}{:016x}",
        crate::util::random_u64(),
        crate::util::random_u64(),
        crate::util::random_u64(),
        crate::util::random_u64()
    )
}

/// A Go-style duration for event messages (`1.2s`, `350ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{}ms", (ms * 1000.0).round() / 1000.0)
    } else {
        format!("{}s", (ms / 1000.0 * 1000.0).round() / 1000.0)
    }
}

fn backoff_text(secs: f64) -> String {
    let s = secs.round() as i64;
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl PodRuntime {
    pub(crate) fn new(pod: &Value, ip: String, host_ip: String) -> PodRuntime {
        let containers = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| Container {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                image: c["image"].as_str().unwrap_or_default().to_string(),
                spec: c.clone(),
                state: State::Creating,
                pulling: false,
                pull_attempts: 0,
                resolved: None,
                behavior: Behavior::Ready,
                restart_count: 0,
                exits: 0,
                last_terminated: None,
                ready: false,
                ready_at: None,
                next_probe: None,
                exit_at: None,
                container_id: String::new(),
            })
            .collect();
        PodRuntime {
            ns: str_at(pod, "metadata.namespace").to_string(),
            name: str_at(pod, "metadata.name").to_string(),
            uid: str_at(pod, "metadata.uid").to_string(),
            pod: pod.clone(),
            ip,
            host_ip,
            start_time: now_rfc3339(),
            containers,
            remove_at: None,
        }
    }

    /// Re-adopts a pod that was running before the sandbox restarted (state replayed from
    /// its state directory): its containers keep running, with their readiness, restart
    /// counts and IDs, instead of being created again. `None` when the pod is not running.
    /// A container whose behaviour ends it (`complete-after`, `crash`, `exit`,
    /// `crash-after`) still ends when its time comes, counted from when it started.
    pub(crate) fn adopt(pod: &Value, speed: f64) -> Option<PodRuntime> {
        if str_at(pod, "status.phase") != "Running"
            || pod["metadata"]
                .get("deletionTimestamp")
                .is_some_and(|v| !v.is_null())
        {
            return None;
        }
        let statuses = pod["status"]["containerStatuses"].as_array()?;
        let ip = str_at(pod, "status.podIP").to_string();
        let host_ip = str_at(pod, "status.hostIP").to_string();
        if ip.is_empty() {
            return None;
        }
        let mut rt = PodRuntime::new(pod, ip, host_ip);
        let start_time = str_at(pod, "status.startTime");
        if !start_time.is_empty() {
            rt.start_time = start_time.to_string();
        }
        let annotation = pod["metadata"]["annotations"][BEHAVIOR_KEY].as_str();
        let now = Instant::now();
        for c in &mut rt.containers {
            let st = statuses.iter().find(|s| s["name"] == c.name.as_str())?;
            let started_at = st["state"]["running"]["startedAt"].as_str()?;
            c.state = State::Running {
                started_at: started_at.to_string(),
                since: now,
            };
            c.behavior = annotation
                .and_then(Behavior::parse)
                .unwrap_or(Behavior::Ready);
            c.ready = st["ready"].as_bool().unwrap_or(false);
            if !c.ready && c.behavior != Behavior::NeverReady {
                c.ready_at = Some(now);
            }
            // Real seconds the container has run, before and across the restart.
            let ran = crate::util::parse_rfc3339(started_at)
                .map(|t| (now_secs() - t).max(0) as f64)
                .unwrap_or(0.0);
            let at =
                |simulated: f64| now + Duration::from_secs_f64((simulated / speed - ran).max(0.0));
            c.exit_at = match c.behavior {
                Behavior::CompleteAfter(d) => Some((at(d), 0)),
                Behavior::Crash => Some((at(1.0), 1)),
                Behavior::Exit(code) => Some((at(1.0), code)),
                Behavior::CrashAfter(d) => Some((at(d), 1)),
                _ => None,
            };
            c.restart_count = st["restartCount"].as_i64().unwrap_or(0);
            c.container_id = st["containerID"].as_str().unwrap_or_default().to_string();
            c.last_terminated = st["lastState"]
                .get("terminated")
                .filter(|t| !t.is_null())
                .cloned();
        }
        Some(rt)
    }

    fn restart_policy(&self) -> &str {
        self.pod["spec"]["restartPolicy"]
            .as_str()
            .unwrap_or("Always")
    }

    fn pod_ref(&self) -> String {
        format!("{}_{}({})", self.name, self.ns, self.uid)
    }

    /// The image was resolved (or not): start the container or record the failure.
    pub(crate) fn pulled(
        &mut self,
        ctx: &Ctx,
        idx: usize,
        result: Result<Resolved, String>,
        elapsed: Duration,
        cached: bool,
    ) {
        let speed = ctx.speed;
        let pod = self.pod.clone();
        let Some(c) = self.containers.get_mut(idx) else {
            return;
        };
        c.pulling = false;
        match result {
            Ok(res) => {
                if cached {
                    image_present(ctx, &pod, c);
                } else {
                    let took = go_duration(elapsed);
                    ctx.events.container(
                        &pod,
                        &c.name,
                        "Normal",
                        "Pulled",
                        &format!("Successfully pulled image {:?} in {took} ({took} including waiting). Image size: {} bytes.", c.image, res.size),
                    );
                }
                let annotation = pod["metadata"]["annotations"][BEHAVIOR_KEY].as_str();
                if let Some(label) = &res.behavior_label {
                    super::traffic::record_image_behavior(&self.uid, label);
                }
                let chosen = annotation.or(res.behavior_label.as_deref());
                c.behavior = chosen.and_then(Behavior::parse).unwrap_or(Behavior::Ready);
                if let Some(bad) = chosen.filter(|s| Behavior::parse(s).is_none()) {
                    logs::append(
                        &self.uid,
                        &c.name,
                        &format!("sandbox: unknown behavior {bad:?}, running as \"ready\""),
                    );
                }
                c.resolved = Some(res);
                start_container(ctx, &pod, &self.uid, c, speed);
            }
            Err(message) => {
                ctx.events.container(
                    &pod,
                    &c.name,
                    "Warning",
                    "Failed",
                    &format!("Failed to pull image {:?}: {message}", c.image),
                );
                ctx.events
                    .container(&pod, &c.name, "Warning", "Failed", "Error: ErrImagePull");
                let backoff =
                    (10.0 * 2f64.powi(c.pull_attempts.saturating_sub(1).min(5) as i32)).min(300.0);
                let now = Instant::now();
                c.state = State::PullFailed {
                    message,
                    since: now,
                    retry_at: now + Duration::from_secs_f64(backoff / speed),
                    backoff_shown: false,
                };
            }
        }
    }

    /// Moves every container forward to `now`; returns the containers whose image must be
    /// (re)resolved.
    pub(crate) fn advance(&mut self, ctx: &Ctx, now: Instant) -> Vec<usize> {
        let speed = ctx.speed;
        let pod = self.pod.clone();
        let pod_ref = self.pod_ref();
        let policy = self.restart_policy().to_string();
        let ip = self.ip.clone();
        let mut pulls = Vec::new();
        for (i, c) in self.containers.iter_mut().enumerate() {
            match c.state.clone() {
                State::Creating => {
                    if !c.pulling && c.resolved.is_none() {
                        pulls.push(i);
                    }
                }
                State::PullFailed {
                    message,
                    since,
                    retry_at,
                    backoff_shown,
                } => {
                    if !backoff_shown && now >= since + Duration::from_secs_f64(1.0 / speed) {
                        let msg = format!("Back-off pulling image {:?}", c.image);
                        ctx.events
                            .container(&pod, &c.name, "Normal", "BackOff", &msg);
                        ctx.events.container(
                            &pod,
                            &c.name,
                            "Warning",
                            "Failed",
                            "Error: ImagePullBackOff",
                        );
                        c.state = State::PullFailed {
                            message,
                            since,
                            retry_at,
                            backoff_shown: true,
                        };
                    } else if now >= retry_at && !c.pulling {
                        pulls.push(i);
                    }
                }
                State::Running { started_at, since } => {
                    if let Some(at) = c.ready_at
                        && now >= at
                        && !c.ready
                        && (c.next_probe.is_none() || c.spec["readinessProbe"].is_null())
                    {
                        c.ready = true;
                        logs::append(&self_uid(&pod), &c.name, "sandbox: ready");
                    }
                    while let Some(p) = c.next_probe
                        && now >= p
                    {
                        let period = c.spec["readinessProbe"]["periodSeconds"]
                            .as_f64()
                            .unwrap_or(10.0);
                        if c.ready_at.is_some_and(|r| now >= r) {
                            if !c.ready {
                                c.ready = true;
                                logs::append(
                                    &self_uid(&pod),
                                    &c.name,
                                    "sandbox: readiness probe succeeded",
                                );
                            }
                            c.next_probe = None;
                        } else {
                            let msg = probe_failure(&c.spec, &ip);
                            ctx.events.container(
                                &pod,
                                &c.name,
                                "Warning",
                                "Unhealthy",
                                &format!("Readiness probe failed: {msg}"),
                            );
                            logs::append(
                                &self_uid(&pod),
                                &c.name,
                                &format!("sandbox: readiness probe failed: {msg}"),
                            );
                            c.next_probe =
                                Some(p + Duration::from_secs_f64(period.max(1.0) / speed));
                        }
                    }
                    if let Some((at, code)) = c.exit_at
                        && now >= at
                    {
                        let finished = now_rfc3339();
                        let reason = if code == 0 { "Completed" } else { "Error" };
                        logs::append(
                            &self_uid(&pod),
                            &c.name,
                            &format!("sandbox: exiting with code {code}"),
                        );
                        let terminated = json!({"exitCode": code, "reason": reason, "startedAt": started_at,
                            "finishedAt": finished, "containerID": c.container_id});
                        c.ready = false;
                        c.exit_at = None;
                        c.next_probe = None;
                        c.exits += 1;
                        let restart = policy == "Always" || (policy == "OnFailure" && code != 0);
                        // The first restart is immediate; then 10 s doubling to 5 minutes.
                        let backoff = if c.exits <= 1 {
                            0.0
                        } else {
                            (10.0 * 2f64.powi((c.exits - 2).min(5) as i32)).min(300.0)
                        };
                        if restart && backoff > 0.0 {
                            let msg = format!(
                                "Back-off restarting failed container {} in pod {pod_ref}",
                                c.name
                            );
                            ctx.events
                                .container(&pod, &c.name, "Warning", "BackOff", &msg);
                        }
                        let pause = if backoff > 0.0 { backoff } else { 1.0 };
                        c.state = State::Exited {
                            terminated,
                            restart_at: restart
                                .then(|| now + Duration::from_secs_f64(pause / speed)),
                            backoff_secs: backoff,
                        };
                    }
                    let _ = since;
                }
                State::Exited {
                    terminated,
                    restart_at: Some(at),
                    ..
                } if now >= at => {
                    c.last_terminated = Some(terminated);
                    c.restart_count += 1;
                    logs::rotate(&self_uid(&pod), &c.name);
                    image_present(ctx, &pod, c);
                    start_container(ctx, &pod, &self_uid(&pod), c, speed);
                }
                State::Exited { .. } => {}
            }
        }
        pulls
    }

    /// When the next transition is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let mut due: Vec<Instant> = Vec::new();
        for c in &self.containers {
            match &c.state {
                State::PullFailed {
                    since,
                    retry_at,
                    backoff_shown,
                    ..
                } => {
                    due.push(if *backoff_shown {
                        *retry_at
                    } else {
                        *since + Duration::from_millis(1)
                    });
                }
                State::Running { .. } => {
                    if !c.ready
                        && let Some(r) = c.ready_at
                    {
                        due.push(r);
                    }
                    due.extend(c.next_probe);
                    due.extend(c.exit_at.map(|e| e.0));
                }
                State::Exited {
                    restart_at: Some(r),
                    ..
                } => due.push(*r),
                _ => {}
            }
        }
        due.extend(self.remove_at);
        due.into_iter().min()
    }

    /// The phase: Pending until a container has run, Succeeded/Failed once all exited for
    /// good, else Running.
    fn phase(&self) -> &'static str {
        let started = self
            .containers
            .iter()
            .any(|c| matches!(c.state, State::Running { .. } | State::Exited { .. }));
        if !started {
            return "Pending";
        }
        let all_done = self.containers.iter().all(|c| {
            matches!(
                c.state,
                State::Exited {
                    restart_at: None,
                    ..
                }
            )
        });
        if all_done {
            let ok = self
                .containers
                .iter()
                .all(|c| matches!(&c.state, State::Exited { terminated, .. } if terminated["exitCode"] == 0));
            return if ok { "Succeeded" } else { "Failed" };
        }
        "Running"
    }

    /// Whether the pod has run to completion.
    pub(crate) fn finished(&self) -> bool {
        matches!(self.phase(), "Succeeded" | "Failed")
    }

    /// The pod status as the kubelet writes it.
    pub(crate) fn status(&self, previous: &Value) -> Value {
        let now = now_rfc3339();
        let phase = self.phase();
        let unready: Vec<&str> = self
            .containers
            .iter()
            .filter(|c| !c.ready)
            .map(|c| c.name.as_str())
            .collect();
        let done = matches!(phase, "Succeeded" | "Failed");
        let ready_cond = |type_: &str| {
            if done {
                json!({"type": type_, "status": "False", "reason": "PodCompleted"})
            } else if unready.is_empty() {
                json!({"type": type_, "status": "True"})
            } else {
                json!({"type": type_, "status": "False", "reason": "ContainersNotReady",
                    "message": format!("containers with unready status: [{}]", unready.join(" "))})
            }
        };
        let mut conds = vec![
            json!({"type": "PodReadyToStartContainers", "status": if done { "False" } else { "True" }}),
            json!({"type": "Initialized", "status": "True"}),
            ready_cond("Ready"),
            ready_cond("ContainersReady"),
            json!({"type": "PodScheduled", "status": "True"}),
        ];
        for c in &mut conds {
            c["lastProbeTime"] = Value::Null;
            let prev = previous["conditions"].as_array().and_then(|a| {
                a.iter()
                    .find(|p| p["type"] == c["type"] && p["status"] == c["status"])
            });
            c["lastTransitionTime"] = prev
                .map(|p| p["lastTransitionTime"].clone())
                .unwrap_or_else(|| json!(now));
        }
        let statuses: Vec<Value> = self
            .containers
            .iter()
            .map(|c| {
                let (state, started) = match &c.state {
                    State::Creating => (json!({"waiting": {"reason": "ContainerCreating"}}), false),
                    State::PullFailed { message, backoff_shown: false, .. } => {
                        (json!({"waiting": {"reason": "ErrImagePull", "message": message}}), false)
                    }
                    State::PullFailed { backoff_shown: true, .. } => (
                        json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image {:?}", c.image)}}),
                        false,
                    ),
                    State::Running { started_at, .. } => (json!({"running": {"startedAt": started_at}}), true),
                    State::Exited { terminated, restart_at: Some(_), backoff_secs, .. } if *backoff_secs > 0.0 => (
                        json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!(
                            "back-off {} restarting failed container={} pod={}", backoff_text(*backoff_secs), c.name, self.pod_ref())}}),
                        { let _ = terminated; false },
                    ),
                    State::Exited { terminated, .. } => (json!({"terminated": terminated}), false),
                };
                let mut last = json!({});
                let mut shown_last = c.last_terminated.clone();
                if let State::Exited { terminated, restart_at: Some(_), backoff_secs, .. } = &c.state
                    && *backoff_secs > 0.0
                {
                    shown_last = Some(terminated.clone());
                }
                if let Some(t) = shown_last {
                    last = json!({"terminated": t});
                }
                let mut s = json!({
                    "name": c.name, "state": state, "lastState": last, "ready": c.ready,
                    "restartCount": c.restart_count, "image": c.image,
                    "imageID": c.resolved.as_ref().map(|r| r.image_id.clone()).unwrap_or_default(),
                    "started": started,
                });
                if !c.container_id.is_empty() {
                    s["containerID"] = json!(c.container_id);
                }
                s
            })
            .collect();
        let mut status = json!({
            "phase": phase,
            "conditions": conds,
            "hostIP": self.host_ip, "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.ip, "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
            "containerStatuses": statuses,
            "qosClass": previous["qosClass"].clone(),
        });
        if let Some(init) = self.pod["spec"]["initContainers"].as_array() {
            let inits: Vec<Value> = init
                .iter()
                .map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "restartCount": 0,
                    "started": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": self.start_time, "finishedAt": self.start_time}}, "lastState": {}}))
                .collect();
            status["initContainerStatuses"] = json!(inits);
        }
        if status["qosClass"].is_null() {
            status.as_object_mut().map(|m| m.remove("qosClass"));
        }
        status
    }
}

fn self_uid(pod: &Value) -> String {
    str_at(pod, "metadata.uid").to_string()
}

fn probe_failure(spec: &Value, ip: &str) -> String {
    let p = &spec["readinessProbe"];
    if !p["httpGet"].is_null() {
        "HTTP probe failed with statuscode: 503".into()
    } else if !p["tcpSocket"].is_null() {
        let port = &p["tcpSocket"]["port"];
        let port = port
            .as_i64()
            .map(|n| n.to_string())
            .unwrap_or_else(|| port.as_str().unwrap_or("80").to_string());
        format!("dial tcp {ip}:{port}: connect: connection refused")
    } else if !p["grpc"].is_null() {
        "service unhealthy (responded with \"NOT_SERVING\")".into()
    } else {
        format!("simulated failure ({BEHAVIOR_KEY}=never-ready)")
    }
}

/// Creates and starts a container whose image is present, scheduling its behaviour.
/// The event of a container whose image the node already holds.
fn image_present(ctx: &Ctx, pod: &Value, c: &Container) {
    ctx.events.container(
        pod,
        &c.name,
        "Normal",
        "Pulled",
        &format!("Container image {:?} already present on machine", c.image),
    );
}

fn start_container(ctx: &Ctx, pod: &Value, uid: &str, c: &mut Container, speed: f64) {
    c.container_id = format!("containerd://{}", hex_id());
    ctx.events.container(
        pod,
        &c.name,
        "Normal",
        "Created",
        &format!("Created container: {}", c.name),
    );
    ctx.events.container(
        pod,
        &c.name,
        "Normal",
        "Started",
        &format!("Started container: {}", c.name),
    );
    let now = Instant::now();
    let at = |secs: f64| now + Duration::from_secs_f64(secs.max(0.0) / speed);
    c.state = State::Running {
        started_at: format_rfc3339(now_secs()),
        since: now,
    };
    c.ready = false;
    logs::append(
        uid,
        &c.name,
        &format!(
            "sandbox: container {} started (image {}, behavior {})",
            c.name,
            c.image,
            c.behavior.describe()
        ),
    );
    let probe = &c.spec["readinessProbe"];
    let initial = probe["initialDelaySeconds"].as_f64().unwrap_or(0.0);
    c.exit_at = None;
    c.ready_at = None;
    c.next_probe = None;
    match c.behavior {
        Behavior::Ready => c.ready_at = Some(at(initial)),
        Behavior::SlowStart(d) => c.ready_at = Some(at(d.max(initial))),
        Behavior::NeverReady => {}
        Behavior::Crash => {
            // A crashing app never answers its readiness probe: with one it is never ready;
            // without one the kubelet counts it ready while it runs, as a real one does.
            c.ready_at = probe.is_null().then(|| at(initial));
            c.exit_at = Some((at(1.0), 1));
            logs::append(uid, &c.name, "sandbox: fatal error: simulated crash");
        }
        Behavior::Exit(code) => {
            c.ready_at = Some(at(initial));
            c.exit_at = Some((at(1.0), code));
        }
        Behavior::CompleteAfter(d) => {
            c.ready_at = Some(at(initial));
            c.exit_at = Some((at(d), 0));
        }
        Behavior::CrashAfter(d) => {
            c.ready_at = Some(at(initial));
            c.exit_at = Some((at(d.max(initial)), 1));
            logs::append(
                uid,
                &c.name,
                "sandbox: fatal error: simulated crash after a healthy start",
            );
        }
    }
    if !probe.is_null() || c.behavior == Behavior::NeverReady {
        c.next_probe = Some(at(initial));
    }
}

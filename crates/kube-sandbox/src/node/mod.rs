//! The simulated node `sandbox-node`: its Node object, a scheduler and a kubelet.
//!
//! - **Scheduler**: a pod without `spec.nodeName` is bound when its requests fit the
//!   node's allocatable CPU, memory and pod count minus what bound, unfinished pods
//!   request; otherwise it stays Pending with `PodScheduled=False, Unschedulable` and a
//!   Warning `FailedScheduling` event carrying kube-scheduler's message. Unschedulable pods
//!   are retried whenever a pod goes away or finishes, or the node's labels change.
//! - **Kubelet** ([`kubelet`]): resolves each image over the OCI distribution API
//!   ([`image`]) — registries on loopback or listed in [`NodeOptions::registries`]; others
//!   count as present unless [`NodeOptions::strict_images`] — and runs the container's
//!   simulated [`behavior`]. Pod status, events (`Scheduled`, `Pulling`, `Pulled`,
//!   `Created`, `Started`, `Failed`, `BackOff`, `Unhealthy`, `Killing`) and log lines
//!   ([`logs`], served by `pods/log`) follow a real kubelet.
//! - **Graceful deletion**: the store keeps a deleted pod that runs on the node Terminating
//!   (`deletionTimestamp`, `deletionGracePeriodSeconds`); the kubelet stops its containers
//!   and, once the grace period (÷ speed) has passed — or at once when no container runs —
//!   deletes it with a grace period of 0 and it disappears, as on a real node.
//!
//! Everything is driven by store events, image resolution results and the runtime's own
//! due times; there is no polling.

pub mod behavior;
pub mod image;
pub mod kubelet;
pub mod logs;
pub mod quantity;
pub mod scheduler;
pub mod traffic;

pub use logs::logs;

use crate::Store;
use crate::controllers::events::Component;
use crate::controllers::{Ctx, TaskGuard, is_terminating};
use crate::store::{EventType, StoreEvent};
use crate::util::{now_rfc3339, str_at};
use image::{ImageRef, Resolved};
use kubelet::PodRuntime;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub use crate::NODE_NAME;

/// The finalizer that once made pod deletion graceful; pods of old state directories may
/// still carry it, and the kubelet removes it.
pub const GRACE_FINALIZER: &str = "sandbox.slipway.dev/graceful-termination";

/// How the node behaves.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Every simulated duration is divided by this.
    pub speed: f64,
    /// Allocatable CPU (`4`, `3500m`).
    pub cpu: String,
    /// Allocatable memory (`8Gi`).
    pub memory: String,
    /// Allocatable pods.
    pub pods: i64,
    /// Registries (`host:port`) whose images are resolved over HTTP besides loopback ones.
    pub registries: Vec<String>,
    /// Images of other registries fail to pull instead of counting as present.
    pub strict_images: bool,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            speed: 1.0,
            cpu: "4".into(),
            memory: "8Gi".into(),
            pods: 110,
            registries: vec![],
            strict_images: false,
        }
    }
}

struct PullDone {
    uid: String,
    idx: usize,
    image: String,
    result: Result<Resolved, String>,
    elapsed: Duration,
}

struct Node {
    ctx: Ctx,
    opts: NodeOptions,
    pods: HashMap<String, PodRuntime>,
    images: HashMap<String, Resolved>,
    next_ip: u32,
    tx: mpsc::UnboundedSender<PullDone>,
    dirty: BTreeSet<String>,
    schedule: bool,
    node_labels: Value,
    host_ip: String,
}

/// Starts the node: updates the Node object and runs scheduler and kubelet.
pub fn start(store: Arc<Store>, opts: NodeOptions) -> TaskGuard {
    let ctx = Ctx::new(store, opts.speed);
    let task = tokio::spawn(run(ctx, opts));
    TaskGuard::new(vec![task])
}

fn fake_digest(image: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::new();
    for round in 0..4u8 {
        for b in image.bytes().chain([round]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    format!("sha256:{out}")
}

impl Node {
    fn nodes_rt(&self) -> crate::resources::ResourceType {
        self.ctx
            .store
            .registry()
            .find("", "v1", "nodes")
            .expect("nodes are served")
            .clone()
    }

    /// Writes the allocatable resources into the Node object.
    fn publish_node(&mut self) {
        let rt = self.nodes_rt();
        let Ok(node) = self.ctx.store.get(&rt, "", NODE_NAME) else {
            return;
        };
        self.node_labels = node["metadata"]["labels"].clone();
        if let Some(ip) = node["status"]["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
            .and_then(|x| x["address"].as_str())
        {
            self.host_ip = ip.to_string();
        }
        let mut status = node["status"].clone();
        let res = json!({"cpu": self.opts.cpu, "memory": self.opts.memory, "pods": self.opts.pods.to_string()});
        status["capacity"] = res.clone();
        status["allocatable"] = res;
        if status["conditions"].as_array().is_none_or(|a| a.is_empty()) {
            status["conditions"] = json!([{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "kubelet is posting ready status", "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()}]);
        }
        self.ctx.write_status(&rt, &node, status);
    }

    fn alloc_ip(&mut self) -> String {
        let n = self.next_ip;
        self.next_ip += 1;
        format!("10.244.{}.{}", n / 250, n % 250 + 2)
    }

    fn checked_registry(&self, r: &ImageRef) -> bool {
        r.is_loopback() || self.opts.registries.iter().any(|x| x == &r.registry)
    }

    fn start_pull(&mut self, uid: &str, idx: usize) {
        let Some(rt) = self.pods.get_mut(uid) else {
            return;
        };
        let Some(c) = rt.containers.get_mut(idx) else {
            return;
        };
        let image = c.image.clone();
        let policy = c.spec["imagePullPolicy"]
            .as_str()
            .unwrap_or("IfNotPresent")
            .to_string();
        if policy != "Always"
            && let Some(res) = self.images.get(&image).cloned()
        {
            rt.pulled(&self.ctx, idx, Ok(res), Duration::ZERO, true);
            self.dirty.insert(uid.to_string());
            return;
        }
        c.pulling = true;
        c.pull_attempts += 1;
        let pod = rt.pod.clone();
        self.ctx.events.container(
            &pod,
            &c.name,
            "Normal",
            "Pulling",
            &format!("Pulling image {image:?}"),
        );
        let r = ImageRef::parse(&image);
        let tx = self.tx.clone();
        let uid = uid.to_string();
        if !self.checked_registry(&r) {
            let result = if self.opts.strict_images {
                let full = r.full();
                Err(format!(
                    "rpc error: code = Unknown desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": registry {} is not reachable from the sandbox (strict images)",
                    r.registry
                ))
            } else {
                Ok(Resolved {
                    image_id: format!("{}/{}@{}", r.registry, r.repository, fake_digest(&image)),
                    behavior_label: None,
                    size: 0,
                })
            };
            let _ = tx.send(PullDone {
                uid,
                idx,
                image,
                result,
                elapsed: Duration::from_millis(1),
            });
            return;
        }
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let result = image::resolve(&image).await;
            let _ = tx.send(PullDone {
                uid,
                idx,
                image,
                result,
                elapsed: started.elapsed(),
            });
        });
    }

    /// A change of the node's labels (`kubectl label node`) can make pending pods with a
    /// `nodeSelector` fit.
    fn on_node_event(&mut self, ev: &StoreEvent) {
        if ev.event_type != EventType::Deleted
            && str_at(&ev.object, "metadata.name") == NODE_NAME
            && ev.object["metadata"]["labels"] != self.node_labels
        {
            self.node_labels = ev.object["metadata"]["labels"].clone();
            self.schedule = true;
        }
    }

    fn on_pod_event(&mut self, ev: &StoreEvent) {
        let pod = &ev.object;
        let uid = str_at(pod, "metadata.uid").to_string();
        if ev.event_type == EventType::Deleted {
            self.pods.remove(&uid);
            logs::forget(&uid);
            traffic::forget(&uid);
            self.schedule = true;
            return;
        }
        let node = str_at(pod, "spec.nodeName");
        if node.is_empty() {
            if !is_terminating(pod) {
                self.schedule = true;
            }
            return;
        }
        if node != NODE_NAME {
            return;
        }
        let was_done = ev
            .previous
            .as_ref()
            .is_some_and(|p| matches!(str_at(p, "status.phase"), "Succeeded" | "Failed"));
        let done = matches!(str_at(pod, "status.phase"), "Succeeded" | "Failed");
        if done && !was_done {
            self.schedule = true;
        }
        if !self.pods.contains_key(&uid) && !is_terminating(pod) && !done {
            let ip = self.alloc_ip();
            let rt = PodRuntime::new(pod, ip, self.host_ip.clone());
            self.pods.insert(uid.clone(), rt);
            self.dirty.insert(uid.clone());
        }
        match self.pods.get_mut(&uid) {
            Some(rt) => {
                rt.pod = (**pod).clone();
                if is_terminating(pod) && rt.remove_at.is_none() {
                    let running = rt
                        .containers
                        .iter()
                        .any(|c| matches!(c.state, kubelet::State::Running { .. }));
                    let grace = pod["metadata"]["deletionGracePeriodSeconds"]
                        .as_f64()
                        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_f64())
                        .unwrap_or(30.0);
                    let wait = if running { grace / self.ctx.speed } else { 0.0 };
                    if running {
                        for c in &rt.containers {
                            self.ctx.events.container(
                                pod,
                                &c.name,
                                "Normal",
                                "Killing",
                                &format!("Stopping container {}", c.name),
                            );
                            logs::append(&uid, &c.name, "sandbox: received SIGTERM, shutting down");
                        }
                    }
                    rt.remove_at = Some(Instant::now() + Duration::from_secs_f64(wait));
                    self.dirty.insert(uid);
                }
            }
            None if is_terminating(pod) => self.release(pod),
            None => {}
        }
    }

    /// Deletes a pod whose containers have stopped, with a grace period of 0, as a
    /// kubelet does: the pod disappears. (State directories of earlier versions may hold
    /// pods with the finalizer that once did this; it is removed first.)
    fn release(&self, pod: &Value) {
        let has = pod["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == GRACE_FINALIZER));
        if has {
            self.ctx.mutate(&self.ctx.pods, pod, |o| {
                if let Some(f) = o["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != GRACE_FINALIZER);
                }
            });
        }
        let opts = crate::store::DeleteOpts {
            precondition_uid: Some(str_at(pod, "metadata.uid").to_string()),
            grace_period: Some(0),
            ..Default::default()
        };
        let _ = self.ctx.store.delete(
            &self.ctx.pods,
            str_at(pod, "metadata.namespace"),
            str_at(pod, "metadata.name"),
            &opts,
        );
    }

    fn process(&mut self, uid: &str) -> Option<Instant> {
        let now = Instant::now();
        let rt = self.pods.get_mut(uid)?;
        if rt.remove_at.is_some_and(|r| now >= r) {
            let pod = rt.pod.clone();
            self.release(&pod);
            return None;
        }
        let pulls = rt.advance(&self.ctx, now);
        for idx in pulls {
            self.start_pull(uid, idx);
        }
        let rt = self.pods.get(uid)?;
        let current = self.ctx.get(&self.ctx.pods, &rt.ns, &rt.name)?;
        if str_at(&current, "metadata.uid") != uid {
            return None;
        }
        if rt.remove_at.is_none() || rt.finished() {
            let status = rt.status(&current["status"]);
            self.ctx.write_status(&self.ctx.pods, &current, status);
        }
        rt.next_due()
    }

    fn scheduling_pass(&mut self) {
        let pods = self.ctx.list(&self.ctx.pods, None);
        let alloc = scheduler::Capacity {
            cpu_millis: quantity::cpu_millis(&self.opts.cpu).unwrap_or(4000),
            memory: quantity::bytes(&self.opts.memory).unwrap_or(8 << 30),
            pods: self.opts.pods,
        };
        let mut used = scheduler::Capacity {
            cpu_millis: 0,
            memory: 0,
            pods: 0,
        };
        for p in &pods {
            if str_at(p, "spec.nodeName") == NODE_NAME
                && !matches!(str_at(p, "status.phase"), "Succeeded" | "Failed")
            {
                let (c, m) = scheduler::requests(p);
                used.cpu_millis += c;
                used.memory += m;
                used.pods += 1;
            }
        }
        let mut pending: Vec<&Arc<Value>> = pods
            .iter()
            .filter(|p| str_at(p, "spec.nodeName").is_empty() && !is_terminating(p))
            .filter(|p| matches!(str_at(p, "spec.schedulerName"), "" | "default-scheduler"))
            .collect();
        pending.sort_by_key(|p| {
            (
                str_at(p, "metadata.creationTimestamp").to_string(),
                str_at(p, "metadata.name").to_string(),
            )
        });
        for p in pending {
            match scheduler::fit(p, &self.node_labels, alloc, used) {
                Ok(()) => {
                    let bound = self.ctx.mutate(&self.ctx.pods, p, |o| {
                        o["spec"]["nodeName"] = json!(NODE_NAME);
                    });
                    let Some(bound) = bound else { continue };
                    let (c, m) = scheduler::requests(p);
                    used.cpu_millis += c;
                    used.memory += m;
                    used.pods += 1;
                    let mut status = bound["status"].clone();
                    let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now_rfc3339()});
                    status["conditions"] = json!([cond]);
                    self.ctx.write_status(&self.ctx.pods, &bound, status);
                    let msg = format!(
                        "Successfully assigned {}/{} to {NODE_NAME}",
                        str_at(p, "metadata.namespace"),
                        str_at(p, "metadata.name")
                    );
                    self.ctx
                        .events
                        .normal(Component::Scheduler, &bound, "Scheduled", &msg);
                }
                Err(msg) => {
                    let already = p["status"]["conditions"].as_array().is_some_and(|a| {
                        a.iter().any(|c| {
                            c["type"] == "PodScheduled"
                                && c["reason"] == "Unschedulable"
                                && c["message"] == msg
                        })
                    });
                    if already {
                        continue;
                    }
                    let mut status = p["status"].clone();
                    status["phase"] = json!("Pending");
                    status["conditions"] = json!([{"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                        "lastTransitionTime": now_rfc3339(), "reason": "Unschedulable", "message": msg}]);
                    self.ctx.write_status(&self.ctx.pods, p, status);
                    self.ctx.events.warning(
                        Component::Scheduler,
                        p,
                        "FailedScheduling",
                        &format!("{msg}."),
                    );
                }
            }
        }
    }
}

async fn run(ctx: Ctx, opts: NodeOptions) {
    let mut rx = ctx.store.subscribe();
    let (tx, mut pulls) = mpsc::unbounded_channel();
    let mut node = Node {
        ctx,
        opts,
        pods: HashMap::new(),
        images: HashMap::new(),
        next_ip: 0,
        tx,
        dirty: BTreeSet::new(),
        schedule: true,
        node_labels: json!({}),
        host_ip: "127.0.0.1".into(),
    };
    node.publish_node();
    // Pods that exist already (bound or not).
    for p in node.ctx.list(&node.ctx.pods, None) {
        // Pods that ran before a restart (replayed state) keep running.
        if str_at(&p, "spec.nodeName") == NODE_NAME
            && let Some(rt) = kubelet::PodRuntime::adopt(&p, node.ctx.speed)
        {
            if let Some((a, b)) = rt
                .ip
                .strip_prefix("10.244.")
                .and_then(|r| r.split_once('.'))
                && let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>())
            {
                node.next_ip = node.next_ip.max(a * 250 + b.saturating_sub(1));
            }
            let uid = rt.uid.clone();
            node.pods.insert(uid.clone(), rt);
            node.dirty.insert(uid);
        }
        let ev = StoreEvent {
            rv: 0,
            storage_key: "/pods".into(),
            event_type: EventType::Added,
            object: p.clone(),
            previous: None,
        };
        node.on_pod_event(&ev);
    }
    let mut timers: BTreeSet<(Instant, String)> = BTreeSet::new();
    loop {
        loop {
            match rx.try_recv() {
                Ok(ev) if ev.storage_key == "/pods" => node.on_pod_event(&ev),
                Ok(ev) if ev.storage_key == "/nodes" => node.on_node_event(&ev),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    node.schedule = true;
                    node.dirty.extend(node.pods.keys().cloned());
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
            }
        }
        while let Ok(done) = pulls.try_recv() {
            apply_pull(&mut node, done);
        }
        if node.schedule {
            node.schedule = false;
            node.scheduling_pass();
            tokio::task::yield_now().await;
            continue;
        }
        if let Some(uid) = node.dirty.pop_first() {
            timers.retain(|(_, u)| u != &uid);
            if let Some(due) = node.process(&uid) {
                timers.insert((due, uid));
            }
            tokio::task::yield_now().await;
            continue;
        }
        let next = timers.first().map(|(t, _)| *t);
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) if ev.storage_key == "/pods" => node.on_pod_event(&ev),
                Ok(ev) if ev.storage_key == "/nodes" => node.on_node_event(&ev),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    node.schedule = true;
                    node.dirty.extend(node.pods.keys().cloned());
                }
                Err(RecvError::Closed) => return,
            },
            Some(done) = pulls.recv() => apply_pull(&mut node, done),
            _ = tokio::time::sleep_until(next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if next.is_some() => {
                let now = Instant::now();
                while let Some((t, _)) = timers.first() {
                    if *t > now {
                        break;
                    }
                    let (_, uid) = timers.pop_first().expect("first");
                    node.dirty.insert(uid);
                }
            }
        }
    }
}

fn apply_pull(node: &mut Node, done: PullDone) {
    if let Ok(res) = &done.result {
        node.images.insert(done.image.clone(), res.clone());
    }
    if let Some(rt) = node.pods.get_mut(&done.uid) {
        rt.pulled(&node.ctx, done.idx, done.result, done.elapsed, false);
        node.dirty.insert(done.uid);
    }
}

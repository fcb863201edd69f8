//! The controllers of the sandbox's control plane: Deployment, ReplicaSet, Job,
//! StatefulSet, DaemonSet and Service → Endpoints and EndpointSlices, run as one
//! "controller manager" task.
//!
//! Where to start: [`start`] spawns the manager. It subscribes to every change of the
//! [`Store`] and turns each into the keys of the objects that must be reconciled (a pod
//! change dirties its controlling ReplicaSet/Job/StatefulSet/DaemonSet and the Services of
//! its namespace; a ReplicaSet change dirties its Deployment; a change of the node's labels
//! dirties every DaemonSet, …). Each reconciler reads the
//! current state from the store, writes what must change, and may ask to be called again
//! after a delay — the only timers there are, for time-based transitions such as
//! `minReadySeconds`, `progressDeadlineSeconds` and `activeDeadlineSeconds`. Nothing polls.
//!
//! Because the manager runs the reconcilers one after another against the store itself
//! (not a cache), the "expectations" machinery of the real controllers is not needed: a
//! reconciler always sees its own previous writes.
//!
//! Garbage collection of dependents (ownerReferences) is done by the store on every
//! delete, not here. Simulated durations are divided by [`ControllerOptions::speed`].

pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod events;
pub mod job;
pub mod replicaset;
pub mod root_ca;
pub mod statefulset;

use crate::Store;
use crate::resources::ResourceType;
use crate::store::{EventType, ListOpts, Modification, StoreEvent, WriteCtx};
use crate::util::{parse_rfc3339, str_at};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// How the controllers run.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// Every simulated duration (deadlines, minReadySeconds, back-offs) is divided by this.
    pub speed: f64,
    /// The certificate authority (PEM) published in every namespace as the ConfigMap
    /// `kube-root-ca.crt`; `None` publishes none.
    pub root_ca: Option<String>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            speed: 1.0,
            root_ca: None,
        }
    }
}

/// Aborts the tasks it holds when dropped.
pub struct TaskGuard(Vec<tokio::task::JoinHandle<()>>);

impl TaskGuard {
    pub(crate) fn new(tasks: Vec<tokio::task::JoinHandle<()>>) -> TaskGuard {
        TaskGuard(tasks)
    }

    /// Adds the tasks of another guard.
    pub fn join(mut self, mut other: TaskGuard) -> TaskGuard {
        self.0.append(&mut other.0);
        self
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// The resource types the controllers work with, and shared helpers.
pub(crate) struct Ctx {
    pub store: Arc<Store>,
    pub speed: f64,
    pub events: events::Recorder,
    pub pods: ResourceType,
    pub replicasets: ResourceType,
    pub deployments: ResourceType,
    pub jobs: ResourceType,
    pub services: ResourceType,
    pub endpoints: ResourceType,
    pub statefulsets: ResourceType,
    pub controllerrevisions: ResourceType,
    pub endpointslices: ResourceType,
    pub daemonsets: ResourceType,
    pub nodes: ResourceType,
    pub namespaces: ResourceType,
    pub configmaps: ResourceType,
}

fn find(store: &Store, group: &str, resource: &str) -> ResourceType {
    store
        .registry()
        .find(group, "v1", resource)
        .unwrap_or_else(|| panic!("{group}/{resource} is served"))
        .clone()
}

impl Ctx {
    pub(crate) fn new(store: Arc<Store>, speed: f64) -> Ctx {
        Ctx {
            events: events::Recorder::new(store.clone()),
            pods: find(&store, "", "pods"),
            replicasets: find(&store, "apps", "replicasets"),
            deployments: find(&store, "apps", "deployments"),
            jobs: find(&store, "batch", "jobs"),
            services: find(&store, "", "services"),
            endpoints: find(&store, "", "endpoints"),
            statefulsets: find(&store, "apps", "statefulsets"),
            controllerrevisions: find(&store, "apps", "controllerrevisions"),
            endpointslices: find(&store, "discovery.k8s.io", "endpointslices"),
            daemonsets: find(&store, "apps", "daemonsets"),
            nodes: find(&store, "", "nodes"),
            namespaces: find(&store, "", "namespaces"),
            configmaps: find(&store, "", "configmaps"),
            speed: if speed > 0.0 { speed } else { 1.0 },
            store,
        }
    }

    pub(crate) fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Option<Value> {
        self.store.get(rt, ns, name).ok()
    }

    pub(crate) fn list(&self, rt: &ResourceType, ns: Option<&str>) -> Vec<Arc<Value>> {
        self.store
            .list(rt, ns, &ListOpts::default())
            .map(|p| p.items)
            .unwrap_or_default()
    }

    /// Objects of `rt` in `ns` whose controller is `owner`.
    pub(crate) fn owned(&self, rt: &ResourceType, owner: &Value) -> Vec<Arc<Value>> {
        let uid = str_at(owner, "metadata.uid");
        self.list(rt, Some(str_at(owner, "metadata.namespace")))
            .into_iter()
            .filter(|o| controller_uid(o) == Some(uid))
            .collect()
    }

    fn ctx(&self, manager: &str, subresource: &str) -> WriteCtx {
        WriteCtx {
            manager: manager.into(),
            dry_run: false,
            subresource: subresource.into(),
        }
    }

    /// Replaces the status of an object (read-modify-write under the store lock); a no-op
    /// when nothing changes.
    pub(crate) fn write_status(&self, rt: &ResourceType, obj: &Value, status: Value) {
        let _ = self.modify_same(rt, obj, "status", |o| o["status"] = status);
    }

    /// Changes an object (spec or metadata) with `f`; returns the stored result.
    pub(crate) fn mutate(
        &self,
        rt: &ResourceType,
        obj: &Value,
        f: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        self.modify_same(rt, obj, "", f).ok()
    }

    /// Read-modify-write of `obj` with `f` under the store lock, as the controller manager
    /// writing `subresource`; not found when the object is gone or is another one of the
    /// same name (another uid).
    fn modify_same(
        &self,
        rt: &ResourceType,
        obj: &Value,
        subresource: &str,
        f: impl FnOnce(&mut Value),
    ) -> Result<Value, crate::errors::ApiError> {
        let ctx = self.ctx("kube-controller-manager", subresource);
        let uid = str_at(obj, "metadata.uid").to_string();
        self.store.modify(
            rt,
            str_at(obj, "metadata.namespace"),
            str_at(obj, "metadata.name"),
            &ctx,
            |cur| {
                let Some(cur) = cur.filter(|c| str_at(c, "metadata.uid") == uid) else {
                    return Err(crate::errors::ApiError::not_found(
                        &rt.group,
                        &rt.resource,
                        "gone",
                    ));
                };
                let mut o = cur.clone();
                f(&mut o);
                Ok(Modification::Update(o, true))
            },
        )
    }

    pub(crate) fn create(&self, rt: &ResourceType, ns: &str, obj: Value) -> Option<Value> {
        self.store
            .create(rt, ns, obj, &self.ctx("kube-controller-manager", ""))
            .ok()
    }

    pub(crate) fn delete(&self, rt: &ResourceType, obj: &Value) {
        let opts = crate::store::DeleteOpts {
            precondition_uid: Some(str_at(obj, "metadata.uid").to_string()),
            ..Default::default()
        };
        let _ = self.store.delete(
            rt,
            str_at(obj, "metadata.namespace"),
            str_at(obj, "metadata.name"),
            &opts,
        );
    }

    /// Whether a pod counts as available: Ready for at least `min_ready` (simulated) seconds.
    /// The second value is how long until it will be, when it is ready but not yet available.
    pub(crate) fn pod_available(&self, pod: &Value, min_ready: i64) -> (bool, Option<Duration>) {
        let Some(since) = ready_since(pod) else {
            return (false, None);
        };
        if min_ready <= 0 {
            return (true, None);
        }
        let due = since as f64 + min_ready as f64 / self.speed;
        let now = now_f64();
        if due <= now {
            (true, None)
        } else {
            (false, Some(Duration::from_secs_f64(due - now + 0.05)))
        }
    }
}

/// Seconds since the epoch with sub-second precision.
pub(crate) fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `metadata.uid` of the controlling owner.
pub(crate) fn controller_uid(obj: &Value) -> Option<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
        .and_then(|r| r["uid"].as_str())
}

/// The controlling owner's kind and name.
pub(crate) fn controller_of(obj: &Value) -> Option<(&str, &str)> {
    let r = obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))?;
    Some((r["kind"].as_str()?, r["name"].as_str()?))
}

/// An ownerReference to `owner` as a controller writes it.
pub(crate) fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"],
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true,
    })
}

pub(crate) fn is_terminating(obj: &Value) -> bool {
    obj["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Not terminating and not finished: the pods a ReplicaSet counts.
pub(crate) fn pod_active(pod: &Value) -> bool {
    !is_terminating(pod) && !matches!(str_at(pod, "status.phase"), "Succeeded" | "Failed")
}

/// The [active](pod_active) pods of `pods`.
pub(crate) fn active_pods(pods: &[Arc<Value>]) -> Vec<&Value> {
    pods.iter()
        .map(|p| &**p)
        .filter(|p| pod_active(p))
        .collect()
}

fn pod_condition<'a>(pod: &'a Value, type_: &str) -> Option<&'a Value> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

pub(crate) fn pod_ready(pod: &Value) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c["status"] == "True")
}

/// When the pod became Ready (seconds since the epoch), if it is.
pub(crate) fn ready_since(pod: &Value) -> Option<i64> {
    let c = pod_condition(pod, "Ready").filter(|c| c["status"] == "True")?;
    Some(
        c["lastTransitionTime"]
            .as_str()
            .and_then(parse_rfc3339)
            .unwrap_or(0),
    )
}

pub(crate) fn int_at(v: &Value, path: &str) -> i64 {
    crate::util::get_path(v, path)
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

pub(crate) fn labels_match(selector: &Value, obj: &Value) -> bool {
    let sel = crate::selector::LabelSelector::from_label_selector(selector);
    !sel.is_empty() && sel.matches(obj)
}

/// What must be reconciled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Deployment(String, String),
    ReplicaSet(String, String),
    Job(String, String),
    StatefulSet(String, String),
    DaemonSet(String, String),
    Service(String, String),
    RootCa(String),
}

/// Starts the controller manager.
pub fn start(store: Arc<Store>, options: ControllerOptions) -> TaskGuard {
    let ctx = Ctx::new(store, options.speed);
    let task = tokio::spawn(run(ctx, options.root_ca));
    TaskGuard::new(vec![task])
}

fn keys_for(ctx: &Ctx, ev: &StoreEvent, out: &mut BTreeSet<Key>) {
    let objs = [Some(&ev.object), ev.previous.as_ref()];
    for o in objs.into_iter().flatten() {
        let ns = str_at(o, "metadata.namespace").to_string();
        let name = str_at(o, "metadata.name").to_string();
        match ev.storage_key.as_str() {
            "apps/deployments" => {
                out.insert(Key::Deployment(ns, name));
            }
            "apps/replicasets" => {
                out.insert(Key::ReplicaSet(ns.clone(), name));
                if let Some(("Deployment", d)) = controller_of(o) {
                    out.insert(Key::Deployment(ns, d.to_string()));
                }
            }
            "batch/jobs" => {
                out.insert(Key::Job(ns, name));
            }
            "apps/statefulsets" => {
                out.insert(Key::StatefulSet(ns, name));
            }
            "apps/daemonsets" => {
                out.insert(Key::DaemonSet(ns, name));
            }
            "apps/controllerrevisions" => match controller_of(o) {
                Some(("StatefulSet", s)) => {
                    out.insert(Key::StatefulSet(ns, s.to_string()));
                }
                Some(("DaemonSet", d)) => {
                    out.insert(Key::DaemonSet(ns, d.to_string()));
                }
                _ => {}
            },
            // Where daemon pods belong depends on the node's labels.
            "/nodes"
                if ev.event_type != EventType::Modified
                    || ev.previous.as_ref().map(|p| &p["metadata"]["labels"])
                        != Some(&ev.object["metadata"]["labels"]) =>
            {
                for ds in ctx.list(&ctx.daemonsets, None) {
                    out.insert(Key::DaemonSet(
                        str_at(&ds, "metadata.namespace").to_string(),
                        str_at(&ds, "metadata.name").to_string(),
                    ));
                }
            }
            "/services" => {
                out.insert(Key::Service(ns, name));
            }
            "/namespaces" if ev.event_type != EventType::Deleted => {
                out.insert(Key::RootCa(name));
            }
            "/configmaps" if root_ca::is_root_ca(o) => {
                out.insert(Key::RootCa(ns));
            }
            "/endpoints" if ev.event_type == EventType::Deleted => {
                out.insert(Key::Service(ns, name));
            }
            "discovery.k8s.io/endpointslices" if ev.event_type == EventType::Deleted => {
                if let Some(svc) = o["metadata"]["labels"][endpoints::SERVICE_NAME_LABEL].as_str() {
                    out.insert(Key::Service(ns, svc.to_string()));
                }
            }
            "/pods" => {
                match controller_of(o) {
                    Some(("ReplicaSet", rs)) => {
                        out.insert(Key::ReplicaSet(ns.clone(), rs.to_string()));
                        // Recreate waits for old pods to be gone, which changes no
                        // ReplicaSet status: tell the Deployment directly.
                        if ev.event_type == EventType::Deleted
                            && let Some(rs_obj) = ctx.get(&ctx.replicasets, &ns, rs)
                            && let Some(("Deployment", d)) = controller_of(&rs_obj)
                        {
                            out.insert(Key::Deployment(ns.clone(), d.to_string()));
                        }
                    }
                    Some(("Job", j)) => {
                        out.insert(Key::Job(ns.clone(), j.to_string()));
                    }
                    Some(("StatefulSet", s)) => {
                        out.insert(Key::StatefulSet(ns.clone(), s.to_string()));
                    }
                    Some(("DaemonSet", d)) => {
                        out.insert(Key::DaemonSet(ns.clone(), d.to_string()));
                    }
                    _ => {}
                }
                for svc in ctx.list(&ctx.services, Some(&ns)) {
                    out.insert(Key::Service(
                        ns.clone(),
                        str_at(&svc, "metadata.name").to_string(),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The key of an object named by namespace and name.
type NamedKey = fn(String, String) -> Key;

fn all_keys(ctx: &Ctx) -> BTreeSet<Key> {
    let mut out = BTreeSet::new();
    let key = |o: &Value| {
        (
            str_at(o, "metadata.namespace").to_string(),
            str_at(o, "metadata.name").to_string(),
        )
    };
    let workloads: [(&ResourceType, NamedKey); 6] = [
        (&ctx.deployments, Key::Deployment),
        (&ctx.replicasets, Key::ReplicaSet),
        (&ctx.jobs, Key::Job),
        (&ctx.statefulsets, Key::StatefulSet),
        (&ctx.daemonsets, Key::DaemonSet),
        (&ctx.services, Key::Service),
    ];
    for (rt, make) in workloads {
        for o in ctx.list(rt, None) {
            let (n, m) = key(&o);
            out.insert(make(n, m));
        }
    }
    for o in ctx.list(&ctx.namespaces, None) {
        out.insert(Key::RootCa(key(&o).1));
    }
    out
}

fn reconcile(ctx: &Ctx, key: &Key, root_ca: Option<&str>) -> Option<Duration> {
    match key {
        Key::Deployment(ns, n) => deployment::sync(ctx, ns, n),
        Key::ReplicaSet(ns, n) => replicaset::sync(ctx, ns, n),
        Key::Job(ns, n) => job::sync(ctx, ns, n),
        Key::StatefulSet(ns, n) => statefulset::sync(ctx, ns, n),
        Key::DaemonSet(ns, n) => daemonset::sync(ctx, ns, n),
        Key::Service(ns, n) => endpoints::sync(ctx, ns, n),
        Key::RootCa(ns) => {
            if let Some(pem) = root_ca {
                root_ca::sync(ctx, ns, pem);
            }
            None
        }
    }
}

async fn run(ctx: Ctx, root_ca: Option<String>) {
    let mut rx = ctx.store.subscribe();
    let mut dirty = all_keys(&ctx);
    let mut timers: BTreeSet<(Instant, Key)> = BTreeSet::new();
    loop {
        // Pull in everything that already happened before reconciling.
        loop {
            match rx.try_recv() {
                Ok(ev) => keys_for(&ctx, &ev, &mut dirty),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    dirty.extend(all_keys(&ctx))
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
            }
        }
        if let Some(key) = dirty.pop_first() {
            if let Some(after) = reconcile(&ctx, &key, root_ca.as_deref()) {
                timers.retain(|(_, k)| k != &key);
                timers.insert((Instant::now() + after, key));
            }
            // Let other tasks (the API server, the kubelet) run between reconciles.
            tokio::task::yield_now().await;
            continue;
        }
        let next = timers.first().map(|(t, _)| *t);
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => keys_for(&ctx, &ev, &mut dirty),
                Err(RecvError::Lagged(_)) => dirty.extend(all_keys(&ctx)),
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if next.is_some() => {
                let now = Instant::now();
                while let Some((t, _)) = timers.first() {
                    if *t > now {
                        break;
                    }
                    let (_, k) = timers.pop_first().expect("first");
                    dirty.insert(k);
                }
            }
        }
    }
}

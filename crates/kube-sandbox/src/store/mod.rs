//! The in-memory object store: one global resourceVersion, an event history for watches,
//! and a broadcast of every change for watchers and controllers.
//!
//! This file holds the types, the store's construction and reads, and the primitive
//! writes of `Inner` (put, remove, record) that every other part builds on:
//! `write.rs` creates and replaces objects, `delete.rs` deletes them (propagation
//! policies, a pod's graceful deletion), `gc.rs` is the garbage collector (owners,
//! finalizers, terminating namespaces), `list.rs` lists (pages, `continue` tokens, the
//! past rebuilt from the history), `watch.rs` starts watches, and `outbox.rs` makes
//! writes durable and announces them in resourceVersion order.

mod delete;
mod gc;
mod list;
mod outbox;
mod watch;
mod write;

#[cfg(test)]
mod tests;

pub use list::too_large_resource_version;
pub use write::Modification;

use crate::errors::ApiError;
use crate::resources::{Registry, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::util::{now_rfc3339, str_at};
use outbox::Outbox;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change of the store, as watchers and controllers see it.
#[derive(Debug, Clone)]
pub struct StoreEvent {
    pub rv: u64,
    /// `group/resource` of the object.
    pub storage_key: String,
    pub event_type: EventType,
    pub object: Arc<Value>,
    /// The object before the change (None for ADDED).
    pub previous: Option<Arc<Value>>,
}

type ObjKey = (String, String);

struct Inner {
    rv: u64,
    /// Events with rv <= compacted are no longer in the history.
    compacted: u64,
    registry: Registry,
    objects: HashMap<String, BTreeMap<ObjKey, Arc<Value>>>,
    history: VecDeque<Arc<StoreEvent>>,
    history_cap: usize,
    next_ip: u32,
    pending: Vec<Arc<StoreEvent>>,
}

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteCtx {
    pub manager: String,
    pub dry_run: bool,
    pub subresource: String,
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    /// `Foreground`, `Background` or `Orphan`.
    pub propagation: Option<String>,
    pub dry_run: bool,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    /// `gracePeriodSeconds`: how long a running pod has to stop (0 deletes it at once).
    pub grace_period: Option<i64>,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Value),
    /// The object stays, with a deletionTimestamp, until its finalizers are removed.
    Terminating(Value),
}

/// A page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// List options.
#[derive(Debug, Clone, Default)]
pub struct ListOpts {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    /// List the objects as they were at this resourceVersion (`resourceVersionMatch=Exact`);
    /// `None` lists them as they are now.
    pub resource_version: Option<u64>,
}

/// What a watch starts from.
pub struct WatchStart {
    pub initial: Vec<Arc<Value>>,
    pub backlog: Vec<Arc<StoreEvent>>,
    pub rv: u64,
    pub receiver: broadcast::Receiver<Arc<StoreEvent>>,
}

/// The store.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<StoreEvent>>,
    /// The state directory's log, when the store is persistent.
    log: Option<crate::persist::Log>,
    /// Committed events on their way to `tx`, in resourceVersion order.
    outbox: Mutex<Outbox>,
}

/// The resourceVersion of an object as a number.
pub fn rv_of(obj: &Value) -> u64 {
    str_at(obj, "metadata.resourceVersion").parse().unwrap_or(0)
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

fn is_terminating(obj: &Value) -> bool {
    obj["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

impl Store {
    pub fn new(history_cap: usize) -> Self {
        let store = Self::empty(history_cap, None);
        store.bootstrap();
        store
    }

    /// A store kept in `dir`: what the directory holds is replayed (a new directory gets
    /// the built-in objects), and every write is on disk before the write returns.
    pub fn open(history_cap: usize, dir: &std::path::Path) -> std::io::Result<Self> {
        Self::open_with(history_cap, dir, crate::persist::DEFAULT_COMPACT_BYTES)
    }

    /// [`Store::open`] with the log size that triggers compaction.
    pub fn open_with(
        history_cap: usize,
        dir: &std::path::Path,
        compact_bytes: u64,
    ) -> std::io::Result<Self> {
        let (log, replayed) = crate::persist::Log::open(dir, compact_bytes)?;
        let store = Self::empty(history_cap, Some(log));
        if replayed.records.is_empty() {
            store.bootstrap();
            return Ok(store);
        }
        {
            let mut inner = store.lock();
            for r in replayed.records {
                let ns = str_at(&r.object, "metadata.namespace").to_string();
                let name = str_at(&r.object, "metadata.name").to_string();
                let map = inner.objects.entry(r.key).or_default();
                if r.deleted {
                    map.remove(&(ns, name));
                } else {
                    map.insert((ns, name), Arc::new(r.object));
                }
            }
            inner.objects.retain(|_, m| !m.is_empty());
            inner.rv = replayed.rv;
            // Watches cannot resume from before the restart.
            inner.compacted = replayed.rv;
            let crds: Vec<Arc<Value>> = inner
                .objects
                .get("apiextensions.k8s.io/customresourcedefinitions")
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            for crd in crds {
                let types = crate::resources::from_crd(&crd);
                let group = crd["spec"]["group"].as_str().unwrap_or_default();
                let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
                inner.registry.set_crd(group, plural, types);
            }
            // Cluster IPs continue above the highest one handed out.
            let mut next_ip = 1;
            for svc in inner
                .objects
                .get("/services")
                .into_iter()
                .flat_map(|m| m.values())
            {
                let ip = str_at(svc, "spec.clusterIP");
                if let Some(rest) = ip.strip_prefix("10.96.")
                    && let Some((a, b)) = rest.split_once('.')
                    && let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>())
                    && b >= 1
                {
                    next_ip = next_ip.max(a * 250 + b);
                }
            }
            inner.next_ip = next_ip;
        }
        Ok(store)
    }

    /// Whether the store is kept in a state directory.
    pub fn is_persistent(&self) -> bool {
        self.log.is_some()
    }

    fn empty(history_cap: usize, log: Option<crate::persist::Log>) -> Self {
        let (tx, _) = broadcast::channel(8192);
        Store {
            inner: Mutex::new(Inner {
                rv: 0,
                compacted: 0,
                registry: Registry::default(),
                objects: HashMap::new(),
                history: VecDeque::new(),
                history_cap: history_cap.max(16),
                next_ip: 1,
                pending: Vec::new(),
            }),
            tx,
            log,
            outbox: Mutex::new(Outbox::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bootstrap(&self) {
        let ctx = WriteCtx {
            manager: "kube-apiserver".into(),
            ..Default::default()
        };
        let reg = self.registry();
        let ns = reg
            .find("", "v1", "namespaces")
            .expect("namespaces")
            .clone();
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let _ = self.create(&ns, "", obj, &ctx);
        }
        let nodes = reg.find("", "v1", "nodes").expect("nodes").clone();
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "sandbox-node", "labels": {
                "kubernetes.io/hostname": "sandbox-node", "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": ""}},
            "spec": {},
        });
        if let Ok(mut created) = self.create(&nodes, "", node, &ctx) {
            created["status"] = json!({
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status", "lastHeartbeatTime": now_rfc3339(),
                    "lastTransitionTime": now_rfc3339()}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": "sandbox-node"}],
                "nodeInfo": {"kubeletVersion": crate::KUBERNETES_VERSION, "kubeProxyVersion": crate::KUBERNETES_VERSION,
                    "operatingSystem": "linux", "architecture": "amd64", "containerRuntimeVersion": "sandbox://0.1.0",
                    "osImage": "kube-sandbox", "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
            });
            let status_ctx = WriteCtx {
                subresource: "status".into(),
                ..ctx.clone()
            };
            let _ = self.update(&nodes, "", "sandbox-node", created, &status_ctx);
        }
    }

    /// A copy of the registry.
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    /// The current resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// How many objects each storage key (`group/resource`) holds, in key order.
    pub fn object_counts(&self) -> Vec<(String, usize)> {
        let inner = self.lock();
        let mut counts: Vec<(String, usize)> = inner
            .objects
            .iter()
            .map(|(k, m)| (k.clone(), m.len()))
            .collect();
        counts.sort();
        counts
    }

    /// Subscribes to every change (for controllers).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoreEvent>> {
        self.tx.subscribe()
    }

    // ------------------------------------------------------------ reads

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let inner = self.lock();
        inner
            .get(&rt.storage_key(), ns, name)
            .map(|o| with_version(&o, rt))
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))
    }
}

fn with_version(obj: &Value, rt: &ResourceType) -> Value {
    crate::convert::to_served(rt, obj)
}

fn with_version_arc(obj: &Arc<Value>, rt: &ResourceType) -> Arc<Value> {
    if crate::convert::converts(rt) && obj["apiVersion"] != json!(rt.api_version()) {
        Arc::new(with_version(obj, rt))
    } else {
        obj.clone()
    }
}

impl Inner {
    fn get(&self, key: &str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(key)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    fn record(&mut self, ev: StoreEvent) {
        let ev = Arc::new(ev);
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_cap {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.pending.push(ev);
    }

    fn put(&mut self, rt: &ResourceType, mut obj: Value, old: Option<Value>) -> Arc<Value> {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let ns = str_at(&obj, "metadata.namespace").to_string();
        let name = str_at(&obj, "metadata.name").to_string();
        let key = rt.storage_key();
        let obj = Arc::new(obj);
        let previous = self
            .objects
            .entry(key.clone())
            .or_default()
            .insert((ns, name), obj.clone());
        let event_type = if previous.is_some() || old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(StoreEvent {
            rv: self.rv,
            storage_key: key,
            event_type,
            object: obj.clone(),
            previous,
        });
        obj
    }

    fn remove(&mut self, key: String, ns: &str, name: &str) -> Option<Arc<Value>> {
        let old = self
            .objects
            .get_mut(&key)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let last = Arc::new(last);
        if key == "apiextensions.k8s.io/customresourcedefinitions" {
            let group = old["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = old["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.registry.set_crd(&group, &plural, vec![]);
            // Custom resources go with their definition.
            let cr_key = format!("{group}/{plural}");
            let names: Vec<ObjKey> = self
                .objects
                .get(&cr_key)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for (cns, cname) in names {
                self.remove(cr_key.clone(), &cns, &cname);
            }
        }
        self.record(StoreEvent {
            rv: self.rv,
            storage_key: key,
            event_type: EventType::Deleted,
            object: last.clone(),
            previous: Some(old),
        });
        Some(last)
    }

    fn rt_for_key(&self, key: &str) -> Option<ResourceType> {
        let (group, resource) = key.split_once('/')?;
        self.registry
            .all()
            .iter()
            .find(|r| r.group == group && r.resource == resource)
            .cloned()
    }
}

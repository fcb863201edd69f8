//! The in-memory object store: one global resourceVersion, an event history for watches,
//! and a broadcast of every change for watchers and controllers.

use crate::errors::ApiError;
use crate::fields::{self, WriteActor};
use crate::kinds;
use crate::resources::{Registry, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::util::{self, meta_mut, now_rfc3339, str_at};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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

/// The message of a `continue` token whose snapshot has left the history.
const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// The answer to a read at a resourceVersion the store has not reached.
pub fn too_large_resource_version(asked: u64, current: u64) -> ApiError {
    let mut e = ApiError::new(
        504,
        "Timeout",
        format!("Too large resource version: {asked}, current: {current}"),
    );
    e.details = Some(json!({
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }));
    e
}

/// A `continue` token: the resourceVersion of the list's snapshot (0 once it expired:
/// continue with the current objects) and the last key returned.
struct ContinueToken;

impl ContinueToken {
    fn encode(rv: u64, (ns, name): &ObjKey) -> String {
        hex(&format!("{rv}\u{0}{ns}\u{0}{name}"))
    }

    fn decode(token: &str) -> Result<(u64, ObjKey), ApiError> {
        let bad = || ApiError::bad_request(format!("invalid continue token: {token:?}"));
        let decoded = unhex(token).ok_or_else(bad)?;
        let mut parts = decoded.splitn(3, '\u{0}');
        let rv = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
        let ns = parts.next().ok_or_else(bad)?.to_string();
        let name = parts.next().ok_or_else(bad)?.to_string();
        Ok((rv, (ns, name)))
    }
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

/// Events leave in resourceVersion order, each once it is durable. Writers commit under
/// the store's lock but make their writes durable (and announce them) after releasing
/// it; without this queue two writers could announce out of order, and a watch, which
/// skips events older than the last one it sent, would lose the later-announced one.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Arc<StoreEvent>>,
    /// Every event up to this resourceVersion is durable.
    durable_upto: u64,
}

/// A write that cannot be made durable must not be acknowledged: stop the process.
fn fatal(log: &crate::persist::Log, e: &std::io::Error) -> ! {
    eprintln!(
        "kube-sandbox: cannot write the state log in {}: {e}; stopping",
        log.dir().display()
    );
    std::process::abort()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let chunks = s.as_bytes().chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> = chunks
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
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

/// The grace period of a pod's deletion, when it is graceful: the request's
/// `gracePeriodSeconds`, else the pod's `terminationGracePeriodSeconds` (30 by default);
/// none for other kinds, for a grace period of 0, and for pods no kubelet runs (not
/// bound to a node, or finished), which go at once — as the real pod strategy decides.
fn pod_grace_period(rt: &ResourceType, pod: &Value, asked: Option<i64>) -> Option<i64> {
    if !(rt.group.is_empty() && rt.resource == "pods") {
        return None;
    }
    let grace = asked
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30);
    let runs = !str_at(pod, "spec.nodeName").is_empty()
        && !matches!(str_at(pod, "status.phase"), "Succeeded" | "Failed");
    (grace > 0 && runs).then_some(grace)
}

fn without_meta_and_status(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
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

    fn flush(&self, mut inner: MutexGuard<'_, Inner>) {
        let pending = std::mem::take(&mut inner.pending);
        let mut sync_to = None;
        if let Some(log) = &self.log
            && !pending.is_empty()
        {
            // Appended under the store lock, so the log is in resourceVersion order.
            let records = pending.iter().map(|ev| {
                let t = if ev.event_type == EventType::Deleted {
                    "del"
                } else {
                    "put"
                };
                (t, ev.rv, ev.storage_key.as_str(), &*ev.object)
            });
            match log.append(records) {
                Ok(rv) => sync_to = Some(rv),
                Err(e) => fatal(log, &e),
            }
            if log.needs_compaction() {
                let objects = inner
                    .objects
                    .iter()
                    .flat_map(|(k, m)| m.values().map(move |o| (k.as_str(), &**o)));
                if let Err(e) = log.compact(inner.rv, objects) {
                    fatal(log, &e);
                }
            }
        }
        // Queued while the store is locked, so the queue is in resourceVersion order.
        let last_rv = pending.last().map(|e| e.rv);
        self.outbox().queue.extend(pending);
        drop(inner);
        // The write is acknowledged only once it is on disk; concurrent writers share syncs.
        if let (Some(log), Some(rv)) = (&self.log, sync_to)
            && let Err(e) = log.sync(rv)
        {
            fatal(log, &e);
        }
        // A sync up to `rv` also made every earlier write durable, other writers' too.
        let durable = if self.log.is_some() { sync_to } else { last_rv };
        let mut outbox = self.outbox();
        if let Some(rv) = durable {
            outbox.durable_upto = outbox.durable_upto.max(rv);
        }
        let durable_upto = outbox.durable_upto;
        while outbox.queue.front().is_some_and(|ev| ev.rv <= durable_upto) {
            if let Some(ev) = outbox.queue.pop_front() {
                let _ = self.tx.send(ev);
            }
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ------------------------------------------------------------ reads

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let inner = self.lock();
        inner
            .get(&rt.storage_key(), ns, name)
            .map(|o| with_version(&o, rt))
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))
    }

    /// A page of the objects of `rt` as they are now, or as they were at
    /// `opts.resource_version` (or at the first page's resourceVersion, for a `continue`
    /// token): a paged list is a consistent snapshot, as etcd's revisions make it on a real
    /// server. The past is rebuilt from the event history; a state older than it is
    /// `410 Expired`.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOpts,
    ) -> Result<ListPage, ApiError> {
        let inner = self.lock();
        let mut at = opts.resource_version;
        let start: Option<ObjKey> = match &opts.continue_token {
            Some(t) if !t.is_empty() => {
                let (rv, key) = ContinueToken::decode(t)?;
                // A token of an expired list continues with the objects as they are now.
                at = (rv > 0).then_some(rv);
                Some(key)
            }
            _ => None,
        };
        let at = at.unwrap_or(inner.rv);
        if at > inner.rv {
            return Err(too_large_resource_version(at, inner.rv));
        }
        let key = rt.storage_key();
        let empty = BTreeMap::new();
        let map = inner.objects.get(&key).unwrap_or(&empty);
        // What changed since `at`: each object's state before its first change after it.
        let mut past: BTreeMap<&ObjKey, Option<&Arc<Value>>> = BTreeMap::new();
        let mut past_keys: Vec<ObjKey> = Vec::new();
        if at < inner.rv {
            if at < inner.compacted {
                return Err(match start {
                    Some(k) => {
                        let mut e = ApiError::gone(EXPIRED_CONTINUE);
                        e.list_continue = Some(ContinueToken::encode(0, &k));
                        e
                    }
                    None => ApiError::gone("The resourceVersion for the provided list is too old."),
                });
            }
            let changes: Vec<&Arc<StoreEvent>> = inner
                .history
                .iter()
                .rev()
                .take_while(|e| e.rv > at)
                .filter(|e| e.storage_key == key)
                .collect();
            for ev in changes.iter().rev() {
                past_keys.push((
                    str_at(&ev.object, "metadata.namespace").to_string(),
                    str_at(&ev.object, "metadata.name").to_string(),
                ));
            }
            // The oldest change of each object comes last, so it is the one kept.
            for (ev, k) in changes.iter().zip(past_keys.iter().rev()) {
                past.insert(k, ev.previous.as_ref());
            }
        }
        let in_scope = |(ons, oname): &ObjKey| {
            ns.is_none_or(|n| n == ons)
                && start
                    .as_ref()
                    .is_none_or(|(sns, sname)| (ons, oname) > (sns, sname))
        };
        let objects: Box<dyn Iterator<Item = (&ObjKey, &Arc<Value>)>> = if past.is_empty() {
            Box::new(map.iter())
        } else {
            let mut view: BTreeMap<&ObjKey, &Arc<Value>> = map.iter().collect();
            for (k, before) in past {
                match before {
                    Some(o) => view.insert(k, o),
                    None => view.remove(k),
                };
            }
            Box::new(view.into_iter())
        };
        let mut matched = objects
            .filter(|(k, _)| in_scope(k))
            .map(|(_, o)| o)
            .filter(|o| opts.labels.matches(o) && opts.fields.matches(o));
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = None;
        for o in matched.by_ref() {
            items.push(with_version_arc(o, rt));
            if opts.limit.is_some_and(|l| items.len() >= l) {
                break;
            }
        }
        if opts.limit.is_some() {
            let left = matched.count() as u64;
            if left > 0 {
                let last = items.last().expect("limit > 0");
                let last = (
                    str_at(last, "metadata.namespace").to_string(),
                    str_at(last, "metadata.name").to_string(),
                );
                continue_token = Some(ContinueToken::encode(at, &last));
                remaining = Some(left);
            }
        }
        Ok(ListPage {
            items,
            resource_version: at,
            continue_token,
            remaining,
        })
    }

    /// Starts a watch of `rt`: from `from_rv` (events after it) or, when `None`, with the
    /// current objects as initial state.
    pub fn watch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        from_rv: Option<u64>,
    ) -> Result<WatchStart, ApiError> {
        let inner = self.lock();
        let receiver = self.tx.subscribe();
        let key = rt.storage_key();
        match from_rv {
            Some(rv) => {
                if rv < inner.compacted {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        inner.compacted + 1
                    )));
                }
                let backlog = inner
                    .history
                    .iter()
                    .filter(|e| e.rv > rv && e.storage_key == key)
                    .filter(|e| ns.is_none_or(|n| str_at(&e.object, "metadata.namespace") == n))
                    .cloned()
                    .collect();
                Ok(WatchStart {
                    initial: vec![],
                    backlog,
                    rv: inner.rv.max(rv),
                    receiver,
                })
            }
            None => {
                let initial = inner
                    .objects
                    .get(&key)
                    .into_iter()
                    .flat_map(|m| m.iter())
                    .filter(|((ons, _), _)| ns.is_none_or(|n| n == ons))
                    .map(|(_, o)| with_version_arc(o, rt))
                    .collect();
                Ok(WatchStart {
                    initial,
                    backlog: vec![],
                    rv: inner.rv,
                    receiver,
                })
            }
        }
    }

    // ------------------------------------------------------------ writes

    pub fn create(
        &self,
        rt: &ResourceType,
        ns: &str,
        mut obj: Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let now = now_rfc3339();
        {
            let meta = meta_mut(&mut obj);
            let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty()
                && let Some(g) = meta.get("generateName").and_then(Value::as_str)
                && !g.is_empty()
            {
                let generated = format!("{g}{}", util::random_suffix(5));
                meta.insert("name".into(), json!(generated));
            }
            if rt.namespaced {
                meta.insert("namespace".into(), json!(ns));
            } else {
                meta.remove("namespace");
            }
            meta.insert("uid".into(), json!(util::new_uid()));
            meta.insert("creationTimestamp".into(), json!(now));
            for k in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                meta.remove(k);
            }
            if rt.tracks_generation() {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if rt.has_subresource("status") || matches!(rt.resource.as_str(), "pods" | "namespaces") {
            kinds::initial_status(rt, &mut obj);
        }
        let key = rt.storage_key();
        let name = str_at(&obj, "metadata.name").to_string();
        if rt.custom {
            crate::crd_schema::admit(rt, &mut obj)?;
        }
        kinds::validate(rt, &obj)?;
        if rt.namespaced {
            match inner.get("/namespaces", "", ns) {
                None => return Err(ApiError::not_found("", "namespaces", ns)),
                Some(n) if is_terminating(&n) => {
                    return Err(ApiError::forbidden(format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        crate::errors::qualified(&rt.group, &rt.resource)
                    ))
                    .with_details(json!({"name": name, "group": rt.group, "kind": rt.resource,
                        "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]})));
                }
                _ => {}
            }
        }
        if inner.get(&key, ns, &name).is_some() {
            return Err(ApiError::already_exists(&rt.group, &rt.resource, &name));
        }
        let next_ip = &mut inner.next_ip;
        kinds::apply_defaults(rt, &mut obj, || {
            let n = *next_ip;
            *next_ip += 1;
            format!("10.96.{}.{}", n / 250, n % 250 + 1)
        });
        if rt.group.is_empty() && rt.resource == "services" {
            kinds::allocate_node_ports(&mut obj, &inner.node_ports(&key, None));
        }
        if rt.group == "apiextensions.k8s.io" {
            check_crd_names(&inner.registry, &obj)?;
        }
        if obj["metadata"].get("managedFields").is_none() {
            let api_version = rt.api_version();
            let actor = actor(rt, &api_version, ctx, &now);
            fields::record_update(None, &mut obj, &actor);
        }
        if ctx.dry_run {
            return Ok(obj);
        }
        let stored = inner.put(rt, crate::convert::to_storage(rt, obj), None);
        if rt.group.is_empty() && rt.resource == "namespaces" {
            inner.create_default_service_account(str_at(&stored, "metadata.name"));
        }
        self.after_write(&mut inner, rt, &stored);
        let out = with_version(&stored, rt);
        self.flush(inner);
        Ok(out)
    }

    /// Replaces an object (PUT), honouring `metadata.resourceVersion` as a precondition.
    pub fn update(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        new: Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        self.modify(rt, ns, name, ctx, |old| match old {
            Some(_) => Ok(Modification::Update(new, true)),
            None => Err(ApiError::not_found(&rt.group, &rt.resource, name)),
        })
    }

    /// Read-modify-write under the store lock. The closure sees the current object (None when
    /// absent) and says what to do.
    pub fn modify(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        ctx: &WriteCtx,
        f: impl FnOnce(Option<&Value>) -> Result<Modification, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let key = rt.storage_key();
        let current = inner.get(&key, ns, name).map(|o| with_version(&o, rt));
        match f(current.as_ref())? {
            Modification::Create(obj) => {
                drop(inner);
                self.create(rt, ns, obj, ctx)
            }
            Modification::Update(mut new, record) => {
                let old =
                    current.ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
                let now = now_rfc3339();
                // Identity and preconditions.
                let new_name = str_at(&new, "metadata.name");
                if !new_name.is_empty() && new_name != name {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({new_name}) does not match the name on the URL ({name})"
                    )));
                }
                let kind = new["kind"].as_str().unwrap_or_default();
                if !kind.is_empty() && kind != rt.kind {
                    return Err(ApiError::bad_request(format!(
                        "{} in version \"{}\" cannot be handled as a {}: kind mismatch",
                        kind, rt.version, rt.kind
                    )));
                }
                let new_rv = str_at(&new, "metadata.resourceVersion");
                if !new_rv.is_empty() && new_rv != str_at(&old, "metadata.resourceVersion") {
                    return Err(ApiError::conflict(
                        &rt.group,
                        &rt.resource,
                        name,
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ));
                }
                if new_rv.is_empty()
                    && ctx.subresource.is_empty()
                    && !record_allows_unconditional(rt)
                    && record
                {
                    // Real PUTs without resourceVersion are unconditional for most kinds.
                }
                {
                    let meta = meta_mut(&mut new);
                    for k in [
                        "uid",
                        "creationTimestamp",
                        "namespace",
                        "name",
                        "deletionTimestamp",
                        "deletionGracePeriodSeconds",
                        "generation",
                    ] {
                        match old["metadata"].get(k) {
                            Some(v) => {
                                meta.insert(k.into(), v.clone());
                            }
                            None => {
                                meta.remove(k);
                            }
                        }
                    }
                }
                new["apiVersion"] = json!(rt.api_version());
                new["kind"] = json!(rt.kind);
                // Subresource semantics.
                if ctx.subresource == "status" {
                    let mut merged = old.clone();
                    match new.get("status") {
                        Some(s) => merged["status"] = s.clone(),
                        None => {
                            merged.as_object_mut().expect("object").remove("status");
                        }
                    }
                    if let Some(mf) = new["metadata"].get("managedFields") {
                        merged["metadata"]["managedFields"] = mf.clone();
                    }
                    new = merged;
                } else if rt.has_subresource("status") {
                    match old.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            new.as_object_mut().expect("object").remove("status");
                        }
                    }
                }
                if rt.tracks_generation()
                    && without_meta_and_status(&old) != without_meta_and_status(&new)
                {
                    let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                    new["metadata"]["generation"] = json!(g);
                }
                let service = rt.group.is_empty() && rt.resource == "services";
                if service && ctx.subresource.is_empty() {
                    kinds::keep_allocated_service_values(&old, &mut new);
                }
                let next_ip = &mut inner.next_ip;
                kinds::apply_defaults(rt, &mut new, || {
                    let n = *next_ip;
                    *next_ip += 1;
                    format!("10.96.{}.{}", n / 250, n % 250 + 1)
                });
                if service {
                    let key = rt.storage_key();
                    kinds::allocate_node_ports(&mut new, &inner.node_ports(&key, Some((ns, name))));
                }
                kinds::validate(rt, &new)?;
                if ctx.subresource.is_empty() {
                    kinds::validate_update(rt, &old, &new)?;
                }
                if rt.group == "apiextensions.k8s.io" {
                    check_crd_names(&inner.registry, &new)?;
                }
                if rt.custom {
                    crate::crd_schema::admit(rt, &mut new)?;
                }
                if record {
                    let api_version = rt.api_version();
                    let actor = actor(rt, &api_version, ctx, &now);
                    fields::record_update(Some(&old), &mut new, &actor);
                } else {
                    // The managed fields were computed by server-side apply; drop fields that
                    // a reset (status) removed.
                    let present = fields::FieldSet::of(&new, false);
                    let mut ms = fields::managers_of(&new);
                    for m in &mut ms {
                        m.fields.0.retain(|p| present.0.contains(p));
                    }
                    fields::set_managers(&mut new, &ms);
                }
                if ctx.dry_run {
                    return Ok(new);
                }
                if is_terminating(&old) && finalizers(&new).is_empty() {
                    let gone = inner.remove(rt.storage_key(), ns, name);
                    inner.gc(self);
                    self.flush(inner);
                    return Ok(gone.map(|g| (*g).clone()).unwrap_or(new));
                }
                // Nothing changed: no new resourceVersion (as the real server).
                let mut cmp_old = old.clone();
                let mut cmp_new = new.clone();
                for o in [&mut cmp_old, &mut cmp_new] {
                    let m = meta_mut(o);
                    m.remove("resourceVersion");
                    m.remove("managedFields");
                }
                if cmp_old == cmp_new {
                    return Ok(old);
                }
                let stored = inner.put(rt, crate::convert::to_storage(rt, new), Some(old));
                self.after_write(&mut inner, rt, &stored);
                let out = with_version(&stored, rt);
                self.flush(inner);
                Ok(out)
            }
        }
    }

    /// Deletes one object.
    pub fn delete(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Deleted, ApiError> {
        let mut inner = self.lock();
        let key = rt.storage_key();
        let obj = inner
            .get(&key, ns, name)
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
        if let Some(uid) = &opts.precondition_uid
            && uid != str_at(&obj, "metadata.uid")
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.resource,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    str_at(&obj, "metadata.uid")
                ),
            ));
        }
        if let Some(rv) = &opts.precondition_rv
            && rv != str_at(&obj, "metadata.resourceVersion")
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.resource,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    str_at(&obj, "metadata.resourceVersion")
                ),
            ));
        }
        let policy = opts
            .propagation
            .clone()
            .unwrap_or_else(|| "Background".into());
        if !["Foreground", "Background", "Orphan"].contains(&policy.as_str()) {
            return Err(ApiError::invalid(
                "",
                "DeleteOptions",
                "",
                vec![(
                    "propagationPolicy".into(),
                    format!(
                        "Unsupported value: {policy:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                    ),
                    "FieldValueNotSupported",
                )],
            ));
        }
        if opts.dry_run {
            return Ok(Deleted::Gone(with_version(&obj, rt)));
        }
        let out = inner.delete_object(rt, ns, name, &policy, opts.grace_period);
        inner.gc(self);
        self.flush(inner);
        Ok(out.unwrap_or_else(|| Deleted::Gone((*obj).clone())))
    }

    /// Deletes every object matching `opts` in `ns` (all namespaces when None).
    pub fn delete_collection(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOpts,
        del: &DeleteOpts,
    ) -> Result<Vec<Value>, ApiError> {
        let page = self.list(
            rt,
            ns,
            &ListOpts {
                limit: None,
                continue_token: None,
                ..opts.clone()
            },
        )?;
        let mut out = Vec::new();
        for item in page.items {
            let ns = str_at(&item, "metadata.namespace").to_string();
            let name = str_at(&item, "metadata.name").to_string();
            match self.delete(rt, &ns, &name, del) {
                Ok(Deleted::Gone(o)) | Ok(Deleted::Terminating(o)) => out.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn after_write(&self, inner: &mut Inner, rt: &ResourceType, obj: &Value) {
        if rt.group == "apiextensions.k8s.io" && rt.resource == "customresourcedefinitions" {
            let types = crate::resources::from_crd(obj);
            let group = obj["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = obj["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            inner.registry.set_crd(&group, &plural, types);
        }
        let has_owners = obj["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        if has_owners || is_terminating(obj) {
            inner.gc(self);
        }
    }
}

/// A decision of [`Store::modify`].
pub enum Modification {
    /// Store this object as a replacement; `true` records managed fields as an Update.
    Update(Value, bool),
    /// Create this object (server-side apply of something absent).
    Create(Value),
}

fn record_allows_unconditional(_rt: &ResourceType) -> bool {
    true
}

fn actor<'a>(
    rt: &ResourceType,
    api_version: &'a str,
    ctx: &'a WriteCtx,
    now: &'a str,
) -> WriteActor<'a> {
    WriteActor {
        manager: if ctx.manager.is_empty() {
            "unknown"
        } else {
            &ctx.manager
        },
        api_version,
        subresource: &ctx.subresource,
        time: now,
        skip_status: rt.has_subresource("status"),
    }
}

fn check_crd_names(reg: &Registry, crd: &Value) -> Result<(), ApiError> {
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    if reg.is_builtin_group(group) {
        return Err(ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            str_at(crd, "metadata.name"),
            vec![(
                "spec.group".into(),
                format!("Invalid value: {group:?}: cannot be a built-in API group"),
                "FieldValueInvalid",
            )],
        ));
    }
    Ok(())
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
    /// What the service-account controller does for a new namespace.
    fn create_default_service_account(&mut self, ns: &str) {
        if self.get("/serviceaccounts", ns, "default").is_some() {
            return;
        }
        let Some(sa_rt) = self.registry.find("", "v1", "serviceaccounts").cloned() else {
            return;
        };
        let now = now_rfc3339();
        let mut sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns, "uid": util::new_uid(), "creationTimestamp": now}});
        let a = WriteActor {
            manager: "kube-controller-manager",
            api_version: "v1",
            subresource: "",
            time: &now,
            skip_status: false,
        };
        fields::record_update(None, &mut sa, &a);
        self.put(&sa_rt, sa, None);
    }

    /// The node ports that the Services stored under `key` hold, but for `except`.
    fn node_ports(
        &self,
        key: &str,
        except: Option<(&str, &str)>,
    ) -> std::collections::BTreeSet<i64> {
        self.objects
            .get(key)
            .into_iter()
            .flatten()
            .filter(|((ns, name), _)| except != Some((ns.as_str(), name.as_str())))
            .flat_map(|(_, svc)| svc["spec"]["ports"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["nodePort"].as_i64())
            .collect()
    }

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

    /// Deletes (or marks terminating) one object with a propagation policy. Returns None
    /// when the object was not there.
    fn delete_object(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        policy: &str,
        grace_period: Option<i64>,
    ) -> Option<Deleted> {
        let key = rt.storage_key();
        let obj = self.get(&key, ns, name)?;
        if let Some(grace) = pod_grace_period(rt, &obj, grace_period) {
            return Some(self.delete_gracefully(rt, &obj, grace));
        }
        let mut fins = finalizers(&obj);
        let is_ns = rt.group.is_empty() && rt.resource == "namespaces";
        match policy {
            "Foreground" if !fins.iter().any(|f| f == "foregroundDeletion") => {
                fins.push("foregroundDeletion".into())
            }
            "Orphan" if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
            _ => {}
        }
        if fins.is_empty() && !is_ns {
            let gone = self.remove(key, ns, name)?;
            return Some(Deleted::Gone((*gone).clone()));
        }
        if is_terminating(&obj) && finalizers(&obj) == fins {
            return Some(Deleted::Terminating((*obj).clone()));
        }
        let mut o = (*obj).clone();
        let meta = meta_mut(&mut o);
        if !fins.is_empty() {
            meta.insert("finalizers".into(), json!(fins));
        }
        if meta.get("deletionTimestamp").is_none_or(Value::is_null) {
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
                meta.insert("generation".into(), json!(g + 1));
            }
        }
        if is_ns {
            o["status"] = json!({"phase": "Terminating"});
        }
        let stored = self.put(rt, o, Some((*obj).clone()));
        Some(Deleted::Terminating((*stored).clone()))
    }

    /// The status conditions of the terminating namespace `ns` as the namespace controller
    /// writes them while content remains (what is left, by resource, and the finalizers
    /// that hold it), or None when they are already so.
    fn namespace_deletion_conditions(&self, ns: &str) -> Option<Value> {
        let current = self.get("/namespaces", "", ns)?;
        let mut remaining: Vec<String> = Vec::new();
        let mut by_finalizer: BTreeMap<String, usize> = BTreeMap::new();
        for (key, map) in &self.objects {
            let held: Vec<&Arc<Value>> = map
                .iter()
                .filter(|((ons, _), _)| ons == ns)
                .map(|(_, o)| o)
                .collect();
            if held.is_empty() {
                continue;
            }
            let (group, resource) = key.split_once('/').unwrap_or(("", key));
            remaining.push(format!(
                "{resource}.{group} has {} resource instances",
                held.len()
            ));
            for o in held {
                for f in finalizers(o) {
                    *by_finalizer.entry(f).or_default() += 1;
                }
            }
        }
        remaining.sort();
        let finalizers: Vec<String> = by_finalizer
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        let condition = |type_: &str, status: &str, reason: &str, message: String| {
            (
                type_.to_string(),
                status.to_string(),
                reason.to_string(),
                message,
            )
        };
        let wanted = [
            condition(
                "NamespaceDeletionDiscoveryFailure",
                "False",
                "ResourcesDiscovered",
                "All resources successfully discovered".into(),
            ),
            condition(
                "NamespaceDeletionGroupVersionParsingFailure",
                "False",
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed".into(),
            ),
            condition(
                "NamespaceDeletionContentFailure",
                "False",
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".into(),
            ),
            condition(
                "NamespaceContentRemaining",
                "True",
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", remaining.join(", ")),
            ),
            if finalizers.is_empty() {
                condition(
                    "NamespaceFinalizersRemaining",
                    "False",
                    "ContentHasNoFinalizers",
                    "All content-preserving finalizers finished".into(),
                )
            } else {
                condition(
                    "NamespaceFinalizersRemaining",
                    "True",
                    "SomeFinalizersRemain",
                    format!(
                        "Some content in the namespace has finalizers remaining: {}",
                        finalizers.join(", ")
                    ),
                )
            },
        ];
        let old = current["status"]["conditions"].as_array();
        let old_of = |t: &str| old.and_then(|cs| cs.iter().find(|c| c["type"] == t));
        let unchanged = wanted.iter().all(|(t, st, r, m)| {
            old_of(t).is_some_and(|c| {
                c["status"] == st.as_str()
                    && c["reason"] == r.as_str()
                    && c["message"] == m.as_str()
            })
        });
        if unchanged {
            return None;
        }
        let now = now_rfc3339();
        Some(Value::Array(
            wanted
                .into_iter()
                .map(|(t, st, r, m)| {
                    // The transition time moves only when the status does.
                    let since = old_of(&t)
                        .filter(|c| c["status"] == st.as_str())
                        .and_then(|c| c["lastTransitionTime"].as_str())
                        .unwrap_or(&now)
                        .to_string();
                    json!({"type": t, "status": st, "lastTransitionTime": since, "reason": r, "message": m})
                })
                .collect(),
        ))
    }

    /// A pod's graceful deletion: it stays, Terminating, with a `deletionTimestamp` `grace`
    /// seconds ahead and `deletionGracePeriodSeconds`, until its kubelet has stopped it
    /// and deletes it with a grace period of 0. A second delete may only shorten it.
    fn delete_gracefully(&mut self, rt: &ResourceType, obj: &Arc<Value>, grace: i64) -> Deleted {
        let current = obj["metadata"]["deletionGracePeriodSeconds"].as_i64();
        if is_terminating(obj) && current.is_some_and(|c| c <= grace) {
            return Deleted::Terminating((**obj).clone());
        }
        let mut o = (**obj).clone();
        let meta = meta_mut(&mut o);
        let at = util::format_rfc3339(util::now_secs() + grace);
        meta.insert("deletionTimestamp".into(), json!(at));
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
        if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
            meta.insert("generation".into(), json!(g + 1));
        }
        let stored = self.put(rt, o, Some((**obj).clone()));
        Deleted::Terminating((*stored).clone())
    }

    /// Garbage collection: dependents whose owners are gone, foreground and orphan
    /// finalizers, and the contents of terminating namespaces.
    fn gc(&mut self, _store: &Store) {
        for _ in 0..1000 {
            enum Action {
                Delete(String, String, String, &'static str),
                DropOwner(String, String, String, String),
                DropFinalizer(String, String, String, &'static str),
                RemoveNamespace(String),
                NamespaceConditions(String, Value),
            }
            let mut actions = Vec::new();
            let mut live: HashMap<String, (bool, bool)> = HashMap::new(); // uid -> (foreground, orphan)
            let mut referenced: HashSet<String> = HashSet::new();
            let mut terminating_ns: Vec<String> = Vec::new();
            let mut ns_contents: HashMap<String, usize> = HashMap::new();
            for (key, map) in &self.objects {
                for ((ns, _), o) in map {
                    let fins = finalizers(o);
                    let term = is_terminating(o);
                    live.insert(
                        str_at(o, "metadata.uid").to_string(),
                        (
                            term && fins.iter().any(|f| f == "foregroundDeletion"),
                            term && fins.iter().any(|f| f == "orphan"),
                        ),
                    );
                    for r in o["metadata"]["ownerReferences"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        referenced.insert(r["uid"].as_str().unwrap_or_default().to_string());
                    }
                    if !ns.is_empty() {
                        *ns_contents.entry(ns.clone()).or_default() += 1;
                    }
                    if key == "/namespaces" && term {
                        terminating_ns.push(str_at(o, "metadata.name").to_string());
                    }
                }
            }
            for (key, map) in &self.objects {
                for ((ns, name), o) in map {
                    let refs: Vec<&str> = o["metadata"]["ownerReferences"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["uid"].as_str())
                        .collect();
                    if refs.is_empty() {
                        continue;
                    }
                    if let Some(orphaning) =
                        refs.iter().find(|u| live.get(**u).is_some_and(|s| s.1))
                    {
                        actions.push(Action::DropOwner(
                            key.clone(),
                            ns.clone(),
                            name.clone(),
                            orphaning.to_string(),
                        ));
                        continue;
                    }
                    let alive = refs.iter().any(|u| live.get(*u).is_some_and(|s| !s.0));
                    if !alive && !is_terminating(o) {
                        let fg = refs.iter().any(|u| live.get(*u).is_some_and(|s| s.0));
                        actions.push(Action::Delete(
                            key.clone(),
                            ns.clone(),
                            name.clone(),
                            if fg { "Foreground" } else { "Background" },
                        ));
                    }
                }
            }
            for (key, map) in &self.objects {
                for ((ns, name), o) in map {
                    let uid = str_at(o, "metadata.uid");
                    let (fg, orphan) = live.get(uid).copied().unwrap_or_default();
                    if (fg || orphan) && !referenced.contains(uid) {
                        let f = if fg { "foregroundDeletion" } else { "orphan" };
                        actions.push(Action::DropFinalizer(
                            key.clone(),
                            ns.clone(),
                            name.clone(),
                            f,
                        ));
                    }
                    if terminating_ns.contains(ns) && !is_terminating(o) {
                        actions.push(Action::Delete(
                            key.clone(),
                            ns.clone(),
                            name.clone(),
                            "Background",
                        ));
                    }
                }
            }
            for ns in terminating_ns {
                if ns_contents.get(&ns).copied().unwrap_or(0) == 0 {
                    actions.push(Action::RemoveNamespace(ns));
                } else if let Some(conditions) = self.namespace_deletion_conditions(&ns) {
                    actions.push(Action::NamespaceConditions(ns, conditions));
                }
            }
            if actions.is_empty() {
                return;
            }
            for a in actions {
                match a {
                    Action::Delete(key, ns, name, policy) => {
                        if let Some(rt) = self.rt_for_key(&key) {
                            self.delete_object(&rt, &ns, &name, policy, None);
                        } else {
                            self.remove(key, &ns, &name);
                        }
                    }
                    Action::DropOwner(key, ns, name, uid) => {
                        if let (Some(o), Some(rt)) =
                            (self.get(&key, &ns, &name), self.rt_for_key(&key))
                        {
                            let mut o = (*o).clone();
                            if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                                refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                                if refs.is_empty() {
                                    meta_mut(&mut o).remove("ownerReferences");
                                }
                            }
                            let old = self.get(&key, &ns, &name).map(|x| (*x).clone());
                            self.put(&rt, o, old);
                        }
                    }
                    Action::DropFinalizer(key, ns, name, f) => {
                        if let (Some(o), Some(rt)) =
                            (self.get(&key, &ns, &name), self.rt_for_key(&key))
                        {
                            let mut o2 = (*o).clone();
                            let fins: Vec<String> =
                                finalizers(&o2).into_iter().filter(|x| x != f).collect();
                            if fins.is_empty() && is_terminating(&o2) {
                                self.remove(key, &ns, &name);
                            } else {
                                meta_mut(&mut o2).insert("finalizers".into(), json!(fins));
                                self.put(&rt, o2, Some((*o).clone()));
                            }
                        }
                    }
                    Action::NamespaceConditions(ns, conditions) => {
                        if let (Some(o), Some(rt)) = (
                            self.get("/namespaces", "", &ns),
                            self.rt_for_key("/namespaces"),
                        ) {
                            let mut o2 = (*o).clone();
                            o2["status"]["conditions"] = conditions;
                            self.put(&rt, o2, Some((*o).clone()));
                        }
                    }
                    Action::RemoveNamespace(ns) => {
                        if let Some(o) = self.get("/namespaces", "", &ns)
                            && finalizers(&o).is_empty()
                        {
                            self.remove("/namespaces".into(), "", &ns);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, Registry) {
        let s = Store::new(1000);
        let r = s.registry();
        (s, r)
    }

    fn ctx() -> WriteCtx {
        WriteCtx {
            manager: "test".into(),
            ..Default::default()
        }
    }

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
    }

    #[test]
    fn builtin_namespaces_and_node_exist() {
        let (s, r) = store();
        let ns = r.find("", "v1", "namespaces").unwrap();
        for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert_eq!(s.get(ns, "", n).unwrap()["status"]["phase"], "Active");
        }
        let node = s
            .get(r.find("", "v1", "nodes").unwrap(), "", "sandbox-node")
            .unwrap();
        assert_eq!(node["status"]["conditions"][0]["type"], "Ready");
    }

    #[test]
    fn resource_versions_increase_and_stale_update_conflicts() {
        let (s, r) = store();
        let rt = r.find("", "v1", "configmaps").unwrap();
        let a = s.create(rt, "default", cm("a"), &ctx()).unwrap();
        let b = s.create(rt, "default", cm("b"), &ctx()).unwrap();
        assert!(rv_of(&b) > rv_of(&a));
        let mut changed = a.clone();
        changed["data"]["a"] = json!("2");
        let updated = s
            .update(rt, "default", "a", changed.clone(), &ctx())
            .unwrap();
        assert!(rv_of(&updated) > rv_of(&b));
        let err = s.update(rt, "default", "a", changed, &ctx()).unwrap_err();
        assert_eq!(err.reason, "Conflict");
        assert_eq!(
            s.create(rt, "default", cm("a"), &ctx()).unwrap_err().reason,
            "AlreadyExists"
        );
    }

    #[test]
    fn generation_bumps_on_spec_change_only() {
        let (s, r) = store();
        let rt = r.find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let d = s.create(rt, "default", d, &ctx()).unwrap();
        assert_eq!(d["metadata"]["generation"], 1);
        let mut labelled = d.clone();
        labelled["metadata"]["labels"] = json!({"x": "y"});
        let labelled = s.update(rt, "default", "d", labelled, &ctx()).unwrap();
        assert_eq!(labelled["metadata"]["generation"], 1);
        let mut scaled = labelled.clone();
        scaled["spec"]["replicas"] = json!(3);
        let scaled = s.update(rt, "default", "d", scaled, &ctx()).unwrap();
        assert_eq!(scaled["metadata"]["generation"], 2);
        let mut st = scaled.clone();
        st["status"] = json!({"replicas": 3});
        let status_ctx = WriteCtx {
            subresource: "status".into(),
            ..ctx()
        };
        let st = s.update(rt, "default", "d", st, &status_ctx).unwrap();
        assert_eq!(st["metadata"]["generation"], 2);
        assert_eq!(st["status"]["replicas"], 3);
        // Status is ignored on the main resource.
        let mut again = st.clone();
        again["status"] = json!({"replicas": 9});
        let again = s.update(rt, "default", "d", again, &ctx()).unwrap();
        assert_eq!(again["status"]["replicas"], 3);
    }

    #[test]
    fn finalizers_keep_object_until_removed() {
        let (s, r) = store();
        let rt = r.find("", "v1", "configmaps").unwrap();
        let mut o = cm("f");
        o["metadata"]["finalizers"] = json!(["example.com/hold"]);
        s.create(rt, "default", o, &ctx()).unwrap();
        let d = s
            .delete(rt, "default", "f", &DeleteOpts::default())
            .unwrap();
        let Deleted::Terminating(t) = d else {
            panic!("expected terminating")
        };
        assert!(t["metadata"]["deletionTimestamp"].is_string());
        let mut cleared = s.get(rt, "default", "f").unwrap();
        cleared["metadata"]["finalizers"] = json!([]);
        s.update(rt, "default", "f", cleared, &ctx()).unwrap();
        assert_eq!(s.get(rt, "default", "f").unwrap_err().code, 404);
    }

    #[test]
    fn owner_deletion_collects_dependents_unless_orphaned() {
        let (s, r) = store();
        let rt = r.find("", "v1", "configmaps").unwrap();
        let owner = s.create(rt, "default", cm("owner"), &ctx()).unwrap();
        let mut child = cm("child");
        child["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]);
        s.create(rt, "default", child.clone(), &ctx()).unwrap();
        s.delete(rt, "default", "owner", &DeleteOpts::default())
            .unwrap();
        assert_eq!(s.get(rt, "default", "child").unwrap_err().code, 404);

        let owner = s.create(rt, "default", cm("owner"), &ctx()).unwrap();
        child["metadata"]["ownerReferences"][0]["uid"] = owner["metadata"]["uid"].clone();
        s.create(rt, "default", child, &ctx()).unwrap();
        let opts = DeleteOpts {
            propagation: Some("Orphan".into()),
            ..Default::default()
        };
        s.delete(rt, "default", "owner", &opts).unwrap();
        assert_eq!(s.get(rt, "default", "owner").unwrap_err().code, 404);
        let kept = s.get(rt, "default", "child").unwrap();
        assert!(kept["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn foreground_deletion_waits_for_dependents_with_finalizers() {
        let (s, r) = store();
        let rt = r.find("", "v1", "configmaps").unwrap();
        let owner = s.create(rt, "default", cm("owner"), &ctx()).unwrap();
        let mut child = cm("child");
        child["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]);
        child["metadata"]["finalizers"] = json!(["hold"]);
        s.create(rt, "default", child, &ctx()).unwrap();
        let opts = DeleteOpts {
            propagation: Some("Foreground".into()),
            ..Default::default()
        };
        s.delete(rt, "default", "owner", &opts).unwrap();
        let o = s.get(rt, "default", "owner").unwrap();
        assert_eq!(o["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        let mut c = s.get(rt, "default", "child").unwrap();
        assert!(c["metadata"]["deletionTimestamp"].is_string());
        c["metadata"]["finalizers"] = json!([]);
        s.update(rt, "default", "child", c, &ctx()).unwrap();
        assert_eq!(s.get(rt, "default", "owner").unwrap_err().code, 404);
    }

    #[test]
    fn namespace_deletion_removes_contents() {
        let (s, r) = store();
        let ns_rt = r.find("", "v1", "namespaces").unwrap();
        let rt = r.find("", "v1", "configmaps").unwrap();
        s.create(ns_rt, "", json!({"metadata": {"name": "team"}}), &ctx())
            .unwrap();
        s.create(rt, "team", cm("a"), &ctx()).unwrap();
        s.delete(ns_rt, "", "team", &DeleteOpts::default()).unwrap();
        assert_eq!(s.get(rt, "team", "a").unwrap_err().code, 404);
        assert_eq!(s.get(ns_rt, "", "team").unwrap_err().code, 404);
        assert_eq!(s.create(rt, "team", cm("b"), &ctx()).unwrap_err().code, 404);
    }

    #[test]
    fn list_pages_with_limit_and_continue() {
        let (s, r) = store();
        let rt = r.find("", "v1", "configmaps").unwrap();
        for n in ["a", "b", "c"] {
            s.create(rt, "default", cm(n), &ctx()).unwrap();
        }
        let p1 = s
            .list(
                rt,
                Some("default"),
                &ListOpts {
                    limit: Some(2),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(p1.items.len(), 2);
        assert_eq!(p1.remaining, Some(1));
        let p2 = s
            .list(
                rt,
                Some("default"),
                &ListOpts {
                    limit: Some(2),
                    continue_token: p1.continue_token,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(p2.items.len(), 1);
        assert_eq!(str_at(&p2.items[0], "metadata.name"), "c");
        assert!(p2.continue_token.is_none());
    }

    #[test]
    fn watch_window_expires_old_resource_versions() {
        let s = Store::new(16);
        let r = s.registry();
        let rt = r.find("", "v1", "configmaps").unwrap();
        let first = s.create(rt, "default", cm("x0"), &ctx()).unwrap();
        for i in 1..40 {
            s.create(rt, "default", cm(&format!("x{i}")), &ctx())
                .unwrap();
        }
        let err = s.watch(rt, None, Some(rv_of(&first))).err().unwrap();
        assert_eq!(err.code, 410);
        assert_eq!(err.reason, "Expired");
        let recent = s.current_rv() - 3;
        let w = s.watch(rt, None, Some(recent)).unwrap();
        assert_eq!(w.backlog.len(), 3);
        assert!(w.backlog.iter().all(|e| e.event_type == EventType::Added));
    }

    #[test]
    fn dry_run_create_stores_nothing() {
        let (s, r) = store();
        let rt = r.find("", "v1", "configmaps").unwrap();
        let before = s.current_rv();
        let ctx = WriteCtx {
            dry_run: true,
            ..ctx()
        };
        let out = s.create(rt, "default", cm("dry"), &ctx).unwrap();
        assert_eq!(out["metadata"]["name"], "dry");
        assert_eq!(s.current_rv(), before);
        assert!(s.get(rt, "default", "dry").is_err());
    }
}

//! Recording core/v1 Events the way client-go's event recorder does: one Event object per
//! (involved object, reason, message), whose `count` and `lastTimestamp` grow when the same
//! thing happens again (what `kubectl get events` shows as `x3 over 2m`).

use crate::Store;
use crate::resources::ResourceType;
use crate::store::{Modification, WriteCtx};
use crate::util::{now_rfc3339, random_u64, str_at};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Who reports an event (`source.component` and `reportingComponent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Deployment,
    ReplicaSet,
    Job,
    StatefulSet,
    DaemonSet,
    Endpoints,
    Scheduler,
    Kubelet,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Deployment => "deployment-controller",
            Component::ReplicaSet => "replicaset-controller",
            Component::Job => "job-controller",
            Component::StatefulSet => "statefulset-controller",
            Component::DaemonSet => "daemonset-controller",
            Component::Endpoints => "endpoint-controller",
            Component::Scheduler => "default-scheduler",
            Component::Kubelet => "kubelet",
        }
    }
}

/// Writes Events into the store.
pub struct Recorder {
    store: Arc<Store>,
    rt: ResourceType,
    /// (involved uid, reason, message) → event name, for aggregation.
    seen: Mutex<HashMap<(String, String, String), String>>,
}

impl Recorder {
    pub fn new(store: Arc<Store>) -> Recorder {
        let rt = store
            .registry()
            .find("", "v1", "events")
            .expect("events are served")
            .clone();
        Recorder {
            store,
            rt,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records a Normal event.
    pub fn normal(&self, component: Component, involved: &Value, reason: &str, message: &str) {
        self.emit(component, involved, None, "Normal", reason, message);
    }

    /// Records a Warning event.
    pub fn warning(&self, component: Component, involved: &Value, reason: &str, message: &str) {
        self.emit(component, involved, None, "Warning", reason, message);
    }

    /// Records an event about one container of a pod (`fieldPath: spec.containers{c}`).
    pub fn container(
        &self,
        pod: &Value,
        container: &str,
        type_: &str,
        reason: &str,
        message: &str,
    ) {
        let path = format!("spec.containers{{{container}}}");
        self.emit(Component::Kubelet, pod, Some(&path), type_, reason, message);
    }

    fn emit(
        &self,
        component: Component,
        involved: &Value,
        field_path: Option<&str>,
        type_: &str,
        reason: &str,
        message: &str,
    ) {
        let uid = str_at(involved, "metadata.uid").to_string();
        let name = str_at(involved, "metadata.name").to_string();
        let mut ns = str_at(involved, "metadata.namespace").to_string();
        if ns.is_empty() {
            ns = "default".into();
        }
        let now = now_rfc3339();
        let ctx = WriteCtx {
            manager: component.name().into(),
            ..Default::default()
        };
        let key = (uid.clone(), reason.to_string(), message.to_string());
        let existing = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(ev_name) = existing {
            let bumped = self
                .store
                .modify(&self.rt, &ns, &ev_name, &ctx, |cur| match cur {
                    Some(cur) => {
                        let mut e = cur.clone();
                        e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
                        e["lastTimestamp"] = json!(now);
                        Ok(Modification::Update(e, true))
                    }
                    None => Err(crate::errors::ApiError::not_found("", "events", &ev_name)),
                });
            if bumped.is_ok() {
                return;
            }
        }
        let ev_name = format!("{name}.{:016x}", random_u64());
        let mut involved_ref = json!({
            "kind": involved["kind"], "namespace": ns, "name": name, "uid": uid,
            "apiVersion": involved["apiVersion"], "resourceVersion": str_at(involved, "metadata.resourceVersion"),
        });
        if let Some(p) = field_path {
            involved_ref["fieldPath"] = json!(p);
        }
        let mut source = json!({"component": component.name()});
        if component == Component::Kubelet {
            source["host"] = json!(crate::NODE_NAME);
        }
        let ev = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": ev_name, "namespace": ns},
            "involvedObject": involved_ref,
            "reason": reason, "message": message, "type": type_,
            "source": source,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "eventTime": null,
            "reportingComponent": component.name(),
            "reportingInstance": if component == Component::Kubelet { crate::NODE_NAME } else { "" },
        });
        if self.store.create(&self.rt, &ns, ev, &ctx).is_ok() {
            self.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, ev_name);
        }
    }
}

//! Deletes: preconditions, propagation policies (the finalizers they add), and a pod's
//! graceful deletion.

use super::{
    DeleteOpts, Deleted, Inner, ListOpts, Store, finalizers, is_terminating, with_version,
};
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::util::{self, meta_mut, now_rfc3339, str_at};
use serde_json::{Value, json};
use std::sync::Arc;

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

impl Store {
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
}

impl Inner {
    /// Deletes (or marks terminating) one object with a propagation policy. Returns None
    /// when the object was not there.
    pub(super) fn delete_object(
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
}

//! The garbage collector, run after every write that may concern it: dependents whose
//! owners are gone, the foreground and orphan finalizers, and the contents and conditions
//! of terminating namespaces.

use super::{Inner, Store, finalizers, is_terminating};
use crate::util::{meta_mut, now_rfc3339, str_at};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// One step of a garbage collection round.
enum Action {
    Delete(String, String, String, &'static str),
    DropOwner(String, String, String, String),
    DropFinalizer(String, String, String, &'static str),
    RemoveNamespace(String),
    NamespaceConditions(String, Value),
}

impl Inner {
    /// Garbage collection: dependents whose owners are gone, foreground and orphan
    /// finalizers, and the contents of terminating namespaces.
    pub(super) fn gc(&mut self, _store: &Store) {
        for _ in 0..1000 {
            let actions = self.gc_actions();
            if actions.is_empty() {
                return;
            }
            for a in actions {
                self.apply_gc_action(a);
            }
        }
    }

    /// What a round of garbage collection finds to do, from the objects as they are.
    fn gc_actions(&self) -> Vec<Action> {
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
                if let Some(orphaning) = refs.iter().find(|u| live.get(**u).is_some_and(|s| s.1)) {
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
        actions
    }

    fn apply_gc_action(&mut self, a: Action) {
        match a {
            Action::Delete(key, ns, name, policy) => {
                if let Some(rt) = self.rt_for_key(&key) {
                    self.delete_object(&rt, &ns, &name, policy, None);
                } else {
                    self.remove(key, &ns, &name);
                }
            }
            Action::DropOwner(key, ns, name, uid) => {
                if let (Some(o), Some(rt)) = (self.get(&key, &ns, &name), self.rt_for_key(&key)) {
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
                if let (Some(o), Some(rt)) = (self.get(&key, &ns, &name), self.rt_for_key(&key)) {
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
}

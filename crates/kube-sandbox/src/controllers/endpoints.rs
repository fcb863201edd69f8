//! The Endpoints controller (`pkg/controller/endpoint/endpoints_controller.go`): for every
//! Service with a selector, an `Endpoints` object of the same name listing the pods that
//! match — ready ones under `addresses`, the others under `notReadyAddresses` (all under
//! `addresses` with `publishNotReadyAddresses`) — with each service port resolved against
//! the pod (a named `targetPort` looks up the container port of that name). Pods that
//! resolve ports differently land in different subsets. Terminating and finished pods and
//! pods without an IP are left out. Services without a selector are not managed.

use super::Ctx;
use super::{is_terminating, pod_ready};
use crate::store::{Modification, WriteCtx};
use crate::util::str_at;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The port a service port targets on `pod`, when it resolves.
pub(crate) fn resolve_port(service_port: &Value, pod: &Value) -> Option<i64> {
    let target = service_port
        .get("targetPort")
        .unwrap_or(&service_port["port"]);
    if let Some(n) = target.as_i64() {
        return Some(n);
    }
    let name = target.as_str()?;
    if let Ok(n) = name.parse::<i64>() {
        return Some(n);
    }
    pod["spec"]["containers"]
        .as_array()?
        .iter()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_i64())
}

/// The subsets for `svc` from `pods`.
pub(crate) fn subsets(svc: &Value, pods: &[&Value]) -> Vec<Value> {
    let publish = svc["spec"]["publishNotReadyAddresses"] == json!(true);
    let svc_ports: Vec<&Value> = svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    type Group = (Vec<Value>, Vec<Value>, Vec<Value>);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for pod in pods {
        let ip = str_at(pod, "status.podIP");
        if ip.is_empty() {
            continue;
        }
        let ports: Vec<Value> = svc_ports
            .iter()
            .filter_map(|sp| {
                let port = resolve_port(sp, pod)?;
                let mut p =
                    json!({"port": port, "protocol": sp["protocol"].as_str().unwrap_or("TCP")});
                if let Some(n) = sp["name"].as_str().filter(|n| !n.is_empty()) {
                    p["name"] = json!(n);
                }
                Some(p)
            })
            .collect();
        let mut address = json!({"ip": ip, "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
            "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}});
        if let Some(n) = pod["spec"]["nodeName"].as_str() {
            address["nodeName"] = json!(n);
        }
        let key = serde_json::to_string(&ports).unwrap_or_default();
        let entry = groups.entry(key).or_insert_with(|| (ports, vec![], vec![]));
        if publish || pod_ready(pod) {
            entry.1.push(address);
        } else {
            entry.2.push(address);
        }
    }
    groups
        .into_values()
        .map(|(ports, mut ready, mut unready)| {
            ready.sort_by(|a, b| a["ip"].as_str().cmp(&b["ip"].as_str()));
            unready.sort_by(|a, b| a["ip"].as_str().cmp(&b["ip"].as_str()));
            let mut s = json!({});
            if !ready.is_empty() {
                s["addresses"] = json!(ready);
            }
            if !unready.is_empty() {
                s["notReadyAddresses"] = json!(unready);
            }
            if !ports.is_empty() {
                s["ports"] = json!(ports);
            }
            s
        })
        .collect()
}

pub(crate) fn sync(ctx: &Ctx, ns: &str, name: &str) -> Option<Duration> {
    let wctx = WriteCtx {
        manager: "kube-controller-manager".into(),
        ..Default::default()
    };
    let Some(svc) = ctx.get(&ctx.services, ns, name) else {
        if ctx.get(&ctx.endpoints, ns, name).is_some() {
            let _ = ctx
                .store
                .delete(&ctx.endpoints, ns, name, &Default::default());
        }
        return None;
    };
    let selector = &svc["spec"]["selector"];
    if selector.as_object().is_none_or(|m| m.is_empty()) || is_terminating(&svc) {
        return None;
    }
    let sel = json!({"matchLabels": selector});
    let pods = ctx.list(&ctx.pods, Some(ns));
    let matching: Vec<&Value> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| {
            !is_terminating(p) && !matches!(str_at(p, "status.phase"), "Succeeded" | "Failed")
        })
        .filter(|p| super::labels_match(&sel, p))
        .collect();
    let subsets = subsets(&svc, &matching);
    let mut labels = svc["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if svc["spec"]["clusterIP"] == "None" {
        labels.insert("service.kubernetes.io/headless".into(), json!(""));
    }
    let _ = ctx.store.modify(&ctx.endpoints, ns, name, &wctx, |cur| {
        let mut ep = match cur {
            Some(c) => c.clone(),
            None => json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}}),
        };
        if labels.is_empty() {
            ep["metadata"].as_object_mut().map(|m| m.remove("labels"));
        } else {
            ep["metadata"]["labels"] = json!(labels);
        }
        let obj = ep.as_object_mut().expect("object");
        if subsets.is_empty() {
            obj.remove("subsets");
        } else {
            obj.insert("subsets".into(), json!(subsets));
        }
        Ok(if cur.is_some() { Modification::Update(ep, true) } else { Modification::Create(ep) })
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ip: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "d", "uid": name},
            "spec": {"nodeName": "n", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    #[test]
    fn ready_and_unready_pods_split_with_named_ports_resolved() {
        let svc = json!({"spec": {"ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]}});
        let (a, b) = (pod("a", "10.244.0.2", true), pod("b", "10.244.0.3", false));
        let s = subsets(&svc, &[&a, &b]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["addresses"][0]["ip"], "10.244.0.2");
        assert_eq!(s[0]["notReadyAddresses"][0]["ip"], "10.244.0.3");
        assert_eq!(
            s[0]["ports"],
            json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
        );
    }

    #[test]
    fn numeric_target_port_and_publish_not_ready() {
        let svc = json!({"spec": {"publishNotReadyAddresses": true, "ports": [{"port": 80, "targetPort": 9000, "protocol": "TCP"}]}});
        let b = pod("b", "10.244.0.3", false);
        let s = subsets(&svc, &[&b]);
        assert_eq!(s[0]["addresses"][0]["ip"], "10.244.0.3");
        assert_eq!(s[0]["ports"][0]["port"], 9000);
    }
}

//! The Endpoints controller (`pkg/controller/endpoint/endpoints_controller.go`): for every
//! Service with a selector, an `Endpoints` object of the same name listing the pods that
//! match — ready ones under `addresses`, the others under `notReadyAddresses` (all under
//! `addresses` with `publishNotReadyAddresses`) — with each service port resolved against
//! the pod (a named `targetPort` looks up the container port of that name). Pods that
//! resolve ports differently land in different subsets. Terminating and finished pods and
//! pods without an IP are left out. Services without a selector are not managed.
//!
//! Beside it, the EndpointSlice controller's work (`pkg/controller/endpointslice/`): the
//! same pods as `discovery.k8s.io/v1` EndpointSlices named `<service>-<suffix>`, labelled
//! `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`, controlled by
//! the Service. One slice per set of resolved ports, at most 100 endpoints each; each
//! endpoint has the pod's address, `ready`/`serving`/`terminating` conditions (terminating
//! pods stay, not ready), the node, the pod as `targetRef` and a `hostname` when the pod's
//! subdomain is the Service. A Service without pods gets one empty slice.

use super::Ctx;
use super::{is_terminating, owner_ref, pod_ready};
use crate::store::{Modification, WriteCtx};
use crate::util::str_at;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The label that names an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label that names the controller of an EndpointSlice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] on the slices the sandbox maintains.
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
const MAX_ENDPOINTS_PER_SLICE: usize = 100;

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

/// The ports and endpoints of each EndpointSlice for `svc` from `pods` (already selected by
/// the Service): terminal pods and pods without an IP are left out, terminating ones stay.
pub(crate) fn slice_contents(svc: &Value, pods: &[&Value]) -> Vec<(Value, Vec<Value>)> {
    let publish = svc["spec"]["publishNotReadyAddresses"] == json!(true);
    let svc_name = str_at(svc, "metadata.name");
    let mut groups: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
    for pod in pods {
        let ip = str_at(pod, "status.podIP");
        if ip.is_empty() || matches!(str_at(pod, "status.phase"), "Succeeded" | "Failed") {
            continue;
        }
        let ports: Vec<Value> = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sp| {
                let port = resolve_port(sp, pod)?;
                let mut p = json!({"name": sp["name"].as_str().unwrap_or(""), "port": port,
                    "protocol": sp["protocol"].as_str().unwrap_or("TCP")});
                if let Some(a) = sp["appProtocol"].as_str() {
                    p["appProtocol"] = json!(a);
                }
                Some(p)
            })
            .collect();
        let serving = pod_ready(pod);
        let terminating = is_terminating(pod);
        let ready = publish || (serving && !terminating);
        let mut endpoint = json!({
            "addresses": [ip],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        });
        if let Some(n) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
            endpoint["nodeName"] = json!(n);
        }
        let hostname = str_at(pod, "spec.hostname");
        if !hostname.is_empty() && str_at(pod, "spec.subdomain") == svc_name {
            endpoint["hostname"] = json!(hostname);
        }
        let key = serde_json::to_string(&ports).unwrap_or_default();
        groups
            .entry(key)
            .or_insert_with(|| (json!(ports), vec![]))
            .1
            .push(endpoint);
    }
    let mut out = Vec::new();
    for (ports, mut endpoints) in groups.into_values() {
        endpoints.sort_by(|a, b| a["addresses"][0].as_str().cmp(&b["addresses"][0].as_str()));
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            out.push((ports.clone(), chunk.to_vec()));
        }
    }
    out
}

/// Brings the Service's EndpointSlices in line with `pods` (those its selector matches).
fn sync_slices(ctx: &Ctx, svc: &Value, pods: &[&Value], wctx: &WriteCtx) {
    let ns = str_at(svc, "metadata.namespace");
    let name = str_at(svc, "metadata.name");
    let mut labels: Map<String, Value> = svc["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), json!(name));
    labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY));
    if svc["spec"]["clusterIP"] == "None" {
        labels.insert("service.kubernetes.io/headless".into(), json!(""));
    }
    let mut unused: Vec<Value> = ctx
        .list(&ctx.endpointslices, Some(ns))
        .into_iter()
        .filter(|s| {
            s["metadata"]["labels"][SERVICE_NAME_LABEL] == name
                && s["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
        })
        .map(|s| (*s).clone())
        .collect();
    let mut desired: Vec<(Value, Value)> = slice_contents(svc, pods)
        .into_iter()
        .map(|(ports, endpoints)| (ports, json!(endpoints)))
        .collect();
    if desired.is_empty() {
        // A placeholder, as the real controller keeps for a Service without endpoints.
        desired.push((Value::Null, Value::Null));
    }
    for (ports, endpoints) in desired {
        let reuse = unused
            .iter()
            .position(|s| s["ports"] == ports)
            .map(|i| unused.remove(i));
        let mut slice = reuse.clone().unwrap_or_else(|| {
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"generateName": format!("{name}-"), "namespace": ns}})
        });
        slice["metadata"]["labels"] = json!(labels);
        slice["metadata"]["ownerReferences"] = json!([owner_ref(svc)]);
        slice["addressType"] = json!("IPv4");
        slice["ports"] = ports;
        slice["endpoints"] = endpoints;
        match reuse {
            Some(cur) if cur == slice => {}
            Some(cur) => {
                let uid = str_at(&cur, "metadata.uid").to_string();
                let _ = ctx.store.modify(
                    &ctx.endpointslices,
                    ns,
                    str_at(&cur, "metadata.name"),
                    wctx,
                    |now| match now {
                        Some(n) if str_at(n, "metadata.uid") == uid => {
                            Ok(Modification::Update(slice, true))
                        }
                        _ => Err(crate::errors::ApiError::not_found(
                            "discovery.k8s.io",
                            "endpointslices",
                            "gone",
                        )),
                    },
                );
            }
            None => {
                ctx.create(&ctx.endpointslices, ns, slice);
            }
        }
    }
    for s in unused {
        ctx.delete(&ctx.endpointslices, &s);
    }
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
        for s in ctx.list(&ctx.endpointslices, Some(ns)) {
            if s["metadata"]["labels"][SERVICE_NAME_LABEL] == name
                && s["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
            {
                ctx.delete(&ctx.endpointslices, &s);
            }
        }
        return None;
    };
    let selector = &svc["spec"]["selector"];
    if selector.as_object().is_none_or(|m| m.is_empty()) || is_terminating(&svc) {
        return None;
    }
    let sel = json!({"matchLabels": selector});
    let pods = ctx.list(&ctx.pods, Some(ns));
    let selected: Vec<&Value> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| super::labels_match(&sel, p))
        .collect();
    let matching: Vec<&Value> = selected
        .iter()
        .copied()
        .filter(|p| {
            !is_terminating(p) && !matches!(str_at(p, "status.phase"), "Succeeded" | "Failed")
        })
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
    sync_slices(ctx, &svc, &selected, &wctx);
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
    fn slices_group_by_resolved_ports_and_mark_terminating_pods() {
        let svc = json!({"metadata": {"name": "db"}, "spec": {"ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]}});
        let a = pod("a", "10.244.0.2", true);
        let mut b = pod("b", "10.244.0.3", true);
        b["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        b["spec"]["hostname"] = json!("b");
        b["spec"]["subdomain"] = json!("db");
        let mut c = pod("c", "10.244.0.4", false);
        c["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(9090);
        let mut done = pod("d", "10.244.0.5", false);
        done["status"]["phase"] = json!("Succeeded");
        let slices = slice_contents(&svc, &[&c, &b, &a, &done]);
        assert_eq!(slices.len(), 2);
        let (ports, eps) = &slices[0];
        assert_eq!(
            *ports,
            json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
        );
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0]["addresses"], json!(["10.244.0.2"]));
        assert_eq!(
            eps[1]["conditions"],
            json!({"ready": false, "serving": true, "terminating": true})
        );
        assert_eq!(eps[1]["hostname"], "b");
        assert_eq!(slices[1].0[0]["port"], 9090);
        assert_eq!(slices[1].1[0]["conditions"]["ready"], false);
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

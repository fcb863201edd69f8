//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get`.

use crate::resources::ResourceType;
use crate::util::{get_path, human_duration, now_secs, parse_rfc3339, str_at};
use serde_json::{Value, json};

/// A column: name, type, format, priority.
type Col = (&'static str, &'static str, &'static str, u8);

fn columns(rt: &ResourceType) -> Vec<Col> {
    let name: Col = ("Name", "string", "name", 0);
    let age: Col = ("Age", "string", "", 0);
    let containers: Col = ("Containers", "string", "", 1);
    let images: Col = ("Images", "string", "", 1);
    let selector: Col = ("Selector", "string", "", 1);
    match (rt.group.as_str(), rt.resource.as_str()) {
        ("", "pods") => vec![
            name,
            ("Ready", "string", "", 0),
            ("Status", "string", "", 0),
            ("Restarts", "string", "", 0),
            age,
            ("IP", "string", "", 1),
            ("Node", "string", "", 1),
            ("Nominated Node", "string", "", 1),
            ("Readiness Gates", "string", "", 1),
        ],
        ("apps", "deployments") => vec![
            name,
            ("Ready", "string", "", 0),
            ("Up-to-date", "integer", "", 0),
            ("Available", "integer", "", 0),
            age,
            containers,
            images,
            selector,
        ],
        ("apps", "replicasets") => vec![
            name,
            ("Desired", "integer", "", 0),
            ("Current", "integer", "", 0),
            ("Ready", "integer", "", 0),
            age,
            containers,
            images,
            selector,
        ],
        ("apps", "statefulsets") => vec![name, ("Ready", "string", "", 0), age, containers, images],
        ("apps", "daemonsets") => vec![
            name,
            ("Desired", "integer", "", 0),
            ("Current", "integer", "", 0),
            ("Ready", "integer", "", 0),
            ("Up-to-date", "integer", "", 0),
            ("Available", "integer", "", 0),
            ("Node Selector", "string", "", 0),
            age,
            containers,
            images,
            selector,
        ],
        ("", "services") => vec![
            name,
            ("Type", "string", "", 0),
            ("Cluster-IP", "string", "", 0),
            ("External-IP", "string", "", 0),
            ("Port(s)", "string", "", 0),
            age,
            selector,
        ],
        ("", "configmaps") => vec![name, ("Data", "integer", "", 0), age],
        ("", "secrets") => vec![
            name,
            ("Type", "string", "", 0),
            ("Data", "integer", "", 0),
            age,
        ],
        ("", "namespaces") => vec![name, ("Status", "string", "", 0), age],
        ("", "nodes") => vec![
            name,
            ("Status", "string", "", 0),
            ("Roles", "string", "", 0),
            age,
            ("Version", "string", "", 0),
        ],
        ("", "serviceaccounts") => vec![name, ("Secrets", "integer", "", 0), age],
        ("", "endpoints") => vec![name, ("Endpoints", "string", "", 0), age],
        ("discovery.k8s.io", "endpointslices") => vec![
            name,
            ("AddressType", "string", "", 0),
            ("Ports", "string", "", 0),
            ("Endpoints", "string", "", 0),
            age,
        ],
        ("apps", "controllerrevisions") => vec![
            name,
            ("Controller", "string", "", 0),
            ("Revision", "integer", "", 0),
            age,
        ],
        ("batch", "jobs") => vec![
            name,
            ("Status", "string", "", 0),
            ("Completions", "string", "", 0),
            ("Duration", "string", "", 0),
            age,
            containers,
            images,
            selector,
        ],
        ("batch", "cronjobs") => vec![
            name,
            ("Schedule", "string", "", 0),
            ("Timezone", "string", "", 0),
            ("Suspend", "boolean", "", 0),
            ("Active", "integer", "", 0),
            ("Last Schedule", "string", "", 0),
            age,
        ],
        ("", "events") => vec![
            ("Last Seen", "string", "", 0),
            ("Type", "string", "", 0),
            ("Reason", "string", "", 0),
            ("Object", "string", "", 0),
            ("Subobject", "string", "", 1),
            ("Source", "string", "", 1),
            ("Message", "string", "", 0),
            ("First Seen", "string", "", 1),
            ("Count", "string", "", 1),
            ("Name", "string", "", 1),
        ],
        _ => vec![name, ("Created At", "date", "", 0)],
    }
}

fn age(obj: &Value) -> String {
    ago(str_at(obj, "metadata.creationTimestamp"))
}

fn ago(ts: &str) -> String {
    match parse_rfc3339(ts) {
        Some(t) => human_duration(now_secs() - t),
        None => "<unknown>".into(),
    }
}

fn int(obj: &Value, path: &str) -> i64 {
    get_path(obj, path).and_then(Value::as_i64).unwrap_or(0)
}

/// The entries of a map of strings as `k=v,k=v`.
fn key_values(m: &serde_json::Map<String, Value>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}

/// A map of strings (a selector) as `k=v,k=v`; `<none>` when absent or empty.
fn key_values_or_none(v: &Value) -> String {
    v.as_object()
        .map(key_values)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "<none>".into())
}

/// The items joined with commas; `<none>` when there are none.
fn joined_or_none(items: &[impl AsRef<str>]) -> String {
    if items.is_empty() {
        "<none>".to_string()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn pod_template_cells(obj: &Value) -> (String, String, String) {
    let cs: Vec<&Value> = obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let names: Vec<&str> = cs
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    let images: Vec<&str> = cs
        .iter()
        .map(|c| c["image"].as_str().unwrap_or(""))
        .collect();
    let sel = &obj["spec"]["selector"];
    let sel = match sel.get("matchLabels").and_then(Value::as_object) {
        Some(m) => key_values(m),
        None => match sel.as_object() {
            Some(m) if !m.contains_key("matchExpressions") => key_values(m),
            _ => "<none>".into(),
        },
    };
    (names.join(","), images.join(","), sel)
}

fn pod_status(obj: &Value) -> String {
    if obj["metadata"]["deletionTimestamp"].is_string() {
        return "Terminating".into();
    }
    let mut reason = obj["status"]["reason"]
        .as_str()
        .or(obj["status"]["phase"].as_str())
        .unwrap_or("Pending")
        .to_string();
    for cs in obj["status"]["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(w) = cs["state"]["waiting"]["reason"].as_str()
            && w != "PodInitializing"
        {
            return format!("Init:{w}");
        }
    }
    for cs in obj["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(w) = cs["state"]["waiting"]["reason"].as_str() {
            reason = w.to_string();
        } else if let Some(t) = cs["state"]["terminated"]["reason"].as_str() {
            reason = t.to_string();
        }
    }
    reason
}

fn cells(rt: &ResourceType, obj: &Value) -> Vec<Value> {
    let name = json!(str_at(obj, "metadata.name"));
    match (rt.group.as_str(), rt.resource.as_str()) {
        ("", "pods") => {
            let statuses: Vec<&Value> = obj["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            let total = obj["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses
                .iter()
                .filter(|c| c["ready"] == json!(true))
                .count();
            let restarts: i64 = statuses
                .iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            let none = |s: &str| {
                if s.is_empty() {
                    "<none>".to_string()
                } else {
                    s.to_string()
                }
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts.to_string()),
                json!(age(obj)),
                json!(none(str_at(obj, "status.podIP"))),
                json!(none(str_at(obj, "spec.nodeName"))),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        ("apps", "deployments") => {
            let (c, i, s) = pod_template_cells(obj);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(obj, "status.readyReplicas"),
                    int(obj, "spec.replicas")
                )),
                json!(int(obj, "status.updatedReplicas")),
                json!(int(obj, "status.availableReplicas")),
                json!(age(obj)),
                json!(c),
                json!(i),
                json!(s),
            ]
        }
        ("apps", "replicasets") => {
            let (c, i, s) = pod_template_cells(obj);
            vec![
                name,
                json!(int(obj, "spec.replicas")),
                json!(int(obj, "status.replicas")),
                json!(int(obj, "status.readyReplicas")),
                json!(age(obj)),
                json!(c),
                json!(i),
                json!(s),
            ]
        }
        ("apps", "statefulsets") => {
            let (c, i, _) = pod_template_cells(obj);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(obj, "status.readyReplicas"),
                    int(obj, "spec.replicas")
                )),
                json!(age(obj)),
                json!(c),
                json!(i),
            ]
        }
        ("apps", "daemonsets") => {
            let (c, i, s) = pod_template_cells(obj);
            let ns = key_values_or_none(&obj["spec"]["template"]["spec"]["nodeSelector"]);
            vec![
                name,
                json!(int(obj, "status.desiredNumberScheduled")),
                json!(int(obj, "status.currentNumberScheduled")),
                json!(int(obj, "status.numberReady")),
                json!(int(obj, "status.updatedNumberScheduled")),
                json!(int(obj, "status.numberAvailable")),
                json!(ns),
                json!(age(obj)),
                json!(c),
                json!(i),
                json!(s),
            ]
        }
        ("", "services") => {
            let spec = &obj["spec"];
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let port = p["port"].as_i64().unwrap_or(0);
                    let protocol = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(np) => format!("{port}:{np}/{protocol}"),
                        None => format!("{port}/{protocol}"),
                    }
                })
                .collect();
            let ty = spec["type"].as_str().unwrap_or("ClusterIP");
            let external = match ty {
                "ExternalName" => spec["externalName"]
                    .as_str()
                    .unwrap_or("<none>")
                    .to_string(),
                "LoadBalancer" => "<pending>".into(),
                _ => "<none>".into(),
            };
            let sel = key_values_or_none(&spec["selector"]);
            vec![
                name,
                json!(ty),
                json!(spec["clusterIP"].as_str().unwrap_or("<none>")),
                json!(external),
                json!(joined_or_none(&ports)),
                json!(age(obj)),
                json!(sel),
            ]
        }
        ("", "configmaps") => {
            let n = obj["data"].as_object().map_or(0, |m| m.len())
                + obj["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(n), json!(age(obj))]
        }
        ("", "secrets") => {
            let n = obj["data"].as_object().map_or(0, |m| m.len());
            vec![
                name,
                json!(obj["type"].as_str().unwrap_or("Opaque")),
                json!(n),
                json!(age(obj)),
            ]
        }
        ("", "namespaces") => vec![
            name,
            json!(obj["status"]["phase"].as_str().unwrap_or("Active")),
            json!(age(obj)),
        ],
        ("", "nodes") => {
            let ready = obj["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            let roles: Vec<&str> = obj["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            vec![
                name,
                json!(if ready { "Ready" } else { "NotReady" }),
                json!(joined_or_none(&roles)),
                json!(age(obj)),
                json!(str_at(obj, "status.nodeInfo.kubeletVersion")),
            ]
        }
        ("", "serviceaccounts") => vec![
            name,
            json!(obj["secrets"].as_array().map_or(0, Vec::len)),
            json!(age(obj)),
        ],
        ("", "endpoints") => {
            let mut eps = Vec::new();
            for s in obj["subsets"].as_array().into_iter().flatten() {
                for a in s["addresses"].as_array().into_iter().flatten() {
                    for p in s["ports"].as_array().into_iter().flatten() {
                        eps.push(format!(
                            "{}:{}",
                            a["ip"].as_str().unwrap_or(""),
                            p["port"].as_i64().unwrap_or(0)
                        ));
                    }
                }
            }
            vec![name, json!(joined_or_none(&eps)), json!(age(obj))]
        }
        ("discovery.k8s.io", "endpointslices") => {
            let ports: Vec<String> = obj["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match (p["port"].as_i64(), p["name"].as_str()) {
                    (Some(n), _) => n.to_string(),
                    (None, Some(name)) => name.to_string(),
                    (None, None) => "*".to_string(),
                })
                .collect();
            let addresses: Vec<String> = obj["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().into_iter().flatten())
                .map(|a| a.as_str().unwrap_or("").to_string())
                .collect();
            vec![
                name,
                json!(obj["addressType"].as_str().unwrap_or("")),
                json!(first_three(&ports)),
                json!(first_three(&addresses)),
                json!(age(obj)),
            ]
        }
        ("apps", "controllerrevisions") => {
            // `<kind>.<group>/<name>` of the controller, lower-cased kind and group.
            let controller = obj["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["controller"] == json!(true))
                .map(|r| {
                    let group = r["apiVersion"]
                        .as_str()
                        .unwrap_or("")
                        .rsplit_once('/')
                        .map_or("", |(g, _)| g);
                    let kind = r["kind"].as_str().unwrap_or("");
                    let gk = if group.is_empty() {
                        kind.to_string()
                    } else {
                        format!("{kind}.{group}")
                    };
                    format!("{}/{}", gk.to_lowercase(), r["name"].as_str().unwrap_or(""))
                })
                .unwrap_or_else(|| "<none>".to_string());
            vec![
                name,
                json!(controller),
                json!(obj["revision"].as_i64().unwrap_or(0)),
                json!(age(obj)),
            ]
        }
        ("batch", "jobs") => {
            let (c, i, s) = pod_template_cells(obj);
            let conds: Vec<&Value> = obj["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["status"] == "True")
                .collect();
            let status = if conds.iter().any(|c| c["type"] == "Complete") {
                "Complete"
            } else if conds.iter().any(|c| c["type"] == "Failed") {
                "Failed"
            } else if obj["metadata"]["deletionTimestamp"].is_string() {
                "Terminating"
            } else if obj["spec"]["suspend"] == json!(true) {
                "Suspended"
            } else {
                "Running"
            };
            let duration = match (
                parse_rfc3339(str_at(obj, "status.startTime")),
                parse_rfc3339(str_at(obj, "status.completionTime")),
            ) {
                (Some(a), Some(b)) => human_duration(b - a),
                (Some(a), None) => human_duration(now_secs() - a),
                _ => String::new(),
            };
            vec![
                name,
                json!(status),
                json!(format!(
                    "{}/{}",
                    int(obj, "status.succeeded"),
                    obj["spec"]["completions"].as_i64().unwrap_or(1)
                )),
                json!(duration),
                json!(age(obj)),
                json!(c),
                json!(i),
                json!(s),
            ]
        }
        ("batch", "cronjobs") => vec![
            name,
            json!(str_at(obj, "spec.schedule")),
            json!(obj["spec"]["timeZone"].as_str().unwrap_or("<none>")),
            json!(obj["spec"]["suspend"].as_bool().unwrap_or(false)),
            json!(obj["status"]["active"].as_array().map_or(0, Vec::len)),
            json!(match str_at(obj, "status.lastScheduleTime") {
                "" => "<none>".to_string(),
                t => ago(t),
            }),
            json!(age(obj)),
        ],
        ("", "events") => {
            let last = [
                "lastTimestamp",
                "eventTime",
                "firstTimestamp",
                "metadata.creationTimestamp",
            ]
            .iter()
            .map(|p| str_at(obj, p))
            .find(|s| !s.is_empty())
            .unwrap_or("");
            let io = &obj["involvedObject"];
            vec![
                json!(ago(last)),
                json!(obj["type"].as_str().unwrap_or("")),
                json!(obj["reason"].as_str().unwrap_or("")),
                json!(format!(
                    "{}/{}",
                    io["kind"].as_str().unwrap_or("").to_lowercase(),
                    io["name"].as_str().unwrap_or("")
                )),
                json!(io["fieldPath"].as_str().unwrap_or("")),
                json!(obj["source"]["component"].as_str().unwrap_or("")),
                json!(obj["message"].as_str().unwrap_or("").trim()),
                json!(ago(str_at(obj, "firstTimestamp"))),
                json!(obj["count"].as_i64().unwrap_or(1).to_string()),
                name,
            ]
        }
        _ => vec![name, json!(str_at(obj, "metadata.creationTimestamp"))],
    }
}

/// Up to three items joined with commas, then `+ N more...`; `<unset>` when empty.
fn first_three(items: &[String]) -> String {
    match items.len() {
        0 => "<unset>".to_string(),
        n if n > 3 => format!("{} + {} more...", items[..3].join(","), n - 3),
        _ => items.join(","),
    }
}

fn custom_columns(rt: &ResourceType) -> Vec<Value> {
    let mut cols = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for c in &rt.printer_columns {
        cols.push(json!({
            "name": c["name"], "type": c["type"].as_str().unwrap_or("string"),
            "format": c["format"].as_str().unwrap_or(""),
            "description": c["description"].as_str().unwrap_or(""),
            "priority": c["priority"].as_i64().unwrap_or(0),
        }));
    }
    if !rt
        .printer_columns
        .iter()
        .any(|c| c["jsonPath"] == ".metadata.creationTimestamp")
    {
        cols.push(
            json!({"name": "Age", "type": "date", "format": "", "description": "", "priority": 0}),
        );
    }
    cols
}

fn custom_cells(rt: &ResourceType, obj: &Value) -> Vec<Value> {
    let mut cells = vec![json!(str_at(obj, "metadata.name"))];
    for c in &rt.printer_columns {
        let path = c["jsonPath"].as_str().unwrap_or("").trim_start_matches('.');
        let v = get_path(obj, path).cloned().unwrap_or(Value::Null);
        let v = if c["type"] == "date" {
            v.as_str().map(ago).map(Value::from).unwrap_or(Value::Null)
        } else {
            v
        };
        cells.push(v);
    }
    if !rt
        .printer_columns
        .iter()
        .any(|c| c["jsonPath"] == ".metadata.creationTimestamp")
    {
        cells.push(json!(age(obj)));
    }
    cells
}

/// The column definitions of `rt`.
pub fn column_definitions(rt: &ResourceType) -> Vec<Value> {
    if rt.custom {
        return custom_columns(rt);
    }
    columns(rt)
        .into_iter()
        .map(|(name, ty, format, priority)| {
            json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
        })
        .collect()
}

/// One row of `obj`; `include` is `None`, `Object` or `PartialObjectMetadata` (default).
pub fn row(rt: &ResourceType, obj: &Value, include: &str) -> Value {
    let mut r = json!({ "cells": row_cells(rt, obj) });
    match include {
        "None" => {}
        "Object" => r["object"] = obj.clone(),
        _ => r["object"] = partial_metadata(obj),
    }
    r
}

fn row_cells(rt: &ResourceType, obj: &Value) -> Vec<Value> {
    if rt.custom {
        return custom_cells(rt, obj);
    }
    let mut c = cells(rt, obj);
    let cols = columns(rt);
    if cols.len() == 2 && cols[1].0 == "Created At" {
        c.truncate(2);
    }
    c
}

/// [`table`], serialized: the same document, written with the objects (or their
/// metadata) taken by reference instead of copied, which is most of the work of a large
/// list.
pub fn table_json(
    rt: &ResourceType,
    objs: &[&Value],
    resource_version: &str,
    include: &str,
    continue_token: Option<&str>,
    remaining: Option<u64>,
) -> Vec<u8> {
    let mut meta = json!({ "resourceVersion": resource_version });
    if let Some(c) = continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    let mut out = Vec::with_capacity(objs.len() * 1024 + 1024);
    out.extend_from_slice(b"{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
    write_json(&mut out, &meta);
    out.extend_from_slice(b",\"columnDefinitions\":");
    write_json(&mut out, &Value::Array(column_definitions(rt)));
    out.extend_from_slice(b",\"rows\":[");
    for (i, o) in objs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"cells\":");
        write_json(&mut out, &Value::Array(row_cells(rt, o)));
        match include {
            "None" => {}
            "Object" => {
                out.extend_from_slice(b",\"object\":");
                write_json(&mut out, o);
            }
            _ => {
                out.extend_from_slice(
                    b",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":",
                );
                write_json(&mut out, &o["metadata"]);
                out.push(b'}');
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

/// Appends `v` as JSON (writing to a `Vec` cannot fail).
pub fn write_json(out: &mut Vec<u8>, v: &Value) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// A Table of `objs`.
pub fn table(
    rt: &ResourceType,
    objs: &[&Value],
    resource_version: &str,
    include: &str,
    continue_token: Option<&str>,
) -> Value {
    let mut meta = json!({ "resourceVersion": resource_version });
    if let Some(c) = continue_token {
        meta["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(rt),
        "rows": objs.iter().map(|o| row(rt, o, include)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn pod_row_shows_ready_status_restarts() {
        let reg = Registry::default();
        let rt = reg.find("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "p", "creationTimestamp": crate::util::now_rfc3339()},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let r = row(rt, &pod, "None");
        assert_eq!(r["cells"][0], "p");
        assert_eq!(r["cells"][1], "1/2");
        assert_eq!(r["cells"][2], "CrashLoopBackOff");
        assert_eq!(r["cells"][3], "3");
        assert!(r.get("object").is_none());
        let names: Vec<Value> = column_definitions(rt)
            .iter()
            .filter(|c| c["priority"] == 0)
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(
            names,
            vec![
                json!("Name"),
                json!("Ready"),
                json!("Status"),
                json!("Restarts"),
                json!("Age")
            ]
        );
    }

    #[test]
    fn deployment_row_counts_replicas() {
        let reg = Registry::default();
        let rt = reg.find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let r = row(rt, &d, "Object");
        assert_eq!(r["cells"][1], "2/3");
        assert_eq!(r["cells"][2], 3);
        assert_eq!(r["cells"][7], "app=web");
        assert_eq!(r["object"]["metadata"]["name"], "web");
    }

    #[test]
    fn default_table_has_name_and_created_at() {
        let reg = Registry::default();
        let rt = reg.find("coordination.k8s.io", "v1", "leases").unwrap();
        let t = table(
            rt,
            &[&json!({"metadata": {"name": "l", "creationTimestamp": "2024-01-01T00:00:00Z"}})],
            "5",
            "",
            None,
        );
        assert_eq!(t["columnDefinitions"][1]["name"], "Created At");
        assert_eq!(t["rows"][0]["cells"], json!(["l", "2024-01-01T00:00:00Z"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}

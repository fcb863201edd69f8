//! The copies of the user's objects that the canary and blue-green steps run beside
//! them: renamed, labelled with the Deployment they belong to, and selecting only their
//! own pods, so that neither the user's Deployment nor its Service counts them.

use serde_json::{Value, json};

use crate::cluster::object_name;

/// The object of `kind` named `name` among `objects`.
pub(super) fn find<'o>(objects: &'o [Value], kind: &str, name: &str) -> Option<&'o Value> {
    objects.iter().find(|o| {
        o.get("kind").and_then(Value::as_str) == Some(kind) && object_name(o) == Some(name)
    })
}

/// A copy of `obj` named `name` and labelled `label: deployment`, without what the
/// server sets (uid, resourceVersion, status…).
pub(super) fn renamed(obj: &Value, name: &str, label: &str, deployment: &str) -> Value {
    let mut copy = obj.clone();
    let meta = &mut copy["metadata"];
    meta["name"] = json!(name);
    meta["labels"][label] = json!(deployment);
    if let Some(m) = meta.as_object_mut() {
        for server_set in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            m.remove(server_set);
        }
    }
    if let Some(o) = copy.as_object_mut() {
        o.remove("status");
    }
    copy
}

/// A copy of the Deployment `new` named `name`, whose selector and pod labels add
/// `label: deployment`.
pub(super) fn deployment(new: &Value, name: &str, label: &str, deployment: &str) -> Value {
    let mut copy = renamed(new, name, label, deployment);
    copy["spec"]["selector"]["matchLabels"][label] = json!(deployment);
    copy["spec"]["template"]["metadata"]["labels"][label] = json!(deployment);
    copy
}

/// A copy of the Service `service` named `name` selecting only the pods labelled
/// `label: deployment`, inside the cluster only; cluster IPs and node ports are the
/// server's to give.
pub(super) fn service(service: &Value, name: &str, label: &str, deployment: &str) -> Value {
    let mut copy = renamed(service, name, label, deployment);
    copy["spec"]["selector"][label] = json!(deployment);
    if let Some(spec) = copy["spec"].as_object_mut() {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
        spec.insert("type".into(), json!("ClusterIP"));
    }
    if let Some(ports) = copy["spec"]["ports"].as_array_mut() {
        for port in ports {
            if let Some(p) = port.as_object_mut() {
                p.remove("nodePort");
            }
        }
    }
    copy
}

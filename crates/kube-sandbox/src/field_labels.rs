//! Which fields each kind can be selected by (`?fieldSelector=`), and where their values
//! are read — the real server's field label conversions (`AddFieldLabelConversionFunc` in
//! each API group's `conversion.go`) and its registry strategies' selectable field sets.
//!
//! Every kind accepts `metadata.name`, and namespaced kinds `metadata.namespace`; a few
//! kinds accept more (pods by node and phase, events by involved object, secrets by type
//! …). A label a kind does not accept is a `400 BadRequest` whose message is the
//! conversion's own, which differs between kinds: kinds with a conversion of their own
//! say `field label not supported: <label>`, the others (every kind of the `apps` group
//! among them) `"<label>" is not a known field selector: only "metadata.name",
//! "metadata.namespace"`. Custom resources accept their CRD's `selectableFields`.

use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::selector::{FieldRead, FieldSelector};

/// The selector with each label resolved to where the kind keeps its value, or the
/// real server's 400 for the first label the kind does not accept.
pub fn resolve(rt: &ResourceType, sel: FieldSelector) -> Result<FieldSelector, ApiError> {
    sel.resolve(|label| read_of(rt, label))
        .map_err(ApiError::bad_request)
}

fn read_of(rt: &ResourceType, label: &str) -> Result<FieldRead, String> {
    let plain = |extra: &[&str]| -> Option<FieldRead> {
        let meta = label == "metadata.name" || (rt.namespaced && label == "metadata.namespace");
        (meta || extra.contains(&label)).then(|| FieldRead::at(label))
    };
    let not_supported = || format!("field label not supported: {label}");
    if rt.custom {
        return plain(&[])
            .or_else(|| {
                rt.selectable_fields
                    .iter()
                    .any(|f| f == label)
                    .then(|| FieldRead::at(label))
            })
            .ok_or_else(not_supported);
    }
    let typed = |path: &str, absent: &'static str| FieldRead {
        path: path.to_string(),
        fallback: None,
        absent,
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => match label {
            // An old spelling the conversion still accepts.
            "spec.host" => Ok(FieldRead::at("spec.nodeName")),
            "spec.hostNetwork" => Ok(typed(label, "false")),
            // Accepted, but never in the pod's selectable fields: it matches nothing.
            "status.podIPs" => Ok(FieldRead::at("status.podIPs.never")),
            _ => plain(&[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ])
            .ok_or_else(not_supported),
        },
        ("", "Node") => match label {
            "spec.unschedulable" => Ok(typed(label, "false")),
            _ => plain(&[]).ok_or_else(not_supported),
        },
        ("", "Namespace") => plain(&["status.phase"]).ok_or_else(not_supported),
        ("", "Secret") => plain(&["type"]).ok_or_else(not_supported),
        ("", "Service") => plain(&["spec.clusterIP", "spec.type"]).ok_or_else(not_supported),
        ("", "ReplicationController") => match label {
            "status.replicas" => Ok(typed(label, "0")),
            _ => plain(&[]).ok_or_else(not_supported),
        },
        ("", "Event") => match label {
            "source" => Ok(FieldRead {
                path: "source.component".into(),
                fallback: Some("reportingComponent".into()),
                absent: "",
            }),
            _ => plain(&[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "type",
            ])
            .ok_or_else(not_supported),
        },
        // events.k8s.io names the involved object `regarding` and the reporter
        // `reportingController`; the core spellings are not accepted there.
        ("events.k8s.io", "Event") => match label {
            // The server still accepts `source`; events of this group have none.
            "source" => Ok(FieldRead::at("deprecatedSource.component")),
            _ => plain(&[
                "regarding.kind",
                "regarding.namespace",
                "regarding.name",
                "regarding.uid",
                "regarding.apiVersion",
                "regarding.resourceVersion",
                "regarding.fieldPath",
                "reportingController",
                "reason",
                "type",
            ])
            .ok_or_else(not_supported),
        },
        ("batch", "Job") => match label {
            // The label and the field it reads differ.
            "status.successful" => Ok(typed("status.succeeded", "0")),
            _ => plain(&[]).ok_or_else(|| format!("field label {label:?} not supported for Job")),
        },
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            plain(&["spec.signerName"]).ok_or_else(not_supported)
        }
        // Kinds without a conversion of their own accept the metadata fields, the
        // namespace even for cluster-scoped kinds.
        _ => match label {
            "metadata.name" | "metadata.namespace" => Ok(FieldRead::at(label)),
            _ => Err(format!(
                "{label:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    fn check(group: &str, version: &str, resource: &str, sel: &str) -> Result<(), String> {
        let reg = Registry::default();
        let rt = reg.find(group, version, resource).unwrap();
        resolve(rt, FieldSelector::parse(sel).unwrap())
            .map(|_| ())
            .map_err(|e| e.message)
    }

    #[test]
    fn each_kind_accepts_its_own_labels_and_names_the_first_it_refuses() {
        assert!(check("", "v1", "pods", "spec.nodeName=n,status.phase!=Running").is_ok());
        assert!(check("", "v1", "secrets", "type=Opaque,metadata.namespace=a").is_ok());
        assert!(check("", "v1", "nodes", "spec.unschedulable=false").is_ok());
        assert_eq!(
            check("", "v1", "nodes", "metadata.namespace=x"),
            Err("field label not supported: metadata.namespace".into())
        );
        assert_eq!(
            check("", "v1", "configmaps", "metadata.name=a,data.x=y"),
            Err(
                "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    .into()
            )
        );
        assert_eq!(
            check("apps", "v1", "deployments", "status.replicas=1"),
            Err(
                "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    .into()
            )
        );
        assert_eq!(
            check("batch", "v1", "jobs", "spec.parallelism=1"),
            Err("field label \"spec.parallelism\" not supported for Job".into())
        );
        assert_eq!(
            check("events.k8s.io", "v1", "events", "involvedObject.name=a"),
            Err("field label not supported: involvedObject.name".into())
        );
    }

    #[test]
    fn resolved_labels_read_aliases_fallbacks_and_defaults() {
        let reg = Registry::default();
        let pods = reg.find("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}});
        let sel = |rt, s: &str| resolve(rt, FieldSelector::parse(s).unwrap()).unwrap();
        assert!(sel(pods, "spec.host=n1").matches(&pod));
        assert!(sel(pods, "spec.hostNetwork=false").matches(&pod));
        let jobs = reg.find("batch", "v1", "jobs").unwrap();
        assert!(sel(jobs, "status.successful=0").matches(&json!({"status": {}})));
        assert!(sel(jobs, "status.successful=2").matches(&json!({"status": {"succeeded": 2}})));
        let events = reg.find("", "v1", "events").unwrap();
        assert!(sel(events, "source=kubelet").matches(&json!({"reportingComponent": "kubelet"})));
    }
}

//! The resource registry: which group/version/resource the server serves, driving
//! discovery, routing and storage.

use serde_json::{Value, json};

/// One served resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    /// Plural name (`deployments`).
    pub resource: String,
    pub kind: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    /// `status`, `scale`.
    pub subresources: Vec<String>,
    /// True for resources served from a CustomResourceDefinition.
    pub custom: bool,
    /// For custom resources: the `additionalPrinterColumns` of the served version.
    pub printer_columns: Vec<Value>,
    /// For custom resources with a `scale` subresource: spec/status replica paths.
    pub scale_paths: Option<(String, String, Option<String>)>,
    /// For custom resources: the `selectableFields` of the served version, as field
    /// selector labels (`spec.color`).
    pub selectable_fields: Vec<String>,
    /// For custom resources: the `openAPIV3Schema` of the served version, when it has one.
    pub schema: Option<std::sync::Arc<Value>>,
}

impl ResourceType {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Storage key: objects of the same group and resource share storage.
    pub fn storage_key(&self) -> String {
        format!("{}/{}", self.group, self.resource)
    }

    pub fn has_subresource(&self, s: &str) -> bool {
        self.subresources.iter().any(|x| x == s)
    }

    /// Whether `metadata.generation` is tracked (bumped on spec changes).
    pub fn tracks_generation(&self) -> bool {
        self.custom || self.has_subresource("status")
    }

    /// The entry of an `APIResourceList`.
    pub fn discovery(&self) -> Value {
        let mut v = json!({
            "name": self.resource,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs,
        });
        if !self.short_names.is_empty() {
            v["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            v["categories"] = json!(self.categories);
        }
        v
    }

    /// Entries for subresources in an `APIResourceList`.
    pub fn discovery_subresources(&self) -> Vec<Value> {
        self.subresources
            .iter()
            .map(|s| {
                let (kind, group, version, verbs) = if s == "scale" {
                    ("Scale", "autoscaling", "v1", vec!["get", "patch", "update"])
                } else {
                    (
                        self.kind.as_str(),
                        self.group.as_str(),
                        self.version.as_str(),
                        vec!["get", "patch", "update"],
                    )
                };
                let mut v = json!({
                    "name": format!("{}/{}", self.resource, s),
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": kind,
                    "verbs": verbs,
                });
                if s == "scale" {
                    v["group"] = json!(group);
                    v["version"] = json!(version);
                }
                v
            })
            .collect()
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn rt(
    group: &str,
    version: &str,
    resource: &str,
    kind: &str,
    short: &[&str],
    namespaced: bool,
    subresources: &[&str],
) -> ResourceType {
    let categories = match resource {
        "pods"
        | "services"
        | "deployments"
        | "replicasets"
        | "statefulsets"
        | "daemonsets"
        | "jobs"
        | "cronjobs"
        | "replicationcontrollers" => vec!["all".to_string()],
        _ => vec![],
    };
    ResourceType {
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        kind: kind.into(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories,
        namespaced,
        verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
        subresources: subresources.iter().map(|s| s.to_string()).collect(),
        custom: false,
        printer_columns: vec![],
        scale_paths: None,
        selectable_fields: vec![],
        schema: None,
    }
}

/// A review kind: created to ask a question, never stored (see `reviews.rs`).
fn review(group: &str, resource: &str, kind: &str, namespaced: bool) -> ResourceType {
    let mut r = rt(group, "v1", resource, kind, &[], namespaced, &[]);
    r.verbs = vec!["create".to_string()];
    r
}

/// The built-in resources.
pub fn builtin() -> Vec<ResourceType> {
    let mut v = vec![
        rt(
            "",
            "v1",
            "namespaces",
            "Namespace",
            &["ns"],
            false,
            &["status"],
        ),
        rt("", "v1", "nodes", "Node", &["no"], false, &["status"]),
        rt("", "v1", "pods", "Pod", &["po"], true, &["status"]),
        rt("", "v1", "services", "Service", &["svc"], true, &["status"]),
        rt("", "v1", "endpoints", "Endpoints", &["ep"], true, &[]),
        rt("", "v1", "configmaps", "ConfigMap", &["cm"], true, &[]),
        rt("", "v1", "secrets", "Secret", &[], true, &[]),
        rt(
            "",
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            &["sa"],
            true,
            &[],
        ),
        rt("", "v1", "events", "Event", &["ev"], true, &[]),
        rt(
            "",
            "v1",
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            &["pvc"],
            true,
            &["status"],
        ),
        rt(
            "apps",
            "v1",
            "deployments",
            "Deployment",
            &["deploy"],
            true,
            &["status", "scale"],
        ),
        rt(
            "apps",
            "v1",
            "replicasets",
            "ReplicaSet",
            &["rs"],
            true,
            &["status", "scale"],
        ),
        rt(
            "apps",
            "v1",
            "statefulsets",
            "StatefulSet",
            &["sts"],
            true,
            &["status", "scale"],
        ),
        rt(
            "apps",
            "v1",
            "daemonsets",
            "DaemonSet",
            &["ds"],
            true,
            &["status"],
        ),
        rt(
            "apps",
            "v1",
            "controllerrevisions",
            "ControllerRevision",
            &[],
            true,
            &[],
        ),
        rt("batch", "v1", "jobs", "Job", &[], true, &["status"]),
        rt(
            "batch",
            "v1",
            "cronjobs",
            "CronJob",
            &["cj"],
            true,
            &["status"],
        ),
        rt(
            "discovery.k8s.io",
            "v1",
            "endpointslices",
            "EndpointSlice",
            &[],
            true,
            &[],
        ),
        rt(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            &[],
            true,
            &[],
        ),
        rt(
            "networking.k8s.io",
            "v1",
            "ingresses",
            "Ingress",
            &["ing"],
            true,
            &["status"],
        ),
        rt(
            "networking.k8s.io",
            "v1",
            "networkpolicies",
            "NetworkPolicy",
            &["netpol"],
            true,
            &[],
        ),
        rt(
            "policy",
            "v1",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            &["pdb"],
            true,
            &["status"],
        ),
        rt(
            "autoscaling",
            "v2",
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            &["hpa"],
            true,
            &["status"],
        ),
        // Served from the same storage as v2 (see `convert.rs`); v2 is preferred.
        rt(
            "autoscaling",
            "v1",
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            &["hpa"],
            true,
            &["status"],
        ),
        rt(
            "rbac.authorization.k8s.io",
            "v1",
            "roles",
            "Role",
            &[],
            true,
            &[],
        ),
        rt(
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "RoleBinding",
            &[],
            true,
            &[],
        ),
        rt(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "ClusterRole",
            &[],
            false,
            &[],
        ),
        rt(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            &[],
            false,
            &[],
        ),
        rt("events.k8s.io", "v1", "events", "Event", &[], true, &[]),
        // Kinds a v1.32 server lists that no controller of the sandbox acts on: they are
        // stored and served (kubectl's default prune allow-list names some of them).
        rt(
            "",
            "v1",
            "persistentvolumes",
            "PersistentVolume",
            &["pv"],
            false,
            &["status"],
        ),
        rt(
            "",
            "v1",
            "replicationcontrollers",
            "ReplicationController",
            &["rc"],
            true,
            &["status", "scale"],
        ),
        rt(
            "",
            "v1",
            "resourcequotas",
            "ResourceQuota",
            &["quota"],
            true,
            &["status"],
        ),
        rt(
            "",
            "v1",
            "limitranges",
            "LimitRange",
            &["limits"],
            true,
            &[],
        ),
        rt("", "v1", "podtemplates", "PodTemplate", &[], true, &[]),
        rt(
            "storage.k8s.io",
            "v1",
            "storageclasses",
            "StorageClass",
            &["sc"],
            false,
            &[],
        ),
        rt(
            "storage.k8s.io",
            "v1",
            "csidrivers",
            "CSIDriver",
            &[],
            false,
            &[],
        ),
        rt(
            "storage.k8s.io",
            "v1",
            "csinodes",
            "CSINode",
            &[],
            false,
            &[],
        ),
        rt(
            "storage.k8s.io",
            "v1",
            "volumeattachments",
            "VolumeAttachment",
            &[],
            false,
            &["status"],
        ),
        rt(
            "networking.k8s.io",
            "v1",
            "ingressclasses",
            "IngressClass",
            &[],
            false,
            &[],
        ),
        rt(
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            "PriorityClass",
            &["pc"],
            false,
            &[],
        ),
        rt(
            "node.k8s.io",
            "v1",
            "runtimeclasses",
            "RuntimeClass",
            &[],
            false,
            &[],
        ),
        rt(
            "admissionregistration.k8s.io",
            "v1",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            &[],
            false,
            &[],
        ),
        rt(
            "admissionregistration.k8s.io",
            "v1",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            &[],
            false,
            &[],
        ),
        review(
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            false,
        ),
        review(
            "authorization.k8s.io",
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            false,
        ),
        review(
            "authorization.k8s.io",
            "subjectaccessreviews",
            "SubjectAccessReview",
            false,
        ),
        review(
            "authentication.k8s.io",
            "selfsubjectreviews",
            "SelfSubjectReview",
            false,
        ),
        review(
            "authentication.k8s.io",
            "tokenreviews",
            "TokenReview",
            false,
        ),
        rt(
            "certificates.k8s.io",
            "v1",
            "certificatesigningrequests",
            "CertificateSigningRequest",
            &["csr"],
            false,
            &["status", "approval"],
        ),
        rt(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            &["crd", "crds"],
            false,
            &["status"],
        ),
    ];
    for r in &mut v {
        if r.resource == "events" || r.resource == "nodes" {
            r.categories.clear();
        }
    }
    v
}

/// The resources a CustomResourceDefinition serves (one per served version).
pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return vec![];
    }
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    for ver in spec["versions"].as_array().into_iter().flatten() {
        if ver["served"] == Value::Bool(false) {
            continue;
        }
        let Some(version) = ver["name"].as_str() else {
            continue;
        };
        let mut subresources = vec![];
        let mut scale_paths = None;
        if ver["subresources"]["status"].is_object() {
            subresources.push("status".to_string());
        }
        if let Some(scale) = ver["subresources"]["scale"].as_object() {
            subresources.push("scale".to_string());
            let p = |k: &str| {
                scale
                    .get(k)
                    .and_then(Value::as_str)
                    .map(|s| s.trim_start_matches('.').to_string())
            };
            scale_paths = Some((
                p("specReplicasPath").unwrap_or_else(|| "spec.replicas".into()),
                p("statusReplicasPath").unwrap_or_else(|| "status.replicas".into()),
                p("labelSelectorPath"),
            ));
        }
        out.push(ResourceType {
            group: group.into(),
            version: version.into(),
            resource: plural.into(),
            kind: kind.into(),
            singular: singular.clone(),
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            namespaced,
            verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
            subresources,
            custom: true,
            printer_columns: ver["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            scale_paths,
            selectable_fields: ver["selectableFields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["jsonPath"].as_str())
                .map(|p| p.trim_start_matches('.').to_string())
                .collect(),
            schema: ver["schema"]["openAPIV3Schema"]
                .is_object()
                .then(|| std::sync::Arc::new(ver["schema"]["openAPIV3Schema"].clone())),
        });
    }
    out
}

/// A mutable set of served resources.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry { types: builtin() }
    }
}

impl Registry {
    pub fn all(&self) -> &[ResourceType] {
        &self.types
    }

    /// Looks a resource up by group, version and plural.
    pub fn find(&self, group: &str, version: &str, resource: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|r| r.group == group && r.version == version && r.resource == resource)
    }

    /// Looks a resource up by group and kind, preferring `version`.
    pub fn find_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// Whether `group/version` is served at all.
    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|r| r.group == group && r.version == version)
    }

    /// Groups (excluding the legacy core group) with their versions, in registration order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.types {
            if r.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    if !vs.contains(&r.version) {
                        vs.push(r.version.clone());
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }

    /// Replaces the resources served for a CRD (by group and plural).
    pub fn set_crd(&mut self, group: &str, plural: &str, types: Vec<ResourceType>) {
        self.types
            .retain(|r| !(r.custom && r.group == group && r.resource == plural));
        self.types.extend(types);
    }

    /// Whether a built-in (non-CRD) resource uses this group.
    pub fn is_builtin_group(&self, group: &str) -> bool {
        self.types.iter().any(|r| !r.custom && r.group == group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_serves_each_served_version_with_its_subresources() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}},
            {"name": "v0", "served": false, "storage": false}
        ]}});
        let types = from_crd(&crd);
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].kind, "Widget");
        assert_eq!(types[0].singular, "widget");
        assert!(types[0].has_subresource("scale"));
        assert!(types[0].namespaced);
    }

    #[test]
    fn registry_lists_groups_in_order() {
        let r = Registry::default();
        let groups = r.groups();
        assert_eq!(groups[0].0, "apps");
        assert!(r.find("apps", "v1", "deployments").is_some());
        assert!(r.find("", "v1", "deployments").is_none());
    }
}

//! The order objects are applied in: what others depend on first, so that nothing
//! starts before what it needs exists — namespaces and CRDs, then configuration, secrets,
//! service accounts and RBAC, then services and workloads, then ingress and the rest.
//! Deletion (prune) runs in the reverse order.

use serde_json::Value;

use crate::value;

/// Kinds in apply order. Kinds not listed come after all listed ones (custom resources
/// need their CRDs and often the workloads behind them).
const ORDER: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "PodDisruptionBudget",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The rank of a kind in [`ORDER`]; unknown kinds rank last.
pub fn rank(kind: &str) -> usize {
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// Sorts objects into apply order. The sort is stable: objects of one kind keep the
/// order they were rendered in.
pub fn sort_for_apply(objects: &mut [Value]) {
    objects.sort_by_key(|o| rank(value::kind(o)));
}

/// Sorts objects into delete order (the reverse of apply order, stable within a kind).
pub fn sort_for_delete(objects: &mut [Value]) {
    objects.sort_by_key(|o| std::cmp::Reverse(rank(value::kind(o))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(objects: &[Value]) -> Vec<&str> {
        objects.iter().map(value::kind).collect()
    }

    fn obj(kind: &str, name: &str) -> Value {
        json!({"kind": kind, "metadata": {"name": name}})
    }

    #[test]
    fn dependencies_are_applied_before_what_uses_them() {
        let mut objects = vec![
            obj("Ingress", "web"),
            obj("Deployment", "api"),
            obj("Widget", "w"),
            obj("Service", "api"),
            obj("ConfigMap", "cfg"),
            obj("Namespace", "ns"),
            obj("Secret", "s"),
            obj("CustomResourceDefinition", "widgets.example.com"),
        ];
        sort_for_apply(&mut objects);
        assert_eq!(
            kinds(&objects),
            [
                "Namespace",
                "CustomResourceDefinition",
                "Secret",
                "ConfigMap",
                "Service",
                "Deployment",
                "Ingress",
                "Widget"
            ]
        );
    }

    #[test]
    fn objects_of_one_kind_keep_their_rendered_order() {
        let mut objects = vec![
            obj("Deployment", "b"),
            obj("Service", "x"),
            obj("Deployment", "a"),
        ];
        sort_for_apply(&mut objects);
        let names: Vec<&str> = objects.iter().map(value::name).collect();
        assert_eq!(names, ["x", "b", "a"]);
    }

    #[test]
    fn deletion_runs_in_reverse() {
        let mut objects = vec![
            obj("Namespace", "ns"),
            obj("Deployment", "api"),
            obj("ConfigMap", "c"),
        ];
        sort_for_delete(&mut objects);
        assert_eq!(kinds(&objects), ["Deployment", "ConfigMap", "Namespace"]);
    }
}

//! How a strategic merge patch merges a list field of the built-in kinds: the
//! `patchStrategy` and `patchMergeKey` of the Kubernetes API types, for the fields that
//! have them. Every other list is replaced whole by the patch's list.
//!
//! The table is by field name, which is how the built-in kinds use them: a field of one
//! name has one strategy wherever it appears, except `ports`, whose items are keyed by
//! `containerPort` in a container and by `port` elsewhere (a Service).

/// How a list field is merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMerge {
    /// The patch's list replaces the list.
    Replace,
    /// Items (mappings) are merged by the value of this key.
    ByKey(&'static str),
    /// A list of scalars merged as a set (`finalizers`).
    Set,
}

/// The merge of list field `field`; `in_container` says whether the list is a field of
/// a container (an item of `containers`, `initContainers` or `ephemeralContainers`).
pub fn list_merge(field: &str, in_container: bool) -> ListMerge {
    ListMerge::ByKey(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "hostAliases" => "ip",
        "ownerReferences" => "uid",
        "topologySpreadConstraints" => "topologyKey",
        "ports" if in_container => "containerPort",
        "ports" => "port",
        "finalizers" => return ListMerge::Set,
        _ => return ListMerge::Replace,
    })
}

/// Whether the items of list field `field` are containers, whose own lists are merged
/// as a container's (see [`list_merge`]).
pub fn holds_containers(field: &str) -> bool {
    matches!(
        field,
        "containers" | "initContainers" | "ephemeralContainers"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_keyed_by_where_they_are() {
        assert_eq!(list_merge("ports", true), ListMerge::ByKey("containerPort"));
        assert_eq!(list_merge("ports", false), ListMerge::ByKey("port"));
    }

    #[test]
    fn known_fields_merge_and_the_rest_replace() {
        assert_eq!(
            list_merge("schedulingGates", false),
            ListMerge::ByKey("name")
        );
        assert_eq!(
            list_merge("volumeMounts", true),
            ListMerge::ByKey("mountPath")
        );
        assert_eq!(list_merge("finalizers", false), ListMerge::Set);
        for atomic in ["args", "command", "envFrom", "tolerations", "rules"] {
            assert_eq!(list_merge(atomic, true), ListMerge::Replace, "{atomic}");
        }
        assert!(holds_containers("initContainers") && !holds_containers("volumes"));
    }
}

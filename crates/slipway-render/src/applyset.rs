//! What belongs to an app on a cluster, in the terms of the ApplySet specification
//! (KEP-3659) that `kubectl apply --prune --applyset` implements: a parent object
//! carries the id label and lists the group-kinds and namespaces of its members; each
//! member carries a `part-of` label with the same id. slipway and kubectl therefore agree
//! on what an app owns, and prune only that.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Label on the parent: the set's id.
pub const PARENT_ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on every member: the id of the set it belongs to.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// Annotation on the parent: which tool manages the set, as `<name>/<version>`.
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
/// Annotation on the parent: the member group-kinds, `Kind.group` sorted, comma-joined.
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Annotation on the parent: namespaces with members besides the parent's own.
pub const ADDITIONAL_NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// The id of the set whose parent is `kind.group/name` in `namespace`:
/// `applyset-<base64url(sha256("<name>.<namespace>.<kind>.<group>"))>-v1`.
pub fn id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}").as_bytes());
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    format!("applyset-{encoded}-v1")
}

/// The value of [`GROUP_KINDS_ANNOTATION`] for members of these `(group, kind)`:
/// `Kind` for the core group, `Kind.group` otherwise, sorted and without repeats.
pub fn group_kinds<'a>(members: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut all: Vec<String> = members
        .into_iter()
        .map(|(group, kind)| {
            if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            }
        })
        .collect();
    all.sort();
    all.dedup();
    all.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_the_url_safe_unpadded_hash_of_name_namespace_kind_group() {
        // sha256("demo.shop.Secret.") computed independently with coreutils:
        // printf 'demo.shop.Secret.' | sha256sum | xxd -r -p | basenc --base64url | tr -d =
        assert_eq!(
            id("demo", "shop", "Secret", ""),
            "applyset-GFUrpQ_ZgZxV3WG1W5fgD09xJ9Y98NRvfYqfQaDBaKw-v1"
        );
        assert_ne!(
            id("demo", "shop", "Secret", ""),
            id("demo", "shop2", "Secret", "")
        );
    }

    #[test]
    fn group_kinds_are_sorted_qualified_and_unique() {
        let value = group_kinds([
            ("apps", "Deployment"),
            ("", "Service"),
            ("", "ConfigMap"),
            ("apps", "Deployment"),
        ]);
        assert_eq!(value, "ConfigMap,Deployment.apps,Service");
    }
}

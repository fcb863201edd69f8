//! The review APIs, which answer a question instead of storing an object:
//! `SelfSubjectAccessReview` and `SelfSubjectRulesReview` (`kubectl auth can-i`),
//! `SelfSubjectReview` (`kubectl auth whoami`), `SubjectAccessReview` and `TokenReview`.
//!
//! The sandbox has one identity, an administrator: every request it accepts is allowed, so
//! every access review answers `allowed: true`, as a real server does for `system:masters`.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// The user every accepted request acts as.
pub const USER: &str = "sandbox-admin";
const GROUPS: &[&str] = &["system:masters", "system:authenticated"];

/// True for the kinds that are questions, not objects.
pub fn is_review(rt: &ResourceType) -> bool {
    matches!(
        (rt.group.as_str(), rt.resource.as_str()),
        (
            "authorization.k8s.io",
            "selfsubjectaccessreviews" | "selfsubjectrulesreviews" | "subjectaccessreviews"
        ) | (
            "authentication.k8s.io",
            "selfsubjectreviews" | "tokenreviews"
        )
    )
}

/// The answer to a review: the request with its `status` filled in.
pub fn answer(rt: &ResourceType, request: &Value) -> Value {
    let mut out = request.clone();
    if !out.is_object() {
        out = json!({});
    }
    out["apiVersion"] = json!(rt.api_version());
    out["kind"] = json!(rt.kind);
    let metadata = out
        .get("metadata")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    out["metadata"] = metadata;
    out["metadata"]["creationTimestamp"] = Value::Null;
    out["status"] = match rt.resource.as_str() {
        "selfsubjectaccessreviews" | "subjectaccessreviews" => json!({"allowed": true}),
        "selfsubjectrulesreviews" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        "selfsubjectreviews" => json!({"userInfo": {"username": USER, "groups": GROUPS}}),
        "tokenreviews" => json!({
            "authenticated": true,
            "user": {"username": USER, "groups": GROUPS},
            "audiences": request["spec"]["audiences"].clone(),
        }),
        _ => json!({}),
    };
    out
}

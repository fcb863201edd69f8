//! The review APIs, which answer a question instead of storing an object:
//! `SelfSubjectAccessReview` and `SelfSubjectRulesReview` (`kubectl auth can-i`),
//! `SelfSubjectReview` (`kubectl auth whoami`), `SubjectAccessReview` and `TokenReview`.
//!
//! With authentication on, the answers come from RBAC for the requesting user (or, for a
//! `SubjectAccessReview`, the user it names) and tokens are looked up. Without it the
//! sandbox has one identity, an administrator: every request is allowed, so every access
//! review answers `allowed: true`, as a real server does for `system:masters`.

use serde_json::{Value, json};

use crate::auth::{Authenticator, Identity};
use crate::rbac::{self, Attributes};
use crate::resources::ResourceType;
use crate::store::Store;

/// The user every accepted request acts as without authentication.
pub const USER: &str = crate::auth::ADMIN;
const GROUPS: &[&str] = &["system:masters", "system:authenticated"];

/// What answers a review with authentication on: the rules in the store, the known
/// tokens, and who asks.
pub struct Judge<'a> {
    pub store: &'a Store,
    pub authn: &'a Authenticator,
    pub who: &'a Identity,
}

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

fn user_info(who: &Identity) -> Value {
    json!({"username": who.user, "groups": who.groups})
}

/// The answer to a review: the request with its `status` filled in.
pub fn answer(rt: &ResourceType, request: &Value, judge: Option<&Judge>) -> Value {
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
    out["status"] = match judge {
        Some(judge) => judged(rt, request, judge),
        None => unjudged(rt, request),
    };
    out
}

fn unjudged(rt: &ResourceType, request: &Value) -> Value {
    match rt.resource.as_str() {
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
    }
}

fn judged(rt: &ResourceType, request: &Value, judge: &Judge) -> Value {
    let spec = &request["spec"];
    match rt.resource.as_str() {
        "selfsubjectaccessreviews" => access(judge.store, judge.who, spec),
        "subjectaccessreviews" => {
            let groups: Vec<String> = spec["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.as_str().map(String::from))
                .collect();
            let subject = Identity {
                user: spec["user"].as_str().unwrap_or_default().to_string(),
                groups,
            };
            access(judge.store, &subject, spec)
        }
        "selfsubjectrulesreviews" => {
            let namespace = spec["namespace"].as_str().unwrap_or_default();
            let masters = judge.who.groups.iter().any(|g| g == "system:masters");
            let mut rules = rbac::rules_for(judge.store, judge.who, namespace);
            if masters {
                rules.push((
                    String::new(),
                    json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "nonResourceURLs": ["*"]}),
                ));
            }
            let (mut resource_rules, mut non_resource_rules) = (Vec::new(), Vec::new());
            for (_, rule) in rules {
                if rule.get("resources").is_some() {
                    let mut r = json!({"verbs": rule["verbs"], "apiGroups": rule["apiGroups"], "resources": rule["resources"]});
                    if let Some(names) = rule.get("resourceNames") {
                        r["resourceNames"] = names.clone();
                    }
                    resource_rules.push(r);
                }
                if rule.get("nonResourceURLs").is_some() {
                    non_resource_rules.push(
                        json!({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}),
                    );
                }
            }
            json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
        }
        "selfsubjectreviews" => json!({"userInfo": user_info(judge.who)}),
        "tokenreviews" => {
            let token = spec["token"].as_str().unwrap_or_default();
            match judge.authn.token_identity(token) {
                Some(who) => json!({
                    "authenticated": true,
                    "user": user_info(&who),
                    "audiences": spec["audiences"].clone(),
                }),
                None => {
                    json!({"authenticated": false, "user": {}, "error": "invalid bearer token"})
                }
            }
        }
        _ => json!({}),
    }
}

fn access(store: &Store, who: &Identity, spec: &Value) -> Value {
    let attrs = Attributes::of_review(spec);
    if rbac::allowed(store, who, &attrs) {
        json!({"allowed": true})
    } else {
        json!({"allowed": false})
    }
}

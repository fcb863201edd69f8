//! Authorization by RBAC, as the real API server decides: the request's attributes (verb,
//! API group, resource, subresource, name, namespace, or a non-resource path) are checked
//! against the rules of the ClusterRoles bound by ClusterRoleBindings, and in a namespace
//! also of the Roles and ClusterRoles bound there by RoleBindings. `system:masters` may do
//! everything. Refusals are the real `403 Forbidden` with the real message.
//!
//! The built-in ClusterRoles `cluster-admin`, `admin`, `edit` and `view` (their rules
//! close to those of Kubernetes v1.32, written out instead of aggregated), and those that
//! let every authenticated user read discovery and ask about itself, are created when the
//! sandbox starts with authentication on ([`bootstrap`]).

use axum::http::Method;
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::store::{ListOpts, Store, WriteCtx};
use crate::util::str_at;

/// What a request asks to do, as the authorizer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attributes {
    Resource {
        verb: String,
        group: String,
        resource: String,
        subresource: String,
        name: String,
        namespace: String,
    },
    NonResource {
        verb: String,
        path: String,
    },
}

impl Attributes {
    /// The attributes of an HTTP request, parsed as the real server's `RequestInfo`.
    pub fn of_request(method: &Method, path: &str, watch: bool) -> Attributes {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest) = match segs.as_slice() {
            ["api", _v, rest @ ..] if !rest.is_empty() => ("", rest),
            ["apis", g, _v, rest @ ..] if !rest.is_empty() => (*g, rest),
            _ => {
                let verb = match *method {
                    Method::GET | Method::HEAD => "get".to_string(),
                    ref m => m.as_str().to_ascii_lowercase(),
                };
                return Attributes::NonResource {
                    verb,
                    path: path.to_string(),
                };
            }
        };
        let (namespace, parts): (&str, &[&str]) = match rest {
            ["namespaces", ns, first, ..]
                if !(group.is_empty() && matches!(*first, "status" | "finalize")) =>
            {
                (ns, &rest[2..])
            }
            _ => ("", rest),
        };
        let resource = parts.first().copied().unwrap_or_default();
        let name = parts.get(1).copied().unwrap_or_default();
        let subresource = parts.get(2).copied().unwrap_or_default();
        // A namespace is in itself: `get namespaces/shop` is allowed by a RoleBinding in `shop`.
        let namespace = if namespace.is_empty() && resource == "namespaces" {
            name
        } else {
            namespace
        };
        let verb = match *method {
            Method::GET | Method::HEAD if name.is_empty() && watch => "watch",
            Method::GET | Method::HEAD if name.is_empty() => "list",
            Method::GET | Method::HEAD => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if name.is_empty() => "deletecollection",
            Method::DELETE => "delete",
            _ => "unknown",
        };
        Attributes::Resource {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            namespace: namespace.into(),
        }
    }

    /// The attributes a `SubjectAccessReview`'s spec asks about.
    pub fn of_review(spec: &Value) -> Attributes {
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        if let Some(n) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
            return Attributes::NonResource {
                verb: s(n, "verb"),
                path: s(n, "path"),
            };
        }
        let r = &spec["resourceAttributes"];
        Attributes::Resource {
            verb: s(r, "verb"),
            group: s(r, "group"),
            resource: s(r, "resource"),
            subresource: s(r, "subresource"),
            name: s(r, "name"),
            namespace: s(r, "namespace"),
        }
    }

    fn namespace(&self) -> &str {
        match self {
            Attributes::Resource { namespace, .. } => namespace,
            Attributes::NonResource { .. } => "",
        }
    }
}

fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

/// Whether one PolicyRule allows the request (`rbac.RuleAllows`).
pub fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    let verb_ok = |verb: &str| strings(&rule["verbs"]).any(|v| v == "*" || v == verb);
    match attrs {
        Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            name,
            ..
        } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let resource_ok = strings(&rule["resources"]).any(|r| {
                r == "*"
                    || r == combined
                    || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
            });
            let names = rule["resourceNames"].as_array().map_or(0, Vec::len);
            verb_ok(verb)
                && strings(&rule["apiGroups"]).any(|g| g == "*" || g == group)
                && resource_ok
                && (names == 0 || strings(&rule["resourceNames"]).any(|n| n == name))
        }
        Attributes::NonResource { verb, path } => {
            verb_ok(verb)
                && strings(&rule["nonResourceURLs"]).any(|u| {
                    u == "*"
                        || u == path
                        || u.strip_suffix('*')
                            .is_some_and(|prefix| path.starts_with(prefix))
                })
        }
    }
}

fn rbac_type(store: &Store, resource: &str) -> ResourceType {
    store
        .registry()
        .find("rbac.authorization.k8s.io", "v1", resource)
        .cloned()
        .expect("RBAC kinds are built in")
}

fn subject_matches(subject: &Value, who: &Identity, binding_namespace: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str().unwrap_or_default() {
        "User" => name == who.user,
        "Group" => who.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            who.user == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// The rules that apply to `who` in `namespace` (cluster-wide ones only when it is
/// empty), each with the binding that grants it.
pub fn rules_for(store: &Store, who: &Identity, namespace: &str) -> Vec<(String, Value)> {
    let all = ListOpts::default();
    let cluster_roles = rbac_type(store, "clusterroles");
    let role_rules = |rt: &ResourceType, ns: &str, name: &str| -> Vec<Value> {
        store
            .get(rt, ns, name)
            .ok()
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let bindings = |resource: &str, ns: Option<&str>| {
        store
            .list(&rbac_type(store, resource), ns, &all)
            .map(|p| p.items)
            .unwrap_or_default()
    };
    for b in bindings("clusterrolebindings", None) {
        if strings_subjects(&b).any(|s| subject_matches(s, who, "")) {
            let role = str_at(&b, "roleRef.name");
            for rule in role_rules(&cluster_roles, "", role) {
                out.push((
                    format!("ClusterRoleBinding \"{}\"", str_at(&b, "metadata.name")),
                    rule,
                ));
            }
        }
    }
    if !namespace.is_empty() {
        let roles = rbac_type(store, "roles");
        for b in bindings("rolebindings", Some(namespace)) {
            if strings_subjects(&b).any(|s| subject_matches(s, who, namespace)) {
                let role = str_at(&b, "roleRef.name");
                let rules = if str_at(&b, "roleRef.kind") == "ClusterRole" {
                    role_rules(&cluster_roles, "", role)
                } else {
                    role_rules(&roles, namespace, role)
                };
                for rule in rules {
                    out.push((
                        format!(
                            "RoleBinding \"{namespace}/{}\"",
                            str_at(&b, "metadata.name")
                        ),
                        rule,
                    ));
                }
            }
        }
    }
    out
}

fn strings_subjects(binding: &Value) -> impl Iterator<Item = &Value> {
    binding["subjects"].as_array().into_iter().flatten()
}

/// Whether `who` may do what `attrs` say.
pub fn allowed(store: &Store, who: &Identity, attrs: &Attributes) -> bool {
    who.groups.iter().any(|g| g == "system:masters")
        || rules_for(store, who, attrs.namespace())
            .iter()
            .any(|(_, rule)| rule_allows(rule, attrs))
}

/// `Ok` when `who` may do what `attrs` say, else the real server's 403.
pub fn authorize(store: &Store, who: &Identity, attrs: &Attributes) -> Result<(), ApiError> {
    if allowed(store, who, attrs) {
        Ok(())
    } else {
        Err(forbidden(who, attrs))
    }
}

/// The real server's refusal: `deployments.apps is forbidden: User "alice" cannot create
/// resource "deployments" in API group "apps" in the namespace "shop"`.
pub fn forbidden(who: &Identity, attrs: &Attributes) -> ApiError {
    match attrs {
        Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            name,
            namespace,
        } => {
            let qualified = if group.is_empty() {
                resource.clone()
            } else {
                format!("{resource}.{group}")
            };
            let target = if name.is_empty() {
                qualified
            } else {
                format!("{qualified} \"{name}\"")
            };
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let scope = if namespace.is_empty() {
                " at the cluster scope".to_string()
            } else {
                format!(" in the namespace \"{namespace}\"")
            };
            let mut details = json!({"kind": resource});
            if !name.is_empty() {
                details["name"] = json!(name);
            }
            if !group.is_empty() {
                details["group"] = json!(group);
            }
            ApiError::forbidden(format!(
                "{target} is forbidden: User \"{}\" cannot {verb} resource \"{combined}\" in API group \"{group}\"{scope}",
                who.user
            ))
            .with_details(details)
        }
        Attributes::NonResource { verb, path } => ApiError::forbidden(format!(
            "forbidden: User \"{}\" cannot {verb} path \"{path}\"",
            who.user
        ))
        .with_details(json!({})),
    }
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources})
}

fn view_rules() -> Vec<Value> {
    vec![
        rule(
            READ,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
        ),
        rule(
            READ,
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
        ),
        rule(READ, &[""], &["namespaces"]),
        rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            READ,
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
        ),
        rule(
            READ,
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            READ,
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
        ),
        rule(
            READ,
            &["extensions"],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
            ],
        ),
        rule(
            READ,
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            READ,
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
        ),
        rule(READ, &["events.k8s.io"], &["events"]),
    ]
}

fn edit_rules() -> Vec<Value> {
    let mut rules = vec![
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(
            WRITE,
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
        ),
        rule(&["create"], &[""], &["pods/eviction"]),
        rule(
            WRITE,
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
        ),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(WRITE, &["batch"], &["cronjobs", "jobs"]),
        rule(
            WRITE,
            &["extensions"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "ingresses",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
            ],
        ),
        rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
        rule(
            WRITE,
            &["networking.k8s.io"],
            &["ingresses", "networkpolicies"],
        ),
        rule(
            READ,
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
        ),
    ];
    rules.extend(view_rules());
    rules
}

fn admin_rules() -> Vec<Value> {
    let mut rules = vec![
        rule(
            &["create"],
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
        ),
        rule(
            &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
            &["rbac.authorization.k8s.io"],
            &["rolebindings", "roles"],
        ),
    ];
    rules.extend(edit_rules());
    rules
}

/// The built-in ClusterRoles and ClusterRoleBindings (name, rules, bound groups).
fn builtins() -> Vec<(&'static str, Vec<Value>, &'static [&'static str])> {
    vec![
        (
            "cluster-admin",
            vec![
                rule(&["*"], &["*"], &["*"]),
                json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
            ],
            &["system:masters"],
        ),
        ("admin", admin_rules(), &[]),
        ("edit", edit_rules(), &[]),
        ("view", view_rules(), &[]),
        (
            "system:discovery",
            vec![
                json!({"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]}),
            ],
            &["system:authenticated"],
        ),
        (
            "system:basic-user",
            vec![
                rule(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
            ],
            &["system:authenticated"],
        ),
        (
            "system:public-info-viewer",
            vec![
                json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]}),
            ],
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

/// Creates the built-in ClusterRoles and their bindings that are missing (a sandbox
/// restarted from its state keeps the ones it has, changed or not).
pub fn bootstrap(store: &Store) -> Result<(), ApiError> {
    let ctx = WriteCtx {
        manager: "kube-apiserver".into(),
        dry_run: false,
        subresource: String::new(),
    };
    let roles = rbac_type(store, "clusterroles");
    let bindings = rbac_type(store, "clusterrolebindings");
    let meta = |name: &str| {
        json!({"name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}})
    };
    for (name, rules, groups) in builtins() {
        if store.get(&roles, "", name).is_err() {
            store.create(
                &roles,
                "",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(name), "rules": rules}),
                &ctx,
            )?;
        }
        if !groups.is_empty() && store.get(&bindings, "", name).is_err() {
            let subjects: Vec<Value> = groups
                .iter()
                .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
                .collect();
            store.create(
                &bindings,
                "",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(name),
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                    "subjects": subjects}),
                &ctx,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(verb: &str, group: &str, resource: &str, sub: &str, ns: &str) -> Attributes {
        Attributes::Resource {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: String::new(),
            namespace: ns.into(),
        }
    }

    #[test]
    fn request_paths_become_attributes() {
        let a = Attributes::of_request(
            &Method::PATCH,
            "/apis/apps/v1/namespaces/shop/deployments/api/scale",
            false,
        );
        assert_eq!(
            a,
            Attributes::Resource {
                verb: "patch".into(),
                group: "apps".into(),
                resource: "deployments".into(),
                subresource: "scale".into(),
                name: "api".into(),
                namespace: "shop".into()
            }
        );
        let a = Attributes::of_request(&Method::GET, "/api/v1/namespaces/shop", false);
        assert_eq!(a.namespace(), "shop");
        let a = Attributes::of_request(&Method::GET, "/api/v1/pods", true);
        assert!(
            matches!(a, Attributes::Resource { ref verb, ref namespace, .. } if verb == "watch" && namespace.is_empty())
        );
        let a = Attributes::of_request(&Method::GET, "/apis/apps/v1", false);
        assert_eq!(
            a,
            Attributes::NonResource {
                verb: "get".into(),
                path: "/apis/apps/v1".into()
            }
        );
    }

    #[test]
    fn rules_match_verbs_groups_subresources_names_and_paths() {
        let r = rule(&["get"], &["apps"], &["deployments"]);
        assert!(rule_allows(
            &r,
            &resource("get", "apps", "deployments", "", "x")
        ));
        assert!(!rule_allows(
            &r,
            &resource("get", "apps", "deployments", "scale", "x")
        ));
        assert!(!rule_allows(
            &r,
            &resource("list", "apps", "deployments", "", "x")
        ));
        assert!(!rule_allows(
            &r,
            &resource("get", "", "deployments", "", "x")
        ));
        let r = rule(&["*"], &["*"], &["*/scale"]);
        assert!(rule_allows(
            &r,
            &resource("update", "apps", "deployments", "scale", "x")
        ));
        assert!(!rule_allows(
            &r,
            &resource("update", "apps", "deployments", "", "x")
        ));
        let mut r = rule(&["get"], &[""], &["configmaps"]);
        r["resourceNames"] = json!(["one"]);
        let mut a = resource("get", "", "configmaps", "", "x");
        assert!(!rule_allows(&r, &a));
        if let Attributes::Resource { name, .. } = &mut a {
            *name = "one".into();
        }
        assert!(rule_allows(&r, &a));
        let r = json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]});
        assert!(rule_allows(
            &r,
            &Attributes::NonResource {
                verb: "get".into(),
                path: "/apis/apps".into()
            }
        ));
        assert!(!rule_allows(
            &r,
            &Attributes::NonResource {
                verb: "get".into(),
                path: "/metrics".into()
            }
        ));
    }

    #[test]
    fn the_refusal_is_the_real_message() {
        let who = Identity::new("alice", &[]);
        let e = forbidden(&who, &resource("create", "apps", "deployments", "", "shop"));
        assert_eq!(
            e.message,
            "deployments.apps is forbidden: User \"alice\" cannot create resource \"deployments\" in API group \"apps\" in the namespace \"shop\""
        );
        let e = forbidden(&who, &resource("list", "", "namespaces", "", ""));
        assert_eq!(
            e.message,
            "namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
        );
    }
}

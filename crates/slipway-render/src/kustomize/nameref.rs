//! Name references: after names changed (prefixes, suffixes, hashes), every field that
//! names another object is updated to the object's final name.
//!
//! The table of referring fields is kustomize's built-in name reference configuration:
//! ConfigMaps and Secrets in volumes, projected volumes, `env`, `envFrom` and image pull
//! secrets of every pod template; ServiceAccounts in pod specs and role binding subjects;
//! Services in Ingress backends, StatefulSet `serviceName`, APIServices and webhooks;
//! Roles and ClusterRoles in `roleRef`; PersistentVolumeClaims, PersistentVolumes,
//! StorageClasses and PriorityClasses where pods and claims name them. A reference is
//! matched against every name an object has had, among objects of the right kind that the
//! referrer can see (same namespace, cluster-scoped, or a ServiceAccount).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::config::Config;
use super::fields::{FieldSpec, split_path, walk};
use super::{Id, Res};
use crate::RenderError;

/// A referral kind (group, version, kind; empty matches anything) and where it is named.
struct Backref {
    group: String,
    version: String,
    kind: String,
    specs: Vec<FieldSpec>,
}

fn fs(path: String, group: &str, version: &str, kind: &str) -> FieldSpec {
    FieldSpec {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        path,
        create: false,
    }
}

/// Pod-spec-relative paths expanded for Pods and every workload kind.
fn pod_paths(rel: &[&str], extra_kinds: &[&str]) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    for r in rel {
        out.push(fs(format!("spec/{r}"), "", "v1", "Pod"));
    }
    for kind in [
        "Deployment",
        "ReplicaSet",
        "DaemonSet",
        "StatefulSet",
        "Job",
    ]
    .iter()
    .chain(extra_kinds)
    {
        for r in rel {
            out.push(fs(format!("spec/template/spec/{r}"), "", "", kind));
        }
    }
    for r in rel {
        out.push(fs(
            format!("spec/jobTemplate/spec/template/spec/{r}"),
            "",
            "",
            "CronJob",
        ));
    }
    out
}

fn table() -> Vec<Backref> {
    let scale = |kind: &'static str| Backref {
        group: "".into(),
        version: "".into(),
        kind: kind.into(),
        specs: vec![fs(
            "spec/scaleTargetRef/name".into(),
            "",
            "",
            "HorizontalPodAutoscaler",
        )],
    };
    let mut config_map = pod_paths(
        &[
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
        ],
        &[],
    );
    config_map.extend([
        fs("spec/configSource/configMap".into(), "", "", "Node"),
        fs("rules/resourceNames".into(), "", "", "Role"),
        fs("rules/resourceNames".into(), "", "", "ClusterRole"),
        fs(
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap".into(),
            "",
            "",
            "Ingress",
        ),
        fs(
            "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name".into(),
            "serving.knative.dev",
            "v1",
            "Service",
        ),
        fs(
            "spec/template/spec/containers/envFrom/configMapRef/name".into(),
            "serving.knative.dev",
            "v1",
            "Service",
        ),
    ]);
    let mut secret = pod_paths(
        &[
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ],
        &[],
    );
    for (path, kind) in [
        ("spec/tls/secretName", "Ingress"),
        (
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            "Ingress",
        ),
        (
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            "Ingress",
        ),
        (
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            "Ingress",
        ),
        ("imagePullSecrets/name", "ServiceAccount"),
        ("parameters/secretName", "StorageClass"),
        ("parameters/adminSecretName", "StorageClass"),
        ("parameters/userSecretName", "StorageClass"),
        ("parameters/secretRef", "StorageClass"),
        ("rules/resourceNames", "Role"),
        ("rules/resourceNames", "ClusterRole"),
        ("spec/azureFile/secretName", "PersistentVolume"),
    ] {
        secret.push(fs(path.into(), "", "", kind));
    }
    secret.push(fs(
        "spec/template/spec/containers/env/valueFrom/secretKeyRef/name".into(),
        "serving.knative.dev",
        "v1",
        "Service",
    ));
    let service = vec![
        fs("spec/serviceName".into(), "apps", "", "StatefulSet"),
        fs(
            "spec/rules/http/paths/backend/serviceName".into(),
            "",
            "",
            "Ingress",
        ),
        fs("spec/backend/serviceName".into(), "", "", "Ingress"),
        fs(
            "spec/rules/http/paths/backend/service/name".into(),
            "",
            "",
            "Ingress",
        ),
        fs("spec/defaultBackend/service/name".into(), "", "", "Ingress"),
        fs(
            "spec/service/name".into(),
            "apiregistration.k8s.io",
            "",
            "APIService",
        ),
        fs(
            "webhooks/clientConfig/service".into(),
            "admissionregistration.k8s.io",
            "",
            "ValidatingWebhookConfiguration",
        ),
        fs(
            "webhooks/clientConfig/service".into(),
            "admissionregistration.k8s.io",
            "",
            "MutatingWebhookConfiguration",
        ),
    ];
    let rbac = "rbac.authorization.k8s.io";
    let template_kinds = [
        "StatefulSet",
        "Deployment",
        "ReplicationController",
        "Job",
        "DaemonSet",
    ];
    let pod_field = |rel: &str| {
        let mut v = vec![fs(format!("spec/{rel}"), "", "", "Pod")];
        for k in template_kinds {
            v.push(fs(format!("spec/template/spec/{rel}"), "", "", k));
        }
        v.push(fs(
            format!("spec/jobTemplate/spec/template/spec/{rel}"),
            "",
            "",
            "CronJob",
        ));
        v
    };
    let mut service_account = vec![
        fs("subjects".into(), rbac, "", "RoleBinding"),
        fs("subjects".into(), rbac, "", "ClusterRoleBinding"),
    ];
    service_account.extend(pod_field("serviceAccountName"));
    vec![
        scale("Deployment"),
        scale("ReplicationController"),
        scale("ReplicaSet"),
        scale("StatefulSet"),
        Backref {
            group: "".into(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            specs: config_map,
        },
        Backref {
            group: "".into(),
            version: "v1".into(),
            kind: "Secret".into(),
            specs: secret,
        },
        Backref {
            group: "".into(),
            version: "v1".into(),
            kind: "Service".into(),
            specs: service,
        },
        Backref {
            group: rbac.into(),
            version: "".into(),
            kind: "Role".into(),
            specs: vec![fs("roleRef/name".into(), rbac, "", "RoleBinding")],
        },
        Backref {
            group: rbac.into(),
            version: "".into(),
            kind: "ClusterRole".into(),
            specs: vec![
                fs("roleRef/name".into(), rbac, "", "RoleBinding"),
                fs("roleRef/name".into(), rbac, "", "ClusterRoleBinding"),
            ],
        },
        Backref {
            group: "".into(),
            version: "v1".into(),
            kind: "ServiceAccount".into(),
            specs: service_account,
        },
        Backref {
            group: "".into(),
            version: "v1".into(),
            kind: "PersistentVolumeClaim".into(),
            specs: pod_field("volumes/persistentVolumeClaim/claimName"),
        },
        Backref {
            group: "".into(),
            version: "v1".into(),
            kind: "PersistentVolume".into(),
            specs: vec![
                fs("spec/volumeName".into(), "", "", "PersistentVolumeClaim"),
                fs("rules/resourceNames".into(), "", "", "ClusterRole"),
            ],
        },
        Backref {
            group: "storage.k8s.io".into(),
            version: "v1".into(),
            kind: "StorageClass".into(),
            specs: vec![
                fs("spec/storageClassName".into(), "", "", "PersistentVolume"),
                fs(
                    "spec/storageClassName".into(),
                    "",
                    "",
                    "PersistentVolumeClaim",
                ),
                fs(
                    "spec/volumeClaimTemplates/spec/storageClassName".into(),
                    "",
                    "",
                    "StatefulSet",
                ),
            ],
        },
        Backref {
            group: "scheduling.k8s.io".into(),
            version: "v1".into(),
            kind: "PriorityClass".into(),
            specs: pod_field("priorityClassName"),
        },
    ]
}

/// What the reference fixer needs to know about a possible referral.
struct Candidate {
    ids: Vec<Id>,
    cur: Id,
    org_namespace: String,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

fn selected_by(id: &Id, group: &str, version: &str, kind: &str) -> bool {
    (group.is_empty() || id.group == group)
        && (version.is_empty() || id.version == version)
        && (kind.is_empty() || id.kind == kind)
}

struct Fixer<'a> {
    candidates: &'a [Candidate],
    by_name: &'a HashMap<String, Vec<usize>>,
    referrer: &'a Candidate,
    /// Candidates the referrer can see at all.
    visible: &'a dyn Fn(&Candidate) -> bool,
    target: (&'a str, &'a str, &'a str),
    role_ref: Option<(String, String)>,
    error: Option<String>,
}

impl Fixer<'_> {
    fn select(&mut self, old: &str, namespace: Option<&str>) -> Option<&Candidate> {
        let (g, v, k) = self.target;
        let referrer_cur = &self.referrer.cur;
        let mut list: Vec<&Candidate> = self
            .by_name
            .get(old)
            .into_iter()
            .flatten()
            .map(|&i| &self.candidates[i])
            .filter(|c| (self.visible)(c))
            .filter(|c| c.ids.iter().any(|id| selected_by(id, g, v, k)))
            .filter(|c| match &self.role_ref {
                Some((group, kind)) => c.ids.iter().any(|id| selected_by(id, group, "", kind)),
                None => true,
            })
            .filter(|c| {
                referrer_cur.is_cluster_scoped()
                    || c.cur.is_cluster_scoped()
                    || c.cur.kind == "ServiceAccount"
                    || referrer_cur.ns_equals(&c.cur)
            })
            .collect();
        if let Some(ns) = namespace {
            let by_org: Vec<&Candidate> = list
                .iter()
                .copied()
                .filter(|c| c.org_namespace == ns)
                .collect();
            list = if by_org.is_empty() {
                list.into_iter().filter(|c| c.cur.namespace == ns).collect()
            } else {
                by_org
            };
        }
        if list.len() > 1 {
            list.retain(|c| {
                c.prefixes == self.referrer.prefixes && c.suffixes == self.referrer.suffixes
            });
        }
        match list.as_slice() {
            [] => None,
            [one] => Some(one),
            [first, rest @ ..] => {
                let same = rest.iter().all(|c| {
                    c.cur.name == first.cur.name
                        && (namespace.is_none() || c.cur.namespace == first.cur.namespace)
                });
                if same {
                    Some(first)
                } else {
                    self.error = Some(format!(
                        "`{}` refers to `{old}`, which matches several objects: {}",
                        self.referrer.cur.display(),
                        list.iter()
                            .map(|c| format!("`{}`", c.cur.display()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    None
                }
            }
        }
    }

    fn fix_scalar(&mut self, slot: &mut Value) {
        let Value::String(old) = slot else { return };
        if let Some(c) = self.select(&old.clone(), None) {
            *slot = Value::String(c.cur.name.clone());
        }
    }

    fn fix_mapping(&mut self, slot: &mut Value) {
        let Some(old) = slot.get("name").and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        let ns = slot
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(c) = self.select(&old, ns.as_deref()) else {
            return;
        };
        // Nothing to write when the referral kept its name and its namespace.
        if c.cur.name == old && c.cur.namespace == c.org_namespace {
            return;
        }
        let (name, namespace) = (c.cur.name.clone(), c.cur.namespace.clone());
        if let Value::Object(m) = slot {
            m.insert("name".into(), Value::String(name));
            if !namespace.is_empty() {
                m.insert("namespace".into(), Value::String(namespace));
            }
        }
    }

    fn fix(&mut self, slot: &mut Value) {
        match slot {
            Value::String(_) => self.fix_scalar(slot),
            Value::Object(_) => self.fix_mapping(slot),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(_) => self.fix_scalar(item),
                        Value::Object(_) => self.fix_mapping(item),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// Update every name reference among the objects.
pub(crate) fn fix(ra: &mut [Res], file: &Path, config: &Config) -> Result<(), RenderError> {
    let candidates: Vec<Candidate> = ra
        .iter()
        .map(|r| Candidate {
            ids: r.all_ids(),
            cur: r.cur_id(),
            org_namespace: r.org_id().namespace,
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        })
        .collect();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let mut names: Vec<&str> = c.ids.iter().map(|id| id.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for n in names {
            by_name.entry(n.to_owned()).or_default().push(i);
        }
    }
    let mut table = table();
    for extra in &config.name_reference {
        match table
            .iter_mut()
            .find(|b| b.group == extra.group && b.version == extra.version && b.kind == extra.kind)
        {
            Some(b) => b.specs.extend(extra.specs.iter().cloned()),
            None => table.push(Backref {
                group: extra.group.clone(),
                version: extra.version.clone(),
                kind: extra.kind.clone(),
                specs: extra.specs.clone(),
            }),
        }
    }
    let paths: Vec<Vec<Vec<(String, bool)>>> = table
        .iter()
        .map(|b| b.specs.iter().map(|s| split_path(&s.path)).collect())
        .collect();
    for (i, r) in ra.iter_mut().enumerate() {
        let referrer = &candidates[i];
        let cur = &referrer.cur;
        let binding_namespaces: Vec<String> =
            if matches!(cur.kind.as_str(), "RoleBinding" | "ClusterRoleBinding") {
                r.obj
                    .value
                    .get("subjects")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| {
                        s.get("namespace")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            } else {
                Vec::new()
            };
        let visible = |c: &Candidate| {
            cur.is_cluster_scoped()
                || c.cur.is_cluster_scoped()
                || c.cur.ns_equals(cur)
                || binding_namespaces.contains(&c.cur.namespace)
        };
        let role_ref_of = |v: &Value| -> Option<(String, String)> {
            let rr = v.get("roleRef")?;
            Some((
                rr.get("apiGroup")?.as_str()?.to_owned(),
                rr.get("kind")?.as_str()?.to_owned(),
            ))
        };
        let role_ref = role_ref_of(&r.obj.value);
        for (b, specs_paths) in table.iter().zip(&paths) {
            for (spec, path) in b.specs.iter().zip(specs_paths) {
                if !spec.applies_to(&cur.group, &cur.version, &cur.kind) {
                    continue;
                }
                let mut fixer = Fixer {
                    candidates: &candidates,
                    by_name: &by_name,
                    referrer,
                    visible: &visible,
                    target: (&b.group, &b.version, &b.kind),
                    role_ref: if spec.path.ends_with("roleRef/name") {
                        role_ref.clone()
                    } else {
                        None
                    },
                    error: None,
                };
                walk(&mut r.obj.value, path, false, &mut |slot| fixer.fix(slot));
                if let Some(message) = fixer.error {
                    return Err(RenderError::Build {
                        file: file.to_owned(),
                        line: 1,
                        message,
                    });
                }
            }
        }
    }
    Ok(())
}

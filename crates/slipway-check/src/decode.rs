//! Strict decoding: every built-in kind is decoded into its typed form (`k8s-openapi`).
//! Wrong types come from `serde_path_to_error`, unknown fields from `serde_ignored`, and
//! missing required fields from the kind's OpenAPI schema (the typed form fills absent
//! required fields with defaults, so decoding alone cannot see them). Base64 fields are
//! first put in the form the API server reads them as (`bytes`).

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, autoscaling, batch::v1 as batch,
    certificates::v1 as certificates, coordination::v1 as coordination, core::v1 as core,
    discovery::v1 as discovery, events::v1 as events, flowcontrol::v1 as flowcontrol,
    networking::v1 as networking, node::v1 as node, policy::v1 as policy, rbac::v1 as rbac,
    resource::v1 as resource, scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
use k8s_openapi::schemars::SchemaGenerator;
use k8s_openapi::{Resource, serde::de::DeserializeOwned};
use serde_json::Value;

use crate::schema::{self, Mode, Violation, ViolationKind};

/// The decoded form of the kinds that policy rules look into.
#[derive(Debug, Clone)]
pub(crate) enum Typed {
    Deployment(Box<apps::Deployment>),
    StatefulSet(Box<apps::StatefulSet>),
    DaemonSet(Box<apps::DaemonSet>),
    ReplicaSet(Box<apps::ReplicaSet>),
    Job(Box<batch::Job>),
    CronJob(Box<batch::CronJob>),
    Pod(Box<core::Pod>),
    ReplicationController(Box<core::ReplicationController>),
    Service(Box<core::Service>),
    PodDisruptionBudget(Box<policy::PodDisruptionBudget>),
    /// Any other built-in kind: decoded and checked, not looked into.
    Other,
}

/// A built-in kind: how to decode it and how to get its schema.
pub(crate) struct Builtin {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub decode: fn(&Value, &mut Vec<Violation>) -> Option<Typed>,
    pub schema: fn() -> Value,
}

macro_rules! builtin {
    ($ty:ty) => {
        builtin!(@ $ty, |_| Typed::Other)
    };
    ($ty:ty => $variant:ident) => {
        builtin!(@ $ty, |t| Typed::$variant(Box::new(t)))
    };
    (@ $ty:ty, $wrap:expr) => {
        Builtin {
            api_version: <$ty as Resource>::API_VERSION,
            kind: <$ty as Resource>::KIND,
            decode: |value, out| decode::<$ty>(value, out).map($wrap),
            schema: || {
                SchemaGenerator::default()
                    .into_root_schema_for::<$ty>()
                    .to_value()
            },
        }
    };
}

/// The built-in kinds that are decoded: the generally available versions of the
/// Kubernetes API that an application's manifests contain.
pub(crate) static BUILTINS: &[Builtin] = &[
    builtin!(core::ConfigMap),
    builtin!(core::Endpoints),
    builtin!(core::LimitRange),
    builtin!(core::Namespace),
    builtin!(core::PersistentVolume),
    builtin!(core::PersistentVolumeClaim),
    builtin!(core::Pod => Pod),
    builtin!(core::PodTemplate),
    builtin!(core::ReplicationController => ReplicationController),
    builtin!(core::ResourceQuota),
    builtin!(core::Secret),
    builtin!(core::Service => Service),
    builtin!(core::ServiceAccount),
    builtin!(apps::ControllerRevision),
    builtin!(apps::DaemonSet => DaemonSet),
    builtin!(apps::Deployment => Deployment),
    builtin!(apps::ReplicaSet => ReplicaSet),
    builtin!(apps::StatefulSet => StatefulSet),
    builtin!(autoscaling::v1::HorizontalPodAutoscaler),
    builtin!(autoscaling::v2::HorizontalPodAutoscaler),
    builtin!(batch::CronJob => CronJob),
    builtin!(batch::Job => Job),
    builtin!(admission::MutatingWebhookConfiguration),
    builtin!(admission::ValidatingAdmissionPolicy),
    builtin!(admission::ValidatingAdmissionPolicyBinding),
    builtin!(admission::ValidatingWebhookConfiguration),
    builtin!(apiextensions::CustomResourceDefinition),
    builtin!(apiregistration::APIService),
    builtin!(certificates::CertificateSigningRequest),
    builtin!(coordination::Lease),
    builtin!(discovery::EndpointSlice),
    builtin!(events::Event),
    builtin!(flowcontrol::FlowSchema),
    builtin!(flowcontrol::PriorityLevelConfiguration),
    builtin!(networking::Ingress),
    builtin!(networking::IngressClass),
    builtin!(networking::NetworkPolicy),
    builtin!(node::RuntimeClass),
    builtin!(policy::PodDisruptionBudget => PodDisruptionBudget),
    builtin!(rbac::ClusterRole),
    builtin!(rbac::ClusterRoleBinding),
    builtin!(rbac::Role),
    builtin!(rbac::RoleBinding),
    builtin!(resource::DeviceClass),
    builtin!(resource::ResourceClaim),
    builtin!(resource::ResourceClaimTemplate),
    builtin!(scheduling::PriorityClass),
    builtin!(storage::CSIDriver),
    builtin!(storage::StorageClass),
    builtin!(storage::VolumeAttachment),
    builtin!(storage::VolumeAttributesClass),
];

/// Built-in kinds that exist but are not decoded (alpha and beta versions, objects that
/// the cluster creates): listed as unchecked rather than reported as unknown.
static KNOWN_UNDECODED: &[(&str, &str)] = &[
    ("v1", "Binding"),
    ("v1", "ComponentStatus"),
    ("v1", "Event"),
    ("v1", "Node"),
    ("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io/v1",
        "MutatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io/v1alpha1",
        "MutatingAdmissionPolicy",
    ),
    (
        "admissionregistration.k8s.io/v1alpha1",
        "MutatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingAdmissionPolicy",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingAdmissionPolicyBinding",
    ),
    ("certificates.k8s.io/v1", "ClusterTrustBundle"),
    ("certificates.k8s.io/v1", "PodCertificateRequest"),
    ("certificates.k8s.io/v1beta1", "ClusterTrustBundle"),
    ("certificates.k8s.io/v1beta1", "PodCertificateRequest"),
    ("coordination.k8s.io/v1alpha2", "LeaseCandidate"),
    ("coordination.k8s.io/v1beta1", "LeaseCandidate"),
    ("internal.apiserver.k8s.io/v1alpha1", "StorageVersion"),
    ("networking.k8s.io/v1", "IPAddress"),
    ("networking.k8s.io/v1", "ServiceCIDR"),
    ("resource.k8s.io/v1", "DeviceTaintRule"),
    ("resource.k8s.io/v1", "ResourceSlice"),
    ("resource.k8s.io/v1alpha3", "DeviceTaintRule"),
    ("resource.k8s.io/v1beta1", "DeviceClass"),
    ("resource.k8s.io/v1beta1", "ResourceClaim"),
    ("resource.k8s.io/v1beta1", "ResourceClaimTemplate"),
    ("resource.k8s.io/v1beta1", "ResourceSlice"),
    ("resource.k8s.io/v1beta2", "DeviceClass"),
    ("resource.k8s.io/v1beta2", "DeviceTaintRule"),
    ("resource.k8s.io/v1beta2", "ResourceClaim"),
    ("resource.k8s.io/v1beta2", "ResourceClaimTemplate"),
    ("resource.k8s.io/v1beta2", "ResourceSlice"),
    ("scheduling.k8s.io/v1alpha3", "PodGroup"),
    ("scheduling.k8s.io/v1alpha3", "Workload"),
    ("scheduling.k8s.io/v1beta1", "PodGroup"),
    ("scheduling.k8s.io/v1beta1", "Workload"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "CSIStorageCapacity"),
    ("storagemigration.k8s.io/v1", "StorageVersionMigration"),
    ("storagemigration.k8s.io/v1beta1", "StorageVersionMigration"),
];

/// API groups served by Kubernetes itself (`""` is the core group). An unknown kind in
/// one of these is a mistake, not a custom resource.
static BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "extensions",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// The group of an `apiVersion`: `apps/v1` → `apps`, `v1` → `""`.
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// What the input's `apiVersion` and `kind` refer to.
pub(crate) enum Lookup {
    /// A built-in kind that is decoded.
    Builtin(&'static Builtin),
    /// A built-in kind that is not decoded.
    Undecoded,
    /// A kind in a built-in group that Kubernetes does not serve.
    Unknown { message: String, fix: String },
    /// Not a built-in group: a custom resource.
    Custom,
}

pub(crate) fn lookup(api_version: &str, kind: &str) -> Lookup {
    if let Some(b) = BUILTINS
        .iter()
        .find(|b| b.api_version == api_version && b.kind == kind)
    {
        return Lookup::Builtin(b);
    }
    if KNOWN_UNDECODED.contains(&(api_version, kind)) {
        return Lookup::Undecoded;
    }
    let group = group_of(api_version);
    if !BUILTIN_GROUPS.contains(&group) {
        return Lookup::Custom;
    }
    let all = || {
        BUILTINS
            .iter()
            .map(|b| (b.api_version, b.kind))
            .chain(KNOWN_UNDECODED.iter().copied())
    };
    // The kind exists, under another version or group.
    let served: Vec<&str> = all().filter(|(_, k)| *k == kind).map(|(v, _)| v).collect();
    if let Some(first) = served.first() {
        return Lookup::Unknown {
            message: format!("`{kind}` is not served as `{api_version}`"),
            fix: format!("set `apiVersion: {first}`"),
        };
    }
    let in_group = all().filter(|(v, _)| group_of(v) == group).map(|(_, k)| k);
    let suggestion =
        crate::suggest(kind, in_group).or_else(|| crate::suggest(kind, all().map(|(_, k)| k)));
    let fix = match suggestion {
        Some(s) => {
            let version = all().find(|(_, k)| *k == s).map_or(api_version, |(v, _)| v);
            if version == api_version {
                format!("did you mean `kind: {s}`?")
            } else {
                format!("did you mean `apiVersion: {version}`, `kind: {s}`?")
            }
        }
        None => "check the kind against `kubectl api-resources`".to_owned(),
    };
    Lookup::Unknown {
        message: format!("unknown kind `{kind}` in `{api_version}`"),
        fix,
    }
}

/// Decodes `value` into `T`, collecting unknown fields and the first type error.
fn decode<T: DeserializeOwned>(value: &Value, out: &mut Vec<Violation>) -> Option<T> {
    let mut unknown = Vec::new();
    let result = {
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
        // One concrete callback type for every kind keeps the instantiations down.
        let mut callback: &mut dyn FnMut(serde_ignored::Path<'_>) = &mut record;
        let de = serde_ignored::Deserializer::new(value, &mut callback);
        serde_path_to_error::deserialize::<_, T>(de)
    };
    for path in unknown {
        let key = path.rsplit(['.', ']']).next().unwrap_or(&path).to_owned();
        out.push(Violation {
            path,
            message: format!("unknown field `{key}`"),
            kind: ViolationKind::Unknown,
        });
    }
    match result {
        Ok(typed) => Some(typed),
        Err(err) => {
            let path = err.path().to_string();
            out.push(Violation {
                path,
                message: err.inner().to_string(),
                kind: ViolationKind::Type,
            });
            None
        }
    }
}

/// `spec.template.spec.containers[0].imagePullPolcy`, from `serde_ignored`'s path.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// Strictly decodes a built-in object: unknown fields, wrong types and missing required
/// fields. Returns the typed form when it decodes.
pub(crate) fn decode_builtin(
    builtin: &Builtin,
    value: &Value,
    schemas: &mut SchemaCache,
) -> (Option<Typed>, Vec<Violation>) {
    let mut violations = Vec::new();
    let schema = schemas.get(builtin);
    let value = crate::bytes::as_the_server_reads(schema, value);
    let typed = (builtin.decode)(&value, &mut violations);
    violations.extend(schema::validate(schema, &value, Mode::RequiredOnly));
    (typed, violations)
}

/// Schemas of the built-in kinds, generated on first use.
#[derive(Default)]
pub(crate) struct SchemaCache {
    schemas: std::collections::HashMap<(&'static str, &'static str), Value>,
}

impl SchemaCache {
    fn get(&mut self, builtin: &Builtin) -> &Value {
        self.schemas
            .entry((builtin.api_version, builtin.kind))
            .or_insert_with(|| (builtin.schema)())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn violations(api_version: &str, kind: &str, value: &Value) -> Vec<String> {
        let Lookup::Builtin(builtin) = lookup(api_version, kind) else {
            panic!("`{kind}` is decoded");
        };
        decode_builtin(builtin, value, &mut SchemaCache::default())
            .1
            .into_iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect()
    }

    #[test]
    fn secret_data_wrapped_over_lines_decodes_as_the_api_server_reads_it() {
        // `kubectl kustomize` prints a generated Secret's long value in 70-character lines.
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"long.txt": "TG9yZW0gaXBzdW0gZG9sb3Igc2l0IGFtZXQsCmNvbnNlY3RldHVyIGFkaXBpc2NpbmcgZW\nxpdAo=\n"}});
        assert_eq!(violations("v1", "Secret", &secret), Vec::<String>::new());
    }

    #[test]
    fn webhook_ca_bundle_with_nonzero_trailing_bits_decodes_as_the_api_server_reads_it() {
        let webhook = json!({"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "w"},
            "webhooks": [{"name": "w.example.com", "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "clientConfig": {"caBundle": "YR==", "url": "https://w.example.com"}}]});
        let found = violations(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            &webhook,
        );
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn base64_the_api_server_refuses_is_reported_at_its_real_fault() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"key": "aGVs\n*G8="}});
        assert_eq!(
            violations("v1", "Secret", &secret),
            vec!["data.key: Invalid symbol 42, offset 4."]
        );
    }
}

//! The OpenAPI v3 schemas of the built-in kinds, as the real server publishes them under
//! `components.schemas` of each group-version document: the kind's schema (marked with
//! `x-kubernetes-group-version-kind`) and every schema it refers to, with the upstream
//! names (`io.k8s.api.apps.v1.DeploymentStrategy`) and descriptions, so `kubectl explain`
//! works.
//!
//! They come from `k8s-openapi`'s `schemars` implementations rather than from the
//! published `openapi/v3` JSON files: the crate is already built for the workspace with
//! that feature (its `latest` API version, a few minors newer than the v1.32 the sandbox
//! reports — a superset of v1.32's fields), while vendoring the published documents would
//! add megabytes of JSON to the repository. They are generated once per group-version,
//! when first asked for.

use k8s_openapi::Resource;
use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, authentication::v1 as authn,
    authorization::v1 as authz, autoscaling, batch::v1 as batch, certificates::v1 as certificates,
    coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
    events::v1 as events, networking::v1 as networking, node::v1 as node, policy::v1 as policy,
    rbac::v1 as rbac, scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::schemars::generate::SchemaSettings;
use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A built-in kind: group, version, kind, its schema's name, and how to add its schema.
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    name: fn() -> String,
    add: fn(&mut SchemaGenerator),
}

macro_rules! kinds {
    ($($ty:ty),* $(,)?) => {
        &[$(Kind {
            group: <$ty as Resource>::GROUP,
            version: <$ty as Resource>::VERSION,
            kind: <$ty as Resource>::KIND,
            name: || <$ty as JsonSchema>::schema_name().into_owned(),
            add: |g| {
                g.subschema_for::<$ty>();
            },
        }),*]
    };
}

static KINDS: &[Kind] = kinds![
    core::ConfigMap,
    core::Endpoints,
    core::Event,
    core::LimitRange,
    core::Namespace,
    core::Node,
    core::PersistentVolume,
    core::PersistentVolumeClaim,
    core::Pod,
    core::PodTemplate,
    core::ReplicationController,
    core::ResourceQuota,
    core::Secret,
    core::Service,
    core::ServiceAccount,
    apps::ControllerRevision,
    apps::DaemonSet,
    apps::Deployment,
    apps::ReplicaSet,
    apps::StatefulSet,
    autoscaling::v1::HorizontalPodAutoscaler,
    autoscaling::v2::HorizontalPodAutoscaler,
    batch::CronJob,
    batch::Job,
    admission::MutatingWebhookConfiguration,
    admission::ValidatingWebhookConfiguration,
    apiextensions::CustomResourceDefinition,
    authn::SelfSubjectReview,
    authn::TokenReview,
    authz::SelfSubjectAccessReview,
    authz::SelfSubjectRulesReview,
    authz::SubjectAccessReview,
    certificates::CertificateSigningRequest,
    coordination::Lease,
    discovery::EndpointSlice,
    events::Event,
    networking::Ingress,
    networking::IngressClass,
    networking::NetworkPolicy,
    node::RuntimeClass,
    policy::PodDisruptionBudget,
    rbac::ClusterRole,
    rbac::ClusterRoleBinding,
    rbac::Role,
    rbac::RoleBinding,
    scheduling::PriorityClass,
    storage::CSIDriver,
    storage::CSINode,
    storage::StorageClass,
    storage::VolumeAttachment,
];

/// The schemas of one group-version and the schema name of each of its kinds.
pub struct GroupVersionSchemas {
    pub schemas: Map<String, Value>,
    pub kinds: HashMap<&'static str, String>,
}

fn all() -> &'static HashMap<(String, String), GroupVersionSchemas> {
    static ALL: OnceLock<HashMap<(String, String), GroupVersionSchemas>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut by_gv: HashMap<(String, String), Vec<&Kind>> = HashMap::new();
        for k in KINDS {
            by_gv
                .entry((k.group.to_string(), k.version.to_string()))
                .or_default()
                .push(k);
        }
        by_gv
            .into_iter()
            .map(|(gv, kinds)| {
                let mut generator = SchemaGenerator::new(SchemaSettings::openapi3());
                for k in &kinds {
                    (k.add)(&mut generator);
                }
                let mut schemas = generator.take_definitions(true);
                let mut names = HashMap::new();
                for k in &kinds {
                    let name = (k.name)();
                    if let Some(s) = schemas.get_mut(&name).and_then(Value::as_object_mut) {
                        s.insert(
                            "x-kubernetes-group-version-kind".into(),
                            json!([{"group": k.group, "version": k.version, "kind": k.kind}]),
                        );
                    }
                    names.insert(k.kind, name);
                }
                (
                    gv,
                    GroupVersionSchemas {
                        schemas,
                        kinds: names,
                    },
                )
            })
            .collect()
    })
}

/// The schemas of the built-in kinds of `group`/`version`, if it has any.
pub fn of(group: &str, version: &str) -> Option<&'static GroupVersionSchemas> {
    all().get(&(group.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_schema_is_marked_with_its_kind_and_refers_to_the_others() {
        let apps = of("apps", "v1").unwrap();
        let name = &apps.kinds["Deployment"];
        assert_eq!(name, "io.k8s.api.apps.v1.Deployment");
        let d = &apps.schemas[name];
        assert_eq!(
            d["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        let spec_ref = d["properties"]["spec"]["$ref"]
            .as_str()
            .or_else(|| d["properties"]["spec"]["allOf"][0]["$ref"].as_str())
            .unwrap();
        assert_eq!(
            spec_ref,
            "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
        );
        assert!(
            apps.schemas
                .contains_key("io.k8s.api.apps.v1.DeploymentStrategy")
        );
        assert!(of("", "v1").unwrap().kinds.contains_key("Pod"));
    }
}

//! Pod templates and label selectors: what the policy rules look at.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::Object;
use crate::decode::Typed;

/// An object that creates pods, with its pod template.
pub(crate) struct Workload<'a> {
    pub object: &'a Object<'a>,
    /// `spec.replicas` where the kind has it (`None` when unset).
    pub replicas: Option<i32>,
    /// Deployment, StatefulSet or DaemonSet: pods that are meant to run until replaced.
    pub long_running: bool,
    /// The pod labels.
    pub labels: BTreeMap<String, String>,
    /// The workload's own selector, if it has one.
    pub selector: Option<&'a LabelSelector>,
    /// The pod spec and its path, e.g. `spec.template.spec`.
    pub spec: &'a PodSpec,
    pub spec_path: &'static str,
}

impl<'a> Workload<'a> {
    /// Every workload in `objects`.
    pub fn all(objects: &'a [Object<'a>]) -> Vec<Workload<'a>> {
        objects.iter().filter_map(Workload::of).collect()
    }

    fn of(object: &'a Object<'a>) -> Option<Workload<'a>> {
        use k8s_openapi::api::core::v1::PodTemplateSpec;
        let template = |t: Option<&'a PodTemplateSpec>| {
            let t = t?;
            let labels = t
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            Some((labels, t.spec.as_ref()?))
        };
        let base = |replicas, long_running, selector, t, spec_path| {
            let (labels, spec) = template(t)?;
            Some(Workload {
                object,
                replicas,
                long_running,
                labels,
                selector,
                spec,
                spec_path,
            })
        };
        const T: &str = "spec.template.spec";
        match object.typed.as_ref()? {
            Typed::Deployment(d) => {
                let s = &d.spec;
                base(s.replicas, true, Some(&s.selector), Some(&s.template), T)
            }
            Typed::StatefulSet(d) => {
                let s = &d.spec;
                base(s.replicas, true, Some(&s.selector), Some(&s.template), T)
            }
            Typed::DaemonSet(d) => {
                let s = &d.spec;
                base(None, true, Some(&s.selector), Some(&s.template), T)
            }
            Typed::ReplicaSet(d) => {
                let s = &d.spec;
                base(s.replicas, false, Some(&s.selector), s.template.as_ref(), T)
            }
            Typed::ReplicationController(d) => {
                let s = d.spec.as_ref()?;
                base(s.replicas, false, None, s.template.as_ref(), T)
            }
            Typed::Job(d) => {
                let s = d.spec.as_ref()?;
                base(None, false, None, Some(&s.template), T)
            }
            Typed::CronJob(d) => {
                let s = d.spec.job_template.spec.as_ref()?;
                base(
                    None,
                    false,
                    None,
                    Some(&s.template),
                    "spec.jobTemplate.spec.template.spec",
                )
            }
            Typed::Pod(p) => Some(Workload {
                object,
                replicas: None,
                long_running: false,
                labels: p.metadata.labels.clone().unwrap_or_default(),
                selector: None,
                spec: p.spec.as_ref()?,
                spec_path: "spec",
            }),
            _ => None,
        }
    }

    /// Every container and init container, with its path, e.g.
    /// `spec.template.spec.containers[api]`.
    pub fn containers(&self) -> impl Iterator<Item = (ContainerKind, &'a Container, String)> + '_ {
        let init = self.spec.init_containers.iter().flatten();
        let main = self.spec.containers.iter();
        init.map(|c| {
            (
                ContainerKind::Init,
                c,
                format!("{}.initContainers[{}]", self.spec_path, c.name),
            )
        })
        .chain(main.map(|c| {
            (
                ContainerKind::Main,
                c,
                format!("{}.containers[{}]", self.spec_path, c.name),
            )
        }))
    }

    /// `spec.template.spec` + `.field`.
    pub fn field(&self, field: &str) -> String {
        format!("{}.{field}", self.spec_path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerKind {
    Init,
    Main,
}

/// Whether `selector` selects pods labelled `labels` (Kubernetes semantics: an empty
/// selector selects everything).
pub(crate) fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

/// Whether a plain `key: value` selector (Service, ReplicationController) selects
/// `labels`.
pub(crate) fn map_selector_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `app=web,tier=api`, for messages.
pub(crate) fn show_map(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether two objects can see each other: the same namespace, or one of them without a
/// namespace (the environment's namespace is set later).
pub(crate) fn same_namespace(a: &Option<String>, b: &Option<String>) -> bool {
    a.is_none() || b.is_none() || a == b
}

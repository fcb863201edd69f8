//! The plan of a release: every object dry-run on the server and compared with what the
//! cluster has, and what the release no longer has (to prune once it succeeds). Nothing
//! here writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::{
    Change, DeployError, DeployInput, During, Event, IN_FLIGHT, Outcome, Planned, Provider,
    history, object_label, set_namespace_if_namespaced, unless_interrupted,
};
use crate::cluster::{Apply, Cluster, ClusterError, object_name, object_namespace};
use crate::fielddiff::changed_fields;
use crate::order;
use crate::record::{self, Release};

/// The plan of `deploy --dry-run` and `diff`: it takes no lock and leaves even an
/// interrupted deploy's pending record for the next real deploy to conclude. A namespace
/// that does not exist yet would be created with everything in it.
pub(super) async fn dry_run(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Outcome, DeployError> {
    let ns = &input.namespace;
    if cluster.get("v1", "Namespace", "", ns).await?.is_none() {
        let mut plan = vec![Planned {
            object: format!("Namespace/{ns}"),
            change: Change::Create,
        }];
        let mut objects = input.objects.clone();
        order::sort_for_apply(&mut objects);
        plan.extend(objects.iter().map(|o| Planned {
            object: object_label(o),
            change: Change::Create,
        }));
        report(Event::Planned(plan.clone()));
        return Ok(Outcome::Planned(plan));
    }
    let planning = async {
        let releases = history(cluster, &input.app, &input.environment, ns)
            .await
            .during("reading the release records")?;
        prepare(cluster, input, &releases, report).await
    };
    let planned = unless_interrupted(&input.interrupt, planning)
        .await
        .ok_or_else(|| DeployError::Interrupted {
            during: "while planning".into(),
        })??;
    Ok(Outcome::Planned(planned.plan))
}

/// What a release would change.
pub(super) struct Prepared {
    /// The release's objects, in their namespace, in apply order.
    pub(super) objects: Vec<Value>,
    /// One entry per object, in the same order.
    pub(super) plan: Vec<Planned>,
    /// Each object as the cluster has it, in the same order.
    pub(super) live: Vec<Option<Value>>,
    /// What the current release has that this one does not, in apply order.
    pub(super) prune: Vec<Value>,
}

/// Plans a release against the cluster and reports the plan; writes nothing.
pub(super) async fn prepare(
    cluster: &Arc<Cluster>,
    input: &DeployInput,
    releases: &[Release],
    report: &(dyn Fn(Event) + Send + Sync),
) -> Result<Prepared, DeployError> {
    let ns = &input.namespace;
    let mut objects = input.objects.clone();
    for o in &mut objects {
        set_namespace_if_namespaced(o, ns);
    }
    order::sort_for_apply(&mut objects);
    let (plan, live) = plan(cluster, &objects, ns, &input.recreate).await?;
    let prune = prune_candidates(record::current(releases), &objects, releases, ns);
    report(Event::Planned(plan.clone()));
    let adopting: Vec<(String, String)> = objects
        .iter()
        .zip(&live)
        .filter_map(|(obj, live)| {
            let release = helm_release(live.as_ref()?)?;
            Some((object_label(obj), release.to_owned()))
        })
        .collect();
    if !adopting.is_empty() {
        report(Event::Adopting(adopting));
    }
    if !prune.is_empty() {
        report(Event::Pruning(prune.iter().map(object_label).collect()));
    }
    Ok(Prepared {
        objects,
        plan,
        live,
        prune,
    })
}

/// The Helm release a live object belongs to: labelled
/// `app.kubernetes.io/managed-by: Helm` and annotated `meta.helm.sh/release-name`.
pub(super) fn helm_release(live: &Value) -> Option<&str> {
    let meta = live.get("metadata")?;
    let managed_by = meta
        .pointer("/labels/app.kubernetes.io~1managed-by")
        .and_then(Value::as_str)?;
    if managed_by != "Helm" {
        return None;
    }
    meta.pointer("/annotations/meta.helm.sh~1release-name")
        .and_then(Value::as_str)
}

/// Checks, before anything is written, that the identity of the connection may do what
/// a release does in its namespace: the lock (a Lease), the release records (Secrets),
/// and reading and applying each kind of the release's objects (server-side apply is a
/// `patch`; kinds a CustomResourceDefinition of the release defines are not served yet
/// and are left to the apply). A cluster without the review API is not asked.
///
/// # Errors
///
/// [`DeployError::Forbidden`] naming every right missing; a cluster error.
pub(super) async fn rights(cluster: &Arc<Cluster>, input: &DeployInput) -> Result<(), DeployError> {
    let ns = input.namespace.as_str();
    let defined = kinds_defined_by_crds(&input.objects);
    let mut needed: Vec<(&str, &str, &str)> = Vec::new();
    for verb in ["get", "create", "update"] {
        needed.push((verb, "coordination.k8s.io/v1", "Lease"));
    }
    for verb in ["get", "list", "create", "patch"] {
        needed.push((verb, "v1", "Secret"));
    }
    let mut kinds = BTreeSet::new();
    for obj in &input.objects {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if !defined.contains(&(group_of(api_version), kind)) && kinds.insert((api_version, kind)) {
            needed.push(("get", api_version, kind));
            needed.push(("patch", api_version, kind));
        }
    }
    type Answer = Option<(String, Option<&'static str>, bool)>;
    let answers: Vec<Result<Answer, DeployError>> = stream::iter(needed)
        .map(|(verb, api_version, kind)| async move {
            let scope = (!slipway_render::release::CLUSTER_SCOPED.contains(&kind)).then_some(ns);
            let asked = async {
                let allowed = cluster.may(verb, api_version, kind, scope).await?;
                let resource = cluster.resource_name(api_version, kind).await?;
                Ok::<_, ClusterError>(allowed.map(|a| (resource, a)))
            };
            match asked.await {
                Ok(Some((resource, allowed))) => {
                    let scope = match scope {
                        Some(ns) => format!("in namespace `{ns}`"),
                        None => "cluster-wide".to_owned(),
                    };
                    Ok(Some((format!("`{resource}` {scope}"), Some(verb), allowed)))
                }
                Ok(None) => Ok(None),
                Err(ClusterError::UnknownKind { .. }) => Ok(Some((String::new(), None, true))),
                Err(e) => Err(e).during("checking the rights of this identity"),
            }
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    // The verbs denied on each resource, in the order they were asked.
    let mut denied: Vec<(String, Vec<&str>)> = Vec::new();
    for answer in answers {
        match answer? {
            // No review API: nothing can be told in advance.
            None => return Ok(()),
            Some((what, Some(verb), false)) => match denied.iter_mut().find(|(w, _)| *w == what) {
                Some((_, verbs)) => verbs.push(verb),
                None => denied.push((what, vec![verb])),
            },
            Some(_) => {}
        }
    }
    // An HTTP analysis check asks the new pods through the service proxy.
    let checks = input.canaries.iter().flat_map(|c| &c.analysis).chain(
        input
            .blue_greens
            .iter()
            .flat_map(|b| b.pre_switch_analysis.iter().chain(&b.post_switch_analysis)),
    );
    if checks
        .clone()
        .any(|c| matches!(c.provider, Provider::Http(_)))
    {
        let allowed = cluster
            .may_subresource("get", "", "services", "proxy", Some(ns))
            .await
            .during("checking the rights of this identity")?;
        if allowed == Some(false) {
            denied.push((format!("`services/proxy` in namespace `{ns}`"), vec!["get"]));
        }
    }
    if denied.is_empty() {
        return Ok(());
    }
    let denied = denied
        .into_iter()
        .map(|(what, verbs)| {
            let verbs: Vec<String> = verbs.iter().map(|v| format!("`{v}`")).collect();
            format!("{} {what}", verbs.join(", "))
        })
        .collect();
    Err(DeployError::Forbidden { denied })
}

/// Checks that the cluster serves the kind of every object, other than kinds a
/// CustomResourceDefinition of the same release defines.
///
/// # Errors
///
/// [`DeployError::Refused`] naming the first object of a kind the cluster does not serve.
pub(super) async fn served_kinds(
    cluster: &Arc<Cluster>,
    objects: &[Value],
) -> Result<(), DeployError> {
    let defined = kinds_defined_by_crds(objects);
    let mut seen = BTreeSet::new();
    for obj in objects {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if !seen.insert((api_version, kind)) || defined.contains(&(group_of(api_version), kind)) {
            continue;
        }
        match cluster.api(api_version, kind, None).await {
            Ok(_) => {}
            Err(ClusterError::UnknownKind { .. }) => {
                return Err(DeployError::Refused {
                    object: object_label(obj),
                    message: format!(
                        "the cluster does not serve the kind `{kind}` in `{api_version}`; install its CustomResourceDefinition first, or add it to the release"
                    ),
                });
            }
            Err(e) => {
                return Err(e).during(format!("looking up the kind of {}", object_label(obj)));
            }
        }
    }
    Ok(())
}

/// `(group, kind)` of every kind a CustomResourceDefinition among `objects` defines.
fn kinds_defined_by_crds(objects: &[Value]) -> BTreeSet<(&str, &str)> {
    objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
        .filter_map(|crd| {
            Some((
                crd.pointer("/spec/group")?.as_str()?,
                crd.pointer("/spec/names/kind")?.as_str()?,
            ))
        })
        .collect()
}

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// A refusal of the API server (`400 BadRequest`, `422 Invalid`) of a dry run of `obj`
/// as [`DeployError::Refused`]; other errors as they are.
fn refusal(obj: &Value, e: ClusterError) -> DeployError {
    match e {
        ClusterError::Api {
            code: 400 | 422,
            message,
            ..
        } => DeployError::Refused {
            object: object_label(obj),
            message,
        },
        ClusterError::UnknownKind { .. } => DeployError::Refused {
            object: object_label(obj),
            message: e.to_string(),
        },
        other => DeployError::Cluster(other),
    }
}

/// Server-side dry run of every object, new ones included, compared with the cluster;
/// several objects at a time. Returns the plan and each object as the cluster had it.
/// An object of a kind that a CustomResourceDefinition of the release defines, which
/// the cluster does not serve yet, is planned as created without a dry run.
///
/// # Errors
///
/// [`DeployError::Refused`] when the cluster refuses an object as it is; a cluster error.
async fn plan(
    cluster: &Arc<Cluster>,
    objects: &[Value],
    ns: &str,
    recreate: &[String],
) -> Result<(Vec<Planned>, Vec<Option<Value>>), DeployError> {
    let defined = kinds_defined_by_crds(objects);
    let defined = &defined;
    let results: Vec<Result<(Planned, Option<Value>), DeployError>> = stream::iter(objects)
        .map(|obj| async move {
            let step = || format!("planning {}", object_label(obj));
            let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            let live = match get_live(cluster, obj, ns).await {
                Err(ClusterError::UnknownKind { .. })
                    if defined.contains(&(group_of(api_version), kind)) =>
                {
                    let planned = Planned {
                        object: object_label(obj),
                        change: Change::Create,
                    };
                    return Ok((planned, None));
                }
                other => other.map_err(|e| refusal(obj, e)).during(step())?,
            };
            // Every object is dry-run, new ones too: the server refuses an invalid one
            // now, before any hook runs, rather than at apply.
            let dry = match cluster.apply(obj, ns, Apply::DryRun).await {
                Err(ClusterError::Api { message, .. })
                    if live.is_some() && recreate.contains(&object_label(obj)) && {
                        message.contains("field is immutable")
                    } =>
                {
                    let planned = Planned {
                        object: object_label(obj),
                        change: Change::Recreate(message),
                    };
                    return Ok((planned, live));
                }
                other => other.map_err(|e| refusal(obj, e)).during(step())?,
            };
            let change = match &live {
                None => Change::Create,
                Some(live) => {
                    let fields = changed_fields(live, &dry);
                    if fields.is_empty() {
                        Change::Unchanged
                    } else {
                        Change::Update(fields)
                    }
                }
            };
            let planned = Planned {
                object: object_label(obj),
                change,
            };
            Ok((planned, live))
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut plan = Vec::with_capacity(objects.len());
    let mut live = Vec::with_capacity(objects.len());
    for r in results {
        let (p, l) = r?;
        plan.push(p);
        live.push(l);
    }
    Ok((plan, live))
}

pub(super) async fn get_live(
    cluster: &Arc<Cluster>,
    obj: &Value,
    ns: &str,
) -> Result<Option<Value>, ClusterError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = object_name(obj).unwrap_or("");
    cluster
        .get(api_version, kind, object_namespace(obj).unwrap_or(ns), name)
        .await
}

/// Objects of the previous release that this one no longer has. ConfigMaps and Secrets
/// that any kept record still refers to stay, so that a rollback finds them.
pub(super) fn prune_candidates(
    previous: Option<&Release>,
    objects: &[Value],
    all: &[Release],
    ns: &str,
) -> Vec<Value> {
    let Some(previous) = previous else {
        return vec![];
    };
    let key = |o: &Value| {
        (
            o.get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            o.get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            object_namespace(o).unwrap_or(ns).to_string(),
            object_name(o).unwrap_or("").to_string(),
        )
    };
    let wanted: BTreeSet<_> = objects.iter().map(key).collect();
    let kept_config: BTreeSet<_> = all
        .iter()
        .filter(|r| r.revision != previous.revision)
        .flat_map(|r| r.manifest.iter())
        .filter(|o| {
            matches!(
                o.get("kind").and_then(Value::as_str),
                Some("ConfigMap" | "Secret")
            )
        })
        .map(key)
        .collect();
    let mut prune: Vec<Value> = previous
        .manifest
        .iter()
        .filter(|o| !wanted.contains(&key(o)))
        .filter(|o| {
            let k = key(o);
            !(matches!(k.1.as_str(), "ConfigMap" | "Secret") && kept_config.contains(&k))
        })
        .cloned()
        .collect();
    order::sort_for_apply(&mut prune);
    prune
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::record::ReleaseStatus;

    #[test]
    fn objects_of_a_helm_release_are_known_by_label_and_annotation() {
        let helm = json!({"metadata": {
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "web"},
        }});
        assert_eq!(helm_release(&helm), Some("web"));
        let ours = json!({"metadata": {
            "labels": {"app.kubernetes.io/managed-by": "slipway"},
            "annotations": {"meta.helm.sh/release-name": "web"},
        }});
        assert_eq!(helm_release(&ours), None);
        let unnamed = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}});
        assert_eq!(helm_release(&unnamed), None);
    }

    fn release_with(revision: u64, objects: Vec<Value>) -> Release {
        Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "shop".into(),
            revision,
            status: ReleaseStatus::Deployed,
            started: String::new(),
            finished: None,
            user: String::new(),
            git_commit: None,
            git_dirty: false,
            images: vec![],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: String::new(),
            manifest: objects,
            failed_check: None,
            paused: None,
            switch_window: None,
        }
    }

    fn obj(kind: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}})
    }

    #[test]
    fn prune_removes_what_the_new_release_dropped_but_keeps_config_older_records_use() {
        let older = release_with(1, vec![obj("ConfigMap", "cfg-aaa")]);
        let previous = release_with(
            2,
            vec![
                obj("ConfigMap", "cfg-aaa"),
                obj("ConfigMap", "cfg-bbb"),
                obj("Service", "old"),
            ],
        );
        let now = vec![obj("ConfigMap", "cfg-ccc")];
        let prune = prune_candidates(Some(&previous), &now, &[older, previous.clone()], "shop");
        let names: Vec<&str> = prune.iter().map(|o| object_name(o).unwrap()).collect();
        assert_eq!(names, ["cfg-bbb", "old"]);
    }

    #[test]
    fn kinds_a_crd_of_the_release_defines_are_known_before_it_is_applied() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}});
        let objects = [crd, obj("ConfigMap", "c")];
        let defined = kinds_defined_by_crds(&objects);
        assert!(defined.contains(&(group_of("example.com/v1"), "Widget")));
        assert!(!defined.contains(&(group_of("v1"), "ConfigMap")));
    }
}

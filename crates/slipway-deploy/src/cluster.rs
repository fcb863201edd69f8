//! The connection to one cluster: any conformant Kubernetes API reached through a
//! kubeconfig context (exec plugins, tokens and certificates as `kubectl` uses them),
//! or the sandbox. Objects are handled as JSON values of any kind; the kind's resource
//! is discovered once per group-version and remembered.
//!
//! Every write that slipway makes goes through [`Cluster::apply`]: server-side apply
//! with the field manager `slipway`, so the API server tracks which fields slipway owns
//! and reports, as a conflict, a field another manager changed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Client, Config};
use serde_json::Value;

/// The field manager of every slipway write.
pub const FIELD_MANAGER: &str = "slipway";

/// Why a cluster call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig could not be read or names no usable context.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// Nothing answered, or the connection broke.
    #[error("cluster unreachable: {0}")]
    Unreachable(String),
    /// The API server does not serve this kind.
    #[error("the cluster does not serve `{kind}` in `{api_version}`")]
    UnknownKind { api_version: String, kind: String },
    /// Server-side apply found fields owned by another manager.
    #[error("{message}")]
    Conflict {
        message: String,
        /// `(field, manager)` pairs, e.g. `(".spec.template.spec.containers[name=\"api\"].image", "kubectl-set")`.
        fields: Vec<(String, String)>,
    },
    /// The API server refused the request. A 401 or 403 says which credentials or which
    /// right is missing and how to check ([`refusal`]).
    #[error("{}", refusal(.code, .reason, .message))]
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    /// An object without the fields every object needs.
    #[error("object without {0}")]
    Malformed(&'static str),
}

/// What an API error says to the user. A `403` from RBAC keeps the server's message (it
/// names the user, verb, resource and namespace) and adds the `kubectl auth can-i` that
/// checks the right; a `401` says the context's credentials were not accepted. Other
/// refusals are `Reason: message`.
fn refusal(code: &u16, reason: &str, message: &str) -> String {
    match code {
        401 => format!(
            "{reason}: the cluster did not accept the credentials of this kubeconfig context (its token, client certificate or exec plugin's credential is missing, unknown or expired){}",
            if message.is_empty() || message == reason {
                String::new()
            } else {
                format!(": {message}")
            }
        ),
        403 => match rbac_denial(message) {
            Some(d) => {
                let resource = if d.group.is_empty() {
                    d.resource.clone()
                } else {
                    format!("{}.{}", d.resource, d.group)
                };
                let (scope, flag) = match &d.namespace {
                    Some(ns) => (format!("in namespace `{ns}`"), format!(" --namespace {ns}")),
                    None => ("at the cluster scope".to_string(), String::new()),
                };
                format!(
                    "{reason}: user `{user}` may not `{verb}` `{resource}` {scope} (the server said: {message}); a Role or ClusterRole bound to that user must grant it (check with `kubectl auth can-i {verb} {resource}{flag}`)",
                    user = d.user,
                    verb = d.verb,
                )
            }
            None => format!("{reason}: {message}"),
        },
        _ => format!("{reason}: {message}"),
    }
}

/// The parts of an RBAC refusal: `<what> is forbidden: User "<user>" cannot <verb>
/// resource "<resource>" in API group "<group>" (in the namespace "<ns>"|at the cluster scope)`.
#[derive(Debug, PartialEq)]
struct Denial {
    user: String,
    verb: String,
    resource: String,
    group: String,
    namespace: Option<String>,
}

fn rbac_denial(message: &str) -> Option<Denial> {
    let rest = message.split_once("is forbidden: User \"")?.1;
    let (user, rest) = rest.split_once("\" cannot ")?;
    let (verb, rest) = rest.split_once(" resource \"")?;
    let (resource, rest) = rest.split_once("\" in API group \"")?;
    let (group, rest) = rest.split_once('"')?;
    let namespace = match rest.trim_start().strip_prefix("in the namespace \"") {
        Some(ns) => Some(ns.split('"').next()?.to_string()),
        None if rest.trim_start().starts_with("at the cluster scope") => None,
        None => return None,
    };
    Some(Denial {
        user: user.into(),
        verb: verb.into(),
        resource: resource.into(),
        group: group.into(),
        namespace,
    })
}

impl ClusterError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClusterError::Api { code: 404, .. })
    }

    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            ClusterError::Api { code: 409, .. } | ClusterError::Conflict { .. }
        )
    }
}

impl From<kube::Error> for ClusterError {
    fn from(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) => {
                if status.code == 409 && status.reason == "Conflict" {
                    let fields: Vec<(String, String)> = status
                        .details
                        .as_ref()
                        .map(|d| {
                            d.causes
                                .iter()
                                .filter(|c| c.reason == "FieldManagerConflict")
                                .map(|c| (c.field.clone(), manager_of(&c.message)))
                                .collect()
                        })
                        .unwrap_or_default();
                    if !fields.is_empty() {
                        return ClusterError::Conflict {
                            message: status.message.clone(),
                            fields,
                        };
                    }
                }
                ClusterError::Api {
                    code: status.code,
                    reason: status.reason.clone(),
                    message: status.message.clone(),
                }
            }
            kube::Error::SerdeError(e) => ClusterError::Api {
                code: 0,
                reason: "BadResponse".into(),
                message: e.to_string(),
            },
            other => ClusterError::Unreachable(other.to_string()),
        }
    }
}

/// Whether a failed request is worth another try: throttled (429), a server error that
/// may pass (500, 502, 503, 504), or a connection that broke. Refusals (400s) are final.
fn transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// How many times a request is sent before its failure is reported, and the first pause
/// (doubled each time, at most two seconds): about three seconds of pauses in all.
const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// Sends a request again while it fails in a [`transient`] way. Every request slipway
/// retries is idempotent: reads, server-side apply, replace with a resourceVersion,
/// delete, and create (a repeated create that had succeeded answers `AlreadyExists`).
async fn retrying<T, F, Fut>(mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match request().await {
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                tracing::debug!("request failed ({e}); attempt {} in {pause:?}", attempt + 1);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// The manager named in a conflict cause message: `conflict with "kubectl-set" using
/// apps/v1` → `kubectl-set`.
fn manager_of(message: &str) -> String {
    message.split('"').nth(1).unwrap_or(message).to_string()
}

/// How a server-side apply treats fields that another field manager owns, and whether
/// it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// A field another manager owns is a [`ClusterError::Conflict`]: the caller decides.
    Strict,
    /// Such fields are taken over (`--force-conflicts`): for objects only slipway writes,
    /// such as release records, hook Jobs and the conflicts it has already reported.
    Force,
    /// What a forced apply would store, asked of the server; nothing is written.
    DryRun,
}

/// A connected cluster.
pub struct Cluster {
    client: Client,
    /// What was discovered per `(apiVersion, kind)`: the resource and whether it is
    /// namespaced.
    kinds: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
    /// Every `group/version` and `group/version/Kind` served, once read: the namespaces
    /// of an environment on this cluster share one discovery.
    served: tokio::sync::OnceCell<Vec<String>>,
}

impl Cluster {
    /// Connects through a kubeconfig (`path`, else `$KUBECONFIG`, else
    /// `~/.kube/config`) and a context (else the current one).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Kubeconfig`] when the file cannot be read or the context is
    /// unknown.
    pub async fn connect(path: Option<&Path>, context: Option<&str>) -> Result<Self, ClusterError> {
        // Several TLS backends are linked (the registry client brings its own); the
        // cluster connection names one. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kubeconfig = match path {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|e| ClusterError::Kubeconfig(e.to_string()))?;
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| ClusterError::Kubeconfig(e.to_string()))?;
        let client =
            Client::try_from(config).map_err(|e| ClusterError::Kubeconfig(e.to_string()))?;
        Ok(Self::from_client(client))
    }

    pub fn from_client(client: Client) -> Self {
        Cluster {
            client,
            kinds: Mutex::new(HashMap::new()),
            served: tokio::sync::OnceCell::new(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The resource serving `kind` in `api_version`, and whether it is namespaced.
    async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, bool), ClusterError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.kinds.lock().expect("not poisoned").get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = retrying(|| discovery::pinned_kind(&self.client, &gvk))
            .await
            .map_err(|e| match ClusterError::from(e) {
                ClusterError::Api { code: 404, .. } => ClusterError::UnknownKind {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                },
                ClusterError::Api { message, .. }
                    if message.contains("not found") || message.is_empty() =>
                {
                    ClusterError::UnknownKind {
                        api_version: api_version.to_string(),
                        kind: kind.to_string(),
                    }
                }
                other => other,
            })?;
        let found = (resource, caps.scope == Scope::Namespaced);
        self.kinds
            .lock()
            .expect("not poisoned")
            .insert(key, found.clone());
        Ok(found)
    }

    /// The API for `obj`'s kind, in `obj`'s namespace or else `namespace`.
    async fn api_for(
        &self,
        obj: &Value,
        namespace: &str,
    ) -> Result<Api<DynamicObject>, ClusterError> {
        let api_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or(ClusterError::Malformed("apiVersion"))?;
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .ok_or(ClusterError::Malformed("kind"))?;
        self.api(
            api_version,
            kind,
            Some(object_namespace(obj).unwrap_or(namespace)),
        )
        .await
    }

    /// The API for a kind; `namespace` is ignored for cluster-scoped kinds, and `None`
    /// means every namespace.
    pub async fn api(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, ClusterError> {
        let (resource, namespaced) = self.resource(api_version, kind).await?;
        Ok(match (namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource),
            (true, None) => Api::all_with(self.client.clone(), &resource),
            (false, _) => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// Whether the identity of this connection may `verb` objects of `api_version`
    /// `kind` in `namespace` (`None` for a cluster-scoped kind), as the cluster's
    /// SelfSubjectAccessReview answers; `None` when the cluster cannot say (it serves no
    /// review API).
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownKind`] for a kind the cluster does not serve; other cluster
    /// errors.
    pub async fn may(
        &self,
        verb: &str,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Option<bool>, ClusterError> {
        let (resource, _) = self.resource(api_version, kind).await?;
        self.may_resource(verb, &resource.group, &resource.plural, namespace)
            .await
    }

    /// `deployments.apps`, `configmaps`: the resource of a kind as `kubectl auth can-i`
    /// and RBAC name it.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownKind`] for a kind the cluster does not serve.
    pub async fn resource_name(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<String, ClusterError> {
        let (resource, _) = self.resource(api_version, kind).await?;
        Ok(if resource.group.is_empty() {
            resource.plural
        } else {
            format!("{}.{}", resource.plural, resource.group)
        })
    }

    async fn may_resource(
        &self,
        verb: &str,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<Option<bool>, ClusterError> {
        self.may_subresource(verb, group, plural, "", namespace)
            .await
    }

    /// Whether the identity of this connection may `verb` the `subresource` of the
    /// resource `plural` of `group` (`services/proxy`: `""`, `services`, `proxy`) in
    /// `namespace`; `None` when the cluster cannot say.
    ///
    /// # Errors
    ///
    /// A cluster error.
    pub async fn may_subresource(
        &self,
        verb: &str,
        group: &str,
        plural: &str,
        subresource: &str,
        namespace: Option<&str>,
    ) -> Result<Option<bool>, ClusterError> {
        let review = serde_json::json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"resourceAttributes": {
                "verb": verb,
                "group": group,
                "resource": plural,
                "subresource": subresource,
                "namespace": namespace.unwrap_or(""),
            }},
        });
        match self.create(&review, "").await {
            Ok(answer) => Ok(Some(
                answer
                    .pointer("/status/allowed")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            )),
            Err(ClusterError::UnknownKind { .. } | ClusterError::Api { code: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Server-side apply of `obj` (its namespace, else `namespace`), as `mode` says.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Conflict`] naming each field and its manager when another
    /// manager owns a field and `mode` is [`Apply::Strict`].
    pub async fn apply(
        &self,
        obj: &Value,
        namespace: &str,
        mode: Apply,
    ) -> Result<Value, ClusterError> {
        let api = self.api_for(obj, namespace).await?;
        let name = object_name(obj).ok_or(ClusterError::Malformed("metadata.name"))?;
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if mode != Apply::Strict {
            params = params.force();
        }
        if mode == Apply::DryRun {
            params = params.dry_run();
        }
        let patch = Patch::Apply(obj);
        let applied = retrying(|| api.patch(name, &params, &patch)).await?;
        Ok(serde_json::to_value(applied).expect("objects serialise"))
    }

    /// The object, or `None` when it does not exist.
    pub async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let api = self.api(api_version, kind, Some(namespace)).await?;
        match retrying(|| api.get_opt(name)).await? {
            Some(obj) => Ok(Some(serde_json::to_value(obj).expect("objects serialise"))),
            None => Ok(None),
        }
    }

    /// Creates `obj` (its namespace, else `namespace`).
    pub async fn create(&self, obj: &Value, namespace: &str) -> Result<Value, ClusterError> {
        let api = self.api_for(obj, namespace).await?;
        let typed: DynamicObject =
            serde_json::from_value(obj.clone()).map_err(|_| ClusterError::Malformed("metadata"))?;
        let params = PostParams::default();
        let created = retrying(|| api.create(&params, &typed)).await?;
        Ok(serde_json::to_value(created).expect("objects serialise"))
    }

    /// Replaces `obj`; its `metadata.resourceVersion` makes the write fail with a
    /// conflict if the object changed since it was read.
    pub async fn replace(&self, obj: &Value, namespace: &str) -> Result<Value, ClusterError> {
        let api = self.api_for(obj, namespace).await?;
        let name = object_name(obj).ok_or(ClusterError::Malformed("metadata.name"))?;
        let typed: DynamicObject =
            serde_json::from_value(obj.clone()).map_err(|_| ClusterError::Malformed("metadata"))?;
        let params = PostParams::default();
        let replaced = retrying(|| api.replace(name, &params, &typed)).await?;
        Ok(serde_json::to_value(replaced).expect("objects serialise"))
    }

    /// Deletes an object with background propagation; a missing object is not an error.
    pub async fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<(), ClusterError> {
        let api = self.api(api_version, kind, Some(namespace)).await?;
        let params = DeleteParams::background();
        match retrying(|| api.delete(name, &params)).await {
            Ok(_) => Ok(()),
            Err(e) => match ClusterError::from(e) {
                e if e.is_not_found() => Ok(()),
                e => Err(e),
            },
        }
    }

    /// What a chart's `lookup` reads, as Helm's `lookup` answers: the object by name, an
    /// empty map when it does not exist; with an empty `name`, every object of the kind
    /// in `namespace` (in every namespace when it is empty too) as a list
    /// (`{"apiVersion", "kind": "SecretList", "metadata", "items": [...]}`).
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownKind`] for a kind the cluster does not serve; a refusal
    /// (forbidden) or an unreachable cluster.
    pub async fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ClusterError> {
        let ns = Some(namespace).filter(|n| !n.is_empty());
        let api = self.api(api_version, kind, ns).await?;
        if name.is_empty() {
            let params = ListParams::default();
            let list = retrying(|| api.list(&params)).await?;
            return Ok(lookup_list(api_version, kind, list));
        }
        match retrying(|| api.get_opt(name)).await? {
            Some(obj) => {
                let mut v = serde_json::to_value(obj).expect("objects serialise");
                if let Some(map) = v.as_object_mut() {
                    map.entry("apiVersion")
                        .or_insert_with(|| Value::String(api_version.to_string()));
                    map.entry("kind")
                        .or_insert_with(|| Value::String(kind.to_string()));
                }
                Ok(v)
            }
            None => Ok(Value::Object(serde_json::Map::new())),
        }
    }

    /// Every `group/version` the cluster serves and every `group/version/Kind` of its
    /// resources (core ones as `v1` and `v1/Pod`), as Helm's `.Capabilities.APIVersions`
    /// holds them on install and upgrade; sorted.
    ///
    /// # Errors
    ///
    /// The cluster's, when its discovery cannot be read.
    pub async fn api_versions(&self) -> Result<Vec<String>, ClusterError> {
        self.served
            .get_or_try_init(|| self.discover_api_versions())
            .await
            .cloned()
    }

    async fn discover_api_versions(&self) -> Result<Vec<String>, ClusterError> {
        let mut out = std::collections::BTreeSet::new();
        let core = retrying(|| self.client.list_core_api_versions()).await?;
        let mut group_versions: Vec<String> = core.versions;
        let groups = retrying(|| self.client.list_api_groups()).await?;
        for g in groups.groups {
            group_versions.extend(g.versions.into_iter().map(|v| v.group_version));
        }
        // The group versions' resources are asked for together, as a cluster may serve
        // dozens of them.
        let lists = futures::future::join_all(group_versions.iter().map(|gv| async move {
            if gv.contains('/') {
                retrying(|| self.client.list_api_group_resources(gv)).await
            } else {
                retrying(|| self.client.list_core_api_resources(gv)).await
            }
        }))
        .await;
        for (gv, resources) in group_versions.iter().zip(lists) {
            // A group version whose resources cannot be read (an aggregated API that is
            // down) still counts as served, as in Helm.
            if let Ok(list) = resources {
                for r in list.resources {
                    out.insert(format!("{gv}/{}", r.kind));
                }
            }
            out.insert(gv.clone());
        }
        Ok(out.into_iter().collect())
    }

    /// Objects of a kind in `namespace` matching a label selector.
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let api = self.api(api_version, kind, Some(namespace)).await?;
        let params = ListParams::default().labels(selector);
        let list = retrying(|| api.list(&params)).await?;
        Ok(list
            .items
            .into_iter()
            .map(|o| serde_json::to_value(o).expect("objects serialise"))
            .collect())
    }
}

/// What Helm's `lookup` gives for a list: the server's list (`SecretList`…) with every
/// item's `apiVersion` and `kind` filled in, as Kubernetes' unstructured decoding does.
fn lookup_list(
    api_version: &str,
    kind: &str,
    list: kube::core::ObjectList<DynamicObject>,
) -> Value {
    let items: Vec<Value> = list
        .items
        .into_iter()
        .map(|o| {
            let mut item = serde_json::to_value(o).expect("objects serialise");
            if let Some(map) = item.as_object_mut() {
                map.entry("apiVersion")
                    .or_insert_with(|| Value::String(api_version.to_string()));
                map.entry("kind")
                    .or_insert_with(|| Value::String(kind.to_string()));
            }
            item
        })
        .collect();
    let or = |s: String, default: String| if s.is_empty() { default } else { s };
    let mut out = serde_json::Map::new();
    out.insert(
        "apiVersion".into(),
        Value::String(or(list.types.api_version, api_version.to_string())),
    );
    out.insert(
        "kind".into(),
        Value::String(or(list.types.kind, format!("{kind}List"))),
    );
    out.insert(
        "metadata".into(),
        serde_json::to_value(&list.metadata).unwrap_or_else(|_| Value::Object(Default::default())),
    );
    out.insert("items".into(), Value::Array(items));
    Value::Object(out)
}

pub fn object_name(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/name").and_then(Value::as_str)
}

pub fn object_namespace(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_cause_names_the_manager() {
        assert_eq!(
            manager_of("conflict with \"kubectl-set\" using apps/v1"),
            "kubectl-set"
        );
        assert_eq!(manager_of("no quotes"), "no quotes");
    }

    #[test]
    fn an_rbac_refusal_names_user_verb_resource_and_namespace() {
        let e = ClusterError::Api {
            code: 403,
            reason: "Forbidden".into(),
            message: "leases.coordination.k8s.io \"slipway-lock-shop\" is forbidden: User \"bob\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"shop\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "Forbidden: user `bob` may not `get` `leases.coordination.k8s.io` in namespace `shop` (the server said: leases.coordination.k8s.io \"slipway-lock-shop\" is forbidden: User \"bob\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"shop\"); a Role or ClusterRole bound to that user must grant it (check with `kubectl auth can-i get leases.coordination.k8s.io --namespace shop`)"
        );
        let d = rbac_denial("namespaces is forbidden: User \"system:serviceaccount:shop:deployer\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope").unwrap();
        assert_eq!(d.user, "system:serviceaccount:shop:deployer");
        assert_eq!(
            (
                d.verb.as_str(),
                d.resource.as_str(),
                d.group.as_str(),
                d.namespace
            ),
            ("create", "namespaces", "", None)
        );
    }

    #[test]
    fn other_refusals_keep_the_server_message() {
        let e = ClusterError::Api {
            code: 403,
            reason: "Forbidden".into(),
            message: "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "Forbidden: pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\""
        );
        let e = ClusterError::Api {
            code: 401,
            reason: "Unauthorized".into(),
            message: "Unauthorized".into(),
        };
        assert_eq!(
            e.to_string(),
            "Unauthorized: the cluster did not accept the credentials of this kubeconfig context (its token, client certificate or exec plugin's credential is missing, unknown or expired)"
        );
    }
}

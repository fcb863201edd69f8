//! What one environment's namespace receives: the manifests of `slipway.yaml` (plain
//! YAML or a kustomization, the environment's overlay if it has one), with
//!
//! - the ConfigMaps and Secrets that `slipway.yaml` generates, named after a hash of
//!   their content, and every reference to them rewritten — so changing one value rolls
//!   exactly the pods that use it;
//! - the release's images pinned as `repo:tag@sha256:…`;
//! - the labels that say what slipway manages (`app.kubernetes.io/managed-by`,
//!   `app.kubernetes.io/part-of`) and the ApplySet membership label, so
//!   `kubectl apply --prune --applyset` and slipway agree on what belongs to the app;
//! - the namespace set on every namespaced object;
//! - the pre-deploy hooks as Jobs, rendered the same way.
//!
//! Secret values are read here and nowhere printed: [`Rendered::to_yaml`] prints them,
//! because `render` is asked for the manifests, but every message names only keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use slipway_config::{Config, Environment, HookRun, HookWhen, KustomizeMode};

use crate::applyset;
pub use crate::chart::ChartRelease;
use crate::{ImagePin, Object, PinReport, RenderError, Source, kustomize, pin_images};

/// Kinds that are not namespaced (the rest are).
pub const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "IngressClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "Node",
];

/// A pre-deploy (or post-deploy) Job.
#[derive(Debug, Clone)]
pub struct RenderedHook {
    pub name: String,
    pub pre_deploy: bool,
    pub job: Object,
    pub timeout: Duration,
    /// A chart hook's `hook-delete-policy` has `hook-succeeded`.
    pub delete_on_success: bool,
    /// A chart hook's `hook-delete-policy` has `hook-failed`.
    pub delete_on_failure: bool,
}

/// An environment's manifests for one namespace.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub namespace: String,
    pub objects: Vec<Object>,
    pub hooks: Vec<RenderedHook>,
    /// What pinning did: pinned containers and images of other origins.
    pub pins: PinReport,
    /// The ApplySet id every object carries.
    pub applyset_id: String,
    /// A chart's rendered `NOTES.txt`.
    pub notes: Option<String>,
    /// A chart's hooks this release does not run, as `Kind/name (events)`.
    pub skipped_hooks: Vec<String>,
    /// A chart's `test` hooks (Pods or Jobs), pinned, labelled and namespaced as the
    /// hooks are; `slipway test` runs them.
    pub tests: Vec<RenderedHook>,
}

impl Rendered {
    /// The objects, then the hooks, as a YAML stream.
    pub fn to_yaml(&self) -> String {
        let mut all = self.objects.clone();
        all.extend(self.hooks.iter().map(|h| h.job.clone()));
        crate::to_yaml(&all)
    }
}

/// The name of the ApplySet parent Secret of `app`.
pub fn applyset_parent_name(app: &str) -> String {
    format!("slipway-applyset-{app}")
}

/// Renders `env` for `namespace` with the given pins.
///
/// `lookup_env` gives the values of `secrets.*.from-env` (the process environment in
/// the binary, a map in tests).
///
/// # Errors
///
/// A [`RenderError`] naming the file and line of a broken manifest, an unsupported
/// kustomize field, or a missing file or environment variable.
pub fn render_environment(
    config: &Config,
    env: &Environment,
    namespace: &str,
    pins: &[ImagePin],
    lookup_env: &dyn Fn(&str) -> Option<String>,
    secret_key: &[u8],
    at: ChartRelease,
) -> Result<Rendered, RenderError> {
    let mut hooks = Vec::new();
    let mut notes = None;
    let mut skipped_hooks = Vec::new();
    let mut tests = Vec::new();
    let mut objects = match (&env.chart, &env.overlay, &config.manifests) {
        (Some(chart), _, _) => {
            let r = crate::chart::render_chart(config, chart, namespace, pins, &at)?;
            hooks = r.hooks;
            notes = r.notes;
            skipped_hooks = r.skipped;
            tests = r.tests;
            r.objects
        }
        (None, overlay, manifests) => match (overlay, manifests) {
            (Some(overlay), manifests) => {
                let kubectl = manifests
                    .as_ref()
                    .is_some_and(|m| m.kustomize == KustomizeMode::Kubectl);
                source(overlay, kubectl)?
            }
            (None, Some(manifests)) => source(
                &manifests.path,
                manifests.kustomize == KustomizeMode::Kubectl,
            )?,
            (None, None) => Vec::new(),
        },
    };

    // Generated configuration: content-hashed names.
    let mut config_names = BTreeMap::new();
    let mut secret_names = BTreeMap::new();
    let mut generated = Vec::new();
    for (name, generator) in &env.config {
        let data = collect_data(
            &generator.env_file,
            &generator.literals,
            &generator.files,
            &[],
            lookup_env,
            &config.file,
            &format!("config.{name}"),
        )?;
        let obj = config_map(name, data);
        config_names.insert(name.clone(), hashed_name(name, &obj, None));
        generated.push(obj);
    }
    for (name, generator) in &env.secrets {
        let data = collect_data(
            &generator.env_file,
            &BTreeMap::new(),
            &generator.files,
            &generator
                .from_env
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        generator.from_env_at.get(n).map_or(1, |p| p.line),
                    )
                })
                .collect::<Vec<_>>(),
            lookup_env,
            &config.file,
            &format!("secrets.{name}"),
        )?;
        let obj = secret(name, &generator.secret_type, data);
        secret_names.insert(name.clone(), hashed_name(name, &obj, Some(secret_key)));
        generated.push(obj);
    }
    for obj in &mut generated {
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let hashed = if kind == "Secret" {
            &secret_names[&name]
        } else {
            &config_names[&name]
        };
        obj["metadata"]["name"] = json!(hashed);
    }
    let mut generated: Vec<Object> = generated
        .into_iter()
        .map(|value| Object {
            value,
            source: Source::generated(config.file.clone(), 1),
        })
        .collect();
    generated.append(&mut objects);
    let mut objects = generated;

    // Hooks: the chart's first, then those of `slipway.yaml`.
    for hook in &config.hooks {
        let job = match &hook.run {
            HookRun::Job(path) => {
                let found = crate::read_objects(path)?;
                let Some(job) = found.into_iter().find(|o| o.kind() == "Job") else {
                    return Err(RenderError::Build {
                        file: path.clone(),
                        line: 1,
                        message: format!("hook `{}`: the file holds no Job", hook.name),
                    });
                };
                job
            }
            HookRun::Image {
                image,
                command,
                env_from,
            } => Object {
                value: hook_job(
                    &config.app,
                    &hook.name,
                    image,
                    command.as_deref(),
                    env_from,
                    &env.secrets.keys().cloned().collect::<Vec<_>>(),
                    hook.backoff_limit,
                ),
                source: Source::generated(config.file.clone(), 1),
            },
        };
        hooks.push(RenderedHook {
            name: hook.name.clone(),
            pre_deploy: hook.when == HookWhen::PreDeploy,
            job,
            timeout: hook.timeout,
            delete_on_success: false,
            delete_on_failure: false,
        });
    }

    // References to generated configuration follow the hashed names.
    for obj in objects
        .iter_mut()
        .chain(hooks.iter_mut().map(|h| &mut h.job))
    {
        rewrite_references(&mut obj.value, &config_names, &secret_names);
    }

    // Images, labels, namespace.
    let mut report = pin_images(&mut objects, pins);
    let mut hook_jobs: Vec<Object> = hooks.iter().map(|h| h.job.clone()).collect();
    let hook_report = pin_images(&mut hook_jobs, pins);
    for (hook, job) in hooks.iter_mut().zip(hook_jobs) {
        hook.job = job;
    }
    report.pinned.extend(hook_report.pinned);
    report.foreign.extend(hook_report.foreign);

    let applyset_id = applyset::id(&applyset_parent_name(&config.app), namespace, "Secret", "");
    for obj in objects.iter().chain(hooks.iter().map(|h| &h.job)) {
        check_namespace_field(obj)?;
    }
    for obj in objects
        .iter_mut()
        .chain(hooks.iter_mut().map(|h| &mut h.job))
    {
        label(&mut obj.value, &config.app, &applyset_id);
        if !CLUSTER_SCOPED.contains(&obj.kind()) {
            let meta = metadata(&mut obj.value);
            meta.insert("namespace".into(), json!(namespace));
        }
    }

    // A chart's tests run the release's images too; they are not members of the
    // release (no ApplySet label), so what they run is not recorded.
    let mut test_objects: Vec<Object> = tests.iter().map(|t| t.job.clone()).collect();
    for obj in &mut test_objects {
        rewrite_references(&mut obj.value, &config_names, &secret_names);
    }
    pin_images(&mut test_objects, pins);
    for (test, mut obj) in tests.iter_mut().zip(test_objects) {
        metadata(&mut obj.value).insert("namespace".into(), json!(namespace));
        test.job = obj;
    }

    Ok(Rendered {
        namespace: namespace.to_string(),
        objects,
        hooks,
        pins: report,
        applyset_id,
        notes,
        skipped_hooks,
        tests,
    })
}

/// The ApplySet parent for a rendered namespace: a Secret that lists the group-kinds of
/// the members, as KEP-3659 and `kubectl apply --applyset` expect.
pub fn applyset_parent(app: &str, rendered: &Rendered) -> Value {
    let kinds = applyset::group_kinds(rendered.objects.iter().map(|o| (o.group(), o.kind())));
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": applyset_parent_name(app),
            "namespace": rendered.namespace,
            "labels": {
                applyset::PARENT_ID_LABEL: rendered.applyset_id,
                "app.kubernetes.io/managed-by": "slipway",
                "app.kubernetes.io/part-of": app,
            },
            "annotations": {
                applyset::TOOLING_ANNOTATION: concat!("slipway/v", env!("CARGO_PKG_VERSION")),
                applyset::GROUP_KINDS_ANNOTATION: kinds,
            },
        },
        "type": "Opaque",
    })
}

fn source(path: &Path, kubectl: bool) -> Result<Vec<Object>, RenderError> {
    let is_kustomization = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .any(|f| path.join(f).is_file());
    if !is_kustomization {
        return crate::read_directory(path);
    }
    if kubectl {
        crate::kustomize_with_kubectl(path)
    } else {
        kustomize(path)
    }
}

/// Reads the data of a generator: env file lines, literals, files, and variables from
/// slipway's environment.
fn collect_data(
    env_file: &Option<PathBuf>,
    literals: &BTreeMap<String, String>,
    files: &[slipway_config::FileSource],
    // Each variable with the line of `slipway.yaml` that names it.
    from_env: &[(String, usize)],
    lookup_env: &dyn Fn(&str) -> Option<String>,
    config_file: &Path,
    key: &str,
) -> Result<BTreeMap<String, Vec<u8>>, RenderError> {
    let mut data = BTreeMap::new();
    if let Some(path) = env_file {
        let text = std::fs::read_to_string(path).map_err(|source| RenderError::Io {
            path: path.clone(),
            source,
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((k, v)) = line.split_once('=') else {
                return Err(RenderError::Invalid {
                    file: path.clone(),
                    line: n + 1,
                    field: "env file".into(),
                    message: "expected `KEY=VALUE`".into(),
                });
            };
            data.insert(k.trim().to_string(), v.as_bytes().to_vec());
        }
    }
    for (k, v) in literals {
        data.insert(k.clone(), v.as_bytes().to_vec());
    }
    for f in files {
        let bytes = std::fs::read(&f.path).map_err(|source| RenderError::Io {
            path: f.path.clone(),
            source,
        })?;
        data.insert(f.key.clone(), bytes);
    }
    for (var, line) in from_env {
        let Some(value) = lookup_env(var) else {
            return Err(RenderError::Invalid {
                file: config_file.to_path_buf(),
                line: *line,
                field: format!("{key}.from-env"),
                message: format!("the environment variable `{var}` is not set"),
            });
        };
        data.insert(var.clone(), value.into_bytes());
    }
    Ok(data)
}

fn config_map(name: &str, data: BTreeMap<String, Vec<u8>>) -> Value {
    let mut text = Map::new();
    let mut binary = Map::new();
    for (k, v) in data {
        match String::from_utf8(v) {
            Ok(s) => text.insert(k, json!(s)),
            Err(e) => binary.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
            ),
        };
    }
    let mut obj =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": text});
    if !binary.is_empty() {
        obj["binaryData"] = Value::Object(binary);
    }
    obj
}

fn secret(name: &str, kind: &str, data: BTreeMap<String, Vec<u8>>) -> Value {
    let data: Map<String, Value> = data
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": kind, "metadata": {"name": name}, "data": data})
}

/// `<name>-<first 10 hex of sha256(kind, type, data, binaryData)>`.
/// A `metadata.namespace` that is not a string (`123`, a list) is a mistake to report,
/// not a value to overwrite with the release's namespace.
fn check_namespace_field(obj: &Object) -> Result<(), RenderError> {
    let Some(value) = obj.value.pointer("/metadata/namespace") else {
        return Ok(());
    };
    let what = match value {
        Value::String(_) | Value::Null => return Ok(()),
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    };
    let line = obj
        .source
        .document
        .as_ref()
        .and_then(|d| d.node().get("metadata"))
        .and_then(|m| m.get("namespace"))
        .map_or(obj.source.line, |n| n.line);
    Err(RenderError::Invalid {
        file: obj.source.file.clone(),
        line,
        field: "metadata.namespace".into(),
        message: format!(
            "{} has {what} here, not a namespace name; remove it (every object gets the environment's namespace) or write a name",
            obj.id()
        ),
    })
}

/// `name-<hash of the content>`: a new name when the content changes, so the workloads
/// that use it roll. A Secret's hash is keyed (`key`): a hash of its values alone would
/// let anyone who sees the name confirm a guessed value.
fn hashed_name(name: &str, obj: &Value, key: Option<&[u8]>) -> String {
    let content = json!([obj["kind"], obj["type"], obj["data"], obj["binaryData"]]).to_string();
    let digest: [u8; 32] = match key {
        Some(key) => crate::redact::hmac_sha256(key, content.as_bytes()),
        None => Sha256::digest(content.as_bytes()).into(),
    };
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

fn hook_job(
    app: &str,
    hook: &str,
    image: &str,
    command: Option<&[String]>,
    env_from: &[String],
    secrets: &[String],
    backoff_limit: u32,
) -> Value {
    let env_from: Vec<Value> = env_from
        .iter()
        .map(|n| {
            if secrets.contains(n) {
                json!({"secretRef": {"name": n}})
            } else {
                json!({"configMapRef": {"name": n}})
            }
        })
        .collect();
    let mut container = json!({"name": hook, "image": image});
    if let Some(command) = command {
        container["command"] = json!(command);
    }
    if !env_from.is_empty() {
        container["envFrom"] = json!(env_from);
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": format!("{app}-{hook}"), "labels": {"slipway.dev/hook": hook}},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"labels": {"slipway.dev/hook": hook}},
                "spec": {"restartPolicy": "Never", "containers": [container]}
            }
        }
    })
}

/// The pod spec of a workload, if it has one.
fn pod_spec(obj: &mut Value) -> Option<&mut Value> {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let path = crate::pin::pod_spec_path(&kind)?;
    path.iter().try_fold(obj, |v, key| v.get_mut(*key))
}

fn rewrite_references(
    obj: &mut Value,
    configs: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) {
    if configs.is_empty() && secrets.is_empty() {
        return;
    }
    let Some(spec) = pod_spec(obj) else {
        return;
    };
    let rename = |v: Option<&mut Value>, table: &BTreeMap<String, String>| {
        if let Some(v) = v
            && let Some(new) = v.as_str().and_then(|n| table.get(n))
        {
            *v = json!(new);
        }
    };
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
                for e in env {
                    rename(e.pointer_mut("/valueFrom/configMapKeyRef/name"), configs);
                    rename(e.pointer_mut("/valueFrom/secretKeyRef/name"), secrets);
                }
            }
            if let Some(env_from) = c.get_mut("envFrom").and_then(Value::as_array_mut) {
                for e in env_from {
                    rename(e.pointer_mut("/configMapRef/name"), configs);
                    rename(e.pointer_mut("/secretRef/name"), secrets);
                }
            }
        }
    }
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in volumes {
            rename(v.pointer_mut("/configMap/name"), configs);
            rename(v.pointer_mut("/secret/secretName"), secrets);
            if let Some(sources) = v
                .pointer_mut("/projected/sources")
                .and_then(Value::as_array_mut)
            {
                for s in sources {
                    rename(s.pointer_mut("/configMap/name"), configs);
                    rename(s.pointer_mut("/secret/name"), secrets);
                }
            }
        }
    }
}

fn metadata(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("just made an object")
}

/// Labels `obj` as an object of `app`'s release: managed by slipway, part of the app and
/// a member of its ApplySet.
pub fn label(obj: &mut Value, app: &str, applyset_id: &str) {
    let meta = metadata(obj);
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert("app.kubernetes.io/managed-by".into(), json!("slipway"));
        labels
            .entry("app.kubernetes.io/part-of")
            .or_insert_with(|| json!(app));
        labels.insert(applyset::PART_OF_LABEL.into(), json!(applyset_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(uses: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"template": {"spec": {
            "containers": [{"name": "api", "image": "api",
                "envFrom": [{"configMapRef": {"name": uses}}, {"secretRef": {"name": "db"}}],
                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": uses, "key": "x"}}}]}],
            "volumes": [{"name": "v", "configMap": {"name": uses}}, {"name": "s", "secret": {"secretName": "db"}}]
        }}}})
    }

    #[test]
    fn references_follow_hashed_names_everywhere_in_the_pod_spec() {
        let mut d = deployment("app-config");
        let configs = BTreeMap::from([(
            "app-config".to_string(),
            "app-config-0123456789".to_string(),
        )]);
        let secrets = BTreeMap::from([("db".to_string(), "db-abcdef0123".to_string())]);
        rewrite_references(&mut d, &configs, &secrets);
        let text = d.to_string();
        assert_eq!(text.matches("app-config-0123456789").count(), 3, "{text}");
        assert_eq!(text.matches("db-abcdef0123").count(), 2, "{text}");
    }

    #[test]
    fn references_to_other_config_maps_are_left_alone() {
        let mut d = deployment("shared");
        let configs = BTreeMap::from([(
            "app-config".to_string(),
            "app-config-0123456789".to_string(),
        )]);
        rewrite_references(&mut d, &configs, &BTreeMap::new());
        assert_eq!(d, deployment("shared"));
    }

    #[test]
    fn a_secret_name_hash_is_keyed_and_a_config_map_name_hash_is_not() {
        let data = BTreeMap::from([("P".to_string(), b"hunter2".to_vec())]);
        let s = secret("db", "Opaque", data);
        let unkeyed = hashed_name("db", &s, None);
        let one = hashed_name("db", &s, Some(&[1; 32]));
        assert_ne!(one, unkeyed);
        assert_ne!(one, hashed_name("db", &s, Some(&[2; 32])));
        assert_eq!(one, hashed_name("db", &s.clone(), Some(&[1; 32])));
        assert_eq!(one.len(), "db-".len() + 10);
    }

    #[test]
    fn hashed_name_changes_with_content_only() {
        let a = config_map("cfg", BTreeMap::from([("K".to_string(), b"1".to_vec())]));
        let b = config_map("cfg", BTreeMap::from([("K".to_string(), b"2".to_vec())]));
        assert_ne!(hashed_name("cfg", &a, None), hashed_name("cfg", &b, None));
        assert_eq!(
            hashed_name("cfg", &a, None),
            hashed_name("cfg", &a.clone(), None)
        );
        assert!(hashed_name("cfg", &a, None).starts_with("cfg-"));
        assert_eq!(hashed_name("cfg", &a, None).len(), "cfg-".len() + 10);
    }

    #[test]
    fn secrets_are_base64_and_typed() {
        let s = secret(
            "db",
            "Opaque",
            BTreeMap::from([("P".to_string(), b"pw".to_vec())]),
        );
        assert_eq!(s["data"]["P"], "cHc=");
        assert_eq!(s["type"], "Opaque");
    }

    #[test]
    fn hook_job_takes_config_and_secrets_by_name() {
        let job = hook_job(
            "shop",
            "migrate",
            "api",
            Some(&["goose".to_string(), "up".to_string()]),
            &["cfg".to_string(), "db".to_string()],
            &["db".to_string()],
            0,
        );
        assert_eq!(job["metadata"]["name"], "shop-migrate");
        let c = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["envFrom"][0]["configMapRef"]["name"], "cfg");
        assert_eq!(c["envFrom"][1]["secretRef"]["name"], "db");
        assert_eq!(c["command"], json!(["goose", "up"]));
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    }
}

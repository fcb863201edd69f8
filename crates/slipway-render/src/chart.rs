//! A Helm chart as the manifests of an environment: rendered with `slipway-helm` as one
//! release (name, namespace, revision), with the release's images written into the
//! chart's values, its hooks mapped onto slipway's hooks and its `NOTES.txt` kept.
//!
//! The images are written to the values the chart reads (`image.repository`,
//! `image.tag`…) so that the rendered containers run the pinned reference; pinning then
//! finds them like any other manifest's containers.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use slipway_config::{Chart, ChartImage, Config};
use slipway_helm::{HelmVersion, TemplateOptions, values::path_value};

use crate::release::RenderedHook;
use crate::{ImagePin, Object, RenderError};

/// The Kubernetes version a chart sees in `.Capabilities.KubeVersion`.
pub const KUBE_VERSION: &str = "v1.33.0";

/// How long a chart's hook Job may run.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(600);

/// How a chart's `lookup` reads the cluster: apiVersion, kind, namespace and name to the
/// object as JSON; an empty name lists the kind (in every namespace when the namespace
/// is empty too) as `{"apiVersion", "kind", "items": [...]}`. An object that does not
/// exist is an empty map; an error is the cluster's message.
pub type LookupFn =
    dyn Fn(&str, &str, &str, &str) -> Result<serde_json::Value, String> + Send + Sync;

/// A cluster's answer to `lookup`, shared by every rendering of a release.
#[derive(Clone)]
pub struct ClusterLookup(pub Arc<LookupFn>);

impl fmt::Debug for ClusterLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterLookup")
    }
}

impl PartialEq for ClusterLookup {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ClusterLookup {}

/// Which release of the chart is rendered, and for which cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRelease {
    /// `.Release.Revision`.
    pub revision: u64,
    /// `.Release.IsUpgrade`: the namespace has a deployed release already.
    pub upgrade: bool,
    /// The cluster's version (`v1.31.2`), for `.Capabilities.KubeVersion` and the chart's
    /// `kubeVersion`; [`KUBE_VERSION`] when unknown or not a version.
    pub kube_version: Option<String>,
    /// What the cluster serves (`group/version` and `group/version/Kind`), for
    /// `.Capabilities.APIVersions`; the built-in API groups when `None`.
    pub api_versions: Option<Vec<String>>,
    /// The cluster `lookup` reads, when it is called; without one `lookup` gives an
    /// empty map, as in `helm template`.
    pub lookup: Option<ClusterLookup>,
}

impl Default for ChartRelease {
    fn default() -> Self {
        ChartRelease {
            revision: 1,
            upgrade: false,
            kube_version: None,
            api_versions: None,
            lookup: None,
        }
    }
}

/// A rendered chart.
#[derive(Debug, Clone, Default)]
pub struct RenderedChart {
    /// CRDs, then the objects that are not hooks (and hooks of other kinds than Job).
    pub objects: Vec<Object>,
    /// The Jobs of the hooks this release runs, in weight order.
    pub hooks: Vec<RenderedHook>,
    /// The `test` hooks (Pods or Jobs), in weight order: `slipway test` runs them.
    pub tests: Vec<RenderedHook>,
    /// Hooks that are not run, as `Kind/name (events)`.
    pub skipped: Vec<String>,
    /// The rendered `NOTES.txt`.
    pub notes: Option<String>,
}

/// Renders `chart` for `namespace`.
///
/// # Errors
///
/// [`RenderError::Chart`] with Helm's message; a rendered document that is not valid
/// YAML or not a mapping.
pub fn render_chart(
    config: &Config,
    chart: &Chart,
    namespace: &str,
    pins: &[ImagePin],
    at: &ChartRelease,
) -> Result<RenderedChart, RenderError> {
    let set_json: Vec<String> = chart
        .set
        .iter()
        .map(|s| format!("{}={}", s.key, s.json))
        .collect();
    // The images go last: they win over every value file and `set`.
    let image_values = |defaults: &slipway_helm::Map| {
        chart
            .images
            .iter()
            .flat_map(|m| image_lines(config, m, pins, defaults))
            .collect::<Vec<String>>()
    };
    let opts = TemplateOptions {
        chart: chart.path.clone(),
        release_name: Some(chart.release.clone()),
        namespace: namespace.to_string(),
        values_files: chart.values.clone(),
        set_json,
        default_kube_version: Some(
            at.kube_version
                .clone()
                .filter(|v| slipway_helm::objects::KubeVersion::parse(v).is_ok())
                .unwrap_or_else(|| KUBE_VERSION.into()),
        ),
        cluster_api_versions: at.api_versions.clone(),
        is_upgrade: at.upgrade,
        helm_version: HelmVersion::V3,
        ..TemplateOptions::default()
    };
    let revision = i64::try_from(at.revision).unwrap_or(i64::MAX);
    let lookup = at
        .lookup
        .clone()
        .map(|l| -> slipway_helm::render::LookupFn {
            Box::new(move |api_version, kind, namespace, name| {
                (l.0)(api_version, kind, namespace, name)
                    .map(slipway_helm::strvals::from_object_json)
            })
        });
    let rendered =
        slipway_helm::render_release(&opts, revision, &image_values, lookup).map_err(|e| {
            RenderError::Chart {
                chart: chart.path.clone(),
                message: e.to_string(),
            }
        })?;

    let mut out = RenderedChart {
        notes: rendered.notes,
        ..RenderedChart::default()
    };
    for (path, text) in &rendered.crds {
        out.objects
            .extend(objects_of(text, &file_of(&chart.path, path))?);
    }
    for m in &rendered.manifests {
        out.objects
            .extend(objects_of(&m.content, &file_of(&chart.path, &m.name))?);
    }
    let (pre, post) = if at.upgrade {
        ("pre-upgrade", "post-upgrade")
    } else {
        ("pre-install", "post-install")
    };
    for h in &rendered.hooks {
        let has = |e: &str| h.events.iter().any(|x| x == e);
        let runs_now = has(pre) || has(post);
        let file = file_of(&chart.path, &h.path);
        let what = format!("{}/{} ({})", h.kind, h.name, h.events.join(","));
        let delete_on_success = h.delete_policies.iter().any(|p| p == "hook-succeeded");
        let delete_on_failure = h.delete_policies.iter().any(|p| p == "hook-failed");
        if h.is_test() && matches!(h.kind.as_str(), "Pod" | "Job") {
            let events = h.events.join(",");
            out.skipped.push(format!(
                "{}/{} ({events}: `slipway test` runs it)",
                h.kind, h.name
            ));
            if let Some(test) = objects_of(&h.manifest, &file)?.into_iter().next() {
                out.tests.push(RenderedHook {
                    name: h.name.clone(),
                    pre_deploy: false,
                    job: test,
                    timeout: HOOK_TIMEOUT,
                    delete_on_success,
                    delete_on_failure,
                });
            }
            continue;
        }
        if h.kind != "Job" {
            // Objects a hook needs (a ConfigMap, a ServiceAccount) belong to the release,
            // on install and upgrade alike, so a later release does not prune them.
            let lifecycle = ["pre-install", "pre-upgrade", "post-install", "post-upgrade"];
            if lifecycle.iter().any(|e| has(e)) {
                out.objects.extend(objects_of(&h.manifest, &file)?);
            } else {
                out.skipped.push(what);
            }
            continue;
        }
        if !runs_now {
            out.skipped.push(what);
            continue;
        }
        let Some(job) = objects_of(&h.manifest, &file)?.into_iter().next() else {
            continue;
        };
        out.hooks.push(RenderedHook {
            name: h.name.clone(),
            pre_deploy: has(pre),
            job,
            timeout: HOOK_TIMEOUT,
            delete_on_success,
            delete_on_failure,
        });
    }
    Ok(out)
}

/// The `--set-json` lines that write one image's pinned reference into the values.
fn image_lines(
    config: &Config,
    m: &ChartImage,
    pins: &[ImagePin],
    defaults: &slipway_helm::Map,
) -> Vec<String> {
    let json = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut lines = Vec::new();
    let Some(image) = config.image(&m.image) else {
        return lines;
    };
    if let Some(p) = &m.repository {
        lines.push(format!("{p}={}", json(&image.repository)));
    }
    let Some(pin) = pins.iter().find(|p| p.name == m.image) else {
        return lines;
    };
    let (named, digest) = match pin.reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (pin.reference.as_str(), None),
    };
    let after_slash = named.rfind('/').map_or(0, |i| i + 1);
    let tag = named[after_slash..]
        .find(':')
        .map(|c| &named[after_slash + c + 1..]);
    let digest_path = m
        .digest
        .as_ref()
        .filter(|p| !m.digest_if_declared || path_value(defaults, p).is_some());
    match (digest_path, digest) {
        (Some(dp), Some(d)) => {
            lines.push(format!("{dp}={}", json(d)));
            if let (Some(tp), Some(t)) = (&m.tag, tag) {
                lines.push(format!("{tp}={}", json(t)));
            }
        }
        _ => {
            if let (Some(tp), Some(t)) = (&m.tag, tag) {
                let t = match digest {
                    Some(d) => format!("{t}@{d}"),
                    None => t.to_string(),
                };
                lines.push(format!("{tp}={}", json(&t)));
            }
        }
    }
    if let Some(p) = &m.reference {
        lines.push(format!("{p}={}", json(&pin.reference)));
    }
    lines
}

/// The file a template path (`chart/templates/x.yaml`) stands for under the chart.
fn file_of(chart: &Path, template: &str) -> PathBuf {
    let rest = template.split_once('/').map_or(template, |(_, r)| r);
    if chart.is_dir() {
        chart.join(rest)
    } else {
        PathBuf::from(format!("{}:{template}", chart.display()))
    }
}

/// The objects of one rendered document; positions in it are of the rendered text, not
/// the template, so they are not kept.
fn objects_of(text: &str, file: &Path) -> Result<Vec<Object>, RenderError> {
    let mut objects = crate::parse_objects(text, file)?;
    for o in &mut objects {
        o.source.document = None;
        o.source.line = 1;
    }
    Ok(objects)
}

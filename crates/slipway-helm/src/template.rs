//! `helm template`: a chart, values and flags in; Helm's exact stdout (or an
//! `--output-dir` tree) out.
//!
//! The steps, in Helm's order: release name, chart loading, the installable check,
//! user values (`-f` files in order, then `--set-json`, `--set`, `--set-string`,
//! `--set-file`), dependencies (enabled, aliases, imports), coalescing and schema
//! validation, the chart's `kubeVersion`, rendering, `NOTES.txt` dropped, manifests
//! sorted and hooks separated, then printing (CRDs first with `--include-crds`, hooks
//! last, `--show-only` selection).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use gotemplate::Value;

use crate::chart::{Chart, Map};
use crate::error::{Error, Result};
use crate::manifest::{self, Hook, Manifest};
use crate::objects::{ApiVersions, Capabilities, KubeVersion, default_api_versions};
use crate::strvals::{self, ValueKind};
use crate::values::{self, HelmVersion};
use crate::{deps, glob, load, render, schema};

/// The inputs of one `helm template` run.
#[derive(Debug, Clone, Default)]
pub struct TemplateOptions {
    /// The chart: a folder or a `.tgz`.
    pub chart: PathBuf,
    /// The release name given as an argument.
    pub release_name: Option<String>,
    /// `--name-template`: a template that gives the release name.
    pub name_template: Option<String>,
    pub namespace: String,
    /// `-f/--values`, in order.
    pub values_files: Vec<PathBuf>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub set_file: Vec<String>,
    pub set_json: Vec<String>,
    /// `--api-versions`, already split on commas.
    pub api_versions: Vec<String>,
    /// What a cluster serves (`group/version` and `group/version/Kind`), in place of
    /// the built-in list, as Helm reads it from a cluster on install and upgrade;
    /// `--api-versions` still adds to it.
    pub cluster_api_versions: Option<Vec<String>>,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// The Kubernetes version assumed without `--kube-version`.
    pub default_kube_version: Option<String>,
    pub show_only: Vec<String>,
    pub include_crds: bool,
    pub skip_tests: bool,
    pub is_upgrade: bool,
    pub debug: bool,
    pub output_dir: Option<PathBuf>,
    pub helm_version: HelmVersion,
}

/// What `helm template` printed: its standard output, and the error it ended with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateOutput {
    pub stdout: String,
    /// The error message, without Helm's `Error: ` prefix.
    pub error: Option<String>,
}

impl TemplateOutput {
    fn failed(e: impl ToString) -> TemplateOutput {
        TemplateOutput {
            stdout: String::new(),
            error: Some(e.to_string()),
        }
    }

    /// Standard output followed by the error as Helm prints it (`Error: ...`).
    pub fn combined(&self) -> String {
        match &self.error {
            Some(e) => format!("{}Error: {e}\n", self.stdout),
            None => self.stdout.clone(),
        }
    }
}

/// The Kubernetes version Helm assumes when none is given.
pub fn default_kube_version(ver: HelmVersion) -> &'static str {
    match ver {
        HelmVersion::V3 => "v1.20.0",
        HelmVersion::V4_1 => "v1.35.0",
        HelmVersion::V4_2 => "v1.36.0",
    }
}

/// Runs `helm template`.
pub fn template(opts: &TemplateOptions) -> TemplateOutput {
    let ver = opts.helm_version;
    let prepared = match prepare(opts, 1, &|_| Vec::new()) {
        Ok(p) => p,
        Err(e) => return TemplateOutput::failed(e),
    };
    let Prepared { chart, top } = prepared;
    let files = match render::render(&chart, &top, ver, None) {
        Ok(f) => f,
        Err(e) => return TemplateOutput::failed(e),
    };
    let files: BTreeMap<String, String> = files
        .into_iter()
        .filter(|(k, _)| !k.ends_with("NOTES.txt"))
        .collect();
    let mut written = WrittenFiles::default();
    let mut out = String::new();
    let (hooks, manifest_text) = match manifest::sort_manifests(&files, ver) {
        Ok((hooks, manifests)) => {
            match assemble(opts, &chart, &manifests, &mut written, &mut out) {
                Ok(text) => (hooks, text),
                Err(e) => return TemplateOutput::failed(e),
            }
        }
        Err(e) => {
            if !opts.debug {
                return TemplateOutput::failed(format!(
                    "{e}\n\nUse --debug flag to render out invalid YAML"
                ));
            }
            let mut text = String::new();
            for (name, content) in &files {
                if !content.trim().is_empty() {
                    text.push_str(&format!("---\n# Source: {name}\n{content}\n"));
                }
            }
            let stdout = format!("{}\n", text.trim());
            return TemplateOutput {
                stdout,
                error: Some(e.to_string()),
            };
        }
    };
    let mut manifests = format!("{}\n", manifest_text.trim());
    for h in &hooks {
        if opts.skip_tests && h.is_test() {
            continue;
        }
        match &opts.output_dir {
            None => manifests.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest)),
            Some(dir) => {
                let append = dir.join(&h.path).exists();
                if let Err(e) = write_to_file(dir, &h.path, &h.manifest, append, &mut out) {
                    return TemplateOutput::failed(e);
                }
            }
        }
    }
    let _ = written;
    if opts.show_only.is_empty() {
        out.push_str(&manifests);
        return TemplateOutput {
            stdout: out,
            error: None,
        };
    }
    match show_only(&manifests, &opts.show_only, ver) {
        Ok(selected) => {
            for m in selected {
                out.push_str(&format!("---\n{m}\n"));
            }
            TemplateOutput {
                stdout: out,
                error: None,
            }
        }
        Err(e) => TemplateOutput {
            stdout: out,
            error: Some(e.to_string()),
        },
    }
}

/// A chart rendered as one release: what `helm upgrade --install` would send to the
/// cluster, apart, instead of printed.
#[derive(Debug, Clone, Default)]
pub struct RenderedRelease {
    /// The files of every chart's `crds/`, by path (`chart/crds/x.yaml`) and text.
    pub crds: Vec<(String, String)>,
    /// The objects that are not hooks, in Helm's install order.
    pub manifests: Vec<Manifest>,
    /// The hooks, in Helm's order (weight first, then install order, then name).
    pub hooks: Vec<Hook>,
    /// The top chart's `templates/NOTES.txt`, rendered, when it has one.
    pub notes: Option<String>,
}

/// Renders a chart as one release at `revision`; `opts` gives the chart, release name,
/// namespace, values and `.Capabilities` as for `helm template` (its printing flags
/// are not read). `extra` gives `--set-json` lines from the chart's default values,
/// applied after the user's values (the caller's own values, such as built images).
/// `lookup` is how the templates' `lookup` reaches the cluster; without it `lookup`
/// gives an empty map, as in `helm template`.
///
/// # Errors
///
/// Whatever `helm template` would fail with, as its message.
pub fn render_release(
    opts: &TemplateOptions,
    revision: i64,
    extra: &dyn Fn(&Map) -> Vec<String>,
    lookup: Option<render::LookupFn>,
) -> Result<RenderedRelease> {
    let ver = opts.helm_version;
    let Prepared { chart, top } = prepare(opts, revision, extra)?;
    let files = render::render(&chart, &top, ver, lookup)?;
    let notes_path = format!("{}/templates/NOTES.txt", chart.name());
    let notes = files
        .get(&notes_path)
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let files: BTreeMap<String, String> = files
        .into_iter()
        .filter(|(k, _)| !k.ends_with("NOTES.txt"))
        .collect();
    let (mut hooks, manifests) = manifest::sort_manifests(&files, ver)?;
    hooks.sort_by_key(|h| h.weight);
    let crds = chart
        .crd_objects(chart.name())
        .into_iter()
        .map(|(path, f)| (path, String::from_utf8_lossy(&f.data).into_owned()))
        .collect();
    Ok(RenderedRelease {
        crds,
        manifests,
        hooks,
        notes,
    })
}

struct Prepared {
    chart: Chart,
    top: Map,
}

/// Everything up to rendering: the chart with its dependencies processed, and the
/// top-level scope (`.Values`, `.Release`, `.Capabilities`). `extra` gives more
/// `--set-json` lines from the chart's own default values, applied after the user's.
fn prepare(
    opts: &TemplateOptions,
    revision: i64,
    extra: &dyn Fn(&Map) -> Vec<String>,
) -> Result<Prepared> {
    let ver = opts.helm_version;
    let name = release_name(opts)?;
    if !opts.chart.exists() {
        return Err(Error::Chart(format!(
            "path {:?} not found",
            opts.chart.display().to_string()
        )));
    }
    // Helm reads the user's values before it loads the chart.
    let mut vals = user_values(opts)?;
    let mut chart = load::load(&opts.chart)?;
    for v in extra(&chart.values) {
        strvals::parse_into(&v, &mut vals, ValueKind::Json)
            .map_err(|_| Error::Values(format!("failed parsing --set-json data {v}")))?;
    }
    match chart.metadata.chart_type.as_str() {
        "" | "application" => {}
        other => return Err(Error::Chart(format!("{other} charts are not installable"))),
    }
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !chart.dependencies.iter().any(|d| d.name() == r.name))
        .map(|r| r.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Chart(format!(
            "found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        )));
    }
    deps::process_dependencies(&mut chart, &vals, ver)?;
    let kube = match &opts.kube_version {
        Some(k) => KubeVersion::parse(k)
            .map_err(|e| Error::Usage(format!("invalid kube version '{k}': {e}")))?,
        None => KubeVersion::parse(
            opts.default_kube_version
                .as_deref()
                .unwrap_or(default_kube_version(ver)),
        )
        .map_err(Error::Usage)?,
    };
    let mut apis = opts
        .cluster_api_versions
        .clone()
        .unwrap_or_else(default_api_versions);
    apis.extend(opts.api_versions.iter().cloned());
    let caps = Capabilities {
        kube_version: kube,
        api_versions: ApiVersions(apis),
        helm_version: match ver {
            HelmVersion::V3 => "v3.21.4",
            HelmVersion::V4_1 => "v4.1.4",
            HelmVersion::V4_2 => "v4.2.4",
        }
        .into(),
    };
    let coalesced = values::coalesce_values(&chart, &vals, ver)?;
    schema::validate(&chart, &coalesced)?;
    if !chart.metadata.kube_version.is_empty()
        && !crate::semver::is_compatible_range(
            &chart.metadata.kube_version,
            &caps.kube_version.version,
        )
    {
        return Err(Error::Chart(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {}",
            chart.metadata.kube_version, caps.kube_version.version
        )));
    }
    let mut top = Map::new();
    top.insert("Values".into(), Value::Map(coalesced));
    top.insert(
        "Release".into(),
        release_at(&name, &opts.namespace, opts.is_upgrade, revision),
    );
    top.insert("Capabilities".into(), Value::Object(Rc::new(caps)));
    Ok(Prepared { chart, top })
}

/// `.Release` for a first install (revision 1) or an upgrade.
pub fn release(name: &str, namespace: &str, is_upgrade: bool) -> Value {
    release_at(name, namespace, is_upgrade, 1)
}

/// `.Release` at a given revision.
pub fn release_at(name: &str, namespace: &str, is_upgrade: bool, revision: i64) -> Value {
    Value::map([
        ("Name", Value::str(name)),
        ("Namespace", Value::str(namespace)),
        ("IsUpgrade", Value::Bool(is_upgrade)),
        ("IsInstall", Value::Bool(!is_upgrade)),
        ("Revision", Value::Int(revision)),
        ("Service", Value::str("Helm")),
    ])
}

fn release_name(opts: &TemplateOptions) -> Result<String> {
    let name = match (&opts.release_name, &opts.name_template) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "cannot set --name-template and also specify a name".into(),
            ));
        }
        (Some(n), None) => n.clone(),
        (None, Some(t)) => {
            let mut engine = gotemplate::Engine::helm();
            engine
                .parse("name-template", t)
                .map_err(|e| Error::Usage(e.to_string()))?;
            engine
                .execute("name-template", &Value::Nil)
                .map_err(|e| Error::Usage(e.to_string()))?
        }
        (None, None) => "release-name".into(),
    };
    let valid =
        regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("valid regex");
    if name.is_empty() || name.len() > 53 || !valid.is_match(&name) {
        return Err(Error::Usage(format!(
            "release name {name:?}: invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53"
        )));
    }
    Ok(name)
}

/// The user's values: `-f` files merged in order, then `--set-json`, `--set`,
/// `--set-string` and `--set-file`.
pub fn user_values(opts: &TemplateOptions) -> Result<Map> {
    let mut base = Map::new();
    for path in &opts.values_files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(format!("open {}: {}", path.display(), io_reason(&e))))?;
        let current = values::read_values(&text)
            .map_err(|e| Error::Values(format!("failed to parse {}: {e}", path.display())))?;
        base = values::merge_maps(base, current);
    }
    for v in &opts.set_json {
        strvals::parse_into(v, &mut base, ValueKind::Json)
            .map_err(|_| Error::Values(format!("failed parsing --set-json data {v}")))?;
    }
    for v in &opts.set {
        strvals::parse_into(v, &mut base, ValueKind::Typed)
            .map_err(|e| Error::Values(format!("failed parsing --set data: {e}")))?;
    }
    for v in &opts.set_string {
        strvals::parse_into(v, &mut base, ValueKind::String)
            .map_err(|e| Error::Values(format!("failed parsing --set-string data: {e}")))?;
    }
    let read =
        |p: &str| std::fs::read_to_string(p).map_err(|e| format!("open {p}: {}", io_reason(&e)));
    for v in &opts.set_file {
        strvals::parse_into(v, &mut base, ValueKind::File(&read))
            .map_err(|e| Error::Values(format!("failed parsing --set-file data: {e}")))?;
    }
    Ok(base)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

#[derive(Default)]
struct WrittenFiles(std::collections::BTreeSet<String>);

/// The manifest stream (`rel.Manifest`): CRDs (with `--include-crds`) then manifests;
/// with `--output-dir` they are written to files instead.
fn assemble(
    opts: &TemplateOptions,
    chart: &Chart,
    manifests: &[Manifest],
    written: &mut WrittenFiles,
    out: &mut String,
) -> Result<String> {
    let mut b = String::new();
    if opts.include_crds {
        for (path, f) in chart.crd_objects(chart.name()) {
            let data = String::from_utf8_lossy(&f.data);
            match &opts.output_dir {
                None => b.push_str(&format!("---\n# Source: {path}\n{data}\n")),
                Some(dir) => {
                    let append = !written.0.insert(path.clone());
                    write_to_file(dir, &path, &data, append, out)?;
                }
            }
        }
    }
    for m in manifests {
        match &opts.output_dir {
            None => b.push_str(&format!("---\n# Source: {}\n{}\n", m.name, m.content)),
            Some(dir) => {
                let append = !written.0.insert(m.name.clone());
                write_to_file(dir, &m.name, &m.content, append, out)?;
            }
        }
    }
    Ok(b)
}

fn write_to_file(dir: &Path, name: &str, data: &str, append: bool, out: &mut String) -> Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Io(format!("cannot create `{}`: {e}", parent.display())))?;
    }
    let text = format!("---\n# Source: {name}\n{data}\n");
    let result = if append {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
    } else {
        std::fs::write(&path, text)
    };
    result.map_err(|e| Error::Io(format!("cannot write `{}`: {e}", path.display())))?;
    out.push_str(&format!("wrote {}/{name}\n", dir.display()));
    Ok(())
}

/// `--show-only`: the documents whose template path (without the chart's name)
/// matches each pattern, in the order of the patterns.
fn show_only(manifests: &str, patterns: &[String], ver: HelmVersion) -> Result<Vec<String>> {
    let docs = manifest::split_manifests(manifests, ver);
    let source = regex::Regex::new(r"# Source: [^/]+/(.+)").expect("valid regex");
    let mut selected = Vec::new();
    for f in patterns {
        let f = f.replace('\\', "/");
        let mut missing = true;
        for doc in &docs {
            let Some(c) = source.captures(doc) else {
                continue;
            };
            if glob::go_match(&f, &c[1]).unwrap_or(false) {
                selected.push(doc.clone());
                missing = false;
            }
        }
        if missing {
            return Err(Error::Usage(format!(
                "could not find template {f} in chart"
            )));
        }
    }
    Ok(selected)
}

/// Hooks of a rendered chart, for callers that deploy rather than print.
pub fn hooks_of(files: &BTreeMap<String, String>, ver: HelmVersion) -> Result<Vec<Hook>> {
    Ok(manifest::sort_manifests(files, ver)?.0)
}

/// Helm's argument rules for `helm template [NAME] CHART`: the release name (when
/// given) and the chart.
pub fn name_and_chart(
    args: &[String],
    has_name_template: bool,
) -> std::result::Result<(Option<String>, String), TemplateOutput> {
    match args {
        [] => Err(TemplateOutput::failed(
            "\"helm template\" requires at least 1 argument\n\nUsage:  helm template [NAME] [CHART] [flags]",
        )),
        [chart] => Ok((None, chart.clone())),
        [name, chart] => {
            if has_name_template {
                return Err(TemplateOutput::failed(
                    "cannot set --name-template and also specify a name",
                ));
            }
            Ok((Some(name.clone()), chart.clone()))
        }
        [_, _, rest @ ..] => Err(TemplateOutput::failed(format!(
            "expected at most two arguments, unexpected arguments: {}",
            rest.join(", ")
        ))),
    }
}

//! Manifests: where they are, the images they run, overlays, namespaces and a migration Job.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use slipway_config::yaml::{self, Node};
use slipway_render::image_repository;

use super::{ImageGuess, MAX_DEPTH, ManifestGuess, ManifestImage, Overlay, dns_label, slash_path};

/// Where manifests usually live, in the order they are preferred.
pub(super) const MANIFEST_DIRS: &[&str] = &[
    "k8s",
    "deploy/k8s",
    "deploy/kubernetes",
    "deploy/manifests",
    "deploy",
    "manifests",
    "kubernetes-manifests",
    "kubernetes",
    "kustomize",
    "kube",
    ".k8s",
];

/// How deep folders are searched for manifests that are not in a usual place.
const CANDIDATE_DEPTH: usize = 3;

/// What the manifest files hold.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ManifestFacts {
    /// Every image of a workload and every kustomization `newName`.
    pub(super) images: Vec<ManifestImage>,
    pub(super) migration_job: Option<String>,
}

/// The manifests found: the chosen ones with their overlays, then the other folders
/// that could be deployed instead. Folders are tried in this order: those `preferred`
/// (named by `skaffold.yaml`), the usual places ([`MANIFEST_DIRS`]), then any folder with
/// a kustomization or Kubernetes objects; a folder inside (or around) one already found
/// is the same manifests and is not listed again.
pub(super) fn guess_manifests(
    root: &Path,
    preferred: &[String],
) -> (Option<ManifestGuess>, Vec<Overlay>, Vec<ManifestGuess>) {
    let mut dirs: Vec<String> = preferred.to_vec();
    dirs.extend(MANIFEST_DIRS.iter().map(|d| (*d).to_string()));
    let mut discovered = Vec::new();
    discover(root, root, 0, &mut discovered);
    discovered.sort();
    dirs.extend(discovered);

    let mut found: Vec<(ManifestGuess, Vec<Overlay>)> = Vec::new();
    for dir in dirs {
        let overlaps = |m: &ManifestGuess| {
            let (a, b) = (Path::new(&m.dir), Path::new(&dir));
            a.starts_with(b) || b.starts_with(a)
        };
        if found.iter().any(|(m, _)| overlaps(m)) {
            continue;
        }
        if let Some(guess) = manifests_in(root, &dir) {
            found.push(guess);
        }
    }
    let mut found = found.into_iter();
    match found.next() {
        Some((chosen, overlays)) => (Some(chosen), overlays, found.map(|(m, _)| m).collect()),
        None => (None, Vec::new(), Vec::new()),
    }
}

/// The manifests in `dir`: `base/` with `overlays/<env>/`, a kustomization, or plain YAML.
fn manifests_in(root: &Path, dir: &str) -> Option<(ManifestGuess, Vec<Overlay>)> {
    let path = root.join(dir);
    if !path.is_dir() {
        return None;
    }
    let guess = |path: String, kustomization: bool| ManifestGuess {
        path,
        kustomization,
        dir: dir.to_string(),
    };
    // base/ + overlays/<env>/ is the usual kustomize layout.
    if has_kustomization(&path.join("base")) && !has_kustomization(&path) {
        let overlays = overlays(root, &path.join("overlays"));
        return Some((guess(format!("{dir}/base"), true), overlays));
    }
    if has_kustomization(&path) {
        return Some((guess(dir.to_string(), true), Vec::new()));
    }
    contains_yaml(&path, 0).then(|| (guess(dir.to_string(), false), Vec::new()))
}

/// Collects, relative to `root`, the folders under `dir` that hold a kustomization (or a
/// `base/` one) or YAML files with Kubernetes objects; it does not look inside them, nor
/// inside Helm charts and folders of tests and examples.
fn discover(root: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let skipped = name.starts_with('.')
            || super::SKIPPED_DIRS.contains(&name.as_ref())
            || super::NOT_SHIPPED_FOLDERS.contains(&name.to_ascii_lowercase().as_str())
            // A Helm chart's templates are not manifests (see the note on charts).
            || path.join("Chart.yaml").is_file();
        if !path.is_dir() || skipped {
            continue;
        }
        let candidate = has_kustomization(&path)
            || has_kustomization(&path.join("base"))
            || holds_kubernetes_objects(&path);
        if candidate {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(slash_path(rel));
            }
        } else if depth + 1 < CANDIDATE_DEPTH {
            discover(root, &path, depth + 1, out);
        }
    }
}

/// Whether a YAML file directly in `dir` holds an object with `apiVersion` and `kind`
/// (other than a skaffold configuration).
fn holds_kubernetes_objects(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        let is_yaml = matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml")
        );
        let Some(docs) = is_yaml
            .then(|| fs::read_to_string(&path).ok())
            .flatten()
            .and_then(|t| yaml::parse_documents(&t).ok())
        else {
            return false;
        };
        docs.iter().any(|d| {
            let api = d.get("apiVersion").and_then(Node::as_str);
            api.is_some_and(|a| !a.starts_with("skaffold/"))
                && d.get("kind").and_then(Node::as_str).is_some()
        })
    })
}

pub(super) const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

pub(super) fn has_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file())
}

/// The `namespace:` of the kustomization in `dir`, when it is a DNS label.
pub(super) fn kustomization_namespace(dir: &Path) -> Option<String> {
    let file = KUSTOMIZATION_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())?;
    let docs = yaml::parse_documents(&fs::read_to_string(file).ok()?).ok()?;
    let namespace = docs.first()?.get("namespace")?.as_str()?;
    (dns_label(namespace).as_deref() == Some(namespace)).then(|| namespace.to_string())
}

pub(super) fn overlays(root: &Path, dir: &Path) -> Vec<Overlay> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Overlay> = entries
        .flatten()
        .filter(|e| has_kustomization(&e.path()))
        .filter_map(|e| {
            Some(Overlay {
                env: dns_label(e.file_name().to_str()?)?,
                path: e.path().strip_prefix(root).ok().map(slash_path)?,
                namespace: kustomization_namespace(&e.path()),
            })
        })
        .collect();
    found.sort_by_key(|o| (env_rank(&o.env), o.env.clone()));
    found
}

/// Reads every YAML file under `dir` (those under `preferred` first): the images of
/// their workloads, the `newName`s of their kustomizations' `images`, and a Job that
/// looks like a migration. Files that are not YAML (templates) are skipped.
pub(super) fn read_manifests(root: &Path, dir: &str, preferred: &str) -> ManifestFacts {
    let mut files = Vec::new();
    yaml_files(&root.join(dir), 0, &mut files);
    let preferred = root.join(preferred);
    files.sort_by_key(|f| (!f.starts_with(&preferred), f.clone()));

    let mut facts = ManifestFacts::default();
    for file in files {
        let Ok(docs) = fs::read_to_string(&file).map(|t| yaml::parse_documents(&t)) else {
            continue;
        };
        let Ok(docs) = docs else { continue };
        let rel = file.strip_prefix(root).map(slash_path).unwrap_or_default();
        for doc in &docs {
            let images = workload_images(doc)
                .into_iter()
                .map(|i| (i, true))
                .chain(kustomization_new_names(doc).into_iter().map(|i| (i, false)));
            for (image, run) in images {
                let usable = usable_repository(&image);
                facts.images.push(ManifestImage {
                    repository: usable
                        .clone()
                        .unwrap_or_else(|| image_repository(&image).to_string()),
                    has_registry: usable.is_some(),
                    run,
                    image,
                    file: rel.clone(),
                });
            }
            if facts.migration_job.is_none() && is_migration_job(doc, &rel) {
                facts.migration_job = Some(rel.clone());
            }
        }
    }
    facts
}

pub(super) fn yaml_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < MAX_DEPTH {
                yaml_files(&path, depth + 1, out);
            }
        } else if matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// Where the pod spec of a workload kind is.
pub(super) fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => Some(&["spec", "template", "spec"]),
        _ => None,
    }
}

/// The images of a workload's containers and init containers.
pub(super) fn workload_images(doc: &Node) -> Vec<String> {
    let Some(path) = doc
        .get("kind")
        .and_then(Node::as_str)
        .and_then(pod_spec_path)
    else {
        return Vec::new();
    };
    let Some(spec) = path.iter().try_fold(doc, |node, key| node.get(key)) else {
        return Vec::new();
    };
    ["initContainers", "containers"]
        .iter()
        .filter_map(|list| spec.get(list)?.items())
        .flatten()
        .filter_map(|c| Some(c.get("image")?.as_str()?.to_string()))
        .collect()
}

/// The `newName`s of a kustomization's `images`.
pub(super) fn kustomization_new_names(doc: &Node) -> Vec<String> {
    let Some(images) = doc.get("images").and_then(Node::items) else {
        return Vec::new();
    };
    if doc
        .get("kind")
        .is_some_and(|k| k.as_str() != Some("Kustomization"))
    {
        return Vec::new();
    }
    images
        .iter()
        .filter_map(|i| Some(i.get("newName")?.as_str()?.to_string()))
        .collect()
}

/// A Job whose name or file name says it migrates.
pub(super) fn is_migration_job(doc: &Node, file: &str) -> bool {
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or_default();
    let file_name = file.rsplit('/').next().unwrap_or(file);
    doc.get("kind").and_then(Node::as_str) == Some("Job")
        && (name.contains("migrat") || file_name.to_ascii_lowercase().contains("migrat"))
}

/// The repository of an image that names its registry host and that `slipway.yaml`
/// accepts (`myacr.azurecr.io/api:latest` → `myacr.azurecr.io/api`); `None` for
/// Docker Hub shorthands such as `nginx` or `acme/api`.
pub(super) fn usable_repository(image: &str) -> Option<String> {
    let repository = image_repository(image);
    let (host, path) = repository.split_once('/')?;
    let (name, port) = host.split_once(':').unwrap_or((host, "0"));
    let host_ok = (host.contains(['.', ':']) || host == "localhost")
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit());
    let path_ok = !path.is_empty()
        && path.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'/')
        });
    (host_ok && path_ok).then(|| repository.to_string())
}

/// Gives each image the manifest image it is run as: the first whose repository names a
/// registry and ends in the image's name, else one written as the image's bare name
/// (`image: frontend`, as skaffold projects write them). Returns the registry when every
/// image matched with a registry has the same prefix (then their repositories are
/// `<registry>/<name>` and need not be written); otherwise each such image gets its
/// repository written out.
pub(super) fn match_repositories(
    images: &mut [ImageGuess],
    found: &[ManifestImage],
) -> Option<String> {
    for image in images.iter_mut() {
        image.source = found
            .iter()
            .find(|m| {
                m.has_registry && m.repository.rsplit('/').next() == Some(image.name.as_str())
            })
            .or_else(|| {
                found
                    .iter()
                    .find(|m| !m.has_registry && m.repository == image.name)
            })
            .cloned();
    }
    let prefixes: BTreeSet<&str> = images
        .iter()
        .filter_map(|i| i.source.as_ref().filter(|s| s.has_registry))
        .filter_map(|s| Some(s.repository.rsplit_once('/')?.0))
        .collect();
    if prefixes.len() == 1 {
        return prefixes.first().map(|p| (*p).to_string());
    }
    for image in images.iter_mut() {
        image.repository = image
            .source
            .as_ref()
            .filter(|s| s.has_registry)
            .map(|m| m.repository.clone());
    }
    None
}

/// The images workloads run that are none of `images`, each once: pulled as written.
pub(super) fn external_images(
    images: &[ImageGuess],
    found: &[ManifestImage],
) -> Vec<ManifestImage> {
    let mut external: Vec<ManifestImage> = Vec::new();
    for m in found.iter().filter(|m| m.run) {
        let ours = images.iter().any(|i| {
            i.source
                .as_ref()
                .is_some_and(|s| s.repository == m.repository)
                || (!m.has_registry && m.repository == i.name)
        });
        if !ours && !external.iter().any(|e| e.image == m.image) {
            external.push(m.clone());
        }
    }
    external
}

/// Orders environments the way they are promoted.
pub(super) fn env_rank(env: &str) -> u8 {
    match env {
        "dev" | "development" | "local" => 0,
        "test" | "qa" => 1,
        "uat" => 2,
        "staging" | "stage" | "preprod" => 3,
        "prod" | "production" => 4,
        _ => 5,
    }
}

pub(super) fn contains_yaml(dir: &Path, depth: usize) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            depth < MAX_DEPTH && contains_yaml(&path, depth + 1)
        } else {
            matches!(
                path.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml")
            )
        }
    })
}

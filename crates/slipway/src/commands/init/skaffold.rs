//! `skaffold.yaml`: the artifacts a skaffold project builds (image, context, Dockerfile,
//! target) and the manifests it deploys. When a repository has one, it names every image
//! and its context, which beats guessing from the Dockerfiles found.
//!
//! Every document of the file counts (a file may hold several configurations, each with
//! `build.artifacts`); `profiles` are variants and are not read. Manifests are taken from
//! `manifests.rawYaml` and `manifests.kustomize.paths` (skaffold v2+ `deploy.kubectl.manifests`
//! and `deploy.kustomize.paths` too) and reduced to their directories.

use std::fs;
use std::path::Path;

use slipway_config::yaml::{self, Node};

/// What `skaffold.yaml` says.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Skaffold {
    pub(super) artifacts: Vec<Artifact>,
    /// Directories of the manifests it deploys, in file order, without repeats.
    pub(super) manifest_dirs: Vec<String>,
    /// What was left out, each with `skaffold.yaml:line:column`.
    pub(super) problems: Vec<String>,
}

/// One entry of `build.artifacts`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Artifact {
    /// As written, such as `frontend` or `gcr.io/acme/frontend`.
    pub(super) image: String,
    /// Relative to the repository, `.` by default.
    pub(super) context: String,
    /// How it is built.
    pub(super) build: ArtifactBuild,
    /// `docker.buildArgs`, in file order.
    pub(super) build_args: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum ArtifactBuild {
    /// A Dockerfile, relative to the repository, with an optional target.
    Dockerfile {
        dockerfile: String,
        target: Option<String>,
    },
    /// A builder slipway does not have (`jib`, `ko`, `buildpacks`, `bazel`, `custom`).
    Other(String),
}

/// The builders of skaffold that do not use a Dockerfile.
const OTHER_BUILDERS: &[&str] = &["jib", "ko", "buildpacks", "bazel", "custom"];

/// Reads `skaffold.yaml` (or `skaffold.yml`) at `root`: `Ok(None)` when there is none or
/// it is not a skaffold configuration, an error naming the file, line and column when it
/// is not YAML.
pub(super) fn read(root: &Path) -> Result<Option<Skaffold>, String> {
    let Some((file, text)) = ["skaffold.yaml", "skaffold.yml"]
        .iter()
        .find_map(|f| Some((*f, fs::read_to_string(root.join(f)).ok()?)))
    else {
        return Ok(None);
    };
    parse(file, &text).map_err(|e| format!("`{file}`:{e}"))
}

/// Reads the text of `file`, which is named in the problems reported.
pub(super) fn parse(file: &str, text: &str) -> Result<Option<Skaffold>, yaml::YamlError> {
    let docs = yaml::parse_documents(text)?;
    let docs: Vec<&Node> = docs
        .iter()
        .filter(|d| {
            d.get("apiVersion")
                .and_then(Node::as_str)
                .is_some_and(|v| v.starts_with("skaffold/"))
        })
        .collect();
    if docs.is_empty() {
        return Ok(None);
    }
    let mut found = Skaffold::default();
    for doc in docs {
        let required = doc
            .get("requires")
            .and_then(Node::items)
            .unwrap_or_default();
        for path in required.iter().filter_map(|r| r.get("path")) {
            found.problems.push(format!(
                "`{file}`:{}:{}: `requires` names `{}`, which is not read: add its \
                 images by hand",
                path.line,
                path.column,
                path.as_scalar().map_or("", |s| s.text.as_str())
            ));
        }
        let artifacts = doc
            .get("build")
            .and_then(|b| b.get("artifacts"))
            .and_then(Node::items)
            .unwrap_or_default();
        for node in artifacts {
            match artifact(node) {
                Some(artifact) => found.artifacts.push(artifact),
                None => found.problems.push(format!(
                    "`{file}`:{}:{}: an artifact without `image` was left out",
                    node.line, node.column
                )),
            }
        }
        for dir in manifest_dirs(doc) {
            if !found.manifest_dirs.contains(&dir) {
                found.manifest_dirs.push(dir);
            }
        }
    }
    Ok(Some(found))
}

fn artifact(node: &Node) -> Option<Artifact> {
    let image = node.get("image")?.as_str()?.to_string();
    let context = node
        .get("context")
        .and_then(Node::as_str)
        .map_or_else(|| ".".to_string(), clean_path);
    if let Some(other) = OTHER_BUILDERS.iter().find(|b| node.get(b).is_some()) {
        return Some(Artifact {
            image,
            context,
            build: ArtifactBuild::Other((*other).to_string()),
            build_args: Vec::new(),
        });
    }
    let docker = node.get("docker");
    let file = docker
        .and_then(|d| d.get("dockerfile"))
        .and_then(Node::as_str)
        .unwrap_or("Dockerfile");
    // skaffold's `dockerfile` is relative to the context; slipway's to the repository.
    let dockerfile = if context == "." {
        clean_path(file)
    } else {
        clean_path(&format!("{context}/{file}"))
    };
    let target = docker
        .and_then(|d| d.get("target"))
        .and_then(Node::as_str)
        .map(str::to_string);
    let build_args = docker
        .and_then(|d| d.get("buildArgs"))
        .and_then(Node::entries)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_scalar()?.text.clone())))
        .collect();
    Some(Artifact {
        image,
        context,
        build: ArtifactBuild::Dockerfile { dockerfile, target },
        build_args,
    })
}

/// The directories of the manifests a configuration deploys.
fn manifest_dirs(doc: &Node) -> Vec<String> {
    let strings = |node: Option<&Node>| -> Vec<String> {
        node.and_then(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect()
    };
    let manifests = doc.get("manifests");
    let deploy = doc.get("deploy");
    let kustomize = strings(manifests.and_then(|m| m.get("kustomize")?.get("paths")))
        .into_iter()
        .chain(strings(
            deploy.and_then(|d| d.get("kustomize")?.get("paths")),
        ))
        .map(|p| clean_path(&p));
    let raw = strings(manifests.and_then(|m| m.get("rawYaml")))
        .into_iter()
        .chain(strings(
            deploy.and_then(|d| d.get("kubectl")?.get("manifests")),
        ))
        .map(|glob| glob_dir(&glob));
    kustomize.chain(raw).filter(|d| d != ".").collect()
}

/// The directory part of a glob before its first wildcard:
/// `./kubernetes-manifests/*.yaml` → `kubernetes-manifests`.
fn glob_dir(glob: &str) -> String {
    let fixed: Vec<&str> = glob
        .split('/')
        .take_while(|part| !part.contains(['*', '?', '[', '{']))
        .collect();
    let dir = match fixed.split_last() {
        // The whole glob is fixed: a file, whose directory is wanted.
        Some((_, dir)) if fixed.len() == glob.split('/').count() => dir.join("/"),
        _ => fixed.join("/"),
    };
    clean_path(&dir)
}

/// `./a//b/` → `a/b`; empty → `.`.
fn clean_path(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_and_manifests_of_every_configuration_are_read() {
        let text = "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n\
                    \x20   - image: emailservice\n      context: src/emailservice\n\
                    \x20   - image: cartservice\n      context: ./src/cartservice/src\n      docker:\n        dockerfile: Dockerfile\n        target: final\n        buildArgs: {CONFIG: release, PORT: 7070}\n\
                    \x20   - image: adservice\n      context: src/adservice\n      jib: {}\n\
                    \x20   - image: root\n      docker: {dockerfile: build/Containerfile}\n\
                    manifests:\n  kustomize:\n    paths: [kubernetes-manifests]\n\
                    ---\napiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n    - image: loadgenerator\n      context: src/loadgenerator\n\
                    manifests:\n  rawYaml:\n    - ./kubernetes-manifests/loadgenerator.yaml\n    - ./extra/**/*.yaml\n";
        let found = parse("skaffold.yaml", text).unwrap().unwrap();
        let dockerfile = |d: &str, t: Option<&str>| ArtifactBuild::Dockerfile {
            dockerfile: d.to_string(),
            target: t.map(str::to_string),
        };
        let got: Vec<_> = found
            .artifacts
            .iter()
            .map(|a| (a.image.as_str(), a.context.as_str(), a.build.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "emailservice",
                    "src/emailservice",
                    dockerfile("src/emailservice/Dockerfile", None)
                ),
                (
                    "cartservice",
                    "src/cartservice/src",
                    dockerfile("src/cartservice/src/Dockerfile", Some("final"))
                ),
                (
                    "adservice",
                    "src/adservice",
                    ArtifactBuild::Other("jib".into())
                ),
                ("root", ".", dockerfile("build/Containerfile", None)),
                (
                    "loadgenerator",
                    "src/loadgenerator",
                    dockerfile("src/loadgenerator/Dockerfile", None)
                ),
            ]
        );
        assert_eq!(found.manifest_dirs, ["kubernetes-manifests", "extra"]);
        assert_eq!(
            found.artifacts[1].build_args,
            [
                ("CONFIG".to_string(), "release".to_string()),
                ("PORT".to_string(), "7070".to_string())
            ]
        );
    }

    #[test]
    fn a_file_that_is_not_skaffold_is_ignored() {
        assert_eq!(
            parse("skaffold.yaml", "apiVersion: v1\nkind: ConfigMap\n"),
            Ok(None)
        );
    }

    #[test]
    fn what_cannot_be_read_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("skaffold.yaml"),
            "apiVersion: skaffold/v4beta11\nbuild: [\n",
        )
        .unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(err.starts_with("`skaffold.yaml`:3:1: "), "{err}");

        let text = "apiVersion: skaffold/v4beta11\nrequires:\n  - configs: [app]\n  - path: ./db/skaffold.yaml\n\
                    build:\n  artifacts:\n    - context: src/a\n    - image: b\n";
        let found = parse("skaffold.yaml", text).unwrap().unwrap();
        assert_eq!(found.artifacts.len(), 1);
        assert_eq!(
            found.problems,
            [
                "`skaffold.yaml`:4:11: `requires` names `./db/skaffold.yaml`, which is not read: add its images by hand",
                "`skaffold.yaml`:7:7: an artifact without `image` was left out"
            ]
        );
    }

    #[test]
    fn globs_are_reduced_to_their_directory() {
        assert_eq!(
            glob_dir("./kubernetes-manifests/*.yaml"),
            "kubernetes-manifests"
        );
        assert_eq!(glob_dir("k8s/app.yaml"), "k8s");
        assert_eq!(glob_dir("deploy/**/*.yaml"), "deploy");
        assert_eq!(glob_dir("*.yaml"), ".");
    }
}

//! Dockerfiles: the images they propose. Stages and `ARG`s are read by
//! [`slipway_build::dockerfile`], which the build uses too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub(super) use slipway_build::dockerfile::build_args;
use slipway_build::dockerfile::{Stage, stages};

use super::{ImageGuess, dns_label, slash_path};

/// Unreferenced stages that are steps of a build, not images to ship.
pub(super) const NON_IMAGE_STAGES: &[&str] = &["test", "tests", "lint", "check", "ci", "debug"];

/// Folder names that say where sources are, not which service they belong to: an image
/// whose Dockerfile is in `src/cartservice/src/` is `cartservice`.
const GENERIC_FOLDERS: &[&str] = &[
    "src",
    "source",
    "sources",
    "app",
    "code",
    "docker",
    "dockerfiles",
    ".docker",
    "image",
    "images",
    "container",
    "containers",
    "deploy",
    "deployment",
];

/// Suffixes of `Dockerfile.<suffix>` that name a variant of a service's image (for
/// debugging, local development or tests), not an image to ship.
const VARIANTS: &[&str] = &[
    "debug",
    "dev",
    "develop",
    "development",
    "local",
    "test",
    "tests",
    "ci",
    "lint",
    "e2e",
];

/// `worker` for `Dockerfile.worker`, `worker.Dockerfile` and `worker.dockerfile`.
fn dockerfile_suffix(file_name: &str) -> Option<&str> {
    file_name
        .strip_prefix("Dockerfile.")
        .or_else(|| file_name.strip_prefix("Containerfile."))
        .or_else(|| file_name.strip_suffix(".Dockerfile"))
        .or_else(|| file_name.strip_suffix(".dockerfile"))
}

fn is_variant(suffix: &str) -> bool {
    VARIANTS.contains(&suffix.to_ascii_lowercase().as_str())
}

/// The name of the service a folder holds: its own name, or for a generic folder such
/// as `src`, the nearest enclosing folder that is not generic.
fn service_folder(dir: &Path) -> Option<String> {
    dir.ancestors()
        .filter_map(|d| d.file_name()?.to_str())
        .find(|name| !GENERIC_FOLDERS.contains(&name.to_ascii_lowercase().as_str()))
        .and_then(dns_label)
}

/// The Dockerfile that `rel` is a variant of (`Dockerfile.debug` beside a `Dockerfile`),
/// among the Dockerfiles `all` of the repository.
pub(super) fn variant_of<'a>(rel: &Path, all: &'a [PathBuf]) -> Option<&'a PathBuf> {
    let file_name = rel.file_name()?.to_str()?;
    dockerfile_suffix(file_name).filter(|s| is_variant(s))?;
    all.iter().find(|other| {
        other.parent() == rel.parent()
            && other
                .file_name()
                .is_some_and(|n| n == "Dockerfile" || n == "Containerfile")
    })
}

pub(super) fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || name == "Containerfile"
        || name.starts_with("Dockerfile.")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
}

pub(super) fn guess_images(app: &str, rel: &Path, text: &str) -> Vec<ImageGuess> {
    let stages = stages(text);
    let context_dir = rel.parent().unwrap_or(Path::new(""));
    let context = if context_dir.as_os_str().is_empty() {
        ".".to_string()
    } else {
        slash_path(context_dir)
    };
    let file_name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dockerfile = (file_name != "Dockerfile").then(|| slash_path(rel));

    // The image's base name: the suffix of `Dockerfile.<name>` (unless it names a
    // variant such as `debug`), else the service's folder.
    let base_name = dockerfile_suffix(&file_name)
        .filter(|s| !is_variant(s))
        .and_then(dns_label)
        .or_else(|| service_folder(context_dir))
        .unwrap_or_else(|| app.to_string());

    let used: BTreeSet<&str> = stages
        .iter()
        .flat_map(|s| s.uses.iter().map(String::as_str))
        .collect();
    let last = stages.len().saturating_sub(1);
    let leaves: Vec<(usize, &Stage)> = stages
        .iter()
        .enumerate()
        .filter(|(i, s)| match &s.name {
            Some(name) => {
                !used.contains(name.as_str()) && !NON_IMAGE_STAGES.contains(&name.as_str())
            }
            None => *i == last,
        })
        .collect();

    // One image, built without `--target`, when only the final stage is a leaf.
    if leaves.len() <= 1 && leaves.first().is_none_or(|(i, _)| *i == last) {
        return vec![ImageGuess {
            name: base_name,
            context,
            dockerfile,
            target: None,
            args: build_args(text, None),
            ..ImageGuess::default()
        }];
    }
    leaves
        .into_iter()
        .map(|(i, stage)| {
            let target = stage
                .name
                .clone()
                .filter(|_| i != last || stage.name.is_some());
            ImageGuess {
                name: target
                    .as_deref()
                    .and_then(dns_label)
                    .unwrap_or_else(|| base_name.clone()),
                context: context.clone(),
                dockerfile: dockerfile.clone(),
                args: build_args(text, target.as_deref()),
                target,
                ..ImageGuess::default()
            }
        })
        .collect()
}

/// Two Dockerfiles may propose the same name; later ones get their folder as prefix,
/// then a number.
pub(super) fn dedupe_names(images: &mut [ImageGuess]) {
    let mut seen = BTreeSet::new();
    for image in images.iter_mut() {
        if seen.insert(image.name.clone()) {
            continue;
        }
        let folder = Path::new(&image.context)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(dns_label);
        let mut candidate = match folder {
            Some(folder) if folder != image.name => format!("{folder}-{}", image.name),
            _ => image.name.clone(),
        };
        let mut n = 2;
        while seen.contains(&candidate) {
            candidate = format!("{}-{n}", image.name);
            n += 1;
        }
        seen.insert(candidate.clone());
        image.name = candidate;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_target_dockerfile_proposes_one_image_per_leaf_stage() {
        let text = "FROM golang AS build\nRUN make\n\
                    FROM alpine AS api\nCOPY --from=build /a /a\n\
                    FROM alpine AS worker\nCOPY --from=build /w /w\n\
                    FROM build AS test\nRUN make test\n\
                    FROM node AS admin\n";
        let images = guess_images("honeydue", Path::new("Dockerfile"), text);
        let names: Vec<_> = images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["api", "worker", "admin"]);
        assert!(images.iter().all(|i| i.context == "."));
        assert_eq!(images[1].target.as_deref(), Some("worker"));
    }

    #[test]
    fn single_stage_dockerfile_in_a_folder_is_named_after_the_folder() {
        let images = guess_images(
            "shop",
            Path::new("frontend/Dockerfile"),
            "FROM node AS deps\nRUN npm ci\nFROM node\nCOPY --from=deps /n /n\n",
        );
        assert_eq!(
            images,
            vec![ImageGuess {
                name: "frontend".into(),
                context: "frontend".into(),
                dockerfile: None,
                target: None,
                ..ImageGuess::default()
            }]
        );
    }

    #[test]
    fn a_dockerfile_in_a_src_folder_is_named_after_the_service() {
        let images = guess_images(
            "shop",
            Path::new("src/cartservice/src/Dockerfile"),
            "FROM alpine\n",
        );
        assert_eq!(images[0].name, "cartservice");
        assert_eq!(images[0].context, "src/cartservice/src");
        // A Dockerfile in a generic folder at the top is named after the project.
        let images = guess_images("shop", Path::new("docker/Dockerfile"), "FROM alpine\n");
        assert_eq!(images[0].name, "shop");
    }

    #[test]
    fn a_debug_dockerfile_beside_a_dockerfile_is_a_variant() {
        let all = [
            PathBuf::from("src/email/Dockerfile"),
            PathBuf::from("src/email/Dockerfile.debug"),
            PathBuf::from("src/email/Dockerfile.worker"),
            PathBuf::from("src/other/Dockerfile.dev"),
        ];
        assert_eq!(variant_of(&all[1], &all), Some(&all[0]));
        assert_eq!(variant_of(&all[0], &all), None);
        assert_eq!(variant_of(&all[2], &all), None, "a worker is an image");
        assert_eq!(
            variant_of(&all[3], &all),
            None,
            "nothing it is a variant of"
        );
        // Alone, a variant is the service's image, named after its folder.
        let images = guess_images("shop", &all[3], "FROM alpine\n");
        assert_eq!(images[0].name, "other");
    }

    #[test]
    fn suffixed_dockerfile_names_the_image_and_is_kept_as_dockerfile() {
        let images = guess_images("shop", Path::new("Dockerfile.worker"), "FROM alpine\n");
        assert_eq!(images[0].name, "worker");
        assert_eq!(images[0].dockerfile.as_deref(), Some("Dockerfile.worker"));
    }

    #[test]
    fn duplicate_names_get_their_folder_as_prefix() {
        let mut images = vec![
            ImageGuess {
                name: "api".into(),
                context: "a".into(),
                dockerfile: None,
                target: None,
                ..ImageGuess::default()
            },
            ImageGuess {
                name: "api".into(),
                context: "services/b".into(),
                dockerfile: None,
                target: None,
                ..ImageGuess::default()
            },
        ];
        dedupe_names(&mut images);
        assert_eq!(images[0].name, "api");
        assert_eq!(images[1].name, "b-api");
    }
}

//! Dockerfiles: their stages, the images they propose and the `ARG`s a build can see.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{BuildArg, ImageGuess, dns_label, slash_path};

/// Unreferenced stages that are steps of a build, not images to ship.
pub(super) const NON_IMAGE_STAGES: &[&str] = &["test", "tests", "lint", "check", "ci", "debug"];

/// `ARG`s that BuildKit sets by itself.
pub(super) const PREDEFINED_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

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

/// One stage of a Dockerfile.
#[derive(Debug, PartialEq)]
pub(super) struct Stage {
    name: Option<String>,
    /// Stages this one builds on or copies from.
    uses: Vec<String>,
    /// Its `ARG` instructions.
    args: Vec<BuildArg>,
}

/// Reads the `FROM … AS name` stages of a Dockerfile and what each refers to
/// (`FROM <stage>`, `COPY --from=<stage>`, `RUN --mount=…,from=<stage>`).
pub(super) fn stages(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        let Some(instruction) = words.next() else {
            continue;
        };
        let words: Vec<&str> = words.collect();
        if instruction.eq_ignore_ascii_case("FROM") {
            let args: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let base = args.first().map(|b| b.to_ascii_lowercase());
            let name = match args.as_slice() {
                [_, as_kw, name, ..] if as_kw.eq_ignore_ascii_case("AS") => {
                    Some(name.to_ascii_lowercase())
                }
                _ => None,
            };
            stages.push(Stage {
                name,
                uses: base.into_iter().collect(),
                args: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            if instruction.eq_ignore_ascii_case("ARG") {
                stage.args.extend(words.iter().map(|w| parse_arg(w)));
                continue;
            }
            for word in &words {
                for part in word.split(',') {
                    if let Some(from) = part
                        .strip_prefix("--from=")
                        .or_else(|| part.strip_prefix("from="))
                    {
                        stage.uses.push(from.to_ascii_lowercase());
                    }
                }
            }
        }
    }
    stages
}

/// Build arguments every stage may use in `FROM`: the `ARG`s before the first `FROM`.
pub(super) fn global_args(text: &str) -> Vec<BuildArg> {
    let mut args = Vec::new();
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some(i) if i.eq_ignore_ascii_case("FROM") => break,
            Some(i) if i.eq_ignore_ascii_case("ARG") => args.extend(words.map(parse_arg)),
            _ => {}
        }
    }
    args
}

/// `NAME` or `NAME=default` (quotes around the default removed). A quoted default
/// with spaces is not split correctly; such defaults are rare in `ARG`s.
pub(super) fn parse_arg(word: &str) -> BuildArg {
    match word.split_once('=') {
        Some((name, default)) => BuildArg {
            name: name.to_string(),
            default: Some(default.trim_matches(['"', '\'']).to_string()),
        },
        None => BuildArg {
            name: word.to_string(),
            default: None,
        },
    }
}

/// The `ARG`s that building `target` (the last stage when `None`) can use: those
/// before the first `FROM`, then those of the target stage and of every stage it
/// builds on or copies from, in file order. The platform `ARG`s BuildKit predefines
/// are left out, and a name declared twice is listed once (with the first default).
pub(super) fn build_args(text: &str, target: Option<&str>) -> Vec<BuildArg> {
    let stages = stages(text);
    let visible = visible_stages(&stages, target);
    let mut out: Vec<BuildArg> = Vec::new();
    let declared = global_args(text).into_iter().chain(
        stages
            .into_iter()
            .enumerate()
            .filter(|(i, _)| visible.contains(i))
            .flat_map(|(_, stage)| stage.args),
    );
    for arg in declared {
        if PREDEFINED_ARGS.contains(&arg.name.as_str()) {
            continue;
        }
        match out.iter_mut().find(|a| a.name == arg.name) {
            Some(seen) if seen.default.is_none() => seen.default = arg.default,
            Some(_) => {}
            None => out.push(arg),
        }
    }
    out
}

/// The indices of `target` and of every stage it depends on.
pub(super) fn visible_stages(stages: &[Stage], target: Option<&str>) -> BTreeSet<usize> {
    let start = match target {
        Some(t) => stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&*t.to_ascii_lowercase())),
        None => stages.len().checked_sub(1),
    };
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = start.into_iter().collect();
    while let Some(i) = todo.pop() {
        if !seen.insert(i) {
            continue;
        }
        for used in &stages[i].uses {
            // A stage is named, or referred to by its index (`COPY --from=0`).
            let found = stages[..i]
                .iter()
                .position(|s| s.name.as_deref() == Some(used.as_str()))
                .or_else(|| used.parse::<usize>().ok().filter(|n| *n < i));
            todo.extend(found);
        }
    }
    seen
}

/// Joins `\` continuations and drops comments and blank lines.
pub(super) fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
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

    fn stage_names(text: &str) -> Vec<Option<String>> {
        stages(text).into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn stages_are_read_with_continuations_comments_and_platform_flags() {
        let text = "# syntax=docker/dockerfile:1\n\
                    FROM --platform=$BUILDPLATFORM golang:1.24 AS build\n\
                    RUN go build \\\n  ./...\n\
                    from alpine as API\n\
                    COPY --from=build /out/api /api\n\
                    FROM alpine\n";
        assert_eq!(
            stage_names(text),
            vec![Some("build".into()), Some("api".into()), None]
        );
        assert_eq!(stages(text)[1].uses, vec!["alpine", "build"]);
    }

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

    #[test]
    fn build_args_are_those_the_target_can_see() {
        let text = "ARG BASE=node:22\nARG BUILDPLATFORM\n\
                    FROM $BASE AS deps\nARG NPM_TOKEN\nARG TARGETARCH\n\
                    FROM $BASE AS builder\nARG NEXT_PUBLIC_API_URL\nARG NODE_ENV=\"production\" \\\n    CI=1\n\
                    COPY --from=deps /n /n\n\
                    FROM builder AS runner\nARG BASE\n\
                    FROM alpine AS tools\nARG TOOLS_ONLY\n";
        let names = |target| -> Vec<(String, Option<String>)> {
            build_args(text, target)
                .into_iter()
                .map(|a| (a.name, a.default))
                .collect()
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            names(Some("runner")),
            [
                ("BASE".to_string(), some("node:22")),
                ("NPM_TOKEN".to_string(), None),
                ("NEXT_PUBLIC_API_URL".to_string(), None),
                ("NODE_ENV".to_string(), some("production")),
                ("CI".to_string(), some("1")),
            ]
        );
        assert_eq!(
            names(None),
            [
                ("BASE".to_string(), some("node:22")),
                ("TOOLS_ONLY".to_string(), None)
            ]
        );
        // `COPY --from=0` refers to a stage by its index.
        let indexed = "FROM a\nARG FIRST\nFROM b\nCOPY --from=0 /x /x\n";
        assert_eq!(build_args(indexed, None)[0].name, "FIRST");
    }
}

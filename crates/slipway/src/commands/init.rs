//! `slipway init`: look at a repository (Dockerfiles and their stages, `k8s/` or
//! `deploy/` folders, kustomizations and their overlays) and write a commented
//! `slipway.yaml` that loads as it is. An existing file is never overwritten.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::error::CliError;
use crate::printer::Printer;

/// Folders that never hold a service's sources or manifests worth proposing.
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".slipway",
    "node_modules",
    "target",
    "vendor",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
];

/// Where manifests usually live, in the order they are preferred.
const MANIFEST_DIRS: &[&str] = &[
    "k8s",
    "deploy/k8s",
    "deploy/kubernetes",
    "deploy/manifests",
    "deploy",
    "manifests",
    "kubernetes",
    "kube",
    ".k8s",
];

/// Unreferenced stages that are steps of a build, not images to ship.
const NON_IMAGE_STAGES: &[&str] = &["test", "tests", "lint", "check", "ci", "debug"];

const MAX_DEPTH: usize = 4;

pub fn run(args: &InitArgs, file: &Path, printer: &Printer) -> Result<(), CliError> {
    let root = std::env::current_dir()?;
    let findings = scan(&root);
    let text = template(&findings);

    // The file must load as written; anything else is a bug in `init`.
    if let Err(err) = slipway_config::parse(&text, &root.join(file)) {
        return Err(CliError::internal(format!(
            "the generated configuration does not load: {err}"
        ))
        .detail(text));
    }

    if args.print {
        printer.data(&text);
        return Ok(());
    }

    let mut out = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
    {
        Ok(out) => out,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::usage(format!(
                "`{}` already exists; `slipway init` never overwrites a file",
                file.display()
            ))
            .hint("see what would be written with `slipway init --print`"));
        }
        Err(err) => {
            return Err(CliError::internal(format!(
                "cannot create `{}`: {err}",
                file.display()
            )));
        }
    };
    out.write_all(text.as_bytes())?;

    printer.info(&format!("wrote `{}`", file.display()));
    for line in findings.summary() {
        printer.info(&format!("  {line}"));
    }
    printer.info("next: review the file, then `slipway validate dev`");
    Ok(())
}

/// What was found in the repository.
#[derive(Debug, Default, PartialEq)]
pub struct Findings {
    pub app: String,
    pub images: Vec<ImageGuess>,
    pub manifests: Option<ManifestGuess>,
    /// `(environment, overlay directory)` from `overlays/<env>/kustomization.yaml`.
    pub overlays: Vec<(String, String)>,
}

#[derive(Debug, PartialEq)]
pub struct ImageGuess {
    pub name: String,
    pub context: String,
    /// Set when the Dockerfile is not `<context>/Dockerfile`.
    pub dockerfile: Option<String>,
    pub target: Option<String>,
}

#[derive(Debug, PartialEq)]
pub struct ManifestGuess {
    pub path: String,
    pub kustomization: bool,
}

impl Findings {
    fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for image in &self.images {
            let mut line = format!("image `{}` from `{}`", image.name, image.context);
            if let Some(target) = &image.target {
                let _ = write!(line, " (stage `{target}`)");
            }
            lines.push(line);
        }
        match &self.manifests {
            Some(m) if m.kustomization => lines.push(format!("kustomization in `{}`", m.path)),
            Some(m) => lines.push(format!("manifests in `{}`", m.path)),
            None => lines.push("no manifests found: set `manifests` before deploying".into()),
        }
        for (env, path) in &self.overlays {
            lines.push(format!("environment `{env}` with overlay `{path}`"));
        }
        lines
    }
}

/// Looks at the repository rooted at `root`.
pub fn scan(root: &Path) -> Findings {
    let mut dockerfiles = Vec::new();
    walk(root, root, 0, &mut dockerfiles);
    dockerfiles.sort();

    let app = dns_label(root.file_name().and_then(|n| n.to_str()).unwrap_or("app"))
        .unwrap_or_else(|| "app".to_string());

    let mut images = Vec::new();
    for rel in &dockerfiles {
        let Ok(text) = fs::read_to_string(root.join(rel)) else {
            continue;
        };
        images.extend(guess_images(&app, rel, &text));
    }
    dedupe_names(&mut images);

    let (manifests, overlays) = guess_manifests(root);
    Findings {
        app,
        images,
        manifests,
        overlays,
    }
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if depth < MAX_DEPTH && !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(root, &path, depth + 1, out);
            }
        } else if kind.is_file()
            && is_dockerfile_name(&name)
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_path_buf());
        }
    }
}

fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || name == "Containerfile"
        || name.starts_with("Dockerfile.")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
}

/// One stage of a Dockerfile.
#[derive(Debug, PartialEq)]
struct Stage {
    name: Option<String>,
    /// Stages this one builds on or copies from.
    uses: Vec<String>,
}

/// Reads the `FROM … AS name` stages of a Dockerfile and what each refers to
/// (`FROM <stage>`, `COPY --from=<stage>`, `RUN --mount=…,from=<stage>`).
fn stages(text: &str) -> Vec<Stage> {
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
            });
        } else if let Some(stage) = stages.last_mut() {
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

/// Joins `\` continuations and drops comments and blank lines.
fn logical_lines(text: &str) -> Vec<String> {
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

fn guess_images(app: &str, rel: &Path, text: &str) -> Vec<ImageGuess> {
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

    // The image's base name: the folder, or the suffix of `Dockerfile.<name>`.
    let suffix = file_name
        .strip_prefix("Dockerfile.")
        .or_else(|| file_name.strip_suffix(".Dockerfile"))
        .or_else(|| file_name.strip_suffix(".dockerfile"));
    let base_name = suffix
        .and_then(dns_label)
        .or_else(|| {
            context_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(dns_label)
        })
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
                target,
            }
        })
        .collect()
}

/// Two Dockerfiles may propose the same name; later ones get their folder as prefix,
/// then a number.
fn dedupe_names(images: &mut [ImageGuess]) {
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

fn guess_manifests(root: &Path) -> (Option<ManifestGuess>, Vec<(String, String)>) {
    for dir in MANIFEST_DIRS {
        let path = root.join(dir);
        if !path.is_dir() {
            continue;
        }
        // base/ + overlays/<env>/ is the usual kustomize layout.
        if has_kustomization(&path.join("base")) {
            let overlays = overlays(root, &path.join("overlays"));
            return (
                Some(ManifestGuess {
                    path: format!("{dir}/base"),
                    kustomization: true,
                }),
                overlays,
            );
        }
        if has_kustomization(&path) {
            return (
                Some(ManifestGuess {
                    path: (*dir).to_string(),
                    kustomization: true,
                }),
                Vec::new(),
            );
        }
        if contains_yaml(&path, 0) {
            return (
                Some(ManifestGuess {
                    path: (*dir).to_string(),
                    kustomization: false,
                }),
                Vec::new(),
            );
        }
    }
    (None, Vec::new())
}

fn has_kustomization(dir: &Path) -> bool {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

fn overlays(root: &Path, dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, String)> = entries
        .flatten()
        .filter(|e| has_kustomization(&e.path()))
        .filter_map(|e| {
            let env = dns_label(e.file_name().to_str()?)?;
            let rel = e.path().strip_prefix(root).ok().map(slash_path)?;
            Some((env, rel))
        })
        .collect();
    found.sort_by_key(|(env, _)| (env_rank(env), env.clone()));
    found
}

/// Orders environments the way they are promoted.
fn env_rank(env: &str) -> u8 {
    match env {
        "dev" | "development" | "local" => 0,
        "test" | "qa" => 1,
        "uat" => 2,
        "staging" | "stage" | "preprod" => 3,
        "prod" | "production" => 4,
        _ => 5,
    }
}

fn contains_yaml(dir: &Path, depth: usize) -> bool {
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

/// Turns a folder or stage name into a DNS label (`My_App` → `my-app`), or `None`
/// when nothing usable is left.
pub fn dns_label(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    out.truncate(63);
    let out = out.trim_end_matches('-').to_string();
    (!out.is_empty() && out.starts_with(|c: char| c.is_ascii_alphanumeric())).then_some(out)
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Quotes a YAML scalar when a plain one would be read as something else.
fn scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !value.starts_with('-')
        && value.parse::<f64>().is_err()
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | ".inf" | ".nan"
        );
    if plain {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

/// The commented `slipway.yaml` for what was found.
pub fn template(f: &Findings) -> String {
    let mut s = String::new();
    let app = &f.app;
    let _ = writeln!(
        s,
        "# slipway.yaml — written by `slipway init`; every key is described in docs/config.md.\n\
         # Check it with `slipway validate dev`, ship with `slipway deploy dev`.\n"
    );
    let _ = writeln!(s, "app: {}\n", scalar(app));
    let _ = writeln!(
        s,
        "# Where images are pushed: change this to your registry (for example\n\
         # `myacr.azurecr.io` or `gitea.example.com/admin`).\n\
         registry: {}\n",
        scalar(&format!("registry.example.com/{app}"))
    );
    let _ = writeln!(
        s,
        "# Every build gets a unique, sortable tag: UTC time and commit.\n\
         tag: \"{{timestamp}}-{{git.short_sha}}\"\n"
    );

    if f.images.is_empty() {
        let _ = writeln!(
            s,
            "# No Dockerfile was found. Describe your images here, for example:\n\
             # images:\n\
             #   api:\n\
             #     context: .\n\
             #     target: api\n\
             #     platform: linux/amd64\n\
             images: {{}}\n"
        );
    } else {
        let _ = writeln!(s, "images:");
        for image in &f.images {
            let _ = writeln!(s, "  {}:", image.name);
            let _ = writeln!(s, "    context: {}", scalar(&image.context));
            if let Some(dockerfile) = &image.dockerfile {
                let _ = writeln!(s, "    dockerfile: {}", scalar(dockerfile));
            }
            if let Some(target) = &image.target {
                let _ = writeln!(s, "    target: {}", scalar(target));
            }
            let _ = writeln!(s, "    platform: linux/amd64   # what your nodes run");
            let _ = writeln!(s, "    # args: {{ KEY: value }}   # build arguments");
        }
        s.push('\n');
    }

    match &f.manifests {
        Some(m) => {
            let what = if m.kustomization {
                "a kustomization"
            } else {
                "plain YAML"
            };
            let _ = writeln!(s, "# The manifests to deploy ({what}).");
            let _ = writeln!(s, "manifests: {}\n", scalar(&m.path));
        }
        None => {
            let _ = writeln!(
                s,
                "# No k8s/ or deploy/ folder was found: point this at your manifests.\n\
                 # manifests: k8s\n"
            );
        }
    }

    let _ = writeln!(
        s,
        "# Jobs that must finish before any workload rolls, such as migrations:\n\
         # hooks:\n\
         #   migrate:\n\
         #     job: k8s/migrate-job.yaml\n"
    );

    let _ = writeln!(s, "environments:");
    let overlay_of = |env: &str| {
        f.overlays
            .iter()
            .find(|(e, _)| e == env)
            .map(|(_, p)| p.clone())
    };
    let _ = writeln!(
        s,
        "  # The built-in sandbox cluster: runs with nothing installed.\n  dev:\n    cluster: sandbox\n    namespace: {}",
        scalar(&format!("{app}-dev"))
    );
    if let Some(overlay) = overlay_of("dev") {
        let _ = writeln!(s, "    overlay: {}", scalar(&overlay));
    }
    let mut previous = "dev".to_string();
    for (env, overlay) in &f.overlays {
        if env == "dev" {
            continue;
        }
        let production = matches!(env.as_str(), "prod" | "production");
        let _ = writeln!(s, "  {env}:");
        let _ = writeln!(
            s,
            "    context: set-me          # the kubeconfig context of this environment's cluster"
        );
        let _ = writeln!(s, "    namespace: {}", scalar(&format!("{app}-{env}")));
        let _ = writeln!(s, "    overlay: {}", scalar(overlay));
        let _ = writeln!(s, "    promote-from: {previous}");
        if production {
            let _ = writeln!(s, "    require-approval: true");
            let _ = writeln!(s, "    dirty: refuse");
        }
        previous = env.clone();
    }
    s
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
            }]
        );
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
            },
            ImageGuess {
                name: "api".into(),
                context: "services/b".into(),
                dockerfile: None,
                target: None,
            },
        ];
        dedupe_names(&mut images);
        assert_eq!(images[0].name, "api");
        assert_eq!(images[1].name, "b-api");
    }

    #[test]
    fn dns_label_lowercases_and_collapses_separators() {
        assert_eq!(dns_label("My_App  v2").as_deref(), Some("my-app-v2"));
        assert_eq!(dns_label("__").as_deref(), None);
        assert_eq!(dns_label(&"a".repeat(80)).map(|s| s.len()), Some(63));
    }

    #[test]
    fn scalars_that_yaml_would_misread_are_quoted() {
        assert_eq!(scalar("deploy/k8s"), "deploy/k8s");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("1.20"), "\"1.20\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(scalar("."), ".");
        assert_eq!(scalar(".NaN"), "\".NaN\"");
    }
}

//! What `render`, `validate`, `diff` and `deploy` share: the images of the release
//! (`--image` overrides, then `.slipway/artifacts.json`), the rendered manifests of every
//! namespace of an environment, and their validation.

use std::collections::BTreeSet;

use slipway_check::{CheckOptions, CrdSchemas, Level, Manifest, Report};
use slipway_config::{Cluster, Environment, RuleLevel};
use slipway_deploy::images::Built;
use slipway_deploy::record::{Release, ReleaseImage};
use slipway_render::release::{self, Rendered};
use slipway_render::{Document, ImagePin};

use crate::error::CliError;
use crate::exit;
use crate::printer::Printer;

use super::project::Project;

/// The images of a release, and those that have none yet.
#[derive(Debug, Default)]
pub struct Images {
    pub pins: Vec<ImagePin>,
    /// What the release records: each image with where it came from.
    pub chosen: Vec<ReleaseImage>,
    pub missing: Vec<String>,
}

/// The last builds, from `.slipway/artifacts.json`.
pub fn builds(project: &Project) -> Result<Vec<Built>, CliError> {
    let config = &project.config;
    let artifacts_path = config
        .base_dir
        .join(slipway_build::orchestrate::artifacts_file(config));
    let artifacts = slipway_build::orchestrate::read_artifacts(&artifacts_path).map_err(|e| {
        CliError::usage(format!(
            "`{}` cannot be read: {e}",
            artifacts_path.display()
        ))
        .hint("run `slipway build` to write it again")
    })?;
    Ok(artifacts
        .images
        .into_iter()
        .map(|a| Built {
            name: a.name,
            reference: a.reference,
            created: a.created,
        })
        .collect())
}

/// The release's images (see `slipway_deploy::images` for the rules).
pub fn images(
    project: &Project,
    builds: &[Built],
    overrides: &[(String, String)],
    only: &[String],
    current: Option<&Release>,
) -> Images {
    let config = &project.config;
    let names: Vec<String> = config.images.iter().map(|i| i.name.clone()).collect();
    let (chosen, missing) =
        slipway_deploy::images::choose(&names, overrides, only, builds, current);
    let pins = chosen
        .iter()
        .filter_map(|c| {
            let image = config.image(&c.name)?;
            Some(ImagePin {
                name: c.name.clone(),
                repository: image.repository.clone(),
                reference: c.reference.clone(),
            })
        })
        .collect();
    Images {
        pins,
        chosen,
        missing,
    }
}

/// The namespaces of an environment, each with the cluster that holds it.
pub fn namespaces(env: &Environment) -> Vec<(Cluster, String)> {
    env.targets
        .iter()
        .flat_map(|t| {
            t.namespaces
                .iter()
                .map(|ns| (t.cluster.clone(), ns.clone()))
        })
        .collect()
}

/// Renders every namespace of `env` with the same images.
pub fn render(
    project: &Project,
    env: &Environment,
    pins: &[ImagePin],
) -> Result<Vec<Rendered>, CliError> {
    namespaces(env)
        .iter()
        .map(|(_, ns)| render_namespace(project, env, ns, pins))
        .collect()
}

/// Renders one namespace of `env`.
pub fn render_namespace(
    project: &Project,
    env: &Environment,
    ns: &str,
    pins: &[ImagePin],
) -> Result<Rendered, CliError> {
    let lookup = |name: &str| std::env::var(name).ok();
    release::render_environment(&project.config, env, ns, pins, &lookup).map_err(|e| {
        let unsupported = matches!(e, slipway_render::RenderError::Unsupported { .. });
        let err = CliError::usage(format!("cannot render `{}`: {e}", env.name));
        if unsupported {
            err.hint("or render this directory with `kubectl kustomize` by setting `manifests.kustomize: kubectl`")
        } else {
            err
        }
    })
}

/// The environment's rule levels (its own over `defaults`), as the checker takes them.
fn levels(env: &Environment) -> std::collections::BTreeMap<String, Level> {
    env.policy
        .rules
        .iter()
        .map(|(id, level)| {
            let level = match level {
                RuleLevel::Error => Level::Error,
                RuleLevel::Warning => Level::Warning,
                RuleLevel::Off => Level::Off,
            };
            (id.clone(), level)
        })
        .collect()
}

/// The rule ids that `slipway.yaml` switches exist and may be switched; a typo is an
/// error here rather than a rule silently left at its default.
pub fn check_rule_ids(project: &Project, env: &Environment) -> Result<(), CliError> {
    let problems = slipway_check::check_levels(&levels(env));
    let Some(first) = problems.first() else {
        return Ok(());
    };
    let mut err = CliError::usage(format!(
        "`{}`: `rules.{}` (in `defaults` or `environments.{}`): {}",
        project.config.file.display(),
        first.id,
        env.name,
        first.message
    ))
    .hint(first.fix.clone());
    for p in &problems[1..] {
        err = err.hint(format!("`rules.{}`: {}; {}", p.id, p.message, p.fix));
    }
    Err(err)
}

/// Validates rendered manifests with the environment's rule levels. Custom resources
/// are checked against the CustomResourceDefinitions rendered with them, then against
/// `cluster_crds` (the cluster's, when `deploy` could read them); the others are
/// reported as unchecked.
pub fn check(env: &Environment, rendered: &Rendered, cluster_crds: Option<CrdSchemas>) -> Report {
    let manifests: Vec<Manifest> = rendered
        .objects
        .iter()
        .chain(rendered.hooks.iter().map(|h| &h.job))
        .map(|o| Manifest {
            object: o.value.clone(),
            file: o.source.file.clone(),
            line: o.source.line,
            document: o.source.document.as_ref().map(Document::shared),
        })
        .collect();
    let levels = levels(env);
    slipway_check::check(
        &manifests,
        &CheckOptions {
            production: env.production,
            levels,
            expected_to_exist: BTreeSet::new(),
            crd_schemas: cluster_crds,
        },
    )
}

/// Prints a validation report; returns whether it had errors.
pub fn print_report(printer: &Printer, namespace: &str, report: &Report) -> bool {
    for f in &report.findings {
        printer.info(&format!("{f}\n  fix: {}", f.fix));
    }
    for u in &report.unchecked {
        printer.info(&format!(
            "{}:{}: unchecked: {}/{}: {}",
            u.file.display(),
            u.line,
            u.object.kind,
            u.object.name,
            u.reason
        ));
    }
    let errors = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .count();
    let warnings = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .count();
    printer.info(&format!(
        "namespace `{namespace}`: {errors} error(s), {warnings} warning(s)"
    ));
    errors > 0
}

/// The error for a release that does not validate.
pub fn validation_failed(env: &str) -> CliError {
    CliError::new(
        exit::VALIDATION,
        format!("`{env}` does not validate; nothing was written to a cluster"),
    )
    .hint("each finding above names its file, line and fix; a rule can be switched per environment under `rules:`")
}

/// Reports images without a build.
pub fn warn_missing(printer: &Printer, images: &Images) {
    for name in &images.missing {
        printer.info(&format!(
            "warning: image `{name}` has no build yet: its manifests keep the image they name (run `slipway build {name}` or pass `--image {name}=REF`)"
        ));
    }
}

/// The report as JSON, for `-o json`.
pub fn report_json(rendered: &Rendered, report: &Report) -> serde_json::Value {
    serde_json::json!({
        "namespace": rendered.namespace,
        "errors": report.findings.iter().filter(|f| f.level == Level::Error).count(),
        "findings": report.findings.iter().map(|f| serde_json::json!({
            "rule": f.rule,
            "level": f.level.to_string(),
            "kind": f.object.kind,
            "name": f.object.name,
            "file": f.file.display().to_string(),
            "line": f.line,
            "column": f.column,
            "field": f.field,
            "message": f.message,
            "fix": f.fix,
            "note": f.note,
        })).collect::<Vec<_>>(),
        "unchecked": report.unchecked.iter().map(|u| serde_json::json!({
            "kind": u.object.kind, "name": u.object.name, "reason": u.reason,
            "file": u.file.display().to_string(), "line": u.line,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    //! An image changed outside the manifests (a hotfix, a newer build) is what the next
    //! release runs, even when that release only changes the manifests.

    use std::fs;

    use slipway_deploy::record::{ReleaseStatus, current};

    use super::*;

    const WRITTEN: &str = "registry.example.com/shop/api:1.0";
    const BUILD_1: &str = "registry.example.com/shop/api:20261122-010000-aaaaaaa@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const HOTFIX: &str = "registry.example.com/shop/api:hotfix@sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const BUILD_3: &str = "registry.example.com/shop/api:20261122-030000-ccccccc@sha256:3333333333333333333333333333333333333333333333333333333333333333";

    /// `slipway.yaml` and one Deployment whose manifest names [`WRITTEN`].
    fn project(dir: &std::path::Path, replicas: u32) -> Project {
        fs::write(
            dir.join("slipway.yaml"),
            "app: shop\nregistry: registry.example.com/shop\nimages:\n  api:\n    files:\n      copy: [{ src: app.txt, dest: /app.txt }]\nmanifests: k8s\nenvironments:\n  prod:\n    context: prod\n    namespace: shop\n",
        )
        .unwrap();
        fs::write(dir.join("app.txt"), "x").unwrap();
        fs::create_dir_all(dir.join("k8s")).unwrap();
        fs::write(
            dir.join("k8s/api.yaml"),
            format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{ app: api }}\n  template:\n    metadata:\n      labels: {{ app: api }}\n    spec:\n      containers:\n        - name: api\n          image: {WRITTEN}\n"),
        )
        .unwrap();
        Project {
            config: slipway_config::load(&dir.join("slipway.yaml")).unwrap(),
        }
    }

    fn build(reference: &str, created: &str) -> Built {
        Built {
            name: "api".into(),
            reference: reference.into(),
            created: created.into(),
        }
    }

    fn record(revision: u64, reference: &str, source: &str, status: ReleaseStatus) -> Release {
        Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "shop".into(),
            revision,
            status,
            started: format!("2026-11-22T0{revision}:30:00Z"),
            finished: None,
            user: String::new(),
            git_commit: None,
            git_dirty: false,
            images: vec![ReleaseImage {
                name: "api".into(),
                reference: reference.into(),
                source: source.into(),
            }],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: String::new(),
            manifest: vec![],
        }
    }

    /// What a deploy renders for `prod`: the images chosen as `deploy` chooses them, the
    /// Deployment's replicas and image.
    fn deploy(project: &Project, builds: &[Built], records: &[Release]) -> (Images, u64, String) {
        let images = images(project, builds, &[], &[], current(records));
        let env = project.config.environment("prod").unwrap();
        let rendered = render_namespace(project, env, "shop", &images.pins).unwrap();
        let api = &rendered
            .objects
            .iter()
            .find(|o| o.kind() == "Deployment")
            .unwrap()
            .value;
        let replicas = api["spec"]["replicas"].as_u64().unwrap();
        let image = api["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .to_owned();
        (images, replicas, image)
    }

    #[test]
    fn a_manifest_only_change_after_a_hotfix_keeps_the_hotfix() {
        let dir = tempfile::tempdir().unwrap();
        // Release 1 ran build 1; release 2 was `deploy --image api=HOTFIX`.
        let records = [
            record(1, BUILD_1, "build", ReleaseStatus::Superseded),
            record(2, HOTFIX, "override", ReleaseStatus::Deployed),
        ];
        let builds = [build(BUILD_1, "2026-11-22T01:00:00Z")];
        // Then only the manifests change, and the app is deployed without a build.
        let project = project(dir.path(), 3);
        let (images, replicas, image) = deploy(&project, &builds, &records);
        assert_eq!(replicas, 3, "the manifest change is rendered");
        assert_eq!(image, HOTFIX);
        assert_eq!(images.chosen[0].source, "kept-override");
        assert!(images.missing.is_empty());
    }

    #[test]
    fn a_manifest_only_change_after_a_newer_build_runs_that_build() {
        let dir = tempfile::tempdir().unwrap();
        let records = [record(2, HOTFIX, "override", ReleaseStatus::Deployed)];
        // Built after release 2 started: it supersedes the hotfix.
        let builds = [build(BUILD_3, "2026-11-22T03:00:00Z")];
        let project = project(dir.path(), 3);
        let (images, replicas, image) = deploy(&project, &builds, &records);
        assert_eq!(replicas, 3);
        assert_eq!(image, BUILD_3);
        assert_eq!(images.chosen[0].source, "build");
    }

    #[test]
    fn without_any_build_the_image_of_the_running_release_is_kept() {
        // A fresh checkout (no `.slipway/artifacts.json`) deploying a manifest change.
        let dir = tempfile::tempdir().unwrap();
        let records = [record(1, BUILD_1, "build", ReleaseStatus::Deployed)];
        let project = project(dir.path(), 4);
        let builds = builds(&project).unwrap();
        assert!(builds.is_empty());
        let (images, replicas, image) = deploy(&project, &builds, &records);
        assert_eq!(replicas, 4);
        assert_eq!(image, BUILD_1);
        assert_eq!(images.chosen[0].source, "kept");
    }

    #[test]
    fn validation_names_the_written_line_of_a_field_of_the_release() {
        // A CRD and two custom resources rendered with the app; the bad one is reported
        // at its field, in its file.
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path(), 2);
        fs::write(
            dir.path().join("k8s/widgets.yaml"),
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: { kind: Widget, plural: widgets }\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n            spec:\n              type: object\n              properties:\n                size: { type: integer }\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: good\nspec:\n  size: 1\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  sise: 1\n",
        )
        .unwrap();
        let records = [record(1, BUILD_1, "build", ReleaseStatus::Deployed)];
        let images = images(&project, &[], &[], &[], current(&records));
        let env = project.config.environment("prod").unwrap();
        let rendered = render_namespace(&project, env, "shop", &images.pins).unwrap();
        let report = check(env, &rendered, None);
        let schema: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.rule == "schema")
            .map(|f| {
                let file = f.file.strip_prefix(dir.path()).unwrap_or(&f.file);
                format!(
                    "{}:{}:{:?} {} {}",
                    file.display(),
                    f.line,
                    f.column,
                    f.field,
                    f.message
                )
            })
            .collect();
        assert_eq!(
            schema,
            ["k8s/widgets.yaml:34:Some(3) spec.sise unknown field `sise`"]
        );
        assert!(report.unchecked.is_empty(), "{:?}", report.unchecked);
    }
}

//! What `render`, `validate`, `diff` and `deploy` share: the images of the release
//! (`--image` overrides, then `.slipway/artifacts.json`), the rendered manifests of every
//! namespace of an environment, and their validation.

use std::collections::BTreeSet;

use slipway_check::{CheckOptions, Level, Manifest, Report};
use slipway_config::{Cluster, Environment, RuleLevel};
use slipway_deploy::images::Built;
use slipway_deploy::record::{Release, ReleaseImage};
use slipway_render::ImagePin;
use slipway_render::release::{self, Rendered};

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
        .join(slipway_build::orchestrate::ARTIFACTS_FILE);
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

/// Validates rendered manifests with the environment's rule levels.
pub fn check(env: &Environment, rendered: &Rendered) -> Report {
    let manifests: Vec<Manifest> = rendered
        .objects
        .iter()
        .chain(rendered.hooks.iter().map(|h| &h.job))
        .map(|o| Manifest {
            object: o.value.clone(),
            file: o.source.file.clone(),
            line: o.source.line,
        })
        .collect();
    let levels = levels(env);
    slipway_check::check(
        &manifests,
        &CheckOptions {
            production: env.production,
            levels,
            expected_to_exist: BTreeSet::new(),
            crd_schemas: None,
        },
    )
}

/// Prints a validation report; returns whether it had errors.
pub fn print_report(printer: &Printer, namespace: &str, report: &Report) -> bool {
    for f in &report.findings {
        let place = format!("{}:{}", f.file.display(), f.line);
        let object = format!("{}/{}", f.object.kind, f.object.name);
        printer.info(&format!(
            "{place}: {}[{}]: {object} `{}`: {}\n  fix: {}",
            f.level, f.rule, f.field, f.message, f.fix
        ));
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
            "field": f.field,
            "message": f.message,
            "fix": f.fix,
        })).collect::<Vec<_>>(),
        "unchecked": report.unchecked.iter().map(|u| serde_json::json!({
            "kind": u.object.kind, "name": u.object.name, "reason": u.reason,
        })).collect::<Vec<_>>(),
    })
}

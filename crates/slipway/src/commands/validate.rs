//! `slipway validate ENV`: render every namespace of the environment and check it —
//! strict schema decoding and the policy rules of `docs/rules.md` — with nothing sent
//! to a cluster.

use crate::cli::{EnvArgs, GlobalArgs};
use crate::error::CliError;
use crate::printer::{Format, Printer};

use super::{project, release};

pub fn run(args: &EnvArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?;
    release::check_rule_ids(&project, env)?;
    let builds = release::builds(&project)?;
    let mut images = release::images(&project, &builds, &[], &[], None);
    // An image of `slipway.yaml` without a build yet will be pinned when it is deployed:
    // validate the manifests as if it were, and say so.
    for name in std::mem::take(&mut images.missing) {
        let Some(image) = project.config.image(&name) else {
            continue;
        };
        printer.info(&format!(
            "note: image `{name}` has no build yet; validating as if it were pinned"
        ));
        images.pins.push(slipway_render::ImagePin {
            name: name.clone(),
            repository: image.repository.clone(),
            reference: format!("{}:not-built@sha256:{}", image.repository, "0".repeat(64)),
        });
    }
    let rendered = release::render(&project, env, &images.pins)?;
    let mut failed = false;
    let mut docs = Vec::new();
    for r in &rendered {
        let report = release::check(env, r, None);
        failed |= release::print_report(printer, &r.namespace, &report);
        docs.push(release::report_json(r, &report));
    }
    if printer.format == Format::Json {
        printer
            .json(&serde_json::json!({"environment": env.name, "ok": !failed, "namespaces": docs}));
    }
    if failed {
        return Err(release::validation_failed(&env.name));
    }
    Ok(())
}

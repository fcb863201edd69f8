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
    let builds = release::builds(&project)?;
    let images = release::images(&project, &builds, &[], &[], None);
    release::warn_missing(printer, &images);
    let rendered = release::render(&project, env, &images.pins)?;
    let mut failed = false;
    let mut docs = Vec::new();
    for r in &rendered {
        let report = release::check(env, r);
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

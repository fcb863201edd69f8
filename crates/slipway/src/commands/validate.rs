//! `slipway validate ENV`: render every namespace of the environment and check it —
//! strict schema decoding and the policy rules of `docs/rules.md` — with nothing sent
//! to a cluster.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::error::CliError;
use crate::printer::{Format, Printer};

use super::{project, release};

pub fn run(args: &ValidateArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?;
    release::check_rule_ids(&project, env)?;
    let overrides: Vec<String> = args.image.iter().map(|(n, _)| n.clone()).collect();
    project.check_images(&overrides)?;
    release::check_overrides(&args.image)?;
    let builds = release::builds(&project)?;
    // The images as `deploy` chooses and checks them, in the same words; an image with
    // nothing to deploy yet is validated as if it were pinned, and said.
    let request = release::ImageRequest {
        builds: &builds,
        overrides: &args.image,
        origin: release::OverrideOrigin::CommandLine,
        only: &[],
        missing: release::MissingImages::AssumePinned,
    };
    let resolver = release::Resolver::new(&project.config, release::RegistryNeed::BestEffort);
    let mut warnings = release::Warnings::default();
    let namespaces = release::namespaces(env);
    let mut rendered = Vec::new();
    // Names of generated Secrets are hashed with this checkout's key: findings name them.
    let key = release::local_key(&project)?;
    for (_, ns) in &namespaces {
        let target = release::Target {
            ns,
            at: Default::default(),
            current: None,
            secret_key: &key,
        };
        let (_, r) =
            release::release_namespace(&project, env, &target, &request, &resolver, &mut warnings)?;
        rendered.push(r);
    }
    warnings.print(printer, namespaces.len());
    let reports: Vec<_> = rendered
        .iter()
        .map(|r| release::check(env, r, None))
        .collect();
    let named: Vec<(&str, &slipway_check::Report)> = rendered
        .iter()
        .zip(&reports)
        .map(|(r, report)| (r.namespace.as_str(), report))
        .collect();
    let failed = release::print_reports(printer, &named, named.len());
    let docs: Vec<_> = rendered
        .iter()
        .zip(&reports)
        .map(|(r, report)| release::report_json(r, report))
        .collect();
    if printer.format == Format::Json {
        printer
            .json(&serde_json::json!({"environment": env.name, "ok": !failed, "namespaces": docs}));
    }
    if failed {
        return Err(release::validation_failed(&env.name));
    }
    Ok(())
}

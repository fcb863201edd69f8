//! `slipway render ENV` and `slipway kustomize DIR`: manifests on standard output (or
//! one file per object), byte-for-byte the same on every run.

use std::path::Path;

use slipway_deploy::record::Release;

use crate::cli::{GlobalArgs, KustomizeArgs, Output, RenderArgs};
use crate::error::CliError;
use crate::printer::{Format, Printer};

use super::{deploy, project, release};

pub fn render(args: &RenderArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?;
    project.check_images(&args.images.only)?;
    let overrides: Vec<String> = args.images.image.iter().map(|(n, _)| n.clone()).collect();
    project.check_images(&overrides)?;
    release::check_overrides(&args.images.image)?;
    let builds = release::builds(&project)?;
    let namespaces = release::namespaces(env);
    let local_key = release::local_key(&project)?;
    // With `--current`, each namespace's current release and its key of Secret names, so
    // the output is what `deploy` applies; without, this checkout's key.
    let states: Vec<(Option<Release>, Vec<u8>)> = if args.current || !args.images.only.is_empty() {
        let rt = deploy::runtime()?;
        let all = deploy::histories(&rt, &project, env, global, printer)?;
        let mut states = Vec::new();
        for t in &all {
            let stored = rt.block_on(release::cluster_key(
                t.connection(),
                &project.config.app,
                &t.ns,
            ))?;
            let key = if stored.stored {
                stored.key
            } else {
                local_key.clone()
            };
            states.push((slipway_deploy::record::current(&t.records).cloned(), key));
        }
        states
    } else {
        vec![(None, local_key.clone()); namespaces.len()]
    };
    let request = release::ImageRequest {
        builds: &builds,
        overrides: &args.images.image,
        origin: release::OverrideOrigin::CommandLine,
        only: &args.images.only,
        missing: release::MissingImages::KeepManifest,
    };
    let resolver = release::Resolver::new(&project.config, release::RegistryNeed::BestEffort);
    let mut warnings = release::Warnings::default();
    let mut rendered = Vec::new();
    for ((_, ns), (current, key)) in namespaces.iter().zip(&states) {
        let target = release::Target {
            ns,
            at: Default::default(),
            current: current.as_ref(),
            secret_key: key,
        };
        let (_, r) =
            release::release_namespace(&project, env, &target, &request, &resolver, &mut warnings)?;
        for f in &r.pins.foreign {
            if release::near_miss(&project.config, &f.image).is_some() {
                continue; // already warned about, with what to do
            }
            warnings.add(
                format!(
                    "note: {} container `{}` runs `{}`, which is not an image of `slipway.yaml`",
                    f.object, f.container, f.image
                ),
                ns,
            );
        }
        rendered.push(r);
    }
    warnings.print(printer, namespaces.len());
    let redact = |v: &serde_json::Value| slipway_render::redact::redact_secret(v, &local_key);
    match &global.output {
        Some(Output::Dir(dir)) => {
            let mut count = 0;
            for r in &rendered {
                let ns_dir = dir.join(&r.namespace);
                std::fs::create_dir_all(&ns_dir)?;
                for o in r.objects.iter().chain(r.hooks.iter().map(|h| &h.job)) {
                    let file = ns_dir.join(format!(
                        "{}-{}.yaml",
                        o.kind().to_ascii_lowercase(),
                        o.name()
                    ));
                    std::fs::write(&file, slipway_render::value_to_yaml(&redact(&o.value)))?;
                    count += 1;
                }
            }
            printer.info(&format!("wrote {count} files to `{}`", dir.display()));
        }
        _ if printer.format == Format::Json => {
            let all: Vec<serde_json::Value> = rendered
                .iter()
                .flat_map(|r| r.objects.iter().chain(r.hooks.iter().map(|h| &h.job)))
                .map(|o| redact(&o.value))
                .collect();
            printer.json(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": all}));
        }
        _ => {
            let text: Vec<String> = rendered
                .iter()
                .flat_map(|r| r.objects.iter().chain(r.hooks.iter().map(|h| &h.job)))
                .map(|o| slipway_render::value_to_yaml(&redact(&o.value)))
                .collect();
            printer.data(&text.join("---\n"));
        }
    }
    Ok(())
}

pub fn kustomize(args: &KustomizeArgs, printer: &Printer) -> Result<(), CliError> {
    let objects = slipway_render::kustomize(Path::new(&args.dir)).map_err(|e| {
        let err = CliError::usage(e.to_string());
        if matches!(e, slipway_render::RenderError::Unsupported { .. }) {
            err.hint(format!(
                "`kubectl kustomize {}` renders it",
                args.dir.display()
            ))
        } else {
            err
        }
    })?;
    printer.data(&slipway_render::to_yaml(&objects));
    Ok(())
}

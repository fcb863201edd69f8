//! `slipway render ENV` and `slipway kustomize DIR`: manifests on standard output (or
//! one file per object), byte-for-byte the same on every run.

use std::path::Path;

use slipway_deploy::record::Release;

use crate::cli::{GlobalArgs, KustomizeArgs, Output, RenderArgs};
use crate::error::CliError;
use crate::printer::{Format, Printer};

use super::{deploy, project, release};

/// Secret values are never printed: each is replaced by a hash of it, so a change still
/// shows in a diff of two renders.
fn redact(value: &serde_json::Value) -> serde_json::Value {
    use sha2::{Digest, Sha256};
    let mut value = value.clone();
    if value.get("kind").and_then(|k| k.as_str()) != Some("Secret") {
        return value;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = value.get_mut(field).and_then(|d| d.as_object_mut()) {
            for v in map.values_mut() {
                let digest = Sha256::digest(v.to_string().as_bytes());
                let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                *v = serde_json::json!(format!("<redacted sha256:{hex}>"));
            }
        }
    }
    value
}

pub fn render(args: &RenderArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?;
    project.check_images(&args.images.only)?;
    let overrides: Vec<String> = args.images.image.iter().map(|(n, _)| n.clone()).collect();
    project.check_images(&overrides)?;
    release::check_overrides(&args.images.image)?;
    let builds = release::builds(&project)?;
    let namespaces = release::namespaces(env);
    // The current release of each namespace, when the choice is to be deploy's own.
    let currents: Vec<Option<Release>> = if args.current || !args.images.only.is_empty() {
        let rt = deploy::runtime()?;
        let all = deploy::histories(&rt, &project, env, global, printer)?;
        all.iter()
            .map(|t| slipway_deploy::record::current(&t.records).cloned())
            .collect()
    } else {
        vec![None; namespaces.len()]
    };
    let request = release::ImageRequest {
        builds: &builds,
        overrides: &args.images.image,
        origin: release::OverrideOrigin::CommandLine,
        only: &args.images.only,
        missing: release::MissingImages::KeepManifest,
    };
    let resolver = release::Resolver::new(&project.config);
    let mut warnings = release::Warnings::default();
    let mut rendered = Vec::new();
    for ((_, ns), current) in namespaces.iter().zip(&currents) {
        let (_, r) = release::release_namespace(
            &project,
            env,
            ns,
            &request,
            current.as_ref(),
            &resolver,
            &mut warnings,
        )?;
        for f in &r.pins.foreign {
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

//! `slipway render ENV` and `slipway kustomize DIR`: manifests on standard output (or
//! one file per object), byte-for-byte the same on every run.

use std::path::Path;

use crate::cli::{EnvArgs, GlobalArgs, KustomizeArgs, Output};
use crate::error::CliError;
use crate::printer::{Format, Printer};

use super::{project, release};

pub fn render(args: &EnvArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?;
    let builds = release::builds(&project)?;
    let images = release::images(&project, &builds, &[], &[], None);
    release::warn_missing(printer, &images);
    let rendered = release::render(&project, env, &images.pins)?;
    for r in &rendered {
        for f in &r.pins.foreign {
            printer.info(&format!(
                "note: {} container `{}` runs `{}`, which is not an image of `slipway.yaml`",
                f.object, f.container, f.image
            ));
        }
    }
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
                    std::fs::write(&file, slipway_render::value_to_yaml(&o.value))?;
                    count += 1;
                }
            }
            printer.info(&format!("wrote {count} files to `{}`", dir.display()));
        }
        _ if printer.format == Format::Json => {
            let all: Vec<serde_json::Value> = rendered
                .iter()
                .flat_map(|r| r.objects.iter().chain(r.hooks.iter().map(|h| &h.job)))
                .map(|o| o.value.clone())
                .collect();
            printer.json(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": all}));
        }
        _ => {
            let text: Vec<String> = rendered.iter().map(|r| r.to_yaml()).collect();
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

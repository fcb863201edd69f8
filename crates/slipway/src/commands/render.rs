//! `slipway render ENV` and `slipway kustomize DIR`: manifests on standard output (or
//! one file per object), byte-for-byte the same on every run.

use std::path::Path;

use slipway_deploy::record::Release;

use crate::cli::{GlobalArgs, KustomizeArgs, Output, RenderArgs};
use crate::error::CliError;
use crate::printer::{Format, Printer};

use super::{deploy, project, release};

/// The file, under the project's `.slipway/`, that holds the key of the hashes `render`
/// shows for Secret values.
pub const RENDER_KEY_FILE: &str = ".slipway/render-key";

/// The project's render key: read from [`RENDER_KEY_FILE`], or made once (random, and
/// readable by its owner only). A key file others may read is refused: with it, anyone
/// could confirm a guessed Secret value from a render.
fn render_key(project: &project::Project) -> Result<Vec<u8>, CliError> {
    use std::io::{Read, Write};
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = project.config.base_dir.join(RENDER_KEY_FILE);
    let unreadable = |e: std::io::Error| {
        CliError::usage(format!("`{}` cannot be read: {e}", path.display())).hint(
            "delete it; `slipway render` makes a new one (earlier renders then show other hashes)",
        )
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mode = std::fs::metadata(&path)
                .map_err(unreadable)?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(CliError::usage(format!(
                    "`{}` may be read by others (mode {:o}); with it anyone could confirm a guessed Secret value from a render",
                    path.display(),
                    mode & 0o777
                ))
                .hint(format!("`chmod 600 {}`", path.display())));
            }
            let key =
                decode_hex(text.trim()).filter(|k| k.len() == slipway_render::redact::KEY_LEN);
            key.ok_or_else(|| {
                unreadable(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a key of 64 hexadecimal digits",
                ))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; slipway_render::redact::KEY_LEN];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut r| r.read_exact(&mut key))
                .map_err(|e| {
                    CliError::internal(format!("no random bytes for the render key: {e}"))
                })?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let text: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(format!("{text}\n").as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(unreadable(e)),
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
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
    let resolver = release::Resolver::new(&project.config, release::RegistryNeed::BestEffort);
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
    let key = render_key(&project)?;
    let redact = |v: &serde_json::Value| slipway_render::redact::redact_secret(v, &key);
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

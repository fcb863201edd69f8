//! `slipway build`: builds, tags and pushes the images of `slipway.yaml`, and records
//! them in `.slipway/artifacts.json`. The work is [`slipway_build::orchestrate::run`];
//! this module maps the flags onto its options, shows progress and picks the exit code.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use slipway_build::orchestrate::{
    self, BuildError, BuildOptions, Event, FailureKind, ImageArtifact,
};
use slipway_config::Policy;
use slipway_config::tag::TagContext;

use crate::cli::{BuildArgs, GlobalArgs};
use crate::error::CliError;
use crate::exit;
use crate::printer::{Format, Printer};

use super::project;

pub fn run(args: &BuildArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    // An interrupted build leaves nothing behind (see `crate::interrupt`).
    crate::interrupt::install()?;
    // What killed processes (SIGKILL, a crash) left behind.
    let _ = slipway_build::git::sweep_stale_exports();

    let project = project::load(global, printer)?;
    let config = &project.config;
    let policy = match &args.env {
        Some(env) => {
            let env = project.environment(env)?;
            // A sandbox environment's images go to the sandbox's own registry.
            let sandbox = env
                .targets
                .iter()
                .any(|t| t.cluster == slipway_config::Cluster::Sandbox);
            if sandbox && !args.no_push && super::clusters::sandbox_registry(config).is_some() {
                super::clusters::ensure_sandbox(config, printer)?;
            }
            env.policy.clone()
        }
        None => Policy::default().with(&config.defaults),
    };
    project.check_images(&args.images)?;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut options = BuildOptions::new(now);
    options.images = args.images.clone();
    options.push = !args.no_push;
    options.dirty = policy.dirty;
    options.rebuild = args.rebuild;
    options.no_cache = args.no_cache;
    options.ci_build_id = TagContext::ci_build_id_from_env(|name| std::env::var(name).ok());

    let names: Vec<&str> = if args.images.is_empty() {
        config.images.iter().map(|i| i.name.as_str()).collect()
    } else {
        args.images.iter().map(String::as_str).collect()
    };
    if names.is_empty() {
        printer.info("nothing to build: `slipway.yaml` has no `images`");
    }
    let view = Progress::new(printer, names.iter().map(|n| n.len()).max().unwrap_or(0));
    let result = orchestrate::run(config, &options, &|event| view.event(event));
    view.finish();
    match result {
        Ok(outcome) => {
            if printer.format == Format::Json {
                printer
                    .json(&serde_json::to_value(&outcome.artifacts).expect("artifacts serialize"));
            } else {
                let built = outcome.images.iter().filter(|i| i.built).count();
                let skipped = outcome.images.len() - built;
                printer.info(&format!(
                    "{built} built, {skipped} skipped; wrote `{}`",
                    relative_to_cwd(&outcome.path)
                ));
            }
            Ok(())
        }
        Err(err) => Err(cli_error(&err)),
    }
}

fn relative_to_cwd(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

/// The exit code and message of a failed build.
fn cli_error(err: &BuildError) -> CliError {
    let code = match err.kind {
        FailureKind::Input => exit::USAGE,
        FailureKind::Registry => exit::UNREACHABLE,
        FailureKind::Build => exit::BUILD_FAILED,
        FailureKind::Internal => exit::INTERNAL,
        FailureKind::Interrupted => exit::INTERRUPTED,
    };
    let mut cli = CliError::new(code, err.to_string());
    if err.problems.len() > 1 {
        let lines: String = err.problems.iter().map(|p| format!("  - {p}\n")).collect();
        cli = cli.detail(lines);
    }
    let mut hints: Vec<&str> = err
        .problems
        .iter()
        .filter_map(|p| p.hint.as_deref())
        .collect();
    hints.dedup();
    for hint in hints {
        cli = cli.hint(hint);
    }
    if err.kind == FailureKind::Input {
        cli = cli.hint("nothing was built or pushed");
    }
    if !err.recorded.is_empty() {
        cli = cli.hint(format!(
            "the {} image(s) that finished are recorded in `{}`",
            err.recorded.len(),
            orchestrate::ARTIFACTS_FILE
        ));
    }
    let json: Vec<serde_json::Value> = err
        .problems
        .iter()
        .map(|p| {
            serde_json::json!({
                "image": p.image, "key": p.key, "message": p.message, "hint": p.hint,
            })
        })
        .collect();
    cli.json(serde_json::Value::Array(json))
}

/// How progress is shown: spinners on a terminal, plain lines otherwise, builder output
/// only on failure with `-q`.
struct Progress<'p> {
    printer: &'p Printer,
    width: usize,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// With `-q`: builder output kept until we know whether the image failed.
    held: Mutex<HashMap<String, Vec<String>>>,
}

impl<'p> Progress<'p> {
    fn new(printer: &'p Printer, width: usize) -> Progress<'p> {
        let interactive =
            !printer.quiet && printer.format == Format::Human && std::io::stderr().is_terminal();
        Progress {
            printer,
            width,
            multi: interactive
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn finish_bar(&self, image: &str, text: String) {
        let bar = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(image);
        match bar {
            Some(bar) => bar.finish_with_message(text),
            None if !self.printer.quiet => {
                self.line(&format!("{image:<w$}  {text}", w = self.width))
            }
            None => {}
        }
    }

    fn event(&self, event: Event<'_>) {
        let quiet = self.printer.quiet;
        match event {
            Event::Warning(message) => {
                if !quiet {
                    self.line(&format!("warning: {message}"));
                }
            }
            Event::Started { image, reference } => {
                if let Some(multi) = &self.multi {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{prefix}  {spinner} {msg} ({elapsed})")
                            .expect("valid template"),
                    );
                    bar.set_prefix(format!("{image:<w$}", w = self.width));
                    bar.set_message(format!("building {reference}"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bars
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(image.to_owned(), bar);
                }
            }
            Event::Output { image, line } => {
                let text = format!("{image:<w$} | {line}", w = self.width);
                if quiet {
                    self.held
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(image.to_owned())
                        .or_default()
                        .push(text);
                } else {
                    self.line(&text);
                }
            }
            Event::Built { artifact, elapsed } => {
                self.finish_bar(
                    &artifact.name,
                    format!(
                        "built  {}{} ({:.1}s)",
                        artifact.reference,
                        not_pushed(artifact),
                        elapsed.as_secs_f64()
                    ),
                );
            }
            Event::Skipped { artifact } => {
                self.finish_bar(
                    &artifact.name,
                    format!("skipped (inputs unchanged)  {}", artifact.reference),
                );
            }
            Event::Failed { image, message } => {
                let held = self
                    .held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(image)
                    .unwrap_or_default();
                for line in held {
                    eprintln!("{line}");
                }
                let bar = self
                    .bars
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(image);
                let text = format!("failed  {message}");
                match bar {
                    Some(bar) => bar.abandon_with_message(text),
                    None => eprintln!("{image:<w$}  {text}", w = self.width),
                }
            }
        }
    }

    /// Bars left unfinished (after a failure elsewhere) stay as they are.
    fn finish(&self) {
        for (_, bar) in self.bars.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            bar.abandon();
        }
    }
}

fn not_pushed(artifact: &ImageArtifact) -> &'static str {
    if artifact.pushed { "" } else { " (not pushed)" }
}

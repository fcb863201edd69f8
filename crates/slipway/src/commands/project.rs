//! Finding and loading `slipway.yaml` for a command, and looking up what the command
//! line names in it (environments, images), with did-you-mean hints.

use std::path::PathBuf;

use slipway_config::{Config, Environment, LoadError};

use crate::cli::GlobalArgs;
use crate::error::CliError;
use crate::printer::Printer;

/// The default configuration file name.
pub const CONFIG_FILE: &str = "slipway.yaml";

/// The configuration file a command uses: `-f PATH` or `slipway.yaml` (relative to the
/// directory chosen with `-C`).
pub fn config_path(global: &GlobalArgs) -> PathBuf {
    global
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(CONFIG_FILE))
}

/// A loaded `slipway.yaml`.
#[derive(Debug)]
pub struct Project {
    pub config: Config,
}

/// Loads the configuration; a broken file is reported with every problem, positioned,
/// and the usage exit code.
pub fn load(global: &GlobalArgs, printer: &Printer) -> Result<Project, CliError> {
    let path = config_path(global);
    match slipway_config::load(&path) {
        Ok(config) => Ok(Project { config }),
        Err(LoadError::Io { path, source }) if source.kind() == std::io::ErrorKind::NotFound => {
            let here = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| ".".into());
            let err = if global.file.is_some() {
                CliError::usage(format!("`{}` does not exist", path.display()))
            } else {
                CliError::usage(format!("no `{CONFIG_FILE}` in `{here}`"))
                    .hint("write one with `slipway init`, or name one with `-f PATH` or a directory with `-C DIR`")
            };
            Err(err)
        }
        Err(LoadError::Io { path, source }) => Err(CliError::usage(format!(
            "cannot read `{}`: {source}",
            path.display()
        ))),
        Err(LoadError::Invalid(diagnostics)) => {
            let count = diagnostics.items.len();
            let json = serde_json::Value::Array(
                diagnostics
                    .items
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "file": diagnostics.file.display().to_string(),
                            "line": d.line,
                            "column": d.column,
                            "key": d.key,
                            "message": d.message,
                            "hint": d.hint,
                        })
                    })
                    .collect(),
            );
            let problems = if count == 1 { "problem" } else { "problems" };
            Err(CliError::usage(format!(
                "`{}` is invalid: {count} {problems}",
                diagnostics.file.display()
            ))
            .detail(diagnostics.render(printer.color))
            .json(json))
        }
    }
}

impl Project {
    /// The environment named on the command line.
    pub fn environment(&self, name: &str) -> Result<&Environment, CliError> {
        self.config.environment(name).ok_or_else(|| {
            let known: Vec<&str> = self
                .config
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            unknown("environment", name, &known)
        })
    }

    /// Every image named on the command line exists in `images`.
    pub fn check_images(&self, names: &[String]) -> Result<(), CliError> {
        let known: Vec<&str> = self.config.images.iter().map(|i| i.name.as_str()).collect();
        match names.iter().find(|n| self.config.image(n).is_none()) {
            Some(name) => Err(unknown("image", name, &known)),
            None => Ok(()),
        }
    }

    /// Where `promote ENV` takes its release from: `--from`, else `promote-from`.
    pub fn promotion_source(
        &self,
        env: &str,
        from: Option<&str>,
    ) -> Result<&Environment, CliError> {
        let target = self.environment(env)?;
        let source = match from.or(target.promote_from.as_deref()) {
            Some(source) => source,
            None => {
                return Err(
                    CliError::usage(format!("environment `{env}` has no `promote-from`")).hint(
                        format!(
                            "add `promote-from: <env>` to `environments.{env}` or pass `--from ENV`"
                        ),
                    ),
                );
            }
        };
        if source == env {
            return Err(CliError::usage(format!(
                "cannot promote `{env}` into itself"
            )));
        }
        self.environment(source)
    }
}

fn unknown(what: &str, name: &str, known: &[&str]) -> CliError {
    let err = CliError::usage(format!("unknown {what} `{name}`"));
    let nearest = slipway_config::suggest(name, known.iter().copied());
    match (nearest, known.is_empty()) {
        (Some(k), _) => err.hint(format!("did you mean `{k}`?")),
        (None, true) => err.hint(format!("`slipway.yaml` defines no {what}s")),
        (None, false) => err.hint(format!(
            "the {what}s of `slipway.yaml` are {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

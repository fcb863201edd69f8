//! Commands whose engine is not part of this version yet. They still load and check
//! `slipway.yaml` and what the command line names — so a mistake is reported first —
//! then say plainly what is missing, and exit with the usage code.

use crate::cli::GlobalArgs;
use crate::error::CliError;
use crate::printer::Printer;

use super::project::{self, Project};

/// Loads the project, checks `env`, and reports the missing engine.
pub fn env_command(
    command: &str,
    engine_name: &str,
    global: &GlobalArgs,
    printer: &Printer,
    env: &str,
) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    project.environment(env)?;
    Err(engine(command, engine_name, &project, Some(env)))
}

/// The error for a command whose engine is missing, with what was checked.
pub fn engine(command: &str, engine_name: &str, project: &Project, env: Option<&str>) -> CliError {
    let mut err = CliError::usage(format!(
        "`slipway {command}` is not built yet: {engine_name} is not part of this version of slipway"
    ));
    let file = project.config.file.display();
    match env.and_then(|e| project.config.environment(e)) {
        Some(env) => {
            err = err.hint(format!(
                "`{file}` is valid; environment `{}` targets {}",
                env.name,
                project::describe_targets(env).join("; ")
            ));
        }
        None => err = err.hint(format!("`{file}` is valid")),
    }
    err
}

//! One module per command. Each takes its parsed arguments and the [`Printer`], and
//! returns a [`CliError`] that carries the exit code.

mod build;
mod clusters;
mod deploy;
mod display;
mod generate;
pub(crate) mod helm;
mod init;
mod project;
mod release;
mod render;
mod report;
mod sandbox;
mod test;
mod uninstall;
mod validate;

pub use display::change_word;

use crate::cli::{Cli, Command, Output, SandboxCommand};
use crate::error::CliError;
use crate::printer::Printer;

pub fn run(cli: Cli, printer: &Printer) -> Result<(), CliError> {
    let global = &cli.global;
    if let Some(dir) = &global.chdir {
        std::env::set_current_dir(dir).map_err(|err| {
            CliError::usage(format!(
                "cannot change to directory `{}`: {err}",
                dir.display()
            ))
        })?;
    }
    if matches!(global.output, Some(Output::Dir(_) | Output::Stdout))
        && !matches!(cli.command, Command::Render(_))
    {
        return Err(CliError::usage(
            "`-o` takes `human` or `json` here; a destination (`-` or a directory) is only for `render`",
        ));
    }

    match &cli.command {
        Command::Init(args) => match global.ci {
            // `slipway init --ci SYSTEM`: the pipeline of an existing `slipway.yaml`.
            crate::ci::Choice::Github => crate::ci::pipeline::init(
                crate::ci::System::Github,
                &project::config_path(global),
                args.print,
                printer,
            ),
            crate::ci::Choice::Azure => crate::ci::pipeline::init(
                crate::ci::System::Azure,
                &project::config_path(global),
                args.print,
                printer,
            ),
            crate::ci::Choice::Gitlab => crate::ci::pipeline::init(
                crate::ci::System::Gitlab,
                &project::config_path(global),
                args.print,
                printer,
            ),
            crate::ci::Choice::Auto | crate::ci::Choice::None => {
                init::run(args, &project::config_path(global), printer)
            }
        },
        Command::Completions(args) => generate::completions(args, printer),
        Command::Man(args) => generate::man(args, printer),
        Command::Build(args) => build::run(args, global, printer),
        Command::Render(args) => render::render(args, global, printer),
        Command::Kustomize(args) => render::kustomize(args, printer),
        Command::Helm(args) => helm::run(args, printer),
        Command::Validate(args) => validate::run(args, global, printer),
        Command::Diff(args) => deploy::diff(args, global, printer),
        Command::Deploy(args) => deploy::deploy(args, global, printer),
        Command::Abort(args) => deploy::abort(args, global, printer),
        Command::Status(args) => deploy::status(args, global, printer),
        Command::History(args) => deploy::history(args, global, printer),
        Command::Rollback(args) => deploy::rollback(args, global, printer),
        Command::Restart(args) => deploy::restart(args, global, printer),
        Command::Promote(args) => deploy::promote(args, global, printer),
        Command::Report(args) => report::run(args, global, printer),
        Command::Test(args) => test::run(args, global, printer),
        Command::Uninstall(args) => uninstall::run(args, global, printer),
        Command::Sandbox(SandboxCommand::Serve(args)) => sandbox::serve(args, global, printer),
    }
}

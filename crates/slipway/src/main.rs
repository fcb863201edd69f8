//! The `slipway` binary: parse the command line, run one command, print its result,
//! exit with a code that says what happened (see `exit.rs`).

mod ci;
mod cli;
mod commands;
mod error;
mod exit;
mod interrupt;
mod printer;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let matches = match cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(err) => {
            // `--help` and `--version` are not errors.
            let code = if err.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(exit::USAGE);
        }
    };
    let printer = printer::Printer::new(&cli.global);
    init_logging(&printer);
    let result = commands::run(cli, &printer);
    if let Err(err) = &result {
        printer.error(err);
    }
    if let Some(ci) = &printer.ci {
        if let Err(err) = &result {
            ci::failed(ci, err);
        }
        ci.finish();
    }
    match result {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(err) => ExitCode::from(err.code),
    }
}

/// Logs go to standard error: warnings by default, more with `-v`, `-vv`, or
/// `SLIPWAY_LOG` (a `tracing` filter such as `slipway=debug`).
fn init_logging(printer: &printer::Printer) {
    // The Kubernetes client logs every refused request and dropped watch as an error;
    // slipway retries or reports those itself, naming the step, so they show from `-v`.
    let default = match (printer.quiet, printer.verbose) {
        (true, _) => "error,kube_client=off,kube_runtime=off",
        (false, 0) => "warn,kube_client=off,kube_runtime=off",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(printer.color)
        .without_time()
        .init();
}

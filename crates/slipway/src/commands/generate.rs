//! `slipway completions` and `slipway man`: generated from the same clap definitions
//! that parse the command line, so they can never disagree with it.

use std::fs;

use crate::cli::{self, CompletionsArgs, ManArgs, Shell};
use crate::error::CliError;
use crate::printer::Printer;

pub fn completions(args: &CompletionsArgs, printer: &Printer) -> Result<(), CliError> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cli::command(), "slipway", &mut buf);
    printer.data(&String::from_utf8_lossy(&buf));
    Ok(())
}

pub fn man(args: &ManArgs, printer: &Printer) -> Result<(), CliError> {
    let command = cli::command();
    let Some(dir) = &args.dir else {
        printer.data(&(render(command)? + &exit_status_section()));
        return Ok(());
    };
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let top = command.clone();
    fs::write(dir.join("slipway.1"), render(top)? + &exit_status_section())?;
    written.push("slipway.1".to_string());
    for sub in command.get_subcommands() {
        for (name, page) in pages(sub, "slipway") {
            fs::write(dir.join(format!("{name}.1")), page?)?;
            written.push(format!("{name}.1"));
        }
    }
    printer.info(&format!(
        "wrote {} man pages to `{}`",
        written.len(),
        dir.display()
    ));
    Ok(())
}

/// A page for `sub` and for each of its own subcommands, named `parent-sub`.
fn pages(sub: &clap::Command, parent: &str) -> Vec<(String, Result<String, CliError>)> {
    let name = format!("{parent}-{}", sub.get_name());
    let mut out = vec![(name.clone(), render(sub.clone().name(name.clone())))];
    for nested in sub.get_subcommands() {
        out.extend(pages(nested, &name));
    }
    out
}

fn render(command: clap::Command) -> Result<String, CliError> {
    let mut buf = Vec::new();
    let man = clap_mangen::Man::new(command);
    man.render(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The exit codes are part of the interface: the top page lists them.
fn exit_status_section() -> String {
    let mut roff = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in crate::exit::TABLE {
        roff.push_str(&format!(".TP\n\\fB{code}\\fR\n{meaning}\n"));
    }
    roff
}

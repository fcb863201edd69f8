//! `slipway helm template`: a chart rendered as `helm template` renders it, with
//! Helm's flags, output and error text, so scripts written for Helm keep working.
//!
//! Everything after `helm` is parsed here with Helm's own flag names (`-f` is
//! `--values`, as in Helm, not slipway's `--file`); the work is `slipway_helm`'s.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use slipway_helm::template::{TemplateOptions, TemplateOutput, name_and_chart};
use slipway_helm::{HelmVersion, template};

use crate::error::CliError;
use crate::exit;
use crate::printer::Printer;

/// The words after `slipway helm`, parsed with Helm's flags.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct HelmArgs {
    /// `template [NAME] CHART [flags]`; `slipway helm template --help` lists the flags
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Parser)]
#[command(
    name = "slipway helm",
    disable_version_flag = true,
    after_help = "\
Examples:
  slipway helm template my-release ./chart -f values.yaml --set image.tag=1.2.3
  slipway helm template ./chart --show-only templates/deployment.yaml"
)]
struct HelmCli {
    #[command(subcommand)]
    command: HelmCommand,
}

#[derive(Debug, Subcommand)]
enum HelmCommand {
    /// Locally render templates, as `helm template` does
    Template(TemplateArgs),
}

#[derive(Debug, Args)]
struct TemplateArgs {
    /// `[NAME] CHART`: the release name (default `release-name`) and a chart folder or `.tgz`
    #[arg(value_name = "NAME CHART")]
    args: Vec<String>,
    /// Values files, in order (later ones win)
    #[arg(
        short = 'f',
        long = "values",
        value_name = "FILE",
        value_delimiter = ','
    )]
    values: Vec<PathBuf>,
    /// Values on the command line (`a.b=1,c[0]=x`)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Values that stay strings
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    set_string: Vec<String>,
    /// Values read from files (`key=path`)
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    set_file: Vec<String>,
    /// JSON values (`key={"a":1}`)
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    set_json: Vec<String>,
    /// `.Release.Namespace`
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// A template giving the release name
    #[arg(long = "name-template", value_name = "TEMPLATE")]
    name_template: Option<String>,
    /// Kubernetes version for `.Capabilities.KubeVersion`
    #[arg(long = "kube-version", value_name = "VERSION")]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions` (repeat or separate with commas)
    #[arg(
        short = 'a',
        long = "api-versions",
        value_name = "GROUP/VERSION",
        value_delimiter = ','
    )]
    api_versions: Vec<String>,
    /// Only the manifests of these templates (`templates/x.yaml`, globs allowed)
    #[arg(short = 's', long = "show-only", value_name = "PATH")]
    show_only: Vec<String>,
    /// Print the charts' `crds/` first
    #[arg(long = "include-crds")]
    include_crds: bool,
    /// Leave out test hooks
    #[arg(long = "skip-tests")]
    skip_tests: bool,
    /// `.Release.IsUpgrade` instead of `.Release.IsInstall`
    #[arg(long = "is-upgrade")]
    is_upgrade: bool,
    /// Write each template's manifests to a file under this folder
    #[arg(long = "output-dir", value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Print the rendered files even when they are not valid YAML
    #[arg(long)]
    debug: bool,
    /// Whose output to match where Helm versions differ: `3` (default), `4.1` or `4.2`
    #[arg(long = "helm-version", value_name = "VERSION", default_value = "3", value_parser = parse_helm_version)]
    helm_version: HelmVersion,
}

fn parse_helm_version(s: &str) -> Result<HelmVersion, String> {
    HelmVersion::parse(s).ok_or_else(|| format!("`{s}` is not a Helm version: use 3, 4.1 or 4.2"))
}

pub fn run(args: &HelmArgs, printer: &Printer) -> Result<(), CliError> {
    let argv = std::iter::once("slipway helm".to_string()).chain(args.args.iter().cloned());
    let cli = match HelmCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            if !err.use_stderr() {
                return Ok(());
            }
            // clap has printed the problem and the usage; nothing more to say.
            std::process::exit(i32::from(exit::USAGE));
        }
    };
    let HelmCommand::Template(t) = cli.command;
    let out = match name_and_chart(&t.args, t.name_template.is_some()) {
        Err(out) => out,
        Ok((release_name, chart)) => template(&TemplateOptions {
            chart: PathBuf::from(chart),
            release_name,
            name_template: t.name_template,
            namespace: t.namespace,
            values_files: t.values,
            set: t.set,
            set_string: t.set_string,
            set_file: t.set_file,
            set_json: t.set_json,
            api_versions: t.api_versions,
            cluster_api_versions: None,
            kube_version: t.kube_version,
            default_kube_version: None,
            show_only: t.show_only,
            include_crds: t.include_crds,
            skip_tests: t.skip_tests,
            is_upgrade: t.is_upgrade,
            debug: t.debug,
            output_dir: t.output_dir,
            helm_version: t.helm_version,
        }),
    };
    finish(out, printer)
}

/// Prints what Helm prints: the output on standard output, then `Error: ...` on
/// standard error (Helm's wording, not slipway's `error:` line).
fn finish(out: TemplateOutput, printer: &Printer) -> Result<(), CliError> {
    printer.data(&out.stdout);
    match out.error {
        None => Ok(()),
        Some(e) => {
            // Helm's own error line, and Helm's exit code 1; slipway's `error:` line
            // would change the text scripts written for Helm match on.
            eprintln!("Error: {e}");
            std::process::exit(i32::from(exit::INTERNAL));
        }
    }
}

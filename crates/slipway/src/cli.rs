//! The command line, defined once: parsing, `--help`, the man pages and the shell
//! completions are all generated from these definitions.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Ship a new version to Kubernetes in one reliable command";

const LONG_ABOUT: &str = "\
Ship a new version to Kubernetes in one reliable command.

slipway builds your images from git, gives them unique immutable tags, pushes them,
renders your manifests with those exact images pinned, validates them, runs migrations
before anything rolls, applies to every namespace and cluster of an environment, tracks
the rollout, records a release, and rolls back or promotes.

Everything is described in one file, `slipway.yaml` (see `slipway init`).";

macro_rules! examples {
    () => {
        "\
Examples:
  slipway init                      write a slipway.yaml guessed from this repository
  slipway deploy dev --build        build, push and roll out to the `dev` environment
  slipway -C examples/demo deploy dev
  slipway status prod -o json       the current release of `prod`, as JSON"
    };
}

const AFTER_HELP: &str = concat!(
    examples!(),
    "\n\nThe exit codes are listed by `slipway --help`, in `docs/cli.md` and in `man slipway`."
);

/// The command definition with what is built at run time (the exit code table)
/// filled in. Parsing, help, man pages and completions all start here.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().after_long_help(format!(
        "{}\n\nExit codes:\n{}",
        examples!(),
        crate::exit::table_text()
    ))
}

#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every command, before or after its name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Run as if slipway was started in DIR
    #[arg(short = 'C', long = "chdir", value_name = "DIR", global = true)]
    pub chdir: Option<PathBuf>,

    /// Use this configuration file instead of `slipway.yaml`
    #[arg(short = 'f', long = "file", value_name = "PATH", global = true)]
    pub file: Option<PathBuf>,

    /// Kubeconfig file for environments that name a context, in place of their
    /// `kubeconfig` in slipway.yaml [default: the environment's `kubeconfig`, else
    /// $KUBECONFIG, else ~/.kube/config]; for `sandbox serve`, where to write the
    /// sandbox's kubeconfig
    #[arg(long, value_name = "PATH", global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the one the environment names (not for an
    /// environment with several `targets`)
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,

    /// Output: `human` (default) or `json`; for `render`, `-` (standard output) or a
    /// directory that receives one file per object
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        global = true,
        value_parser = parse_output
    )]
    pub output: Option<Output>,

    /// More detail on standard error; repeat for more (-vv)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print only errors and requested data
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,

    /// Never colour the output (also: the NO_COLOR environment variable)
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,

    /// CI output: `auto` (detects GitHub Actions, Azure DevOps, GitLab CI), `github`,
    /// `azure`, `gitlab` or `none`
    #[arg(
        long = "ci",
        value_name = "SYSTEM",
        global = true,
        env = "SLIPWAY_CI",
        value_enum,
        default_value = "auto",
        hide_possible_values = true,
        hide_env_values = true
    )]
    pub ci: crate::ci::Choice,
}

/// Where and how results are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
    /// `-`: rendered manifests to standard output (only for `render`).
    Stdout,
    /// One file per object in this directory (only for `render`).
    Dir(PathBuf),
}

fn parse_output(value: &str) -> Result<Output, String> {
    Ok(match value {
        "human" => Output::Human,
        "json" => Output::Json,
        "-" => Output::Stdout,
        "" => return Err("expected `human`, `json`, `-` or a directory".into()),
        dir => Output::Dir(PathBuf::from(dir)),
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented `slipway.yaml` guessed from this repository
    #[command(after_help = "\
Examples:
  slipway init                 look at Dockerfiles, k8s/ or deploy/ folders and kustomizations
  slipway init --print         show the file instead of writing it
  slipway init --ci github     a GitHub Actions workflow for this slipway.yaml (also azure, gitlab)

An existing file is never overwritten.")]
    Init(InitArgs),

    /// Build images from git, tag them uniquely and push them
    #[command(after_help = "\
Examples:
  slipway build                    every image of slipway.yaml
  slipway build api worker --no-push
  slipway build --env prod         refuse a dirty working tree if `prod` forbids it")]
    Build(BuildArgs),

    /// Render the manifests of an environment with the release's images pinned
    #[command(after_help = "\
Examples:
  slipway render uat               YAML on standard output
  slipway render uat -o out/       one file per object in out/
  slipway render prod --current    exactly what `slipway deploy prod` would apply now
  slipway render prod --image api=registry.example.com/api:1.4.2")]
    Render(RenderArgs),

    /// Render and validate an environment's manifests; nothing touches a cluster
    #[command(after_help = "\
Examples:
  slipway validate prod
  slipway validate prod -o json    every finding with its rule, file and line
  slipway validate prod --image api=registry.example.com/api:1.4.2")]
    Validate(ValidateArgs),

    /// Show what a deploy would change on the cluster (secrets redacted)
    #[command(after_help = "\
Examples:
  slipway diff prod
  slipway diff prod --only api                     what changing only api would do
  slipway diff prod --image api=registry.example.com/api:20260101-120000-abc1234
  slipway diff prod --compact                      field names only, without values")]
    Diff(DiffArgs),

    /// Roll out a new release: render, validate, lock, migrate, apply, track, record
    #[command(after_help = "\
Examples:
  slipway deploy dev --build                 build, push and deploy
  slipway deploy prod --only api             change one service, keep the others
  slipway deploy prod --image api=registry.example.com/api:20260101-120000-abc1234
  slipway deploy prod --dry-run              stop after the plan
  slipway deploy prod --resume               continue the release paused at a canary step")]
    Deploy(DeployArgs),

    /// Abort the release paused at a canary step: remove its canary, record it aborted
    #[command(after_help = "\
Examples:
  slipway abort prod")]
    Abort(AbortArgs),

    /// The current release of an environment, its workloads, and any drift
    #[command(after_help = "\
Examples:
  slipway status prod
  slipway status prod --watch")]
    Status(StatusArgs),

    /// The releases recorded for an environment, newest first
    #[command(after_help = "\
Examples:
  slipway history prod
  slipway history prod --limit 5 -o json")]
    History(HistoryArgs),

    /// Re-deploy an earlier release (as a new revision)
    #[command(after_help = "\
Examples:
  slipway rollback prod            back to the release before the current one
  slipway rollback prod --to 12")]
    Rollback(RollbackArgs),

    /// Restart workloads with a tracked rolling restart
    #[command(after_help = "\
Examples:
  slipway restart prod             every workload of the release
  slipway restart prod api worker")]
    Restart(RestartArgs),

    /// Run the `test` hooks of a chart against an environment's current release
    #[command(after_help = "\
Examples:
  slipway test dev
  slipway test prod --timeout 10m")]
    Test(TestArgs),

    /// Remove an environment's release from the cluster: its objects and hook Jobs
    #[command(after_help = "\
Examples:
  slipway uninstall dev                    asks, then removes; the records stay for `history`
  slipway uninstall dev --dry-run          list what would be removed
  slipway uninstall dev --yes --delete-records

The namespace itself stays. Takes the environment's lock first, as a deploy does.")]
    Uninstall(UninstallArgs),

    /// Deploy exactly what runs in the environment's `promote-from` environment
    #[command(after_help = "\
Examples:
  slipway promote prod             prod gets uat's images and config when prod has `promote-from: uat`
  slipway promote prod --from staging")]
    Promote(PromoteArgs),

    /// Write the report of a recorded release: an HTML page and its JSON
    #[command(after_help = "\
Examples:
  slipway report prod                        the current release of `prod`, in `slipway-report-prod-<rev>.html`
  slipway report prod 12 --out report.html   revision 12")]
    Report(ReportArgs),

    /// The built-in local cluster and registry
    #[command(subcommand)]
    Sandbox(SandboxCommand),

    /// Build a kustomization directory, as `kubectl kustomize DIR` does, only faster
    #[command(after_help = "\
Examples:
  slipway kustomize deploy/overlays/prod
  slipway kustomize deploy/overlays/prod | kubectl apply -f -")]
    Kustomize(KustomizeArgs),

    /// Render a Helm chart natively, as `helm template` does, with Helm's flags and output
    #[command(after_help = "\
Examples:
  slipway helm template my-release ./chart -f values.yaml --set image.tag=1.2.3
  slipway helm template ./chart --show-only templates/deployment.yaml
  slipway helm template --help     every flag")]
    Helm(crate::commands::helm::HelmArgs),

    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  slipway completions bash > /etc/bash_completion.d/slipway
  slipway completions zsh > \"${fpath[1]}/_slipway\"")]
    Completions(CompletionsArgs),

    /// Print the man page, or write one per command into a directory
    #[command(after_help = "\
Examples:
  slipway man | man -l -
  slipway man --dir /usr/local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct KustomizeArgs {
    /// A directory with a `kustomization.yaml`
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Print the file on standard output instead of writing it
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Images to build [default: all]
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,

    /// Push the images (the default)
    #[arg(long, overrides_with = "no_push")]
    pub push: bool,

    /// Build only, push nothing
    #[arg(long = "no-push")]
    pub no_push: bool,

    /// Apply this environment's rules (for example `dirty: refuse`)
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// Build even when the inputs are unchanged and the image is in the registry
    #[arg(long)]
    pub rebuild: bool,

    /// Pass `--no-cache` to the builder
    #[arg(long = "no-cache")]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Build and push the images first
    #[arg(long)]
    pub build: bool,

    #[command(flatten)]
    pub images: ImageArgs,

    /// Stop after the plan and print it; nothing is written
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Rollout time budget [default: the environment's `timeout`]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Once ready, watch the rollout's pods this long for a restart before the release
    /// counts [default: the environment's `settle`]
    #[arg(long, value_name = "DURATION")]
    pub settle: Option<String>,

    /// On failure, leave the cluster as it is instead of rolling back
    #[arg(long = "no-rollback")]
    pub no_rollback: bool,

    /// Do not ask for approval
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Wait this long for another deploy's lock instead of failing at once
    #[arg(long = "wait-lock", value_name = "DURATION")]
    pub wait_lock: Option<String>,

    /// Also write a release report: a self-contained HTML page at FILE and its data at
    /// FILE.json
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Continue the release paused at a canary step, with its recorded objects, from
    /// the next step; nothing is built or rendered
    #[arg(long, conflicts_with_all = ["build", "dry_run", "only", "image"])]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct AbortArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Leave what the paused release applied beside its canary instead of restoring
    /// the previous release
    #[arg(long = "no-rollback")]
    pub no_rollback: bool,

    /// Do not ask for approval
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Which images a release takes (`deploy`, `diff`, `render`).
#[derive(Debug, Args, Default)]
pub struct ImageArgs {
    /// Change only these images; the others stay as the current release runs them
    #[arg(long, value_name = "IMAGE,…", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Use this exact image for NAME (a hotfix); recorded in the release
    #[arg(long, value_name = "NAME=REF", value_parser = parse_image_override)]
    pub image: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    #[command(flatten)]
    pub images: ImageArgs,

    /// Choose the images as `deploy` does, from the current release of each namespace
    /// too (reads the cluster); implied by `--only`
    #[arg(long)]
    pub current: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Validate with this exact image for NAME, as `deploy --image` would run it
    #[arg(long, value_name = "NAME=REF", value_parser = parse_image_override)]
    pub image: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    #[command(flatten)]
    pub images: ImageArgs,

    /// Name the changed fields only, without their old and new values
    #[arg(long)]
    pub compact: bool,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Remove the release records too [default: they stay, for `history`]
    #[arg(long = "delete-records")]
    pub delete_records: bool,

    /// List what would be removed; remove nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Wait this long for another deploy's lock instead of failing at once
    #[arg(long = "wait-lock", value_name = "DURATION")]
    pub wait_lock: Option<String>,
}

fn parse_image_override(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((name, reference)) if !name.is_empty() && !reference.is_empty() => {
            Ok((name.to_string(), reference.to_string()))
        }
        _ => Err(format!("expected NAME=REF, got `{value}`")),
    }
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// How long each test may run (default 5m)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Keep watching and print changes
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Show at most this many releases
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// The revision [default: the current release, else the newest recorded]
    #[arg(value_name = "REV")]
    pub revision: Option<u64>,

    /// Where to write the page (its data goes to FILE.json) [default:
    /// `slipway-report-ENV-REV.html`]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// The revision to return to [default: the one before the current]
    #[arg(long, value_name = "REV")]
    pub to: Option<u64>,

    /// Rollout time budget [default: the environment's `timeout`]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Do not ask for approval
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Also write a release report: a self-contained HTML page at FILE and its data at
    /// FILE.json
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// An environment of slipway.yaml
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Workloads to restart [default: every workload of the release]
    #[arg(value_name = "WORKLOAD")]
    pub workloads: Vec<String>,

    /// Do not ask for approval
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Also write a release report: a self-contained HTML page at FILE and its data at
    /// FILE.json
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment to promote into
    #[arg(value_name = "ENV")]
    pub env: String,

    /// Promote from this environment instead of the configured `promote-from`
    #[arg(long, value_name = "ENV")]
    pub from: Option<String>,

    /// Do not ask for approval
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Also write a release report: a self-contained HTML page at FILE and its data at
    /// FILE.json
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox cluster (and its registry) until SIGINT or SIGTERM
    #[command(after_help = "\
Examples:
  slipway sandbox serve --listen 127.0.0.1:6443 --state .slipway/sandbox --kubeconfig sandbox.kubeconfig
  kubectl --kubeconfig sandbox.kubeconfig get pods -A
  slipway sandbox serve --ingress-metrics-listen 127.0.0.1:10254 --ingress-rate 50")]
    Serve(SandboxServeArgs),
}

#[derive(Debug, Args)]
pub struct SandboxServeArgs {
    /// Address of the Kubernetes API
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6443")]
    pub listen: String,

    /// Keep state in this directory (crash-safe); in memory when absent
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,

    /// Also serve an OCI registry at this address
    #[arg(long = "registry-listen", value_name = "ADDR")]
    pub registry_listen: Option<String>,

    /// Registries whose images are checked (besides loopback ones)
    #[arg(long = "registry", value_name = "HOST")]
    pub registries: Vec<String>,

    /// Treat images of unknown registries as missing
    #[arg(long = "strict-images")]
    pub strict_images: bool,

    /// Divide every simulated duration by this factor
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    pub speed: f64,

    /// Share of requests answered with 500/503/429 (fault injection)
    #[arg(long = "fault-rate", value_name = "F", default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Delay added to every request
    #[arg(long, value_name = "DURATION")]
    pub latency: Option<String>,

    /// Close every watch after this long
    #[arg(long = "watch-drop-after", value_name = "DURATION")]
    pub watch_drop_after: Option<String>,

    /// Serve HTTPS with a generated CA; authentication and RBAC on
    #[arg(long)]
    pub tls: bool,

    /// A user with a client certificate and a token (contexts NAME and NAME-token)
    #[arg(long = "user", value_name = "NAME[:GROUP,...]")]
    pub users: Vec<String>,

    /// Serve the simulated ingress traffic's Prometheus metrics at this address, `off`
    /// for none and no traffic [default: a free loopback port]
    #[arg(
        long = "ingress-metrics-listen",
        value_name = "ADDR|off",
        env = "SLIPWAY_SANDBOX_INGRESS_METRICS_LISTEN",
        hide_env_values = true
    )]
    pub ingress_metrics_listen: Option<String>,

    /// Simulated ingress requests per simulated second
    #[arg(
        long = "ingress-rate",
        value_name = "N",
        env = "SLIPWAY_SANDBOX_INGRESS_RATE",
        hide_env_values = true,
        default_value_t = kube_sandbox::ingress_metrics::DEFAULT_RATE
    )]
    pub ingress_rate: f64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `slipway.1` and one `slipway-<command>.1` per command into this directory
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_definitions_are_consistent() {
        command().debug_assert();
    }

    #[test]
    fn image_override_needs_name_and_reference() {
        assert_eq!(
            parse_image_override("api=reg/api:1").unwrap(),
            ("api".to_string(), "reg/api:1".to_string())
        );
        assert!(parse_image_override("api").is_err());
        assert!(parse_image_override("=reg/api:1").is_err());
        assert!(parse_image_override("api=").is_err());
    }

    #[test]
    fn output_distinguishes_formats_from_destinations() {
        assert_eq!(parse_output("json").unwrap(), Output::Json);
        assert_eq!(parse_output("human").unwrap(), Output::Human);
        assert_eq!(parse_output("-").unwrap(), Output::Stdout);
        assert_eq!(
            parse_output("out").unwrap(),
            Output::Dir(PathBuf::from("out"))
        );
    }
}

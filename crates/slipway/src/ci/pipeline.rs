//! `slipway init --ci github|azure|gitlab`: a pipeline for the project of `slipway.yaml`.
//! On the main branch it builds and deploys the first environment, then promotes the
//! same images to the next one behind the CI system's own approval (GitHub environments
//! with required reviewers, Azure environments with approvals, a GitLab protected
//! environment and a manual job); merge and pull requests are validated.
//!
//! Credentials come from the CI system's secrets into the environment of the step that
//! needs them — registry credentials as `SLIPWAY_REGISTRY_USERNAME` /
//! `SLIPWAY_REGISTRY_PASSWORD` (`registries.<host>.credentials: env`), a cluster's
//! kubeconfig as a secret file, values of `secrets.*.from-env` by their names — and
//! never on a command line.

use std::fmt::Write as _;

use slipway_config::{Cluster, Config, Credentials, Environment};

use super::System;

/// The file each system reads its pipeline from.
pub fn file_name(system: System) -> &'static str {
    match system {
        System::Github => ".github/workflows/slipway.yml",
        System::Azure => "azure-pipelines.yml",
        System::Gitlab => ".gitlab-ci.yml",
    }
}

/// What the pipeline needs to know of the project.
struct Plan<'a> {
    first: &'a Environment,
    next: Option<&'a Environment>,
    /// Registry hosts the images are pushed to, and whether each takes its credentials
    /// from the environment.
    registries: Vec<(String, bool)>,
    /// Names of `secrets.*.from-env` values.
    secret_env: Vec<String>,
    version: &'static str,
}

fn plan(config: &Config) -> Result<Plan<'_>, String> {
    let first = config
        .environments
        .first()
        .ok_or("`slipway.yaml` has no environment to deploy")?;
    let next = config
        .environments
        .iter()
        .find(|e| e.promote_from.as_deref() == Some(first.name.as_str()))
        .or_else(|| config.environments.get(1));
    let mut registries: Vec<(String, bool)> = Vec::new();
    for image in &config.images {
        let Some((host, _)) = image.repository.split_once('/') else {
            continue;
        };
        let is_host = host.contains('.') || host.contains(':') || host == "localhost";
        let loopback = host.starts_with("127.") || host.starts_with("localhost");
        if !is_host || loopback || registries.iter().any(|(h, _)| h == host) {
            continue;
        }
        let env = config
            .registries
            .get(host)
            .is_some_and(|r| r.credentials == Credentials::Env);
        registries.push((host.to_string(), env));
    }
    let mut secret_env: Vec<String> = config
        .secrets
        .values()
        .chain(config.environments.iter().flat_map(|e| e.secrets.values()))
        .flat_map(|s| s.from_env.iter().cloned())
        .collect();
    secret_env.sort();
    secret_env.dedup();
    Ok(Plan {
        first,
        next,
        registries,
        secret_env,
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Whether an environment's clusters are reached with a kubeconfig (not the sandbox).
fn needs_kubeconfig(env: &Environment) -> bool {
    env.targets
        .iter()
        .any(|t| matches!(t.cluster, Cluster::Context { .. }))
}

/// The secret holding an environment's kubeconfig: `KUBECONFIG_<ENV>`.
fn kubeconfig_secret(env: &Environment) -> String {
    let name: String = env
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("KUBECONFIG_{name}")
}

/// The pipeline for `config` in `system`'s language.
pub fn pipeline(config: &Config, system: System) -> Result<String, String> {
    let plan = plan(config)?;
    Ok(match system {
        System::Github => github(config, &plan),
        System::Azure => azure(config, &plan),
        System::Gitlab => gitlab(config, &plan),
    })
}

/// The comment at the top: what the pipeline does and what to set up.
fn header(
    config: &Config,
    plan: &Plan<'_>,
    system: System,
    approval: &str,
    secrets: &str,
) -> String {
    let mut h = format!(
        "# Written by `slipway init --ci {}` for `{}`: on the main branch, builds the\n# images and deploys `{}`",
        match system {
            System::Github => "github",
            System::Azure => "azure",
            System::Gitlab => "gitlab",
        },
        config.app,
        plan.first.name
    );
    match plan.next {
        Some(next) => {
            let _ = write!(
                h,
                ", then promotes the same images to `{}`\n# once approved ({approval}).\n",
                next.name
            );
        }
        None => h.push_str(".\n"),
    }
    h.push_str("# Merge and pull requests are validated; nothing is deployed from them.\n#\n");
    h.push_str(secrets);
    for (host, env) in &plan.registries {
        if !env {
            let _ = writeln!(
                h,
                "# `{host}`: set `registries.{host}.credentials: env` in slipway.yaml so that slipway\n# reads SLIPWAY_REGISTRY_USERNAME / SLIPWAY_REGISTRY_PASSWORD, given below."
            );
        }
    }
    h.push_str("# A release's report (an HTML page) is kept with the run.\n");
    h
}

fn github_secret_lines(plan: &Plan<'_>, env: &Environment, indent: &str) -> String {
    let mut out = String::new();
    if !plan.registries.is_empty() {
        let _ = writeln!(
            out,
            "{indent}SLIPWAY_REGISTRY_USERNAME: ${{{{ secrets.REGISTRY_USERNAME }}}}\n{indent}SLIPWAY_REGISTRY_PASSWORD: ${{{{ secrets.REGISTRY_PASSWORD }}}}"
        );
    }
    for name in &plan.secret_env {
        let _ = writeln!(out, "{indent}{name}: ${{{{ secrets.{name} }}}}");
    }
    if needs_kubeconfig(env) {
        let _ = writeln!(
            out,
            "{indent}KUBECONFIG_DATA: ${{{{ secrets.{} }}}}",
            kubeconfig_secret(env)
        );
    }
    out
}

fn github_setup() -> String {
    "      - uses: actions/checkout@v4
      - name: Cache slipway
        uses: actions/cache@v4
        with:
          path: ~/.cargo/bin/slipway
          key: slipway-${{ runner.os }}-${{ env.SLIPWAY_VERSION }}
      - name: Install slipway
        run: command -v slipway || cargo install --locked slipway --version \"$SLIPWAY_VERSION\"
"
    .to_string()
}

fn github_release_steps(plan: &Plan<'_>, env: &Environment, command: &str) -> String {
    let name = &env.name;
    let mut s = String::new();
    let _ = write!(
        s,
        "      - name: slipway {command} {name}
        id: release
        env:
{}        run: |
",
        github_secret_lines(plan, env, "          ")
    );
    if needs_kubeconfig(env) {
        s.push_str(
            "          # The kubeconfig comes from a secret, into a file only this job reads.
          umask 077
          printf '%s' \"$KUBECONFIG_DATA\" > \"$RUNNER_TEMP/kubeconfig\"
          export KUBECONFIG=\"$RUNNER_TEMP/kubeconfig\"
",
        );
    }
    let _ = write!(
        s,
        "          slipway {command} {name} --yes --report slipway-report.html
      - name: Keep the release report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: slipway-report-{name}
          path: slipway-report.html*
          if-no-files-found: ignore
"
    );
    s
}

fn github(config: &Config, plan: &Plan<'_>) -> String {
    let first = plan.first;
    let secrets = {
        let mut s = String::from(
            "# Repository secrets (Settings > Secrets and variables > Actions), given to the\n# steps that need them as environment variables:\n",
        );
        if !plan.registries.is_empty() {
            s.push_str("#   REGISTRY_USERNAME, REGISTRY_PASSWORD: the registry's credentials;\n");
        }
        for e in std::iter::once(first).chain(plan.next) {
            if needs_kubeconfig(e) {
                let _ = writeln!(
                    s,
                    "#   {}: the kubeconfig of `{}`;",
                    kubeconfig_secret(e),
                    e.name
                );
            }
        }
        for n in &plan.secret_env {
            let _ = writeln!(s, "#   {n}: read by `secrets.*.from-env`;");
        }
        s.push_str("#\n");
        s
    };
    let approval = plan
        .next
        .map(|n| {
            format!(
                "give the environment `{}` required reviewers in Settings > Environments",
                n.name
            )
        })
        .unwrap_or_default();
    let mut y = header(config, plan, System::Github, &approval, &secrets);
    let _ = write!(
        y,
        "
name: slipway

on:
  push:
    branches: [main]
  pull_request:
    branches: [main]

permissions:
  contents: read

# One release of an environment at a time; a running one is never cancelled.
concurrency:
  group: slipway-${{{{ github.ref }}}}
  cancel-in-progress: false

env:
  SLIPWAY_VERSION: \"{version}\"

jobs:
  validate:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    steps:
{setup}      - name: slipway validate {first}
        run: slipway validate {first}

  deploy-{first}:
    if: github.event_name == 'push' && github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    environment: {first}
    outputs:
      revision: ${{{{ steps.release.outputs.revision }}}}
      images: ${{{{ steps.release.outputs.images }}}}
    steps:
{setup}{deploy}",
        version = plan.version,
        setup = github_setup(),
        first = first.name,
        deploy = github_release_steps(plan, first, "deploy").replacen(
            &format!("slipway deploy {} --yes", first.name),
            &format!("slipway deploy {} --build --yes", first.name),
            1
        ),
    );
    if let Some(next) = plan.next {
        let _ = write!(
            y,
            "
  promote-{next}:
    needs: deploy-{first}
    runs-on: ubuntu-latest
    # Waits for the reviewers of the environment `{next}`.
    environment: {next}
    steps:
{setup}{promote}",
            next = next.name,
            first = first.name,
            setup = github_setup(),
            promote = github_release_steps(plan, next, "promote"),
        );
    }
    y
}

fn azure_env_lines(plan: &Plan<'_>, env: &Environment, indent: &str) -> String {
    let mut out = String::new();
    if !plan.registries.is_empty() {
        let _ = writeln!(
            out,
            "{indent}SLIPWAY_REGISTRY_USERNAME: $(REGISTRY_USERNAME)\n{indent}SLIPWAY_REGISTRY_PASSWORD: $(REGISTRY_PASSWORD)"
        );
    }
    for name in &plan.secret_env {
        let _ = writeln!(out, "{indent}{name}: $({name})");
    }
    if needs_kubeconfig(env) {
        let _ = writeln!(out, "{indent}KUBECONFIG: $(kubeconfig.secureFilePath)");
    }
    out
}

const AZURE_SETUP: &str = "                - checkout: self
                - task: Cache@2
                  displayName: Cache slipway
                  inputs:
                    key: 'slipway | \"$(Agent.OS)\" | \"$(SLIPWAY_VERSION)\"'
                    path: $(Pipeline.Workspace)/slipway-cache
                - script: |
                    export CARGO_HOME=\"$(Pipeline.Workspace)/slipway-cache/cargo\"
                    command -v \"$CARGO_HOME/bin/slipway\" || cargo install --locked slipway --version \"$(SLIPWAY_VERSION)\"
                    echo \"##vso[task.prependpath]$CARGO_HOME/bin\"
                  displayName: Install slipway
";

fn azure_release(plan: &Plan<'_>, env: &Environment, command: &str, build: bool) -> String {
    let name = &env.name;
    let mut s = AZURE_SETUP.to_string();
    if needs_kubeconfig(env) {
        let _ = write!(
            s,
            "                - task: DownloadSecureFile@1
                  name: kubeconfig
                  displayName: The kubeconfig of `{name}` (a secure file)
                  inputs:
                    secureFile: kubeconfig-{name}
"
        );
    }
    let build = if build { " --build" } else { "" };
    let _ = write!(
        s,
        "                - script: slipway {command} {name}{build} --yes --report $(Build.ArtifactStagingDirectory)/slipway-report.html
                  name: slipway
                  displayName: slipway {command} {name}
                  env:
{}                - task: PublishPipelineArtifact@1
                  displayName: Keep the release report
                  condition: always()
                  inputs:
                    targetPath: $(Build.ArtifactStagingDirectory)
                    artifact: slipway-report-{name}
",
        azure_env_lines(plan, env, "                    ")
    );
    s
}

fn azure(config: &Config, plan: &Plan<'_>) -> String {
    let first = plan.first;
    let mut secrets = String::from(
        "# Secret variables of the pipeline (or a variable group), mapped into the steps'\n# environment:\n",
    );
    if !plan.registries.is_empty() {
        secrets.push_str("#   REGISTRY_USERNAME, REGISTRY_PASSWORD: the registry's credentials;\n");
    }
    for n in &plan.secret_env {
        let _ = writeln!(secrets, "#   {n}: read by `secrets.*.from-env`;");
    }
    for e in std::iter::once(first).chain(plan.next) {
        if needs_kubeconfig(e) {
            let _ = writeln!(
                secrets,
                "# the secure file `kubeconfig-{}` (Pipelines > Library): the kubeconfig of `{}`;",
                e.name, e.name
            );
        }
    }
    secrets.push_str("#\n");
    let approval = plan
        .next
        .map(|n| {
            format!(
                "add an approval check to the environment `{}` in Pipelines > Environments",
                n.name
            )
        })
        .unwrap_or_default();
    let mut y = header(config, plan, System::Azure, &approval, &secrets);
    let stage = |n: &str| n.replace('-', "_");
    let _ = write!(
        y,
        "
trigger:
  branches:
    include: [main]

pr:
  branches:
    include: [main]

variables:
  SLIPWAY_VERSION: \"{version}\"

stages:
  - stage: validate
    condition: eq(variables['Build.Reason'], 'PullRequest')
    jobs:
      - job: validate
        pool:
          vmImage: ubuntu-latest
        steps:
{setup}          - script: slipway validate {first}
            displayName: slipway validate {first}

  - stage: deploy_{stage_first}
    dependsOn: []
    condition: and(eq(variables['Build.SourceBranch'], 'refs/heads/main'), ne(variables['Build.Reason'], 'PullRequest'))
    jobs:
      - deployment: deploy
        pool:
          vmImage: ubuntu-latest
        environment: {first}
        strategy:
          runOnce:
            deploy:
              steps:
{release}",
        version = plan.version,
        first = first.name,
        stage_first = stage(&first.name),
        setup = AZURE_SETUP
            .lines()
            .map(|l| format!("{}\n", &l[6..]))
            .collect::<String>(),
        release = azure_release(plan, first, "deploy", true),
    );
    if let Some(next) = plan.next {
        let _ = write!(
            y,
            "
  - stage: promote_{stage_next}
    dependsOn: deploy_{stage_first}
    condition: succeeded()
    jobs:
      # Waits for the approvals and checks of the environment `{next}`.
      - deployment: promote
        pool:
          vmImage: ubuntu-latest
        environment: {next}
        strategy:
          runOnce:
            deploy:
              steps:
{release}",
            stage_next = stage(&next.name),
            stage_first = stage(&first.name),
            next = next.name,
            release = azure_release(plan, next, "promote", false),
        );
    }
    y
}

fn gitlab(config: &Config, plan: &Plan<'_>) -> String {
    let first = plan.first;
    let mut secrets = String::from(
        "# CI/CD variables (Settings > CI/CD > Variables), masked and protected, which GitLab\n# puts in the jobs' environment:\n",
    );
    if !plan.registries.is_empty() {
        secrets.push_str(
            "#   SLIPWAY_REGISTRY_USERNAME, SLIPWAY_REGISTRY_PASSWORD: the registry's credentials;\n",
        );
    }
    for n in &plan.secret_env {
        let _ = writeln!(secrets, "#   {n}: read by `secrets.*.from-env`;");
    }
    for e in std::iter::once(first).chain(plan.next) {
        if needs_kubeconfig(e) {
            let _ = writeln!(
                secrets,
                "#   KUBECONFIG (type File, scoped to the environment `{}`): its kubeconfig;",
                e.name
            );
        }
    }
    secrets.push_str("#\n");
    let approval = plan
        .next
        .map(|n| {
            format!(
                "protect the environment `{}` with required approvals in Settings > CI/CD",
                n.name
            )
        })
        .unwrap_or_default();
    let mut y = header(config, plan, System::Gitlab, &approval, &secrets);
    let _ = write!(
        y,
        "
stages: [validate, deploy, promote]

variables:
  SLIPWAY_VERSION: \"{version}\"
  CARGO_HOME: $CI_PROJECT_DIR/.cargo-home

default:
  image: rust:1
  cache:
    key: slipway-$SLIPWAY_VERSION
    paths:
      - .cargo-home/bin/
  before_script:
    - export PATH=\"$CARGO_HOME/bin:$PATH\"
    - command -v slipway || cargo install --locked slipway --version \"$SLIPWAY_VERSION\"

validate:
  stage: validate
  rules:
    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"
  script:
    - slipway validate {first}
  artifacts:
    when: always
    reports:
      codequality: gl-code-quality-report.json

deploy-{first}:
  stage: deploy
  rules:
    - if: $CI_COMMIT_BRANCH == \"main\" && $CI_PIPELINE_SOURCE != \"merge_request_event\"
  environment:
    name: {first}
  resource_group: {first}
  script:
    - slipway deploy {first} --build --yes --report slipway-report.html
  artifacts:
    when: always
    paths: [slipway-report.html, slipway-report.html.json]
    reports:
      dotenv: slipway.env
",
        version = plan.version,
        first = first.name,
    );
    if let Some(next) = plan.next {
        let _ = write!(
            y,
            "
promote-{next}:
  stage: promote
  needs: [deploy-{first}]
  rules:
    - if: $CI_COMMIT_BRANCH == \"main\" && $CI_PIPELINE_SOURCE != \"merge_request_event\"
      when: manual
  # A protected environment: the job waits for its approvals.
  environment:
    name: {next}
  resource_group: {next}
  script:
    - slipway promote {next} --yes --report slipway-report.html
  artifacts:
    when: always
    paths: [slipway-report.html, slipway-report.html.json]
    reports:
      dotenv: slipway.env
",
            next = next.name,
            first = first.name,
        );
    }
    y
}

/// `slipway init --ci SYSTEM`: writes the pipeline of the project at `config_path`
/// (never over an existing file), or prints it with `--print`.
pub fn init(
    system: System,
    config_path: &std::path::Path,
    print: bool,
    printer: &crate::printer::Printer,
) -> Result<(), crate::error::CliError> {
    use crate::error::CliError;
    if !config_path.exists() {
        return Err(CliError::usage(format!(
            "`{}` does not exist; the pipeline deploys its environments",
            config_path.display()
        ))
        .hint("write it first with `slipway init`, then run `slipway init --ci …` again"));
    }
    let config = slipway_config::load(config_path).map_err(|e| {
        CliError::usage(format!("`{}` is invalid: {e}", config_path.display())).hint(format!(
            "`slipway validate` shows every problem of `{}`",
            config_path.display()
        ))
    })?;
    let text = pipeline(&config, system).map_err(CliError::usage)?;
    if print {
        printer.data(&text);
        return Ok(());
    }
    let path = config.base_dir.join(file_name(system));
    if path.exists() {
        return Err(CliError::usage(format!(
            "`{}` already exists; `slipway init` never overwrites a file",
            path.display()
        ))
        .hint(format!(
            "see what would be written with `slipway init --ci {} --print`",
            match system {
                System::Github => "github",
                System::Azure => "azure",
                System::Gitlab => "gitlab",
            }
        )));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, &text)?;
    printer.info(&format!(
        "wrote `{}`; its first lines say which secrets and approvals to set up",
        path.display()
    ));
    Ok(())
}

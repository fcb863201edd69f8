//! `slipway deploy`, `diff`, `history`, `rollback`, `restart`, `promote` and `status`:
//! the release engine of
//! `slipway-deploy` run for every namespace of an environment, with its events printed
//! as they happen.

use std::sync::Arc;
use std::time::Duration;

use slipway_config::Environment;
use slipway_deploy::engine::{self, Change, DeployError, DeployInput, Event, Hook, Outcome};
use slipway_deploy::record::{Release, ReleaseStatus};

use crate::cli::{
    AbortArgs, BuildArgs, DeployArgs, DiffArgs, GlobalArgs, HistoryArgs, ImageArgs, PromoteArgs,
    RestartArgs, RollbackArgs, StatusArgs,
};
use crate::error::CliError;
use crate::exit;
use crate::printer::{Format, Printer};

use super::display::{DeployDisplay, change_word, changes_json};
use super::{build, clusters, project, release};

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(format!("cannot start the runtime: {e}")))
}

/// Asks on a terminal; refuses elsewhere (CI must pass `--yes`).
fn approve(env: &str, what: &str) -> Result<(), CliError> {
    use std::io::{BufRead, IsTerminal, Write};
    let refused = || {
        CliError::new(
            exit::NOT_APPROVED,
            format!("environment `{env}` requires approval"),
        )
        .hint(format!("review `slipway diff {env}` and pass `--yes`"))
    };
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(refused());
    }
    eprint!("{what} `{env}`? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(refused())
    }
}

pub(super) fn parse_duration(
    flag: &str,
    value: &Option<String>,
    default: Duration,
) -> Result<Duration, CliError> {
    match value {
        None => Ok(default),
        Some(text) => slipway_config::duration::parse_duration(text)
            .map_err(|e| CliError::usage(format!("`{flag} {text}`: {e}"))),
    }
}

/// Who deploys: `$SLIPWAY_USER`, else `user@host`.
pub(super) fn user() -> String {
    if let Ok(u) = std::env::var("SLIPWAY_USER") {
        return u;
    }
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{name}@{host}")
}

/// What a deploy does about a dirty working tree, besides recording it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirtyCheck {
    /// The environment's `dirty` policy holds.
    Policy,
    /// The policy holds; its warning is the build's (`--build` warns itself).
    PolicyBuildWarns,
    /// A dry run: it says what the policy would do and refuses nothing.
    Preview,
}

/// The commit a deploy from the working tree records, and whether the tree is dirty
/// (tracked files changed, or untracked files not ignored: the manifests and
/// configuration rendered may not be the commit's). The environment's `dirty` policy
/// applies here to every deploy, with or without `--build`: `refuse` stops it before
/// anything is written anywhere, `warn` lists the changed files.
fn git_commit(
    project: &project::Project,
    env: &Environment,
    check: DirtyCheck,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<(Option<String>, bool), CliError> {
    use slipway_config::DirtyPolicy;
    let dir = if project.config.base_dir.as_os_str().is_empty() {
        std::path::PathBuf::from(".")
    } else {
        project.config.base_dir.clone()
    };
    let Ok(repo) = slipway_build::git::Repository::discover(&dir) else {
        return Ok((None, false));
    };
    let commit = repo.head().ok().map(|c| c.to_string());
    let Ok(status) = repo.status() else {
        return Ok((commit, false));
    };
    if !status.is_dirty() {
        return Ok((commit, false));
    }
    let listed = status.listed();
    let name = &env.name;
    match env.policy.dirty {
        DirtyPolicy::Refuse if check != DirtyCheck::Preview => {
            return Err(CliError::usage(format!(
                "the working tree has uncommitted changes ({listed}) and environment `{name}` has `dirty: refuse` (`environments.{name}.dirty` in `{}`); nothing was deployed",
                project::config_path(global).display()
            ))
            .hint("commit or stash the changes, then deploy again"));
        }
        DirtyPolicy::Refuse => printer.info(&format!(
            "warning: the working tree has uncommitted changes ({listed}); a deploy to `{name}` would be refused (`dirty: refuse`)"
        )),
        DirtyPolicy::Warn if check != DirtyCheck::PolicyBuildWarns => printer.info(&format!(
            "warning: the working tree has uncommitted changes ({listed}); the release records it as dirty"
        )),
        DirtyPolicy::Warn | DirtyPolicy::Allow => {}
    }
    Ok((commit, true))
}

pub fn deploy(args: &DeployArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    clusters::check_context(&env, global)?;
    if args.resume {
        if env.policy.require_approval && !args.yes {
            approve(&env.name, "resume the paused release in")?;
        }
        let paused = Paused {
            mode: engine::Mode::Resume,
            timeout: parse_duration("--timeout", &args.timeout, env.policy.timeout)?,
            settle: parse_duration("--settle", &args.settle, env.policy.settle)?,
            wait_lock: parse_duration("--wait-lock", &args.wait_lock, Duration::ZERO)?,
            rollback: env.policy.rollback_on_failure && !args.no_rollback,
            report: args.report.clone(),
        };
        return paused_release(&project, &env, &paused, global, printer);
    }
    project.check_images(&args.images.only)?;
    let overrides: Vec<String> = args.images.image.iter().map(|(n, _)| n.clone()).collect();
    project.check_images(&overrides)?;
    release::check_overrides(&args.images.image)?;
    let timeout = parse_duration("--timeout", &args.timeout, env.policy.timeout)?;
    let wait_lock = parse_duration("--wait-lock", &args.wait_lock, Duration::ZERO)?;
    let settle = parse_duration("--settle", &args.settle, env.policy.settle)?;
    let check = match (args.dry_run, args.build) {
        (true, _) => DirtyCheck::Preview,
        (false, true) => DirtyCheck::PolicyBuildWarns,
        (false, false) => DirtyCheck::Policy,
    };
    let (commit, dirty) = git_commit(&project, &env, check, global, printer)?;

    if env.policy.require_approval && !args.yes && !args.dry_run {
        approve(&env.name, "deploy to")?;
    }

    if args.build {
        let build_args = BuildArgs {
            images: args.images.only.clone(),
            push: true,
            no_push: false,
            env: Some(env.name.clone()),
            rebuild: false,
            no_cache: false,
        };
        if let Some(ci) = &printer.ci {
            ci.group("build", &format!("build for `{}`", env.name));
        }
        let built = build::run(&build_args, global, printer);
        if let Some(ci) = &printer.ci {
            ci.end_group();
        }
        built?;
    }

    let builds = release::builds(&project)?;
    let request = Request {
        action: "deploy",
        overrides: args.images.image.clone(),
        only: args.images.only.clone(),
        images_from: None,
        timeout,
        settle,
        rollback: env.policy.rollback_on_failure && !args.no_rollback,
        dry_run: args.dry_run,
        wait_lock,
        git: (commit, dirty),
        report: args.report.clone(),
    };
    release_environment(&project, &env, &builds, &request, global, printer)
}

/// `slipway abort ENV`: the paused release's canary goes, and the release is recorded
/// failed ("aborted by USER"), the previous release restored.
///
/// # Errors
///
/// [`exit::NOTHING_PAUSED`] when no release is paused; the errors of a release.
pub fn abort(args: &AbortArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    if env.policy.require_approval && !args.yes {
        approve(&env.name, "abort the paused release in")?;
    }
    let paused = Paused {
        mode: engine::Mode::Abort,
        timeout: env.policy.timeout,
        settle: env.policy.settle,
        wait_lock: Duration::ZERO,
        rollback: env.policy.rollback_on_failure && !args.no_rollback,
        report: None,
    };
    paused_release(&project, &env, &paused, global, printer)
}

/// How the paused release is continued or aborted.
struct Paused {
    mode: engine::Mode,
    timeout: Duration,
    settle: Duration,
    wait_lock: Duration,
    rollback: bool,
    report: Option<std::path::PathBuf>,
}

/// Resumes or aborts the paused release of every namespace of `env` that has one, with
/// the objects and images its record holds (nothing is built or rendered) and the
/// strategies of `slipway.yaml`.
fn paused_release(
    project: &project::Project,
    env: &Environment,
    how: &Paused,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<(), CliError> {
    let rt = runtime()?;
    let all = histories(&rt, project, env, global, printer)?;
    let verb = if how.mode == engine::Mode::Abort {
        "aborting"
    } else {
        "resuming"
    };
    let mut jobs = Vec::new();
    for to_run in all {
        let ns = to_run.ns.clone();
        let Some(paused) = slipway_deploy::record::paused(&to_run.records).cloned() else {
            continue;
        };
        let objects = slipway_deploy::record::reappliable(&paused.manifest);
        let applyset_id = slipway_render::applyset::id(
            &slipway_render::release::applyset_parent_name(&project.config.app),
            &ns,
            "Secret",
            "",
        );
        let jobs_of = CheckJobs {
            app: &project.config.app,
            applyset_id: &applyset_id,
            images: &paused.images,
            config_file: &project.config.file,
        };
        let mut strategies = canaries(env, &jobs_of)?;
        if let Some(at) = &paused.paused
            && !strategies.iter().any(|c| c.deployment == at.deployment)
        {
            if how.mode == engine::Mode::Resume {
                return Err(CliError::usage(format!(
                    "revision {} is paused at {} in `{ns}`, but `slipway.yaml` has no canary for deployment `{}` any more; nothing was changed",
                    paused.revision,
                    at.line(),
                    at.deployment
                ))
                .hint(format!("`slipway abort {}` removes the canary", env.name)));
            }
            // Its objects are named after the Deployment: the copy of the Deployment goes.
            strategies.push(engine::Canary {
                deployment: at.deployment.clone(),
                traffic: engine::CanaryTraffic::Replicas,
                steps: vec![],
                analysis: vec![],
            });
        }
        let input = DeployInput {
            canaries: strategies,
            blue_greens: blue_greens(env, &jobs_of)?,
            timeout: how.timeout,
            settle: how.settle,
            wait_lock: how.wait_lock,
            rollback_on_failure: how.rollback,
            action: paused.action.clone(),
            source_revision: paused.source_revision,
            ..reapply(project, env, &ns, &paused, objects, "deploy")
        };
        jobs.push(Job {
            header: format!("==> {verb} revision {} in `{ns}`", paused.revision),
            target: to_run,
            input,
            sources: Vec::new(),
            store_key: None,
            notes: None,
            mode: how.mode,
        });
    }
    if jobs.is_empty() {
        return Err(CliError::new(
            exit::NOTHING_PAUSED,
            format!("no release of `{}` is paused", env.name),
        )
        .hint(format!(
            "a release pauses at a canary step without a `pause`; `slipway history {}` shows where the releases stand",
            env.name
        )));
    }
    let finish = Finish {
        environment: env.name.clone(),
        action: if how.mode == engine::Mode::Abort {
            "abort"
        } else {
            "deploy"
        },
        report: how.report.clone(),
    };
    run_jobs(&rt, printer, jobs, &finish)
}

/// Runs one step of the command and logs how long it took, at debug level under the
/// target `slipway::timing` (`SLIPWAY_LOG=slipway::timing=debug`), as the engine logs
/// its own steps.
fn timed<T>(step: &str, run: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = run();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(target: "slipway::timing", step, ms = format!("{ms:.1}"));
    out
}

/// What one release of an environment asks for.
struct Request {
    action: &'static str,
    overrides: Vec<(String, String)>,
    only: Vec<String>,
    /// For a promotion: the images of another environment's release.
    images_from: Option<Release>,
    timeout: Duration,
    /// See `settle` in `slipway.yaml`.
    settle: Duration,
    rollback: bool,
    dry_run: bool,
    wait_lock: Duration,
    git: (Option<String>, bool),
    /// `--report FILE`.
    report: Option<std::path::PathBuf>,
}

/// Renders and validates every namespace first — nothing is written anywhere when one
/// of them fails — then releases them one after the other, stopping at the first
/// failure.
fn release_environment(
    project: &project::Project,
    env: &Environment,
    builds: &[slipway_deploy::images::Built],
    request: &Request,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<(), CliError> {
    release::check_rule_ids(project, env)?;
    let rt = runtime()?;
    let all = timed("connect and read records", || {
        histories(&rt, project, env, global, printer)
    })?;
    let crds = timed("list CRDs", || cluster_crds(&rt, &all));
    let mut planned = Vec::new();
    let mut failing = Vec::new();
    let resolver = release::Resolver::new(&project.config, release::RegistryNeed::Required);
    let mut warnings = release::Warnings::default();
    let namespaces = all.len();
    for target in all {
        let ns = &target.ns;
        let current = slipway_deploy::record::current(&target.records);
        let (overrides, origin): (Vec<(String, String)>, _) = match &request.images_from {
            // A promotion runs exactly the source's images.
            Some(from) => (
                from.images
                    .iter()
                    .map(|i| (i.name.clone(), i.reference.clone()))
                    .collect(),
                release::OverrideOrigin::Promotion,
            ),
            None => (
                request.overrides.clone(),
                release::OverrideOrigin::CommandLine,
            ),
        };
        let image_request = release::ImageRequest {
            builds,
            overrides: &overrides,
            origin,
            only: &request.only,
            missing: release::MissingImages::Refuse,
        };
        let key = timed("read the key of Secret names", || {
            rt.block_on(release::cluster_key(
                &target.connection,
                &project.config.app,
                ns,
            ))
        })?;
        let namespace = release::Target {
            ns,
            current,
            at: chart_release(
                &rt,
                &target.connection,
                env,
                slipway_deploy::record::next_revision(&target.records),
                current.is_some(),
            )?,
            secret_key: &key.key,
        };
        let (images, rendered) = timed("choose images and render", || {
            release::release_namespace(
                project,
                env,
                &namespace,
                &image_request,
                &resolver,
                &mut warnings,
            )
        })?;
        let report = timed("validate", || {
            release::check(env, &rendered, crds[target.cluster].clone())
        });
        if report.has_errors() {
            failing.push((ns.clone(), report));
        }
        strategies_apply(project, env, ns, &rendered)?;
        planned.push((target, images, rendered, key));
    }
    warnings.print(printer, namespaces);
    if !failing.is_empty() {
        let named: Vec<(&str, &slipway_check::Report)> =
            failing.iter().map(|(ns, r)| (ns.as_str(), r)).collect();
        release::print_reports(printer, &named, namespaces);
        return Err(release::validation_failed(&env.name));
    }
    let mut jobs = Vec::new();
    for (target, images, rendered, key) in planned {
        // A namespace's first deploy keeps the key its Secrets' names were made with,
        // once its objects were applied: a release refused at its plan writes nothing.
        let store_key = (!key.stored && !request.dry_run).then(|| StoreKey {
            app: project.config.app.clone(),
            key: key.key.clone(),
        });
        let mut objects = vec![slipway_render::release::applyset_parent(
            &project.config.app,
            &rendered,
        )];
        objects.extend(rendered.objects.iter().map(|o| o.value.clone()));
        let input = DeployInput {
            app: project.config.app.clone(),
            environment: env.name.clone(),
            namespace: target.ns.clone(),
            objects,
            canaries: canaries(env, &check_jobs(project, &rendered, &images.chosen))?,
            blue_greens: blue_greens(env, &check_jobs(project, &rendered, &images.chosen))?,
            recreate: env.policy.recreate.clone(),
            hooks: rendered
                .hooks
                .iter()
                .map(|h| Hook {
                    name: h.name.clone(),
                    job: h.job.value.clone(),
                    timeout: h.timeout,
                    post_deploy: !h.pre_deploy,
                    delete_on_success: h.delete_on_success,
                    delete_on_failure: h.delete_on_failure,
                })
                .collect(),
            images: images.chosen.clone(),
            timeout: request.timeout,
            rollback_on_failure: request.rollback,
            crashloop_tolerance: env.policy.crashloop_tolerance,
            settle: request.settle,
            user: user(),
            git_commit: request.git.0.clone(),
            git_dirty: request.git.1,
            action: request.action.into(),
            source_revision: request.images_from.as_ref().map(|r| r.revision),
            dry_run: request.dry_run,
            wait_lock: request.wait_lock,
            interrupt: crate::interrupt::token(),
        };
        // Where each object comes from, so that a refusal by the cluster names the file.
        let sources = rendered
            .objects
            .iter()
            .map(|o| {
                let kind = o.value.get("kind").and_then(|v| v.as_str()).unwrap_or("?");
                let name = o
                    .value
                    .pointer("/metadata/name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?");
                (format!("{kind}/{name}"), o.source.to_string())
            })
            .collect();
        let notes = rendered
            .notes
            .clone()
            .filter(|_| printer.format != crate::printer::Format::Json && !request.dry_run);
        jobs.push(Job {
            header: format!("==> {} in namespace `{}`", env.name, target.ns),
            target,
            input,
            sources,
            store_key,
            notes,
            mode: engine::Mode::Deploy,
        });
    }
    let finish = Finish {
        environment: env.name.clone(),
        action: request.action,
        report: request.report.clone(),
    };
    run_jobs(&rt, printer, jobs, &finish)
}

/// What a chart renders against when the environment is a chart: the cluster's version
/// (`.Capabilities.KubeVersion`), what it serves (`.Capabilities.APIVersions`, from its
/// discovery) and the cluster itself for `lookup`, read when a template calls it.
/// Without a chart, only the revision and `upgrade`.
///
/// # Errors
///
/// The cluster's discovery cannot be read.
pub(super) fn chart_release(
    rt: &tokio::runtime::Runtime,
    cluster: &Arc<slipway_deploy::cluster::Cluster>,
    env: &Environment,
    revision: u64,
    upgrade: bool,
) -> Result<slipway_render::release::ChartRelease, CliError> {
    let mut at = slipway_render::release::ChartRelease {
        revision,
        upgrade,
        ..Default::default()
    };
    if env.chart.is_none() {
        return Ok(at);
    }
    at.kube_version = rt
        .block_on(cluster.client().apiserver_version())
        .ok()
        .map(|info| info.git_version);
    let apis = rt.block_on(cluster.api_versions()).map_err(|e| {
        CliError::new(
            crate::exit::of_cluster(&e),
            format!("cannot read the API versions the cluster serves (for the chart's `.Capabilities.APIVersions`): {e}"),
        )
    })?;
    at.api_versions = Some(apis);
    // Rendering is synchronous and runs outside the runtime: each `lookup` waits for
    // its answer on the runtime's handle.
    let handle = rt.handle().clone();
    let cluster = Arc::clone(cluster);
    at.lookup = Some(slipway_render::chart::ClusterLookup(Arc::new(
        move |api_version: &str, kind: &str, namespace: &str, name: &str| {
            handle
                .block_on(cluster.lookup(api_version, kind, namespace, name))
                .map_err(|e| e.to_string())
        },
    )));
    Ok(at)
}

/// The CustomResourceDefinitions of each cluster of the environment (by the cluster
/// numbers of `all`), so that custom resources are checked against them; `None` where
/// they cannot be listed (no permission, say): such resources are reported unchecked.
fn cluster_crds(
    rt: &tokio::runtime::Runtime,
    all: &[TargetRecords],
) -> Vec<Option<slipway_check::CrdSchemas>> {
    let clusters = all.iter().map(|t| t.cluster).max().map_or(0, |m| m + 1);
    let mut out = vec![None; clusters];
    for t in all {
        if out[t.cluster].is_some() {
            continue;
        }
        let listed = rt.block_on(t.connection.list(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "",
        ));
        if let Ok(items) = listed {
            out[t.cluster] = Some(slipway_check::CrdSchemas::from_crds(&items));
        }
    }
    out
}

/// What is left for a command once its releases ran: the CI outputs and job summary,
/// and the release report when `--report` asked for one.
struct Finish {
    environment: String,
    action: &'static str,
    report: Option<std::path::PathBuf>,
}

/// One release of one namespace, ready to run.
pub(super) struct Job {
    /// The line printed when it starts.
    header: String,
    pub(super) target: TargetRecords,
    pub(super) input: DeployInput,
    /// `Kind/name` → `file:line` of the rendered objects (empty for a release re-applied
    /// from a record).
    sources: Vec<(String, String)>,
    /// The key of generated Secrets' names, to store once the release applied objects.
    store_key: Option<StoreKey>,
    /// A chart's `NOTES.txt`, printed once the release is deployed (human output only).
    notes: Option<String>,
    /// A new release, or the paused one resumed or aborted.
    mode: engine::Mode,
}

/// A namespace's new key of Secret names (see `release::cluster_key`).
struct StoreKey {
    app: String,
    key: Vec<u8>,
}

/// What became of one namespace's release.
enum JobResult {
    Done(Result<(), CliError>),
    /// Not started: a release elsewhere failed first.
    NotStarted,
}

/// Runs releases: the namespaces of one cluster one after the other, clusters at the
/// same time. Once one fails, no further namespace starts (those under way finish,
/// with their own rollback). The first failure, in the environment's order, is the
/// command's error; with several namespaces it says where each one stands.
fn run_jobs(
    rt: &tokio::runtime::Runtime,
    printer: &Printer,
    mut jobs: Vec<Job>,
    finish: &Finish,
) -> Result<(), CliError> {
    use std::sync::atomic::{AtomicBool, Ordering};

    let order: Vec<String> = jobs.iter().map(|j| j.target.ns.clone()).collect();
    super::report::stamp_provenance(&mut jobs);
    let mut groups: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        match groups
            .iter_mut()
            .find(|g| g[0].target.cluster == job.target.cluster)
        {
            Some(group) => group.push(job),
            None => groups.push(vec![job]),
        }
    }
    // A signal now stops the releases (each restores its previous release) rather than
    // the process: see `crate::interrupt`.
    crate::interrupt::install()?;
    let restores = groups.iter().flatten().any(|j| {
        j.input.rollback_on_failure && slipway_deploy::record::current(&j.target.records).is_some()
    });
    let _releasing = crate::interrupt::releasing(restores);
    let plan_only = groups.iter().flatten().all(|j| j.input.dry_run);
    let display = DeployDisplay::new(printer, groups.len() > 1).plan_only(plan_only);
    for job in groups.iter().flatten() {
        display
            .journal()
            .context(&job.target.ns, super::report::context(&job.input));
    }
    let stop = AtomicBool::new(false);
    let runs = groups.into_iter().map(|group| {
        let display = &display;
        let stop = &stop;
        async move {
            let mut done = Vec::new();
            for job in group {
                let ns = job.target.ns.clone();
                if stop.load(Ordering::SeqCst) {
                    done.push((ns, JobResult::NotStarted));
                    continue;
                }
                display.line(&ns, &job.header);
                let report = |e: Event| display.event(&ns, &e);
                let sources = job.sources;
                let notes = job.notes;
                let app = job.input.app.clone();
                let connection = job.target.connection.clone();
                let env_name = job.input.environment.clone();
                let outcome =
                    engine::run(job.target.connection, job.input, job.mode, &report).await;
                let applied = matches!(
                    outcome,
                    Ok(Outcome::Deployed { .. }
                        | Outcome::RolledBack { .. }
                        | Outcome::Failed { .. }
                        | Outcome::Paused { .. })
                );
                let stored = match (&job.store_key, applied) {
                    (Some(k), true) => {
                        release::store_cluster_key(&connection, &k.app, &ns, &k.key).await
                    }
                    _ => Ok(()),
                };
                // The journal's lock is not held across the write.
                let kept = if applied {
                    display.journal().namespace_report(&ns)
                } else {
                    None
                };
                if let Some(kept) = kept
                    && let Err(e) =
                        super::report::keep_in_record(&connection, &app, &ns, &kept).await
                {
                    display.line(
                        &ns,
                        &format!("warning: the release record does not keep its report: {e}"),
                    );
                }
                let deployed = matches!(outcome, Ok(Outcome::Deployed { .. }));
                let result = conclude(display, (&env_name, &ns), &sources, outcome).and(stored);
                if let (true, Ok(()), Some(notes)) = (deployed, &result, &notes) {
                    display.line(&ns, "NOTES:");
                    for line in notes.lines() {
                        display.line(&ns, line);
                    }
                }
                if result.is_err() {
                    stop.store(true, Ordering::SeqCst);
                }
                done.push((ns, JobResult::Done(result)));
            }
            done
        }
    });
    let finished = rt.block_on(futures::future::join_all(runs));
    display.finish();
    if !plan_only {
        let report = display
            .journal()
            .to_json(&finish.environment, finish.action);
        super::report::release_finished(printer, &report, finish.report.as_deref());
    }
    let mut results: Vec<(String, JobResult)> = finished.into_iter().flatten().collect();
    results.sort_by_key(|(ns, _)| order.iter().position(|o| o == ns));
    let several = results.len() > 1;
    let mut first_error = None;
    let mut summary = Vec::new();
    for (ns, result) in results {
        let state = match result {
            JobResult::NotStarted => "not started".to_string(),
            JobResult::Done(Ok(())) => "done".to_string(),
            JobResult::Done(Err(e)) => {
                let state = format!("failed (exit code {})", e.code);
                first_error.get_or_insert(e);
                state
            }
        };
        summary.push(format!("`{ns}`: {state}"));
    }
    match first_error {
        None => Ok(()),
        Some(e) if several => Err(e.hint(format!("namespaces: {}", summary.join(", ")))),
        Some(e) => Err(e),
    }
}

fn conclude(
    display: &DeployDisplay<'_>,
    (env, ns): (&str, &str),
    sources: &[(String, String)],
    outcome: Result<Outcome, DeployError>,
) -> Result<(), CliError> {
    let json = display.printer().format == Format::Json;
    match outcome {
        Ok(Outcome::Paused { revision, at }) => {
            display.line(
                ns,
                &format!("revision {revision} is paused in `{ns}` at {}", at.line()),
            );
            if json {
                display.printer().json_line(&serde_json::json!({"event": "done", "outcome": "paused", "namespace": ns, "revision": revision, "paused": at}));
            }
            Err(CliError::new(
                exit::PAUSED,
                format!(
                    "revision {revision} is paused in `{ns}` at {}; its canary runs at {}% until you continue",
                    at.line(),
                    at.weight
                ),
            )
            .hint(format!("continue to the next step and the promotion: `slipway deploy {env} --resume`"))
            .hint(format!("or remove the canary (all traffic back on the stable version): `slipway abort {env}`")))
        }
        Ok(
            Outcome::RolledBack {
                revision,
                diagnosis,
                ..
            }
            | Outcome::Failed {
                revision,
                diagnosis,
                rollback_failed: None,
            },
        ) if diagnosis.reason == engine::ABORTED => {
            display.line(
                ns,
                &format!(
                    "revision {revision} was aborted in `{ns}`: {}",
                    diagnosis.message
                ),
            );
            if json {
                display.printer().json_line(&serde_json::json!({"event": "done", "outcome": "aborted", "namespace": ns, "revision": revision}));
            }
            Ok(())
        }
        Ok(Outcome::Planned(plan)) => {
            let changes = plan
                .iter()
                .filter(|p| p.change != Change::Unchanged)
                .count();
            display.line(
                ns,
                &format!(
                    "dry run: {changes} object(s) would change in `{ns}`; nothing was written"
                ),
            );
            if display.printer().format == Format::Json {
                display.printer().json_line(&serde_json::json!({"event": "done", "outcome": "planned", "namespace": ns, "plan": plan.iter().map(|p| serde_json::json!({
                    "object": p.object, "change": change_word(&p.change),
                    "changes": changes_json(&p.change),
                })).collect::<Vec<_>>()}));
            }
            Ok(())
        }
        Ok(Outcome::Deployed { revision }) => {
            display.line(ns, &format!("revision {revision} is live in `{ns}`"));
            if display.printer().format == Format::Json {
                display.printer().json_line(&serde_json::json!({"event": "done", "outcome": "deployed", "namespace": ns, "revision": revision}));
            }
            Ok(())
        }
        Ok(Outcome::RolledBack {
            revision,
            restored,
            diagnosis,
        }) if diagnosis.reason == engine::INTERRUPTED => Err(CliError::new(
            exit::INTERRUPTED,
            format!(
                "interrupted: revision {revision} was stopped in `{ns}` and revision {restored} restored"
            ),
        )),
        Ok(Outcome::Failed {
            revision,
            diagnosis,
            rollback_failed,
        }) if diagnosis.reason == engine::INTERRUPTED => {
            let mut err = CliError::new(
                exit::INTERRUPTED,
                format!("interrupted: revision {revision} was stopped in `{ns}` as it was"),
            );
            if let Some(rb) = rollback_failed {
                err = err.hint(format!(
                    "restoring the previous release failed: {}",
                    rb.render().trim_end()
                ));
            } else {
                err = err.hint("no rollback: the environment has no earlier release, or `--no-rollback` was given; `slipway status` shows where it stands");
            }
            Err(err)
        }
        Ok(Outcome::RolledBack {
            revision,
            restored,
            diagnosis,
        }) => Err(CliError::new(
            exit::ROLLED_BACK,
            format!(
                "revision {revision} failed in `{ns}` and revision {restored} was restored: {}: {}",
                diagnosis.workload, diagnosis.reason
            ),
        )
        .detail(diagnosis.render())),
        Ok(Outcome::Failed {
            revision,
            diagnosis,
            rollback_failed,
        }) => {
            let mut err = CliError::new(
                exit::DEPLOY_FAILED,
                format!(
                    "revision {revision} failed in `{ns}`: {}: {}",
                    diagnosis.workload, diagnosis.reason
                ),
            )
            .detail(diagnosis.render());
            if let Some(rb) = rollback_failed {
                err = err.hint(format!(
                    "restoring the previous release failed too: {}",
                    rb.render().trim_end()
                ));
            } else {
                err = err.hint("no rollback: the environment has no earlier release, or `--no-rollback` was given");
            }
            Err(err)
        }
        Err(e) => Err(not_concluded(ns, sources, e)),
    }
}

/// The error of a release that did not start, or stopped before its outcome; its code
/// comes from [`exit::of_deploy`].
fn not_concluded(ns: &str, sources: &[(String, String)], e: DeployError) -> CliError {
    let code = exit::of_deploy(&e);
    match e {
        DeployError::Refused {
            ref object,
            ref message,
        } => {
            let from = sources
                .iter()
                .find(|(label, _)| label == object)
                .map(|(_, source)| format!(" (from {source})"))
                .unwrap_or_default();
            let err = CliError::new(code, format!("in `{ns}`: {e}{from}"))
                .hint("no hook ran and no object was applied; fix the object and deploy again");
            if message.contains("field is immutable") {
                err.hint(format!(
                    "the field cannot change in place: change it back, or list `{object}` under `recreate:` of the environment in slipway.yaml to delete and create it again (its pods stop at once)"
                ))
            } else {
                err
            }
        }
        DeployError::HookFailed { name, diagnosis } => CliError::new(
            code,
            format!("hook `{name}` failed in `{ns}`; no workload was changed"),
        )
        .detail(diagnosis.render()),
        DeployError::Lock(e @ slipway_deploy::lock::LockError::Held { .. }) => {
            CliError::new(code, e.to_string()).hint(
                "wait for it with `--wait-lock 5m`; a lock whose deploy died expires by itself",
            )
        }
        DeployError::Step { ref source, .. } if exit::is_access(source) => {
            CliError::new(code, format!("in `{ns}`: {e}")).hint(
                "nothing of the release was applied; running it again changes nothing until the cluster is reachable and accepts these credentials with these rights",
            )
        }
        DeployError::Step { .. } => CliError::new(code, format!("in `{ns}`: {e}")).hint(
            "the cluster kept refusing after retries; running the same command again converges (a release left pending is concluded first)",
        ),
        DeployError::Record(_) => CliError::new(code, format!("in `{ns}`: {e}")).hint(
            "nothing was changed; `kubectl -n NAMESPACE get secret NAME -o yaml` shows the record; deleting a damaged record loses only its history entry",
        ),
        DeployError::Interrupted { .. } => CliError::new(code, format!("in `{ns}`: {e}")),
        DeployError::Forbidden { ref denied } => {
            let mut err = CliError::new(code, format!("in `{ns}`: {e}"));
            err = err.hint(
                "a Role (or ClusterRole) bound to this identity must grant them; `kubectl auth can-i --list --namespace NAMESPACE` shows what it may do now",
            );
            if denied.iter().any(|d| d.contains("leases.coordination.k8s.io")) {
                err = err.hint("the deploy lock is a Lease (`coordination.k8s.io`), which the built-in `edit` role does not grant");
            }
            err
        }
        DeployError::Paused { .. } => {
            CliError::new(code, format!("in `{ns}`: {e}; a new release would stack on it"))
                .hint("continue it: `slipway deploy ENV --resume`; or stop it: `slipway abort ENV`")
        }
        DeployError::NothingPaused { .. } => CliError::new(code, e.to_string())
            .hint("`slipway status ENV` and `slipway history ENV` show where the releases stand"),
        DeployError::StillRunning { .. } => CliError::new(code, format!("in `{ns}`: {e}")).hint(
            "`slipway status ENV` shows when it has concluded; the lock expires by itself if its deploy died",
        ),
        DeployError::Lock(_)
        | DeployError::Cluster(_)
        | DeployError::UnknownRevision(_)
        | DeployError::UnknownService { .. } => CliError::new(code, e.to_string()),
    }
}

pub fn diff(args: &DiffArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let deploy_args = DeployArgs {
        env: args.env.clone(),
        build: false,
        images: ImageArgs {
            only: args.images.only.clone(),
            image: args.images.image.clone(),
        },
        dry_run: true,
        timeout: None,
        settle: None,
        no_rollback: false,
        yes: true,
        wait_lock: None,
        report: None,
        resume: false,
    };
    if args.compact {
        return deploy(&deploy_args, global, &printer.with_compact_plan());
    }
    deploy(&deploy_args, global, printer)
}

/// One namespace of an environment: its cluster, the connection, its release records.
pub(super) struct TargetRecords {
    pub(super) ns: String,
    /// Which cluster: namespaces with the same number share one.
    cluster: usize,
    pub(super) connection: Arc<slipway_deploy::cluster::Cluster>,
    pub(super) records: Vec<Release>,
}

impl TargetRecords {
    /// The connection to the namespace's cluster.
    pub(super) fn connection(&self) -> &slipway_deploy::cluster::Cluster {
        &self.connection
    }
}

/// The records of every namespace of an environment. The connections belong to `rt`:
/// they are used on it only.
pub(super) fn histories(
    rt: &tokio::runtime::Runtime,
    project: &project::Project,
    env: &Environment,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<Vec<TargetRecords>, CliError> {
    clusters::check_context(env, global)?;
    rt.block_on(async {
        let targets = release::namespaces(env);
        let mut out = Vec::new();
        // One connection per cluster, shared by its namespaces.
        let mut connections: Vec<Option<Arc<slipway_deploy::cluster::Cluster>>> =
            vec![None; targets.len()];
        for (cluster, ns) in &targets {
            let index = targets
                .iter()
                .position(|(c, _)| c == cluster)
                .unwrap_or_default();
            let connection = match &connections[index] {
                Some(c) => Arc::clone(c),
                None => {
                    let c = clusters::connect(cluster, &project.config, global, printer).await?;
                    connections[index] = Some(Arc::clone(&c));
                    c
                }
            };
            let records = engine::history(&connection, &project.config.app, &env.name, ns)
                .await
                .map_err(|e| CliError::new(exit::of_deploy(&e), e.to_string()))?;
            out.push(TargetRecords {
                ns: ns.clone(),
                cluster: index,
                connection,
                records,
            });
        }
        Ok(out)
    })
}

pub fn history(args: &HistoryArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    let rt = runtime()?;
    let all = histories(&rt, &project, &env, global, printer)?;
    let mut json = Vec::new();
    for TargetRecords { ns, records, .. } in &all {
        if printer.format == Format::Json {
            json.push(serde_json::json!({"namespace": ns, "releases": records.iter().rev().take(args.limit).map(|r| serde_json::json!({
                "revision": r.revision, "status": r.status.as_str(), "action": r.action,
                "source_revision": r.source_revision, "started": r.started,
                "finished": r.finished, "user": r.user, "git_commit": r.git_commit, "git_dirty": r.git_dirty,
                "images": r.images.iter().map(|i| serde_json::json!({"name": i.name, "reference": i.reference})).collect::<Vec<_>>(),
                "outcome": r.outcome,
                "failed_check": r.failed_check,
                "paused": r.paused,
            })).collect::<Vec<_>>()}));
            continue;
        }
        printer.data(&format!(
            "namespace {ns}\n{:<9} {:<12} {:<15} {:<21} {:<18} {:<20} OUTCOME\n",
            "REVISION", "STATUS", "ACTION", "STARTED", "COMMIT", "USER"
        ));
        for r in records.iter().rev().take(args.limit) {
            printer.data(&format!(
                "{:<9} {:<12} {:<15} {:<21} {:<18} {:<20} {}\n",
                r.revision,
                r.status.as_str(),
                action_text(r),
                r.started,
                commit_text(r),
                r.user,
                r.outcome
            ));
            // The check that failed the release, on a line of its own below it.
            if let Some(c) = &r.failed_check {
                printer.data(&format!(
                    "{:<9} failed check `{}` ({}) of {} {}, {}: measured {}, needs {}, at {}\n",
                    "",
                    c.check,
                    c.provider,
                    c.strategy,
                    c.deployment,
                    c.phase,
                    c.value,
                    c.condition,
                    c.time
                ));
            }
        }
    }
    if printer.format == Format::Json {
        printer.json(&serde_json::json!({"environment": env.name, "namespaces": json}));
    }
    Ok(())
}

/// What a release did, naming the revision it re-applied: `rollback to 1`,
/// `restart of 3`, `promote of 2` (a revision of the source environment).
fn action_text(r: &Release) -> String {
    match (r.action.as_str(), r.source_revision) {
        ("rollback", Some(from)) => format!("rollback to {from}"),
        (action, Some(from)) => format!("{action} of {from}"),
        (action, None) => action.to_string(),
    }
}

/// The recorded commit, short, with `+dirty` when the working tree had uncommitted
/// changes; `-` without one.
fn commit_text(r: &Release) -> String {
    let commit = r
        .git_commit
        .as_deref()
        .map_or("-", |c| &c[..c.len().min(10)]);
    if r.git_dirty {
        format!("{commit}+dirty")
    } else {
        commit.to_string()
    }
}

pub fn rollback(
    args: &RollbackArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    if env.policy.require_approval && !args.yes {
        approve(&env.name, "roll back")?;
    }
    let timeout = parse_duration("--timeout", &args.timeout, env.policy.timeout)?;
    let rt = runtime()?;
    let all = histories(&rt, &project, &env, global, printer)?;
    let mut jobs = Vec::new();
    let mut switched_back = false;
    for mut to_run in all {
        // A release inside its blue-green scale-down delay is switched back first.
        let window = in_window(
            &rt,
            &project.config.app,
            &env.name,
            &to_run,
            timeout,
            printer,
        )?;
        let back_to_current = match window {
            InWindow::No => false,
            InWindow::Concluded(restored) if args.to.is_none_or(|to| Some(to) == restored) => {
                switched_back = true;
                continue;
            }
            InWindow::Concluded(_) | InWindow::DeployGone => {
                to_run.records = rt
                    .block_on(engine::history(
                        &to_run.connection,
                        &project.config.app,
                        &env.name,
                        &to_run.ns,
                    ))
                    .map_err(|e| CliError::new(exit::of_deploy(&e), e.to_string()))?;
                // Its deploy died: the release it replaced is still the current one,
                // and is applied again as it was.
                matches!(window, InWindow::DeployGone)
            }
        };
        let (ns, records) = (to_run.ns.clone(), &to_run.records);
        let current = slipway_deploy::record::current(records).map(|r| r.revision);
        let chosen = match args.to {
            Some(rev) => records.iter().find(|r| r.revision == rev),
            None if back_to_current => records.iter().find(|r| Some(r.revision) == current),
            None => records.iter().rev().find(|r| {
                Some(r.revision) != current
                    && matches!(
                        r.status,
                        ReleaseStatus::Superseded | ReleaseStatus::Deployed
                    )
            }),
        };
        let Some(target) = chosen else {
            return Err(CliError::usage(match args.to {
                Some(rev) => format!("revision {rev} is not recorded in `{ns}`"),
                None => format!("`{ns}` has no earlier release to roll back to"),
            })
            .hint(format!("see `slipway history {}`", env.name)));
        };
        let objects = slipway_deploy::record::reappliable(&target.manifest);
        let header = format!("==> rolling `{ns}` back to revision {}", target.revision);
        let input = DeployInput {
            timeout,
            ..reapply(&project, &env, &ns, target, objects, "rollback")
        };
        jobs.push(Job {
            header,
            target: to_run,
            input,
            sources: Vec::new(),
            store_key: None,
            notes: None,
            mode: engine::Mode::Deploy,
        });
    }
    if jobs.is_empty() && switched_back {
        return Ok(());
    }
    let finish = Finish {
        environment: env.name.clone(),
        action: "rollback",
        report: args.report.clone(),
    };
    run_jobs(&rt, printer, jobs, &finish)
}

/// What `rollback` found of a blue-green scale-down delay in one namespace.
enum InWindow {
    /// No release is inside one.
    No,
    /// One was: switched back, and concluded by its deploy, which restored the given
    /// revision (`None` when it could not restore one).
    Concluded(Option<u64>),
    /// One was: switched back, but its deploy is gone, the record still pending.
    DeployGone,
}

/// `rollback` while a release of `t.ns` is inside its blue-green scale-down delay: the
/// active Service selects the previous version's pods again at once, in one write, and
/// the deploy that runs the release concludes it as rolled back (waited for, up to
/// `timeout`).
fn in_window(
    rt: &tokio::runtime::Runtime,
    app: &str,
    env: &str,
    t: &TargetRecords,
    timeout: Duration,
    printer: &Printer,
) -> Result<InWindow, CliError> {
    let open = t
        .records
        .iter()
        .any(|r| r.status == ReleaseStatus::Pending && r.switch_window.is_some());
    if !open {
        return Ok(InWindow::No);
    }
    let display = DeployDisplay::new(printer, false);
    let ns = t.ns.as_str();
    let report = |e: Event| display.event(ns, &e);
    let to_cli = |e: DeployError| not_concluded(ns, &[], e);
    rt.block_on(async {
        let switched = engine::switch_back(&t.connection, app, env, ns, &user(), &report)
            .await
            .map_err(to_cli)?;
        let Some(back) = switched else {
            return Ok(InWindow::No);
        };
        display.line(
            ns,
            &format!(
                "==> waiting for the deploy of revision {} to conclude it",
                back.revision
            ),
        );
        let concluded =
            engine::await_conclusion(&t.connection, app, env, ns, back.revision, timeout)
                .await
                .map_err(to_cli)?;
        match concluded {
            engine::Conclusion::Concluded {
                release: r,
                current,
            } => {
                display.line(
                    ns,
                    &format!(
                        "revision {} {}: {}",
                        r.revision,
                        r.status.as_str(),
                        r.outcome
                    ),
                );
                if printer.format == Format::Json {
                    printer.json_line(
                        &serde_json::json!({"event": "done", "outcome": "switched-back",
                        "namespace": ns, "revision": r.revision, "status": r.status.as_str(),
                        "current": current}),
                    );
                }
                if r.status == ReleaseStatus::RolledBack {
                    Ok(InWindow::Concluded(current))
                } else {
                    Err(CliError::new(
                        exit::DEPLOY_FAILED,
                        format!(
                            "in `{ns}`: revision {} {}: {}",
                            r.revision,
                            r.status.as_str(),
                            r.outcome
                        ),
                    ))
                }
            }
            engine::Conclusion::DeployGone => {
                display.line(
                    ns,
                    "its deploy is gone: the release it replaced is applied again",
                );
                Ok(InWindow::DeployGone)
            }
        }
    })
}

pub fn status(args: &StatusArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    let rt = runtime()?;
    let mut all = histories(&rt, &project, &env, global, printer)?;
    if !args.watch {
        let (text, json) = rt.block_on(status_snapshot(&project.config.app, &env.name, &all));
        match printer.format {
            Format::Json => printer.json(&json),
            Format::Human => printer.data(&text),
        }
        return Ok(());
    }
    // `--watch`: a new view whenever a workload, a pod or a release record of the
    // environment changes; until interrupted.
    rt.block_on(async {
        let mut changes = Vec::new();
        for t in &all {
            let stream = slipway_deploy::status_report::changes(&t.connection, &t.ns)
                .await
                .map_err(|e| CliError::new(exit::of_cluster(&e), e.to_string()))?;
            changes.push(stream);
        }
        let mut changes = futures::stream::select_all(changes);
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let mut last = String::new();
        loop {
            for t in &mut all {
                t.records = engine::history(&t.connection, &project.config.app, &env.name, &t.ns)
                    .await
                    .map_err(|e| CliError::new(exit::of_deploy(&e), e.to_string()))?;
            }
            let (text, json) = status_snapshot(&project.config.app, &env.name, &all).await;
            if text != last {
                match printer.format {
                    Format::Json => printer.json_line(&json),
                    Format::Human if terminal => {
                        // Clear the screen and show the view from the top, as `watch`.
                        printer.data(&format!(
                            "\x1b[2J\x1b[H{}  (watching; Ctrl-C to stop)\n\n{text}",
                            now_text()
                        ));
                    }
                    Format::Human => printer.data(&format!("--- {}\n{text}", now_text())),
                }
                last = text;
            }
            // Nobody reads any more (`status --watch | head`): nothing left to do.
            if printer.output_closed() {
                return Ok(());
            }
            // Wait for a change, then let a burst of changes settle into one view.
            if futures::StreamExt::next(&mut changes).await.is_none() {
                return Err(CliError::new(
                    exit::UNREACHABLE,
                    "the cluster closed every watch",
                ));
            }
            let settle = tokio::time::sleep(Duration::from_millis(200));
            tokio::pin!(settle);
            loop {
                tokio::select! {
                    () = &mut settle => break,
                    next = futures::StreamExt::next(&mut changes) => if next.is_none() { break },
                }
            }
        }
    })
}

/// The time now, for the headers of `status --watch`.
fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// The status of every namespace: as text for humans and as a JSON document.
///
/// Per namespace: the current release (the newest `deployed` one) and its workloads as
/// they run; without one, the newest recorded revision whatever its outcome (a first
/// release that failed, was interrupted or is still pending) and what runs of it; with
/// no record at all, the workloads labelled as members of the app's ApplySet. Then
/// every recorded revision, newest first, with its outcome.
async fn status_snapshot(
    app: &str,
    env: &str,
    all: &[TargetRecords],
) -> (String, serde_json::Value) {
    use std::fmt::Write;
    let mut text = String::new();
    let mut json = Vec::new();
    for t in all {
        let ns = &t.ns;
        let current = slipway_deploy::record::current(&t.records);
        let paused = slipway_deploy::record::paused(&t.records);
        let switching = t
            .records
            .iter()
            .rev()
            .find(|r| r.status == ReleaseStatus::Pending && r.switch_window.is_some());
        let shown = current.or(t.records.last());
        let workloads = match shown {
            Some(release) => {
                slipway_deploy::status_report::workloads(&t.connection, ns, release).await
            }
            None => {
                let id = slipway_render::applyset::id(
                    &slipway_render::release::applyset_parent_name(app),
                    ns,
                    "Secret",
                    "",
                );
                let label = format!("{}={id}", slipway_render::applyset::PART_OF_LABEL);
                slipway_deploy::status_report::labelled(&t.connection, ns, &label)
                    .await
                    .unwrap_or_default()
            }
        };
        json.push(serde_json::json!({
            "namespace": ns,
            "release": current.map(|r| r.revision),
            "showing": shown.map(|r| r.revision),
            "provenance": super::report::provenance_json(shown.and_then(Release::provenance).as_ref()),
            "workloads": workloads.iter().map(|w| serde_json::json!({
                "workload": w.workload, "ready": w.ready, "desired": w.desired, "images": w.images,
                "missing": w.missing,
                "drift": w.drift.iter().map(|d| serde_json::json!({"field": d.field, "recorded": d.recorded, "live": d.live, "manager": d.manager})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "paused": paused.map(|r| serde_json::json!({"revision": r.revision, "at": r.paused})),
            "switch_window": switching.map(|r| serde_json::json!({"revision": r.revision, "window": r.switch_window})),
            "releases": t.records.iter().rev().map(|r| serde_json::json!({
                "revision": r.revision, "status": r.status.as_str(), "action": r.action,
                "started": r.started, "finished": r.finished, "user": r.user,
                "source_revision": r.source_revision, "outcome": r.outcome,
                "paused": r.paused,
            })).collect::<Vec<_>>(),
        }));
        match (current, shown) {
            (Some(r), _) => {
                let _ = writeln!(
                    text,
                    "namespace {ns}: revision {} ({}), deployed {} by {}",
                    r.revision,
                    r.status.as_str(),
                    r.finished.as_deref().unwrap_or(&r.started),
                    r.user
                );
            }
            (None, Some(r)) => {
                let _ = writeln!(
                    text,
                    "namespace {ns}: no deployed release; showing revision {} ({}), started {} by {}",
                    r.revision,
                    r.status.as_str(),
                    r.started,
                    r.user
                );
            }
            (None, None) if workloads.is_empty() => {
                let _ = writeln!(text, "namespace {ns}: no release yet");
            }
            (None, None) => {
                let _ = writeln!(
                    text,
                    "namespace {ns}: no release recorded, but workloads of `{app}` run here"
                );
            }
        }
        if let Some(r) = paused {
            text.push_str(&paused_lines(env, r));
        }
        if let Some((r, w)) = switching.and_then(|r| Some((r, r.switch_window.as_ref()?))) {
            let _ = writeln!(
                text,
                "  SWITCHED: revision {} serves through service/{}; the previous pods of deployment/{} stay until {}\n    switch back in one write: slipway rollback {env}",
                r.revision, w.service, w.deployment, w.until
            );
        }
        if let Some(p) = shown.and_then(Release::provenance) {
            text.push_str(&super::report::provenance_lines(&p));
        }
        text.push_str(&workload_lines(&workloads));
        if !t.records.is_empty() {
            text.push_str(&revision_lines(&t.records));
        }
    }
    (
        text,
        serde_json::json!({"environment": env, "namespaces": json}),
    )
}

/// A paused release in a status view: its step, weight and last measurements, and the
/// commands that continue it.
fn paused_lines(env: &str, r: &Release) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    match &r.paused {
        Some(at) => {
            let _ = writeln!(
                text,
                "  PAUSED: revision {} at {} since {}",
                r.revision,
                at.line(),
                at.since
            );
            for m in &at.measurements {
                let _ = writeln!(text, "    measured: {m}");
            }
        }
        None => {
            let _ = writeln!(text, "  PAUSED: revision {}", r.revision);
        }
    }
    let _ = writeln!(
        text,
        "    continue: `slipway deploy {env} --resume`; stop: `slipway abort {env}`"
    );
    text
}

/// The workloads of a status view, their names in one column however long they are.
fn workload_lines(workloads: &[slipway_deploy::status_report::WorkloadStatus]) -> String {
    use std::fmt::Write;
    let width = workloads
        .iter()
        .map(|w| w.workload.chars().count())
        .max()
        .unwrap_or(0);
    let ready = |w: &slipway_deploy::status_report::WorkloadStatus| {
        format!("{}/{} ready", w.ready, w.desired)
    };
    let ready_width = workloads
        .iter()
        .filter(|w| !w.missing)
        .map(|w| ready(w).len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for w in workloads {
        if w.missing {
            let _ = writeln!(text, "  {:<width$}  missing on the cluster", w.workload);
            continue;
        }
        let _ = writeln!(
            text,
            "  {:<width$}  {:<ready_width$}  {}",
            w.workload,
            ready(w),
            w.images.join(", ")
        );
        for d in &w.drift {
            let _ = writeln!(
                text,
                "    drift: `{}` is `{}` on the cluster (set by `{}`), the release has `{}`",
                d.field, d.live, d.manager, d.recorded
            );
        }
    }
    text
}

/// Every recorded revision, newest first, with how it ended.
fn revision_lines(records: &[Release]) -> String {
    use std::fmt::Write;
    let mut text = String::from("  revisions:\n");
    for r in records.iter().rev() {
        let when = r.finished.as_deref().unwrap_or(&r.started);
        let outcome = if r.status == ReleaseStatus::Pending {
            "not concluded: running, or stopped without concluding (the next deploy concludes it)"
        } else {
            r.outcome.as_str()
        };
        let _ = writeln!(
            text,
            "    {:>4}  {:<11}  {:<15}  {when}  {outcome}",
            r.revision,
            r.status.as_str(),
            action_text(r),
        );
    }
    text
}

pub fn promote(args: &PromoteArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let source_env = project
        .promotion_source(&args.env, args.from.as_deref())?
        .clone();
    let env = project.environment(&args.env)?.clone();
    clusters::check_context(&source_env, global)?;
    clusters::check_context(&env, global)?;
    // The images are the source's; the manifests and configuration come from this
    // working tree, so the environment's `dirty` policy holds.
    let (_, tree_dirty) = git_commit(&project, &env, DirtyCheck::Policy, global, printer)?;
    if env.policy.require_approval && !args.yes {
        approve(&env.name, &format!("promote `{}` to", source_env.name))?;
    }
    let rt = runtime()?;
    let sources = histories(&rt, &project, &source_env, global, printer)?;
    drop(rt);
    // Every namespace of the source must run the same release to be promoted.
    let mut current: Option<(&str, Release)> = None;
    for TargetRecords { ns, records, .. } in &sources {
        let Some(c) = slipway_deploy::record::current(records) else {
            return Err(CliError::usage(format!(
                "`{}` has no release in `{ns}` to promote",
                source_env.name
            )));
        };
        if let Some((first_ns, first)) = &current
            && first.images != c.images
        {
            let source = &source_env.name;
            return Err(CliError::usage(format!(
                "the namespaces `{first_ns}` and `{ns}` of `{source}` run different images; a promotion takes one release"
            ))
            .hint(format!(
                "deploy one release to every namespace of `{source}` first (`slipway deploy {source}`), or promote from another environment with `--from ENV`"
            )));
        }
        current.get_or_insert_with(|| (ns.as_str(), c.clone()));
    }
    let Some((_, from)) = current else {
        return Err(CliError::usage(format!(
            "`{}` has no namespace",
            source_env.name
        )));
    };
    printer.info(&format!(
        "promoting revision {} of `{}` to `{}`",
        from.revision, source_env.name, env.name
    ));
    let request = Request {
        action: "promote",
        overrides: vec![],
        only: vec![],
        timeout: env.policy.timeout,
        settle: env.policy.settle,
        rollback: env.policy.rollback_on_failure,
        dry_run: false,
        wait_lock: Duration::ZERO,
        git: (from.git_commit.clone(), from.git_dirty || tree_dirty),
        images_from: Some(from),
        report: args.report.clone(),
    };
    release_environment(&project, &env, &[], &request, global, printer)
}

pub fn restart(args: &RestartArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    if env.policy.require_approval && !args.yes {
        approve(&env.name, "restart workloads of")?;
    }
    let rt = runtime()?;
    let all = histories(&rt, &project, &env, global, printer)?;
    let stamp = restart_stamp();
    let mut jobs = Vec::new();
    for to_run in all {
        let ns = to_run.ns.clone();
        let Some(current) = slipway_deploy::record::current(&to_run.records) else {
            return Err(CliError::usage(format!("`{ns}` has no release to restart")));
        };
        let mut restarted = Vec::new();
        let objects: Vec<serde_json::Value> = slipway_deploy::record::reappliable(
            &current.manifest,
        )
        .into_iter()
        .map(|mut o| {
            let kind = o
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_string();
            let name = o
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string();
            let chosen = args.workloads.is_empty() || args.workloads.contains(&name);
            if matches!(kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") && chosen {
                o["spec"]["template"]["metadata"]["annotations"]["slipway.dev/restarted-at"] =
                    serde_json::json!(stamp);
                restarted.push(name);
            }
            o
        })
        .collect();
        if let Some(unknown) = args.workloads.iter().find(|w| !restarted.contains(w)) {
            return Err(CliError::usage(format!(
                "`{unknown}` is not a Deployment, StatefulSet or DaemonSet of the release in `{ns}`"
            )));
        }
        let input = reapply(&project, &env, &ns, current, objects, "restart");
        jobs.push(Job {
            header: format!("==> restarting {} in `{ns}`", restarted.join(", ")),
            target: to_run,
            input,
            sources: Vec::new(),
            store_key: None,
            notes: None,
            mode: engine::Mode::Deploy,
        });
    }
    let finish = Finish {
        environment: env.name.clone(),
        action: "restart",
        report: args.report.clone(),
    };
    run_jobs(&rt, printer, jobs, &finish)
}

/// The canaries of `env`'s `strategies`, for the engine.
fn canaries(env: &Environment, jobs: &CheckJobs<'_>) -> Result<Vec<engine::Canary>, CliError> {
    let mut out = Vec::new();
    for s in env.strategies.values() {
        let slipway_config::Rollout::Canary(canary) = &s.rollout else {
            continue;
        };
        out.push(engine::Canary {
            deployment: s.workload.clone(),
            traffic: match &canary.traffic {
                slipway_config::Traffic::Replicas => engine::CanaryTraffic::Replicas,
                slipway_config::Traffic::Nginx { ingress, service } => {
                    engine::CanaryTraffic::Nginx {
                        ingress: ingress.clone(),
                        service: service.clone(),
                    }
                }
                slipway_config::Traffic::Gateway { route, service } => {
                    engine::CanaryTraffic::Gateway {
                        route: route.clone(),
                        service: service.clone(),
                    }
                }
            },
            steps: canary
                .steps
                .iter()
                .map(|step| engine::CanaryStep {
                    weight: step.weight,
                    pause: step.pause,
                })
                .collect(),
            analysis: checks(&canary.analysis, jobs)?,
        });
    }
    Ok(out)
}

/// The blue-green Deployments of `env`'s `strategies`, for the engine.
fn blue_greens(
    env: &Environment,
    jobs: &CheckJobs<'_>,
) -> Result<Vec<engine::BlueGreen>, CliError> {
    let mut out = Vec::new();
    for s in env.strategies.values() {
        let slipway_config::Rollout::BlueGreen(b) = &s.rollout else {
            continue;
        };
        out.push(engine::BlueGreen {
            deployment: s.workload.clone(),
            service: b.service.clone(),
            preview_service: b.preview_service.clone(),
            pre_switch: b.pre_switch,
            scale_down_delay: b.scale_down_delay,
            pre_switch_analysis: checks(&b.pre_switch_analysis, jobs)?,
            post_switch_analysis: checks(&b.post_switch_analysis, jobs)?,
        });
    }
    Ok(out)
}

/// What the Jobs of analysis checks are made with: the app's labels and the release's
/// images.
struct CheckJobs<'a> {
    app: &'a str,
    applyset_id: &'a str,
    images: &'a [slipway_deploy::record::ReleaseImage],
    config_file: &'a std::path::Path,
}

fn check_jobs<'a>(
    project: &'a project::Project,
    rendered: &'a slipway_render::release::Rendered,
    images: &'a [slipway_deploy::record::ReleaseImage],
) -> CheckJobs<'a> {
    CheckJobs {
        app: &project.config.app,
        applyset_id: &rendered.applyset_id,
        images,
        config_file: &project.config.file,
    }
}

/// The analysis checks as the engine runs them: a Job check's Job read from its file or
/// generated from its image (an image of `images` runs as the release pins it), and
/// labelled as an object of the release.
fn checks(
    checks: &[slipway_config::Check],
    jobs: &CheckJobs<'_>,
) -> Result<Vec<engine::Check>, CliError> {
    let mut out = Vec::new();
    for c in checks {
        let provider = match &c.provider {
            slipway_config::Provider::Prometheus(p) => engine::Provider::Prometheus(p.clone()),
            slipway_config::Provider::Http(h) => engine::Provider::Http(h.clone()),
            slipway_config::Provider::Job(j) => {
                let mut job = match &j.run {
                    slipway_config::JobRun::Manifest(path) => {
                        let found = slipway_render::read_objects(path).map_err(|e| {
                            CliError::usage(format!(
                                "{}:{}: analysis check `{}`: {e}",
                                jobs.config_file.display(),
                                c.at.line,
                                c.name
                            ))
                        })?;
                        let Some(job) = found.into_iter().find(|o| o.kind() == "Job") else {
                            return Err(CliError::usage(format!(
                                "{}:{}: analysis check `{}`: `{}` holds no Job; nothing was written",
                                jobs.config_file.display(),
                                c.at.line,
                                c.name,
                                path.display()
                            )));
                        };
                        job.value
                    }
                    slipway_config::JobRun::Image { image, command } => {
                        let image = jobs
                            .images
                            .iter()
                            .find(|i| &i.name == image)
                            .map_or_else(|| image.clone(), |i| i.reference.clone());
                        let mut container = serde_json::json!({"name": c.name, "image": image});
                        if let Some(command) = command {
                            container["command"] = serde_json::json!(command);
                        }
                        serde_json::json!({
                            "apiVersion": "batch/v1",
                            "kind": "Job",
                            "metadata": {"name": c.name},
                            "spec": {
                                "backoffLimit": 0,
                                "template": {"spec": {
                                    "restartPolicy": "Never",
                                    "containers": [container],
                                }},
                            },
                        })
                    }
                };
                slipway_render::release::label(&mut job, jobs.app, jobs.applyset_id);
                engine::Provider::Job {
                    job,
                    timeout: j.timeout,
                }
            }
        };
        out.push(engine::Check {
            name: c.name.clone(),
            provider,
            interval: c.interval,
            count: c.count,
            failure_limit: c.failure_limit,
            no_data: c.no_data,
        });
    }
    Ok(out)
}

/// Every strategy names a Deployment of the release, and the objects its traffic split
/// needs, and `recreate` names objects of the release: checked before anything is
/// written.
fn strategies_apply(
    project: &project::Project,
    env: &Environment,
    ns: &str,
    rendered: &slipway_render::release::Rendered,
) -> Result<(), CliError> {
    let has = |kind: &str, name: &str| {
        rendered.objects.iter().any(|o| {
            o.value.get("kind").and_then(serde_json::Value::as_str) == Some(kind)
                && o.value
                    .pointer("/metadata/name")
                    .and_then(serde_json::Value::as_str)
                    == Some(name)
        })
    };
    for object in &env.policy.recreate {
        let (kind, name) = object.split_once('/').unwrap_or_default();
        if !has(kind, name) {
            return Err(CliError::usage(format!(
                "{}: `recreate` names `{object}`, which the release of `{}` has not in `{ns}`; nothing was written",
                project.config.file.display(),
                env.name
            ))
            .hint("list objects of the manifests as `Kind/name`, e.g. `Job/db-seed`"));
        }
    }
    for s in env.strategies.values() {
        let mut needed = vec![("Deployment", s.workload.as_str())];
        match &s.rollout {
            slipway_config::Rollout::Canary(c) => match &c.traffic {
                slipway_config::Traffic::Replicas => {}
                slipway_config::Traffic::Nginx { ingress, service } => {
                    needed.push(("Ingress", ingress));
                    needed.push(("Service", service));
                }
                slipway_config::Traffic::Gateway { route, service } => {
                    needed.push(("HTTPRoute", route));
                    needed.push(("Service", service));
                }
            },
            slipway_config::Rollout::BlueGreen(b) => needed.push(("Service", &b.service)),
        }
        if let Some((kind, name)) = needed.into_iter().find(|(k, n)| !has(k, n)) {
            return Err(CliError::usage(format!(
                "{}:{}: `strategies.{}` needs the {kind} `{name}`, which the release of `{}` has not in `{ns}`; nothing was written",
                project.config.file.display(),
                s.at.line,
                s.workload,
                env.name
            ))
            .hint("name a Deployment (and the Ingress, HTTPRoute or Service of its traffic) of the manifests"));
        }
    }
    Ok(())
}

/// A release that applies `objects` of the recorded release `from` again, with its
/// images and commit, under the environment's policy and without a rollback of its own
/// (`rollback`, `restart`).
fn reapply(
    project: &project::Project,
    env: &Environment,
    ns: &str,
    from: &Release,
    objects: Vec<serde_json::Value>,
    action: &str,
) -> DeployInput {
    DeployInput {
        app: project.config.app.clone(),
        environment: env.name.clone(),
        namespace: ns.to_string(),
        objects,
        hooks: vec![],
        // A rollback or restart is not a new version: it rolls as usual.
        canaries: vec![],
        blue_greens: vec![],
        recreate: env.policy.recreate.clone(),
        images: from.images.clone(),
        timeout: env.policy.timeout,
        rollback_on_failure: false,
        crashloop_tolerance: env.policy.crashloop_tolerance,
        settle: env.policy.settle,
        user: user(),
        git_commit: from.git_commit.clone(),
        git_dirty: from.git_dirty,
        action: action.into(),
        source_revision: Some(from.revision),
        dry_run: false,
        wait_lock: Duration::ZERO,
        interrupt: crate::interrupt::token(),
    }
}

/// The time of a restart, as the tag timestamp (`YYYYMMDD-HHMMSS`, UTC).
fn restart_stamp() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| slipway_config::tag::format_timestamp(d.as_secs() as i64))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_check_from_an_image_runs_the_release_s_pinned_image_labelled_as_its_object() {
        let config = slipway_config::parse(
            "app: shop\nstrategies:\n  api:\n    canary:\n      steps: [{ weight: 10, pause: 1s }]\n      analysis:\n        - name: smoke\n          job: { image: api, command: [smoke, --fast], timeout: 1m }\n        - name: curl\n          job: { image: curlimages/curl }\nenvironments:\n  dev:\n    cluster: sandbox\n    namespace: shop-dev\n",
            std::path::Path::new("/nowhere/slipway.yaml"),
        )
        .unwrap();
        let slipway_config::Rollout::Canary(canary) = &config.strategies["api"].rollout else {
            panic!()
        };
        let images = [slipway_deploy::record::ReleaseImage {
            name: "api".into(),
            reference: "r.example.com/shop/api:7@sha256:00".into(),
            source: "build".into(),
        }];
        let jobs = CheckJobs {
            app: "shop",
            applyset_id: "applyset-x",
            images: &images,
            config_file: std::path::Path::new("/nowhere/slipway.yaml"),
        };
        let checks = checks(&canary.analysis, &jobs).unwrap();
        let engine::Provider::Job { job, timeout } = &checks[0].provider else {
            panic!("{checks:?}")
        };
        assert_eq!(*timeout, Duration::from_secs(60));
        assert_eq!(job["metadata"]["name"], "smoke");
        assert_eq!(
            job["metadata"]["labels"]["app.kubernetes.io/part-of"],
            "shop"
        );
        assert_eq!(
            job["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
            "applyset-x"
        );
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "r.example.com/shop/api:7@sha256:00");
        assert_eq!(container["command"], serde_json::json!(["smoke", "--fast"]));
        assert_eq!(job["spec"]["backoffLimit"], 0);
        let engine::Provider::Job { job, .. } = &checks[1].provider else {
            panic!("{checks:?}")
        };
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "curlimages/curl");
        assert!(container.get("command").is_none());
    }
}

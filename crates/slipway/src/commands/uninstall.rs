//! `slipway uninstall ENV`: removes the app's release from every namespace of an
//! environment — the members of its ApplySet and its hook Jobs — after a confirmation,
//! under the deploy lock; the release records stay unless `--delete-records` (see
//! [`slipway_deploy::uninstall`]).

use std::time::Duration;

use slipway_deploy::uninstall::{Records, UninstallError, UninstallInput, Uninstalled};

use crate::cli::{GlobalArgs, UninstallArgs};
use crate::error::CliError;
use crate::exit;
use crate::printer::{Format, Printer};

use super::deploy::{TargetRecords, histories, runtime, user};
use super::project;

pub fn run(args: &UninstallArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    let env = project.environment(&args.env)?.clone();
    let wait_lock = match &args.wait_lock {
        None => Duration::ZERO,
        Some(text) => slipway_config::duration::parse_duration(text)
            .map_err(|e| CliError::usage(format!("`--wait-lock {text}`: {e}")))?,
    };
    if !args.yes && !args.dry_run {
        confirm(&env.name, args.delete_records)?;
    }
    let app = &project.config.app;
    let rt = runtime()?;
    let all = histories(&rt, &project, &env, global, printer)?;
    let mut json = Vec::new();
    let mut first_error = None;
    for TargetRecords { ns, connection, .. } in all {
        if first_error.is_some() {
            break;
        }
        let input = UninstallInput {
            app: app.clone(),
            environment: env.name.clone(),
            namespace: ns.clone(),
            user: user(),
            records: if args.delete_records {
                Records::Delete
            } else {
                Records::Keep
            },
            dry_run: args.dry_run,
            wait_lock,
        };
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        printer.info(&format!("==> uninstalling `{app}` from namespace `{ns}`"));
        let report = |object: &str| printer.info(&format!("  - {object}"));
        let result = rt.block_on(slipway_deploy::uninstall::uninstall(
            connection, &input, &report,
        ));
        match result {
            Ok(done) => {
                if args.dry_run {
                    for object in &done.objects {
                        printer.info(&format!("  - {object}"));
                    }
                }
                printer.info(&summary(&env.name, &ns, verb, &done));
                json.push(serde_json::json!({
                    "namespace": ns, "objects": done.objects,
                    "deleted_records": done.deleted_records, "kept_records": done.kept_records,
                }));
            }
            Err(e) => first_error = Some(error(&ns, e)),
        }
    }
    if printer.format == Format::Json {
        printer.json(&serde_json::json!({
            "environment": env.name, "dry_run": args.dry_run, "namespaces": json,
        }));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One line saying what happened in a namespace.
fn summary(env: &str, ns: &str, verb: &str, done: &Uninstalled) -> String {
    let records = match (done.deleted_records.len(), done.kept_records.len()) {
        (0, 0) => "no release record".to_string(),
        (0, kept) => format!(
            "{kept} release record(s) kept (`slipway history {env}`; `--delete-records` removes them)"
        ),
        (deleted, _) => format!("{deleted} release record(s) {verb}"),
    };
    format!(
        "{verb} {} object(s) from `{ns}`; {records}; the namespace stays",
        done.objects.len()
    )
}

fn error(ns: &str, e: UninstallError) -> CliError {
    let code = exit::of_uninstall(&e);
    match e {
        UninstallError::Lock(e @ slipway_deploy::lock::LockError::Held { .. }) => {
            CliError::new(code, e.to_string()).hint(
                "wait for it with `--wait-lock 5m`; a lock whose deploy died expires by itself",
            )
        }
        e @ UninstallError::Step { .. } => CliError::new(code, format!("in `{ns}`: {e}"))
            .hint("running the same command again removes what is left"),
        e @ (UninstallError::Lock(_) | UninstallError::Record(_)) => {
            CliError::new(code, format!("in `{ns}`: {e}"))
        }
    }
}

/// Asks on a terminal; refuses elsewhere (scripts must pass `--yes`).
fn confirm(env: &str, delete_records: bool) -> Result<(), CliError> {
    use std::io::{BufRead, IsTerminal};
    let refused = || {
        CliError::new(
            exit::NOT_APPROVED,
            format!("uninstalling `{env}` needs a confirmation"),
        )
        .hint(format!(
            "see what would go with `slipway uninstall {env} --dry-run`, then pass `--yes`"
        ))
    };
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(refused());
    }
    let records = if delete_records {
        " and its release records"
    } else {
        ""
    };
    crate::printer::stderr(&format!(
        "remove every object of the release{records} from `{env}`? [y/N] "
    ));
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(refused())
    }
}

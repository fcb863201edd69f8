//! `slipway sandbox serve`: the built-in cluster as a process of its own, so that
//! `kubectl` and slipway can both talk to it. It writes its kubeconfig only once it
//! answers, and stops cleanly on SIGINT or SIGTERM (exit code 0).
//!
//! It also serves the simulated ingress traffic's metrics (ingress-nginx's
//! `nginx_ingress_controller_requests` …) on plain HTTP for a Prometheus to scrape: on a
//! free loopback port unless `--ingress-metrics-listen` names an address (`off` serves
//! none), at `--ingress-rate` requests per simulated second (default 10); both flags fall
//! back to `SLIPWAY_SANDBOX_INGRESS_METRICS_LISTEN` and `SLIPWAY_SANDBOX_INGRESS_RATE`.
//! The URL is printed and, with `--state DIR`, written to `DIR/ingress-metrics-url`.

use std::net::SocketAddr;
use std::path::Path;

use kube_sandbox::{Sandbox, SandboxOptions, SandboxUser};

use crate::cli::{GlobalArgs, SandboxServeArgs};
use crate::error::CliError;
use crate::printer::Printer;

pub fn serve(
    args: &SandboxServeArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<(), CliError> {
    let options = options(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        // The error names the address that could not be bound: the API's or the registry's.
        let sandbox = Sandbox::start(options)
            .await
            .map_err(|e| CliError::new(crate::exit::UNREACHABLE, e.to_string()))?;
        if let Some(path) = &global.kubeconfig {
            write_kubeconfig(path, &sandbox.kubeconfig_yaml())?;
        }
        printer.info(&format!("serving the Kubernetes API at {}", sandbox.url()));
        for user in &args.users {
            let name = user.split(':').next().unwrap_or(user);
            printer.info(&format!(
                "user `{name}`: contexts `{name}` (client certificate) and `{name}-token` (token); it has no rights until a binding gives it some"
            ));
        }
        if let Some(registry) = sandbox.registry_addr() {
            printer.info(&format!("serving an OCI registry at {registry}"));
        }
        if let Some(url) = sandbox.ingress_metrics_url() {
            printer.info(&format!(
                "serving ingress traffic metrics (Prometheus, no authentication) at {url}"
            ));
        }
        if let Some(path) = &global.kubeconfig {
            printer.info(&format!(
                "kubeconfig (context `sandbox`): `{}`; try `kubectl --kubeconfig {} get pods -A`",
                path.display(),
                path.display()
            ));
        }
        wait_for_signal().await;
        printer.info("stopping");
        sandbox.shutdown().await;
        Ok(())
    })
}

fn options(args: &SandboxServeArgs) -> Result<SandboxOptions, CliError> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        CliError::usage(format!(
            "`--listen {}` is not an address such as `127.0.0.1:6443`",
            args.listen
        ))
    })?;
    if !(args.fault_rate.is_finite() && (0.0..=1.0).contains(&args.fault_rate)) {
        return Err(CliError::usage(format!(
            "`--fault-rate {}` must be a share between 0 and 1, e.g. `0.1` for one request in ten",
            args.fault_rate
        )));
    }
    let duration =
        |flag: &str, value: &Option<String>| -> Result<Option<std::time::Duration>, CliError> {
            match value {
                None => Ok(None),
                Some(text) => match slipway_config::duration::parse_duration(text) {
                    Ok(d) if !d.is_zero() => Ok(Some(d)),
                    Ok(_) => Err(CliError::usage(format!(
                        "`{flag} {text}` must be longer than zero"
                    ))),
                    Err(e) => Err(CliError::usage(match e.hint() {
                        Some(hint) => format!("`{flag} {text}`: {e}; {hint}"),
                        None => format!("`{flag} {text}`: {e}"),
                    })),
                },
            }
        };
    let latency = duration("--latency", &args.latency)?;
    let watch_drop_after = duration("--watch-drop-after", &args.watch_drop_after)?;
    if let Some(dir) = &args.state
        && dir.exists()
        && !dir.is_dir()
    {
        return Err(CliError::usage(format!(
            "`--state {}` is not a directory",
            dir.display()
        )));
    }
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(CliError::usage(format!(
            "`--speed {}` must be a positive number",
            args.speed
        )));
    }
    let registry_listen = match &args.registry_listen {
        Some(addr) => Some(addr.parse::<SocketAddr>().map_err(|_| {
            CliError::usage(format!(
                "`--registry-listen {addr}` is not an address such as `127.0.0.1:5405`"
            ))
        })?),
        None => None,
    };
    let users = users(&args.users)?;
    let (ingress_metrics_listen, ingress_rate) = ingress_metrics(args)?;
    Ok(SandboxOptions {
        listen,
        tls: args.tls,
        users,
        registry_listen,
        speed: args.speed,
        registries: args.registries.clone(),
        strict_images: args.strict_images,
        state_dir: args.state.clone(),
        fault_rate: args.fault_rate,
        latency,
        watch_drop_after,
        ingress_metrics_listen,
        ingress_rate,
        ..SandboxOptions::default()
    })
}

/// `--ingress-metrics-listen` (also `SLIPWAY_SANDBOX_INGRESS_METRICS_LISTEN`): the
/// ingress metrics address, a free loopback port when absent and none for `off`; and
/// `--ingress-rate` (also `SLIPWAY_SANDBOX_INGRESS_RATE`): the simulated requests per
/// second.
fn ingress_metrics(args: &SandboxServeArgs) -> Result<(Option<SocketAddr>, f64), CliError> {
    let listen = match args.ingress_metrics_listen.as_deref() {
        Some("off") => None,
        Some(v) => Some(v.parse::<SocketAddr>().map_err(|_| {
            CliError::usage(format!(
                "`--ingress-metrics-listen {v}` is not an address such as `127.0.0.1:10254` (or `off`)"
            ))
        })?),
        None => Some(SocketAddr::from(([127, 0, 0, 1], 0))),
    };
    let rate = args.ingress_rate;
    if !(rate.is_finite() && rate >= 0.0) {
        return Err(CliError::usage(format!(
            "`--ingress-rate {rate}` must be a number of requests per second, e.g. `10`"
        )));
    }
    Ok((listen, rate))
}

/// `--user NAME[:GROUP,…]`: names and groups checked, no name twice, none `sandbox`
/// (the administrator's) nor clashing with another's `NAME-token` context.
fn users(specs: &[String]) -> Result<Vec<SandboxUser>, CliError> {
    let mut users: Vec<SandboxUser> = Vec::new();
    for spec in specs {
        let (name, groups) = spec.split_once(':').unwrap_or((spec, ""));
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c))
        };
        if !valid(name) || name.contains(':') {
            return Err(CliError::usage(format!(
                "`--user {spec}`: the user name must be letters, digits, `-`, `_`, `.` or `@`, e.g. `--user alice:developers`"
            )));
        }
        let groups: Vec<String> = if groups.is_empty() {
            vec![]
        } else {
            groups.split(',').map(str::to_string).collect()
        };
        if let Some(bad) = groups.iter().find(|g| !valid(g)) {
            return Err(CliError::usage(format!(
                "`--user {spec}`: `{bad}` is not a group name (groups are separated by commas, e.g. `--user alice:developers,ops`)"
            )));
        }
        let taken = |n: &str| {
            n == "sandbox"
                || users.iter().any(|u| {
                    u.name == n
                        || format!("{}-token", u.name) == n
                        || format!("{n}-token") == u.name
                })
        };
        if taken(name) {
            return Err(CliError::usage(format!(
                "`--user {spec}`: the kubeconfig already has a user or context `{name}` (`sandbox` is the administrator; each user also has `NAME-token`)"
            )));
        }
        users.push(SandboxUser {
            name: name.to_string(),
            groups,
        });
    }
    Ok(users)
}

/// Writes the kubeconfig through a temporary file, so a reader never sees half of it; only
/// its owner may read it (mode `0600`), as it carries keys and tokens.
fn write_kubeconfig(path: &Path, text: &str) -> Result<(), CliError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kubeconfig")
    ));
    let _ = std::fs::remove_file(&tmp);
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

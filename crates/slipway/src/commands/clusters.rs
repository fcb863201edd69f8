//! Reaching the clusters of an environment: a kubeconfig context, or the built-in
//! sandbox, which is started in the background the first time a command needs it and
//! keeps running for the next ones (`.slipway/sandbox/` holds its kubeconfig, log, pid
//! and state, so a stopped sandbox starts again where it was).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway_config::{Cluster, Config, Environment};
use slipway_deploy::cluster::Cluster as Connection;

use crate::cli::GlobalArgs;
use crate::error::CliError;
use crate::exit;
use crate::printer::Printer;

/// Refuses `--context` for an environment of several clusters: one context would
/// replace the context of every target and collapse them onto one cluster. Called before
/// anything is built or any cluster is contacted.
pub fn check_context(env: &Environment, global: &GlobalArgs) -> Result<(), CliError> {
    let clusters = env.targets.len();
    match &global.context {
        Some(context) if clusters > 1 => Err(CliError::usage(format!(
            "`--context {context}` cannot be used with environment `{}`: it has {clusters} clusters (`targets`), each with its own context",
            env.name
        ))
        .hint(format!(
            "drop `--context` to reach every cluster of `{}`, or change the contexts of its targets in slipway.yaml",
            env.name
        ))),
        _ => Ok(()),
    }
}

/// Connects to `cluster`. With `--context`, the environment has one cluster (see
/// [`check_context`]).
pub async fn connect(
    cluster: &Cluster,
    config: &Config,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<Arc<Connection>, CliError> {
    let (kubeconfig, context) = match cluster {
        Cluster::Sandbox => (ensure_sandbox(config, printer)?, None),
        Cluster::Context { name, kubeconfig } => (
            global
                .kubeconfig
                .clone()
                .or_else(|| kubeconfig.as_ref().map(|p| expand_home(p)))
                .unwrap_or_default(),
            Some(global.context.clone().unwrap_or_else(|| name.clone())),
        ),
    };
    let path = (!kubeconfig.as_os_str().is_empty()).then_some(kubeconfig.as_path());
    Connection::connect(path, context.as_deref())
        .await
        .map(Arc::new)
        .map_err(|e| CliError::new(exit::of_cluster(&e), e.to_string()))
}

fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// The sandbox's files for a project.
fn sandbox_dir(config: &Config) -> PathBuf {
    let base = if config.base_dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        config.base_dir.clone()
    };
    base.join(".slipway").join("sandbox")
}

/// Where the sandbox serves its registry: the host of the project's image repositories
/// when it is a loopback address (`127.0.0.1:5405/demo/api`), so the images built for a
/// sandbox environment are pushed to the sandbox itself.
pub fn sandbox_registry(config: &Config) -> Option<SocketAddr> {
    sandbox_registry_source(config).map(|(addr, _)| addr)
}

/// The sandbox's registry address and the key of `slipway.yaml` that fixes it: `registry`
/// when the image's repository starts with it, else `images.<name>.repository`.
fn sandbox_registry_source(config: &Config) -> Option<(SocketAddr, String)> {
    config.images.iter().find_map(|i| {
        let host = i.repository.split('/').next()?;
        let addr = host
            .replace("localhost", "127.0.0.1")
            .parse::<SocketAddr>()
            .ok()
            .filter(|a| a.ip().is_loopback())?;
        let key = match &config.registry {
            Some(r) if i.repository.starts_with(r.as_str()) => "registry".to_string(),
            _ => format!("images.{}.repository", i.name),
        };
        Some((addr, key))
    })
}

/// What a project's sandbox was started with, kept beside its kubeconfig: a running
/// sandbox started with other settings (its registry moved in `slipway.yaml`) is
/// restarted, so it never receives pushes meant for another address.
fn settings_text(registry: Option<SocketAddr>) -> String {
    match registry {
        Some(addr) => format!("registry {addr}\n"),
        None => "registry none\n".to_string(),
    }
}

/// Returns the kubeconfig of the project's sandbox, starting it if it is not running and
/// restarting it if it runs with other settings. Its state is kept either way.
pub fn ensure_sandbox(config: &Config, printer: &Printer) -> Result<PathBuf, CliError> {
    let dir = sandbox_dir(config);
    let kubeconfig = dir.join("kubeconfig");
    let registry = sandbox_registry_source(config);
    let settings = settings_text(registry.as_ref().map(|(addr, _)| *addr));
    if let Some(addr) = server_of(&kubeconfig)
        && healthy(addr)
    {
        let started_with = std::fs::read_to_string(dir.join("settings")).unwrap_or_default();
        if started_with == settings {
            return Ok(kubeconfig);
        }
        printer.info(&format!(
            "restarting the sandbox cluster: slipway.yaml changed its settings ({} → {})",
            started_with.trim(),
            settings.trim()
        ));
        stop_sandbox(&dir, addr)?;
    }
    // A taken registry port is named at once: the sandbox could not serve there, and
    // whatever listens there would receive the images meant for this project.
    if let Some((addr, key)) = &registry
        && let Err(e) = std::net::TcpListener::bind(addr)
    {
        return Err(CliError::new(
            exit::UNREACHABLE,
            format!(
                "the sandbox's registry cannot listen on {addr} (the host of `{key}` in {}): {}",
                config.file.display(),
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    "another process listens there".to_string()
                } else {
                    e.to_string()
                }
            ),
        )
        .hint(format!(
            "stop the process that listens on port {} (`ss -ltnp 'sport = :{}'` names it), or choose a free port in `{key}`",
            addr.port(),
            addr.port()
        )));
    }
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::write(dir.join(".gitignore"), "*\n");
    let _ = std::fs::remove_file(&kubeconfig);
    let _ = std::fs::remove_file(dir.join("settings"));
    let log = std::fs::File::create(dir.join("serve.log"))?;
    let exe = std::env::current_exe()?;
    let mut command = std::process::Command::new(exe);
    command
        .args([
            "sandbox",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        // Crash-safe state: a stopped sandbox starts again with its objects, release
        // records and images.
        .arg("--state")
        .arg(dir.join("state"));
    if let Some((registry, _)) = &registry {
        command.args(["--registry-listen", &registry.to_string()]);
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // Its own process group: a Ctrl-C meant for this command does not stop the cluster.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| CliError::internal(format!("cannot start the sandbox: {e}")))?;
    // `kill $(cat .slipway/sandbox/pid)` stops it.
    std::fs::write(dir.join("pid"), format!("{}\n", child.id()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(addr) = server_of(&kubeconfig)
            && healthy(addr)
        {
            std::fs::write(dir.join("settings"), &settings)?;
            printer.info(&format!(
                "started the sandbox cluster (kubeconfig `{}`)",
                kubeconfig.display()
            ));
            return Ok(kubeconfig);
        }
        // A sandbox that stopped (a port taken since the check above, a damaged state)
        // is reported at once, with what it said.
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            return Err(CliError::new(
                exit::UNREACHABLE,
                format!("the sandbox cluster stopped as it started ({status})"),
            )
            .detail(log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    Err(CliError::new(
        exit::UNREACHABLE,
        "the sandbox cluster did not start within 20 s",
    )
    .detail(log))
}

/// Stops the project's running sandbox (its pid file names it) and waits until its API no
/// longer answers, so its ports are free for the next one.
fn stop_sandbox(dir: &Path, api: SocketAddr) -> Result<(), CliError> {
    let pid = std::fs::read_to_string(dir.join("pid")).unwrap_or_default();
    let pid = pid.trim();
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CliError::new(
            exit::UNREACHABLE,
            format!(
                "the project's sandbox must be restarted, but `{}` does not name its process",
                dir.join("pid").display()
            ),
        )
        .hint("stop the sandbox by hand, then run the command again"));
    }
    let _ = std::process::Command::new("kill").arg(pid).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let gone = !Path::new("/proc").join(pid).exists();
        if gone || !healthy(api) {
            // The process may still hold its ports for a moment after its API stopped.
            while !gone && Path::new("/proc").join(pid).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(CliError::new(
        exit::UNREACHABLE,
        format!("the project's sandbox (pid {pid}) did not stop within 10 s"),
    ))
}

/// The `host:port` of the first cluster's `server` in a kubeconfig (the sandbox writes
/// one cluster, over plain HTTP).
fn server_of(kubeconfig: &Path) -> Option<SocketAddr> {
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let docs = slipway_config::yaml::parse_documents(&text).ok()?;
    let server = docs
        .first()?
        .get("clusters")?
        .items()?
        .first()?
        .get("cluster")?
        .get("server")?
        .as_str()?;
    server
        .strip_prefix("http://")?
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// True when something answers `GET /readyz` with 200 at `addr`.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = [0u8; 16];
    let n = stream.read(&mut answer).unwrap_or(0);
    answer[..n].starts_with(b"HTTP/1.1 200")
}

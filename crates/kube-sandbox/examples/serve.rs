//! Serves a sandbox until Ctrl-C:
//! `cargo run -p kube-sandbox --example serve -- KUBECONFIG_PATH [ADDR] [--state DIR]
//! [--fault-rate F] [--latency-ms N] [--watch-drop-after-ms N] [--speed F]`.

use kube_sandbox::{Sandbox, SandboxOptions};
use std::time::Duration;

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut positional = vec![];
    let mut options = SandboxOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if !arg.starts_with("--") {
            positional.push(arg);
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| invalid(format!("{arg} needs a value")))?;
        let ms = |v: &str| v.parse::<u64>().map(Duration::from_millis).map_err(invalid);
        match arg.as_str() {
            "--state" => options.state_dir = Some(value.into()),
            "--fault-rate" => options.fault_rate = value.parse().map_err(invalid)?,
            "--latency-ms" => options.latency = Some(ms(&value)?),
            "--watch-drop-after-ms" => options.watch_drop_after = Some(ms(&value)?),
            "--speed" => options.speed = value.parse().map_err(invalid)?,
            other => return Err(invalid(format!("unknown flag {other}"))),
        }
    }
    let mut positional = positional.into_iter();
    let kubeconfig = positional.next().unwrap_or_else(|| "kubeconfig".into());
    if let Some(addr) = positional.next() {
        options.listen = addr.parse().map_err(invalid)?;
    }
    let sandbox = Sandbox::start(options).await?;
    sandbox.write_kubeconfig(std::path::Path::new(&kubeconfig))?;
    eprintln!("serving {} (kubeconfig {kubeconfig})", sandbox.url());
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}

//! Serves a sandbox until Ctrl-C: `cargo run -p kube-sandbox --example serve -- KUBECONFIG_PATH [ADDR]`.

use kube_sandbox::{Sandbox, SandboxOptions};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let kubeconfig = args.next().unwrap_or_else(|| "kubeconfig".into());
    let mut options = SandboxOptions::default();
    if let Some(addr) = args.next() {
        options.listen = addr
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    }
    let sandbox = Sandbox::start(options).await?;
    sandbox.write_kubeconfig(std::path::Path::new(&kubeconfig))?;
    eprintln!("serving {} (kubeconfig {kubeconfig})", sandbox.url());
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}

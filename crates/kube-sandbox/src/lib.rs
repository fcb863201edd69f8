//! A local cluster that speaks the Kubernetes API over HTTP, so that real `kubectl` and
//! client libraries accept it as Kubernetes.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = kube_sandbox::Sandbox::start(kube_sandbox::SandboxOptions::default()).await?;
//! sandbox.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! println!("{}", sandbox.url());
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod controllers;
pub mod errors;
pub mod faults;
pub mod fields;
pub mod kinds;
pub mod node;
pub mod openapi;
pub mod patch;
pub mod persist;
pub mod proto;
pub mod registry;
pub mod resources;
pub mod reviews;
pub mod selector;
pub mod server;
pub mod store;
pub mod table;
pub mod util;
pub mod yaml;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use store::{Store, StoreEvent};

/// The Kubernetes version the sandbox reports.
pub const KUBERNETES_VERSION: &str = "v1.32.0";

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// A static bearer token required on every request; `None` accepts anonymous requests.
    pub token: Option<String>,
    /// How many store events are kept for watches that resume from a resourceVersion.
    pub watch_history: usize,
    /// How often watches with `allowWatchBookmarks=true` receive a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Every simulated duration (back-offs, probes, grace periods, deadlines) is divided by this.
    pub speed: f64,
    /// Allocatable CPU of the simulated node. Default `4`.
    pub node_cpu: String,
    /// Allocatable memory of the simulated node. Default `8Gi`.
    pub node_memory: String,
    /// Registries (`host:port`) whose images are checked over HTTP, besides loopback ones.
    pub registries: Vec<String>,
    /// Images from unchecked registries fail to pull instead of counting as present.
    pub strict_images: bool,
    /// Serve the embedded OCI registry on this address (no authentication: use loopback).
    /// Default `None` (off).
    pub registry_listen: Option<SocketAddr>,
    /// Keep the embedded registry's blobs and tags in this directory; `None` keeps them in
    /// memory.
    pub registry_dir: Option<PathBuf>,
    /// Keep the cluster's state in this directory (an append-only log and a snapshot): a
    /// restart resumes from it, and every acknowledged write survives a crash. The embedded
    /// registry keeps its images in `state_dir/registry` unless `registry_dir` is set.
    /// `None` keeps everything in memory.
    pub state_dir: Option<PathBuf>,
    /// The share (0 to 1) of API requests answered with an injected 500, 503 or 429 (with
    /// `Retry-After: 1`). Version, health, OpenAPI and discovery requests are never faulted.
    pub fault_rate: f64,
    /// Seed of the generator that picks faulted requests, so that runs are repeatable.
    pub fault_seed: u64,
    /// A delay added to every request.
    pub latency: Option<Duration>,
    /// Every watch is closed after this long (clients must re-establish it).
    pub watch_drop_after: Option<Duration>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(60),
            speed: 1.0,
            node_cpu: "4".into(),
            node_memory: "8Gi".into(),
            registries: vec![],
            strict_images: false,
            registry_listen: None,
            registry_dir: None,
            state_dir: None,
            fault_rate: 0.0,
            fault_seed: 1,
            latency: None,
            watch_drop_after: None,
        }
    }
}

/// A running sandbox; dropping it does not stop the server, call [`SandboxHandle::shutdown`].
pub struct SandboxHandle {
    addr: SocketAddr,
    token: Option<String>,
    store: Arc<Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    registry: Option<registry::RegistryServer>,
}

/// An error of binding `addr` that says which server could not listen there; the kind is
/// kept, so a caller can tell a taken port (`AddrInUse`) from other failures.
fn bind_error(what: &str, addr: SocketAddr, e: std::io::Error) -> std::io::Error {
    let taken = if e.kind() == std::io::ErrorKind::AddrInUse {
        " (another process listens there)"
    } else {
        ""
    };
    std::io::Error::new(
        e.kind(),
        format!("{what} cannot listen on {addr}{taken}: {e}"),
    )
}

/// Entry point.
pub struct Sandbox;

impl Sandbox {
    /// Binds the listener and serves the API in the background.
    pub async fn start(options: SandboxOptions) -> std::io::Result<SandboxHandle> {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| bind_error("the API", options.listen, e))?;
        let addr = listener.local_addr()?;
        let registry_dir = options
            .registry_dir
            .clone()
            .or_else(|| options.state_dir.as_ref().map(|d| d.join("registry")));
        let store = match &options.state_dir {
            Some(dir) => {
                let dir = dir.clone();
                let history = options.watch_history;
                tokio::task::spawn_blocking(move || Store::open(history, &dir))
                    .await
                    .map_err(std::io::Error::other)??
            }
            None => Store::new(options.watch_history),
        };
        let store = Arc::new(store);
        let registry = match options.registry_listen {
            Some(a) => Some(
                registry::RegistryServer::start(a, registry_dir.as_deref())
                    .await
                    .map_err(|e| bind_error("the registry", a, e))?,
            ),
            None => None,
        };
        let faults = faults::Faults::new(options.fault_rate, options.latency, options.fault_seed);
        let app = Arc::new(server::App {
            store: store.clone(),
            token: options.token.clone(),
            addr: addr.to_string(),
            bookmark_interval: options.bookmark_interval,
            faults: faults.active().then(|| Arc::new(faults)),
            watch_drop_after: options.watch_drop_after,
        });
        let router = axum::Router::new()
            .fallback(
                move |method: axum::http::Method,
                      uri: axum::http::Uri,
                      headers: axum::http::HeaderMap,
                      body: axum::body::Bytes| {
                    let app = app.clone();
                    async move { server::handle(app, method, uri, headers, body).await }
                },
            )
            .layer(axum::extract::DefaultBodyLimit::max(3 * 1024 * 1024));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let node_options = node::NodeOptions {
            speed: options.speed,
            cpu: options.node_cpu.clone(),
            memory: options.node_memory.clone(),
            registries: options.registries.clone(),
            strict_images: options.strict_images,
            ..Default::default()
        };
        let controllers = controllers::start(
            store.clone(),
            controllers::ControllerOptions {
                speed: options.speed,
            },
        )
        .join(node::start(store.clone(), node_options));
        let task = tokio::spawn(async move {
            let _controllers = controllers;
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(SandboxHandle {
            addr,
            token: options.token,
            store,
            shutdown: Some(tx),
            task: Some(task),
            registry,
        })
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The embedded registry's address, when `registry_listen` was set.
    pub fn registry_addr(&self) -> Option<SocketAddr> {
        self.registry.as_ref().map(|r| r.addr())
    }

    /// The store, for in-process controllers and inspection.
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// A kubeconfig whose cluster, user and context are all named `sandbox`.
    pub fn kubeconfig_yaml(&self) -> String {
        let user = match &self.token {
            Some(t) => format!("    token: {t}\n"),
            None => "    {}\n".to_string(),
        };
        let user = if self.token.is_some() {
            format!("  user:\n{user}")
        } else {
            "  user: {}\n".to_string()
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n    server: {}\ncontexts:\n- name: sandbox\n  context:\n    cluster: sandbox\n    user: sandbox\n    namespace: default\ncurrent-context: sandbox\nusers:\n- name: sandbox\n{user}preferences: {{}}\n",
            self.url()
        )
    }

    /// Writes [`Self::kubeconfig_yaml`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// Stops serving: open connections (watches included) are closed.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        if let Some(registry) = self.registry.take() {
            registry.shutdown().await;
        }
    }
}

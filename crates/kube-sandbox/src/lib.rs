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

pub mod auth;
pub mod controllers;
pub mod convert;
pub mod crd_schema;
pub mod errors;
pub mod faults;
pub mod field_labels;
pub mod fields;
pub mod ingress_metrics;
pub mod kinds;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod patch;
pub mod persist;
pub mod proto;
pub mod proxy;
pub mod rbac;
pub mod registry;
pub mod resources;
pub mod reviews;
pub mod schemas;
pub mod selector;
pub mod server;
pub mod store;
pub mod table;
pub mod tls;
pub mod util;
pub mod yaml;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use store::{Store, StoreEvent};

/// The largest request body, the real API server's limit (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// The file of the state directory that holds the ingress metrics URL (one line), when
/// the sandbox serves them.
pub const INGRESS_METRICS_URL_FILE: &str = "ingress-metrics-url";

/// The Kubernetes version the sandbox reports.
pub const KUBERNETES_VERSION: &str = "v1.32.0";

/// The name of the sandbox's one node: the kubelet registers it, and the controllers
/// that place pods on nodes (DaemonSets) and the events of the kubelet name it.
pub const NODE_NAME: &str = "sandbox-node";

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// A static bearer token of the administrator (`sandbox-admin` in `system:masters`);
    /// when set, authentication and RBAC are on and requests without credentials get 401.
    /// `None` (with neither `tls` nor `users`) accepts anonymous requests.
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
    /// Serve HTTPS with a certificate authority generated at start (in the kubeconfig):
    /// authentication by client certificate or bearer token and RBAC authorization are
    /// then on, and the kubeconfig's `sandbox` user is an administrator with a client
    /// certificate. Default `false`: plain HTTP, anonymous requests allowed everything.
    pub tls: bool,
    /// Users besides the administrator: each gets a client certificate (with `tls`) and
    /// a bearer token, and a user and context of its name in the kubeconfig (the token
    /// one as `<name>-token`). Authentication and RBAC are on when any is set; a user has
    /// no rights until a binding gives it some.
    pub users: Vec<SandboxUser>,
    /// Serve the simulated ingress traffic's metrics (ingress-nginx's
    /// `nginx_ingress_controller_requests` and `…_request_duration_seconds`) at
    /// `http://ADDR/metrics` on this address: plain HTTP without authentication, for a
    /// Prometheus to scrape (use loopback). Default `None` (no listener, no traffic).
    pub ingress_metrics_listen: Option<SocketAddr>,
    /// Requests per simulated second sent down every Ingress path and HTTPRoute rule while
    /// `ingress_metrics_listen` is set. Default 10.
    pub ingress_rate: f64,
}

/// A user of the sandbox: the user name and groups its certificate and token stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxUser {
    pub name: String,
    pub groups: Vec<String>,
}

/// A user's credentials, as its kubeconfig entries carry them.
#[derive(Clone)]
pub struct Credentials {
    pub user: SandboxUser,
    /// The client certificate and its key, PEM-encoded (`None` without TLS).
    pub certificate: Option<(String, String)>,
    /// A bearer token.
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    // Keys and tokens never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
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
            tls: false,
            users: vec![],
            ingress_metrics_listen: None,
            ingress_rate: ingress_metrics::DEFAULT_RATE,
        }
    }
}

/// A running sandbox; dropping it does not stop the server, call [`SandboxHandle::shutdown`].
pub struct SandboxHandle {
    addr: SocketAddr,
    token: Option<String>,
    /// The authority's certificate (PEM) and the administrator's certificate and key.
    tls: Option<(String, tls::Issued)>,
    users: Vec<Credentials>,
    authenticator: Option<Arc<auth::Authenticator>>,
    authority: Option<Arc<tls::Authority>>,
    store: Arc<Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    registry: Option<registry::RegistryServer>,
    ingress_metrics: Option<ingress_metrics::IngressMetricsServer>,
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
        let authority = if options.tls {
            Some(Arc::new(tls::Authority::generate()?))
        } else {
            None
        };
        let authenticator = (options.tls || options.token.is_some() || !options.users.is_empty())
            .then(|| Arc::new(auth::Authenticator::default()));
        let mut users = Vec::new();
        let mut admin_certificate = None;
        if let Some(authn) = &authenticator {
            rbac::bootstrap(&store).map_err(|e| std::io::Error::other(e.message))?;
            if let Some(token) = &options.token {
                authn.add_token(token.clone(), auth::Identity::admin());
            }
            if let Some(authority) = &authority {
                let admin = auth::Identity::admin();
                let issued = authority.issue_client(&admin.user, &admin.groups)?;
                authn.add_certificate(issued.fingerprint, admin);
                admin_certificate = Some((authority.ca_pem(), issued));
            }
            for user in &options.users {
                let identity = auth::Identity::new(&user.name, &user.groups);
                let certificate = match &authority {
                    Some(authority) => {
                        let issued = authority.issue_client(&user.name, &user.groups)?;
                        authn.add_certificate(issued.fingerprint, identity.clone());
                        Some((issued.cert_pem, issued.key_pem))
                    }
                    None => None,
                };
                users.push(Credentials {
                    user: user.clone(),
                    certificate,
                    token: authn.issue_token(identity),
                });
            }
        }
        let faults = faults::Faults::new(options.fault_rate, options.latency, options.fault_seed);
        let app = Arc::new(server::App {
            store: store.clone(),
            addr: addr.to_string(),
            bookmark_interval: options.bookmark_interval,
            faults: faults.active().then(|| Arc::new(faults)),
            watch_drop_after: options.watch_drop_after,
            auth: authenticator.clone(),
            metrics: Default::default(),
            speed: options.speed,
        });
        let router =
            axum::Router::new()
                .fallback(
                    move |method: axum::http::Method,
                          uri: axum::http::Uri,
                          headers: axum::http::HeaderMap,
                          peer: Option<axum::Extension<auth::Peer>>,
                          body: Result<
                        axum::body::Bytes,
                        axum::extract::rejection::BytesRejection,
                    >| {
                        let app = app.clone();
                        let peer = peer.and_then(|axum::Extension(p)| p.0);
                        async move {
                            match body {
                                Ok(body) => {
                                    server::handle(app, method, uri, headers, peer, body).await
                                }
                                Err(rejected) => server::body_rejected(&rejected, MAX_BODY),
                            }
                        }
                    },
                )
                .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
        // Every cluster has an authority its pods can verify the API server with; without
        // TLS the sandbox makes one only to publish it.
        let root_ca = match &authority {
            Some(authority) => authority.ca_pem(),
            None => tls::Authority::generate()?.ca_pem(),
        };
        let ingress_metrics = match options.ingress_metrics_listen {
            Some(a) => {
                let server = ingress_metrics::IngressMetricsServer::start(
                    a,
                    store.clone(),
                    options.ingress_rate,
                    options.speed,
                )
                .await
                .map_err(|e| bind_error("the ingress metrics", a, e))?;
                if let Some(dir) = &options.state_dir {
                    std::fs::write(
                        dir.join(INGRESS_METRICS_URL_FILE),
                        format!("http://{}/metrics\n", server.addr()),
                    )?;
                }
                Some(server)
            }
            None => {
                // A URL of an earlier run would name a listener that is gone.
                if let Some(dir) = &options.state_dir {
                    let _ = std::fs::remove_file(dir.join(INGRESS_METRICS_URL_FILE));
                }
                None
            }
        };
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
                root_ca: Some(root_ca),
            },
        )
        .join(node::start(store.clone(), node_options));
        let server_tls = match &authority {
            Some(authority) => Some(authority.server_config(addr)?),
            None => None,
        };
        let task = tokio::spawn(async move {
            let _controllers = controllers;
            match server_tls {
                Some(config) => tls::serve(listener, config, router, rx).await,
                None => {
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = rx.await;
                        })
                        .await;
                }
            }
        });
        Ok(SandboxHandle {
            addr,
            token: options.token,
            tls: admin_certificate,
            users,
            authenticator,
            authority,
            store,
            shutdown: Some(tx),
            task: Some(task),
            registry,
            ingress_metrics,
        })
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:<port>`, or `https://` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The certificate authority (PEM) that signed the server's and the users'
    /// certificates, with TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|(ca, _)| ca.as_str())
    }

    /// The credentials of the user `name` (of [`SandboxOptions::users`]).
    pub fn credentials(&self, name: &str) -> Option<&Credentials> {
        self.users.iter().find(|c| c.user.name == name)
    }

    /// A new client certificate and its key (PEM) for `user` in `groups`, with TLS.
    pub fn issue_certificate(
        &self,
        user: &str,
        groups: &[String],
    ) -> std::io::Result<Option<(String, String)>> {
        let (Some(authority), Some(authn)) = (&self.authority, &self.authenticator) else {
            return Ok(None);
        };
        let issued = authority.issue_client(user, groups)?;
        authn.add_certificate(issued.fingerprint, auth::Identity::new(user, groups));
        Ok(Some((issued.cert_pem, issued.key_pem)))
    }

    /// A new bearer token for `user` in `groups`, when authentication is on.
    pub fn issue_token(&self, user: &str, groups: &[String]) -> Option<String> {
        self.authenticator
            .as_ref()
            .map(|a| a.issue_token(auth::Identity::new(user, groups)))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The embedded registry's address, when `registry_listen` was set.
    pub fn registry_addr(&self) -> Option<SocketAddr> {
        self.registry.as_ref().map(|r| r.addr())
    }

    /// The address of the ingress traffic metrics listener, when
    /// `ingress_metrics_listen` was set.
    pub fn ingress_metrics_addr(&self) -> Option<SocketAddr> {
        self.ingress_metrics.as_ref().map(|m| m.addr())
    }

    /// `http://<addr>/metrics` of the ingress traffic metrics, when
    /// `ingress_metrics_listen` was set: the URL a Prometheus scrapes.
    pub fn ingress_metrics_url(&self) -> Option<String> {
        self.ingress_metrics_addr()
            .map(|a| format!("http://{a}/metrics"))
    }

    /// The store, for in-process controllers and inspection.
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// A kubeconfig whose cluster, user and context are all named `sandbox` (the user an
    /// administrator), with a user and context per [`SandboxOptions::users`] entry: `NAME`
    /// with its client certificate (with TLS) and `NAME-token` with its bearer token.
    pub fn kubeconfig_yaml(&self) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut cluster = format!("    server: {}\n", self.url());
        if let Some((ca, _)) = &self.tls {
            cluster.push_str(&format!("    certificate-authority-data: {}\n", b64(ca)));
        }
        let mut users = String::new();
        let mut contexts = String::new();
        let mut add = |name: &str, fields: &str| {
            if fields.is_empty() {
                users.push_str(&format!("- name: {name}\n  user: {{}}\n"));
            } else {
                users.push_str(&format!("- name: {name}\n  user:\n{fields}"));
            }
            contexts.push_str(&format!(
                "- name: {name}\n  context:\n    cluster: sandbox\n    user: {name}\n    namespace: default\n"
            ));
        };
        let certificate = |cert: &str, key: &str| {
            format!(
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(cert),
                b64(key)
            )
        };
        let mut admin = String::new();
        if let Some((_, issued)) = &self.tls {
            admin.push_str(&certificate(&issued.cert_pem, &issued.key_pem));
        }
        if let Some(t) = &self.token {
            admin.push_str(&format!("    token: {t}\n"));
        }
        add("sandbox", &admin);
        for c in &self.users {
            if let Some((cert, key)) = &c.certificate {
                add(&c.user.name, &certificate(cert, key));
            }
            add(
                &format!("{}-token", c.user.name),
                &format!("    token: {}\n", c.token),
            );
        }
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n{cluster}contexts:\n{contexts}current-context: sandbox\nusers:\n{users}preferences: {{}}\n"
        )
    }

    /// Writes [`Self::kubeconfig_yaml`] to `path`.
    /// Only its owner may read it (mode `0600`): it may hold keys and tokens.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(self.kubeconfig_yaml().as_bytes())
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
        if let Some(metrics) = self.ingress_metrics.take() {
            metrics.shutdown().await;
        }
    }
}

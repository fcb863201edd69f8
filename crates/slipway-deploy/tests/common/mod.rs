//! What the tests against the sandbox share: a sandbox with a kubeconfig and the
//! engine's connection to it, the input of a release, and a collector of its events.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube_sandbox::{Sandbox, SandboxHandle, SandboxOptions};
use serde_json::Value;
use slipway_deploy::cluster::Cluster;
use slipway_deploy::engine::{DeployInput, Event};
use slipway_deploy::record::ReleaseImage;

/// A sandbox, a kubeconfig for it in a temporary directory, and the engine's connection.
pub struct Env {
    pub sandbox: SandboxHandle,
    pub dir: tempfile::TempDir,
    pub cluster: Arc<Cluster>,
}

impl Env {
    pub async fn start(options: SandboxOptions) -> Env {
        let sandbox = Sandbox::start(options).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig).unwrap();
        let cluster = Arc::new(Cluster::connect(Some(&kubeconfig), None).await.unwrap());
        Env {
            sandbox,
            dir,
            cluster,
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }
}

/// A release of `objects` by `tester` of the app `shop` to `prod` in `namespace`, with
/// its one image `api` built as `image`, rolled back on failure.
pub fn input(namespace: &str, image: &str, timeout: Duration, objects: Vec<Value>) -> DeployInput {
    DeployInput {
        app: "shop".into(),
        environment: "prod".into(),
        namespace: namespace.into(),
        objects,
        hooks: vec![],
        canaries: vec![],
        blue_greens: vec![],
        recreate: vec![],
        images: vec![ReleaseImage {
            name: "api".into(),
            reference: image.into(),
            source: "build".into(),
        }],
        timeout,
        rollback_on_failure: true,
        crashloop_tolerance: 1,
        settle: Duration::ZERO,
        user: "tester".into(),
        git_commit: None,
        git_dirty: false,
        action: "deploy".into(),
        source_revision: None,
        dry_run: false,
        wait_lock: Duration::ZERO,
        interrupt: tokio_util::sync::CancellationToken::new(),
    }
}

/// An event sink that keeps every event it is given, debug-formatted, in the log.
pub fn collect() -> (Arc<Mutex<Vec<String>>>, impl Fn(Event) + Send + Sync) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    (log, move |e: Event| {
        sink.lock().unwrap().push(format!("{e:?}"))
    })
}

//! The cluster side against a real API server (the sandbox), through kube-rs: the deploy
//! lock, server-side apply with conflicts, and release records.

use std::time::Duration;

use kube_sandbox::SandboxOptions;
use serde_json::json;
use slipway_deploy::cluster::{Apply, ClusterError};
use slipway_deploy::lock::{self, LockError};
use slipway_deploy::record::{self, Release, ReleaseImage, ReleaseStatus};

mod common;

use common::Env;

async fn env() -> Env {
    Env::start(SandboxOptions::default()).await
}

fn deployment(image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": image}]}
            }
        }
    })
}

#[tokio::test]
async fn second_deploy_finds_the_lock_held_and_names_the_holder() {
    let env = env().await;
    let first = lock::acquire(
        env.cluster.clone(),
        "shop",
        "default",
        "alice@laptop",
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(first.took_over_from, None);
    let err = lock::acquire(
        env.cluster.clone(),
        "shop",
        "default",
        "ci@runner",
        Duration::ZERO,
    )
    .await
    .err()
    .expect("the lock is held");
    match &err {
        LockError::Held {
            holder,
            since,
            expires_in,
            ..
        } => {
            assert_eq!(holder, "alice@laptop");
            assert!(since.is_some());
            assert!(*expires_in > 0 && *expires_in <= lock::LEASE_SECONDS);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("`alice@laptop`"), "{err}");

    first.release().await.unwrap();
    let second = lock::acquire(
        env.cluster.clone(),
        "shop",
        "default",
        "ci@runner",
        Duration::ZERO,
    )
    .await
    .unwrap();
    second.release().await.unwrap();
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn lock_of_a_dead_deploy_is_taken_over_once_its_lease_expired() {
    let env = env().await;
    // A deploy that died 5 minutes ago left its lease behind.
    let mut stale = lock::lease_object(
        "shop",
        "default",
        "dead@host",
        "2020-01-01T00:00:00Z".parse().unwrap(),
        None,
    );
    stale["spec"]["leaseDurationSeconds"] = json!(30);
    env.cluster.create(&stale, "default").await.unwrap();

    let guard = lock::acquire(
        env.cluster.clone(),
        "shop",
        "default",
        "me@host",
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(
        guard.took_over_from.as_ref().map(|t| t.holder()),
        Some("dead@host")
    );
    let lease = env
        .cluster
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            "default",
            "slipway-lock-shop",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "me@host");
    guard.release().await.unwrap();
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn waiting_for_the_lock_succeeds_when_the_holder_releases_it() {
    let env = env().await;
    let first = lock::acquire(env.cluster.clone(), "shop", "default", "a", Duration::ZERO)
        .await
        .unwrap();
    let cluster = env.cluster.clone();
    let waiter = tokio::spawn(async move {
        lock::acquire(cluster, "shop", "default", "b", Duration::from_secs(20)).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.release().await.unwrap();
    let second = waiter.await.unwrap().expect("taken after release");
    second.release().await.unwrap();
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn apply_reports_a_field_changed_by_another_manager_and_force_takes_it_back() {
    let env = env().await;
    env.cluster
        .apply(&deployment("r.example.com/api:1"), "default", Apply::Strict)
        .await
        .unwrap();

    // Someone changes the image by hand, as `kubectl set image` would, as its own manager.
    let other = deployment("r.example.com/api:hotfix");
    let api = env
        .cluster
        .api("apps/v1", "Deployment", Some("default"))
        .await
        .unwrap();
    api.patch(
        "api",
        &kube::api::PatchParams::apply("kubectl-set").force(),
        &kube::api::Patch::Apply(&other),
    )
    .await
    .unwrap();

    let err = env
        .cluster
        .apply(&deployment("r.example.com/api:2"), "default", Apply::Strict)
        .await
        .unwrap_err();
    match &err {
        ClusterError::Conflict { fields, .. } => {
            assert!(
                fields
                    .iter()
                    .any(|(f, m)| f.contains("image") && m == "kubectl-set"),
                "{fields:?}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    let applied = env
        .cluster
        .apply(&deployment("r.example.com/api:2"), "default", Apply::Force)
        .await
        .unwrap();
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["image"],
        "r.example.com/api:2"
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn dry_run_apply_changes_nothing() {
    let env = env().await;
    let answer = env
        .cluster
        .apply(&deployment("r.example.com/api:1"), "default", Apply::DryRun)
        .await
        .unwrap();
    assert_eq!(answer["metadata"]["name"], "api");
    let stored = env
        .cluster
        .get("apps/v1", "Deployment", "default", "api")
        .await
        .unwrap();
    assert!(stored.is_none(), "dry run stored {stored:?}");
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn unknown_kind_is_named() {
    let env = env().await;
    let widget =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let err = env
        .cluster
        .apply(&widget, "default", Apply::Strict)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::UnknownKind { kind, .. } if kind == "Widget"),
        "{err:?}"
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn release_records_are_stored_and_listed_by_app_and_environment() {
    let env = env().await;
    for (revision, status) in [(1, ReleaseStatus::Superseded), (2, ReleaseStatus::Deployed)] {
        let release = Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "default".into(),
            revision,
            status,
            started: "2026-11-22T01:00:00Z".into(),
            finished: Some("2026-11-22T01:00:30Z".into()),
            user: "ci@runner".into(),
            git_commit: None,
            git_dirty: false,
            images: vec![ReleaseImage {
                name: "api".into(),
                reference: format!("r/api:{revision}@sha256:00"),
                source: "build".into(),
            }],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: "ok".into(),
            manifest: vec![deployment("r/api:1")],
            failed_check: None,
            paused: None,
            switch_window: None,
        };
        env.cluster
            .create(&record::to_secret(&release), "default")
            .await
            .unwrap();
    }
    let secrets = env
        .cluster
        .list("v1", "Secret", "default", &record::selector("shop", "prod"))
        .await
        .unwrap();
    let releases: Vec<Release> = secrets
        .iter()
        .map(|s| record::from_secret(s).unwrap())
        .collect();
    assert_eq!(releases.len(), 2);
    assert_eq!(record::current(&releases).map(|r| r.revision), Some(2));
    assert_eq!(record::next_revision(&releases), 3);
    let other_env = env
        .cluster
        .list("v1", "Secret", "default", &record::selector("shop", "uat"))
        .await
        .unwrap();
    assert!(other_env.is_empty());
    env.sandbox.shutdown().await;
}

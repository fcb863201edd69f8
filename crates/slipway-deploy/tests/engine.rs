//! Whole releases against the sandbox: deploy, supersede, a failed rollout diagnosed and
//! rolled back, a failed migration hook that leaves workloads untouched, post-deploy hooks,
//! a dry run that writes nothing.

use std::time::Duration;

use kube_sandbox::SandboxOptions;
use serde_json::{Value, json};
use slipway_deploy::cluster::Cluster;
use slipway_deploy::engine::{self, DeployError, DeployInput, Hook, Outcome};
use slipway_deploy::record::ReleaseStatus;

mod common;

use common::{Env, collect};

async fn env() -> Env {
    Env::start(SandboxOptions {
        speed: 20.0,
        ..SandboxOptions::default()
    })
    .await
}

/// One-replica Deployment that never takes its only replica down.
fn deployment(image: &str, behavior: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "spec": {
            "replicas": 1,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "api"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "api"},
                             "annotations": {"dev.slipway.sandbox/behavior": behavior}},
                "spec": {"containers": [{"name": "api", "image": image,
                    // The app needs a few seconds before it can answer: a crash at start
                    // happens before it is ever ready.
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 1}}]}
            }
        }
    })
}

fn service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
           "spec": {"selector": {"app": "api"}, "ports": [{"port": 80}]}})
}

fn input(objects: Vec<Value>) -> DeployInput {
    common::input(
        "default",
        "registry.example.com/api:1",
        Duration::from_secs(30),
        objects,
    )
}

async fn image_of(cluster: &Cluster) -> String {
    let d = cluster
        .get("apps/v1", "Deployment", "default", "api")
        .await
        .unwrap()
        .unwrap();
    d["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Revision 1: `api:1`, ready.
async fn first_release(env: &Env) {
    let (_, report) = collect();
    let outcome = engine::deploy(
        env.cluster.clone(),
        input(vec![deployment("registry.example.com/api:1", "ready")]),
        &report,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, Outcome::Deployed { revision: 1 }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn release_is_recorded_and_the_next_one_supersedes_it() {
    let env = env().await;
    let (_, report) = collect();
    let first = engine::deploy(
        env.cluster.clone(),
        input(vec![
            service(),
            deployment("registry.example.com/api:1", "ready"),
        ]),
        &report,
    )
    .await
    .unwrap();
    assert!(
        matches!(first, Outcome::Deployed { revision: 1 }),
        "{first:?}"
    );

    let second = engine::deploy(
        env.cluster.clone(),
        input(vec![
            service(),
            deployment("registry.example.com/api:2", "ready"),
        ]),
        &report,
    )
    .await
    .unwrap();
    assert!(
        matches!(second, Outcome::Deployed { revision: 2 }),
        "{second:?}"
    );
    assert_eq!(image_of(&env.cluster).await, "registry.example.com/api:2");

    let history = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap();
    let statuses: Vec<_> = history.iter().map(|r| (r.revision, r.status)).collect();
    assert_eq!(
        statuses,
        [(1, ReleaseStatus::Superseded), (2, ReleaseStatus::Deployed)]
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn crashing_release_is_diagnosed_and_the_previous_images_restored() {
    let env = env().await;
    first_release(&env).await;

    // The failing release also adds a workload the previous one did not have.
    let mut extra = deployment("registry.example.com/api:2", "ready");
    extra["metadata"]["name"] = json!("extra");
    extra["spec"]["selector"]["matchLabels"]["app"] = json!("extra");
    extra["spec"]["template"]["metadata"]["labels"]["app"] = json!("extra");
    let (log, report) = collect();
    let outcome = engine::deploy(
        env.cluster.clone(),
        input(vec![
            deployment("registry.example.com/api:2", "crash"),
            extra,
        ]),
        &report,
    )
    .await
    .unwrap();
    match &outcome {
        Outcome::RolledBack {
            revision,
            restored,
            diagnosis,
        } => {
            assert_eq!((*revision, *restored), (2, 1));
            assert_eq!(diagnosis.workload, "deployment/api");
            assert_eq!(diagnosis.reason, "CrashLoopBackOff");
            assert!(
                diagnosis
                    .pod
                    .as_deref()
                    .is_some_and(|p| p.starts_with("api-")),
                "{diagnosis:?}"
            );
        }
        other => panic!(
            "expected a rollback, got {other:?}\n{:#?}",
            log.lock().unwrap()
        ),
    }
    assert_eq!(image_of(&env.cluster).await, "registry.example.com/api:1");
    let extra = env
        .cluster
        .get("apps/v1", "Deployment", "default", "extra")
        .await
        .unwrap();
    assert!(
        extra.is_none(),
        "what only the failed release had is removed: {extra:?}"
    );
    let history = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap();
    assert_eq!(history[1].status, ReleaseStatus::RolledBack);
    assert!(
        history[1].outcome.contains("CrashLoopBackOff"),
        "{}",
        history[1].outcome
    );
    assert_eq!(history[0].status, ReleaseStatus::Deployed);
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_crash_after_a_healthy_start_is_caught_by_the_settle_window() {
    let env = env().await;
    first_release(&env).await;

    // Ready after its probe's delay, then a crash 20 simulated seconds after each start
    // (1 s at speed 20): the rollout is complete before the first crash.
    let settling = DeployInput {
        settle: Duration::from_secs(5),
        ..input(vec![deployment(
            "registry.example.com/api:2",
            "crash-after=20s",
        )])
    };
    let (log, report) = collect();
    let outcome = engine::deploy(env.cluster.clone(), settling, &report)
        .await
        .unwrap();
    match &outcome {
        Outcome::RolledBack {
            revision,
            restored,
            diagnosis,
        } => {
            assert_eq!((*revision, *restored), (2, 1));
            assert_eq!(diagnosis.reason, "RestartedAfterReady", "{diagnosis:?}");
            assert!(
                diagnosis
                    .message
                    .contains("restarted after the rollout was ready (exit code 1"),
                "{diagnosis:?}"
            );
            assert_eq!(diagnosis.container.as_deref(), Some("api"));
        }
        other => panic!(
            "expected a rollback, got {other:?}\n{:#?}",
            log.lock().unwrap()
        ),
    }
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|e| e.contains("watching its pods for restarts for 5s")),
        "the window is announced"
    );
    assert_eq!(image_of(&env.cluster).await, "registry.example.com/api:1");

    // Without a window the same release counts as deployed: the window is what caught it.
    let (_, report) = collect();
    let outcome = engine::deploy(
        env.cluster.clone(),
        input(vec![deployment(
            "registry.example.com/api:3",
            "crash-after=20s",
        )]),
        &report,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, Outcome::Deployed { revision: 3 }),
        "{outcome:?}"
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn failed_migration_hook_leaves_every_workload_on_its_old_image() {
    let env = env().await;
    first_release(&env).await;
    let (_, report) = collect();

    let mut next = input(vec![deployment("registry.example.com/api:2", "ready")]);
    next.hooks = vec![Hook {
        name: "migrate".into(),
        job: json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {"backoffLimit": 0, "template": {
                "metadata": {"annotations": {"dev.slipway.sandbox/behavior": "exit=3"}},
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": "migrate", "image": "registry.example.com/api:2"}]}}}
        }),
        timeout: Duration::from_secs(30),
        post_deploy: false,
        delete_on_success: false,
        delete_on_failure: false,
    }];
    let err = engine::deploy(env.cluster.clone(), next, &report)
        .await
        .unwrap_err();
    match &err {
        DeployError::HookFailed { name, diagnosis } => {
            assert_eq!(name, "migrate");
            assert_eq!(diagnosis.workload, "job/migrate-r2");
        }
        other => panic!("expected a hook failure, got {other:?}"),
    }
    assert_eq!(image_of(&env.cluster).await, "registry.example.com/api:1");
    let history = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap();
    assert_eq!(history[1].status, ReleaseStatus::Failed);
    assert_eq!(history[0].status, ReleaseStatus::Deployed);
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn dry_run_plans_and_writes_nothing() {
    let env = env().await;
    let mut dry = input(vec![
        service(),
        deployment("registry.example.com/api:1", "ready"),
    ]);
    dry.dry_run = true;
    let (_, report) = collect();
    let outcome = engine::deploy(env.cluster.clone(), dry, &report)
        .await
        .unwrap();
    match outcome {
        Outcome::Planned(plan) => {
            let objects: Vec<&str> = plan.iter().map(|p| p.object.as_str()).collect();
            assert_eq!(objects, ["Service/api", "Deployment/api"]);
            assert!(plan.iter().all(|p| p.change == engine::Change::Create));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        env.cluster
            .get("apps/v1", "Deployment", "default", "api")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        engine::history(&env.cluster, "shop", "prod", "default")
            .await
            .unwrap()
            .is_empty()
    );
    env.sandbox.shutdown().await;
}

async fn lease(env: &Env) -> Value {
    env.cluster
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            "default",
            "slipway-lock-shop",
        )
        .await
        .unwrap()
        .unwrap()
}

/// Records revision 2 (a copy of revision 1) as pending and gives the lock to `holder`,
/// renewed at `renewed`: a deploy under way, or killed. Returns the lease.
async fn pending_revision_2_under_lock(env: &Env, holder: &str, renewed: jiff::Timestamp) -> Value {
    let mut pending = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap()[0]
        .clone();
    pending.revision = 2;
    pending.status = ReleaseStatus::Pending;
    env.cluster
        .create(&slipway_deploy::record::to_secret(&pending), "default")
        .await
        .unwrap();
    let released = lease(env).await;
    let held = slipway_deploy::lock::lease_object(
        "shop",
        "default",
        holder,
        renewed,
        released
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str),
    );
    env.cluster.replace(&held, "default").await.unwrap()
}

#[tokio::test]
async fn a_release_left_pending_by_a_killed_deploy_is_concluded_by_the_next_one() {
    let env = env().await;
    first_release(&env).await;
    // A deploy killed after recording revision 2 as pending, holding the lock.
    pending_revision_2_under_lock(
        &env,
        "killed@host/1",
        "2020-01-01T00:00:00Z".parse().unwrap(),
    )
    .await;

    let (log, report) = collect();
    let outcome = engine::deploy(
        env.cluster.clone(),
        input(vec![deployment("registry.example.com/api:3", "ready")]),
        &report,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, Outcome::Deployed { revision: 3 }),
        "{outcome:?}"
    );
    let events = log.lock().unwrap().join("\n");
    assert!(
        events.contains("took_over_from: Some(Expired { holder: \"killed@host/1\" })"),
        "{events}"
    );
    assert!(events.contains("Concluded { revision: 2 }"), "{events}");
    let history = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap();
    let statuses: Vec<_> = history.iter().map(|r| (r.revision, r.status)).collect();
    assert_eq!(
        statuses,
        [
            (1, ReleaseStatus::Superseded),
            (2, ReleaseStatus::Failed),
            (3, ReleaseStatus::Deployed)
        ]
    );
    assert!(
        history[1].outcome.starts_with("interrupted"),
        "{}",
        history[1].outcome
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn dry_run_takes_no_lock_and_leaves_a_pending_record_alone() {
    let env = env().await;
    first_release(&env).await;
    let (_, report) = collect();
    // Another deploy is running: it holds the lock and has recorded revision 2 as pending.
    let held = pending_revision_2_under_lock(&env, "other@host/1", jiff::Timestamp::now()).await;

    let mut dry = input(vec![deployment("registry.example.com/api:2", "ready")]);
    dry.dry_run = true;
    let outcome = engine::deploy(env.cluster.clone(), dry, &report)
        .await
        .unwrap();
    match outcome {
        Outcome::Planned(plan) => {
            assert_eq!(plan.len(), 1);
            assert!(
                matches!(&plan[0].change, engine::Change::Update(fields) if !fields.is_empty()),
                "{plan:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        lease(&env).await.pointer("/metadata/resourceVersion"),
        held.pointer("/metadata/resourceVersion"),
        "the lease was written"
    );
    let statuses: Vec<_> = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap()
        .iter()
        .map(|r| (r.revision, r.status))
        .collect();
    assert_eq!(
        statuses,
        [(1, ReleaseStatus::Deployed), (2, ReleaseStatus::Pending)]
    );
    assert_eq!(image_of(&env.cluster).await, "registry.example.com/api:1");
    env.sandbox.shutdown().await;
}

fn job(name: &str, behavior: &str) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"annotations": {"dev.slipway.sandbox/behavior": behavior}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": name, "image": "registry.example.com/api:2"}]}}}
    })
}

fn post_deploy(name: &str, behavior: &str) -> Hook {
    Hook {
        name: name.into(),
        job: job(name, behavior),
        timeout: Duration::from_secs(30),
        post_deploy: true,
        delete_on_success: false,
        delete_on_failure: false,
    }
}

#[tokio::test]
async fn post_deploy_hook_runs_once_every_workload_is_ready() {
    let env = env().await;
    let (log, report) = collect();
    let mut first = input(vec![deployment("registry.example.com/api:1", "ready")]);
    first.hooks = vec![post_deploy("smoke", "complete-after=1s")];
    let outcome = engine::deploy(env.cluster.clone(), first, &report)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Deployed { revision: 1 }),
        "{outcome:?}"
    );
    let log = log.lock().unwrap().clone();
    let position = |needle: &str| {
        log.iter()
            .position(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in {log:#?}"))
    };
    let ready = position("workload: \"deployment/api\", state: Current");
    let started = position("HookStarted { name: \"smoke\"");
    let recorded = position("Recorded { revision: 1, status: Deployed }");
    assert!(ready < started && started < recorded, "{log:#?}");
    let job = env
        .cluster
        .get("batch/v1", "Job", "default", "smoke-r1")
        .await
        .unwrap()
        .expect("the hook's Job exists");
    assert_eq!(job.pointer("/status/succeeded"), Some(&json!(1)), "{job}");
    let history = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap();
    assert!(
        history[0]
            .durations
            .iter()
            .any(|(step, _)| step == "post-deploy hooks"),
        "{:?}",
        history[0].durations
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn failing_post_deploy_hook_fails_the_release_and_restores_the_previous_one() {
    let env = env().await;
    first_release(&env).await;
    let (_, report) = collect();

    let mut next = input(vec![deployment("registry.example.com/api:2", "ready")]);
    next.hooks = vec![post_deploy("smoke", "exit=1")];
    let outcome = engine::deploy(env.cluster.clone(), next, &report)
        .await
        .unwrap();
    match &outcome {
        Outcome::RolledBack {
            revision: 2,
            restored: 1,
            diagnosis,
        } => assert_eq!(diagnosis.workload, "job/smoke-r2", "{diagnosis:?}"),
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert_eq!(image_of(&env.cluster).await, "registry.example.com/api:1");
    let history = engine::history(&env.cluster, "shop", "prod", "default")
        .await
        .unwrap();
    assert_eq!(history[1].status, ReleaseStatus::RolledBack);
    assert!(
        history[1].outcome.starts_with("job/smoke-r2: "),
        "{}",
        history[1].outcome
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_interrupted_plan_or_lock_wait_stops_with_nothing_written() {
    let env = env().await;
    let (_, report) = collect();
    for dry_run in [true, false] {
        let mut stopped = input(vec![deployment("registry.example.com/api:1", "ready")]);
        stopped.dry_run = dry_run;
        stopped.interrupt.cancel();
        let err = engine::deploy(env.cluster.clone(), stopped, &report)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DeployError::Interrupted { .. }),
            "dry run {dry_run}: {err:?}"
        );
    }
    assert!(
        env.cluster
            .get("apps/v1", "Deployment", "default", "api")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        engine::history(&env.cluster, "shop", "prod", "default")
            .await
            .unwrap()
            .is_empty()
    );
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn interrupted_after_the_plan_or_during_a_hook_changes_no_workload() {
    let env = env().await;
    first_release(&env).await;
    let (_, report) = collect();

    // Ctrl-C as the plan is shown (no hook), then as the migration starts.
    for (revision, with_hook) in [(2, false), (3, true)] {
        let mut next = input(vec![deployment("registry.example.com/api:2", "ready")]);
        if with_hook {
            next.hooks = vec![Hook {
                name: "migrate".into(),
                job: job("migrate", "complete-after=60s"),
                timeout: Duration::from_secs(120),
                post_deploy: false,
                delete_on_success: false,
                delete_on_failure: false,
            }];
        }
        let interrupt = next.interrupt.clone();
        let on_event = move |e: engine::Event| {
            let now = if with_hook {
                matches!(e, engine::Event::HookStarted { .. })
            } else {
                matches!(e, engine::Event::Planned(_))
            };
            if now {
                interrupt.cancel();
            }
        };
        let err = engine::deploy(env.cluster.clone(), next, &on_event)
            .await
            .unwrap_err();
        assert!(matches!(err, DeployError::Interrupted { .. }), "{err:?}");
        assert_eq!(image_of(&env.cluster).await, "registry.example.com/api:1");
        let last = engine::history(&env.cluster, "shop", "prod", "default")
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            (last.revision, last.status),
            (revision, ReleaseStatus::Failed)
        );
        assert!(last.outcome.starts_with("interrupted"), "{}", last.outcome);
    }
    // The lock is free: the next deploy goes ahead.
    let outcome = engine::deploy(
        env.cluster.clone(),
        input(vec![deployment("registry.example.com/api:2", "ready")]),
        &report,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, Outcome::Deployed { revision: 4 }),
        "{outcome:?}"
    );
    env.sandbox.shutdown().await;
}

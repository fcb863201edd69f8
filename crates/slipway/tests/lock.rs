//! The deploy lock through the real binary, on a small project deployed to its sandbox:
//! two deploys of one environment at once (one proceeds, the other stops with the lock's
//! exit code naming the holder, or waits with `--wait-lock` and then deploys), and a
//! deploy killed with SIGKILL in the middle of a rollout, whose lease the next deploy
//! takes over at once — its process is gone from this machine — concluding the release
//! it left pending (a lease of another machine is taken over once it expires, see the
//! engine's tests); a deploy
//! interrupted with SIGINT or SIGTERM, which restores the previous release and frees the
//! lock before it exits.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::sandbox::{DevProject as Project, image};
use common::{SERIAL, text};

/// Exit code of a deploy stopped by another deploy's lock (`src/exit.rs`).
const LOCKED: i32 = 6;

impl Project {
    /// Starts `slipway deploy dev --image api=<image>` with `extra` flags.
    fn spawn_deploy(&self, image: &str, extra: &[&str]) -> Child {
        let pin = format!("api={image}");
        let mut args = vec!["deploy", "dev", "--image", &pin];
        args.extend_from_slice(extra);
        self.command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the slipway binary starts")
    }

    fn lease_holder(&self) -> String {
        self.kubectl_get(&["lease", "slipway-lock-shop"], "{.spec.holderIdentity}")
    }

    /// The releases as `slipway history dev -o json` prints them, oldest first.
    fn history(&self) -> Vec<serde_json::Value> {
        let (code, out, err) = text(&self.slipway(&["history", "dev", "-o", "json"]));
        assert_eq!(code, 0, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut releases = doc["namespaces"][0]["releases"].as_array().unwrap().clone();
        releases.reverse();
        releases
    }

    /// Checks that the cluster runs `image` on both ready replicas of the Deployment, with
    /// pods that behave as `behavior`.
    fn assert_running(&self, image: &str, behavior: &str) {
        let get = |path: &str| self.kubectl_get(&["deployment", "api"], path);
        assert_eq!(get("{.spec.template.spec.containers[0].image}"), image);
        assert_eq!(
            get("{.spec.template.metadata.annotations.dev\\.slipway\\.sandbox/behavior}"),
            behavior
        );
        assert_eq!(
            get("{.status.replicas}/{.status.updatedReplicas}/{.status.readyReplicas}"),
            "2/2/2"
        );
        assert_eq!(
            get("{.metadata.generation}"),
            get("{.status.observedGeneration}")
        );
    }
}

/// The lock holder's identity of the deploy with process id `pid` on this machine.
fn holder(pid: u32) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    format!("tester@ci/{pid}@{}", host.trim())
}

/// Waits until `check` holds, for at most `limit`.
fn wait_for(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn first_release(p: &Project) {
    let (code, _, err) =
        text(&p.slipway(&["deploy", "dev", "--image", &format!("api={}", image(1))]));
    assert_eq!(code, 0, "{err}");
    p.assert_running(&image(1), "ready");
}

#[test]
fn concurrent_deploys_one_proceeds_the_other_stops_or_waits() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("\x20   timeout: 2m\n\x20   settle: 0s\n");
    first_release(&p);
    // Each rollout takes eight seconds: long enough for the two deploys to overlap.
    p.set_behavior("slow-start=8s");

    // Started together: exactly one takes the lock; the other stops at once and names
    // the deploy that holds it.
    let a = p.spawn_deploy(&image(2), &[]);
    let b = p.spawn_deploy(&image(3), &[]);
    let (a_pid, b_pid) = (a.id(), b.id());
    let a = text(&a.wait_with_output().unwrap());
    let b = text(&b.wait_with_output().unwrap());
    let ((winner, winner_pid, winner_image), (loser, _, _)) = match (a.0, b.0) {
        (0, LOCKED) => ((&a, a_pid, image(2)), (&b, b_pid, image(3))),
        (LOCKED, 0) => ((&b, b_pid, image(3)), (&a, a_pid, image(2))),
        codes => panic!(
            "expected exit codes 0 and {LOCKED}, got {codes:?}\n--- a\n{}\n--- b\n{}",
            a.2, b.2
        ),
    };
    assert!(
        loser.2.contains(&format!(
            "error: another deploy holds the lock of `shop` in `shop-dev`: `{}`",
            holder(winner_pid)
        )),
        "{}",
        loser.2
    );
    assert!(loser.2.contains("--wait-lock"), "{}", loser.2);
    assert!(
        winner.2.contains("revision 2 is live in `shop-dev`"),
        "{}",
        winner.2
    );
    p.assert_running(&winner_image, "slow-start=8s");
    // The stopped deploy recorded nothing and left the lock free.
    let history = p.history();
    let revisions: Vec<_> = history
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        revisions,
        [(1, "superseded".into()), (2, "deployed".into())]
    );
    assert_eq!(history[1]["images"][0]["reference"], winner_image.as_str());
    assert_eq!(p.lease_holder(), "");

    // With `--wait-lock`, the second deploy waits for the first and then deploys.
    let first = p.spawn_deploy(&image(4), &[]);
    let first_holder = holder(first.id());
    wait_for(
        Duration::from_secs(30),
        "the first deploy to take the lock",
        || p.lease_holder() == first_holder,
    );
    let second = p.spawn_deploy(&image(5), &["--wait-lock", "2m"]);
    let first = text(&first.wait_with_output().unwrap());
    let second = text(&second.wait_with_output().unwrap());
    assert_eq!(first.0, 0, "{}", first.2);
    assert_eq!(second.0, 0, "{}", second.2);
    assert!(first.2.contains("revision 3 is live"), "{}", first.2);
    assert!(second.2.contains("revision 4 is live"), "{}", second.2);
    p.assert_running(&image(5), "slow-start=8s");
    let history = p.history();
    let got: Vec<_> = history[2..]
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["images"][0]["reference"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("superseded".into(), image(4)),
            ("deployed".into(), image(5))
        ]
    );
    assert_eq!(p.lease_holder(), "");
}

#[test]
fn deploy_killed_mid_rollout_leaves_a_lease_the_next_deploy_takes_over_at_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("\x20   timeout: 2m\n\x20   settle: 0s\n");
    first_release(&p);

    // A rollout that takes a minute, killed with SIGKILL once its Deployment is applied.
    p.set_behavior("slow-start=60s");
    let mut killed = p.spawn_deploy(&image(2), &["-o", "json"]);
    let killed_holder = holder(killed.id());
    let stdout = killed.stdout.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push(line);
        if event["event"] == "progress" && event["workload"] == "deployment/api" {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("\"object\":\"Deployment/api\"")),
        "{seen:#?}"
    );
    killed.kill().unwrap();
    let status = killed.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");

    // It left its lease, its pending record and its half-done rollout.
    assert_eq!(p.lease_holder(), killed_holder);
    let history = p.history();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["status"], "pending");
    assert_eq!(
        p.kubectl_get(
            &["deployment", "api"],
            "{.spec.template.spec.containers[0].image}"
        ),
        image(2)
    );

    // The lease is still live, but its holder was a process of this machine that no
    // longer exists: the next deploy, started at once and without `--wait-lock`, takes
    // the lock over immediately, says so, concludes the pending release and converges.
    p.set_behavior("ready");
    let started = Instant::now();
    let (code, _, err) =
        text(&p.slipway(&["deploy", "dev", "--image", &format!("api={}", image(3))]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "lock taken over from `{killed_holder}` at once: its process no longer runs on this machine"
        )),
        "{err}"
    );
    assert!(
        err.contains("revision 2 was left pending by an interrupted deploy: marked failed"),
        "{err}"
    );
    assert!(err.contains("revision 3 is live in `shop-dev`"), "{err}");
    // Not held up by the 30 s the lease had left (the rollout takes a few seconds; the
    // project has no settle window).
    assert!(
        started.elapsed() < Duration::from_secs(28),
        "{:?}",
        started.elapsed()
    );
    p.assert_running(&image(3), "ready");
    assert_eq!(p.lease_holder(), "");
    let history = p.history();
    let statuses: Vec<_> = history
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["superseded", "failed", "deployed"]);
    assert!(
        history[1]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{}",
        history[1]["outcome"]
    );
    assert!(history[1]["finished"].is_string(), "{}", history[1]);
    assert_eq!(history[2]["images"][0]["reference"], image(3).as_str());
}

/// Starts a deploy of `image` and returns it once its Deployment is applied and being
/// tracked.
fn deploy_under_way(p: &Project, image: &str) -> Child {
    let mut child = p.spawn_deploy(image, &["-o", "json"]);
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "progress" && event["workload"] == "deployment/api" {
            break;
        }
    }
    // Keep reading, so that the deploy never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

#[test]
fn interrupted_deploy_restores_the_previous_release_and_frees_the_lock() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new("\x20   timeout: 2m\n\x20   settle: 0s\n");
    first_release(&p);

    // Ctrl-C (SIGINT) and a CI job's cancellation (SIGTERM) in the middle of a rollout
    // that would take a minute.
    p.set_behavior("slow-start=60s");
    for (revision, name) in [(2, "INT"), (3, "TERM")] {
        let child = deploy_under_way(&p, &image(revision));
        signal(&child, name);
        let (code, _, err) = text(&child.wait_with_output().unwrap());
        assert_eq!(code, 130, "SIG{name}: {err}");
        assert!(
            err.contains(&format!(
                "interrupted: revision {revision} was stopped in `shop-dev` and revision 1 restored"
            )),
            "SIG{name}: {err}"
        );
        p.assert_running(&image(1), "ready");
        assert_eq!(p.lease_holder(), "", "SIG{name}: the lock is free");
        let last = p.history().pop().unwrap();
        assert_eq!(last["revision"], revision);
        assert_eq!(last["status"], "rolled-back", "{last}");
        assert!(
            last["outcome"].as_str().unwrap().contains("Interrupted"),
            "{last}"
        );
    }

    // Nothing is left to wait for: the next deploy starts at once.
    p.set_behavior("ready");
    let (code, _, err) =
        text(&p.slipway(&["deploy", "dev", "--image", &format!("api={}", image(4))]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("revision 4 is live in `shop-dev`"), "{err}");
}

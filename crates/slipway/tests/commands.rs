//! What the commands answer, through the real binary against the project's sandbox:
//! a deploy whose reader goes away still finishes its release; `dirty: refuse` holds
//! for every deploy from a working tree; `status` shows failed and interrupted
//! releases; `diff` shows old and new values, Secrets as hashes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

mod common;

use common::sandbox::{
    self, DevProject as Project, image, kubectl_get, write_deployment, write_project,
};
use common::{SERIAL, text};

impl Project {
    /// With a rollout timeout of two minutes, no settle window (no test here is about it)
    /// and `extra_policy` under `dev:`.
    fn with_timeout(extra_policy: &str) -> Project {
        Project::new(&format!(
            "\x20   timeout: 2m\n\x20   settle: 0s\n{extra_policy}"
        ))
    }

    fn deploy(&self, n: u32) -> (i32, String, String) {
        text(&self.slipway(&["deploy", "dev", "--image", &format!("api={}", image(n))]))
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

    fn git(&self, args: &[&str]) {
        common::git(self.path(), args);
    }
}

#[test]
fn a_deploy_whose_standard_output_is_closed_still_finishes_and_records_its_release() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::with_timeout("");
    let (code, _, err) = p.deploy(1);
    assert_eq!(code, 0, "{err}");

    // The reader takes the first JSON line and goes away; the release goes on.
    let out = closed_pipe(&p, &format!("deploy dev -o json --image api={}", image(2)));
    let (code, _, err) = text(&out);
    assert_eq!(code, 0, "the exit code is the release's: {err}");
    assert!(err.contains("revision 2 is live in `shop-dev`"), "{err}");

    assert_eq!(
        p.kubectl_get(
            &["deployment", "api"],
            "{.spec.template.spec.containers[0].image}"
        ),
        image(2)
    );
    let history = p.history();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[1]["status"], "deployed", "{history:?}");
    assert_eq!(history[0]["status"], "superseded", "{history:?}");
    assert_eq!(p.lease_holder(), "", "the lock is free");

    // Standard error closed too (`2>&1 | head -1`): the same.
    let out = closed_pipe(&p, &format!("deploy dev --image api={} 2>&1", image(3)));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let history = p.history();
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(history[2]["status"], "deployed", "{history:?}");
    assert_eq!(p.lease_holder(), "", "the lock is free");
}

/// Runs `slipway <args>` (shell words) piped into `head -1`, which reads one line and
/// goes away; the exit code is slipway's.
fn closed_pipe(p: &Project, args: &str) -> Output {
    let script = format!("\"$SLIPWAY\" {args} | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}");
    Command::new("bash")
        .args(["-c", &script])
        .current_dir(p.path())
        .env("SLIPWAY", env!("CARGO_BIN_EXE_slipway"))
        .env("SLIPWAY_USER", "tester@ci")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Starts `slipway deploy dev -o json --image api=<image>` and returns it once its
/// Deployment is applied and being tracked.
fn deploy_under_way(p: &Project, image: &str) -> Child {
    let pin = format!("api={image}");
    let mut child = p
        .command(&["deploy", "dev", "-o", "json", "--image", &pin])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the slipway binary starts");
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

#[test]
fn status_shows_an_interrupted_first_release_and_what_runs() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::with_timeout("");
    write_deployment(p.path(), "slow-start=60s");

    // Ctrl-C during the first release: there is nothing to restore, and it says so.
    let child = deploy_under_way(&p, &image(1));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, _, err) = text(&child.wait_with_output().unwrap());
    assert_eq!(code, 130, "{err}");
    assert!(!err.contains("restoring the previous one"), "{err}");
    assert!(err.contains("no previous release to restore"), "{err}");

    // `status` shows the failed revision, why, and the Deployment it left running.
    let (code, out, err) = text(&p.slipway(&["status", "dev"]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("no release yet"), "{out}");
    assert!(
        out.contains("no deployed release; showing revision 1 (failed)"),
        "{out}"
    );
    assert!(out.contains("deployment/api"), "{out}");
    assert!(out.contains("/2 ready"), "{out}");
    assert!(out.contains(&image(1)), "{out}");
    assert!(out.contains("1  failed"), "{out}");
    assert!(out.contains("Interrupted: stopped by Ctrl-C"), "{out}");

    // A deploy killed outright leaves its revision pending: `status` says so.
    let mut killed = deploy_under_way(&p, &image(2));
    killed.kill().unwrap();
    killed.wait().unwrap();
    let (code, out, err) = text(&p.slipway(&["status", "dev", "-o", "json"]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ns = &doc["namespaces"][0];
    assert_eq!(ns["release"], serde_json::Value::Null, "{ns}");
    assert_eq!(ns["showing"], 2, "{ns}");
    let statuses: Vec<(u64, String)> = ns["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [(2, "pending".to_string()), (1, "failed".to_string())]
    );
    assert_eq!(ns["workloads"][0]["workload"], "deployment/api", "{ns}");
    let (_, out, _) = text(&p.slipway(&["status", "dev"]));
    assert!(out.contains("2  pending"), "{out}");
}

#[test]
fn dirty_refuse_stops_every_deploy_from_a_dirty_tree_and_the_record_says_dirty() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::with_timeout(
        "\x20   dirty: refuse\n\
         \x20 prod:\n\
         \x20   cluster: sandbox\n\
         \x20   namespace: shop-prod\n\
         \x20   promote-from: dev\n\
         \x20   dirty: refuse\n",
    );
    p.git(&["init", "-q", "-b", "main"]);
    p.git(&["add", "."]);
    p.git(&["commit", "-q", "-m", "shop"]);
    std::fs::write(p.path().join("notes.txt"), "not committed\n").unwrap();

    // No `--build`: the policy holds all the same, before anything is started.
    let (code, _, err) = p.deploy(1);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`dirty: refuse`"), "{err}");
    assert!(
        err.contains("`environments.dev.dirty` in `slipway.yaml`"),
        "{err}"
    );
    assert!(err.contains("`notes.txt`"), "{err}");
    assert!(
        !p.kubeconfig().exists(),
        "nothing was started, nothing written"
    );

    // A dry run writes nothing: it says the deploy would be refused.
    let (code, _, err) =
        text(&p.slipway(&["diff", "dev", "--image", &format!("api={}", image(1))]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would be refused"), "{err}");

    p.git(&["add", "."]);
    p.git(&["commit", "-q", "-m", "notes"]);
    let (code, _, err) = p.deploy(1);
    assert_eq!(code, 0, "{err}");

    // A promotion renders this working tree's manifests: the policy holds for it too.
    std::fs::write(p.path().join("notes.txt"), "changed\n").unwrap();
    let (code, _, err) = text(&p.slipway(&["promote", "prod", "--yes"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`environments.prod.dirty`"), "{err}");
    let prod = kubectl_get(
        &p.kubeconfig(),
        "shop-prod",
        &["deployments"],
        "{.items[*].metadata.name}",
    );
    assert_eq!(
        String::from_utf8_lossy(&prod.stdout),
        "",
        "nothing promoted"
    );
    p.git(&["checkout", "--", "notes.txt"]);

    // Under `warn` a dirty deploy goes on, says so, and is recorded as dirty.
    let config = std::fs::read_to_string(p.path().join("slipway.yaml")).unwrap();
    std::fs::write(
        p.path().join("slipway.yaml"),
        config.replace("dirty: refuse", "dirty: warn"),
    )
    .unwrap();
    let (code, _, err) = p.deploy(2);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("uncommitted changes (`slipway.yaml`)"),
        "{err}"
    );
    let history = p.history();
    assert_eq!(history[0]["git_dirty"], false, "{history:?}");
    assert!(history[0]["git_commit"].is_string(), "{history:?}");
    assert_eq!(history[1]["git_dirty"], true, "{history:?}");
    let (code, out, err) = text(&p.slipway(&["history", "dev"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("+dirty"), "{out}");

    // `history` names the revision a rollback restored.
    let (code, _, err) = text(&p.slipway(&["rollback", "dev"]));
    assert_eq!(code, 0, "{err}");
    let history = p.history();
    assert_eq!(history[2]["action"], "rollback", "{history:?}");
    assert_eq!(history[2]["source_revision"], 1, "{history:?}");
    let (_, out, _) = text(&p.slipway(&["history", "dev"]));
    assert!(out.contains("rollback to 1"), "{out}");
}

/// Writes `k8s/token.yaml`: the Secret `api-token` holding `token`.
fn write_secret(p: &Project, token: &str) {
    std::fs::write(
        p.path().join("k8s/token.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-token\ntype: Opaque\nstringData:\n  token: {token}\n"
        ),
    )
    .unwrap();
}

#[test]
fn diff_shows_old_and_new_values_and_a_secrets_values_only_as_hashes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::with_timeout("");
    write_secret(&p, "first-s3cret-value");
    let (code, _, err) = p.deploy(1);
    assert_eq!(code, 0, "{err}");
    write_secret(&p, "second-s3cret-value");
    let pin = format!("api={}", image(2));

    let (code, out, err) = text(&p.slipway(&["diff", "dev", "--image", &pin]));
    assert_eq!(code, 0, "{err}");
    let image_line = format!(
        "      spec.template.spec.containers[0].image: \"{}\" → \"{}\"",
        image(1),
        image(2)
    );
    assert!(err.contains("  ~ Deployment/api\n"), "{err}");
    assert!(err.lines().any(|l| l == image_line), "{err}");
    assert!(err.contains("  ~ Secret/api-token\n"), "{err}");
    let token = err
        .lines()
        .find(|l| {
            l.trim_start().starts_with("data.token:")
                || l.trim_start().starts_with("stringData.token:")
        })
        .unwrap_or_else(|| panic!("the Secret's changed key is named: {err}"));
    assert!(token.contains("<redacted sha256:"), "{token}");
    let (old, new) = token.split_once(" → ").unwrap();
    assert_ne!(old.rsplit(':').next(), new.rsplit(':').next(), "{token}");

    // `--compact`: the fields' names only.
    let (code, _, compact) = text(&p.slipway(&["diff", "dev", "--compact", "--image", &pin]));
    assert_eq!(code, 0, "{compact}");
    assert!(
        compact.contains("  ~ Deployment/api (spec.template.spec.containers[0].image)"),
        "{compact}"
    );
    assert!(!compact.contains('→'), "{compact}");

    // `-o json`: the plan with its values on standard output, not repeated on standard
    // error.
    let (code, json, json_err) = text(&p.slipway(&["diff", "dev", "-o", "json", "--image", &pin]));
    assert_eq!(code, 0, "{json_err}");
    assert!(!json_err.contains("~ Deployment/api"), "{json_err}");
    let done: serde_json::Value = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "done")
        .expect("a done event");
    let api = done["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"] == "Deployment/api")
        .unwrap()
        .clone();
    let change = &api["changes"][0];
    assert_eq!(
        change["field"], "spec.template.spec.containers[0].image",
        "{api}"
    );
    assert_eq!(change["old"], image(1).as_str(), "{api}");
    assert_eq!(change["new"], image(2).as_str(), "{api}");

    // No value of the Secret, plain or in base64, anywhere.
    let seen = format!("{out}{err}{compact}{json}{json_err}");
    for secret in ["first-s3cret-value", "second-s3cret-value"] {
        assert!(!seen.contains(secret), "{seen}");
        assert!(!seen.contains(&base64(secret)), "{seen}");
    }
}

/// `text` in base64, as the `base64` tool writes it.
fn base64(text: &str) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn each_configuration_file_keeps_its_own_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    write_project(
        dir.path(),
        "\x20 dev:\n\
         \x20   cluster: sandbox\n\
         \x20   namespace: shop-dev\n",
        "ready",
    );
    let config = std::fs::read_to_string(dir.path().join("slipway.yaml")).unwrap();
    std::fs::write(
        dir.path().join("other.yaml"),
        config.replace("shop/api", "other/api"),
    )
    .unwrap();
    common::git(dir.path(), &["init", "-q", "-b", "main"]);
    common::git(dir.path(), &["add", "."]);
    common::git(dir.path(), &["commit", "-q", "-m", "shop"]);
    let build = |args: &[&str]| {
        let (code, _, err) = text(&sandbox::run(dir.path(), args));
        assert_eq!(code, 0, "{args:?}: {err}");
        err
    };
    let artifacts = |name: &str| {
        std::fs::read_to_string(dir.path().join(".slipway").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };

    let err = build(&["-f", "other.yaml", "build", "--no-push"]);
    assert!(
        err.contains("wrote `.slipway/artifacts.other.json`"),
        "{err}"
    );
    assert!(artifacts("artifacts.other.json").contains("registry.example.com/other/api:"));
    assert!(!dir.path().join(".slipway/artifacts.json").exists());

    build(&["build", "--no-push"]);
    assert!(artifacts("artifacts.json").contains("registry.example.com/shop/api:"));
    assert!(!artifacts("artifacts.json").contains("other/api"));
    assert!(!artifacts("artifacts.other.json").contains("shop/api"));

    // `render` takes the images of its own file's builds.
    let (code, out, err) = text(&sandbox::run(
        dir.path(),
        &["-f", "other.yaml", "render", "dev"],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("image: registry.example.com/other/api:"),
        "{out}"
    );
}

#[test]
fn status_columns_line_up_whatever_the_workload_names() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::with_timeout("");
    let api = std::fs::read_to_string(p.path().join("k8s/api.yaml")).unwrap();
    std::fs::write(
        p.path().join("k8s/worker.yaml"),
        api.replace("name: api\n", "name: payments-reconciliation-worker\n")
            .replace("app: api", "app: payments-reconciliation-worker"),
    )
    .unwrap();
    let (code, _, err) = p.deploy(1);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = text(&p.slipway(&["status", "dev"]));
    assert_eq!(code, 0, "{err}");
    let columns: Vec<usize> = out
        .lines()
        .filter(|l| l.starts_with("  deployment/"))
        .map(|l| l.find(" ready").unwrap())
        .collect();
    assert_eq!(columns.len(), 2, "{out}");
    assert_eq!(columns[0], columns[1], "the ready columns line up:\n{out}");
}

//! The deploy stories slipway exists for, end to end through the real binary, with the
//! native builder, the sandbox's registry and the sandbox as cluster, judged by the real
//! `kubectl`:
//!
//! - two services built from two branches (one never checked out), tagged with time and
//!   commit, released to the two namespaces of one environment with no moment without a
//!   ready endpoint, and the repository left as it was;
//! - a migration that gates the rollout; a configuration change that rolls exactly the
//!   workloads that use it; a hotfix of one service kept by the next full deploy.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Project, SERIAL, demo, free_port, git, slipway, text};

fn out_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    out_of(&out).trim().to_string()
}

/// A repository whose `main` holds the configuration and manifests, while the api and the
/// web front end are developed on branches of their own.
fn two_branch_project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let port = free_port();
    git(root, &["init", "-q", "-b", "main"]);
    fs::create_dir_all(root.join("deploy")).unwrap();
    fs::write(
        root.join("slipway.yaml"),
        format!(
            "app: shop
registry: 127.0.0.1:{port}/shop
images:
  api:
    git-ref: backend-dev
    files:
      base: scratch
      copy: [{{ src: api/app.txt, dest: /app/app.txt }}]
      entrypoint: [/app/api]
      expose: [8080]
  web:
    git-ref: frontend-dev
    files:
      base: scratch
      copy: [{{ src: web/index.html, dest: /srv/index.html }}]
      entrypoint: [/srv/server]
      expose: [8080]
manifests: deploy
environments:
  main:
    cluster: sandbox
    namespaces: [uat, prod]
"
        ),
    )
    .unwrap();
    fs::write(
        root.join("deploy/kustomization.yaml"),
        "resources: [api.yaml, web.yaml]\n",
    )
    .unwrap();
    for name in ["api", "web"] {
        fs::write(
            root.join(format!("deploy/{name}.yaml")),
            format!(
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{ app: {name} }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{ maxUnavailable: 0, maxSurge: 1 }}
  template:
    metadata:
      labels: {{ app: {name} }}
      annotations:
        dev.slipway.sandbox/behavior: slow-start=2s
    spec:
      securityContext: {{ runAsNonRoot: true, runAsUser: 65532 }}
      containers:
        - name: {name}
          image: {name}
          ports: [{{ name: http, containerPort: 8080 }}]
          readinessProbe:
            httpGet: {{ path: /, port: http }}
            periodSeconds: 1
          resources:
            requests: {{ cpu: 10m, memory: 16Mi }}
            limits: {{ memory: 64Mi }}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{ app: {name} }}
  ports: [{{ name: http, port: 80, targetPort: http }}]
"
            ),
        )
        .unwrap();
    }
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "configuration and manifests"]);
    for (branch, dir, file) in [
        ("backend-dev", "api", "app.txt"),
        ("frontend-dev", "web", "index.html"),
    ] {
        git(root, &["checkout", "-q", "-b", branch]);
        fs::create_dir_all(root.join(dir)).unwrap();
        fs::write(root.join(dir).join(file), format!("{dir} v1\n")).unwrap();
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", &format!("{dir} v1")]);
        git(root, &["checkout", "-q", "main"]);
    }
    Project { dir }
}

/// Commits a new version of a file on `branch` without checking it out, as another
/// developer pushing to that branch would.
fn commit_on_branch(root: &Path, branch: &str, path: &str, content: &str) {
    let blob = {
        let mut child = Command::new("git")
            .args(["hash-object", "-w", "--stdin"])
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        out_of(&child.wait_with_output().unwrap())
            .trim()
            .to_string()
    };
    let index = root.join(".git/story-index");
    let env_index = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(root)
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        out_of(&out).trim().to_string()
    };
    env_index(&["read-tree", branch]);
    env_index(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{blob},{path}"),
    ]);
    let tree = env_index(&["write-tree"]);
    let commit = Command::new("git")
        .args(["commit-tree", &tree, "-p", branch, "-m", "next version"])
        .current_dir(root)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    let commit = out_of(&commit).trim().to_string();
    git(
        root,
        &["update-ref", &format!("refs/heads/{branch}"), &commit],
    );
    let _ = fs::remove_file(index);
}

/// Follows the ready addresses of a Service's Endpoints with `kubectl get -w`, one line
/// per change, until stopped.
struct EndpointWatch {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl EndpointWatch {
    fn start(p: &Project, ns: &str, service: &str) -> EndpointWatch {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(p.kubeconfig())
            .args([
                "-n",
                ns,
                "get",
                "endpoints",
                service,
                "--watch",
                "-o",
                "jsonpath={.subsets[*].addresses[*].targetRef.name}{\"\\n\"}",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The first line is the state when the watch starts.
        let first = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("kubectl prints the endpoints");
        let (tx2, rx2) = mpsc::channel();
        tx2.send(first).unwrap();
        std::thread::spawn(move || {
            for l in lines {
                if tx2.send(l).is_err() {
                    break;
                }
            }
        });
        EndpointWatch { child, lines: rx2 }
    }

    /// Every state seen, in order.
    fn stop(mut self) -> Vec<String> {
        // Let the last change arrive.
        std::thread::sleep(Duration::from_millis(500));
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines.try_iter().collect()
    }
}

#[test]
fn two_branches_two_namespaces_no_downtime_and_the_repository_untouched() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = two_branch_project();
    let root = p.path();
    let before = (
        git_out(root, &["rev-parse", "HEAD"]),
        git_out(root, &["branch", "--show-current"]),
    );

    let (code, _, err) = text(&slipway(root, &["deploy", "main", "--build"]));
    assert_eq!(code, 0, "{err}");
    for ns in ["uat", "prod"] {
        assert!(
            err.contains(&format!("revision 1 is live in `{ns}`")),
            "{err}"
        );
    }
    // Each image is tagged with the build time and the commit of its own branch.
    let images = |ns: &str, name: &str| {
        out_of(&p.kubectl(&[
            "-n",
            ns,
            "get",
            "deployment",
            name,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ]))
    };
    for (name, branch) in [("api", "backend-dev"), ("web", "frontend-dev")] {
        let sha = git_out(root, &["rev-parse", "--short=7", branch]);
        let image = images("uat", name);
        let tag = image
            .rsplit_once(':')
            .map(|(rest, _)| rest.rsplit_once(':').unwrap().1)
            .unwrap()
            .trim_end_matches("@sha256");
        assert!(
            tag.len() == 23
                && tag[..8].bytes().all(|b| b.is_ascii_digit())
                && tag.as_bytes()[8] == b'-'
                && tag[9..15].bytes().all(|b| b.is_ascii_digit())
                && tag.ends_with(&format!("-{sha}")),
            "{name}: {image}"
        );
        assert!(image.contains("@sha256:"), "{image}");
        assert_eq!(images("prod", name), image, "both namespaces run one build");
    }

    // New commits on both branches; the next release rolls both services while the
    // Endpoints of each always keep a ready address (maxUnavailable 0, maxSurge 1).
    commit_on_branch(root, "backend-dev", "api/app.txt", "api v2\n");
    commit_on_branch(root, "frontend-dev", "web/index.html", "web v2\n");
    let watches: Vec<(&str, &str, EndpointWatch)> = [("uat", "api"), ("prod", "web")]
        .into_iter()
        .map(|(ns, svc)| (ns, svc, EndpointWatch::start(&p, ns, svc)))
        .collect();
    let old_api = images("uat", "api");
    let (code, _, err) = text(&slipway(root, &["deploy", "main", "--build"]));
    assert_eq!(code, 0, "{err}");
    assert_ne!(images("uat", "api"), old_api, "the api rolled");
    for (ns, svc, watch) in watches {
        let seen = watch.stop();
        assert!(
            seen.iter().all(|l| !l.trim().is_empty()),
            "{ns}/{svc} had a moment without a ready endpoint: {seen:?}"
        );
        let first = seen.first().cloned().unwrap_or_default();
        let last = seen.last().cloned().unwrap_or_default();
        assert_ne!(
            first, last,
            "{ns}/{svc}: the pod behind it changed: {seen:?}"
        );
    }

    // The repository is as it was: same commit and branch, no worktree, nothing changed.
    assert_eq!(
        (
            git_out(root, &["rev-parse", "HEAD"]),
            git_out(root, &["branch", "--show-current"]),
        ),
        before
    );
    assert_eq!(git_out(root, &["status", "--porcelain"]), "");
    assert_eq!(git_out(root, &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn migration_gates_config_rolls_its_users_and_a_hotfix_is_kept() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = demo();
    let root = p.path();
    let (code, _, err) = text(&slipway(root, &["deploy", "dev", "--build"]));
    assert_eq!(code, 0, "{err}");
    let get = |kind: &str, name: &str, path: &str| {
        out_of(&p.kubectl(&[
            "-n",
            "demo-dev",
            "get",
            kind,
            name,
            "-o",
            &format!("jsonpath={{{path}}}"),
        ]))
    };
    let image = |name: &str| {
        get(
            "deployment",
            name,
            ".spec.template.spec.containers[0].image",
        )
    };
    let generation = |name: &str| get("deployment", name, ".metadata.generation");
    let first: Vec<String> = ["api", "worker", "web"].iter().map(|n| image(n)).collect();

    // A migration that fails: nothing else changes, every workload keeps its image.
    let job = root.join("deploy/migrate-job.yaml");
    let original = fs::read_to_string(&job).unwrap();
    fs::write(&job, original.replace("complete-after=2s", "exit=3")).unwrap();
    fs::write(
        root.join("services/api/app.txt"),
        "api, a version whose migration fails\n",
    )
    .unwrap();
    let (code, _, err) = text(&slipway(root, &["deploy", "dev", "--build"]));
    assert_eq!(code, 9, "{err}");
    assert!(err.contains("hook `migrate` failed"), "{err}");
    let now: Vec<String> = ["api", "worker", "web"].iter().map(|n| image(n)).collect();
    assert_eq!(now, first, "a failed migration changes no workload");
    fs::write(&job, original).unwrap();
    git(root, &["checkout", "-q", "--", "services/api/app.txt"]);

    // A hotfix of the api: the image of the current release under another tag.
    let api = image("api");
    let (repo_tag, digest) = api.split_once('@').unwrap();
    // skopeo names a source by tag or by digest, not both.
    let repo = repo_tag.rsplit_once(':').unwrap().0;
    let copy = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{repo}@{digest}"),
            &format!("docker://{repo}:hotfix-1"),
        ])
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let hotfix = format!("{repo}:hotfix-1@{digest}");
    let (code, _, err) = text(&slipway(
        root,
        &["deploy", "dev", "--image", &format!("api={hotfix}")],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(image("api"), hotfix);

    // A configuration change, deployed in full: the api and the worker use the
    // configuration and roll; the web front end does not and keeps its pods. (Pods of
    // an earlier rollout that are still terminating do not count.)
    let pods_of = |app: &str| {
        let listed = out_of(&p.kubectl(&[
            "-n",
            "demo-dev",
            "get",
            "pods",
            "-l",
            &format!("app.kubernetes.io/name={app}"),
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.metadata.deletionTimestamp} {end}",
        ]));
        listed
            .split_whitespace()
            .filter_map(|p| p.strip_suffix('='))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let web_pods = pods_of("web");
    assert!(!web_pods.is_empty());
    let generations: Vec<String> = ["api", "worker", "web"]
        .iter()
        .map(|n| generation(n))
        .collect();
    let env_file = root.join("config/app.env");
    let config = fs::read_to_string(&env_file).unwrap();
    fs::write(
        &env_file,
        config.replace("LOG_LEVEL=info", "LOG_LEVEL=debug"),
    )
    .unwrap();
    let (code, _, err) = text(&slipway(root, &["deploy", "dev"]));
    assert_eq!(code, 0, "{err}");
    let after: Vec<String> = ["api", "worker", "web"]
        .iter()
        .map(|n| generation(n))
        .collect();
    for (i, name) in ["api", "worker"].iter().enumerate() {
        assert_ne!(
            after[i], generations[i],
            "{name} uses the configuration and rolls"
        );
    }
    assert_eq!(after[2], generations[2], "web does not use it and stays");
    assert_eq!(pods_of("web"), web_pods, "web keeps its pods");
    let config_ref = get(
        "deployment",
        "api",
        ".spec.template.spec.containers[0].envFrom[0].configMapRef.name",
    );
    let data = get("configmap", &config_ref, ".data.LOG_LEVEL");
    assert_eq!(data, "debug");
    // The full deploy kept the hotfix: nothing newer was built for the api.
    assert_eq!(image("api"), hotfix);
    let (_, out, _) = text(&slipway(root, &["history", "dev", "-o", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let newest = &doc["namespaces"][0]["releases"][0];
    let api_image = newest["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "api")
        .unwrap();
    assert_eq!(api_image["reference"], hotfix.as_str());

    // The sandbox keeps its state: stopped and started again by the next command, it
    // still has the releases, and the workloads run the same images.
    let pid = fs::read_to_string(root.join(".slipway/sandbox/pid")).unwrap();
    let killed = Command::new("kill").arg(pid.trim()).status().unwrap();
    assert!(killed.success());
    let (code, out, err) = text(&slipway(root, &["history", "dev", "-o", "json"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("started the sandbox cluster"), "{err}");
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        again["namespaces"][0]["releases"],
        doc["namespaces"][0]["releases"]
    );
    assert_eq!(image("api"), hotfix);

    // A rolling restart of one workload: new pods for web, a revision of its own, and the
    // images of the current release (the hotfix included).
    let web_before = pods_of("web");
    let (code, _, err) = text(&slipway(root, &["restart", "dev", "web"]));
    assert_eq!(code, 0, "{err}");
    assert_ne!(pods_of("web"), web_before, "web's pods were replaced");
    assert_eq!(image("api"), hotfix);
    let (_, out, _) = text(&slipway(root, &["history", "dev", "-o", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let newest = &doc["namespaces"][0]["releases"][0];
    assert_eq!(newest["action"], "restart");
    assert_eq!(newest["status"], "deployed");
}

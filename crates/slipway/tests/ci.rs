//! What a pipeline shows of slipway, for each CI system, with the runner's variables set
//! by the test: annotations at the right file and line, groups per phase, outputs for
//! later steps (with digests), the job summary of a rolled-back release, and the
//! provenance every applied object carries.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::sandbox::{self, DevProject};

/// The variables of every runner, removed so that the test chooses the one it speaks.
const RUNNER_VARS: &[&str] = &[
    "SLIPWAY_CI",
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_WORKFLOW",
    "GITHUB_JOB",
    "TF_BUILD",
    "BUILD_BUILDID",
    "AGENT_TEMPDIRECTORY",
    "GITLAB_CI",
    "CI_JOB_URL",
    "CI_PIPELINE_URL",
    "CI_JOB_NAME",
    "CI_PROJECT_URL",
];

/// slipway in `dir` with only `vars` of the runners' variables set.
fn run(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c: Command = sandbox::command(dir, args);
    for v in RUNNER_VARS {
        c.env_remove(v);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("slipway runs")
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A Deployment whose selector does not match its template (an error at line 7) and
/// whose image is not pinned, with a few more rule findings at line 14.
const BAD: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: { app: api }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: api
          image: registry.example.com/shop/api:latest
";

#[test]
fn a_failing_validation_is_annotated_at_its_file_and_line_on_each_system() {
    let p = DevProject::new("");
    fs::write(p.path().join("k8s/api.yaml"), BAD).unwrap();

    let gh = run(
        p.path(),
        &[("GITHUB_ACTIONS", "true")],
        &["validate", "dev"],
    );
    assert_eq!(gh.status.code(), Some(3), "{}", stderr(&gh));
    let gh = lines(&gh);
    assert!(
        gh[0].starts_with(
            "::error file=k8s/api.yaml,line=7,col=3,title=workload-selector::Deployment/api `spec.selector`: the selector does not match"
        ),
        "{gh:#?}"
    );
    assert!(
        gh.iter()
            .any(|l| l
                .starts_with("::warning file=k8s/api.yaml,line=14,col=11,title=readiness-probe::")),
        "{gh:#?}"
    );
    assert_eq!(
        gh.last().unwrap(),
        "::error title=slipway::`dev` does not validate; nothing was written to a cluster"
    );

    let az = lines(&run(
        p.path(),
        &[("TF_BUILD", "True")],
        &["validate", "dev"],
    ));
    assert!(
        az[0].starts_with(
            "##vso[task.logissue type=error;sourcepath=k8s/api.yaml;linenumber=7;columnnumber=3;code=workload-selector]Deployment/api"
        ),
        "{az:#?}"
    );
    // `;` and `]` would end the command: they are escaped.
    assert!(
        az[0].contains("(`app=web`)%3B Kubernetes rejects"),
        "{az:#?}"
    );
    assert_eq!(
        az.last().unwrap(),
        "##vso[task.logissue type=error;code=slipway]`dev` does not validate%3B nothing was written to a cluster"
    );

    let gl = lines(&run(
        p.path(),
        &[("GITLAB_CI", "true")],
        &["validate", "dev"],
    ));
    assert!(
        gl[0].starts_with("k8s/api.yaml:7:3: error: Deployment/api `spec.selector`"),
        "{gl:#?}"
    );
    let quality: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(p.path().join("gl-code-quality-report.json")).unwrap(),
    )
    .unwrap();
    let first = &quality[0];
    assert_eq!(first["check_name"], "workload-selector");
    assert_eq!(first["severity"], "major");
    assert_eq!(first["location"]["path"], "k8s/api.yaml");
    assert_eq!(first["location"]["lines"]["begin"], 7);

    // Without a runner's variable (or with `--ci none`), nothing of this is printed.
    let none = run(
        p.path(),
        &[("GITHUB_ACTIONS", "true")],
        &["validate", "dev", "--ci", "none"],
    );
    assert!(lines(&none).is_empty(), "{:?}", lines(&none));
}

/// Many findings: GitHub shows ten per type and step, so the most serious come first
/// and one line says how many more there are.
#[test]
fn github_gets_at_most_ten_annotations_of_a_type_and_a_line_for_the_rest() {
    let p = DevProject::new("");
    let mut many = String::new();
    for i in 0..12 {
        many.push_str(&BAD.replace("name: api\n", &format!("name: api{i}\n")));
        many.push_str("---\n");
    }
    fs::write(p.path().join("k8s/api.yaml"), many).unwrap();
    let out = lines(&run(
        p.path(),
        &[("GITHUB_ACTIONS", "true")],
        &["validate", "dev"],
    ));
    let errors: Vec<&String> = out.iter().filter(|l| l.starts_with("::error")).collect();
    let warnings: Vec<&String> = out.iter().filter(|l| l.starts_with("::warning")).collect();
    assert_eq!(errors.len(), 10, "{out:#?}");
    assert_eq!(warnings.len(), 9, "{out:#?}");
    // Errors come before any warning.
    let last_error = out
        .iter()
        .rposition(|l| l.starts_with("::error file="))
        .unwrap();
    let first_warning = out.iter().position(|l| l.starts_with("::warning")).unwrap();
    assert!(last_error < first_warning, "{out:#?}");
    assert!(
        errors
            .iter()
            .any(|l| l.starts_with("::error title=slipway::4 more errors, not shown")),
        "{out:#?}"
    );
    assert!(
        warnings
            .iter()
            .any(|l| l.starts_with("::warning title=slipway::")),
        "{out:#?}"
    );
}

fn image(n: u32) -> String {
    format!("api={}", sandbox::image(n))
}

fn digest(n: u32) -> String {
    sandbox::image(n)
}

#[test]
fn github_a_rolled_back_release_names_the_failing_pod_in_its_summary_and_outputs_carry_digests() {
    let p = DevProject::new("    settle: 0s\n");
    let out_file = p.path().join("github-output");
    let summary = p.path().join("summary.md");
    let vars = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_RUN_ID", "4242"),
        ("GITHUB_WORKFLOW", "release"),
        ("GITHUB_JOB", "deploy"),
    ];
    let first = run(p.path(), &vars, &["deploy", "dev", "--image", &image(1)]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        lines(&first),
        [
            "::group::plan of `shop-dev`",
            "::endgroup::",
            "::group::rollout in `shop-dev`",
            "::endgroup::",
        ]
    );
    // Each output between its own delimiters.
    let outputs = fs::read_to_string(&out_file).unwrap();
    let value = |text: &str, name: &str| -> Option<String> {
        let mut it = text.lines();
        while let Some(l) = it.next() {
            if let Some(delim) = l.strip_prefix(&format!("{name}<<")) {
                let v = it.next()?.to_string();
                assert_eq!(it.next(), Some(delim), "{text}");
                return Some(v);
            }
        }
        None
    };
    assert_eq!(value(&outputs, "revision").as_deref(), Some("1"));
    assert_eq!(value(&outputs, "outcome").as_deref(), Some("deployed"));
    assert_eq!(value(&outputs, "environment").as_deref(), Some("dev"));
    assert_eq!(value(&outputs, "image_api"), Some(digest(1)));
    assert_eq!(
        value(&outputs, "images"),
        Some(format!("{{\"api\":\"{}\"}}", digest(1)))
    );

    fs::remove_file(&out_file).unwrap();
    fs::remove_file(&summary).unwrap();
    p.set_behavior("never-ready");
    let failed = run(
        p.path(),
        &vars,
        &["deploy", "dev", "--timeout", "6s", "--image", &image(2)],
    );
    assert_eq!(failed.status.code(), Some(4), "{}", stderr(&failed));
    let out = lines(&failed);
    let pod = out
        .iter()
        .find_map(|l| {
            l.strip_prefix(
                "::error title=rollout failed in shop-dev::deployment/api: ReadinessProbeFailing: ",
            )
        })
        .unwrap_or_else(|| panic!("{out:#?}"));
    let pod = pod.rsplit_once("(pod `").unwrap().1.trim_end_matches("`)");
    assert!(pod.starts_with("api-"), "{pod}");
    assert!(
        out.contains(&"::group::rollback of `shop-dev` to revision 1".to_string()),
        "{out:#?}"
    );
    assert_eq!(
        out.last().unwrap(),
        "::error title=slipway::revision 2 failed in `shop-dev` and revision 1 was restored: deployment/api: ReadinessProbeFailing"
    );
    let md = fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### slipway deploy `dev`: rolled-back\n"),
        "{md}"
    );
    assert!(md.contains("| `shop-dev` | 2 | rolled-back |"), "{md}");
    assert!(
        md.contains("**deployment/api**: **ReadinessProbeFailing**"),
        "{md}"
    );
    assert!(
        md.contains(&format!("pod `{pod}` (container `api`)")),
        "{md}"
    );
    assert!(md.contains("Rolled back to revision 1."), "{md}");
    assert!(
        md.contains("Run: https://github.com/acme/shop/actions/runs/4242"),
        "{md}"
    );
    assert!(md.contains("  deployment/api :crit, "), "{md}");
    let outputs = fs::read_to_string(&out_file).unwrap();
    assert_eq!(value(&outputs, "outcome").as_deref(), Some("rolled-back"));
    assert_eq!(value(&outputs, "revision").as_deref(), Some("2"));

    // The objects on the cluster name the run that put them there: the restored
    // revision's own provenance after the rollback.
    let annotations = p.kubectl_get(&["deployment", "api"], "{.metadata.annotations}");
    let annotations: serde_json::Value = serde_json::from_str(&annotations).unwrap();
    assert_eq!(annotations["provenance.slipway.dev/revision"], "1");
    assert_eq!(
        annotations["provenance.slipway.dev/ci-run"],
        "https://github.com/acme/shop/actions/runs/4242"
    );
    assert_eq!(
        annotations["provenance.slipway.dev/ci-job"],
        "release / deploy"
    );
}

#[test]
fn azure_gets_groups_output_variables_and_an_uploaded_summary() {
    let p = DevProject::new("    settle: 0s\n");
    let temp = p.path().join("agent-temp");
    fs::create_dir(&temp).unwrap();
    let out = run(
        p.path(),
        &[
            ("TF_BUILD", "True"),
            ("AGENT_TEMPDIRECTORY", temp.to_str().unwrap()),
        ],
        &["deploy", "dev", "--image", &image(1)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = temp.join("slipway-deploy-dev.md");
    let summary_path = std::path::absolute(&summary).unwrap();
    assert_eq!(
        lines(&out),
        [
            "##[group]plan of `shop-dev`".to_string(),
            "##[endgroup]".into(),
            "##[group]rollout in `shop-dev`".into(),
            "##[endgroup]".into(),
            "##vso[task.setvariable variable=environment;isOutput=true]dev".into(),
            "##vso[task.setvariable variable=outcome;isOutput=true]deployed".into(),
            "##vso[task.setvariable variable=revision;isOutput=true]1".into(),
            "##vso[task.setvariable variable=revisions;isOutput=true]{\"shop-dev\":1}".into(),
            format!(
                "##vso[task.setvariable variable=image_api;isOutput=true]{}",
                digest(1)
            ),
            format!(
                "##vso[task.setvariable variable=images;isOutput=true]{{\"api\":\"{}\"}}",
                digest(1)
            ),
            format!("##vso[task.uploadsummary]{}", summary_path.display()),
        ]
    );
    let md = fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| `shop-dev` | 1 | deployed |"), "{md}");
}

#[test]
fn gitlab_gets_sections_and_a_dotenv_report_and_json_output_stays_parsable() {
    let p = DevProject::new("    settle: 0s\n");
    let out = run(
        p.path(),
        &[("GITLAB_CI", "true")],
        &["deploy", "dev", "--image", &image(1)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = lines(&out);
    assert_eq!(out.len(), 4, "{out:#?}");
    for (line, (kind, name)) in out.iter().zip([
        ("start", "plan"),
        ("end", "plan"),
        ("start", "rollout"),
        ("end", "rollout"),
    ]) {
        let rest = line
            .strip_prefix(&format!("\x1b[0Ksection_{kind}:"))
            .unwrap_or_else(|| panic!("{line:?}"));
        let (time, rest) = rest.split_once(':').unwrap();
        assert!(time.parse::<u64>().is_ok(), "{line:?}");
        assert!(rest.starts_with(name), "{line:?}");
    }
    assert!(
        out[0].ends_with("[collapsed=true]\r\x1b[0Kplan of `shop-dev`"),
        "{:?}",
        out[0]
    );
    let dotenv = fs::read_to_string(p.path().join("slipway.env")).unwrap();
    assert_eq!(
        dotenv,
        format!(
            "SLIPWAY_ENVIRONMENT=dev\nSLIPWAY_OUTCOME=deployed\nSLIPWAY_REVISION=1\nSLIPWAY_REVISIONS={{\"shop-dev\":1}}\nSLIPWAY_IMAGE_API={0}\nSLIPWAY_IMAGES={{\"api\":\"{0}\"}}\n",
            digest(1)
        )
    );

    // With `-o json`, standard output is the JSON stream alone; the CI lines move to
    // standard error.
    let json = run(
        p.path(),
        &[("GITLAB_CI", "true")],
        &["deploy", "dev", "--image", &image(2), "-o", "json"],
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    for line in lines(&json) {
        serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"));
    }
    assert!(
        stderr(&json).contains("section_start:"),
        "{}",
        stderr(&json)
    );
}

/// Provenance after each of deploy, promote, restart and rollback: on the objects'
/// own metadata (never the pod template), in the record, and in `status`.
#[test]
fn every_release_stamps_its_provenance_on_the_objects_and_status_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    sandbox::write_project(
        dir.path(),
        "  dev:\n    cluster: sandbox\n    namespace: shop-dev\n    settle: 0s\n  uat:\n    cluster: sandbox\n    namespace: shop-uat\n    settle: 0s\n    promote-from: dev\n",
        "ready",
    );
    let project = common::Project { dir };
    let root = project.path();
    common::git(root, &["init", "-q", "-b", "main"]);
    common::git(
        root,
        &[
            "remote",
            "add",
            "origin",
            "https://deployer:t0ken@git.example.com/acme/shop.git",
        ],
    );
    common::git(root, &["add", "-A"]);
    common::git(root, &["commit", "-qm", "shop"]);
    let head = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let vars = [
        ("GITLAB_CI", "true"),
        (
            "CI_JOB_URL",
            "https://gitlab.example.com/acme/shop/-/jobs/77",
        ),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.example.com/acme/shop/-/pipelines/12",
        ),
        ("CI_JOB_NAME", "deploy-dev"),
    ];
    let annotations = |ns: &str, what: &str| -> serde_json::Value {
        let out = sandbox::kubectl(
            &project.kubeconfig(),
            &["-n", ns, "get", what, "-o", "json"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let obj: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            obj["spec"]["template"]["metadata"]["annotations"]
                .as_object()
                .is_none_or(|a| a.keys().all(|k| !k.starts_with("provenance."))),
            "{obj}"
        );
        obj["metadata"]["annotations"].clone()
    };
    let p = "provenance.slipway.dev/";
    let check = |ns: &str, revision: &str, action: &str| {
        // A restart or a rollback applies again what the record holds: every object
        // but the Secrets (recorded without their values), which keep the provenance of
        // the release that applied them.
        let all = [
            "deployment/api",
            "configmap",
            "secret/slipway-applyset-shop",
        ];
        let objects = if matches!(action, "deploy" | "promote") {
            &all[..]
        } else {
            &all[..2]
        };
        for &what in objects {
            let a = if what == "configmap" {
                let out = sandbox::kubectl(
                    &project.kubeconfig(),
                    &["-n", ns, "get", "configmap", "-o", "json"],
                );
                let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let items = list["items"].as_array().unwrap();
                let config = items
                    .iter()
                    .find(|c| {
                        c["metadata"]["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("shop-config"))
                    })
                    .unwrap_or_else(|| panic!("{list}"));
                config["metadata"]["annotations"].clone()
            } else {
                annotations(ns, what)
            };
            assert_eq!(a[format!("{p}commit")], head.as_str(), "{what}: {a}");
            assert_eq!(a[format!("{p}revision")], revision, "{what}: {a}");
            assert_eq!(a[format!("{p}action")], action, "{what}: {a}");
            assert_eq!(a[format!("{p}user")], "tester@ci", "{what}: {a}");
            assert_eq!(
                a[format!("{p}ci-run")],
                "https://gitlab.example.com/acme/shop/-/pipelines/12",
                "{what}: {a}"
            );
            assert_eq!(a[format!("{p}ci-job")], "deploy-dev", "{what}: {a}");
            let repo = a[format!("{p}repository")].as_str().unwrap_or("");
            assert!(
                repo.contains("git.example.com/acme/shop.git"),
                "{what}: {a}"
            );
            assert!(!repo.contains("t0ken") && !repo.contains("deployer"), "{a}");
        }
    };
    let ok = |out: Output| {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    ok(run(root, &vars, &["deploy", "dev", "--image", &image(1)]));
    check("shop-dev", "1", "deploy");
    ok(run(root, &vars, &["deploy", "dev", "--image", &image(2)]));
    check("shop-dev", "2", "deploy");
    ok(run(root, &vars, &["promote", "uat"]));
    check("shop-uat", "1", "promote");
    ok(run(root, &vars, &["restart", "dev"]));
    check("shop-dev", "3", "restart");
    ok(run(root, &vars, &["rollback", "dev", "--to", "1"]));
    check("shop-dev", "4", "rollback");

    let status = run(root, &[], &["status", "dev"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains(&format!("  commit: {head}\n")), "{text}");
    assert!(
        text.contains("  ci run: https://gitlab.example.com/acme/shop/-/pipelines/12\n"),
        "{text}"
    );
    assert!(
        text.contains("  revision: 4\n  action: rollback\n"),
        "{text}"
    );
    // Provenance is not drift, and a release whose objects only change provenance
    // changes nothing.
    assert!(!text.contains("drift"), "{text}");
    let diff = run(root, &[], &["diff", "dev", "--image", &image(1)]);
    let said = stderr(&diff);
    assert!(!said.contains("provenance.slipway.dev"), "{said}");
    let json = run(root, &[], &["status", "dev", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["namespaces"][0]["provenance"]["revision"], 4);
    assert_eq!(doc["namespaces"][0]["provenance"]["commit"], head.as_str());
}

/// A tool of the test virtualenv (`scripts/test.sh` installs it), else of `PATH`.
fn venv_tool(name: &str) -> Option<std::path::PathBuf> {
    let venv = std::env::var_os("SLIPWAY_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| std::path::PathBuf::from(h).join(".cache/slipway-test-venv/bin"))
        });
    if let Some(dir) = venv
        && dir.join(name).is_file()
    {
        return Some(dir.join(name));
    }
    let out = Command::new("which").arg(name).output().ok()?;
    out.status
        .success()
        .then(|| std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `check-jsonschema` with one of its published schemas: `Ok` when the file passes.
fn schema_check(tool: &Path, schema: &str, file: &Path) -> Result<(), String> {
    let out = Command::new(tool)
        .args(["--regex-variant", "nonunicode", "--builtin-schema", schema])
        .arg(file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn init_ci_writes_the_examples_pipelines_which_pass_actionlint_and_the_published_schemas() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ci");
    let dir = tempfile::tempdir().unwrap();
    for f in ["slipway.yaml", "app.txt"] {
        fs::copy(examples.join(f), dir.path().join(f)).unwrap();
    }
    common::copy_dir(&examples.join("k8s"), &dir.path().join("k8s"));
    let actionlint = venv_tool("actionlint");
    let jsonschema = venv_tool("check-jsonschema");
    for (system, file, schema) in [
        (
            "github",
            ".github/workflows/slipway.yml",
            "vendor.github-workflows",
        ),
        ("azure", "azure-pipelines.yml", "vendor.azure-pipelines"),
        ("gitlab", ".gitlab-ci.yml", "vendor.gitlab-ci"),
    ] {
        let out = run(dir.path(), &[], &["init", "--ci", system]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let written = dir.path().join(file);
        let text = fs::read_to_string(&written).unwrap();
        // The examples are what `init --ci` writes.
        assert_eq!(
            text,
            fs::read_to_string(examples.join(file)).unwrap(),
            "examples/ci/{file} is not what `slipway init --ci {system}` writes"
        );
        // It deploys the first environment with a build and promotes to the next.
        assert!(
            text.contains("slipway deploy staging --build --yes"),
            "{text}"
        );
        assert!(text.contains("slipway promote prod --yes"), "{text}");
        // Credentials only ever travel in the environment of a step.
        for line in text.lines().filter(|l| l.contains("slipway ")) {
            assert!(
                !line.contains("PASSWORD")
                    && !line.contains("secrets.")
                    && !line.contains("KUBECONFIG"),
                "{line}"
            );
        }
        assert!(!text.contains("--password"), "{text}");
        // A second run never overwrites it.
        let again = run(dir.path(), &[], &["init", "--ci", system]);
        assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
        assert!(
            stderr(&again).contains("already exists"),
            "{}",
            stderr(&again)
        );

        match &jsonschema {
            Some(tool) => {
                schema_check(tool, schema, &written).unwrap_or_else(|e| panic!("{file}: {e}"));
                // The judge judges: a broken pipeline is refused.
                let broken = dir.path().join(format!("broken-{system}.yml"));
                let bad = match system {
                    "github" => text.replace("runs-on: ubuntu-latest", "runs-on: [[1]]"),
                    "azure" => text.replace("  - stage: validate", "  - stage: [validate]"),
                    _ => text.replace("when: always", "when: sometimes"),
                };
                fs::write(&broken, bad).unwrap();
                assert!(
                    schema_check(tool, schema, &broken).is_err(),
                    "{system}: a broken file passes"
                );
            }
            None => eprintln!(
                "skipped: check-jsonschema is not installed (scripts/test.sh installs it); {file} was not checked against {schema}"
            ),
        }
    }
    match actionlint {
        Some(tool) => {
            let workflow = dir.path().join(".github/workflows/slipway.yml");
            let out = Command::new(&tool).arg(&workflow).output().unwrap();
            assert!(
                out.status.success(),
                "actionlint: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let broken = dir.path().join(".github/workflows/broken.yml");
            let text = fs::read_to_string(&workflow).unwrap();
            fs::write(
                &broken,
                text.replace("needs: deploy-staging", "needs: deploy-nowhere"),
            )
            .unwrap();
            let out = Command::new(&tool).arg(&broken).output().unwrap();
            assert!(
                !out.status.success(),
                "actionlint accepts a job that needs a missing job"
            );
        }
        None => eprintln!("skipped: actionlint is not installed (scripts/test.sh installs it)"),
    }

    // Without `slipway.yaml`, there is nothing to deploy.
    let empty = tempfile::tempdir().unwrap();
    let out = run(empty.path(), &[], &["init", "--ci", "github"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("write it first with `slipway init`"),
        "{}",
        stderr(&out)
    );
}

/// `deploy --build` of the demo in GitHub mode: the build is a group of its own, and
/// the outputs carry the digests the build pushed (as `.slipway/artifacts.json` records
/// them).
#[test]
fn a_build_and_deploy_groups_the_build_and_outputs_the_pushed_digests() {
    let project = common::demo();
    let out_file = project.path().join("github-output");
    let out = run(
        project.path(),
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
        ],
        &["deploy", "dev", "--build"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = lines(&out);
    assert_eq!(out[0], "::group::build for `dev`", "{out:#?}");
    assert_eq!(out[1], "::endgroup::", "{out:#?}");
    assert_eq!(out[2], "::group::plan of `demo-dev`", "{out:#?}");
    let artifacts: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(project.path().join(".slipway/artifacts.json")).unwrap(),
    )
    .unwrap();
    let outputs = fs::read_to_string(&out_file).unwrap();
    let digest = regex::Regex::new(r"@sha256:[0-9a-f]{64}$").unwrap();
    for image in artifacts["images"].as_array().unwrap() {
        let name = image["name"].as_str().unwrap();
        let reference = image["reference"].as_str().unwrap();
        assert!(digest.is_match(reference), "{reference}");
        assert!(
            outputs.contains(&format!("\n{reference}\n")),
            "image_{name}: {outputs}"
        );
        assert!(outputs.contains(&format!("image_{name}<<")), "{outputs}");
    }
}

#[test]
fn each_problem_of_slipway_yaml_is_an_annotation_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("slipway.yaml"),
        "app: shop\nimagse: {}\nenvironments:\n  dev:\n    cluster: sandbox\n    namespace: x\n    timeout: soon\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &[("GITHUB_ACTIONS", "true")],
        &["validate", "dev"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = lines(&out);
    assert!(
        out.contains(&"::error file=slipway.yaml,line=2,col=1,title=imagse::unknown key `imagse` (did you mean `images`?)".to_string()),
        "{out:#?}"
    );
    assert!(
        out.iter()
            .any(|l| l.starts_with("::error file=slipway.yaml,line=7,col=")),
        "{out:#?}"
    );
    assert_eq!(
        out.last().unwrap(),
        "::error title=slipway::`slipway.yaml` is invalid: 2 problems"
    );
}

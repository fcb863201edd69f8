//! The command-line surface, driven through the real binary: help, exit codes, errors
//! and what each command prints.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

const COMMANDS: &[&str] = &[
    "init",
    "build",
    "render",
    "validate",
    "diff",
    "deploy",
    "status",
    "history",
    "rollback",
    "restart",
    "promote",
    "uninstall",
    "sandbox",
    "kustomize",
    "completions",
    "man",
];

fn slipway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("SLIPWAY_LOG")
        .output()
        .expect("the slipway binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const MINIMAL: &str = "\
app: shop
registry: registry.example.com/shop
images:
  api: {}
environments:
  dev:
    cluster: sandbox
    namespace: shop-dev
  prod:
    context: aks-prod
    namespace: shop
    promote-from: dev
";

fn project(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("slipway.yaml"), config).unwrap();
    fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    dir
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let out = slipway(Path::new("."), &["--help"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let help = stdout(&out);
    for command in COMMANDS {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "`{command}` missing from --help:\n{help}"
        );
    }
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("130  interrupted"), "{help}");
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in COMMANDS {
        let args: Vec<&str> = if *command == "sandbox" {
            vec!["sandbox", "serve", "--help"]
        } else {
            vec![command, "--help"]
        };
        let out = slipway(Path::new("."), &args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("Examples:"),
            "`slipway {}` has no example:\n{}",
            args.join(" "),
            stdout(&out)
        );
    }
}

#[test]
fn global_flags_are_accepted_before_and_after_the_command() {
    let dir = project(MINIMAL);
    for args in [
        &["-q", "--no-color", "validate", "dev"][..],
        &["validate", "dev", "--no-color", "-q"][..],
    ] {
        let out = slipway(dir.path(), args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        // `-q` leaves only errors: nothing failed, so nothing is printed.
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    let out = slipway(dir.path(), &["-v", "validate", "dev"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("0 error(s)"), "{}", stderr(&out));
    let out = slipway(dir.path(), &["-q", "-v", "validate", "dev"]);
    assert_eq!(code(&out), 2, "-q and -v exclude each other");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = slipway(Path::new("."), &["deploy", "dev", "--frobnicate"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--frobnicate"), "{}", stderr(&out));
}

#[test]
fn missing_configuration_names_the_directory_and_suggests_init() {
    let dir = tempfile::tempdir().unwrap();
    let out = slipway(dir.path(), &["deploy", "dev"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("error: no `slipway.yaml` in `"), "{err}");
    assert!(err.contains("hint: write one with `slipway init`"), "{err}");
}

#[test]
fn file_flag_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = slipway(dir.path(), &["-f", "other.yaml", "validate", "dev"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("error: `other.yaml` does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn chdir_to_a_missing_directory_is_a_usage_error() {
    let out = slipway(
        Path::new("."),
        &["-C", "/nonexistent/slipway", "validate", "dev"],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot change to directory `/nonexistent/slipway`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn broken_configuration_is_reported_with_position_and_hint() {
    let dir = project(&MINIMAL.replace("images:", "imagse:"));
    let out = slipway(dir.path(), &["validate", "dev"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("slipway.yaml:3:1"), "{err}");
    assert!(err.contains("imagse"), "{err}");
    assert!(err.contains("did you mean `images`?"), "{err}");
    assert!(
        err.contains("error: `slipway.yaml` is invalid: 1 problem"),
        "{err}"
    );
}

#[test]
fn broken_configuration_with_json_output_prints_diagnostics_on_stdout() {
    let dir = project(&MINIMAL.replace("images:", "imagse:"));
    let out = slipway(dir.path(), &["validate", "dev", "-o", "json"]);
    assert_eq!(code(&out), 2);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 2);
    let first = &doc["details"][0];
    assert_eq!(first["line"], 3);
    assert_eq!(first["column"], 1);
    assert_eq!(first["key"], "imagse");
    assert_eq!(first["hint"], "did you mean `images`?");
}

#[test]
fn unknown_environment_suggests_the_nearest() {
    let dir = project(MINIMAL);
    let out = slipway(dir.path(), &["deploy", "prdo"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("error: unknown environment `prdo`"), "{err}");
    assert!(err.contains("hint: did you mean `prod`?"), "{err}");
}

#[test]
fn unknown_environment_without_a_near_one_lists_them() {
    let dir = project(MINIMAL);
    let out = slipway(dir.path(), &["status", "qa"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("the environments of `slipway.yaml` are `dev`, `prod`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_image_in_only_is_reported_before_anything_runs() {
    let dir = project(MINIMAL);
    let out = slipway(dir.path(), &["deploy", "dev", "--only", "api,wroker"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unknown image `wroker`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn malformed_image_override_is_a_usage_error() {
    let dir = project(MINIMAL);
    let out = slipway(dir.path(), &["deploy", "dev", "--image", "api"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("expected NAME=REF"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn promote_without_a_source_says_how_to_name_one() {
    let dir = project(MINIMAL);
    let out = slipway(dir.path(), &["promote", "dev"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("environment `dev` has no `promote-from`"),
        "{err}"
    );
    assert!(err.contains("--from ENV"), "{err}");
}

#[test]
fn output_destination_is_only_for_render() {
    let dir = project(MINIMAL);
    let out = slipway(dir.path(), &["status", "dev", "-o", "out"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("only for `render`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn init_writes_a_configuration_that_loads_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("Dockerfile"),
        "FROM golang:1.24 AS build\nRUN go build ./...\n\
         FROM alpine AS api\nCOPY --from=build /out/api /api\n\
         FROM alpine AS worker\nCOPY --from=build /out/worker /worker\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("web")).unwrap();
    fs::write(root.join("web/Dockerfile"), "FROM node:22\n").unwrap();
    for dir in ["k8s/base", "k8s/overlays/prod", "k8s/overlays/uat"] {
        fs::create_dir_all(root.join(dir)).unwrap();
        fs::write(root.join(dir).join("kustomization.yaml"), "resources: []\n").unwrap();
    }

    let out = slipway(root, &["init"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let written = fs::read_to_string(root.join("slipway.yaml")).unwrap();
    for expected in [
        "  api:\n    context: .\n    target: api\n",
        "  worker:\n    context: .\n    target: worker\n",
        "  web:\n    context: web\n",
        "manifests: k8s/base\n",
        "  uat:\n",
        "    overlay: k8s/overlays/prod\n    promote-from: uat\n    require-approval: true\n",
    ] {
        assert!(
            written.contains(expected),
            "missing {expected:?} in:\n{written}"
        );
    }
    // The file it wrote loads and its environments render and validate.
    let out = slipway(root, &["validate", "prod"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("0 error(s)"), "{}", stderr(&out));

    fs::write(root.join("slipway.yaml"), "app: mine\n").unwrap();
    let out = slipway(root, &["init"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`slipway.yaml` already exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read_to_string(root.join("slipway.yaml")).unwrap(),
        "app: mine\n"
    );
}

#[test]
fn init_print_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = slipway(dir.path(), &["init", "--print"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("environments:\n"), "{}", stdout(&out));
    assert!(!dir.path().join("slipway.yaml").exists());
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = slipway(Path::new("."), &["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}");
        let script = stdout(&out);
        assert!(
            script.contains("deploy"),
            "{shell}: no `deploy` in\n{script}"
        );
        assert!(script.contains("kubeconfig"), "{shell}");
    }
}

#[test]
fn man_page_documents_commands_and_exit_status() {
    let out = slipway(Path::new("."), &["man"]);
    assert_eq!(code(&out), 0);
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH slipway"),
        "{page}"
    );
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    assert!(page.contains("deploy"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    let out = slipway(
        Path::new("."),
        &["man", "--dir", dir.path().to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for page in ["slipway.1", "slipway-deploy.1", "slipway-sandbox-serve.1"] {
        assert!(dir.path().join(page).is_file(), "{page} not written");
    }
}

#[test]
fn exit_codes_in_docs_match_the_help() {
    let docs = fs::read_to_string(repo_root().join("docs/cli.md")).unwrap();
    let section = docs
        .split("## Exit codes")
        .nth(1)
        .expect("docs/cli.md has an exit code section");
    let documented: Vec<(String, String)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", code, meaning, ""] if code.parse::<u8>().is_ok() => {
                    Some((code.to_string(), meaning.to_string()))
                }
                _ => None,
            }
        })
        .collect();
    let help = stdout(&slipway(Path::new("."), &["--help"]));
    let listed: Vec<(String, String)> = help
        .split("Exit codes:\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (code, meaning) = l.trim().split_once("  ")?;
            Some((code.trim().to_string(), meaning.trim().to_string()))
        })
        .collect();
    assert_eq!(documented, listed);
    assert!(documented.len() >= 8);
}

#[test]
fn environment_requiring_approval_is_not_touched_without_it() {
    let dir = project(&MINIMAL.replace(
        "    promote-from: dev\n",
        "    promote-from: dev\n    require-approval: true\n",
    ));
    // Standard input is not a terminal here: nobody can answer, so it refuses.
    let out = slipway(dir.path(), &["deploy", "prod"]);
    assert_eq!(code(&out), 10, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("environment `prod` requires approval"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("pass `--yes`"), "{}", stderr(&out));
}

#[test]
fn a_misspelled_rule_in_slipway_yaml_is_an_error_with_the_nearest_rule() {
    let dir = project(&MINIMAL.replace(
        "    namespace: shop-dev\n",
        "    namespace: shop-dev\n    rules:\n      readyness-probe: off\n",
    ));
    let out = slipway(dir.path(), &["validate", "dev"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`rules.readyness-probe`"), "{err}");
    assert!(err.contains("readiness-probe"), "{err}");
}

/// Help text with its line wrapping undone.
fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn help_example_that_builds_passes_build() {
    let help = stdout(&slipway(Path::new("."), &["--help"]));
    let example = help
        .lines()
        .find(|l| l.contains("build, push and roll out"))
        .expect("the example that builds");
    assert!(
        example
            .trim_start()
            .starts_with("slipway deploy dev --build "),
        "{example}"
    );
}

#[test]
fn kubeconfig_help_gives_the_order_in_which_files_win() {
    for flag in ["-h", "--help"] {
        let help = unwrapped(&stdout(&slipway(Path::new("."), &[flag])));
        assert!(
            help.contains(
                "[default: the environment's `kubeconfig`, else $KUBECONFIG, else ~/.kube/config]"
            ),
            "{help}"
        );
    }
}

/// `prod` has two clusters, whose kubeconfig does not exist: reaching either fails.
const TWO_CLUSTERS: &str = "\
app: shop
registry: registry.example.com/shop
images:
  api: {}
environments:
  dev:
    context: kind
    kubeconfig: missing.kubeconfig
    namespace: shop-dev
  prod:
    targets:
      - { context: aks-a, kubeconfig: missing.kubeconfig, namespace: shop }
      - { context: aks-b, kubeconfig: missing.kubeconfig, namespace: shop }
    promote-from: dev
";

#[test]
fn context_flag_with_an_environment_of_several_clusters_is_a_usage_error() {
    let dir = project(TWO_CLUSTERS);
    for args in [
        &["deploy", "prod", "--build", "--yes"][..],
        &["diff", "prod"],
        &["status", "prod"],
        &["history", "prod"],
        &["rollback", "prod", "--yes"],
        &["restart", "prod", "--yes"],
        &["promote", "prod", "--yes"],
        &["promote", "dev", "--from", "prod"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--context", "aks-a"]);
        let out = slipway(dir.path(), &args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(
            unwrapped(&err).contains(
                "`--context aks-a` cannot be used with environment `prod`: it has 2 clusters (`targets`)"
            ),
            "{args:?}: {err}"
        );
        assert!(err.contains("hint: drop `--context`"), "{args:?}: {err}");
    }
    // Nothing was built, nothing was written.
    assert!(!dir.path().join(".slipway").exists());
    // An environment of one cluster takes it: its (missing) kubeconfig is then read.
    let out = slipway(dir.path(), &["status", "dev", "--context", "other"]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
}

#[test]
fn restart_of_an_environment_requiring_approval_is_not_done_without_it() {
    let dir = project(&MINIMAL.replace(
        "    promote-from: dev\n",
        "    promote-from: dev\n    require-approval: true\n    kubeconfig: missing.kubeconfig\n",
    ));
    let out = slipway(dir.path(), &["restart", "prod"]);
    assert_eq!(code(&out), 10, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("environment `prod` requires approval"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("pass `--yes`"), "{}", stderr(&out));
    // With `--yes` it goes on to the cluster (whose kubeconfig does not exist).
    for yes in ["--yes", "-y"] {
        let out = slipway(dir.path(), &["restart", "prod", yes]);
        assert_eq!(code(&out), 7, "{}", stderr(&out));
    }
}

#[test]
fn promotion_from_namespaces_running_different_images_says_what_to_do() {
    use common::sandbox;
    let _serial = common::SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let served = sandbox::Served::start(dir.path(), "one", &["--speed", "20"]);
    let environments = |uat_namespaces: &str| {
        format!(
            "  uat:\n    context: sandbox\n    kubeconfig: one.kubeconfig\n    namespaces: {uat_namespaces}\n    timeout: 2m\n  prod:\n    context: sandbox\n    kubeconfig: one.kubeconfig\n    namespace: shop\n    promote-from: uat\n"
        )
    };
    sandbox::write_project(dir.path(), &environments("[shop-a]"), "ready");
    let config = dir.path().join("slipway.yaml");
    let text = fs::read_to_string(&config).unwrap();
    let deploy = |uat_namespaces: &str, image: u32| {
        fs::write(
            &config,
            text.replace(&environments("[shop-a]"), &environments(uat_namespaces)),
        )
        .unwrap();
        let image = format!("api={}", sandbox::image(image));
        let out = sandbox::run(dir.path(), &["deploy", "uat", "--image", &image]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    };
    // `shop-a` runs image 1, `shop-b` image 2.
    deploy("[shop-a]", 1);
    deploy("[shop-b]", 2);
    fs::write(
        &config,
        text.replace(&environments("[shop-a]"), &environments("[shop-a, shop-b]")),
    )
    .unwrap();

    let out = sandbox::run(dir.path(), &["promote", "prod"]);
    let err = unwrapped(&stderr(&out));
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains(
            "the namespaces `shop-a` and `shop-b` of `uat` run different images; a promotion takes one release"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "hint: deploy one release to every namespace of `uat` first (`slipway deploy uat`), or promote from another environment with `--from ENV`"
        ),
        "{err}"
    );
    assert!(!err.contains("promote from one of them"), "{err}");
    drop(served);
}

#[test]
fn crates_readme_states_the_dependencies_of_each_crate() {
    let root = repo_root().join("crates");
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let names = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let crates: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    assert!(crates.len() >= 8, "{crates:?}");
    // What the README says: `- `a` and `b` depend on `c`` lines.
    let mut stated: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in readme.lines().filter_map(|l| l.strip_prefix("- ")) {
        let (subjects, objects) = line
            .split_once(" depends on ")
            .or_else(|| line.split_once(" depend on "))
            .expect("a dependency line");
        let objects = if objects.starts_with("no crate") {
            vec![]
        } else {
            names(objects)
        };
        for subject in names(subjects) {
            stated.insert(subject, objects.clone());
        }
    }
    // What the manifests say.
    let mut actual: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for name in &crates {
        let manifest = fs::read_to_string(root.join(name).join("Cargo.toml")).unwrap();
        let mut section = "";
        let mut deps = Vec::new();
        for line in manifest.lines() {
            if line.starts_with('[') {
                section = line.trim();
            } else if section == "[dependencies]"
                && let Some(dep) = line.split(['=', '.', ' ']).next()
                && crates.iter().any(|c| c == dep)
            {
                deps.push(dep.to_string());
            }
        }
        actual.insert(name.clone(), deps);
    }
    for deps in stated.values_mut().chain(actual.values_mut()) {
        deps.sort();
    }
    assert_eq!(stated, actual);
}

#[test]
fn init_guesses_app_registry_namespaces_and_args_from_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("init1");
    let files = [
        (
            "frontend/Dockerfile",
            "FROM node:22 AS deps\nRUN npm ci\n\
             FROM node:22 AS builder\nARG NEXT_PUBLIC_API_URL\nARG NODE_ENV=production\n\
             COPY --from=deps /app/node_modules ./node_modules\nRUN npm run build\n\
             FROM node:22-slim AS runner\nCOPY --from=builder /app/.next ./.next\n",
        ),
        (
            "backend/Dockerfile",
            "FROM golang:1.24 AS build\nRUN go build ./...\n\
             FROM alpine AS api\nCOPY --from=build /out/api /api\n\
             FROM alpine AS worker\nCOPY --from=build /out/worker /worker\n",
        ),
        (
            "k8s/base/kustomization.yaml",
            "resources: [deployment.yaml]\n",
        ),
        (
            "k8s/base/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  \
             selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      \
             labels: {app: api}\n    spec:\n      containers:\n        - name: api\n          \
             image: myacr.azurecr.io/api:latest\n",
        ),
        (
            "k8s/overlays/dev/kustomization.yaml",
            "resources: [../../base]\nnamespace: shop-dev\n",
        ),
        (
            "k8s/overlays/prod/kustomization.yaml",
            "resources: [../../base]\nnamespace: shop-prod\n",
        ),
    ];
    for (path, text) in files {
        fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        fs::write(root.join(path), text).unwrap();
    }
    for args in [
        &["init", "-q"][..],
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/acme/shop.git",
        ],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    }

    let out = slipway(&root, &["init"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let written = fs::read_to_string(root.join("slipway.yaml")).unwrap();
    for expected in [
        "\napp: shop\n",
        "\nregistry: myacr.azurecr.io\n",
        "  api:\n    # the manifests run it as `myacr.azurecr.io/api:latest` \
         (k8s/base/deployment.yaml)\n    context: backend\n    target: api\n",
        "  frontend:\n    context: frontend\n",
        "    #   NEXT_PUBLIC_API_URL: \"\"   # declared without a default\n",
        "    #   NODE_ENV: production   # the Dockerfile's default\n",
        "    namespace: shop-dev\n    overlay: k8s/overlays/dev\n",
        "    namespace: shop-prod\n    overlay: k8s/overlays/prod\n",
    ] {
        assert!(
            written.contains(expected),
            "missing {expected:?} in:\n{written}"
        );
    }
    assert!(!written.contains("init1"), "{written}");

    // The manifests' image is the repository `api` is pushed to, so deploys pin it.
    let config = slipway_config::load(&root.join("slipway.yaml")).unwrap();
    let api = config.images.iter().find(|i| i.name == "api").unwrap();
    assert_eq!(api.repository, "myacr.azurecr.io/api");
    let frontend = config.images.iter().find(|i| i.name == "frontend").unwrap();
    assert_eq!(frontend.repository, "myacr.azurecr.io/frontend");

    let out = slipway(&root, &["validate", "prod"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

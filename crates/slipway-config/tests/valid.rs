//! Valid config files load into the expected model.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{FULL_EXAMPLE, FULL_EXAMPLE_FILES, Project, parse_in};
use slipway_config::tag::TagContext;
use slipway_config::*;

const MINIMAL: &str =
    "app: demo\nenvironments:\n  dev:\n    cluster: sandbox\n    namespace: demo-dev\n";

#[test]
fn full_example_loads() {
    let project = Project::with_files(FULL_EXAMPLE_FILES);
    let config = project.load(FULL_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let p = |rel: &str| project.path(rel);

    assert_eq!(config.app, "honeydue");
    assert_eq!(config.base_dir, project.dir.path());
    assert_eq!(config.tag.as_str(), "{timestamp}-{git.short_sha}");
    assert_eq!(config.extra_tags, ["latest"]);
    assert_eq!(
        config.registry_settings("gitea.example.com"),
        RegistrySettings {
            insecure: false,
            credentials: Credentials::DockerConfig
        }
    );

    let api = config.image("api").unwrap();
    assert_eq!(api.repository, "gitea.example.com/admin/honeydue-api");
    assert_eq!(api.git_ref.as_deref(), Some("origin/backend-dev"));
    assert_eq!(api.platform.to_string(), "linux/amd64");
    assert_eq!(api.labels["org.opencontainers.image.vendor"], "acme");
    let ImageBuild::Dockerfile {
        dockerfile,
        target,
        args,
    } = &api.build
    else {
        panic!("api is a Dockerfile image")
    };
    assert_eq!(dockerfile, &p("Dockerfile"));
    assert_eq!(target.as_deref(), Some("api"));
    assert_eq!(args["GO_VERSION"], "1.24");

    let frontend = config.image("frontend").unwrap();
    assert_eq!(frontend.repository, "gitea.example.com/admin/frontend");
    assert_eq!(frontend.context, p("frontend"));
    assert!(
        matches!(&frontend.build, ImageBuild::Dockerfile { dockerfile, .. } if *dockerfile == p("frontend/Dockerfile"))
    );

    let ImageBuild::Files(files) = &config.image("static").unwrap().build else {
        panic!("static is a files image")
    };
    assert_eq!(files.base, "scratch");
    assert_eq!(
        files.copy,
        [CopySpec {
            src: p("dist/"),
            dest: "/srv/www".into()
        }]
    );
    assert_eq!(files.entrypoint, Some(vec!["/srv/www/server".to_owned()]));
    assert_eq!(files.cmd, Some(vec![]));
    assert_eq!(files.env["PORT"], "8080");
    assert_eq!(files.user.as_deref(), Some("65532"));
    assert_eq!(files.labels["dev.slipway.sandbox/behavior"], "ready");
    assert_eq!(files.expose[0].to_string(), "8080/tcp");

    assert_eq!(
        config.manifests,
        Some(Manifests {
            path: p("deploy/k8s"),
            kustomize: KustomizeMode::Native
        })
    );
    let cm = &config.config["honeydue-config"];
    assert_eq!(cm.env_file, Some(p("deploy/prod.env")));
    assert_eq!(
        cm.files,
        [
            FileSource {
                key: "nginx.conf".into(),
                path: p("deploy/nginx.conf")
            },
            FileSource {
                key: "site.conf".into(),
                path: p("deploy/site.conf")
            },
        ]
    );
    let secret = &config.secrets["honeydue-secrets"];
    assert_eq!(secret.from_env, ["SECRET_KEY"]);
    assert_eq!(secret.secret_type, "Opaque");

    let migrate = config.hook("migrate").unwrap();
    assert_eq!(migrate.when, HookWhen::PreDeploy);
    assert_eq!(migrate.run, HookRun::Job(p("deploy/k8s/migrate/job.yaml")));
    assert_eq!(migrate.timeout, Duration::from_secs(600));

    let dev = config.environment("dev").unwrap();
    assert_eq!(
        dev.targets,
        [Target {
            cluster: Cluster::Sandbox,
            namespaces: vec!["honeydue-dev".into()]
        }]
    );
    assert!(!dev.production);

    let uat = config.environment("uat").unwrap();
    assert_eq!(
        uat.targets[0].cluster,
        Cluster::Context {
            name: "aks-core".into(),
            kubeconfig: Some(PathBuf::from("~/.kube/honeydue.yaml"))
        }
    );
    assert_eq!(uat.targets[0].namespaces, ["core-uat", "core-uat-b"]);
    assert_eq!(uat.overlay, Some(p("deploy/overlays/uat")));

    let prod = config.environment("prod").unwrap();
    assert_eq!(prod.targets.len(), 2);
    assert_eq!(prod.promote_from.as_deref(), Some("uat"));
    assert!(prod.production);
    assert_eq!(
        prod.policy,
        Policy {
            timeout: Duration::from_secs(600),
            rollback_on_failure: true,
            require_approval: true,
            dirty: DirtyPolicy::Refuse,
            crashloop_tolerance: 2,
            settle: Duration::from_secs(30),
            recreate: vec!["Job/db-seed".to_owned()],
            rules: [
                ("pdb-missing".to_owned(), RuleLevel::Error),
                ("readiness-probe".to_owned(), RuleLevel::Warning),
            ]
            .into(),
        }
    );
}

#[test]
fn environment_config_overrides_top_level_entry_key_by_key() {
    let project = Project::with_files(FULL_EXAMPLE_FILES);
    let config = project.load(FULL_EXAMPLE).unwrap();
    let uat = &config.environment("uat").unwrap().config["honeydue-config"];
    assert_eq!(uat.env_file, Some(project.path("deploy/uat.env")));
    assert_eq!(uat.literals["LOG_LEVEL"], "info");
    assert_eq!(uat.files.len(), 2);
    let prod = &config.environment("prod").unwrap().config["honeydue-config"];
    assert_eq!(prod.env_file, Some(project.path("deploy/prod.env")));
}

#[test]
fn minimal_config_gets_every_default() {
    let config = parse_in(Path::new("/nonexistent"), MINIMAL).unwrap();
    assert_eq!(config.tag.as_str(), "{timestamp}-{git.short_sha}");
    assert!(config.images.is_empty() && config.hooks.is_empty());
    assert_eq!(config.manifests, None);
    let dev = &config.environments[0];
    assert_eq!(dev.policy, Policy::default());
    assert_eq!(dev.policy.timeout, Duration::from_secs(300));
    assert_eq!(dev.policy.dirty, DirtyPolicy::Warn);
    assert_eq!(dev.policy.crashloop_tolerance, 2);
    assert!(dev.policy.rollback_on_failure && !dev.policy.require_approval);
}

#[test]
fn parse_resolves_paths_against_the_named_file_directory() {
    let project = Project::with_files(&["k8s/"]);
    let config = parse_in(project.dir.path(), &format!("{MINIMAL}manifests: k8s\n")).unwrap();
    assert_eq!(config.manifests.unwrap().path, project.path("k8s"));
    assert_eq!(config.file, project.path("slipway.yaml"));
}

#[test]
fn environment_keys_win_over_defaults_and_rules_merge() {
    let yaml = "\
app: demo
defaults:
  timeout: 2m
  dirty: refuse
  crashloop-tolerance: 5
  rules: { pdb-missing: error, readiness-probe: warning }
environments:
  dev:
    cluster: sandbox
    namespace: d
    dirty: allow
    rules: { readiness-probe: off }
  production:
    context: aks
    namespace: p
";
    let config = parse_in(Path::new("/x"), yaml).unwrap();
    let dev = &config.environment("dev").unwrap().policy;
    assert_eq!(dev.timeout, Duration::from_secs(120));
    assert_eq!(dev.dirty, DirtyPolicy::Allow);
    assert_eq!(dev.crashloop_tolerance, 5);
    assert_eq!(dev.rules["pdb-missing"], RuleLevel::Error);
    assert_eq!(dev.rules["readiness-probe"], RuleLevel::Off);
    let production = config.environment("production").unwrap();
    assert!(production.production, "`production` is production by name");
    assert_eq!(production.policy.dirty, DirtyPolicy::Refuse);
}

#[test]
fn hook_generated_from_an_image_loads() {
    let yaml = format!(
        "{MINIMAL}registry: localhost:5000\nimages:\n  api: {{ git-ref: main }}\nconfig:\n  c: {{ literals: {{ A: 1 }} }}\nsecrets:\n  s: {{ from-env: [TOKEN] }}\nhooks:\n  migrate:\n    when: post-deploy\n    image: api\n    command: [goose, up]\n    env-from: [c, s]\n    backoff-limit: 3\n"
    );
    let config = parse_in(Path::new("/x"), &yaml).unwrap();
    let hook = config.hook("migrate").unwrap();
    assert_eq!(hook.when, HookWhen::PostDeploy);
    assert_eq!(hook.backoff_limit, 3);
    assert_eq!(
        hook.run,
        HookRun::Image {
            image: "api".into(),
            command: Some(vec!["goose".into(), "up".into()]),
            env_from: vec!["c".into(), "s".into()],
        }
    );
    assert_eq!(
        config.image("api").unwrap().repository,
        "localhost:5000/api"
    );
    assert_eq!(config.config["c"].literals["A"], "1");
}

#[test]
fn allow_latest_lets_the_release_tag_be_latest() {
    let project = Project::with_files(&[]);
    let config = project
        .load(&format!(
            "app: demo\nallow-latest: true\ntag: latest\n{}",
            &MINIMAL[10..]
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(config.tag.allows_latest());
    assert_eq!(config.tag.as_str(), "latest");
    let ctx = TagContext {
        time: 0,
        git_sha: None,
        git_short_sha: None,
        git_branch: None,
        inputs_digest: None,
        ci_build_id: None,
    };
    assert_eq!(config.tag.render(&ctx).unwrap(), "latest");

    let refused = project.load(MINIMAL).unwrap();
    assert!(!refused.tag.allows_latest());
}

#[test]
fn absolute_repository_needs_no_registry() {
    let yaml = format!(
        "{MINIMAL}images:\n  api:\n    repository: ghcr.io/acme/api\n    git-ref: main\n    platform: linux/arm64/v8\n"
    );
    let config = parse_in(Path::new("/x"), &yaml).unwrap();
    let api = config.image("api").unwrap();
    assert_eq!(api.repository, "ghcr.io/acme/api");
    assert_eq!(api.platform.variant.as_deref(), Some("v8"));
}

#[test]
fn registry_credentials_forms_parse() {
    let yaml = format!(
        "{MINIMAL}registries:\n  a.example.com: {{ credentials: env }}\n  b.example.com:5000: {{ credentials: stdin, insecure: true }}\n  c.example.com: {{ credentials: \"file:creds.txt\" }}\n"
    );
    let config = parse_in(Path::new("/base"), &yaml).unwrap();
    assert_eq!(
        config.registries["a.example.com"].credentials,
        Credentials::Env
    );
    assert!(config.registries["b.example.com:5000"].insecure);
    assert_eq!(
        config.registries["c.example.com"].credentials,
        Credentials::File(PathBuf::from("/base/creds.txt"))
    );
}

#[test]
fn anchors_and_aliases_can_share_settings() {
    let yaml = "\
app: demo
environments:
  a:
    cluster: sandbox
    namespaces: &ns [one, two]
  b:
    cluster: sandbox
    namespaces: *ns
";
    let config = parse_in(Path::new("/x"), yaml).unwrap();
    assert_eq!(
        config.environment("b").unwrap().targets[0].namespaces,
        ["one", "two"]
    );
}

#[test]
fn relative_config_file_resolves_paths_relative_to_the_current_directory() {
    let config = slipway_config::parse(MINIMAL, Path::new("slipway.yaml")).unwrap();
    assert_eq!(config.base_dir, PathBuf::new());
}

#[test]
fn documented_example_is_the_tested_one() {
    let doc = include_str!("../../../docs/config.md");
    let start = doc
        .find("```yaml\n# slipway.yaml\n")
        .expect("docs have the example")
        + 8;
    let end = start + doc[start..].find("```").unwrap();
    assert_eq!(&doc[start..end], FULL_EXAMPLE);
}

#[test]
fn kubeconfig_paths_are_relative_to_the_config_file_directory() {
    let yaml = "\
app: demo
environments:
  uat:
    context: aks
    kubeconfig: kube/uat.yaml
    namespace: u
  prod:
    targets:
      - { context: a, kubeconfig: ./kube/a.yaml, namespace: p }
      - { context: b, kubeconfig: ~/.kube/b.yaml, namespace: p }
      - { context: c, kubeconfig: /etc/kube/c.yaml, namespace: p }
";
    let config = parse_in(Path::new("/base"), yaml).unwrap();
    let kubeconfig =
        |env: &str, i: usize| match &config.environment(env).unwrap().targets[i].cluster {
            Cluster::Context { kubeconfig, .. } => kubeconfig.clone(),
            other => panic!("not a context: {other:?}"),
        };
    assert_eq!(
        kubeconfig("uat", 0),
        Some(PathBuf::from("/base/kube/uat.yaml"))
    );
    assert_eq!(
        kubeconfig("prod", 0),
        Some(PathBuf::from("/base/kube/a.yaml"))
    );
    // `~/` stays the home directory, expanded when the file is read.
    assert_eq!(kubeconfig("prod", 1), Some(PathBuf::from("~/.kube/b.yaml")));
    assert_eq!(
        kubeconfig("prod", 2),
        Some(PathBuf::from("/etc/kube/c.yaml"))
    );
}

#[test]
fn environment_may_leave_a_top_level_generator_as_it_is() {
    let yaml = format!(
        "{MINIMAL}    config:\n      app: {{}}\n    secrets:\n      creds: {{ type: Opaque }}\nconfig:\n  app:\n    literals: {{ A: b }}\nsecrets:\n  creds:\n    from-env: [TOKEN]\n"
    );
    let config = parse_in(Path::new("/x"), &yaml).unwrap();
    let dev = config.environment("dev").unwrap();
    assert_eq!(dev.config["app"].literals["A"], "b");
}

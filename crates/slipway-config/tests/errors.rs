//! Broken config files: each test asserts the exact diagnostic (line, column, key path,
//! message, hint) the user sees.

mod common;

use common::{Project, assert_diag, assert_single, diagnostics};
use slipway_config::LoadError;

/// A valid `environments` section to append to configs that test something else.
const ENVS: &str = "environments:\n  dev:\n    cluster: sandbox\n    namespace: demo-dev\n";

fn with_envs(head: &str) -> String {
    format!("app: demo\n{head}{ENVS}")
}

#[test]
fn unknown_top_level_key_suggests_nearest() {
    assert_single(
        &[],
        &with_envs("imagse: {}\n"),
        (
            2,
            1,
            "imagse",
            "unknown key `imagse`",
            Some("did you mean `images`?"),
        ),
    );
}

#[test]
fn unknown_key_unlike_any_lists_the_allowed_keys() {
    assert_single(
        &[],
        &with_envs("zzz: 1\n"),
        (
            2,
            1,
            "zzz",
            "unknown key `zzz`",
            Some(
                "allowed keys are `app`, `registry`, `tag`, `allow-latest`, `extra-tags`, \
                 `registries`, `images`, `manifests`, `config`, `secrets`, `hooks`, `strategies`, \
                 `defaults`, \
                 `environments`",
            ),
        ),
    );
}

#[test]
fn unknown_nested_key_names_its_parent_path() {
    assert_single(
        &["Dockerfile"],
        &with_envs("registry: r.example.com\nimages:\n  api:\n    contxt: .\n"),
        (
            5,
            5,
            "images.api.contxt",
            "unknown key `contxt` in `images.api`",
            Some("did you mean `context`?"),
        ),
    );
}

#[test]
fn duplicate_environment_is_reported_at_second_occurrence() {
    let yaml = format!(
        "{}  dev:\n    cluster: sandbox\n    namespace: x\n",
        with_envs("")
    );
    assert_single(
        &[],
        &yaml,
        (
            6,
            3,
            "environments.dev",
            "duplicate key `dev` in `environments`",
            Some("`dev` is already set on line 3; remove one of them"),
        ),
    );
}

#[test]
fn duplicate_top_level_key_is_reported_at_second_occurrence() {
    assert_single(
        &[],
        &with_envs("app: other\n"),
        (
            2,
            1,
            "app",
            "duplicate key `app`",
            Some("`app` is already set on line 1; remove one of them"),
        ),
    );
}

#[test]
fn missing_app_is_reported_at_the_top_mapping() {
    assert_single(
        &[],
        &format!("# my app\n{ENVS}"),
        (
            2,
            1,
            "app",
            "missing required key `app`",
            Some("add `app: <name>` at the top"),
        ),
    );
}

#[test]
fn app_must_be_a_dns_label() {
    assert_single(
        &[],
        &format!("app: Honey_Due\n{ENVS}"),
        (
            1,
            6,
            "app",
            "`Honey_Due` is not a valid app name",
            Some(
                "use at most 63 lowercase letters, digits and `-`, starting and ending with a \
                 letter or digit",
            ),
        ),
    );
}

#[test]
fn wrong_type_names_what_was_expected_and_found() {
    assert_single(
        &[],
        &format!("app: [a, b]\n{ENVS}"),
        (1, 6, "app", "expected a string, found a list", None),
    );
}

#[test]
fn empty_value_points_at_its_key() {
    assert_single(
        &[],
        &format!("app:\n{ENVS}"),
        (
            1,
            1,
            "app",
            "expected a string, found nothing",
            Some("give `app` a value"),
        ),
    );
}

#[test]
fn missing_environments_is_reported() {
    assert_single(
        &[],
        "app: demo\n",
        (
            1,
            1,
            "environments",
            "missing required key `environments`",
            Some("add `environments:` with at least one environment"),
        ),
    );
}

#[test]
fn empty_environments_are_refused() {
    assert_single(
        &[],
        "app: demo\nenvironments: {}\n",
        (
            2,
            15,
            "environments",
            "no environments defined",
            Some("add at least one, e.g. `dev: { cluster: sandbox, namespace: <name> }`"),
        ),
    );
}

#[test]
fn environment_name_must_be_a_dns_label() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  Prod:\n    cluster: sandbox\n    namespace: p\n",
        (
            3,
            3,
            "environments.Prod",
            "`Prod` is not a valid environment name",
            Some(
                "use at most 63 lowercase letters, digits and `-`, starting and ending with a \
                 letter or digit",
            ),
        ),
    );
}

#[test]
fn environment_without_cluster_asks_for_one() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  dev:\n    namespace: demo-dev\n",
        (
            3,
            3,
            "environments.dev",
            "environment `dev` has no cluster",
            Some("add `cluster: sandbox`, `context: <kubeconfig context>` or `targets`"),
        ),
    );
}

#[test]
fn cluster_and_context_together_are_refused() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  dev:\n    cluster: sandbox\n    context: kind\n    namespace: d\n",
        (
            5,
            5,
            "environments.dev.context",
            "`context` cannot be used with `cluster`",
            Some("choose one of `cluster`, `context` and `targets`"),
        ),
    );
}

#[test]
fn cluster_accepts_only_sandbox() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  dev:\n    cluster: kind\n    namespace: d\n",
        (
            4,
            14,
            "environments.dev.cluster",
            "unknown cluster `kind`",
            Some("the only built-in cluster is `sandbox`; use `context` for a kubeconfig context"),
        ),
    );
}

#[test]
fn kubeconfig_without_context_is_refused() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  dev:\n    cluster: sandbox\n    kubeconfig: k.yaml\n    namespace: d\n",
        (
            5,
            5,
            "environments.dev.kubeconfig",
            "`kubeconfig` cannot be used with `cluster`",
            Some("`kubeconfig` goes with `context`; the sandbox needs none"),
        ),
    );
}

#[test]
fn namespace_and_namespaces_together_are_refused() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  dev:\n    cluster: sandbox\n    namespace: a\n    namespaces: [b]\n",
        (
            6,
            5,
            "environments.dev.namespaces",
            "`namespace` and `namespaces` cannot be used together",
            Some("list every namespace under `namespaces`"),
        ),
    );
}

#[test]
fn environment_without_namespace_is_reported_at_the_environment() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  dev:\n    cluster: sandbox\n",
        (
            3,
            3,
            "environments.dev.namespace",
            "environment `dev` has no namespace",
            Some("add `namespace: <name>` or `namespaces: [<name>, ...]`"),
        ),
    );
}

#[test]
fn namespace_names_must_be_dns_labels() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  dev:\n    cluster: sandbox\n    namespaces: [ok, Core_UAT]\n",
        (
            5,
            22,
            "environments.dev.namespaces[1]",
            "`Core_UAT` is not a valid namespace name",
            Some(
                "use at most 63 lowercase letters, digits and `-`, starting and ending with a \
                 letter or digit",
            ),
        ),
    );
}

#[test]
fn targets_refuse_environment_level_namespace() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  prod:\n    namespace: p\n    targets:\n      - { context: a, namespace: p }\n",
        (
            4,
            5,
            "environments.prod.namespace",
            "`namespace` cannot be used with `targets`",
            Some("set `namespace` on each target instead"),
        ),
    );
}

#[test]
fn target_without_cluster_is_reported_with_its_index() {
    assert_single(
        &[],
        "app: demo\nenvironments:\n  prod:\n    targets:\n      - { context: a, namespace: p }\n      - { namespace: p }\n",
        (
            6,
            9,
            "environments.prod.targets[1]",
            "target 1 has no cluster",
            Some("add `context: <kubeconfig context>` or `cluster: sandbox`"),
        ),
    );
}

#[test]
fn promote_from_unknown_environment_suggests_nearest() {
    assert_single(
        &[],
        &format!(
            "{}  prod:\n    context: aks\n    namespace: p\n    promote-from: deb\n",
            with_envs("")
        ),
        (
            9,
            19,
            "environments.prod.promote-from",
            "unknown environment `deb`",
            Some("did you mean `dev`?"),
        ),
    );
}

#[test]
fn promotion_cycle_is_reported_once_at_its_first_environment() {
    let yaml = "app: demo\nenvironments:\n  uat:\n    cluster: sandbox\n    namespace: u\n    promote-from: prod\n  prod:\n    cluster: sandbox\n    namespace: p\n    promote-from: uat\n";
    assert_single(
        &[],
        yaml,
        (
            6,
            19,
            "environments.uat.promote-from",
            "`promote-from` makes a cycle: `uat` → `prod` → `uat`",
            Some("an environment cannot promote, directly or indirectly, from itself"),
        ),
    );
}

#[test]
fn promoting_from_itself_is_a_cycle() {
    let yaml = "app: demo\nenvironments:\n  dev:\n    cluster: sandbox\n    namespace: d\n    promote-from: dev\n";
    assert_single(
        &[],
        yaml,
        (
            6,
            19,
            "environments.dev.promote-from",
            "`promote-from` makes a cycle: `dev` → `dev`",
            Some("an environment cannot promote, directly or indirectly, from itself"),
        ),
    );
}

#[test]
fn image_name_must_be_lowercase() {
    assert_single(
        &["Dockerfile"],
        &with_envs("registry: r.example.com\nimages:\n  Api: {}\n"),
        (
            4,
            3,
            "images.Api",
            "`Api` is not a valid image name",
            Some("use lowercase letters, digits and `-`, starting with a letter or digit"),
        ),
    );
}

#[test]
fn relative_repository_needs_a_registry() {
    assert_single(
        &["Dockerfile"],
        &with_envs("images:\n  api:\n    repository: team/api\n"),
        (
            4,
            17,
            "images.api.repository",
            "repository `team/api` of image `api` is relative and no `registry` is set",
            Some(
                "set a top-level `registry`, or write the full repository, e.g. \
                 `registry.example.com/team/api`",
            ),
        ),
    );
}

#[test]
fn repository_with_a_tag_is_refused() {
    assert_single(
        &["Dockerfile"],
        &with_envs("images:\n  api:\n    repository: localhost:5000/api:v1\n"),
        (
            4,
            17,
            "images.api.repository",
            "repository `localhost:5000/api:v1` includes a tag or digest",
            Some("leave the tag out; it comes from `tag`"),
        ),
    );
}

#[test]
fn files_image_refuses_dockerfile_keys() {
    assert_single(
        &["Dockerfile", "dist/"],
        &with_envs(
            "registry: r.example.com\nimages:\n  web:\n    dockerfile: Dockerfile\n    files:\n      copy: [{ src: dist/, dest: /www }]\n",
        ),
        (
            5,
            5,
            "images.web.dockerfile",
            "`dockerfile` cannot be used with `files`",
            Some("an image is built either from a Dockerfile or from `files`; remove one"),
        ),
    );
}

#[test]
fn missing_env_file_points_at_value() {
    assert_single(
        &[],
        &with_envs("config:\n  app-config:\n    env-file: deploy/prod.env\n"),
        (
            4,
            15,
            "config.app-config.env-file",
            "path `deploy/prod.env` does not exist",
            Some("paths are relative to the directory of the config file"),
        ),
    );
}

#[test]
fn missing_generator_file_is_reported_at_its_list_item() {
    assert_single(
        &["deploy/a.conf"],
        &with_envs(
            "config:\n  app-config:\n    files: [deploy/a.conf, \"b.conf=deploy/b.conf\"]\n",
        ),
        (
            4,
            28,
            "config.app-config.files[1]",
            "path `deploy/b.conf` does not exist",
            Some("paths are relative to the directory of the config file"),
        ),
    );
}

#[test]
fn context_that_is_a_file_is_refused() {
    assert_single(
        &["frontend"],
        &with_envs("registry: r.example.com\nimages:\n  web:\n    context: frontend\n"),
        (
            5,
            14,
            "images.web.context",
            "path `frontend` is not a directory",
            Some("`context` takes a directory"),
        ),
    );
}

#[test]
fn missing_default_dockerfile_points_at_the_context() {
    assert_single(
        &["frontend/"],
        &with_envs("registry: r.example.com\nimages:\n  web:\n    context: frontend\n"),
        (
            5,
            14,
            "images.web.context",
            "image `web` has no Dockerfile at `frontend/Dockerfile`",
            Some("add `dockerfile: <path>`, or describe the image with `files`"),
        ),
    );
}

#[test]
fn images_built_from_a_git_ref_skip_path_checks() {
    let project = Project::with_files(&[]);
    let config = project
        .load(&with_envs(
            "registry: r.example.com\nimages:\n  api:\n    context: backend\n    git-ref: origin/main\n",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.images[0].git_ref.as_deref(), Some("origin/main"));
}

#[test]
fn missing_copy_source_is_relative_to_the_context() {
    assert_single(
        &["site/"],
        &with_envs(
            "registry: r.example.com\nimages:\n  web:\n    context: site\n    files:\n      copy: [{ src: dist/, dest: /www }]\n",
        ),
        (
            7,
            21,
            "images.web.files.copy[0].src",
            "path `dist/` does not exist",
            Some("`src` is relative to the image's context `site`"),
        ),
    );
}

#[test]
fn copy_destination_must_be_absolute() {
    assert_single(
        &["dist/"],
        &with_envs(
            "registry: r.example.com\nimages:\n  web:\n    files:\n      copy: [{ src: dist/, dest: www }]\n",
        ),
        (
            6,
            34,
            "images.web.files.copy[0].dest",
            "`dest` must be an absolute path, found `www`",
            Some("write `/www`"),
        ),
    );
}

#[test]
fn invalid_port_is_reported() {
    assert_single(
        &[],
        &with_envs(
            "registry: r.example.com\nimages:\n  web:\n    files:\n      expose: [8080, 70000]\n",
        ),
        (
            6,
            22,
            "images.web.files.expose[1]",
            "invalid port `70000`",
            Some("write a number from 1 to 65535, optionally followed by `/tcp` or `/udp`"),
        ),
    );
}

#[test]
fn unknown_builder_suggests_nearest() {
    assert_single(
        &["Dockerfile"],
        &with_envs("registry: r.example.com\nimages:\n  api:\n    builder: dokcer\n"),
        (
            5,
            14,
            "images.api.builder",
            "unknown builder `dokcer`",
            Some("did you mean `docker`?"),
        ),
    );
}

#[test]
fn native_builder_refuses_dockerfile_images() {
    assert_single(
        &["Dockerfile"],
        &with_envs("registry: r.example.com\nimages:\n  api:\n    builder: native\n"),
        (
            5,
            14,
            "images.api.builder",
            "the `native` builder builds only `files` images",
            Some("use `auto`, `buildah`, `docker` or `podman`, or describe the image with `files`"),
        ),
    );
}

#[test]
fn invalid_platform_shows_the_expected_form() {
    assert_single(
        &["Dockerfile"],
        &with_envs("registry: r.example.com\nimages:\n  api:\n    platform: amd64\n"),
        (
            5,
            15,
            "images.api.platform",
            "invalid platform `amd64`",
            Some("write `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`"),
        ),
    );
}

#[test]
fn hook_image_must_name_an_image() {
    assert_single(
        &["Dockerfile"],
        &with_envs(
            "registry: r.example.com\nimages:\n  api: {}\nhooks:\n  migrate:\n    image: apii\n",
        ),
        (
            7,
            12,
            "hooks.migrate.image",
            "unknown image `apii`",
            Some("did you mean `api`?"),
        ),
    );
}

#[test]
fn hook_env_from_must_name_config_or_secrets() {
    assert_single(
        &["Dockerfile", "a.env"],
        &with_envs(
            "registry: r.example.com\nimages:\n  api: {}\nconfig:\n  app-config: { env-file: a.env }\nhooks:\n  migrate:\n    image: api\n    env-from: [app-config, app-secrets]\n",
        ),
        (
            10,
            28,
            "hooks.migrate.env-from[1]",
            "`app-secrets` is not in `config` or `secrets`",
            Some("did you mean `app-config`?"),
        ),
    );
}

#[test]
fn hook_command_items_must_be_strings() {
    assert_single(
        &["Dockerfile"],
        &with_envs(
            "registry: r.example.com\nimages:\n  api: {}\nhooks:\n  migrate:\n    image: api\n    command: [goose, 1]\n",
        ),
        (
            8,
            22,
            "hooks.migrate.command[1]",
            "expected a string, found a number",
            None,
        ),
    );
}

#[test]
fn hook_with_job_and_image_is_refused() {
    assert_single(
        &["job.yaml", "Dockerfile"],
        &with_envs(
            "registry: r.example.com\nimages:\n  api: {}\nhooks:\n  migrate:\n    job: job.yaml\n    image: api\n",
        ),
        (
            8,
            5,
            "hooks.migrate.image",
            "`image` cannot be used with `job`",
            Some(
                "a hook runs either a Job manifest (`job`) or a Job generated from an image \
                 (`image`)",
            ),
        ),
    );
}

#[test]
fn hook_without_job_or_image_is_refused() {
    assert_single(
        &[],
        &with_envs("hooks:\n  migrate:\n    timeout: 1m\n"),
        (
            3,
            3,
            "hooks.migrate",
            "hook `migrate` needs `job` or `image`",
            Some("set `job: <Job manifest file>`, or `image: <image name>` with `command`"),
        ),
    );
}

#[test]
fn unknown_hook_time_lists_the_choices() {
    assert_single(
        &["job.yaml"],
        &with_envs("hooks:\n  migrate:\n    job: job.yaml\n    when: before\n"),
        (
            5,
            11,
            "hooks.migrate.when",
            "unknown hook time `before`",
            Some("use one of `pre-deploy`, `post-deploy`"),
        ),
    );
}

#[test]
fn duration_without_unit_asks_for_one() {
    assert_single(
        &[],
        &with_envs("defaults:\n  timeout: 600\n"),
        (
            3,
            12,
            "defaults.timeout",
            "duration `600` has no unit",
            Some("add a unit, e.g. `600s`"),
        ),
    );
}

#[test]
fn settle_window_is_a_duration() {
    assert_single(
        &[],
        &with_envs("defaults:\n  settle: 30\n"),
        (
            3,
            11,
            "defaults.settle",
            "duration `30` has no unit",
            Some("add a unit, e.g. `30s`"),
        ),
    );
}

#[test]
fn duration_with_unknown_unit_is_refused() {
    assert_single(
        &[],
        &format!("{}    timeout: 2d\n", with_envs("")),
        (
            6,
            14,
            "environments.dev.timeout",
            "unknown unit `d` in duration `2d`",
            Some("use `h`, `m`, `s`, `ms`, `us` or `ns`, e.g. `36h` for a day and a half"),
        ),
    );
}

#[test]
fn boolean_keys_refuse_yes() {
    assert_single(
        &[],
        &format!("{}    production: yes\n", with_envs("")),
        (
            6,
            17,
            "environments.dev.production",
            "expected `true` or `false`, found a string",
            None,
        ),
    );
}

#[test]
fn unknown_dirty_policy_suggests_nearest() {
    assert_single(
        &[],
        &format!("{}    dirty: refuze\n", with_envs("")),
        (
            6,
            12,
            "environments.dev.dirty",
            "unknown dirty policy `refuze`",
            Some("did you mean `refuse`?"),
        ),
    );
}

#[test]
fn negative_crashloop_tolerance_is_refused() {
    assert_single(
        &[],
        &with_envs("defaults:\n  crashloop-tolerance: -1\n"),
        (
            3,
            24,
            "defaults.crashloop-tolerance",
            "expected a non-negative integer, found `-1`",
            None,
        ),
    );
}

#[test]
fn unknown_rule_level_is_refused() {
    assert_single(
        &[],
        &with_envs("defaults:\n  rules:\n    pdb-missing: fatal\n"),
        (
            4,
            18,
            "defaults.rules.pdb-missing",
            "unknown rule level `fatal`",
            Some("use one of `error`, `warning`, `off`"),
        ),
    );
}

#[test]
fn unknown_kustomize_mode_is_refused() {
    assert_single(
        &["k8s/"],
        &with_envs("manifests:\n  path: k8s\n  kustomize: kubectll\n"),
        (
            4,
            14,
            "manifests.kustomize",
            "unknown kustomize mode `kubectll`",
            Some("did you mean `kubectl`?"),
        ),
    );
}

#[test]
fn overlay_needs_top_level_manifests() {
    assert_single(
        &["overlays/dev/"],
        &format!("{}    overlay: overlays/dev\n", with_envs("")),
        (
            6,
            5,
            "environments.dev.overlay",
            "`overlay` needs top-level `manifests`",
            Some("add `manifests: <directory>` at the top level; the overlay builds on it"),
        ),
    );
}

#[test]
fn unknown_credentials_source_suggests_nearest() {
    assert_single(
        &[],
        &with_envs("registries:\n  r.example.com:\n    credentials: docker\n"),
        (
            4,
            18,
            "registries.r.example.com.credentials",
            "unknown credentials source `docker`",
            Some("did you mean `docker-config`?"),
        ),
    );
}

#[test]
fn registry_with_scheme_is_refused() {
    assert_single(
        &[],
        &with_envs("registry: https://r.example.com/team\n"),
        (
            2,
            11,
            "registry",
            "registry `https://r.example.com/team` has a scheme",
            Some(
                "leave out `https://`, e.g. `r.example.com/team`; use `registries` to allow plain HTTP",
            ),
        ),
    );
}

#[test]
fn unknown_tag_placeholder_suggests_nearest() {
    assert_single(
        &[],
        &with_envs("tag: \"{timestmp}-{git.short_sha}\"\n"),
        (
            2,
            6,
            "tag",
            "unknown placeholder `{timestmp}` in tag template",
            Some("did you mean `{timestamp}`?"),
        ),
    );
}

#[test]
fn tag_template_without_placeholder_is_refused() {
    assert_single(
        &[],
        &with_envs("tag: v1\n"),
        (
            2,
            6,
            "tag",
            "tag template `v1` has no placeholder, so every build would get the same tag",
            Some(
                "add `{git.short_sha}` or `{timestamp}`, e.g. `v1-{git.short_sha}`; fixed tags \
                 go in `extra-tags`",
            ),
        ),
    );
}

#[test]
fn latest_tag_template_is_refused_unless_allowed() {
    assert_single(
        &[],
        &with_envs("tag: latest\n"),
        (
            2,
            6,
            "tag",
            "tag template `latest` gives every build the same tag",
            Some(
                "use a unique tag and list `latest` in `extra-tags`, or set `allow-latest: true` \
                 to release as `latest` (deploys still pin the image by digest)",
            ),
        ),
    );
}

#[test]
fn allow_latest_permits_latest_only() {
    assert_single(
        &[],
        &with_envs("allow-latest: true\ntag: stable\n"),
        (
            3,
            6,
            "tag",
            "tag template `stable` has no placeholder, so every build would get the same tag",
            Some(
                "add `{git.short_sha}` or `{timestamp}`, e.g. `stable-{git.short_sha}`; fixed \
                 tags go in `extra-tags`",
            ),
        ),
    );
}

#[test]
fn allow_latest_must_be_a_boolean() {
    assert_single(
        &[],
        &with_envs("allow-latest: sometimes\n"),
        (
            2,
            15,
            "allow-latest",
            "expected `true` or `false`, found a string",
            None,
        ),
    );
}

#[test]
fn invalid_extra_tag_is_reported_at_its_item() {
    assert_single(
        &[],
        &with_envs("extra-tags: [latest, -rc]\n"),
        (
            2,
            22,
            "extra-tags[1]",
            "tag `-rc` starts with `-`",
            Some("a tag must start with a letter, a digit or `_`"),
        ),
    );
}

#[test]
fn secret_from_env_needs_variable_names() {
    assert_single(
        &[],
        &with_envs("secrets:\n  s:\n    from-env: [SECRET-KEY]\n"),
        (
            4,
            16,
            "secrets.s.from-env[0]",
            "`SECRET-KEY` is not a valid environment variable name",
            Some(
                "environment variable names are letters, digits and `_`, not starting with a \
                 digit",
            ),
        ),
    );
}

#[test]
fn generator_without_data_is_refused() {
    assert_single(
        &[],
        &with_envs("config:\n  empty: {}\n"),
        (
            3,
            3,
            "config.empty",
            "`empty` has no data",
            Some("add `env-file`, `literals` or `files`"),
        ),
    );
}

#[test]
fn generator_only_an_environment_defines_without_data_is_refused() {
    assert_single(
        &[],
        &format!("app: demo\n{ENVS}    config:\n      extra: {{}}\n"),
        (
            7,
            7,
            "environments.dev.config.extra",
            "`extra` has no data",
            Some("add `env-file`, `literals` or `files`"),
        ),
    );
}

#[test]
fn secret_only_an_environment_defines_without_data_is_refused() {
    assert_single(
        &[],
        &format!("app: demo\n{ENVS}    secrets:\n      creds: {{ type: Opaque }}\n"),
        (
            7,
            7,
            "environments.dev.secrets.creds",
            "`creds` has no data",
            Some("add `env-file`, `from-env` or `files`"),
        ),
    );
}

#[test]
fn yaml_syntax_error_at_end_of_file_points_at_the_last_line() {
    assert_single(
        &[],
        "app: demo\nenvironments: [dev\n",
        (
            2,
            19,
            "",
            "invalid YAML: while parsing a flow sequence, expected ',' or ']'",
            None,
        ),
    );
}

#[test]
fn yaml_syntax_error_inside_the_file_keeps_the_parser_position() {
    assert_single(
        &[],
        "app: demo\nenvironments: x: y\n",
        (
            2,
            16,
            "",
            "invalid YAML: mapping values are not allowed in this context",
            None,
        ),
    );
}

#[test]
fn more_than_one_document_is_refused() {
    assert_single(
        &[],
        &format!("{}---\napp: other\n", with_envs("")),
        (
            7,
            1,
            "",
            "the config file has more than one YAML document",
            Some("remove the `---` separators; `slipway.yaml` is a single document"),
        ),
    );
}

#[test]
fn empty_file_asks_for_a_mapping() {
    assert_single(
        &[],
        "# nothing yet\n",
        (
            1,
            1,
            "",
            "expected a mapping at the top level, found nothing",
            Some("start with `app: <name>` and `environments:`"),
        ),
    );
}

#[test]
fn five_mistakes_give_five_diagnostics() {
    let yaml = "\
app: Demo
imagse: {}
defaults:
  timeout: soon
environments:
  dev:
    cluster: sandbox
    namespace: dev
    dirty: maybe
  dev:
    cluster: sandbox
    namespace: x
";
    let d = diagnostics(&[], yaml);
    let found: Vec<(usize, usize, &str)> = d
        .items
        .iter()
        .map(|i| (i.line, i.column, i.key.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (1, 6, "app"),
            (2, 1, "imagse"),
            (4, 12, "defaults.timeout"),
            (9, 12, "environments.dev.dirty"),
            (10, 3, "environments.dev"),
        ]
    );
    assert_diag(
        &d.items[2],
        (
            4,
            12,
            "defaults.timeout",
            "invalid duration `soon`",
            Some("write durations like `90s`, `10m`, `1h30m` or `500ms`"),
        ),
    );
}

#[test]
fn display_prints_one_line_per_problem_with_the_file_name() {
    let err = slipway_config::parse(
        "app: demo\nimagse: {}\nenvironments:\n  dev:\n    cluster: sandbox\n",
        std::path::Path::new("slipway.yaml"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "slipway.yaml:2:1: unknown key `imagse` (hint: did you mean `images`?)\n\
         slipway.yaml:4:3: environment `dev` has no namespace (hint: add `namespace: <name>` \
         or `namespaces: [<name>, ...]`)"
    );
}

#[test]
fn render_shows_a_snippet_with_a_hint() {
    let err = slipway_config::parse(
        "app: demo\nregistri: r.example.com\nenvironments:\n  dev:\n    cluster: sandbox\n    namespace: dev\n",
        std::path::Path::new("slipway.yaml"),
    )
    .unwrap_err();
    let LoadError::Invalid(d) = err else {
        panic!("{err}")
    };
    assert_eq!(
        d.render(false),
        "\
error: unknown key `registri`
 --> slipway.yaml:2:1
  |
2 | registri: r.example.com
  | ^^^^^^^^
  |
  = hint: did you mean `registry`?"
    );
}

#[test]
fn unreadable_file_is_an_io_error() {
    let project = Project::with_files(&[]);
    let err = slipway_config::load(&project.path("missing.yaml")).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err}");
    assert!(err.to_string().starts_with("cannot read `"), "{err}");
}

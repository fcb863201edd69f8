//! `manifests` as a Helm chart: the keys load into the model, an environment's `chart`
//! adds to it, and every mistake is named at its line, column and key.

mod common;

use common::{Project, assert_diag, assert_single, diagnostics};
use slipway_config::{ChartImage, ChartSet};

const FILES: &[&str] = &[
    "deploy/chart/Chart.yaml",
    "deploy/values.yaml",
    "deploy/values-prod.yaml",
    "chart-1.0.0.tgz",
    "k8s/",
];

fn config(manifests: &str, prod: &str) -> String {
    format!(
        "app: shop\n\
         registry: r.example.com/shop\n\
         images:\n\
         \x20 api: {{ files: {{ base: scratch }} }}\n\
         \x20 worker: {{ files: {{ base: scratch }} }}\n\
         manifests:\n\
         {manifests}\
         environments:\n\
         \x20 dev:\n\
         \x20   cluster: sandbox\n\
         \x20   namespace: shop-dev\n\
         \x20 prod:\n\
         \x20   cluster: sandbox\n\
         \x20   namespace: shop\n\
         {prod}"
    )
}

#[test]
fn a_chart_with_values_set_and_images_loads_and_environments_add_to_it() {
    let project = Project::with_files(FILES);
    let yaml = config(
        "  chart: deploy/chart\n\
         \x20 release: web\n\
         \x20 values: [deploy/values.yaml]\n\
         \x20 set: { replicaCount: 2, image.pullPolicy: Always, \"hosts[0]\": { name: a.example, tls: true }, ratio: 0.5 }\n\
         \x20 images:\n\
         \x20   api: image\n\
         \x20   worker: { repository: worker.image.repo, tag: worker.image.tag }\n",
        "    chart:\n\
         \x20     values: [deploy/values-prod.yaml]\n\
         \x20     set: { replicaCount: 5 }\n",
    );
    let config = project.load(&yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.manifests, None);
    let chart = config.chart.clone().unwrap();
    assert_eq!(chart.path, project.path("deploy/chart"));
    assert_eq!(chart.release, "web");
    assert_eq!(chart.values, [project.path("deploy/values.yaml")]);
    let set = |key: &str, json: &str| ChartSet {
        key: key.into(),
        json: json.into(),
    };
    assert_eq!(
        chart.set,
        [
            set("replicaCount", "2"),
            set("image.pullPolicy", "\"Always\""),
            set("hosts[0]", r#"{"name":"a.example","tls":true}"#),
            set("ratio", "0.5"),
        ]
    );
    assert_eq!(
        chart.images,
        [
            ChartImage {
                image: "api".into(),
                repository: Some("image.repository".into()),
                tag: Some("image.tag".into()),
                digest: Some("image.digest".into()),
                digest_if_declared: true,
                reference: None,
            },
            ChartImage {
                image: "worker".into(),
                repository: Some("worker.image.repo".into()),
                tag: Some("worker.image.tag".into()),
                digest: None,
                digest_if_declared: false,
                reference: None,
            },
        ]
    );
    let dev = config.environment("dev").unwrap();
    assert_eq!(dev.chart.as_ref(), Some(&chart));
    let prod = config.environment("prod").unwrap().chart.clone().unwrap();
    assert_eq!(
        prod.values,
        [
            project.path("deploy/values.yaml"),
            project.path("deploy/values-prod.yaml")
        ]
    );
    assert_eq!(prod.set.last(), Some(&set("replicaCount", "5")));
    assert_eq!(prod.set.len(), 5);
}

#[test]
fn a_packaged_chart_loads_and_the_release_defaults_to_the_app() {
    let project = Project::with_files(FILES);
    let config = project
        .load(&config("  chart: chart-1.0.0.tgz\n", ""))
        .unwrap_or_else(|e| panic!("{e}"));
    let chart = config.chart.unwrap();
    assert_eq!(chart.path, project.path("chart-1.0.0.tgz"));
    assert_eq!(chart.release, "shop");
    assert!(chart.values.is_empty() && chart.set.is_empty() && chart.images.is_empty());
}

#[test]
fn a_folder_without_chart_yaml_is_not_a_chart() {
    assert_single(
        FILES,
        &config("  chart: k8s\n", ""),
        (
            7,
            10,
            "manifests.chart",
            "`k8s` holds no `Chart.yaml`",
            Some(
                "`chart` takes a chart folder (with `Chart.yaml`) or a packaged `.tgz`, relative to the directory of the config file",
            ),
        ),
    );
}

#[test]
fn a_missing_chart_is_named() {
    assert_single(
        FILES,
        &config("  chart: deploy/chrt\n", ""),
        (
            7,
            10,
            "manifests.chart",
            "path `deploy/chrt` does not exist",
            Some("paths are relative to the directory of the config file"),
        ),
    );
}

#[test]
fn path_and_chart_together_are_refused() {
    assert_single(
        FILES,
        &config("  chart: deploy/chart\n  path: k8s\n", ""),
        (
            8,
            3,
            "manifests.path",
            "`path` cannot be used with `chart`",
            Some("`manifests` is either a directory (`path`) or a Helm chart (`chart`)"),
        ),
    );
}

#[test]
fn chart_keys_need_a_chart() {
    assert_single(
        FILES,
        &config("  path: k8s\n  values: [deploy/values.yaml]\n", ""),
        (
            8,
            3,
            "manifests.values",
            "`values` needs `chart`",
            Some(
                "`release`, `values`, `set` and `images` are the keys of a Helm chart: add `chart: <folder or .tgz>` instead of `path`",
            ),
        ),
    );
}

#[test]
fn every_mistake_of_a_chart_is_named_at_once() {
    let d = diagnostics(
        FILES,
        &config(
            "  chart: deploy/chart\n\
             \x20 release: Web_1\n\
             \x20 values: [deploy/missing.yaml]\n\
             \x20 set: { \"a=b\": 1 }\n\
             \x20 images:\n\
             \x20   apii: image\n\
             \x20   worker: { repo: x }\n\
             \x20   api: { }\n",
            "",
        ),
    );
    assert_eq!(d.items.len(), 6, "{d}");
    assert_diag(
        &d.items[0],
        (
            8,
            12,
            "manifests.release",
            "`Web_1` is not a valid release name",
            Some(
                "a release name is at most 53 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
            ),
        ),
    );
    assert_diag(
        &d.items[1],
        (
            9,
            12,
            "manifests.values[0]",
            "path `deploy/missing.yaml` does not exist",
            Some("paths are relative to the directory of the config file"),
        ),
    );
    assert_diag(
        &d.items[2],
        (
            10,
            10,
            "manifests.set.a=b",
            "`a=b` is not a value path",
            Some(
                "write a key path as for `--set`, e.g. `image.tag` or `hosts[0].name`, without `=`, `,` or spaces",
            ),
        ),
    );
    assert_diag(
        &d.items[3],
        (
            12,
            5,
            "manifests.images.apii",
            "unknown image `apii`",
            Some("did you mean `api`?"),
        ),
    );
    assert_diag(
        &d.items[4],
        (
            13,
            15,
            "manifests.images.worker.repo",
            "unknown key `repo` in `manifests.images.worker`",
            Some("did you mean `repository`?"),
        ),
    );
    assert_diag(
        &d.items[5],
        (
            14,
            5,
            "manifests.images.api",
            "`api` names no chart value",
            Some(
                "add `repository` and `tag` (and `digest`), or `reference`, each the path of a value of the chart",
            ),
        ),
    );
}

#[test]
fn an_environment_chart_needs_a_top_level_chart_and_an_overlay_cannot_build_on_one() {
    assert_single(
        FILES,
        &config("  path: k8s\n", "    chart: { set: { a: 1 } }\n"),
        (
            15,
            5,
            "environments.prod.chart",
            "`chart` needs a chart in top-level `manifests`",
            Some(
                "set `manifests.chart: <folder or .tgz>` at the top level; an environment's `chart` adds values to it",
            ),
        ),
    );
    assert_single(
        FILES,
        &config("  chart: deploy/chart\n", "    overlay: k8s\n"),
        (
            15,
            5,
            "environments.prod.overlay",
            "`overlay` cannot build on a Helm chart",
            Some("give the environment its own values with `chart: { values: [...], set: {...} }`"),
        ),
    );
    assert_single(
        FILES,
        &config("  chart: deploy/chart\n", "    chart: { images: {} }\n"),
        (
            15,
            14,
            "environments.prod.chart.images",
            "unknown key `images` in `environments.prod.chart`",
            Some("allowed keys are `release`, `values`, `set`"),
        ),
    );
}

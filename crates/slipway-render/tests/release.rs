//! An environment's release rendered from a real `slipway.yaml` on disk: configuration
//! with content-hashed names that roll exactly the workloads using it, pinned images,
//! labels and namespaces.

use std::fs;
use std::path::Path;

use serde_json::Value;
use slipway_render::ImagePin;
use slipway_render::release::{Rendered, render_environment};

const CONFIG: &str = "\
app: shop
registry: registry.example.com/shop
images:
  api:
    files:
      copy: [{ src: app.txt, dest: /app.txt }]
  web:
    files:
      copy: [{ src: app.txt, dest: /app.txt }]
manifests: k8s
config:
  api-config:
    env-file: api.env
environments:
  prod:
    context: prod
    namespace: shop
";

fn deployment(name: &str, uses_config: bool) -> String {
    let env_from = if uses_config {
        "          envFrom:\n            - configMapRef: { name: api-config }\n"
    } else {
        ""
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  selector:\n    matchLabels: {{ app: {name} }}\n  template:\n    metadata:\n      labels: {{ app: {name} }}\n    spec:\n      containers:\n        - name: {name}\n          image: {name}\n{env_from}"
    )
}

fn project(env_file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("slipway.yaml"), CONFIG).unwrap();
    fs::write(root.join("app.txt"), "x").unwrap();
    fs::write(root.join("api.env"), env_file).unwrap();
    fs::create_dir(root.join("k8s")).unwrap();
    fs::write(root.join("k8s/api.yaml"), deployment("api", true)).unwrap();
    fs::write(root.join("k8s/web.yaml"), deployment("web", false)).unwrap();
    dir
}

fn render(root: &Path) -> Rendered {
    let config = slipway_config::load(&root.join("slipway.yaml")).unwrap();
    let env = config.environment("prod").unwrap().clone();
    let pins = vec![
        ImagePin {
            name: "api".into(),
            repository: "registry.example.com/shop/api".into(),
            reference: format!("registry.example.com/shop/api:1@sha256:{}", "a".repeat(64)),
        },
        ImagePin {
            name: "web".into(),
            repository: "registry.example.com/shop/web".into(),
            reference: format!("registry.example.com/shop/web:1@sha256:{}", "b".repeat(64)),
        },
    ];
    render_environment(
        &config,
        &env,
        "shop",
        &pins,
        &|_| None,
        &[7; 32],
        Default::default(),
    )
    .unwrap()
}

fn object<'a>(r: &'a Rendered, kind: &str, name_prefix: &str) -> &'a Value {
    &r.objects
        .iter()
        .find(|o| o.kind() == kind && o.name().starts_with(name_prefix))
        .unwrap()
        .value
}

#[test]
fn changing_one_config_value_rolls_exactly_the_workloads_that_use_it() {
    let before = render(project("LOG_LEVEL=info\n").path());
    let after = render(project("LOG_LEVEL=debug\n").path());

    let name = |r: &Rendered| {
        object(r, "ConfigMap", "api-config")
            .pointer("/metadata/name")
            .cloned()
            .unwrap()
    };
    assert_ne!(
        name(&before),
        name(&after),
        "the hash in the name follows the content"
    );

    let template = |r: &Rendered, d: &str| {
        object(r, "Deployment", d)
            .pointer("/spec/template")
            .cloned()
            .unwrap()
    };
    assert_ne!(
        template(&before, "api"),
        template(&after, "api"),
        "api uses the config: it rolls"
    );
    assert_eq!(
        template(&before, "web"),
        template(&after, "web"),
        "web does not: it stays"
    );
    assert_eq!(
        object(&after, "Deployment", "api")
            .pointer("/spec/template/spec/containers/0/envFrom/0/configMapRef/name"),
        Some(&name(&after))
    );
}

#[test]
fn images_are_pinned_and_objects_labelled_and_namespaced() {
    let r = render(project("A=1\n").path());
    let api = object(&r, "Deployment", "api");
    assert_eq!(
        api.pointer("/spec/template/spec/containers/0/image")
            .unwrap(),
        &Value::String(format!(
            "registry.example.com/shop/api:1@sha256:{}",
            "a".repeat(64)
        ))
    );
    for o in &r.objects {
        let labels = o.value.pointer("/metadata/labels").unwrap();
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "slipway",
            "{}",
            o.name()
        );
        assert_eq!(labels["app.kubernetes.io/part-of"], "shop");
        assert_eq!(
            labels["applyset.kubernetes.io/part-of"],
            Value::String(r.applyset_id.clone())
        );
        assert_eq!(o.value.pointer("/metadata/namespace").unwrap(), "shop");
    }
    assert!(r.pins.foreign.is_empty(), "{:?}", r.pins.foreign);
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let dir = project("A=1\n");
    assert_eq!(render(dir.path()).to_yaml(), render(dir.path()).to_yaml());
}

#[test]
fn objects_read_from_files_keep_their_documents_and_generated_ones_have_none() {
    let dir = project("A=1\n");
    let r = render(dir.path());
    let api = r
        .objects
        .iter()
        .find(|o| o.kind() == "Deployment" && o.name() == "api")
        .unwrap();
    let document = api
        .source
        .document
        .as_ref()
        .expect("read from k8s/api.yaml");
    // The document is the file as written: the image before pinning, no namespace.
    let image = document
        .node()
        .get("spec")
        .and_then(|n| n.get("template"))
        .and_then(|n| n.get("spec"))
        .and_then(|n| n.get("containers"))
        .and_then(|n| n.items())
        .and_then(|items| items[0].get("image"))
        .unwrap();
    assert_eq!((image.as_str(), image.line), (Some("api"), 14));
    assert!(
        document
            .node()
            .get("metadata")
            .unwrap()
            .get("namespace")
            .is_none()
    );
    let config = r.objects.iter().find(|o| o.kind() == "ConfigMap").unwrap();
    assert_eq!(config.source.document, None);
}

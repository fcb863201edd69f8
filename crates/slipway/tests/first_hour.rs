//! The first hour on a real application, through the binary: `init` → `validate` →
//! `deploy` → change → `deploy` → `rollback` → `uninstall` on a repository shaped like a
//! real microservices application (Dockerfiles of several languages, manifests in a
//! folder of their own, a kustomize tree with components, a `skaffold.yaml`, images of
//! other registries given by tag), with no edit to the `slipway.yaml` that `init` writes.

mod common;

use std::fs;

use common::microservices::{Buildah, buildable_microservices};
use common::{Project, text};

/// The image `deployment` runs in `shop-dev`.
fn running(project: &Project, deployment: &str) -> String {
    let (code, image, err) = text(&project.kubectl(&[
        "-n",
        "shop-dev",
        "get",
        &format!("deployment/{deployment}"),
        "-o=jsonpath={.spec.template.spec.containers[0].image}",
    ]));
    assert_eq!(code, 0, "{err}");
    image
}

#[test]
fn init_validate_deploy_change_deploy_rollback_uninstall() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    let root = project.path();
    buildable_microservices(root);
    let buildah = Buildah::new();
    let slipway = |args: &[&str]| {
        let (code, out, err) = text(&buildah.slipway(root, args));
        assert_eq!(code, 0, "slipway {args:?}:\n{out}\n{err}");
        (out, err)
    };

    slipway(&["init"]);
    let written = fs::read_to_string(root.join("slipway.yaml")).unwrap();
    common::git(root, &["add", "slipway.yaml"]);
    common::git(root, &["commit", "-q", "-m", "slipway"]);
    let (_, err) = slipway(&["validate", "dev"]);
    assert!(err.contains(" 0 error(s)"), "{err}\n{written}");

    slipway(&["deploy", "dev", "--build"]);
    let first_frontend = running(&project, "frontend");
    let first_cart = running(&project, "cartservice");
    assert!(first_frontend.contains("@sha256:"), "{first_frontend}");
    assert_eq!(running(&project, "redis-cart"), "redis:7.2-alpine");

    // A change to one service: only its image changes.
    fs::write(
        root.join("src/frontend/main.go"),
        "package main\n\nfunc main() { println(\"v2\") }\n",
    )
    .unwrap();
    common::git(root, &["commit", "-q", "-am", "frontend v2"]);
    slipway(&["deploy", "dev", "--build"]);
    let second_frontend = running(&project, "frontend");
    assert_ne!(second_frontend, first_frontend);
    assert_eq!(running(&project, "cartservice"), first_cart);
    let (history, _) = slipway(&["history", "dev"]);
    assert!(
        history
            .lines()
            .filter(|l| l.contains("deployed") || l.contains("superseded"))
            .count()
            >= 2,
        "{history}"
    );

    slipway(&["rollback", "dev"]);
    assert_eq!(running(&project, "frontend"), first_frontend);

    slipway(&["uninstall", "dev", "--yes"]);
    let (_, names, err) = text(&project.kubectl(&[
        "-n",
        "shop-dev",
        "get",
        "deployments,services,configmaps,serviceaccounts",
        "-l",
        "app.kubernetes.io/managed-by=slipway",
        "-o",
        "name",
    ]));
    assert!(
        names.trim().is_empty(),
        "left after uninstall:\n{names}\n{err}"
    );
    let (history, _) = slipway(&["history", "dev"]);
    assert!(
        history.lines().count() >= 3,
        "the records stay for history:\n{history}"
    );
}

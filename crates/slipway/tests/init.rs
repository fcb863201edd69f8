//! `slipway init` through the binary on a repository shaped like a real microservices
//! application: services in five languages under `src/`, plain manifests in
//! `kubernetes-manifests/`, a `kustomize/` tree with components, and a `skaffold.yaml`
//! naming every artifact. The file `init` writes must validate as it is.

mod common;

use std::fs;

use common::microservices::{Buildah, buildable_microservices, microservices};
use common::{slipway, text};

#[test]
fn init_on_a_microservices_repository_writes_a_file_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    fs::create_dir(&root).unwrap();
    microservices(&root);

    let (code, _, err) = text(&slipway(&root, &["init"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("left out `src/emailservice/Dockerfile.debug`: a variant of `src/emailservice/Dockerfile`"),
        "{err}"
    );
    let written = fs::read_to_string(root.join("slipway.yaml")).unwrap();
    let config = slipway_config::load(&root.join("slipway.yaml"))
        .unwrap_or_else(|e| panic!("{e:?}\n{written}"));

    // Every artifact of skaffold.yaml is an image, named as the manifests run it, and
    // only those: no image named after a `src` folder, none for `Dockerfile.debug`.
    let mut names: Vec<&str> = config.images.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "adservice",
            "cartservice",
            "currencyservice",
            "emailservice",
            "frontend",
            "loadgenerator"
        ],
        "{written}"
    );
    let cart = config
        .images
        .iter()
        .find(|i| i.name == "cartservice")
        .unwrap();
    assert_eq!(cart.context, root.join("src/cartservice/src"), "{written}");
    assert!(!written.contains("Dockerfile.debug\n"), "{written}");

    // The images slipway builds go to the sandbox's registry on loopback.
    for image in &config.images {
        let host = image.repository.split('/').next().unwrap();
        let addr: std::net::SocketAddr = host
            .parse()
            .unwrap_or_else(|_| panic!("`{}` is not on loopback:\n{written}", image.repository));
        assert!(addr.ip().is_loopback(), "{written}");
        assert!(
            image.repository.ends_with(&format!("/shop/{}", image.name)),
            "{written}"
        );
    }
    // The manifests skaffold deploys; the kustomize tree is named as the other choice.
    assert!(
        written.contains("\nmanifests: kubernetes-manifests\n"),
        "{written}"
    );
    assert!(written.contains("# manifests: kustomize"), "{written}");
    // The cache is run as it is, from Docker Hub, and said so.
    assert!(
        written.contains("#   redis:7.2-alpine (kubernetes-manifests/redis.yaml)\n"),
        "{written}"
    );
    assert!(
        written.contains("#   busybox:1.36 (kubernetes-manifests/loadgenerator.yaml)\n"),
        "{written}"
    );
    assert!(!written.contains("redis-cart:\n"), "{written}");
    // What to change for a real cluster is said where the registry is.
    assert!(written.contains("real cluster"), "{written}");

    let (code, _, err) = text(&slipway(&root, &["validate", "dev"]));
    assert_eq!(code, 0, "{err}\n{written}");
    assert!(err.contains(" 0 error(s)"), "{err}");

    // The other manifests its comments name validate too, with the edit they ask for.
    let edited = written.replace(
        "\nmanifests: kubernetes-manifests\n",
        "\nmanifests: kustomize\n",
    );
    fs::write(root.join("slipway.yaml"), edited).unwrap();
    let (code, _, err) = text(&slipway(&root, &["validate", "dev"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(" 0 error(s)"), "{err}");
}

#[test]
fn init_on_a_microservices_repository_deploys_to_the_sandbox_with_build() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = common::Project {
        dir: tempfile::tempdir().unwrap(),
    };
    let root = project.path();
    buildable_microservices(root);
    let buildah = Buildah::new();

    let (code, _, err) = text(&buildah.slipway(root, &["init"]));
    assert_eq!(code, 0, "{err}");
    let written = fs::read_to_string(root.join("slipway.yaml")).unwrap();

    let (code, out, err) = text(&buildah.slipway(root, &["deploy", "dev", "--build"]));
    assert_eq!(code, 0, "{out}\n{err}\n{written}");
    // Every service runs the image just built, pinned by digest from the sandbox's
    // registry; the cache runs as the manifests say.
    let config = slipway_config::load(&root.join("slipway.yaml")).unwrap();
    for image in &config.images {
        let deployment = format!("deployment/{}", image.name);
        let jsonpath = "-o=jsonpath={.spec.template.spec.containers[0].image}";
        let (code, running, err) =
            text(&project.kubectl(&["-n", "shop-dev", "get", &deployment, jsonpath]));
        assert_eq!(code, 0, "{err}");
        assert!(
            running.starts_with(&format!("{}:", image.repository)) && running.contains("@sha256:"),
            "{deployment} runs {running}"
        );
    }
    let (_, running, err) = text(&project.kubectl(&[
        "-n",
        "shop-dev",
        "get",
        "deployment/redis-cart",
        "-o=jsonpath={.spec.template.spec.containers[0].image}",
    ]));
    assert_eq!(running, "redis:7.2-alpine", "{err}");
}

#[test]
fn a_skaffold_file_that_is_not_yaml_is_named_with_its_line_and_the_dockerfiles_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    fs::create_dir(&root).unwrap();
    microservices(&root);
    fs::write(
        root.join("skaffold.yaml"),
        "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts: [\n",
    )
    .unwrap();

    let (code, out, err) = text(&slipway(&root, &["init", "--print"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: `skaffold.yaml`:5:1: "),
        "the file and line of the problem: {err}"
    );
    assert!(
        err.contains("the images were guessed from the Dockerfiles"),
        "{err}"
    );
    // The Dockerfiles still give every service, named after it.
    for name in ["frontend", "cartservice", "emailservice", "loadgenerator"] {
        assert!(out.contains(&format!("\n  {name}:\n")), "{name}:\n{out}");
    }
    assert!(!root.join("slipway.yaml").exists());
}

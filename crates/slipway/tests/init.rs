//! `slipway init` through the binary on a repository shaped like a real microservices
//! application: services in five languages under `src/`, plain manifests in
//! `kubernetes-manifests/`, a `kustomize/` tree with components, and a `skaffold.yaml`
//! naming every artifact. The file `init` writes must validate as it is.

mod common;

use std::fs;
use std::path::Path;

use common::{slipway, text};

/// A ServiceAccount, a Deployment and a Service for `name`, running `image` as written.
fn service(name: &str, image: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  \
         selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      \
         labels:\n        app: {name}\n    spec:\n      serviceAccountName: {name}\n      \
         containers:\n        - name: server\n          \
         image: {image}\n          ports:\n            - containerPort: {port}\n          \
         readinessProbe:\n            tcpSocket:\n              port: {port}\n          \
         resources:\n            requests: {{cpu: 100m, memory: 64Mi}}\n            \
         limits: {{memory: 128Mi}}\n          securityContext:\n            runAsNonRoot: true\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  \
         selector:\n    app: {name}\n  ports:\n    - port: {port}\n      targetPort: {port}\n"
    )
}

const SKAFFOLD: &str = "\
apiVersion: skaffold/v4beta11
kind: Config
metadata:
  name: app
build:
  artifacts:
    # bare image names: the registry is chosen where the images are pushed
    - image: emailservice
      context: src/emailservice
    - image: frontend
      context: src/frontend
    - image: cartservice
      context: src/cartservice/src
      docker:
        dockerfile: Dockerfile
    - image: currencyservice
      context: src/currencyservice
    - image: adservice
      context: src/adservice
  tagPolicy:
    gitCommit: {}
  local:
    useBuildkit: false
manifests:
  kustomize:
    paths:
      - kubernetes-manifests
deploy:
  kubectl: {}
profiles:
  - name: debug
    activation:
      - command: debug
    patches:
      - op: replace
        path: /build/artifacts/0/docker/dockerfile
        value: Dockerfile.debug
---
apiVersion: skaffold/v4beta11
kind: Config
metadata:
  name: loadgenerator
requires:
  - configs: [app]
build:
  artifacts:
    - image: loadgenerator
      context: src/loadgenerator
manifests:
  rawYaml:
    - ./kubernetes-manifests/loadgenerator.yaml
deploy:
  kubectl: {}
";

/// Writes the repository: sources and Dockerfiles, manifests, a kustomize tree, skaffold.
fn microservices(root: &Path) {
    let mut files: Vec<(String, String)> = vec![
        // Go.
        (
            "src/frontend/Dockerfile".into(),
            "FROM golang:1.22-alpine AS builder\nWORKDIR /src\nCOPY go.mod ./\nRUN go mod download\n\
             COPY . .\nARG SKAFFOLD_GO_GCFLAGS\nRUN go build -gcflags=\"${SKAFFOLD_GO_GCFLAGS}\" -o /go/bin/frontend .\n\
             FROM alpine:3.19 AS release\nWORKDIR /src\nCOPY --from=builder /go/bin/frontend /src/server\n\
             EXPOSE 8080\nENTRYPOINT [\"/src/server\"]\n"
                .into(),
        ),
        ("src/frontend/go.mod".into(), "module frontend\n\ngo 1.22\n".into()),
        ("src/frontend/main.go".into(), "package main\n\nfunc main() {}\n".into()),
        // C#, its Dockerfile in a nested `src` folder beside the tests.
        (
            "src/cartservice/src/Dockerfile".into(),
            "FROM mcr.microsoft.com/dotnet/sdk:8.0 AS builder\nWORKDIR /app\nCOPY cartservice.csproj .\n\
             RUN dotnet restore cartservice.csproj\nCOPY . .\nRUN dotnet publish -c release -o /cartservice\n\
             FROM mcr.microsoft.com/dotnet/runtime-deps:8.0-alpine\nWORKDIR /app\n\
             COPY --from=builder /cartservice .\nEXPOSE 7070\nENTRYPOINT [\"/app/cartservice\"]\n"
                .into(),
        ),
        (
            "src/cartservice/src/cartservice.csproj".into(),
            "<Project Sdk=\"Microsoft.NET.Sdk.Web\"></Project>\n".into(),
        ),
        (
            "src/cartservice/tests/cartservice.tests.csproj".into(),
            "<Project Sdk=\"Microsoft.NET.Sdk\"></Project>\n".into(),
        ),
        // Python, with a debug variant of its Dockerfile.
        (
            "src/emailservice/Dockerfile".into(),
            "FROM python:3.12-slim AS base\nFROM base AS builder\nCOPY requirements.txt .\n\
             RUN pip install -r requirements.txt\nFROM base\nCOPY --from=builder /usr/local/lib/python3.12/ /usr/local/lib/python3.12/\n\
             COPY . .\nEXPOSE 8080\nENTRYPOINT [\"python\", \"email_server.py\"]\n"
                .into(),
        ),
        (
            "src/emailservice/Dockerfile.debug".into(),
            "FROM python:3.12-slim\nRUN pip install debugpy\nCOPY . .\n\
             ENTRYPOINT [\"python\", \"-m\", \"debugpy\", \"email_server.py\"]\n"
                .into(),
        ),
        ("src/emailservice/requirements.txt".into(), "grpcio\n".into()),
        (
            "src/emailservice/email_server.py".into(),
            "print('email')\n".into(),
        ),
        // Node.
        (
            "src/currencyservice/Dockerfile".into(),
            "FROM node:20-alpine AS builder\nWORKDIR /usr/src/app\nCOPY package*.json ./\n\
             RUN npm install --only=production\nFROM node:20-alpine\nWORKDIR /usr/src/app\n\
             COPY --from=builder /usr/src/app/node_modules ./node_modules\nCOPY . .\n\
             EXPOSE 7000\nENTRYPOINT [\"node\", \"server.js\"]\n"
                .into(),
        ),
        (
            "src/currencyservice/package.json".into(),
            "{\"name\": \"currencyservice\"}\n".into(),
        ),
        // Java.
        (
            "src/adservice/Dockerfile".into(),
            "FROM eclipse-temurin:21 AS builder\nWORKDIR /app\nCOPY . .\nRUN ./gradlew installDist\n\
             FROM eclipse-temurin:21-jre-alpine\nCOPY --from=builder /app/build/install/adservice /app\n\
             EXPOSE 9555\nENTRYPOINT [\"/app/bin/AdService\"]\n"
                .into(),
        ),
        ("src/adservice/build.gradle".into(), "plugins {}\n".into()),
        // Python again, in its own skaffold configuration.
        (
            "src/loadgenerator/Dockerfile".into(),
            "FROM python:3.12-slim\nCOPY . .\nENTRYPOINT [\"locust\"]\n".into(),
        ),
        ("skaffold.yaml".into(), SKAFFOLD.into()),
    ];
    // Plain manifests, images by bare name as skaffold projects write them, and a
    // cache run from Docker Hub by tag.
    let services = [
        ("frontend", 8080),
        ("cartservice", 7070),
        ("emailservice", 8080),
        ("currencyservice", 7000),
        ("adservice", 9555),
    ];
    let mut resources = Vec::new();
    for (name, port) in services {
        let manifest = service(name, name, port);
        files.push((
            format!("kubernetes-manifests/{name}.yaml"),
            manifest.clone(),
        ));
        files.push((format!("kustomize/base/{name}.yaml"), manifest));
        resources.push(format!("  - {name}.yaml\n"));
    }
    let redis = service("redis-cart", "redis:7.2-alpine", 6379);
    files.push(("kubernetes-manifests/redis.yaml".into(), redis.clone()));
    files.push(("kustomize/base/redis.yaml".into(), redis));
    // The load generator serves nothing (no Service) and waits for the frontend in an
    // init container from Docker Hub.
    let loadgenerator = service("loadgenerator", "loadgenerator", 8089);
    let (loadgenerator, _service) = loadgenerator
        .split_once("---\napiVersion: v1\nkind: Service")
        .unwrap();
    let loadgenerator = loadgenerator.replace(
        "      containers:\n",
        "      initContainers:\n        - name: wait-frontend\n          image: busybox:1.36\n          \
         command: [sh, -c, \"until wget -qO- http://frontend:8080; do sleep 2; done\"]\n          \
         resources:\n            requests: {cpu: 10m, memory: 16Mi}\n            limits: {memory: 32Mi}\n          \
         securityContext:\n            runAsNonRoot: true\n      containers:\n",
    );
    files.push((
        "kubernetes-manifests/loadgenerator.yaml".into(),
        loadgenerator.clone(),
    ));
    files.push(("kustomize/base/loadgenerator.yaml".into(), loadgenerator));
    resources.push("  - redis.yaml\n  - loadgenerator.yaml\n".into());
    let resources = resources.concat();
    files.push((
        "kubernetes-manifests/kustomization.yaml".into(),
        format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{resources}"),
    ));
    files.push((
        "kustomize/base/kustomization.yaml".into(),
        format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{resources}"),
    ));
    files.push((
        "kustomize/kustomization.yaml".into(),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - base\n\
         components:\n  - components/without-loadgenerator\n"
            .into(),
    ));
    files.push((
        "kustomize/components/without-loadgenerator/kustomization.yaml".into(),
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - patch: |-\n      \
         $patch: delete\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        \
         name: loadgenerator\n"
            .into(),
    ));
    for (path, body) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
}

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

/// What `deploy --build` needs from this machine: buildah, with storage of its own.
struct Buildah {
    storage: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl Buildah {
    fn new() -> Buildah {
        let storage = tempfile::tempdir().unwrap();
        fs::write(
            storage.path().join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n",
                storage.path().display()
            ),
        )
        .unwrap();
        Buildah {
            storage,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn slipway(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(args)
            .current_dir(dir)
            .env("SLIPWAY_USER", "tester@ci")
            .env("TMPDIR", self.tmp.path())
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.storage.path().join("storage.conf"),
            )
            .env_remove("NO_COLOR")
            .output()
            .expect("the slipway binary runs")
    }
}

#[test]
fn init_on_a_microservices_repository_deploys_to_the_sandbox_with_build() {
    let _serial = common::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = common::Project {
        dir: tempfile::tempdir().unwrap(),
    };
    let root = project.path();
    microservices(root);
    // Base images cannot be pulled here: every Dockerfile keeps its shape (a build
    // stage, then the image) on `scratch`.
    for dockerfile in [
        "src/frontend/Dockerfile",
        "src/cartservice/src/Dockerfile",
        "src/emailservice/Dockerfile",
        "src/currencyservice/Dockerfile",
        "src/adservice/Dockerfile",
        "src/loadgenerator/Dockerfile",
    ] {
        fs::write(
            root.join(dockerfile),
            "FROM scratch AS builder\nCOPY . /src\n\
             FROM scratch\nCOPY --from=builder /src /app\nENTRYPOINT [\"/app/server\"]\n",
        )
        .unwrap();
    }
    common::git(root, &["init", "-q", "-b", "main"]);
    common::git(root, &["add", "."]);
    common::git(root, &["commit", "-q", "-m", "shop"]);
    let origin = "https://github.com/acme/shop.git";
    common::git(root, &["remote", "add", "origin", origin]);
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

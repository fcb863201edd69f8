//! A repository shaped like a real microservices application, built by the tests: services
//! in five languages under `src/`, plain manifests in `kubernetes-manifests/`, a
//! `kustomize/` tree with components, and a `skaffold.yaml` naming every artifact.

use std::fs;
use std::path::Path;

/// A ServiceAccount, a Deployment and a Service for `name`, running `image` as written.
pub fn service(name: &str, image: &str, port: u16) -> String {
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
pub fn microservices(root: &Path) {
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

/// What `deploy --build` needs from this machine: buildah, with storage of its own.
pub struct Buildah {
    storage: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl Buildah {
    pub fn new() -> Buildah {
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

    pub fn slipway(&self, dir: &Path, args: &[&str]) -> std::process::Output {
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

/// [`microservices`] in a new git repository whose `origin` is `acme/shop`, each
/// Dockerfile kept in its shape (a build stage, then the image) but on `scratch`: base
/// images cannot be pulled here.
pub fn buildable_microservices(root: &Path) {
    microservices(root);
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
    super::git(root, &["init", "-q", "-b", "main"]);
    super::git(root, &["add", "."]);
    super::git(root, &["commit", "-q", "-m", "shop"]);
    super::git(
        root,
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/acme/shop.git",
        ],
    );
}

//! Writing the commented `slipway.yaml` for what was found.

use std::fmt::Write as _;

use super::{BuildArg, Builders, Findings, ManifestGuess, Overlay};

/// Quotes a YAML scalar when a plain one would be read as something else.
pub(super) fn scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && !value.starts_with('-')
        && value.parse::<f64>().is_err()
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | ".inf" | ".nan"
        );
    if plain {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

/// The commented `slipway.yaml` for what was found.
pub fn template(f: &Findings) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# slipway.yaml — written by `slipway init`; every key is described in docs/config.md.\n\
         # Check it with `slipway validate dev`, ship with `slipway deploy dev --build`.\n"
    );
    if f.app_from_remote {
        let _ = writeln!(s, "# The name of the `origin` remote's repository.");
    }
    let _ = writeln!(s, "app: {}\n", scalar(&f.app));
    write_registry(&mut s, f);
    let _ = writeln!(
        s,
        "# Every build gets a unique, sortable tag: UTC time and commit.\n\
         tag: \"{{timestamp}}-{{git.short_sha}}\"\n"
    );
    write_images(&mut s, f);
    write_manifests(&mut s, f);
    let job = f.migration_job.clone().unwrap_or_else(|| {
        let dir = f.manifests.as_ref().map_or("k8s", |m| m.dir.as_str());
        format!("{dir}/migrate-job.yaml")
    });
    let _ = writeln!(
        s,
        "# Jobs that must finish before any workload rolls, such as migrations:\n\
         # hooks:\n\
         #   migrate:\n\
         #     job: {}\n",
        scalar(&job)
    );
    write_environments(&mut s, f);
    s
}

/// `registry`: the manifests' registry, else the sandbox's registry on loopback.
fn write_registry(s: &mut String, f: &Findings) {
    match &f.registry {
        Some(registry) => {
            let _ = writeln!(
                s,
                "# Where images are pushed: the registry of the manifests' images that\n\
                 # match images below, so that deploys pin them. `deploy dev --build` pushes\n\
                 # there too (with your credentials for it); the sandbox pulls nothing itself.\n\
                 registry: {}\n",
                scalar(registry)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "# Where images are pushed. `dev` runs on the sandbox cluster slipway starts by\n\
                 # itself, whose registry listens on this loopback address (any free port will\n\
                 # do), so `slipway deploy dev --build` needs nothing else. For a real cluster,\n\
                 # set the registry its nodes pull from (for example `ghcr.io/acme/{app}` or\n\
                 # `myacr.azurecr.io/{app}`) and deploy to an environment with a `context`\n\
                 # (see the end of this file).\n\
                 registry: {}\n",
                scalar(&f.sandbox_registry),
                app = f.app,
            );
        }
    }
}

fn write_images(s: &mut String, f: &Findings) {
    if f.images.is_empty() {
        let _ = writeln!(
            s,
            "# No Dockerfile was found. Describe your images here, for example:\n\
             # images:\n\
             #   api:\n\
             #     context: .\n\
             #     target: api\n\
             #     platform: linux/amd64\n\
             images: {{}}\n"
        );
        write_skipped(s, f);
        return;
    }
    if f.from_skaffold {
        let _ = writeln!(
            s,
            "# The artifacts of skaffold.yaml, named as the manifests run them."
        );
    }
    write_builders(s, &f.builders);
    let _ = writeln!(s, "images:");
    for image in &f.images {
        let _ = writeln!(s, "  {}:", image.name);
        if let Some(source) = &image.source {
            let _ = writeln!(
                s,
                "    # the manifests run it as `{}` ({})",
                source.image, source.file
            );
        }
        if let Some(repository) = &image.repository {
            let _ = writeln!(s, "    repository: {}", scalar(repository));
        }
        let _ = writeln!(s, "    context: {}", scalar(&image.context));
        if let Some(dockerfile) = &image.dockerfile {
            let _ = writeln!(s, "    dockerfile: {}", scalar(dockerfile));
        }
        if let Some(target) = &image.target {
            let _ = writeln!(s, "    target: {}", scalar(target));
        }
        let _ = writeln!(s, "    platform: linux/amd64   # what your nodes run");
        write_args(s, &image.args, &image.set_args);
        if image.source.is_none() && f.manifests.is_some() {
            let _ = writeln!(
                s,
                "    # no manifest runs it as `{}`: a deploy builds it and pins nothing",
                image.name
            );
        }
    }
    write_skipped(s, f);
    s.push('\n');
}

/// Which program builds the Dockerfiles here, or what to install.
fn write_builders(s: &mut String, builders: &Builders) {
    let _ = writeln!(
        s,
        "# Dockerfiles are built by `builder: auto`: buildah, else podman, else docker (with\n\
         # buildx and a running engine); set `builder:` on an image to choose. Base images\n\
         # are pulled while building, so their registries must be reachable."
    );
    match builders.usable() {
        Some(builder) => {
            let _ = writeln!(s, "# Found here: {builder}.");
        }
        None if builders.found.contains(&"docker") => {
            let _ = writeln!(
                s,
                "# Found here: docker, but no Docker engine answers, so these images cannot be\n\
                 # built here: install buildah (`apt-get install buildah`) or start Docker, or\n\
                 # build them elsewhere and deploy with `--image NAME=REF`."
            );
        }
        None => {
            let _ = writeln!(
                s,
                "# None was found, so these images cannot be built here: install buildah\n\
                 # (`apt-get install buildah`), or build them elsewhere and deploy with\n\
                 # `--image NAME=REF`."
            );
        }
    }
}

/// The Dockerfiles and artifacts that are not images here, and why.
fn write_skipped(s: &mut String, f: &Findings) {
    if f.skipped.is_empty() {
        return;
    }
    let _ = writeln!(s, "  # Not proposed as images:");
    for skipped in &f.skipped {
        let _ = writeln!(s, "  #   {}: {}", skipped.what, skipped.reason);
    }
}

/// `manifests` as the Helm chart found, with the built image written into its values.
fn write_chart(s: &mut String, f: &Findings, chart: &str) {
    let _ = writeln!(
        s,
        "# The Helm chart in `{chart}`, rendered by slipway itself as the release's\n\
         # manifests (docs/helm.md): `release` is `.Release.Name`; add value files with\n\
         # `values: [...]` and single values with `set:`, here or per environment under\n\
         # `environments.<env>.chart`."
    );
    let _ = writeln!(s, "manifests:");
    let _ = writeln!(s, "  chart: {}", scalar(chart));
    let _ = writeln!(s, "  release: {}", scalar(&f.app));
    match f.images.first() {
        Some(image) if f.helm_image_values => {
            let _ = writeln!(
                s,
                "  # The build of `{0}` is written to `image.repository` and `image.tag` (and\n\
                 \x20 # `image.digest` when the chart has it), so the chart runs the pinned image.\n\
                 \x20 images:\n    {0}: image",
                image.name
            );
        }
        Some(image) => {
            let _ = writeln!(
                s,
                "  # Name the chart values that receive the build of `{0}`, for example:\n\
                 \x20 # images:\n\
                 \x20 #   {0}: {{ repository: image.repository, tag: image.tag }}",
                image.name
            );
        }
        None => {}
    }
    s.push('\n');
}

fn write_manifests(s: &mut String, f: &Findings) {
    let Some(m) = &f.manifests else {
        if let Some(chart) = &f.helm_chart {
            write_chart(s, f, chart);
            return;
        }
        let _ = writeln!(
            s,
            "# No folder of manifests was found: point this at your manifests."
        );
        let _ = writeln!(s, "# manifests: k8s\n");
        return;
    };
    let what = |m: &ManifestGuess| {
        if m.kustomization {
            "a kustomization"
        } else {
            "plain YAML"
        }
    };
    let from = if f.skaffold_manifests.contains(&m.dir) {
        ", as skaffold.yaml deploys them"
    } else {
        ""
    };
    let _ = writeln!(s, "# The manifests to deploy ({}{from}).", what(m));
    if !f.other_manifests.is_empty() {
        let _ = writeln!(
            s,
            "# Also found; slipway deploys one folder (a kustomization can gather several),\n\
             # so name one of these instead to deploy it:"
        );
        for other in &f.other_manifests {
            let also = if f.skaffold_manifests.contains(&other.dir) {
                ", which skaffold.yaml also deploys"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "# manifests: {}   # {}{also}",
                scalar(&other.path),
                what(other)
            );
        }
    }
    let _ = writeln!(s, "manifests: {}\n", scalar(&m.path));
    if !f.external_images.is_empty() {
        let _ = writeln!(
            s,
            "# The manifests also run images that are not built here; they are pulled as\n\
             # written (pin them by digest, `image@sha256:…`, so a moved tag cannot change a\n\
             # release):"
        );
        for image in &f.external_images {
            let _ = writeln!(s, "#   {} ({})", image.image, image.file);
            let last = image.repository.rsplit('/').next();
            if let Some(ours) = f.images.iter().find(|i| Some(i.name.as_str()) == last) {
                let _ = writeln!(
                    s,
                    "#     named like the image `{0}` built here, but not its repository: write\n\
                     #     `image: {0}` in the manifest so that deploys run the build",
                    ours.name
                );
            }
        }
        s.push('\n');
    }
}

fn write_environments(s: &mut String, f: &Findings) {
    let _ = writeln!(s, "environments:");
    let dev = f.overlays.iter().find(|o| o.env == "dev");
    let _ = writeln!(
        s,
        "  # The built-in sandbox cluster: runs with nothing installed.\n  dev:\n    cluster: sandbox\n    namespace: {}",
        scalar(&namespace(f, dev, "dev"))
    );
    if let Some(dev) = dev {
        let _ = writeln!(s, "    overlay: {}", scalar(&dev.path));
    }
    if f.external_images.iter().any(|i| !i.image.contains("@sha")) {
        let _ = writeln!(
            s,
            "    # The manifests run images by tag only (listed above `hooks`): `validate`\n\
             \x20   # reports them as warnings here while you try things on the sandbox. Pin\n\
             \x20   # them by digest and remove these lines; elsewhere they are errors.\n\
             \x20   rules:\n\
             \x20     image-pinned: warning"
        );
    }
    let mut previous = "dev".to_string();
    for overlay in &f.overlays {
        let env = &overlay.env;
        if env == "dev" {
            continue;
        }
        let production = matches!(env.as_str(), "prod" | "production");
        let _ = writeln!(s, "  {env}:");
        let _ = writeln!(
            s,
            "    context: set-me          # the kubeconfig context of this environment's cluster"
        );
        let _ = writeln!(
            s,
            "    namespace: {}",
            scalar(&namespace(f, Some(overlay), env))
        );
        let _ = writeln!(s, "    overlay: {}", scalar(&overlay.path));
        let _ = writeln!(s, "    promote-from: {previous}");
        if production {
            let _ = writeln!(s, "    require-approval: true");
            let _ = writeln!(s, "    dirty: refuse");
        }
        previous = env.clone();
    }
    if f.overlays.iter().all(|o| o.env == "dev") {
        let _ = writeln!(
            s,
            "  # A real cluster: set `registry` above to one its nodes pull from, then:\n\
             \x20 # prod:\n\
             \x20 #   context: set-me          # the kubeconfig context of the cluster\n\
             \x20 #   namespace: {}",
            scalar(&namespace(f, None, "prod"))
        );
    }
}

/// An environment's namespace: its overlay's, else the base kustomization's, else
/// `<app>-<env>`.
pub(super) fn namespace(f: &Findings, overlay: Option<&Overlay>, env: &str) -> String {
    overlay
        .and_then(|o| o.namespace.clone())
        .or_else(|| f.base_namespace.clone())
        .unwrap_or_else(|| format!("{}-{env}", f.app))
}

/// The build arguments: those the repository sets (skaffold's `buildArgs`) as `args`,
/// the Dockerfile's other `ARG`s commented to fill in, or a placeholder. A value that
/// looks like a secret is never copied.
pub(super) fn write_args(s: &mut String, args: &[BuildArg], set: &[(String, String)]) {
    // skaffold expands `{{.X}}` templates in its values; slipway does not.
    let (plain, held): (Vec<_>, Vec<_>) = set
        .iter()
        .partition(|(k, v)| !v.contains("{{") && !looks_secret(k));
    let unset: Vec<&BuildArg> = args
        .iter()
        .filter(|a| !set.iter().any(|(k, _)| *k == a.name))
        .collect();
    if plain.is_empty() {
        if unset.is_empty() && held.is_empty() {
            let _ = writeln!(s, "    # args: {{ KEY: value }}   # build arguments");
            return;
        }
        let _ = writeln!(
            s,
            "    # args:   # the Dockerfile's ARGs; uncomment those to set"
        );
    } else {
        let _ = writeln!(s, "    args:   # skaffold.yaml's buildArgs");
        for (key, value) in plain {
            let _ = writeln!(s, "      {}: {}", scalar(key), scalar(value));
        }
        if !unset.is_empty() || !held.is_empty() {
            let _ = writeln!(
                s,
                "    # the Dockerfile's other ARGs; uncomment those to set:"
            );
        }
    }
    for (key, value) in held {
        if looks_secret(key) {
            let _ = writeln!(s, "    #   {}: \"\"   # {SECRET_NOTE}", scalar(key));
        } else {
            let _ = writeln!(
                s,
                "    #   {}: {}   # a skaffold template, which slipway does not expand",
                scalar(key),
                scalar(value)
            );
        }
    }
    for arg in unset {
        match &arg.default {
            _ if looks_secret(&arg.name) => {
                let _ = writeln!(s, "    #   {}: \"\"   # {SECRET_NOTE}", arg.name);
            }
            Some(default) => {
                let _ = writeln!(
                    s,
                    "    #   {}: {}   # the Dockerfile's default",
                    arg.name,
                    scalar(default)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "    #   {}: \"\"   # declared without a default",
                    arg.name
                );
            }
        }
    }
}

/// Why a build argument's value is left out.
const SECRET_NOTE: &str = "looks like a secret, not copied: a build argument stays in the \
                           image's history; prefer a build secret or a runtime Secret";

/// Whether a build argument's name says it holds a secret (`NPM_TOKEN`, `API_KEY`).
fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

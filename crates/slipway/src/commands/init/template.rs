//! Writing the commented `slipway.yaml` for what was found.

use std::fmt::Write as _;

use super::{BuildArg, Findings, Overlay};

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
    let app = &f.app;
    let _ = writeln!(
        s,
        "# slipway.yaml — written by `slipway init`; every key is described in docs/config.md.\n\
         # Check it with `slipway validate dev`, ship with `slipway deploy dev`.\n"
    );
    if f.app_from_remote {
        let _ = writeln!(s, "# The name of the `origin` remote's repository.");
    }
    let _ = writeln!(s, "app: {}\n", scalar(app));
    match &f.registry {
        Some(registry) => {
            let _ = writeln!(
                s,
                "# Where images are pushed: the registry of the manifests' images that\n\
                 # match images below, so that deploys pin them.\n\
                 registry: {}\n",
                scalar(registry)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "# Where images are pushed: change this to your registry (for example\n\
                 # `myacr.azurecr.io` or `gitea.example.com/admin`).\n\
                 registry: {}\n",
                scalar(&format!("registry.example.com/{app}"))
            );
        }
    }
    let _ = writeln!(
        s,
        "# Every build gets a unique, sortable tag: UTC time and commit.\n\
         tag: \"{{timestamp}}-{{git.short_sha}}\"\n"
    );

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
    } else {
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
            write_args(&mut s, &image.args);
        }
        s.push('\n');
    }

    match &f.manifests {
        Some(m) => {
            let what = if m.kustomization {
                "a kustomization"
            } else {
                "plain YAML"
            };
            let _ = writeln!(s, "# The manifests to deploy ({what}).");
            let _ = writeln!(s, "manifests: {}\n", scalar(&m.path));
        }
        None => {
            let _ = writeln!(
                s,
                "# No k8s/ or deploy/ folder was found: point this at your manifests."
            );
            if let Some(chart) = &f.helm_chart {
                let _ = writeln!(
                    s,
                    "# slipway deploys plain manifests or a kustomization, not a Helm chart: render\n\
                     # `{chart}` once with your values, keep the result in git, and name it here:\n\
                     #   helm template {app} {chart} -f values.yaml > k8s/{app}.yaml"
                );
            }
            let _ = writeln!(s, "# manifests: k8s\n");
        }
    }

    let job = f.migration_job.as_deref().unwrap_or("k8s/migrate-job.yaml");
    let _ = writeln!(
        s,
        "# Jobs that must finish before any workload rolls, such as migrations:\n\
         # hooks:\n\
         #   migrate:\n\
         #     job: {}\n",
        scalar(job)
    );

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
    s
}

/// An environment's namespace: its overlay's, else the base kustomization's, else
/// `<app>-<env>`.
pub(super) fn namespace(f: &Findings, overlay: Option<&Overlay>, env: &str) -> String {
    overlay
        .and_then(|o| o.namespace.clone())
        .or_else(|| f.base_namespace.clone())
        .unwrap_or_else(|| format!("{}-{env}", f.app))
}

/// The Dockerfile's `ARG`s as a commented `args:` to fill in, or a placeholder.
pub(super) fn write_args(s: &mut String, args: &[BuildArg]) {
    if args.is_empty() {
        let _ = writeln!(s, "    # args: {{ KEY: value }}   # build arguments");
        return;
    }
    let _ = writeln!(
        s,
        "    # args:   # the Dockerfile's ARGs; uncomment those to set"
    );
    for arg in args {
        match &arg.default {
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

//! Write a large kustomization to time the native renderer against `kubectl kustomize`.
//!
//! `cargo run --release -p slipway-render --example gen_big_overlay -- DIR [N]` writes
//! `DIR/base` (N Deployments and N Services, one file each) and `DIR/overlay` (the base, N
//! `images` entries, a strategic merge patch on every Deployment, a `configMapGenerator`
//! and a name prefix). N defaults to 500, which makes 1,000 resources plus the ConfigMap.

use std::fmt::Write as _;
use std::path::Path;

/// Write the base and overlay under `dir`.
pub fn write_big_overlay(dir: &Path, n: usize) -> std::io::Result<()> {
    let base = dir.join("base");
    let overlay = dir.join("overlay");
    std::fs::create_dir_all(&base)?;
    std::fs::create_dir_all(overlay.join("patches"))?;
    let mut resources = String::from("resources:\n");
    for i in 0..n {
        std::fs::write(
            base.join(format!("deploy-{i}.yaml")),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels:\n    app: app-{i}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n      - name: main\n        image: app-{i}:dev\n        ports:\n        - containerPort: 8080\n        envFrom:\n        - configMapRef:\n            name: shared\n        resources:\n          requests:\n            cpu: 10m\n"
            ),
        )?;
        std::fs::write(
            base.join(format!("service-{i}.yaml")),
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\nspec:\n  selector:\n    app: app-{i}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
            ),
        )?;
        let _ = writeln!(resources, "- deploy-{i}.yaml\n- service-{i}.yaml");
    }
    std::fs::write(base.join("kustomization.yaml"), resources)?;

    let mut k = String::from(
        "resources:\n- ../base\nnamePrefix: prod-\ncommonLabels:\n  env: prod\nconfigMapGenerator:\n- name: shared\n  literals:\n  - LOG_LEVEL=info\n  - REGION=eu-west-1\nimages:\n",
    );
    for i in 0..n {
        let _ = writeln!(
            k,
            "- name: app-{i}\n  newName: registry.example.com/shop/app-{i}\n  newTag: \"1.{i}.0\""
        );
    }
    k.push_str("patches:\n");
    for i in 0..n {
        let _ = writeln!(k, "- path: patches/app-{i}.yaml");
        std::fs::write(
            overlay.join(format!("patches/app-{i}.yaml")),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: main\n        env:\n        - name: INDEX\n          value: \"{i}\"\n"
            ),
        )?;
    }
    std::fs::write(overlay.join("kustomization.yaml"), k)
}

#[allow(dead_code)] // Unused when this file is included by the benchmark.
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: gen_big_overlay DIR [N]");
        std::process::exit(2);
    };
    let n = args
        .next()
        .map_or(500, |s| s.parse().expect("N is a number"));
    write_big_overlay(Path::new(&dir), n).expect("write the overlay");
    eprintln!("wrote {dir}/overlay ({} resources)", 2 * n + 1);
}

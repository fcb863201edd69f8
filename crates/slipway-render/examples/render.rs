//! Render a kustomization natively and print it, like `kubectl kustomize DIR`.
//!
//! `cargo run --release -p slipway-render --example render -- DIR`

use std::io::Write as _;
use std::path::Path;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: render DIR");
        std::process::exit(2);
    };
    match slipway_render::kustomize(Path::new(&dir)) {
        Ok(objects) => {
            let text = slipway_render::to_yaml(&objects);
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

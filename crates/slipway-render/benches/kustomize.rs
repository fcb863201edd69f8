//! Native kustomize on the 1,000-resource overlay of `examples/gen_big_overlay.rs`.

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../examples/gen_big_overlay.rs"]
mod gen_big_overlay;

fn big_overlay(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    gen_big_overlay::write_big_overlay(dir.path(), 500).unwrap();
    let overlay = dir.path().join("overlay");
    let mut group = c.benchmark_group("kustomize");
    group.sample_size(10);
    group.bench_function("big_overlay_render_and_print", |b| {
        b.iter(|| slipway_render::to_yaml(&slipway_render::kustomize(&overlay).unwrap()).len())
    });
    group.finish();
}

criterion_group!(benches, big_overlay);
criterion_main!(benches);

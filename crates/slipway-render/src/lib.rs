//! Manifests for slipway: read them, render kustomizations natively, pin images, print.
//!
//! Start with [`kustomize`]: it builds a kustomization directory the way
//! `kubectl kustomize` does and returns [`Object`]s (the same objects, in the same order),
//! many times faster than shelling out. [`to_yaml`] prints objects as the same YAML
//! stream kubectl prints. [`pin_images`] then replaces the images of a release by their
//! exact references.
//!
//! The native renderer covers everything `docs/kustomize.md` lists: resources, components,
//! generators, patches, `replacements`, `vars`, `configurations`, built-in `transformers`
//! and `openapi` schemas among them. What needs the network, `helm` or plugins
//! (`helmCharts`, generator plugins, remote bases, ...) is refused with
//! [`RenderError::Unsupported`], which names every such field at once;
//! [`kustomize_with_kubectl`] renders those directories with `kubectl kustomize`.
//!
//! Modules:
//! - `read`: YAML files to objects, through `slipway_config::yaml` so errors carry
//!   positions;
//! - `emit`: the YAML emitter;
//! - `kustomize`: the native kustomize pipeline;
//! - `pin`: image pinning;
//! - `kubectl`: the `kubectl kustomize` fallback.
//!
//! Everything here is pure except reading the input files and the kubectl fallback.

pub mod applyset;
pub mod chart;
mod emit;
mod error;
mod kubectl;
mod kustomize;
mod object;
mod pin;
mod read;
pub mod redact;
pub mod release;

pub use emit::{to_yaml, value_to_yaml};
pub use error::{Refused, RenderError};
pub use kubectl::kustomize_with_kubectl;
pub use kustomize::kustomize;
pub use object::{Document, Object, Source};
pub use pin::{
    ForeignImage, ImagePin, PinReport, PinnedImage, image_repository, pin_images, refers_to,
};
pub use read::{parse_objects, read_directory, read_objects};

//! Helm charts, rendered natively: the same output as `helm template`.
//!
//! The path a chart takes, one module per step:
//! - [`load`]: a chart folder (with `.helmignore`, see [`ignore`]) or a `.tgz`, with
//!   its subcharts, into a [`Chart`] ([`chart`] holds `Chart.yaml`'s model and rules);
//! - [`strvals`] and [`values`]: the user's values (`-f`, `--set`...) and their
//!   coalescing with chart defaults, subcharts and `global`, per Helm version;
//! - [`deps`]: `condition`, `tags`, `alias`, `import-values`;
//! - [`schema`]: the `values.schema.json` check;
//! - [`render`]: the templates executed by the `gotemplate` engine, with `.Files`,
//!   `.Chart` and `.Capabilities` from [`objects`];
//! - [`manifest`]: documents split, hooks separated, Helm's install order;
//! - [`template`]: the whole of `helm template`, its flags and its output.

pub mod chart;
pub mod deps;
pub mod error;
pub mod glob;
pub mod ignore;
pub mod load;
pub mod manifest;
pub mod objects;
pub mod render;
pub mod schema;
pub mod semver;
pub mod strvals;
pub mod template;
pub mod values;

pub use chart::{Chart, Map};
pub use error::{Error, Result};
pub use template::{RenderedRelease, TemplateOptions, TemplateOutput, render_release, template};
pub use values::HelmVersion;

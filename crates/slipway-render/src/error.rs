//! The one error type of the crate.
//!
//! Every variant that comes from user input names the file and, where it is known, the line
//! and the field, so that the command line can point at the spot to fix. Messages are
//! lowercase, put values in backticks and do not repeat their cause.

use std::path::PathBuf;

/// Why manifests could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file or directory could not be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A file is not valid YAML.
    #[error("{}:{line}:{column}: invalid YAML: {message}", file.display())]
    Yaml {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },

    /// A kustomization uses fields that the native renderer does not implement: the first
    /// one, and every other one found in the same walk, so they are all named at once.
    #[error(
        "{}:{line}: `{field}`{} {} not supported by the native kustomize renderer; set `kustomize: kubectl` in `slipway.yaml` to render this directory with `kubectl kustomize`",
        file.display(),
        more.iter().map(|r| format!(", {}:{}: `{}`", r.file.display(), r.line, r.field)).collect::<String>(),
        if more.is_empty() { "is" } else { "are" }
    )]
    Unsupported {
        /// The kustomization file.
        file: PathBuf,
        /// 1-based line of the field.
        line: usize,
        /// The field, such as `helmCharts` or `patches[0].options`.
        field: String,
        /// The other refused fields, in the order they were found.
        more: Vec<Refused>,
    },

    /// A kustomization or a manifest has a field with a value that cannot be used.
    #[error("{}:{line}: `{field}`: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The field (a path such as `patches[1].target.name`).
        field: String,
        /// What is wrong.
        message: String,
    },

    /// A directory named as a base or component has no kustomization file.
    #[error("no `kustomization.yaml` in `{}`", dir.display())]
    MissingKustomization {
        /// The directory.
        dir: PathBuf,
    },

    /// Kustomizations include each other in a cycle.
    #[error("kustomizations include each other in a cycle: {}", chain.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The directories of the cycle, the first one repeated at the end.
        chain: Vec<PathBuf>,
    },

    /// Applying the kustomization failed on the resources (a patch target that does not
    /// exist, two resources with the same id, ...).
    #[error("{}:{line}: {message}", file.display())]
    Build {
        /// The kustomization file whose instruction failed.
        file: PathBuf,
        /// 1-based line of the instruction.
        line: usize,
        /// What went wrong.
        message: String,
    },

    /// A Helm chart could not be rendered.
    #[error("cannot render the chart `{}`: {message}", chart.display())]
    Chart {
        /// The chart folder or `.tgz`.
        chart: PathBuf,
        /// What Helm would have said.
        message: String,
    },

    /// `kubectl kustomize` could not be run or failed.
    #[error("`kubectl kustomize {}` failed: {message}", dir.display())]
    Kubectl {
        /// The directory.
        dir: PathBuf,
        /// Its standard error, or why it could not start.
        message: String,
    },
}

/// A kustomization field the native renderer refuses, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The kustomization file.
    pub file: PathBuf,
    /// 1-based line of the field.
    pub line: usize,
    /// The field.
    pub field: String,
}

impl RenderError {
    /// One error naming every refused field, or `None` when there is none.
    pub fn unsupported(mut refused: Vec<Refused>) -> Option<RenderError> {
        if refused.is_empty() {
            return None;
        }
        let first = refused.remove(0);
        Some(RenderError::Unsupported {
            file: first.file,
            line: first.line,
            field: first.field,
            more: refused,
        })
    }
}

//! Errors, worded as Helm words them so that scripts matching Helm's messages still work.

/// What went wrong while loading or rendering a chart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `Chart.yaml` breaks a rule (`validation: chart.metadata.type must be ...`).
    #[error("validation: {0}")]
    Validation(String),
    /// A chart that cannot be read or unpacked.
    #[error("{0}")]
    Chart(String),
    /// Values that cannot be read, parsed or merged, or that fail the chart's schema.
    #[error("{0}")]
    Values(String),
    /// A template that fails to parse or execute.
    #[error("{0}")]
    Template(String),
    /// Rendered output that is not valid YAML (`YAML parse error on ...`).
    #[error("{0}")]
    Manifest(String),
    /// A command-line argument Helm would refuse.
    #[error("{0}")]
    Usage(String),
    /// A file that cannot be read or written.
    #[error("{0}")]
    Io(String),
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

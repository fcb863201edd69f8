//! `slipway.yaml`: the model, its loading, and errors that point at `file:line:col`.
//!
//! Start with [`load`]: it reads the file, parses it and checks it, and either hands back a
//! [`Config`] or every problem found as [`Diagnostics`] (file, line, column, key path,
//! message and hint for each). [`Diagnostics::render`] prints them as source snippets.
//!
//! The modules:
//! - [`model`]: the typed configuration (re-exported at the crate root);
//! - [`yaml`]: a YAML tree with positions, reusable for any YAML input;
//! - [`tag`]: tag templates such as `{timestamp}-{git.short_sha}`;
//! - [`duration`]: Go-style durations such as `1h30m`;
//! - [`analysis`]: the conditions and placeholders of analysis checks.
//!
//! The only I/O is reading the config file and checking that the local paths it names
//! exist, relative to the config file's directory.

use std::path::{Path, PathBuf};

pub mod analysis;
mod diagnostic;
pub mod duration;
mod load;
pub mod model;
pub mod tag;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, suggest};
pub use model::*;

/// The file name looked for in the current directory.
pub const DEFAULT_FILE_NAME: &str = "slipway.yaml";

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but has problems; every one of them is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Read, parse and check a config file.
///
/// Relative paths in the file are resolved against the file's directory.
///
/// # Errors
///
/// [`LoadError::Io`] when the file cannot be read, [`LoadError::Invalid`] with every
/// problem found otherwise.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&source, path)
}

/// Parse and check config text as if it had been read from `file` (whose directory is the
/// base for relative paths; `file` itself is not read). Referenced local paths are still
/// checked on disk.
///
/// # Errors
///
/// [`LoadError::Invalid`] with every problem found.
pub fn parse(source: &str, file: &Path) -> Result<Config, LoadError> {
    let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let invalid = |items: Vec<Diagnostic>| {
        LoadError::Invalid(Diagnostics {
            file: file.to_path_buf(),
            source: source.to_owned(),
            items,
        })
    };
    let docs = yaml::parse_documents(source).map_err(|e| {
        let (line, column, offset) = end_of_content(source, e.line, e.column, e.offset);
        invalid(vec![Diagnostic {
            line,
            column,
            key: String::new(),
            message: format!("invalid YAML: {}", e.message),
            hint: None,
            span: offset..offset,
        }])
    })?;
    let empty = yaml::Node {
        kind: yaml::NodeKind::Null,
        line: 1,
        column: 1,
        span: 0..0,
    };
    if let Some(second) = docs.get(1) {
        return Err(invalid(vec![Diagnostic {
            line: second.line,
            column: second.column,
            key: String::new(),
            message: "the config file has more than one YAML document".into(),
            hint: Some("remove the `---` separators; `slipway.yaml` is a single document".into()),
            span: second.span.clone(),
        }]));
    }
    let root = docs.first().unwrap_or(&empty);
    load::config_from_root(root, file, &base_dir).map_err(invalid)
}

/// A syntax error found at the very end of the input (after the final newline) is shown at
/// the end of the last line instead, where the snippet can show it.
fn end_of_content(
    source: &str,
    line: usize,
    column: usize,
    offset: usize,
) -> (usize, usize, usize) {
    if offset < source.len() || !source.ends_with('\n') {
        return (line, column, offset);
    }
    let offset = source.len() - 1;
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = source[..offset].matches('\n').count() + 1;
    let column = source[line_start..offset].chars().count() + 1;
    (line, column, offset)
}

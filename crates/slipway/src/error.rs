//! The one error type the binary reports: it knows its exit code, its message, an
//! optional pre-rendered detail (such as configuration diagnostics with source snippets)
//! and the `hint:` lines that tell the user what to do next.

use std::fmt;

use crate::exit;

#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
    /// Printed before the `error:` line, as is (for example rendered diagnostics).
    pub detail: Option<String>,
    pub hints: Vec<String>,
    /// Structured data for `-o json` (for example the list of diagnostics); boxed so the
    /// error stays small whichever `serde_json` features the build enables.
    pub json: Option<Box<serde_json::Value>>,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            detail: None,
            hints: Vec::new(),
            json: None,
        }
    }

    /// A mistake in the command line or in `slipway.yaml`.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(exit::USAGE, message)
    }

    /// Something slipway did not expect: a bug or an environment problem.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(exit::INTERNAL, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn json(mut self, value: serde_json::Value) -> Self {
        self.json = Some(Box::new(value));
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::internal(format!("i/o error: {err}"))
    }
}

//! Errors, printed exactly as Go's `text/template` prints them.

use std::fmt;

/// A template error: where it happened and what went wrong.
///
/// Parse errors print as `template: NAME:LINE: MESSAGE`; execution errors as
/// `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`, as Go prints them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The name of the template the failing text was parsed from.
    pub template: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column (in bytes), present for execution errors.
    pub col: Option<usize>,
    /// For execution errors: the template being executed and the node's text.
    pub executing: Option<(String, String)>,
    /// What went wrong.
    pub message: String,
}

impl Error {
    /// An error with only a message (no position), such as a missing template.
    pub fn plain(message: impl Into<String>) -> Error {
        Error {
            template: String::new(),
            line: 0,
            col: None,
            executing: None,
            message: message.into(),
        }
    }
}

impl Error {
    /// The message Helm prints for a parse error of `filename` (its
    /// `cleanupParseError`): `parse error at (FILE:LINE): MESSAGE`.
    pub fn helm_parse_message(&self, filename: &str) -> String {
        crate::funcs::helm_parse_error(filename, &self.to_string())
    }

    /// The message Helm prints for an execution error (its `cleanupExecError`): a
    /// `required` failure becomes `execution error at (FILE:LINE:COL): MESSAGE`; any
    /// other error prints as it is.
    pub fn helm_exec_message(&self) -> String {
        crate::funcs::helm_exec_error(&self.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.template.is_empty() && self.line == 0 {
            return f.write_str(&self.message);
        }
        write!(f, "template: {}:{}", self.template, self.line)?;
        if let Some(col) = self.col {
            write!(f, ":{col}")?;
        }
        if let Some((name, node)) = &self.executing {
            write!(f, ": executing \"{name}\" at <{node}>")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {}

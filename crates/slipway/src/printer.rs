//! Everything the binary prints goes through the [`Printer`]: data (rendered manifests,
//! `-o json` documents) to standard output, everything meant for humans (progress,
//! warnings, errors, hints) to standard error. `-q`, `-v`, `--no-color` and `NO_COLOR`
//! are decided here once.
//!
//! Output never stops the work it reports: a reader that goes away (`slipway deploy
//! -o json | head -1`) only ends the output. Writes to a closed standard output are
//! dropped from then on, and a release goes on to its end, records its outcome, frees
//! its lock and exits with its own code. Writes to standard error never fail either
//! (Rust ignores SIGPIPE, and `eprintln!` would panic on a closed pipe).

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::{GlobalArgs, Output};
use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug)]
pub struct Printer {
    pub format: Format,
    pub quiet: bool,
    pub verbose: u8,
    pub color: bool,
    /// A plan names the changed fields only, without their values (`diff --compact`).
    pub compact_plan: bool,
    /// Standard output was closed by its reader: data is dropped from then on.
    stdout_closed: AtomicBool,
    /// The CI system spoken besides the lines for humans (see `crate::ci`).
    pub ci: Option<std::sync::Arc<crate::ci::Ci>>,
}

/// Writes `text` to standard error; a closed or broken standard error loses the text,
/// never the command.
pub fn stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// A line on standard error (see [`stderr`]).
pub fn stderr_line(text: &str) {
    stderr(&format!("{text}\n"));
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let format = match global.output {
            Some(Output::Json) => Format::Json,
            _ => Format::Human,
        };
        let ci = crate::ci::detect(global.ci, |name| std::env::var(name).ok())
            .map(|system| std::sync::Arc::new(crate::ci::Ci::new(system, format == Format::Json)));
        Printer {
            format,
            quiet: global.quiet,
            verbose: global.verbose,
            color: !global.no_color && !no_color_env && io::stderr().is_terminal(),
            compact_plan: false,
            stdout_closed: AtomicBool::new(false),
            ci,
        }
    }

    /// The same printer, showing plans in the compact form (see [`Printer::compact_plan`]).
    pub fn with_compact_plan(&self) -> Printer {
        Printer {
            format: self.format,
            quiet: self.quiet,
            verbose: self.verbose,
            color: self.color,
            compact_plan: true,
            stdout_closed: AtomicBool::new(self.output_closed()),
            ci: self.ci.clone(),
        }
    }

    /// A line of progress or information for humans; hidden with `-q`.
    pub fn info(&self, message: &str) {
        if !self.quiet {
            stderr_line(message);
        }
    }

    /// Data on standard output. Once its reader has gone (`slipway render dev | head`),
    /// data is dropped quietly and the command goes on: see the module documentation.
    /// Any other failure to write is said once on standard error, then treated alike.
    pub fn data(&self, text: &str) {
        if self.stdout_closed.load(Ordering::SeqCst) {
            return;
        }
        let mut out = io::stdout().lock();
        let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        if let Err(err) = written
            && !self.stdout_closed.swap(true, Ordering::SeqCst)
            && err.kind() != io::ErrorKind::BrokenPipe
        {
            stderr_line(&format!(
                "warning: cannot write to standard output ({err}); the command goes on without it"
            ));
        }
    }

    /// Whether standard output was closed by its reader (a command that would only go
    /// on printing, such as `status --watch`, stops then).
    pub fn output_closed(&self) -> bool {
        self.stdout_closed.load(Ordering::SeqCst)
    }

    /// A JSON document on standard output, followed by a newline.
    pub fn json(&self, value: &serde_json::Value) {
        let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
        text.push('\n');
        self.data(&text);
    }

    /// A JSON document on one line of standard output (a line of an event stream).
    pub fn json_line(&self, value: &serde_json::Value) {
        self.data(&format!("{value}\n"));
    }

    /// Reports an error: its detail and `error:` line and hints on standard error, and
    /// with `-o json` a JSON document on standard output too.
    pub fn error(&self, err: &CliError) {
        if let Some(detail) = &err.detail {
            stderr(detail);
            if !detail.ends_with('\n') {
                stderr("\n");
            }
        }
        stderr_line(&format!("{}: {}", self.paint("error", "1;31"), err.message));
        for hint in &err.hints {
            stderr_line(&format!("  {}: {hint}", self.paint("hint", "1;36")));
        }
        if self.format == Format::Json {
            let mut doc = serde_json::json!({
                "ok": false,
                "exit_code": err.code,
                "error": err.message,
                "hints": err.hints,
            });
            if let Some(extra) = &err.json {
                doc["details"] = serde_json::Value::clone(extra);
            }
            // One line: it may end a stream of JSON lines (`deploy -o json`).
            self.json_line(&doc);
        }
    }

    fn paint(&self, text: &str, style: &str) -> String {
        if self.color {
            format!("\x1b[{style}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

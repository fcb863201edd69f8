//! Everything the binary prints goes through the [`Printer`]: data (rendered manifests,
//! `-o json` documents) to standard output, everything meant for humans (progress,
//! warnings, errors, hints) to standard error. `-q`, `-v`, `--no-color` and `NO_COLOR`
//! are decided here once.

use std::io::{self, IsTerminal, Write};

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
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Printer {
            format: match global.output {
                Some(Output::Json) => Format::Json,
                _ => Format::Human,
            },
            quiet: global.quiet,
            verbose: global.verbose,
            color: !global.no_color && !no_color_env && io::stderr().is_terminal(),
        }
    }

    /// A line of progress or information for humans; hidden with `-q`.
    pub fn info(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// Data on standard output. A closed pipe (`slipway render dev | head`) ends the
    /// process quietly instead of failing.
    pub fn data(&self, text: &str) {
        let mut out = io::stdout().lock();
        let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        if let Err(err) = written {
            if err.kind() == io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write to standard output: {err}");
            std::process::exit(i32::from(crate::exit::INTERNAL));
        }
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
            eprint!("{detail}");
            if !detail.ends_with('\n') {
                eprintln!();
            }
        }
        eprintln!("{}: {}", self.paint("error", "1;31"), err.message);
        for hint in &err.hints {
            eprintln!("  {}: {hint}", self.paint("hint", "1;36"));
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

//! Go's `text/template` language, with the Sprig v3 function library and Helm's own
//! functions, behaving as Helm runs them.
//!
//! No complete implementation of Go templates exists for Rust (the crates that exist
//! cover a subset of the language and none of Sprig), and Helm charts depend on the
//! details: Go's printing of every value kind, its comparison rules, whitespace trim
//! markers, variable scoping, and the exact error texts. So the lexer, parser, executor
//! and the function library are written here by hand, following the documented
//! semantics of Go's `text/template`, Sprig and Helm.
//!
//! Start with [`Engine`]: [`Engine::helm`] gives an engine with Go's builtins, Sprig and
//! Helm's functions; [`Engine::parse`] adds a template (and every `define` inside it) to
//! the set; [`Engine::execute`] runs one with a dot [`Value`].
//!
//! Modules:
//! - `lex`, `parse`: source text to a tree, with Go's error texts;
//! - `exec`: runs a tree against a [`Value`];
//! - `fmt`: Go's `fmt` printing (`%v`, `printf` verbs);
//! - `funcs`: Go's builtins, Sprig and Helm's functions;
//! - [`yaml`], [`json`]: Helm's `toYaml`/`fromYaml` and `toJson`/`fromJson`.

mod engine;
mod error;
mod exec;
mod fmt;
mod funcs;
mod lex;
mod parse;
mod toml;
mod value;

pub mod json;
pub mod yaml;

pub use engine::{Dot, Engine, LookupFn, MissingKey};
pub use error::Error;
pub use value::{Object, Value};

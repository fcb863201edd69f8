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
//! ```
//! use gotemplate::{Engine, Value};
//!
//! let mut engine = Engine::helm();
//! engine.parse("chart/templates/cm.yaml", "name: {{ .Values.name | quote }}").unwrap();
//! let values = gotemplate::yaml::from_str("name: web").unwrap();
//! let dot = Value::map([("Values", values)]);
//! assert_eq!(engine.execute("chart/templates/cm.yaml", &dot).unwrap(), "name: \"web\"");
//! ```
//!
//! How it behaves as Helm does:
//! - Maps are shared as Go's maps are: `set`, `unset`, `merge` change a map for every
//!   holder. To let the templates of one chart see each other's changes to `.Values`
//!   (as they do in Helm, which passes them one map), execute them with one [`Dot`]
//!   and set `.Template` with [`Dot::set`] before each.
//! - `execute` returns Go's output; Helm then replaces every `<no value>` with nothing,
//!   which is the caller's step (as it is in Helm's engine).
//! - Numbers from YAML and JSON are floats (`float64`), as Helm reads values; integer
//!   constants in templates and `--set` numbers are [`Value::Int`].
//! - An [`Object`] prints through its `String` method when it has one (Go's
//!   `Stringer`), and `toJson`/`toYaml` print it the same way.
//! - [`Error`] prints as Go does; [`Error::helm_exec_message`] and
//!   [`Error::helm_parse_message`] give Helm's cleaned-up forms.
//!
//! Not built, each with an error or a message that says so: `call` (templates hold no
//! function values), RSA and DSA keys (certificates use ECDSA P-256 keys, see
//! `funcs::crypto`). `getHostByName` gives an empty string, as Helm does without
//! `--enable-dns`. Strings are UTF-8, so `b64dec` of binary data replaces invalid bytes.
//!
//! Modules:
//! - `lex`, `parse`: source text to a tree, with Go's error texts;
//! - `exec`: runs a tree against a value;
//! - `fmt`: Go's `fmt` printing (`%v`, `printf` verbs);
//! - `funcs`: Go's builtins, Sprig and Helm's functions;
//! - [`yaml`], [`json`], `toml`: the converters behind `toYaml`, `fromYaml`, `toJson`,
//!   `fromJson`, `toToml` and `fromToml`.

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

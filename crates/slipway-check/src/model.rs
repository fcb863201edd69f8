//! The data that goes in and out of [`check`](crate::check).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use slipway_config::yaml::Node;

use crate::schema::CrdSchemas;

/// One rendered object and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The object as JSON (converted from YAML by the renderer).
    pub object: serde_json::Value,
    /// The file the object was rendered from.
    pub file: PathBuf,
    /// The line (1-based) where the object's YAML document starts.
    pub line: usize,
    /// The document as written in `file`, with positions, when a file holds the object
    /// (`None` for generated objects). Findings then name the line and column of their
    /// field, as long as the rendered field is still as written.
    pub document: Option<Arc<Node>>,
}

impl Manifest {
    /// A manifest without a document: findings name `file:line` of the object.
    pub fn new(object: serde_json::Value, file: impl Into<PathBuf>, line: usize) -> Manifest {
        Manifest {
            object,
            file: file.into(),
            line,
            document: None,
        }
    }
}

/// How strictly to check, and what is known about the cluster.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The environment is a production one (enables `pdb-missing`).
    pub production: bool,
    /// Per-rule level overrides from `slipway.yaml` (`defaults.rules` merged with
    /// `environments.<env>.rules`): rule id → level. `schema` cannot be changed.
    pub levels: BTreeMap<String, Level>,
    /// Objects known to exist on the cluster without being rendered: `(kind, name)`,
    /// e.g. `("Secret", "registry-credentials")`.
    pub expected_to_exist: BTreeSet<(String, String)>,
    /// Schemas of the custom resources served by the cluster, when it is reachable.
    /// `None`: custom resources not defined in the input are listed as unchecked.
    pub crd_schemas: Option<CrdSchemas>,
}

/// The level of a rule or a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The rule is switched off (only meaningful as an override).
    Off,
    /// Reported; does not stop a deploy.
    Warning,
    /// Reported; stops a deploy.
    Error,
}

impl Level {
    /// The spelling used in `slipway.yaml` and in `docs/rules.md`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// `apiVersion`, e.g. `apps/v1` (empty when the object has none).
    pub api_version: String,
    /// `kind`, e.g. `Deployment` (empty when the object has none).
    pub kind: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.name` (empty when the object has none).
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{} in `{}`", self.kind, self.name, ns),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One problem found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule id, e.g. `image-pinned`; see `docs/rules.md`.
    pub rule: &'static str,
    /// The level after overrides (never [`Level::Off`]).
    pub level: Level,
    /// The object the finding is about.
    pub object: ObjectRef,
    /// The file the object was rendered from.
    pub file: PathBuf,
    /// The line of the field in `file` when the field is there as written (for a field
    /// that is absent, such as a missing probe, the line of the closest enclosing field);
    /// otherwise the line where the object's document starts.
    pub line: usize,
    /// The column of the field, when `line` is the field's.
    pub column: Option<usize>,
    /// The field path inside the object, e.g. `spec.template.spec.containers[api].image`
    /// (containers by name; `[0]`-style indices in schema findings).
    pub field: String,
    /// What is wrong: lowercase, values in backticks.
    pub message: String,
    /// One line: what to do about it.
    pub fix: String,
    /// Why `line` is the document's rather than the field's, when the object has a
    /// document but the field is not in it as written: a patch, a transformer or
    /// slipway set it.
    pub note: Option<String>,
}

impl fmt::Display for Finding {
    /// `file:line:column: level[rule]: Kind/name `field`: message (note)`, the column
    /// and the note only when known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        write!(
            f,
            ": {}[{}]: {}/{} `{}`: {}",
            self.level, self.rule, self.object.kind, self.object.name, self.field, self.message
        )?;
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

/// An object that was not validated against a schema, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    /// The object.
    pub object: ObjectRef,
    /// The file the object was rendered from.
    pub file: PathBuf,
    /// The line where the object's document starts.
    pub line: usize,
    /// Why it was not checked, lowercase.
    pub reason: String,
}

/// The outcome of [`check`](crate::check).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Findings sorted by file, line, rule, field and message.
    pub findings: Vec<Finding>,
    /// Objects without a schema to check them against (custom resources when the cluster
    /// is not reachable), in input order.
    pub unchecked: Vec<Unchecked>,
}

impl Report {
    /// Whether any finding is an error: a deploy must stop.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Error)
    }

    /// The findings at `level`.
    pub fn at_level(&self, level: Level) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.level == level)
    }
}

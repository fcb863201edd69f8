//! Rendered Kubernetes objects and where they came from.
//!
//! An [`Object`] is a JSON-like value (as `serde_json` holds it, keys sorted) plus the
//! [`Source`] it was read from, so that later stages (validation, pinning) can name the
//! file and line of an object in their messages.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use slipway_config::yaml::Node;

/// Where an object was read or generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The manifest file, or the kustomization file for a generated object.
    pub file: PathBuf,
    /// 1-based line where the object's document (or its generator entry) starts.
    pub line: usize,
    /// The document as written in `file`, with the position of every field; `None` for
    /// an object that no file holds as such (a generated ConfigMap or Secret, a hook Job
    /// made from an image, the output of `kubectl kustomize`). Patches and transformers
    /// change the object's value, never this: comparing the two tells whether a field
    /// is still as written.
    pub document: Option<Document>,
}

impl Source {
    /// A source without a document: `file` and `line` name what produced the object.
    pub fn generated(file: impl Into<PathBuf>, line: usize) -> Source {
        Source {
            file: file.into(),
            line,
            document: None,
        }
    }
}

/// A YAML document as written, shared by every copy of the objects read from it.
#[derive(Clone)]
pub struct Document(Arc<Node>);

impl Document {
    /// Wraps the node of a document (or of one item of a `List` document).
    pub fn new(node: Node) -> Document {
        Document(Arc::new(node))
    }

    /// The node, with its position and those of everything under it.
    pub fn node(&self) -> &Node {
        &self.0
    }

    /// The node, shared.
    pub fn shared(&self) -> Arc<Node> {
        Arc::clone(&self.0)
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Document(line {})", self.0.line)
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Document) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

// Nodes hold text and positions only: equality is reflexive.
impl Eq for Document {}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The object as a JSON-like tree (always a mapping for a valid object).
    pub value: Value,
    /// Where it came from.
    pub source: Source,
}

impl Object {
    /// A top-level string field such as `kind` (empty when absent).
    fn top(&self, key: &str) -> &str {
        self.value.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// A `metadata` string field such as `name` (empty when absent).
    fn meta(&self, key: &str) -> &str {
        self.value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `apiVersion`, such as `apps/v1`.
    pub fn api_version(&self) -> &str {
        self.top("apiVersion")
    }

    /// `kind`, such as `Deployment`.
    pub fn kind(&self) -> &str {
        self.top("kind")
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.meta("name")
    }

    /// `metadata.namespace` (empty when not set).
    pub fn namespace(&self) -> &str {
        self.meta("namespace")
    }

    /// The API group: the part of `apiVersion` before the `/`, empty for the core group.
    pub fn group(&self) -> &str {
        match self.api_version().split_once('/') {
            Some((g, _)) => g,
            None => "",
        }
    }

    /// A short id for messages: `Deployment/web` or `Deployment/shop/web`.
    pub fn id(&self) -> String {
        if self.namespace().is_empty() {
            format!("{}/{}", self.kind(), self.name())
        } else {
            format!("{}/{}/{}", self.kind(), self.namespace(), self.name())
        }
    }
}

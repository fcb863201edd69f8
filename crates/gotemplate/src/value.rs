//! The values templates work on: Go's `interface{}` as Helm's values hold it.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::rc::Rc;

/// A Go value as templates see it.
///
/// Helm's values are `map[string]interface{}`: maps with string keys, `[]interface{}`
/// lists, strings, booleans, `float64` numbers from YAML and JSON, and `int64` numbers
/// from `--set`. [`Value::Object`] stands for Go structs with fields and methods
/// (`.Release`, `.Capabilities`, `.Files`, semver versions).
#[derive(Clone, Debug)]
pub enum Value {
    /// A nil interface (Go's `<nil>`; `<no value>` when printed by an action).
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(Rc<dyn Object>),
}

/// A Go struct: named fields and methods, reached with `.Name` in a template.
pub trait Object: Debug {
    /// The Go type name, as `typeOf` prints it (e.g. `*chart.Metadata`).
    fn type_name(&self) -> &str;
    /// The value of a field, or `None` when the struct has no such field.
    fn field(&self, name: &str) -> Option<Value>;
    /// Calls a method; `None` when the struct has no such method.
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A map value from pairs.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Whether this is Go's nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The string inside, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The map inside, when this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
}

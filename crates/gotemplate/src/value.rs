//! The values templates work on: Go's `interface{}` as Helm's values hold it.

use std::cell::RefCell;
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
    /// The object as `Any`, for functions that take it back (Sprig's certificates).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// The object as Go's `encoding/json` would see it (its fields under their JSON
    /// names), for `toJson` and `toYaml`; without it, objects print through their
    /// `String` method, or as `{}`.
    fn json_value(&self) -> Option<Value> {
        None
    }
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

    /// The list inside, when this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The boolean inside, when this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
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

/// A Go map as templates share it: `set`, `unset` and `merge` change it in place, and
/// every holder of the map sees the change, as in Go.
pub(crate) type MapRef = Rc<RefCell<BTreeMap<String, V>>>;

/// The executor's value: [`Value`] with maps shared by reference, as Go's maps are.
#[derive(Clone, Debug)]
pub(crate) enum V {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Rc<Vec<V>>),
    Map(MapRef),
    Object(Rc<dyn Object>),
}

impl V {
    pub(crate) fn map(m: BTreeMap<String, V>) -> V {
        V::Map(Rc::new(RefCell::new(m)))
    }

    pub(crate) fn list(l: Vec<V>) -> V {
        V::List(Rc::new(l))
    }

    pub(crate) fn str(s: impl Into<String>) -> V {
        V::Str(s.into())
    }

    /// The public value, copying maps and lists.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            V::Nil => Value::Nil,
            V::Bool(b) => Value::Bool(*b),
            V::Int(i) => Value::Int(*i),
            V::Float(f) => Value::Float(*f),
            V::Str(s) => Value::String(s.clone()),
            V::List(l) => Value::List(l.iter().map(V::to_value).collect()),
            V::Map(m) => Value::Map(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
            V::Object(o) => Value::Object(o.clone()),
        }
    }

    /// A copy that shares nothing with `self` (Sprig's `deepCopy`).
    pub(crate) fn deep_copy(&self) -> V {
        match self {
            V::List(l) => V::list(l.iter().map(V::deep_copy).collect()),
            V::Map(m) => V::map(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.deep_copy()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl From<&Value> for V {
    fn from(v: &Value) -> V {
        match v {
            Value::Nil => V::Nil,
            Value::Bool(b) => V::Bool(*b),
            Value::Int(i) => V::Int(*i),
            Value::Float(f) => V::Float(*f),
            Value::String(s) => V::Str(s.clone()),
            Value::List(l) => V::list(l.iter().map(V::from).collect()),
            Value::Map(m) => V::map(m.iter().map(|(k, v)| (k.clone(), V::from(v))).collect()),
            Value::Object(o) => V::Object(o.clone()),
        }
    }
}

/// Go's name of a value's dynamic type, as `%T` and error messages print it.
pub(crate) fn type_name(v: &V) -> String {
    match v {
        V::Nil => "<nil>".into(),
        V::Bool(_) => "bool".into(),
        V::Int(_) => "int".into(),
        V::Float(_) => "float64".into(),
        V::Str(_) => "string".into(),
        V::List(_) => "[]interface {}".into(),
        V::Map(_) => "map[string]interface {}".into(),
        V::Object(o) => o.type_name().to_string(),
    }
}

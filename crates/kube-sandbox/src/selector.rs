//! Label and field selectors, with the syntax of `labels.Parse` and `fields.ParseSelector`.
//! Label selectors are plain object logic, shared with the renderer (`kube-objects`);
//! field selectors depend on each kind's field label conversions (`field_labels.rs`).

use crate::util::get_path;
pub use kube_objects::LabelSelector;
use serde_json::Value;

/// A parsed field selector: `metadata.name=x,status.phase!=Running`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    reqs: Vec<FieldReq>,
}

/// One requirement: where the label's value is read in the object, and what it is.
#[derive(Debug, Clone, PartialEq)]
struct FieldReq {
    /// The label as the client wrote it.
    label: String,
    /// Where the value is read (after aliases such as `spec.host` → `spec.nodeName`).
    read: FieldRead,
    equal: bool,
    value: String,
}

/// How a selectable field's value is read from a stored object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRead {
    /// Dotted path in the object as served.
    pub path: String,
    /// Read here when `path` is empty or absent.
    pub fallback: Option<String>,
    /// The value of an absent field (`false` for booleans, `0` for counts), as the
    /// server's field sets always hold every selectable field.
    pub absent: &'static str,
}

impl FieldRead {
    /// A string field read at `path`.
    pub fn at(path: &str) -> FieldRead {
        FieldRead {
            path: path.to_string(),
            fallback: None,
            absent: "",
        }
    }

    fn value(&self, obj: &Value) -> String {
        let read = |p: &str| match get_path(obj, p) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let mut v = read(&self.path);
        if v.is_empty()
            && let Some(f) = &self.fallback
        {
            v = read(f);
        }
        if v.is_empty() {
            v = self.absent.to_string();
        }
        v
    }
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let label = k.trim().to_string();
            reqs.push(FieldReq {
                read: FieldRead::at(&label),
                label,
                equal: eq,
                value: v.trim().to_string(),
            });
        }
        Ok(FieldSelector { reqs })
    }

    /// The labels the selector uses, as written.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.reqs.iter().map(|r| r.label.as_str())
    }

    /// Replaces where each label is read by what `resolve` says (the kind's field label
    /// conversion); its error is the first label it refuses.
    pub fn resolve(
        mut self,
        resolve: impl Fn(&str) -> Result<FieldRead, String>,
    ) -> Result<FieldSelector, String> {
        for r in &mut self.reqs {
            r.read = resolve(&r.label)?;
        }
        Ok(self)
    }

    /// The value `metadata.name=<x>` pins, if any.
    pub fn name(&self) -> Option<&str> {
        self.reqs
            .iter()
            .find(|r| r.read.path == "metadata.name" && r.equal)
            .map(|r| r.value.as_str())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs
            .iter()
            .all(|r| (r.read.value(obj) == r.value) == r.equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "status": {"phase": "Running"}})
    }

    #[test]
    fn field_selector_matches_name_namespace_and_phase() {
        let o = obj(json!({}));
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&o);
        assert!(m("metadata.name=a"));
        assert!(m("metadata.namespace==ns,status.phase=Running"));
        assert!(!m("status.phase!=Running"));
        assert!(!m("metadata.name=b"));
        assert_eq!(
            FieldSelector::parse("metadata.name=a").unwrap().name(),
            Some("a")
        );
    }
}

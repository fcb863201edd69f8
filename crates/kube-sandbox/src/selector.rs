//! Label and field selectors, with the syntax of `labels.Parse` and `fields.ParseSelector`.

use crate::util::get_path;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Req>,
}

fn split_top_level(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 316
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            reqs.push(Self::parse_req(&part)?);
        }
        Ok(LabelSelector { reqs })
    }

    fn parse_req(p: &str) -> Result<Req, String> {
        let bad = || format!("unable to parse requirement: found '{p}', expected: key");
        if let Some(k) = p.strip_prefix('!') {
            let k = k.trim();
            return if valid_key(k) {
                Ok(Req::NotExists(k.into()))
            } else {
                Err(bad())
            };
        }
        let set_op = |word: &str| -> Option<(String, Vec<String>)> {
            let idx = p.find(word)?;
            let key = p[..idx].trim();
            let rest = p[idx + word.len()..].trim();
            let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
            let vals = inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            Some((key.to_string(), vals))
        };
        if p.contains(" notin ")
            && let Some((k, vals)) = set_op(" notin ")
        {
            return Ok(Req::NotIn(k, vals));
        }
        if p.contains(" in ")
            && let Some((k, vals)) = set_op(" in ")
        {
            return Ok(Req::In(k, vals));
        }
        for (op, ctor) in [("!=", 0u8), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
            if let Some(idx) = p.find(op) {
                let k = p[..idx].trim().to_string();
                let v = p[idx + op.len()..].trim().to_string();
                if !valid_key(&k) || !valid_value(&v) {
                    return Err(format!(
                        "invalid label selector: unable to parse requirement: {p}"
                    ));
                }
                return Ok(match ctor {
                    0 => Req::NotEq(k, v),
                    1 => Req::Eq(k, v),
                    2 => Req::Gt(k, v.parse().map_err(|_| bad())?),
                    _ => Req::Lt(k, v.parse().map_err(|_| bad())?),
                });
            }
        }
        if valid_key(p) {
            Ok(Req::Exists(p.into()))
        } else {
            Err(bad())
        }
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether the `labels` map matches.
    pub fn matches_labels(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
            Req::Gt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Req::Lt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.matches_labels(obj.get("metadata").and_then(|m| m.get("labels")))
    }

    /// Builds a selector from a `metav1.LabelSelector` (`matchLabels`, `matchExpressions`).
    pub fn from_label_selector(sel: &Value) -> Self {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Req::Eq(k.clone(), v.as_str().unwrap_or_default().into()));
            }
        }
        for e in sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e["key"].as_str().unwrap_or_default().to_string();
            let vals: Vec<String> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            reqs.push(match e["operator"].as_str().unwrap_or_default() {
                "In" => Req::In(key, vals),
                "NotIn" => Req::NotIn(key, vals),
                "Exists" => Req::Exists(key),
                _ => Req::NotExists(key),
            });
        }
        LabelSelector { reqs }
    }
}

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
    fn label_selector_supports_equality_set_and_existence() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("app in (web, api)"));
        assert!(!m("app notin (web)"));
        assert!(m("app in (web),tier notin (back)"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(!m("missing"));
        assert!(m(""));
    }

    #[test]
    fn label_selector_rejects_garbage() {
        assert!(LabelSelector::parse("a=b=c").is_err());
        assert!(LabelSelector::parse("(x").is_err());
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

    #[test]
    fn label_selector_from_match_expressions() {
        let s = LabelSelector::from_label_selector(
            &json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}),
        );
        assert!(s.matches(&obj(json!({"app": "web", "tier": "front"}))));
        assert!(!s.matches(&obj(json!({"app": "web"}))));
    }
}

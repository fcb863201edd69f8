//! Label selectors: the string syntax of `labels.Parse` (`a=b`, `a==b`, `a!=b`,
//! `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-separated) and
//! `metav1.LabelSelector` (`matchLabels`, `matchExpressions`).

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
    /// Parses the string form; the empty string selects everything.
    ///
    /// # Errors
    ///
    /// The API server's message for a requirement it cannot parse.
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

    /// Whether the selector has no requirement (and so selects everything).
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether the `labels` mapping matches (an absent one has no labels). A value that
    /// is not a string (a number in a hand-written manifest) is read as its text.
    pub fn matches_labels(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| {
            labels.and_then(|l| l.get(k)).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let number = |k: &str| get(k).and_then(|x| x.parse::<i64>().ok());
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => get(k).as_ref() == Some(v),
            Req::NotEq(k, v) => get(k).as_ref() != Some(v),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => !get(k).is_some_and(|x| vs.contains(&x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
            Req::Gt(k, n) => number(k).is_some_and(|x| x > *n),
            Req::Lt(k, n) => number(k).is_some_and(|x| x < *n),
        })
    }

    /// Whether the labels of object `obj` (`metadata.labels`) match.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "labels": labels}})
    }

    #[test]
    fn supports_equality_sets_existence_and_comparisons() {
        let o = obj(json!({"app": "web", "tier": "front", "gen": "3"}));
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
        assert!(m("gen>2,gen<4"));
        assert!(!m("gen>3"));
        assert!(m(""));
    }

    #[test]
    fn rejects_garbage() {
        assert!(LabelSelector::parse("a=b=c").is_err());
        assert!(LabelSelector::parse("(x").is_err());
        assert!(LabelSelector::parse("a>b").is_err());
    }

    #[test]
    fn reads_numbers_as_their_text() {
        let o = obj(json!({"version": 2}));
        assert!(LabelSelector::parse("version=2").unwrap().matches(&o));
    }

    #[test]
    fn builds_from_match_labels_and_expressions() {
        let s = LabelSelector::from_label_selector(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]
        }));
        assert!(s.matches(&obj(json!({"app": "web", "tier": "front"}))));
        assert!(!s.matches(&obj(json!({"app": "web"}))));
    }
}

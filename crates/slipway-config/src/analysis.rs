//! The small languages of analysis checks: the conditions on a Prometheus result
//! (`result >= 0.95`), the conditions on a JSON body (`.status == "ok"`), and the
//! placeholders of a query or path (`{{canary-service}}`). Parsing happens when the file
//! is loaded, so that a mistake is reported with its line; evaluation happens during a
//! release.

use std::fmt;

use serde_json::Value;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    /// In the order they are looked for (two-character operators first).
    const ALL: &[(&'static str, Op)] = &[
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    fn holds(self, ord: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match (self, ord) {
            (Op::Ne, None) => true,
            (_, None) => false,
            (Op::Ge, Some(o)) => o != Less,
            (Op::Gt, Some(o)) => o == Greater,
            (Op::Le, Some(o)) => o != Greater,
            (Op::Lt, Some(o)) => o == Less,
            (Op::Eq, Some(o)) => o == Equal,
            (Op::Ne, Some(o)) => o != Equal,
        }
    }

    /// Splits `text` at its first operator: (left, op, right), both sides trimmed.
    fn split(text: &str) -> Option<(&str, Op, &str)> {
        let (at, op, len) = Op::ALL
            .iter()
            .filter_map(|(s, op)| text.find(s).map(|at| (at, *op, s.len())))
            .min_by_key(|(at, _, len)| (*at, std::cmp::Reverse(*len)))?;
        Some((text[..at].trim(), op, text[at + len..].trim()))
    }
}

/// A condition on the number a Prometheus query returns: `result OP NUMBER`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub op: Op,
    pub value: f64,
}

impl Eq for Condition {}

impl Condition {
    /// Reads `result >= 0.95`.
    ///
    /// # Errors
    ///
    /// What is wrong, for the loader to report with the line.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let Some((left, op, right)) = Op::split(text) else {
            return Err(format!(
                "`{text}` is not a condition: no comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`)"
            ));
        };
        if left != "result" {
            return Err(format!(
                "a condition compares `result`, found `{left}` on the left of `{}`",
                op.as_str()
            ));
        }
        let value = right
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("`{right}` is not a number"))?;
        Ok(Condition { op, value })
    }

    /// Whether `result` meets the condition.
    pub fn holds(&self, result: f64) -> bool {
        self.op.holds(result.partial_cmp(&self.value))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "result {} {}", self.op.as_str(), self.value)
    }
}

/// One step of a JSON path: a member or an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// A condition on a JSON body: `.status == "ok"`, `.checks[0].healthy == true`,
/// `.queue.depth < 100`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonCondition {
    pub path: Vec<PathStep>,
    pub op: Op,
    /// A string, number, boolean or null.
    pub value: Value,
    /// As written.
    pub text: String,
}

impl Eq for JsonCondition {}

impl JsonCondition {
    /// Reads `.a.b[0] == "ok"`.
    ///
    /// # Errors
    ///
    /// What is wrong, for the loader to report with the line.
    pub fn parse(text: &str) -> Result<JsonCondition, String> {
        let Some((left, op, right)) = Op::split(text) else {
            return Err(format!(
                "`{text}` is not a condition: no comparison (`==`, `!=`, `>=`, `>`, `<=`, `<`)"
            ));
        };
        let path = parse_path(left)?;
        let value: Value = serde_json::from_str(right).map_err(|_| {
            format!(
                "`{right}` is not a JSON value: write a \"string\", a number, true, false or null"
            )
        })?;
        if value.is_array() || value.is_object() {
            return Err(format!(
                "`{right}` is not a string, number, boolean or null"
            ));
        }
        if !matches!(op, Op::Eq | Op::Ne) && !value.is_number() {
            return Err(format!(
                "`{}` compares numbers; `{right}` is not one",
                op.as_str()
            ));
        }
        Ok(JsonCondition {
            path,
            op,
            value,
            text: text.trim().to_owned(),
        })
    }

    /// The value the path finds in `body` (`None`: not there).
    pub fn find<'v>(&self, body: &'v Value) -> Option<&'v Value> {
        let mut at = body;
        for step in &self.path {
            at = match step {
                PathStep::Key(k) => at.get(k)?,
                PathStep::Index(i) => at.get(*i)?,
            };
        }
        Some(at)
    }

    /// Whether `found` meets the condition (a missing value meets only `!=`).
    pub fn holds(&self, found: Option<&Value>) -> bool {
        let Some(found) = found else {
            return self.op == Op::Ne;
        };
        match (found.as_f64(), self.value.as_f64()) {
            (Some(a), Some(b)) => self.op.holds(a.partial_cmp(&b)),
            _ => match self.op {
                Op::Eq => found == &self.value,
                Op::Ne => found != &self.value,
                _ => false,
            },
        }
    }
}

fn parse_path(text: &str) -> Result<Vec<PathStep>, String> {
    let bad = || {
        format!("`{text}` is not a path into the body: write `.key`, `.key.sub` or `.items[0].key`")
    };
    let mut rest = text.strip_prefix('.').ok_or_else(bad)?;
    let mut steps = Vec::new();
    if rest.is_empty() {
        return Ok(steps);
    }
    loop {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = &rest[..end];
        if !key.is_empty() {
            if !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(bad());
            }
            steps.push(PathStep::Key(key.to_owned()));
        } else if !rest.starts_with('[') {
            return Err(bad());
        }
        rest = &rest[end..];
        while let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').ok_or_else(bad)?;
            let index = after[..close].parse::<usize>().map_err(|_| bad())?;
            steps.push(PathStep::Index(index));
            rest = &after[close + 1..];
        }
        if rest.is_empty() {
            return Ok(steps);
        }
        rest = rest.strip_prefix('.').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
    }
}

/// The placeholders a query or path may hold, each replaced during the release.
pub const PLACEHOLDERS: &[&str] = &[
    "namespace",
    "deployment",
    "service",
    "canary-deployment",
    "canary-service",
];

/// The placeholders of `text` that are not known: `{{name}}` with a name outside
/// [`PLACEHOLDERS`], or a `{{` that is never closed.
pub fn unknown_placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push(after.to_owned());
            break;
        };
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            out.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    out
}

/// `text` with each `{{name}}` replaced by `value(name)`; an unknown name (or one whose
/// value is `None`) is left as written.
pub fn fill_placeholders(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match value(after[..end].trim()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_on_a_result() {
        let c = Condition::parse("result >= 0.95").unwrap();
        assert_eq!(c.op, Op::Ge);
        assert!(c.holds(0.95) && c.holds(1.0) && !c.holds(0.9));
        assert!(!c.holds(f64::NAN));
        assert_eq!(c.to_string(), "result >= 0.95");
        let c = Condition::parse("result>0.05").unwrap();
        assert!(c.holds(0.2) && !c.holds(0.05));
        assert!(Condition::parse("result < 1e3").unwrap().holds(10.0));
        assert!(Condition::parse("result == 0").unwrap().holds(0.0));
        assert!(Condition::parse("result != 0").unwrap().holds(1.0));
        assert!(
            Condition::parse("value >= 1")
                .unwrap_err()
                .contains("compares `result`")
        );
        assert!(
            Condition::parse("result >= high")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            Condition::parse("result")
                .unwrap_err()
                .contains("no comparison")
        );
    }

    #[test]
    fn conditions_on_a_json_body() {
        let body = json!({"status": "ok", "checks": [{"healthy": true, "latency": 12}]});
        let c = JsonCondition::parse(".status == \"ok\"").unwrap();
        assert!(c.holds(c.find(&body)));
        let c = JsonCondition::parse(".checks[0].healthy == true").unwrap();
        assert!(c.holds(c.find(&body)));
        let c = JsonCondition::parse(".checks[0].latency < 100").unwrap();
        assert!(c.holds(c.find(&body)));
        let c = JsonCondition::parse(".checks[1].latency < 100").unwrap();
        assert!(!c.holds(c.find(&body)), "a missing value is not below 100");
        let c = JsonCondition::parse(".status != \"down\"").unwrap();
        assert!(c.holds(c.find(&body)));
        assert!(JsonCondition::parse("status == \"ok\"").is_err());
        assert!(JsonCondition::parse(".status == ok").is_err());
        assert!(JsonCondition::parse(".status > \"a\"").is_err());
        assert!(JsonCondition::parse(".a..b == 1").is_err());
        assert!(JsonCondition::parse(".a[x] == 1").is_err());
    }

    #[test]
    fn placeholders_are_known_and_filled() {
        let q = "rate(x{canary=\"{{canary-service}}\",ns=\"{{ namespace }}\"}[1m])";
        assert!(unknown_placeholders(q).is_empty());
        assert_eq!(unknown_placeholders("{{canary}} {{x"), ["canary", "x"]);
        let filled = fill_placeholders(q, |n| match n {
            "canary-service" => Some("api-canary".into()),
            "namespace" => Some("shop".into()),
            _ => None,
        });
        assert_eq!(filled, "rate(x{canary=\"api-canary\",ns=\"shop\"}[1m])");
        assert_eq!(fill_placeholders("{{other}} {{", |_| None), "{{other}} {{");
    }
}

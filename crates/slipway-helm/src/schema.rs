//! `values.schema.json`: the coalesced values of each chart are checked against its
//! schema, as Helm does before rendering.

use gotemplate::Value;

use crate::chart::{Chart, Map};
use crate::error::{Error, Result};

/// Checks `values` against the chart's schema and each subchart's against its own.
pub fn validate(chart: &Chart, values: &Map) -> Result<()> {
    let mut report = String::new();
    collect(chart, values, &mut report)?;
    if report.is_empty() {
        return Ok(());
    }
    Err(Error::Values(format!(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{report}"
    )))
}

fn collect(chart: &Chart, values: &Map, report: &mut String) -> Result<()> {
    if let Some(schema) = &chart.schema {
        let schema: serde_json::Value = serde_json::from_slice(schema).map_err(|e| {
            Error::Chart(format!(
                "{}: cannot read values.schema.json: {e}",
                chart.name()
            ))
        })?;
        let validator = jsonschema::validator_for(&schema).map_err(|e| {
            Error::Chart(format!("{}: invalid values.schema.json: {e}", chart.name()))
        })?;
        let instance = to_json(&Value::Map(values.clone()));
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| {
                let path = e.instance_path().to_string();
                let at = if path.is_empty() {
                    "(root)".to_string()
                } else {
                    path
                };
                format!("- {at}: {e}\n")
            })
            .collect();
        if !errors.is_empty() {
            report.push_str(&format!("{}:\n", chart.name()));
            for e in errors {
                report.push_str(&e);
            }
        }
    }
    for sub in &chart.dependencies {
        let sub_values = match values.get(sub.name()) {
            Some(Value::Map(m)) => m.clone(),
            _ => Map::new(),
        };
        collect(sub, &sub_values, report)?;
    }
    Ok(())
}

/// Values as JSON, as Helm marshals them for validation.
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            serde_json::Value::from(*f as i64)
        }
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        Value::Object(o) => serde_json::Value::String(format!("{o:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Metadata;

    #[test]
    fn values_breaking_the_schema_are_reported_per_chart() {
        let chart = Chart {
            metadata: Metadata {
                name: "c".into(),
                ..Metadata::default()
            },
            schema: Some(
                br#"{"type":"object","properties":{"replicas":{"type":"integer"}},"required":["replicas"]}"#
                    .to_vec(),
            ),
            ..Chart::default()
        };
        let mut ok = Map::new();
        ok.insert("replicas".into(), Value::Float(2.0));
        validate(&chart, &ok).unwrap();
        let mut bad = Map::new();
        bad.insert("replicas".into(), Value::str("two"));
        let err = validate(&chart, &bad).unwrap_err().to_string();
        assert!(err.starts_with("values don't meet the specifications of the schema(s) in the following chart(s):\nc:\n- /replicas: "), "{err}");
    }
}

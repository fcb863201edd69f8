//! Values: reading values files, and coalescing user values with the defaults of a
//! chart and its subcharts, as Helm's `chartutil` does (`CoalesceValues`,
//! `MergeValues`, globals).
//!
//! Helm 3 and Helm 4 differ on `null`: Helm 3 lets a `null` delete a key wherever it
//! meets one; Helm 4 drops the nulls of chart defaults (a parent chart's
//! `values.yaml` included) before they are coalesced, so they no longer delete a
//! subchart's defaults, while a user's `null` still deletes a default it overrides.
//! [`HelmVersion`] chooses.

use gotemplate::Value;

use crate::chart::{Chart, Map};
use crate::error::{Error, Result};

/// Which Helm's behaviour to follow where versions differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum HelmVersion {
    /// Helm 3 (v3.21): the default.
    #[default]
    V3,
    /// Helm 4.0 and 4.1: Helm 4's null handling, Helm 3's output layout.
    V4_1,
    /// Helm 4.2: also keeps each template's trailing newline in the output
    /// (a blank line before every `---`, helm#32565).
    V4_2,
}

impl HelmVersion {
    /// Parses `3`, `4`, `4.1`, `v4.2.4`...
    pub fn parse(s: &str) -> Option<HelmVersion> {
        let s = s.trim_start_matches('v');
        let mut parts = s.split('.');
        match (parts.next(), parts.next()) {
            (Some("3"), _) => Some(HelmVersion::V3),
            (Some("4"), None) => Some(HelmVersion::V4_2),
            (Some("4"), Some("0" | "1")) => Some(HelmVersion::V4_1),
            (Some("4"), Some(_)) => Some(HelmVersion::V4_2),
            _ => None,
        }
    }

    pub(crate) fn is_v4(self) -> bool {
        self != HelmVersion::V3
    }
}

/// Reads a values document (a values file, `values.yaml`): a mapping, or nothing.
pub fn read_values(text: &str) -> Result<Map, String> {
    match gotemplate::yaml::from_str(text).map_err(|e| e.to_string())? {
        Value::Nil => Ok(Map::new()),
        Value::Map(m) => Ok(m),
        Value::List(_) => Err(
            "error unmarshaling JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
                .into(),
        ),
        _ => Err(
            "error unmarshaling JSON: json: cannot unmarshal string into Go value of type map[string]interface {}"
                .into(),
        ),
    }
}

/// Helm's `mergeMaps` for `-f` files: maps merge, everything else replaces.
pub fn merge_maps(a: Map, b: Map) -> Map {
    let mut out = a;
    for (k, v) in b {
        match (out.get_mut(&k), v) {
            (Some(Value::Map(existing)), Value::Map(v)) => {
                let merged = merge_maps(std::mem::take(existing), v);
                *existing = merged;
            }
            (_, v) => {
                out.insert(k, v);
            }
        }
    }
    out
}

/// `CoalesceValues`: user values over the chart's defaults, nulls deleting keys.
pub fn coalesce_values(chart: &Chart, vals: &Map, version: HelmVersion) -> Result<Map> {
    let mut dest = vals.clone();
    coalesce(chart, &mut dest, "", false, version)?;
    Ok(dest)
}

/// `MergeValues`: as [`coalesce_values`], keeping nulls.
pub fn merge_values(chart: &Chart, vals: &Map, version: HelmVersion) -> Result<Map> {
    let mut dest = vals.clone();
    coalesce(chart, &mut dest, "", true, version)?;
    Ok(dest)
}

fn concat_prefix(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

fn coalesce(
    chart: &Chart,
    dest: &mut Map,
    prefix: &str,
    merge: bool,
    v: HelmVersion,
) -> Result<()> {
    coalesce_chart_values(chart, dest, merge, v);
    coalesce_deps(chart, dest, prefix, merge, v)
}

fn coalesce_deps(
    chart: &Chart,
    dest: &mut Map,
    prefix: &str,
    merge: bool,
    v: HelmVersion,
) -> Result<()> {
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        let mut sub_vals = match dest.remove(&name) {
            None => Map::new(),
            Some(Value::Map(m)) => m,
            Some(other) => {
                return Err(Error::Values(format!(
                    "type mismatch on {name}: %!t({}={})",
                    go_type(&other),
                    go_print(&other)
                )));
            }
        };
        let sub_prefix = concat_prefix(prefix, chart.name());
        coalesce_globals(&mut sub_vals, dest, merge, v);
        coalesce(sub, &mut sub_vals, &sub_prefix, merge, v)?;
        dest.insert(name, Value::Map(sub_vals));
    }
    Ok(())
}

/// Copies the parent's `global` into the subchart's, the parent's entries winning.
fn coalesce_globals(dest: &mut Map, src: &Map, _merge: bool, v: HelmVersion) {
    let mut dg = match dest.get("global") {
        None => Map::new(),
        Some(Value::Map(m)) => m.clone(),
        Some(_) => return,
    };
    let sg = match src.get("global") {
        None => Map::new(),
        Some(Value::Map(m)) => m.clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        match val {
            Value::Map(mut vv) => match dg.get(&key) {
                None => {
                    dg.insert(key, Value::Map(vv));
                }
                Some(Value::Map(destv)) => {
                    coalesce_tables(&mut vv, destv.clone(), true, v);
                    dg.insert(key, Value::Map(vv));
                }
                Some(_) => {}
            },
            val => {
                if matches!(dg.get(&key), Some(Value::Map(_))) {
                    continue;
                }
                dg.insert(key, val);
            }
        }
    }
    dest.insert("global".into(), Value::Map(dg));
}

fn coalesce_chart_values(chart: &Chart, v: &mut Map, merge: bool, ver: HelmVersion) {
    for (key, val) in chart.values.clone() {
        match v.get_mut(&key) {
            Some(Value::Nil) if !merge => {
                v.remove(&key);
            }
            Some(Value::Map(dest)) => {
                let Value::Map(mut src) = val else { continue };
                if ver.is_v4() {
                    let merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                    if !merge {
                        clean_nils(&mut src);
                    }
                    coalesce_tables(dest, src, merge, ver);
                } else {
                    coalesce_tables(dest, src, merge, ver);
                }
            }
            Some(_) => {}
            None => {
                let mut val = val;
                if ver.is_v4() && !merge {
                    match &mut val {
                        Value::Nil => continue,
                        Value::Map(m) => clean_nils(m),
                        _ => {}
                    }
                }
                v.insert(key, val);
            }
        }
    }
}

fn clean_nils(m: &mut Map) {
    m.retain(|_, v| !v.is_nil());
    for v in m.values_mut() {
        if let Value::Map(sub) = v {
            clean_nils(sub);
        }
    }
}

/// `CoalesceTables` (`merge` false) and `MergeTables` (`merge` true): `src` under `dst`.
pub fn coalesce_tables(dst: &mut Map, mut src: Map, merge: bool, ver: HelmVersion) {
    let src_non_nil: std::collections::BTreeSet<String> = if ver.is_v4() {
        let keys = src
            .iter()
            .filter(|(_, v)| !v.is_nil())
            .map(|(k, _)| k.clone())
            .collect();
        for (k, v) in dst.iter() {
            if v.is_nil() {
                src.insert(k.clone(), Value::Nil);
            }
        }
        keys
    } else {
        Default::default()
    };
    for (key, val) in src {
        match dst.get_mut(&key) {
            Some(Value::Nil) if !merge && (!ver.is_v4() || src_non_nil.contains(&key)) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(dv) => {
                if let Value::Map(sv) = val
                    && let Value::Map(dm) = dv
                {
                    coalesce_tables(dm, sv, merge, ver);
                }
            }
        }
    }
}

/// Helm's `Values.Table`: the map at a dotted path.
pub fn table<'a>(vals: &'a Map, path: &str) -> Option<&'a Map> {
    let mut cur = vals;
    for part in path.split('.') {
        match cur.get(part) {
            Some(Value::Map(m)) => cur = m,
            _ => return None,
        }
    }
    Some(cur)
}

/// Helm's `Values.PathValue`: the value at a dotted path, when its key exists.
pub fn path_value<'a>(vals: &'a Map, path: &str) -> Option<&'a Value> {
    match path.rsplit_once('.') {
        None => vals.get(path),
        Some((t, key)) => table(vals, t)?.get(key),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Object(_) => "object",
    }
}

fn go_print(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        _ => String::from("..."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Metadata;

    fn m(pairs: Vec<(&str, Value)>) -> Map {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn chart(name: &str, values: Map, deps: Vec<Chart>) -> Chart {
        Chart {
            metadata: Metadata {
                name: name.into(),
                ..Metadata::default()
            },
            values,
            dependencies: deps,
            ..Chart::default()
        }
    }

    fn i(n: i64) -> Value {
        Value::Int(n)
    }

    fn issue_9027() -> Chart {
        let hash =
            |a: Value, b: Value| Value::Map(m(vec![("key1", a), ("key2", b), ("key3", i(13))]));
        let six = || {
            Value::Map(m((1..=6)
                .map(|n| {
                    (
                        ["key1", "key2", "key3", "key4", "key5", "key6"][n - 1],
                        i(n as i64),
                    )
                })
                .collect()))
        };
        let sub = chart(
            "subchart",
            m(vec![
                ("global", Value::Map(m(vec![("hash", six())]))),
                ("hash", six()),
            ]),
            vec![],
        );
        chart(
            "parent",
            m(vec![
                (
                    "global",
                    Value::Map(m(vec![("hash", hash(Value::Nil, Value::Nil))])),
                ),
                (
                    "subchart",
                    Value::Map(m(vec![("hash", hash(Value::Nil, Value::Nil))])),
                ),
            ]),
            vec![sub],
        )
    }

    fn sub_hash(vals: &Map) -> Vec<String> {
        table(vals, "subchart.hash")
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn user_values_win_and_maps_merge() {
        let c = chart(
            "a",
            m(vec![
                ("x", i(1)),
                ("t", Value::Map(m(vec![("a", i(1)), ("b", i(2))]))),
            ]),
            vec![],
        );
        let user = m(vec![("t", Value::Map(m(vec![("b", i(3))])))]);
        let out = coalesce_values(&c, &user, HelmVersion::V3).unwrap();
        assert_eq!(path_value(&out, "x").unwrap().clone().as_str(), None);
        assert!(matches!(path_value(&out, "t.a"), Some(Value::Int(1))));
        assert!(matches!(path_value(&out, "t.b"), Some(Value::Int(3))));
    }

    #[test]
    fn null_deletes_a_default() {
        let c = chart("a", m(vec![("x", i(1)), ("y", i(2))]), vec![]);
        let out = coalesce_values(&c, &m(vec![("x", Value::Nil)]), HelmVersion::V3).unwrap();
        assert!(!out.contains_key("x"));
        assert!(out.contains_key("y"));
    }

    #[test]
    fn helm3_parent_nulls_delete_subchart_defaults() {
        let c = issue_9027();
        let out = coalesce_values(&c, &Map::new(), HelmVersion::V3).unwrap();
        assert_eq!(sub_hash(&out), ["key3", "key4", "key5", "key6"]);
        assert!(matches!(
            path_value(&out, "subchart.hash.key3"),
            Some(Value::Int(13))
        ));
    }

    #[test]
    fn helm4_keeps_subchart_defaults_under_parent_nulls() {
        let c = issue_9027();
        let out = coalesce_values(&c, &Map::new(), HelmVersion::V4_2).unwrap();
        assert_eq!(
            sub_hash(&out),
            ["key1", "key2", "key3", "key4", "key5", "key6"]
        );
    }

    #[test]
    fn globals_flow_down_and_parent_globals_win() {
        let sub = chart(
            "sub",
            m(vec![(
                "global",
                Value::Map(m(vec![("a", i(1)), ("b", i(1))])),
            )]),
            vec![],
        );
        let c = chart(
            "top",
            m(vec![("global", Value::Map(m(vec![("a", i(2))])))]),
            vec![sub],
        );
        let out = coalesce_values(&c, &Map::new(), HelmVersion::V3).unwrap();
        assert!(matches!(
            path_value(&out, "sub.global.a"),
            Some(Value::Int(2))
        ));
        assert!(matches!(
            path_value(&out, "sub.global.b"),
            Some(Value::Int(1))
        ));
    }

    #[test]
    fn a_scalar_where_a_subchart_table_belongs_is_an_error() {
        let c = chart("top", Map::new(), vec![chart("sub", Map::new(), vec![])]);
        let err =
            coalesce_values(&c, &m(vec![("sub", Value::str("x"))]), HelmVersion::V3).unwrap_err();
        assert!(err.to_string().starts_with("type mismatch on sub"), "{err}");
    }

    #[test]
    fn values_files_merge_in_order() {
        let a = m(vec![
            ("t", Value::Map(m(vec![("a", i(1))]))),
            ("l", Value::List(vec![i(1)])),
        ]);
        let b = m(vec![
            ("t", Value::Map(m(vec![("b", i(2))]))),
            ("l", Value::List(vec![])),
        ]);
        let out = merge_maps(a, b);
        assert_eq!(table(&out, "t").unwrap().len(), 2);
        assert!(matches!(out.get("l"), Some(Value::List(l)) if l.is_empty()));
    }

    #[test]
    fn helm_version_names() {
        assert_eq!(HelmVersion::parse("3"), Some(HelmVersion::V3));
        assert_eq!(HelmVersion::parse("v4.1.4"), Some(HelmVersion::V4_1));
        assert_eq!(HelmVersion::parse("4.2"), Some(HelmVersion::V4_2));
        assert_eq!(HelmVersion::parse("2"), None);
    }
}

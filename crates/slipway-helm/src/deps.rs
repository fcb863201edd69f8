//! Dependencies: which subcharts are enabled (`condition`, `tags`), their `alias`
//! names, and the values they hand up to their parent (`import-values`), as Helm's
//! `ProcessDependenciesWithMerge` decides them before values are coalesced.

use gotemplate::Value;

use crate::chart::{Chart, ImportValue, Map};
use crate::error::Result;
use crate::semver::is_compatible_range;
use crate::values::{self, HelmVersion};

/// Removes disabled subcharts, applies aliases, and imports values from children.
pub fn process_dependencies(chart: &mut Chart, vals: &Map, ver: HelmVersion) -> Result<()> {
    process_enabled(chart, vals, "", ver)?;
    process_import_values(chart, ver)
}

fn process_enabled(c: &mut Chart, v: &Map, path: &str, ver: HelmVersion) -> Result<()> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let existing = std::mem::take(&mut c.dependencies);
    let mut deps: Vec<Chart> = existing
        .iter()
        .filter(|e| {
            !c.metadata
                .dependencies
                .iter()
                .any(|r| e.name() == r.name && is_compatible_range(&r.version, &e.metadata.version))
        })
        .cloned()
        .collect();
    for req in &mut c.metadata.dependencies {
        if let Some(found) = existing.iter().find(|e| {
            e.name() == req.name && is_compatible_range(&req.version, &e.metadata.version)
        }) {
            let mut found = found.clone();
            if !req.alias.is_empty() {
                found.metadata.name = req.alias.clone();
            }
            deps.push(found);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
        req.enabled = true;
    }
    c.dependencies = deps;
    let cvals = values::coalesce_values(c, v, ver)?;
    process_tags(c, &cvals);
    process_conditions(c, &cvals, path);
    let disabled: Vec<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies
        .retain(|d| !disabled.contains(&d.metadata.name));
    c.metadata
        .dependencies
        .retain(|d| !disabled.contains(&d.name));
    for sub in &mut c.dependencies {
        let sub_path = format!("{path}{}.", sub.metadata.name);
        process_enabled(sub, &cvals, &sub_path, ver)?;
    }
    Ok(())
}

fn process_tags(c: &mut Chart, cvals: &Map) {
    let Some(tags) = values::table(cvals, "tags") else {
        return;
    };
    for r in &mut c.metadata.dependencies {
        let (mut has_true, mut has_false) = (false, false);
        for t in &r.tags {
            match tags.get(t) {
                Some(Value::Bool(true)) => has_true = true,
                Some(Value::Bool(false)) => has_false = true,
                _ => {}
            }
        }
        if !has_true && has_false {
            r.enabled = false;
        } else if has_true || !has_false {
            r.enabled = true;
        }
    }
}

/// A condition is `a,b c`: space-separated alternatives (OR) of comma-separated
/// terms (AND), each term a values path, `!` negating it. Paths that are missing or
/// not booleans are left out; a condition with no usable term changes nothing.
fn process_conditions(c: &mut Chart, cvals: &Map, path: &str) {
    for r in &mut c.metadata.dependencies {
        let lookup = |lit: &str| match values::path_value(cvals, &format!("{path}{lit}")) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        };
        let mut result: Option<bool> = None;
        for clause in r.condition.split_whitespace() {
            let mut conj: Option<bool> = None;
            for lit in clause.split(',') {
                let (neg, lit) = match lit.strip_prefix('!') {
                    Some(l) => (true, l),
                    None => (false, lit),
                };
                if let Some(b) = lookup(lit) {
                    let b = b != neg;
                    conj = Some(conj.map_or(b, |c| c && b));
                }
            }
            if let Some(b) = conj {
                result = Some(result.map_or(b, |r| r || b));
            }
        }
        if let Some(b) = result {
            r.enabled = b;
        }
    }
}

fn process_import_values(c: &mut Chart, ver: HelmVersion) -> Result<()> {
    for d in &mut c.dependencies {
        process_import_values(d, ver)?;
    }
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let cvals = values::merge_values(c, &Map::new(), ver)?;
    let mut imported = Map::new();
    for r in &c.metadata.dependencies {
        for iv in &r.import_values {
            let (child, parent) = match iv {
                ImportValue::Map { child, parent } => (child.clone(), parent.clone()),
                ImportValue::Export(name) => (format!("exports.{name}"), ".".to_string()),
            };
            let Some(table) = values::table(&cvals, &format!("{}.{child}", r.name)) else {
                continue;
            };
            let src = path_to_map(&parent, table.clone());
            values::coalesce_tables(&mut imported, src, true, ver);
        }
    }
    // The parent's own values win over what it imports.
    let mut merged = cvals;
    values::coalesce_tables(&mut merged, imported, true, ver);
    c.values = merged;
    Ok(())
}

fn path_to_map(path: &str, data: Map) -> Map {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let mut m = Map::new();
        m.insert(part.to_string(), Value::Map(cur));
        cur = m;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{Dependency, Metadata};

    fn m(pairs: Vec<(&str, Value)>) -> Map {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn sub(name: &str, values: Map) -> Chart {
        Chart {
            metadata: Metadata {
                name: name.into(),
                version: "0.1.0".into(),
                ..Metadata::default()
            },
            values,
            ..Chart::default()
        }
    }

    fn dep(name: &str, f: impl FnOnce(&mut Dependency)) -> Dependency {
        let mut d = Dependency {
            name: name.into(),
            version: "0.1.0".into(),
            enabled: true,
            ..Dependency::default()
        };
        f(&mut d);
        d
    }

    fn parent(values: Map, deps: Vec<Dependency>, charts: Vec<Chart>) -> Chart {
        Chart {
            metadata: Metadata {
                name: "parent".into(),
                version: "0.1.0".into(),
                dependencies: deps,
                ..Metadata::default()
            },
            values,
            dependencies: charts,
            ..Chart::default()
        }
    }

    fn names(c: &Chart) -> Vec<&str> {
        c.dependencies.iter().map(|d| d.name()).collect()
    }

    #[test]
    fn a_false_condition_disables_a_subchart() {
        let mut c = parent(
            m(vec![("a", Value::map([("enabled", Value::Bool(false))]))]),
            vec![
                dep("a", |d| d.condition = "a.enabled".into()),
                dep("b", |_| {}),
            ],
            vec![sub("a", Map::new()), sub("b", Map::new())],
        );
        process_dependencies(&mut c, &Map::new(), HelmVersion::V3).unwrap();
        assert_eq!(names(&c), ["b"]);
    }

    #[test]
    fn user_values_decide_conditions() {
        let mut c = parent(
            m(vec![("a", Value::map([("enabled", Value::Bool(false))]))]),
            vec![dep("a", |d| d.condition = "missing.path a.enabled".into())],
            vec![sub("a", Map::new())],
        );
        let user = m(vec![("a", Value::map([("enabled", Value::Bool(true))]))]);
        process_dependencies(&mut c, &user, HelmVersion::V3).unwrap();
        assert_eq!(names(&c), ["a"]);
    }

    #[test]
    fn tags_disable_only_when_no_tag_is_true() {
        let tags = Value::map([("front", Value::Bool(false)), ("back", Value::Bool(true))]);
        let mut c = parent(
            m(vec![("tags", tags)]),
            vec![
                dep("a", |d| d.tags = vec!["front".into()]),
                dep("b", |d| d.tags = vec!["front".into(), "back".into()]),
            ],
            vec![sub("a", Map::new()), sub("b", Map::new())],
        );
        process_dependencies(&mut c, &Map::new(), HelmVersion::V3).unwrap();
        assert_eq!(names(&c), ["b"]);
    }

    #[test]
    fn an_alias_renames_the_subchart() {
        let mut c = parent(
            Map::new(),
            vec![
                dep("a", |d| d.alias = "first".into()),
                dep("a", |d| d.alias = "second".into()),
            ],
            vec![sub("a", Map::new())],
        );
        process_dependencies(&mut c, &Map::new(), HelmVersion::V3).unwrap();
        assert_eq!(names(&c), ["first", "second"]);
    }

    #[test]
    fn import_values_both_forms_and_parent_wins() {
        let child_vals = m(vec![
            (
                "data",
                Value::map([("x", Value::Int(1)), ("y", Value::Int(2))]),
            ),
            (
                "exports",
                Value::map([("cfg", Value::map([("z", Value::Int(3))]))]),
            ),
        ]);
        let mut c = parent(
            m(vec![("imported", Value::map([("y", Value::Int(9))]))]),
            vec![dep("a", |d| {
                d.import_values = vec![
                    ImportValue::Map {
                        child: "data".into(),
                        parent: "imported".into(),
                    },
                    ImportValue::Export("cfg".into()),
                ]
            })],
            vec![sub("a", child_vals)],
        );
        process_dependencies(&mut c, &Map::new(), HelmVersion::V3).unwrap();
        assert!(matches!(
            values::path_value(&c.values, "imported.x"),
            Some(Value::Int(1))
        ));
        assert!(matches!(
            values::path_value(&c.values, "imported.y"),
            Some(Value::Int(9))
        ));
        assert!(matches!(
            values::path_value(&c.values, "z"),
            Some(Value::Int(3))
        ));
    }
}

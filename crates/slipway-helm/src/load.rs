//! Loading a chart from a folder or a packaged `.tgz`, as Helm's `loader` does.
//!
//! A folder is walked in lexical order with its `.helmignore`; the files of subcharts
//! under `charts/` are read by that same walk (so only the top chart's `.helmignore`
//! applies, as in Helm), then grouped per subchart; `.tgz` subcharts are unpacked.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::chart::{Chart, ChartFile, Metadata};
use crate::error::{Error, Result};
use crate::ignore::Rules;

/// Loads a chart from a folder or a `.tgz` file.
pub fn load(path: &Path) -> Result<Chart> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::Chart(format!(
            "path {:?} not found: {e}",
            path.display().to_string()
        ))
    })?;
    if meta.is_dir() {
        load_dir(path)
    } else {
        let data = std::fs::read(path)
            .map_err(|e| Error::Io(format!("cannot read `{}`: {e}", path.display())))?;
        load_archive(&data)
    }
}

/// Loads a chart folder.
pub fn load_dir(dir: &Path) -> Result<Chart> {
    let mut rules = match std::fs::read_to_string(dir.join(".helmignore")) {
        Ok(text) => Rules::parse(&text)
            .map_err(|e| Error::Chart(format!("{}: {e}", dir.join(".helmignore").display())))?,
        Err(_) => Rules::default(),
    };
    rules.add_defaults();
    let mut files = Vec::new();
    walk(dir, "", &rules, &mut files)?;
    load_files(files)
}

fn walk(dir: &Path, prefix: &str, rules: &Rules, out: &mut Vec<ChartFile>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Io(format!("cannot read `{}`: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let path = entry.path();
        // Symbolic links are followed, as Helm does.
        let meta = std::fs::metadata(&path)
            .map_err(|e| Error::Io(format!("cannot read `{}`: {e}", path.display())))?;
        if meta.is_dir() {
            if rules.ignore(&rel, true) {
                continue;
            }
            walk(&path, &format!("{rel}/"), rules, out)?;
            continue;
        }
        if rules.ignore(&rel, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(Error::Chart(format!(
                "cannot load irregular file {} as it has file mode type bits set",
                path.display()
            )));
        }
        let data = std::fs::read(&path)
            .map_err(|e| Error::Io(format!("cannot read `{}`: {e}", path.display())))?;
        out.push(ChartFile {
            name: rel,
            data: strip_bom(data),
        });
    }
    Ok(())
}

fn strip_bom(data: Vec<u8>) -> Vec<u8> {
    match data.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => data,
    }
}

/// Loads a packaged chart (`.tgz`): every file sits under one top folder.
pub fn load_archive(data: &[u8]) -> Result<Chart> {
    let gz = flate2::read::GzDecoder::new(data);
    let mut tar = tar::Archive::new(gz);
    let mut files = Vec::new();
    let entries = tar
        .entries()
        .map_err(|e| Error::Chart(format!("cannot read the chart archive: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| Error::Chart(format!("cannot read the chart archive: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let raw = entry
            .path()
            .map_err(|e| Error::Chart(format!("cannot read the chart archive: {e}")))?
            .to_string_lossy()
            .replace('\\', "/");
        let mut parts = raw.splitn(2, '/');
        let top = parts.next().unwrap_or_default();
        let Some(name) = parts.next() else {
            if top == "Chart.yaml" {
                return Err(Error::Chart("chart yaml not in base directory".into()));
            }
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if name.split('/').any(|p| p == "..") {
            return Err(Error::Chart(
                "chart illegally contains content outside the base directory".into(),
            ));
        }
        let mut buf = Vec::new();
        entry
            .read_to_end(&mut buf)
            .map_err(|e| Error::Chart(format!("cannot read the chart archive: {e}")))?;
        files.push(ChartFile {
            name: name.to_string(),
            data: strip_bom(buf),
        });
    }
    if files.is_empty() {
        return Err(Error::Chart("no files in chart archive".into()));
    }
    load_files(files)
}

/// Builds a chart from its files (paths relative to the chart's root).
pub fn load_files(files: Vec<ChartFile>) -> Result<Chart> {
    let mut chart = Chart::default();
    let mut metadata: Option<Metadata> = None;
    let mut requirements: Option<Vec<crate::chart::Dependency>> = None;
    let mut subcharts: BTreeMap<String, Vec<ChartFile>> = BTreeMap::new();
    for f in files {
        match f.name.as_str() {
            "Chart.yaml" => {
                let text = String::from_utf8_lossy(&f.data);
                let doc = gotemplate::yaml::from_str(&text)
                    .map_err(|e| Error::Chart(format!("cannot load Chart.yaml: {e}")))?;
                let mut md = Metadata::from_value(&doc)?;
                if md.api_version.is_empty() {
                    md.api_version = "v1".into();
                }
                metadata = Some(md);
            }
            "requirements.yaml" => {
                let text = String::from_utf8_lossy(&f.data);
                let doc = gotemplate::yaml::from_str(&text)
                    .map_err(|e| Error::Chart(format!("cannot load requirements.yaml: {e}")))?;
                let md = Metadata::from_value(&Value::map([(
                    "dependencies",
                    doc.as_map()
                        .and_then(|m| m.get("dependencies").cloned())
                        .unwrap_or(Value::Nil),
                )]))?;
                requirements = Some(md.dependencies);
                chart.files.push(f);
            }
            "Chart.lock" | "requirements.lock" => {}
            "values.yaml" => {
                let text = String::from_utf8_lossy(&f.data);
                chart.values = crate::values::read_values(&text)
                    .map_err(|e| Error::Chart(format!("cannot load values.yaml: {e}")))?;
            }
            "values.schema.json" => chart.schema = Some(f.data),
            name if name.starts_with("templates/") => chart.templates.push(f),
            name if name.starts_with("charts/") => {
                if name.ends_with(".prov") {
                    chart.files.push(f);
                    continue;
                }
                let rest = &name["charts/".len()..];
                let group = rest.split('/').next().unwrap_or_default().to_string();
                subcharts.entry(group).or_default().push(ChartFile {
                    name: rest.to_string(),
                    data: f.data,
                });
            }
            _ => chart.files.push(f),
        }
    }
    let Some(mut md) = metadata else {
        return Err(Error::Chart("Chart.yaml file is missing".into()));
    };
    if md.api_version == "v1"
        && let Some(reqs) = requirements
        && md.dependencies.is_empty()
    {
        md.dependencies = reqs;
    }
    md.validate()?;
    chart.metadata = md;
    for (group, files) in subcharts {
        if group.starts_with('_') || group.starts_with('.') {
            continue;
        }
        let sub = if group.ends_with(".tgz") {
            let file = &files[0];
            if file.name != group {
                return Err(Error::Chart(format!(
                    "error unpacking subchart tar in {}: expected {group}, got {}",
                    chart.name(),
                    file.name
                )));
            }
            load_archive(&file.data)
        } else {
            let inner = files
                .into_iter()
                .filter_map(|f| {
                    let (_, rest) = f.name.split_once('/')?;
                    Some(ChartFile {
                        name: rest.to_string(),
                        data: f.data,
                    })
                })
                .collect();
            load_files(inner)
        };
        let sub = sub.map_err(|e| match e {
            Error::Validation(_) => e,
            e => Error::Chart(format!(
                "error unpacking subchart {group} in {}: {e}",
                chart.name()
            )),
        })?;
        chart.dependencies.push(sub);
    }
    Ok(chart)
}

use gotemplate::Value;

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str) -> ChartFile {
        ChartFile {
            name: name.into(),
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_chart_without_chart_yaml_is_refused() {
        let err = load_files(vec![file("README.md", "# a chart\n")]).unwrap_err();
        assert_eq!(err.to_string(), "Chart.yaml file is missing");
    }
}

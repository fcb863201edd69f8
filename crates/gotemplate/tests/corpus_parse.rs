//! Every template of the Helm corpus parses (when `../shared/helm-corpus` exists).

use std::path::{Path, PathBuf};

use gotemplate::Engine;

mod common;

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus");
    dir.is_dir().then_some(dir)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            let s = p.to_string_lossy();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if s.contains("/templates/") || (name.starts_with('_') && name.ends_with(".tpl")) {
                out.push(p);
            }
        }
    }
}

#[test]
fn every_corpus_template_parses() {
    let Some(dir) = corpus() else {
        println!("skipped: ../shared/helm-corpus is not present");
        return;
    };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let mut failures = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let mut e = Engine::helm();
        let name = f
            .strip_prefix(&dir)
            .unwrap_or(f)
            .to_string_lossy()
            .into_owned();
        if let Err(err) = e.parse(&name, &text) {
            failures.push(format!("{name}: {err}"));
        }
    }
    println!(
        "{} of {} corpus templates parse",
        files.len() - failures.len(),
        files.len()
    );
    // One template of the corpus is broken on purpose (Helm's invalid-template-expr test chart).
    let unexpected: Vec<&String> = failures
        .iter()
        .filter(|f| !f.contains("invalid-template-expr"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "templates that do not parse:\n{}",
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_corpus_values_file_reads() {
    let Some(dir) = corpus() else {
        println!("skipped: ../shared/helm-corpus is not present");
        return;
    };
    let mut files = Vec::new();
    common::files_under(&dir, &mut files);
    let values: Vec<&PathBuf> = files
        .iter()
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !p.to_string_lossy().contains("/templates/")
                && (n.starts_with("values") && n.ends_with(".yaml") || n == "Chart.yaml")
        })
        .collect();
    let mut failures = Vec::new();
    for f in &values {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        match gotemplate::yaml::from_str(&text) {
            Err(e) => failures.push(format!("{}: {e}", f.display())),
            Ok(v) => {
                // toYaml's output reads back to the same data.
                let again = gotemplate::yaml::from_str(&gotemplate::yaml::to_string(&v));
                let same = again.is_ok_and(|a| {
                    gotemplate::json::to_string(&a) == gotemplate::json::to_string(&v)
                });
                if !same {
                    failures.push(format!(
                        "{}: toYaml does not read back to the same data",
                        f.display()
                    ));
                }
            }
        }
    }
    println!(
        "{} of {} values and Chart.yaml files read, and toYaml prints them back to the same data",
        values.len() - failures.len(),
        values.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

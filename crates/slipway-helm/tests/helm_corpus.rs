//! Every case of the Helm corpus (`../shared/helm-corpus/cases.json`, next to the
//! repository), rendered and compared as the corpus says: exact bytes, the otel
//! charts' normalised `--output-dir` files, or linkerd's YAML documents.
//!
//! `KNOWN_FAILING` lists the cases that do not pass yet. The test fails when a case
//! outside the list fails, and when a listed case passes (so the list only shrinks).
//! `HELM_CORPUS_FILTER=text` runs only the cases whose name contains `text`;
//! `HELM_CORPUS_VERBOSE=1` prints the first difference of each failing case;
//! `HELM_CORPUS_DUMP=DIR` writes each `helm template` case's output to `DIR`;
//! `HELM_CORPUS_LIST_FAILING=1` prints the failing names in the list's syntax.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gotemplate::Value;
use serde_json::Value as Json;
use slipway_helm::chart::{Chart, ChartFile, Metadata};
use slipway_helm::template::{TemplateOptions, name_and_chart, template};
use slipway_helm::{HelmVersion, Map, render, values};

/// Cases that do not pass yet, by name.
const KNOWN_FAILING: &[&str] = &[];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus")
}

fn strs(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn opt_str(v: &Json) -> Option<String> {
    v.as_str().map(String::from)
}

fn helm_version(suite: &str) -> HelmVersion {
    match suite {
        "helm-v4" => HelmVersion::V4_2,
        "otel" | "grafana-k8s-monitoring" => HelmVersion::V4_1,
        _ => HelmVersion::V3,
    }
}

/// Runs one case; `Err` holds a description of the first difference.
fn run_case(root: &Path, case: &Json) -> Result<(), String> {
    let mode = case["mode"].as_str().unwrap_or_default();
    match mode {
        "engine" => engine_case(root, case),
        "helm-template" | "helm-template-output-dir" => template_case(root, case, mode),
        other => Err(format!("unknown mode {other}")),
    }
}

fn options(root: &Path, case: &Json) -> TemplateOptions {
    let suite = case["suite"].as_str().unwrap_or_default();
    TemplateOptions {
        chart: root.join(case["chart"].as_str().unwrap_or_default()),
        release_name: if case["name_template"].is_string() {
            None
        } else {
            opt_str(&case["release"])
        },
        name_template: opt_str(&case["name_template"]),
        namespace: opt_str(&case["namespace"]).unwrap_or_else(|| "default".into()),
        values_files: strs(&case["values"]).iter().map(|v| root.join(v)).collect(),
        set: strs(&case["set"]),
        set_string: strs(&case["set_string"]),
        set_file: strs(&case["set_file"]),
        set_json: Vec::new(),
        api_versions: strs(&case["api_versions"]),
        cluster_api_versions: None,
        kube_version: opt_str(&case["kube_version"]),
        default_kube_version: opt_str(&case["default_kube_version"]),
        show_only: strs(&case["show_only"]),
        include_crds: case["include_crds"].as_bool().unwrap_or(false),
        skip_tests: case["skip_tests"].as_bool().unwrap_or(false),
        is_upgrade: case["is_upgrade"].as_bool().unwrap_or(false),
        debug: case["debug"].as_bool().unwrap_or(false),
        output_dir: None,
        helm_version: helm_version(suite),
    }
}

fn template_case(root: &Path, case: &Json, mode: &str) -> Result<(), String> {
    let mut opts = options(root, case);
    if case["chart"].is_null() {
        // Only the command line is checked: `helm template` with no argument.
        let out = name_and_chart(&[], opts.name_template.is_some()).unwrap_err();
        return compare_exact(
            &out.combined(),
            &read(root, case["expected"].as_str().unwrap())?,
        );
    }
    if mode == "helm-template-output-dir" {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        opts.output_dir = Some(dir.path().to_path_buf());
        let out = template(&opts);
        if let Some(e) = out.error {
            return Err(format!("failed: {e}"));
        }
        return compare_output_dir(root, case, dir.path(), &opts);
    }
    let out = template(&opts);
    let expected = read(root, case["expected"].as_str().unwrap())?;
    if let Ok(dir) = std::env::var("HELM_CORPUS_DUMP") {
        let file =
            Path::new(&dir).join(case["name"].as_str().unwrap_or_default().replace('/', "_"));
        let _ = std::fs::write(&file, out.combined());
    }
    compare_exact(&out.combined(), &expected)
}

fn read(root: &Path, rel: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(rel))
        .map(|s| s.replace("\r\n", "\n"))
        .map_err(|e| format!("cannot read {rel}: {e}"))
}

fn compare_exact(actual: &str, expected: &str) -> Result<(), String> {
    if actual == expected {
        return Ok(());
    }
    Err(first_difference(actual, expected))
}

fn first_difference(actual: &str, expected: &str) -> String {
    let a: Vec<&str> = actual.split('\n').collect();
    let e: Vec<&str> = expected.split('\n').collect();
    for i in 0..a.len().max(e.len()) {
        if a.get(i) != e.get(i) {
            let lo = i.saturating_sub(2);
            return format!(
                "line {}:\n  expected: {:?}\n  actual:   {:?}",
                i + 1,
                &e[lo..(i + 3).min(e.len())],
                &a[lo..(i + 3).min(a.len())]
            );
        }
    }
    "outputs differ".into()
}

/// The otel charts' `make check-examples`: whitespace before separators and at the
/// end normalised, lines with ignored patterns left out, file by file.
fn compare_output_dir(
    root: &Path,
    case: &Json,
    out: &Path,
    opts: &TemplateOptions,
) -> Result<(), String> {
    let chart_name = opts
        .chart
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let templates = out.join(&chart_name).join("templates");
    let expected_dir = root.join(case["expected"].as_str().unwrap());
    let ignore: Vec<regex::Regex> = strs(&case["ignore_lines_matching"])
        .iter()
        .map(|p| regex::Regex::new(p).unwrap())
        .collect();
    let mut produced = Vec::new();
    collect_files(&templates, "", &mut produced);
    produced.sort();
    let mut wanted = strs(&case["expected_files"]);
    wanted.sort();
    if produced != wanted {
        return Err(format!(
            "files differ:\n  expected: {wanted:?}\n  actual:   {produced:?}"
        ));
    }
    for f in &wanted {
        let actual = std::fs::read_to_string(templates.join(f)).map_err(|e| e.to_string())?;
        let expected = std::fs::read_to_string(expected_dir.join(f)).map_err(|e| e.to_string())?;
        let norm = |s: &str| {
            let s = normalize(s);
            s.lines()
                .filter(|l| !ignore.iter().any(|r| r.is_match(l)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        compare_exact(&norm(&actual), &norm(&expected)).map_err(|d| format!("{f}: {d}"))?;
    }
    Ok(())
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.path().is_dir() {
            collect_files(&e.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

/// `s/[ \t\n]+(?=\n---\n)//g; s/[ \t\n]+\z/\n/`
fn normalize(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\n---\n") {
        out.push_str(rest[..i].trim_end_matches([' ', '\t', '\n']));
        out.push_str("\n---\n");
        rest = &rest[i + 5..];
    }
    let trimmed = rest.trim_end_matches([' ', '\t', '\n']);
    out.push_str(trimmed);
    if trimmed.len() != rest.len() {
        out.push('\n');
    }
    out
}

/// linkerd's tests: an in-memory chart rendered by the engine, documents compared.
fn engine_case(root: &Path, case: &Json) -> Result<(), String> {
    let ec = &case["engine_chart"];
    let chart = engine_chart(root, ec)?;
    let mut user = Map::new();
    for f in strs(&case["values"]) {
        let v = gotemplate::yaml::from_str(&read(root, &f)?).map_err(|e| e.to_string())?;
        if let Value::Map(m) = v {
            user.extend(m);
        }
    }
    let ro = &case["release_options"];
    let mut top = Map::new();
    let coalesced =
        values::coalesce_values(&chart, &user, HelmVersion::V3).map_err(|e| e.to_string())?;
    top.insert("Values".into(), Value::Map(coalesced));
    top.insert(
        "Release".into(),
        Value::map([
            ("Name", Value::str(ro["Name"].as_str().unwrap_or_default())),
            (
                "Namespace",
                Value::str(ro["Namespace"].as_str().unwrap_or_default()),
            ),
            (
                "IsUpgrade",
                Value::Bool(ro["IsUpgrade"].as_bool().unwrap_or(false)),
            ),
            (
                "IsInstall",
                Value::Bool(ro["IsInstall"].as_bool().unwrap_or(false)),
            ),
            ("Revision", Value::Int(ro["Revision"].as_i64().unwrap_or(0))),
            (
                "Service",
                Value::str(ro["Service"].as_str().unwrap_or_default()),
            ),
        ]),
    );
    top.insert(
        "Capabilities".into(),
        Value::Object(std::rc::Rc::new(slipway_helm::objects::Capabilities {
            kube_version: slipway_helm::objects::KubeVersion::parse("v1.20.0").unwrap(),
            api_versions: slipway_helm::objects::ApiVersions(
                slipway_helm::objects::default_api_versions(),
            ),
            helm_version: "v3.21.4".into(),
        })),
    );
    let rendered =
        render::render(&chart, &top, HelmVersion::V3, None).map_err(|e| e.to_string())?;
    let name = chart.name().to_string();
    let mut out = String::new();
    for t in strs(&ec["templates"]) {
        if let Some(text) = rendered.get(&format!("{name}/{t}")) {
            out.push_str(&format!("---\n# Source: {name}/{t}\n{text}"));
        }
    }
    let expected = read(root, case["expected"].as_str().unwrap())?;
    let (a, e) = (yaml_docs(&out)?, yaml_docs(&expected)?);
    if a.len() != e.len() {
        return Err(format!("{} documents, expected {}", a.len(), e.len()));
    }
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        if !same(x, y) {
            return Err(format!(
                "document {} differs:\n  expected: {}\n  actual:   {}",
                i + 1,
                gotemplate::yaml::to_string(y)
                    .chars()
                    .take(600)
                    .collect::<String>(),
                gotemplate::yaml::to_string(x)
                    .chars()
                    .take(600)
                    .collect::<String>()
            ));
        }
    }
    Ok(())
}

fn engine_chart(root: &Path, ec: &Json) -> Result<Chart, String> {
    let troot = root.join(ec["templates_root"].as_str().unwrap_or_default());
    let mut templates = Vec::new();
    for t in strs(&ec["templates"]) {
        let data = std::fs::read(troot.join(&t)).map_err(|e| format!("{t}: {e}"))?;
        templates.push(ChartFile { name: t, data });
    }
    let values = match ec["values"].as_str() {
        Some(f) => match gotemplate::yaml::from_str(&read(root, f)?).map_err(|e| e.to_string())? {
            Value::Map(m) => m,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    let mut dependencies = Vec::new();
    for d in ec["dependencies"].as_array().into_iter().flatten() {
        dependencies.push(engine_chart(root, d)?);
    }
    Ok(Chart {
        metadata: Metadata {
            name: ec["metadata"]["name"].as_str().unwrap_or_default().into(),
            ..Metadata::default()
        },
        templates,
        values,
        dependencies,
        ..Chart::default()
    })
}

/// A YAML stream's documents (a comment-only document is null, as yaml.v2 reads it).
fn yaml_docs(s: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    for line in s.split_inclusive('\n') {
        let l = line.trim_end();
        if l == "---" || l.starts_with("--- ") {
            if started {
                docs.push(std::mem::take(&mut cur));
            }
            started = true;
            continue;
        }
        started = true;
        cur.push_str(line);
    }
    if started {
        docs.push(cur);
    }
    docs.iter()
        .map(|d| gotemplate::yaml::from_str(d).map_err(|e| e.to_string()))
        .collect()
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => *x as f64 == *y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

type Outcome = (Result<(), String>, std::time::Duration);

/// Runs the cases on every core (each case is independent), results in case order.
fn run_all(root: &Path, cases: &[&Json]) -> Vec<Outcome> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; cases.len()]);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let started = std::time::Instant::now();
                    let result = std::panic::catch_unwind(|| run_case(root, case))
                        .unwrap_or_else(|_| Err("panicked".into()));
                    results.lock().unwrap()[i] = Some((result, started.elapsed()));
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
}

#[test]
fn helm_corpus() {
    let root = corpus_dir();
    let Ok(text) = std::fs::read_to_string(root.join("cases.json")) else {
        println!("skipped: the Helm corpus is not at {}", root.display());
        return;
    };
    let cases: Vec<Json> = serde_json::from_str(&text).expect("cases.json is JSON");
    let filter = std::env::var("HELM_CORPUS_FILTER").ok();
    let verbose = std::env::var("HELM_CORPUS_VERBOSE").is_ok();
    let list_failing = std::env::var("HELM_CORPUS_LIST_FAILING").is_ok();
    let mut per_suite: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unexpected_failures = Vec::new();
    let mut unexpected_passes = Vec::new();
    let selected: Vec<&Json> = cases
        .iter()
        .filter(|c| {
            let name = c["name"].as_str().unwrap_or_default();
            filter.as_ref().is_none_or(|f| name.contains(f.as_str()))
        })
        .collect();
    let results = run_all(&root, &selected);
    for (case, (result, elapsed)) in selected.iter().zip(results) {
        let name = case["name"].as_str().unwrap_or_default();
        let suite = case["suite"].as_str().unwrap_or_default().to_string();
        if verbose {
            println!("{name}: {elapsed:.1?}");
        }
        let entry = per_suite.entry(suite).or_default();
        entry.1 += 1;
        let listed = KNOWN_FAILING.contains(&name);
        match result {
            Ok(()) => {
                entry.0 += 1;
                if listed {
                    unexpected_passes.push(name.to_string());
                }
            }
            Err(diff) => {
                if list_failing {
                    println!("LIST {name:?},");
                }
                if verbose {
                    println!("FAIL {name}: {diff}");
                }
                if !listed {
                    unexpected_failures.push(format!("{name}: {diff}"));
                }
            }
        }
    }
    let (mut pass, mut total) = (0, 0);
    for (suite, (p, t)) in &per_suite {
        println!("{suite}: {p}/{t} pass");
        pass += p;
        total += t;
    }
    println!("all: {pass}/{total} pass");
    assert!(
        unexpected_passes.is_empty(),
        "these cases now pass; remove them from KNOWN_FAILING: {unexpected_passes:#?}"
    );
    assert!(
        unexpected_failures.is_empty(),
        "these cases fail and are not in KNOWN_FAILING:\n{}",
        unexpected_failures.join("\n")
    );
}

//! The engine against real Helm output: linkerd's `engine`-mode cases of the corpus,
//! rendered the way linkerd's Go test does (the listed templates of one chart, the
//! `partials` dependency's `_*.tpl`, default values merged with the case's values at top
//! level) and compared as upstream compares them: document by document, as data.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use common::coalesce;
use gotemplate::{Dot, Engine, Object, Value};

mod common;

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus");
    dir.is_dir().then_some(dir)
}

/// Helm's default capabilities in its test builds: Kubernetes v1.20.0.
#[derive(Debug)]
struct KubeVersion;

impl Object for KubeVersion {
    fn type_name(&self) -> &str {
        "*chartutil.KubeVersion"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Version" | "GitVersion" => Value::str("v1.20.0"),
            "Major" => Value::str("1"),
            "Minor" => Value::str("20"),
            _ => return None,
        })
    }
    fn method(&self, name: &str, _: &[Value]) -> Option<Result<Value, String>> {
        (name == "String").then(|| Ok(Value::str("v1.20.0")))
    }
}

#[derive(Debug)]
struct ApiVersions;

impl Object for ApiVersions {
    fn type_name(&self) -> &str {
        "chartutil.VersionSet"
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn method(&self, name: &str, _: &[Value]) -> Option<Result<Value, String>> {
        (name == "Has").then(|| Ok(Value::Bool(false)))
    }
}

fn json(p: &Path) -> Value {
    gotemplate::json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The documents of a YAML stream as data, printed as JSON so they compare as strings.
fn documents(stream: &str) -> Vec<String> {
    let mut docs = Vec::new();
    for d in format!("\n{stream}").split("\n---") {
        let d = d.strip_prefix('\n').unwrap_or(d);
        if d.is_empty() && docs.is_empty() {
            continue;
        }
        let v = gotemplate::yaml::from_str(d).unwrap_or_else(|e| panic!("{e}\n{d}"));
        docs.push(gotemplate::json::to_string(&v));
    }
    docs
}

#[test]
fn linkerd_charts_render_as_helm_did() {
    let Some(dir) = corpus() else {
        println!("skipped: ../shared/helm-corpus is not present");
        return;
    };
    let cases = json(&dir.join("cases.json"));
    let (mut same, mut total) = (0, 0);
    let mut failures = Vec::new();
    for case in cases.as_list().unwrap() {
        let c = case.as_map().unwrap();
        if c["suite"].as_str() != Some("linkerd2") {
            continue;
        }
        total += 1;
        let name_of_case = c["name"].as_str().unwrap();
        let ec = c["engine_chart"].as_map().unwrap();
        let name = ec["metadata"].as_map().unwrap()["name"].as_str().unwrap();
        let root = dir.join(ec["templates_root"].as_str().unwrap());
        let mut engine = Engine::helm();
        if let Some(Value::List(deps)) = ec.get("dependencies") {
            for dep in deps {
                let d = dep.as_map().unwrap();
                let droot = dir.join(d["templates_root"].as_str().unwrap());
                let dname = d["metadata"].as_map().unwrap()["name"].as_str().unwrap();
                for t in d["templates"].as_list().unwrap() {
                    let t = t.as_str().unwrap();
                    engine
                        .parse(
                            &format!("{name}/charts/{dname}/{t}"),
                            &std::fs::read_to_string(droot.join(t)).unwrap(),
                        )
                        .unwrap();
                }
            }
        }
        let templates: Vec<&str> = ec["templates"]
            .as_list()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        for t in &templates {
            engine
                .parse(
                    &format!("{name}/{t}"),
                    &std::fs::read_to_string(root.join(t)).unwrap(),
                )
                .unwrap();
        }
        let mut values = match ec.get("values").and_then(Value::as_str) {
            Some(v) => json(&dir.join(v)),
            None => Value::map::<String>([]),
        };
        // The case's files are merged at top level, then coalesced over the defaults.
        let mut user = Value::map::<String>([]);
        for f in c["values"].as_list().unwrap() {
            if let (Value::Map(dst), Value::Map(src)) =
                (&mut user, json(&dir.join(f.as_str().unwrap())))
            {
                dst.extend(src);
            }
        }
        coalesce(&mut values, &user);
        let dot = Dot::new(&Value::map([
            ("Values", values),
            ("Release", c["release_options"].clone()),
            (
                "Chart",
                Value::map([
                    ("Name", Value::str(name)),
                    ("Version", Value::str("")),
                    ("AppVersion", Value::str("")),
                ]),
            ),
            (
                "Capabilities",
                Value::map([
                    ("KubeVersion", Value::Object(Rc::new(KubeVersion))),
                    ("APIVersions", Value::Object(Rc::new(ApiVersions))),
                ]),
            ),
            ("Files", Value::map::<String>([])),
        ]));
        let mut out = String::new();
        for t in &templates {
            let n = format!("{name}/{t}");
            dot.set(
                "Template",
                &Value::map([
                    ("Name", Value::str(n.clone())),
                    ("BasePath", Value::str(format!("{name}/templates"))),
                ]),
            );
            let text = engine
                .execute_dot(&n, &dot)
                .unwrap_or_else(|e| panic!("{name_of_case}: {e}"));
            out.push_str(&format!(
                "---\n# Source: {n}\n{}",
                text.replace("<no value>", "")
            ));
        }
        let want =
            documents(&std::fs::read_to_string(dir.join(c["expected"].as_str().unwrap())).unwrap());
        let got = documents(&out);
        if want == got {
            same += 1;
        } else {
            let at = want
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()));
            failures.push(format!("{name_of_case}: {} documents wanted, {} rendered, first difference at document {at}", want.len(), got.len()));
        }
    }
    println!("{same} of {total} linkerd cases render as Helm did");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

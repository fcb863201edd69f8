//! Bad input gives errors, never a panic: every prefix-cut of the corpus templates
//! either parses or fails with a positioned error, and executing what parses never panics.

use std::path::Path;

use gotemplate::{Engine, Value};

#[test]
fn cut_templates_fail_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/helm-corpus/otel/charts/opentelemetry-collector/templates");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: ../shared/helm-corpus is not present");
        return;
    };
    let values =
        gotemplate::yaml::from_str(&std::fs::read_to_string(dir.join("../values.yaml")).unwrap())
            .unwrap();
    let dot = Value::map([
        ("Values", values),
        (
            "Release",
            Value::map([("Name", Value::str("r")), ("Namespace", Value::str("ns"))]),
        ),
        (
            "Chart",
            Value::map([("Name", Value::str("c")), ("Version", Value::str("1.0.0"))]),
        ),
        (
            "Template",
            Value::map([
                ("Name", Value::str("t")),
                ("BasePath", Value::str("c/templates")),
            ]),
        ),
    ]);
    let mut errors = 0;
    let mut cuts = 0;
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let step = (text.len() / 40).max(1);
        let mut at = 0;
        while at < text.len() {
            let mut end = at;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let cut = &text[..end];
            cuts += 1;
            let mut engine = Engine::helm();
            match engine.parse("t", cut) {
                Ok(()) => {
                    // Whatever parses executes to output or to an error.
                    let _ = engine.execute("t", &dot);
                }
                Err(err) => {
                    assert!(err.to_string().starts_with("template: t:"), "{err}");
                    errors += 1;
                }
            }
            at += step;
        }
    }
    println!("{cuts} cut templates, {errors} parse errors, no panic");
    assert!(errors > 0 && cuts > errors);
}

#[test]
fn cut_yaml_fails_cleanly() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/helm-corpus/otel/charts/opentelemetry-collector/values.yaml");
    let Ok(text) = std::fs::read_to_string(&file) else {
        println!("skipped: ../shared/helm-corpus is not present");
        return;
    };
    let (mut read, mut failed) = (0, 0);
    for at in (0..text.len()).step_by((text.len() / 200).max(1)) {
        let mut end = at;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        match gotemplate::yaml::from_str(&text[..end]) {
            Ok(v) => {
                // Whatever reads prints back and reads again to the same data.
                let again = gotemplate::yaml::from_str(&gotemplate::yaml::to_string(&v)).unwrap();
                assert_eq!(
                    gotemplate::json::to_string(&v),
                    gotemplate::json::to_string(&again)
                );
                read += 1;
            }
            Err(e) => {
                assert!(
                    e.to_string()
                        .starts_with("error converting YAML to JSON: yaml: line "),
                    "{e}"
                );
                failed += 1;
            }
        }
    }
    println!("{read} cut values files read and round-tripped, {failed} failed cleanly");
    assert!(read > 0);
}

//! toYaml against go-yaml's own output: the `linkerd-config` ConfigMaps of the linkerd
//! goldens hold `toYaml` of the chart's values, printed by real Helm. Reading that block
//! and printing it again must give the same bytes.

use std::path::Path;

use gotemplate::{Engine, Value};

#[test]
fn to_yaml_reprints_helm_output_byte_for_byte() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus/linkerd2/testdata");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: ../shared/helm-corpus is not present");
        return;
    };
    let mut engine = Engine::helm();
    engine.parse("t", "{{ toYaml .Values }}").unwrap();
    let mut checked = 0;
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let Some(start) = text.find("\n  values: |\n") else {
            continue;
        };
        let block: Vec<&str> = text[start + "\n  values: |\n".len()..]
            .lines()
            .take_while(|l| l.starts_with("    ") || l.is_empty())
            .collect();
        let original: String = block
            .iter()
            .map(|l| format!("{}\n", l.get(4..).unwrap_or("")))
            .collect();
        let original = original.trim_end().to_string();
        let values = gotemplate::yaml::from_str(&original).unwrap();
        let printed = engine
            .execute("t", &Value::map([("Values", values)]))
            .unwrap();
        if printed != original {
            let diff: Vec<String> = original
                .lines()
                .zip(printed.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("want {a:?}\n got {b:?}"))
                .collect();
            panic!(
                "{}: toYaml differs:\n{}",
                e.path().display(),
                diff.join("\n")
            );
        }
        checked += 1;
    }
    println!("{checked} linkerd-config values blocks reprinted identically");
    assert!(checked > 0);
}

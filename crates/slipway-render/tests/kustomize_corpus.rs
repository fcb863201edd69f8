//! The real-world corpus: kustomizations written by other projects (kustomize's own
//! examples, kubebuilder scaffolds, Kubeflow, Flux, Argo CD, podinfo, microservices-demo),
//! each with the exact output of `kubectl kustomize` (or its error) stored beside it.
//!
//! The corpus lives outside the repository, in `../shared/kustomize-real` from the
//! repository root; the test says it skipped when the folder is absent. Every case with an
//! `expected.yaml` must print the same bytes through [`kustomize`] and [`to_yaml`] (what
//! `slipway kustomize DIR` prints); every case with an `expected-error.txt` must fail.
//!
//! Set `SLIPWAY_CORPUS_OUT=DIR` to write what each case printed (or its error) to
//! `DIR/<case>.yaml`, for comparing with `diff`.

use std::path::{Path, PathBuf};

use slipway_render::{kustomize, to_yaml};

/// Cases known to differ from kubectl. The list only shrinks: the test fails when a case
/// on it passes, so that it is taken off, and when a case not on it fails.
const KNOWN_FAILING: &[&str] = &[];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kustomize-real")
}

enum Outcome {
    Pass,
    Fail(String),
}

fn run_case(case: &Path, out_dir: Option<&Path>) -> Outcome {
    let root = match std::fs::read_to_string(case.join("root")) {
        Ok(r) => r.trim().to_owned(),
        Err(e) => return Outcome::Fail(format!("no `root` file: {e}")),
    };
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let result = kustomize(&case.join(&root)).map(|objects| to_yaml(&objects));
    if let Some(dir) = out_dir {
        let text = match &result {
            Ok(text) => text.clone(),
            Err(e) => format!("error: {e}\n"),
        };
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }
    let expected = case.join("expected.yaml");
    if expected.is_file() {
        let want = std::fs::read_to_string(&expected).unwrap();
        match result {
            Ok(got) if got == want => Outcome::Pass,
            Ok(got) => Outcome::Fail(first_difference(&want, &got)),
            Err(e) => Outcome::Fail(format!("error: {e}")),
        }
    } else {
        match result {
            Err(e) if !e.to_string().is_empty() => Outcome::Pass,
            Err(_) => Outcome::Fail("failed with an empty message".into()),
            Ok(_) => Outcome::Fail("built, but kubectl fails on this input".into()),
        }
    }
}

/// The first line where the two texts differ, for the table.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            return format!(
                "line {}: expected {:?}, got {:?}",
                i + 1,
                a.unwrap_or("<end>"),
                b.unwrap_or("<end>")
            );
        }
    }
    "differs only in the final newline".into()
}

#[test]
fn real_world_corpus_matches_kubectl_byte_for_byte() {
    let dir = corpus_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipped: the real-world corpus `{}` is absent",
            dir.display()
        );
        return;
    }
    let out_dir = std::env::var_os("SLIPWAY_CORPUS_OUT").map(PathBuf::from);
    if let Some(d) = &out_dir {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("root").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in `{}`", dir.display());

    let mut passed = 0;
    let mut problems = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let known = KNOWN_FAILING.contains(&name.as_str());
        match run_case(case, out_dir.as_deref()) {
            Outcome::Pass => {
                passed += 1;
                println!("pass  {name}");
                if known {
                    problems.push(format!("{name} passes: take it off KNOWN_FAILING"));
                }
            }
            Outcome::Fail(why) => {
                println!("FAIL  {name}: {why}");
                if !known {
                    problems.push(format!("{name} fails: {why}"));
                }
            }
        }
    }
    for name in KNOWN_FAILING {
        assert!(
            cases.iter().any(|c| c.ends_with(name)),
            "KNOWN_FAILING names `{name}`, which is not a case"
        );
    }
    println!("{passed} of {} cases identical to kubectl", cases.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

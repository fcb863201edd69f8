//! `slipway helm template` through the real binary: Helm's flags, output, error text
//! and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn slipway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(dir)
        .env_remove("SLIPWAY_LOG")
        .output()
        .expect("the slipway binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn no_chart_is_helms_argument_error() {
    let out = slipway(Path::new("."), &["helm", "template"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error: \"helm template\" requires at least 1 argument\n\nUsage:  helm template [NAME] [CHART] [flags]\n"
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn three_arguments_are_refused() {
    let out = slipway(Path::new("."), &["helm", "template", "a", "b", "c", "d"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error: expected at most two arguments, unexpected arguments: c, d\n"
    );
}

#[test]
fn an_unknown_helm_version_is_a_usage_error() {
    let out = slipway(
        Path::new("."),
        &["helm", "template", "x", "--helm-version", "2"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`2` is not a Helm version"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_chart_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = slipway(dir.path(), &["helm", "template", "rel", "./nochart"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "Error: path \"./nochart\" not found\n");
}

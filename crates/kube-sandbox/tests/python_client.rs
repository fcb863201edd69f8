//! The official Kubernetes Python client as a second judge of the sandbox's API semantics
//! (`tests/python/api_semantics.py`). `scripts/test.sh` makes a virtualenv with the client
//! and names its interpreter in `SLIPWAY_TEST_PYTHON`; without one, the test says it skipped.

mod common;

use common::Env;
use std::path::Path;
use std::process::Command;

/// An interpreter that can `import kubernetes`, if there is one.
fn python() -> Option<String> {
    let candidates = std::env::var("SLIPWAY_TEST_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import kubernetes"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    None
}

#[tokio::test]
async fn the_python_client_agrees_with_the_sandbox() {
    let Some(python) = python() else {
        eprintln!(
            "skipped: no Python with the `kubernetes` client (scripts/test.sh installs one and sets SLIPWAY_TEST_PYTHON)"
        );
        return;
    };
    let env = Env::start().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/api_semantics.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&env.kubeconfig)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python client disagrees:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.ends_with(" passed, 0 failed")),
        "{stdout}"
    );
}

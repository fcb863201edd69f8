//! The fallback for kustomizations outside the native subset: run `kubectl kustomize`.

use std::path::Path;
use std::process::Command;

use crate::read::parse_objects;
use crate::{Object, RenderError};

/// Render a kustomization directory with `kubectl kustomize DIR` and parse its output.
///
/// The objects' [`Source`](crate::Source) is the directory's kustomization file with the
/// line of the document in kubectl's output, since kubectl does not say where an object
/// came from. The objects carry no [`Document`](crate::Document): the positions of
/// kubectl's output are not those of any file.
///
/// # Errors
///
/// `kubectl` cannot be started, exits with an error (its standard error is in the
/// message), or prints something that is not YAML.
pub fn kustomize_with_kubectl(dir: &Path) -> Result<Vec<Object>, RenderError> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| RenderError::Kubectl {
            dir: dir.to_owned(),
            message: format!("cannot run `kubectl`: {e}"),
        })?;
    if !output.status.success() {
        return Err(RenderError::Kubectl {
            dir: dir.to_owned(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let text = String::from_utf8(output.stdout).map_err(|_| RenderError::Kubectl {
        dir: dir.to_owned(),
        message: "output is not UTF-8".into(),
    })?;
    let mut objects = parse_objects(&text, &dir.join("kustomization.yaml"))?;
    for object in &mut objects {
        object.source.document = None;
    }
    Ok(objects)
}

//! `.slipway/artifacts.json`: read, merged with this run's images, written atomically.

use super::*;

/// Reads `artifacts.json`; an absent file is empty. A file that cannot be understood is
/// an error message (the caller warns and starts afresh).
///
/// # Errors
/// A message naming the file when it is unreadable, invalid or of another version.
pub fn read_artifacts(path: &Path) -> Result<Artifacts, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Artifacts {
                version: ARTIFACTS_VERSION,
                images: Vec::new(),
            });
        }
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let artifacts: Artifacts = serde_json::from_slice(&bytes)
        .map_err(|e| format!("ignoring `{}`: {e}", path.display()))?;
    if artifacts.version != ARTIFACTS_VERSION {
        return Err(format!(
            "ignoring `{}`: format version {} is not {ARTIFACTS_VERSION}",
            path.display(),
            artifacts.version
        ));
    }
    Ok(artifacts)
}

/// `previous` with the entries of `this_run` replacing those of the same name, in
/// `slipway.yaml` order (entries of images no longer in the file last, by name).
pub fn merge(previous: Artifacts, this_run: &[ImageArtifact], config: &Config) -> Artifacts {
    let mut by_name: BTreeMap<String, ImageArtifact> = previous
        .images
        .into_iter()
        .map(|a| (a.name.clone(), a))
        .collect();
    for artifact in this_run {
        by_name.insert(artifact.name.clone(), artifact.clone());
    }
    let position = |name: &str| {
        config
            .images
            .iter()
            .position(|i| i.name == name)
            .unwrap_or(usize::MAX)
    };
    let mut images: Vec<ImageArtifact> = by_name.into_values().collect();
    images.sort_by(|a, b| {
        position(&a.name)
            .cmp(&position(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    Artifacts {
        version: ARTIFACTS_VERSION,
        images,
    }
}

/// Writes `artifacts` to `path` atomically (a temporary file in the same directory,
/// renamed). The first write also puts a `.gitignore` with `*` into `.slipway/`, so the
/// directory never makes the working tree dirty.
///
/// # Errors
/// A message naming the file.
pub fn write_artifacts(path: &Path, artifacts: &Artifacts) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| format!("cannot write `{}`: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let gitignore = dir.join(".gitignore");
    if !gitignore.exists() {
        std::fs::write(
            &gitignore,
            "# written by slipway: nothing here belongs in git\n*\n",
        )
        .map_err(fail)?;
    }
    let mut file = tempfile::Builder::new()
        .prefix(".artifacts-")
        .tempfile_in(dir)
        .map_err(fail)?;
    let mut text = serde_json::to_string_pretty(artifacts).expect("artifacts serialize");
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

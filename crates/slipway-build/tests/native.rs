//! The native builder makes reproducible OCI images from files.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use slipway_build::native::{
    Base, CopySpec, NativeError, NativeSpec, build, sha256_digest, write_oci_layout,
};
use slipway_build::platform::Platform;

fn files() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site/assets")).unwrap();
    std::fs::write(dir.path().join("site/index.html"), "<h1>hi</h1>\n").unwrap();
    std::fs::write(dir.path().join("site/assets/app.js"), "go()\n").unwrap();
    std::fs::write(dir.path().join("server"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("server"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("index.html", dir.path().join("site/default.html")).unwrap();
    dir
}

fn spec(root: &Path) -> NativeSpec {
    let mut spec = NativeSpec::new(Base::Scratch, Platform::linux_amd64());
    spec.copy = vec![
        CopySpec {
            src: root.join("site"),
            dest: "/srv/www".into(),
        },
        CopySpec {
            src: root.join("server"),
            dest: "/usr/local/bin/".into(),
        },
    ];
    spec.entrypoint = Some(vec!["/usr/local/bin/server".into()]);
    spec.cmd = Some(vec!["--port".into(), "8080".into()]);
    spec.env = vec![("MODE".into(), "production".into())];
    spec.workdir = Some("/srv/www".into());
    spec.user = Some("65534".into());
    spec.labels = BTreeMap::from([
        ("org.opencontainers.image.revision".into(), "abc123".into()),
        ("team".into(), "web".into()),
    ]);
    spec.expose = vec!["8080".into()];
    spec
}

fn layer_entries(layer: &[u8]) -> Vec<(String, u32, u64, u64, u64)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_inputs_give_the_same_manifest_digest() {
    let a = files();
    let b = files();
    let first = build(&spec(a.path()), None).unwrap();
    let second = build(&spec(a.path()), None).unwrap();
    let elsewhere = build(&spec(b.path()), None).unwrap();
    assert_eq!(first.digest(), second.digest());
    assert_eq!(
        first.digest(),
        elsewhere.digest(),
        "host paths must not leak in"
    );
    assert_eq!(first.manifest.digest, sha256_digest(&first.manifest.data));
}

#[test]
fn source_modification_times_do_not_change_the_digest() {
    let dir = files();
    let before = build(&spec(dir.path()), None).unwrap();
    let file = std::fs::File::options()
        .write(true)
        .open(dir.path().join("site/index.html"))
        .unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    assert_eq!(
        build(&spec(dir.path()), None).unwrap().digest(),
        before.digest()
    );
}

#[test]
fn changed_content_label_or_platform_changes_the_digest() {
    let dir = files();
    let before = build(&spec(dir.path()), None).unwrap();
    let mut labelled = spec(dir.path());
    labelled.labels.insert("team".into(), "api".into());
    assert_ne!(build(&labelled, None).unwrap().digest(), before.digest());
    let mut arm = spec(dir.path());
    arm.platform = "linux/arm64".parse().unwrap();
    assert_ne!(build(&arm, None).unwrap().digest(), before.digest());
    std::fs::write(dir.path().join("site/index.html"), "<h1>bye</h1>\n").unwrap();
    assert_ne!(
        build(&spec(dir.path()), None).unwrap().digest(),
        before.digest()
    );
}

#[test]
fn layer_is_sorted_owned_by_root_with_fixed_times_and_kept_modes() {
    let dir = files();
    let mut spec = spec(dir.path());
    spec.source_date_epoch = Some(1_700_000_000);
    let image = build(&spec, None).unwrap();
    let entries = layer_entries(&image.layer.data);
    let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "srv/",
            "srv/www/",
            "srv/www/assets/",
            "srv/www/assets/app.js",
            "srv/www/default.html",
            "srv/www/index.html",
            "usr/",
            "usr/local/",
            "usr/local/bin/",
            "usr/local/bin/server",
        ]
    );
    for (path, mode, uid, gid, mtime) in &entries {
        assert_eq!((*uid, *gid), (0, 0), "{path}");
        assert_eq!(*mtime, 1_700_000_000, "{path}");
        if path == "usr/local/bin/server" {
            assert_eq!(mode & 0o777, 0o755);
        }
        if path == "srv/www/index.html" {
            assert_eq!(mode & 0o111, 0);
        }
    }
    // The diff_id is the digest of the uncompressed layer.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(image.layer.data.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(image.layer_diff_id, sha256_digest(&tar));
}

#[test]
fn config_carries_platform_runtime_settings_and_rootfs() {
    let dir = files();
    let mut spec = spec(dir.path());
    spec.platform = "linux/arm64/v8".parse().unwrap();
    let image = build(&spec, None).unwrap();
    let config: Value = serde_json::from_slice(&image.config.data).unwrap();
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["variant"], "v8");
    let c = &config["config"];
    assert_eq!(c["Entrypoint"][0], "/usr/local/bin/server");
    assert_eq!(c["Cmd"][1], "8080");
    assert_eq!(c["Env"][0], "MODE=production");
    assert_eq!(c["WorkingDir"], "/srv/www");
    assert_eq!(c["User"], "65534");
    assert_eq!(c["Labels"]["team"], "web");
    assert!(c["ExposedPorts"]["8080/tcp"].is_object());
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        image.layer_diff_id.as_str()
    );
    assert_eq!(config["history"].as_array().unwrap().len(), 1);

    let manifest: Value = serde_json::from_slice(&image.manifest.data).unwrap();
    assert_eq!(manifest["config"]["digest"], image.config.digest.as_str());
    assert_eq!(manifest["layers"][0]["digest"], image.layer.digest.as_str());
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.revision"],
        "abc123"
    );
}

#[test]
fn missing_copy_source_and_relative_destination_are_errors() {
    let dir = files();
    let mut spec = NativeSpec::new(Base::Scratch, Platform::linux_amd64());
    spec.copy = vec![CopySpec {
        src: dir.path().join("nope"),
        dest: "/x".into(),
    }];
    assert!(matches!(
        build(&spec, None),
        Err(NativeError::MissingSource(_))
    ));
    spec.copy = vec![CopySpec {
        src: dir.path().join("server"),
        dest: "x".into(),
    }];
    assert!(matches!(
        build(&spec, None),
        Err(NativeError::RelativeDestination(_))
    ));
}

#[test]
fn image_base_must_be_fetched_first() {
    let spec = NativeSpec::new(
        Base::Image("127.0.0.1:1/base:1".into()),
        Platform::linux_amd64(),
    );
    match build(&spec, None) {
        Err(NativeError::BaseNotFetched(reference)) => assert_eq!(reference, "127.0.0.1:1/base:1"),
        other => panic!("expected BaseNotFetched, got {other:?}"),
    }
}

#[test]
fn oci_layout_is_readable_by_skopeo() {
    let dir = files();
    let image = build(&spec(dir.path()), None).unwrap();
    let layout = tempfile::tempdir().unwrap();
    write_oci_layout(&image, layout.path(), "v1").unwrap();
    let output = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:v1", layout.path().display()))
        .output()
        .expect("skopeo is installed by scripts/test.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let inspect: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(inspect["Digest"], image.digest());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Labels"]["team"], "web");
}

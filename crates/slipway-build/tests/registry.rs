//! The registry client against a real `docker-registry` started by `testkit`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use slipway_build::credentials::{Credentials, DockerConfig};
use slipway_build::native::{Base, CopySpec, NativeError, NativeSpec, OciImage, build, media_type};
use slipway_build::platform::Platform;
use slipway_build::registry::{ClientOptions, RegistryClient, RegistryError};
use testkit::Registry;

fn image_from(dir: &Path, name: &str, contents: &str, platform: Platform) -> OciImage {
    std::fs::write(dir.join(name), contents).unwrap();
    let mut spec = NativeSpec::new(Base::Scratch, platform);
    spec.copy = vec![CopySpec {
        src: dir.join(name),
        dest: format!("/{name}"),
    }];
    spec.labels.insert("dev.slipway.test".into(), name.into());
    spec.entrypoint = Some(vec![format!("/{name}")]);
    build(&spec, None).unwrap()
}

fn skopeo(args: &[&str]) -> Value {
    let output = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo is installed by scripts/test.sh");
    assert!(
        output.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

fn client() -> RegistryClient {
    RegistryClient::new(ClientOptions::default())
}

#[tokio::test]
async fn pushed_native_image_is_seen_by_skopeo_with_the_computed_digest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = image_from(dir.path(), "hello", "hello\n", Platform::linux_amd64());
    let target = format!("{}/team/hello:v1", registry.host());
    let report = client().push_image(&target, &image).await.unwrap();
    assert_eq!(report.manifest_digest, image.digest());
    assert_eq!(report.uploaded.len(), 2, "layer and config: {report:?}");

    let inspect = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]);
    assert_eq!(inspect["Digest"], image.digest());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Labels"]["dev.slipway.test"], "hello");

    // A pull through skopeo into an OCI layout keeps the digest.
    let layout = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}:pulled", layout.path().display());
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{target}"),
        &dest,
    ]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], image.digest());
}

#[tokio::test]
async fn second_push_uploads_no_blobs() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = image_from(dir.path(), "app", "v1\n", Platform::linux_amd64());
    let target = format!("{}/app:1", registry.host());
    client().push_image(&target, &image).await.unwrap();
    let uploads_after_first = registry.blob_upload_count();
    assert_eq!(uploads_after_first, 2);

    let again = client().push_image(&target, &image).await.unwrap();
    assert!(again.uploaded.is_empty(), "{again:?}");
    assert_eq!(again.existing.len(), 2);
    assert_eq!(registry.blob_upload_count(), uploads_after_first);
}

#[tokio::test]
async fn resolve_gives_the_pushed_digest_and_unknown_tags_are_manifest_unknown() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = image_from(dir.path(), "svc", "svc\n", Platform::linux_amd64());
    let target = format!("{}/svc:abc1234", registry.host());
    let client = client();
    client.push_image(&target, &image).await.unwrap();
    assert_eq!(client.resolve(&target).await.unwrap(), image.digest());
    let (manifest, digest) = client.pull_manifest(&target).await.unwrap();
    assert_eq!(manifest, image.manifest.data);
    assert_eq!(digest, image.digest());

    let missing = format!("{}/svc:nope", registry.host());
    match client.resolve(&missing).await {
        Err(RegistryError::ManifestUnknown { reference }) => assert!(reference.ends_with(":nope")),
        other => panic!("expected ManifestUnknown, got {other:?}"),
    }
}

#[tokio::test]
async fn registry_with_auth_accepts_right_credentials_and_rejects_wrong_ones() {
    let registry = Registry::start_with_auth("ci", "correct horse");
    let dir = tempfile::tempdir().unwrap();
    let image = image_from(
        dir.path(),
        "private",
        "secret app\n",
        Platform::linux_amd64(),
    );
    let target = format!("{}/private:1", registry.host());

    let good = client().with_credentials(registry.host(), Credentials::new("ci", "correct horse"));
    let report = good.push_image(&target, &image).await.unwrap();
    assert_eq!(report.manifest_digest, image.digest());

    let wrong = client().with_credentials(registry.host(), Credentials::new("ci", "wrong"));
    for result in [
        wrong.push_image(&target, &image).await.map(|_| ()),
        wrong.resolve(&target).await.map(|_| ()),
    ] {
        match result {
            Err(RegistryError::Unauthorized { registry: host }) => {
                assert_eq!(host, registry.host())
            }
            other => panic!("expected Unauthorized, got {other:?}"),
        }
    }
    let anonymous = client();
    assert!(matches!(
        anonymous.push_image(&target, &image).await,
        Err(RegistryError::Unauthorized { .. })
    ));
    let message = wrong.resolve(&target).await.unwrap_err().to_string();
    assert!(!message.contains("wrong"), "{message}");
}

#[tokio::test]
async fn nothing_listening_is_the_unreachable_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let image = image_from(dir.path(), "x", "x\n", Platform::linux_amd64());
    let target = format!("127.0.0.1:{port}/x:1");
    match client().push_image(&target, &image).await {
        Err(RegistryError::Unreachable { registry, .. }) => {
            assert_eq!(registry, format!("127.0.0.1:{port}"))
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(matches!(
        client().resolve(&target).await,
        Err(RegistryError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn image_on_a_registry_base_reuses_its_layers_by_mounting() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let client = client();
    let base_image = image_from(dir.path(), "base-file", "base\n", Platform::linux_amd64());
    let base_ref = format!("{}/library/base:1", registry.host());
    client.push_image(&base_ref, &base_image).await.unwrap();

    let base = client
        .fetch_base(&base_ref, &Platform::linux_amd64())
        .await
        .unwrap();
    assert_eq!(base.manifest_digest, base_image.digest());
    std::fs::write(dir.path().join("app"), "app\n").unwrap();
    let mut spec = NativeSpec::new(Base::Image(base_ref.clone()), Platform::linux_amd64());
    spec.copy = vec![CopySpec {
        src: dir.path().join("app"),
        dest: "/app".into(),
    }];
    spec.env = vec![("MODE".into(), "prod".into())];
    let image = build(&spec, Some(&base)).unwrap();
    assert_eq!(image.base_layers.len(), 1);
    // Same inputs, same digest, also on a base.
    assert_eq!(build(&spec, Some(&base)).unwrap().digest(), image.digest());

    let uploads_before = registry.blob_upload_count();
    let target = format!("{}/apps/app:1", registry.host());
    let report = client.push_image(&target, &image).await.unwrap();
    assert_eq!(report.mounted, vec![base_image.layer.digest.clone()]);
    assert_eq!(registry.blob_upload_count(), uploads_before + 2);
    assert_eq!(registry.blob_mount_count(), 1);

    let inspect = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]);
    assert_eq!(inspect["Digest"], image.digest());
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
    // Inherited config is kept and extended.
    let config = skopeo(&[
        "inspect",
        "--config",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]);
    assert_eq!(config["config"]["Labels"]["dev.slipway.test"], "base-file");
    assert_eq!(config["config"]["Env"][0], "MODE=prod");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn multi_platform_base_selects_the_requested_platform_or_lists_the_available_ones() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let client = client();
    let repo = format!("{}/library/multi", registry.host());
    let amd64 = image_from(dir.path(), "amd", "amd\n", Platform::linux_amd64());
    let arm64 = image_from(
        dir.path(),
        "arm",
        "arm\n",
        "linux/arm64/v8".parse().unwrap(),
    );
    let mut entries = Vec::new();
    for (image, platform) in [
        (&amd64, json!({"os": "linux", "architecture": "amd64"})),
        (
            &arm64,
            json!({"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ),
    ] {
        client
            .push_image(&format!("{repo}@{}", image.digest()), image)
            .await
            .unwrap();
        let mut descriptor = serde_json::to_value(image.manifest.descriptor()).unwrap();
        descriptor["platform"] = platform;
        entries.push(descriptor);
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::INDEX,
        "manifests": entries,
    }))
    .unwrap();
    client
        .push_manifest(&format!("{repo}:1"), &index, media_type::INDEX)
        .await
        .unwrap();

    let base = client
        .fetch_base(&format!("{repo}:1"), &"linux/arm64".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(base.manifest_digest, arm64.digest());
    assert_eq!(base.config["architecture"], "arm64");

    match client
        .fetch_base(&format!("{repo}:1"), &"linux/s390x".parse().unwrap())
        .await
    {
        Err(RegistryError::Base(NativeError::NoMatchingPlatform { wanted, available })) => {
            assert_eq!(wanted, "linux/s390x");
            assert_eq!(available, ["linux/amd64", "linux/arm64/v8"]);
        }
        other => panic!("expected NoMatchingPlatform, got {other:?}"),
    }
    // A single-platform base for the wrong platform is refused too.
    assert!(matches!(
        client
            .fetch_base(
                &format!("{repo}@{}", amd64.digest()),
                &"linux/arm64".parse().unwrap()
            )
            .await,
        Err(RegistryError::Base(
            NativeError::BasePlatformMismatch { .. }
        ))
    ));
}

#[tokio::test]
async fn credential_helper_from_docker_config_supplies_working_credentials() {
    use std::os::unix::fs::PermissionsExt;
    let registry = Registry::start_with_auth("helper-user", "helper-pass");
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-test");
    // Answers only for the registry it is asked about; records what it was asked.
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread host\necho \"$host\" > {asked}\n\
             if [ \"$host\" = \"{host}\" ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-pass\"}}' \"$host\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n",
            asked = bin.path().join("asked").display(),
            host = registry.host()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let config_path = config_dir.path().join("config.json");
    std::fs::write(
        &config_path,
        json!({"credHelpers": {registry.host(): "test"}, "auths": {registry.host(): {}}})
            .to_string(),
    )
    .unwrap();

    let config = DockerConfig::load(&config_path).unwrap();
    let credentials = config
        .credentials_for(registry.host(), Some(bin.path().as_os_str()))
        .unwrap()
        .expect("the helper answers");
    assert_eq!(credentials.username, "helper-user");
    assert_eq!(
        std::fs::read_to_string(bin.path().join("asked"))
            .unwrap()
            .trim(),
        registry.host()
    );
    assert!(
        config
            .credentials_for("elsewhere.example", Some(bin.path().as_os_str()))
            .unwrap()
            .is_none()
    );

    let dir = tempfile::tempdir().unwrap();
    let image = image_from(dir.path(), "helped", "helped\n", Platform::linux_amd64());
    let target = format!("{}/helped:1", registry.host());
    let client = client().with_credentials(registry.host(), credentials);
    client.push_image(&target, &image).await.unwrap();
    assert_eq!(client.resolve(&target).await.unwrap(), image.digest());
}

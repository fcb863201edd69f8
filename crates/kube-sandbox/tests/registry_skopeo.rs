//! The embedded registry, judged by a real client: `skopeo` pushes an OCI layout image to
//! it, inspects it, pulls it back, lists tags, pushes it again (nothing is uploaded twice),
//! copies it to another repository and gets the not-found error for a missing tag.

mod common;

use common::{Env, Out, run, sha256};
use kube_sandbox::{Sandbox, SandboxHandle, SandboxOptions};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const SKOPEO: &str = "/usr/bin/skopeo";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A one-file tar archive (ustar).
fn tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mut put = |off: usize, s: &str| h[off..off + s.len()].copy_from_slice(s.as_bytes());
    put(100, "0000644\0");
    put(108, "0000000\0");
    put(116, "0000000\0");
    put(124, &format!("{:011o}\0", content.len()));
    put(136, &format!("{:011o}\0", 1_700_000_000u64));
    put(148, "        ");
    put(156, "0");
    put(257, "ustar\0");
    put(263, "00");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid gzip stream made of stored (uncompressed) deflate blocks.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

struct Image {
    manifest: Vec<u8>,
    manifest_digest: String,
    layer_digest: String,
}

/// Writes an `oci:` layout with one image tagged `tag` whose config carries `labels`.
fn write_layout(dir: &Path, tag: &str, labels: Value, file: &[u8]) -> Image {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = sha256(data);
        std::fs::write(blobs.join(&d["sha256:".len()..]), data).unwrap();
        d
    };
    let layer_tar = tar("hello.txt", file);
    let layer = gzip(&layer_tar);
    let layer_digest = put(&layer);
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels, "Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer_tar)]},
        "history": [{"created_by": "registry test"}]
    })
    .to_string();
    let config_digest = put(config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len()
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer.len()
        }]
    })
    .to_string()
    .into_bytes();
    let manifest_digest = put(&manifest);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    Image {
        manifest,
        manifest_digest,
        layer_digest,
    }
}

/// A working directory for skopeo: its signature policy, home and image layouts.
struct Skopeo {
    dir: PathBuf,
}

impl Skopeo {
    fn new(name: &str) -> Skopeo {
        let dir =
            std::env::temp_dir().join(format!("registry-skopeo-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::write(
            dir.join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        Skopeo { dir }
    }

    async fn skopeo(&self, args: &[&str]) -> Out {
        let mut c = tokio::process::Command::new(SKOPEO);
        c.arg("--policy")
            .arg(self.dir.join("policy.json"))
            .args(args)
            .env("HOME", self.dir.join("home"))
            .env("XDG_RUNTIME_DIR", self.dir.join("home"));
        run(c, None).await
    }

    fn path(&self, p: &str) -> String {
        self.dir.join(p).to_string_lossy().into_owned()
    }
}

async fn start_sandbox(registry_dir: Option<PathBuf>) -> (SandboxHandle, SocketAddr) {
    let sandbox = Sandbox::start(SandboxOptions {
        registry_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        registry_dir,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let addr = sandbox.registry_addr().expect("registry serves");
    (sandbox, addr)
}

fn index_digest(layout: &str) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(Path::new(layout).join("index.json")).unwrap())
            .unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_push_inspect_pull_tags_and_mount() {
    let env = Skopeo::new("main");
    let (sandbox, addr) = start_sandbox(None).await;
    let labels = json!({"dev.slipway.sandbox/behavior": "crash", "org.example.team": "api"});
    let image = write_layout(
        &env.dir.join("src"),
        "1",
        labels.clone(),
        b"hello from the sandbox\n",
    );
    let src = format!("oci:{}:1", env.path("src"));
    let dest = format!("docker://{addr}/demo/api:1");

    // Push.
    let out = env
        .skopeo(&["copy", "--dest-tls-verify=false", &src, &dest])
        .await
        .ok();
    assert!(
        out.stderr.contains("Writing manifest") || out.stdout.contains("Writing manifest"),
        "{}",
        out.stdout
    );

    // Inspect: labels and digest as pushed.
    let info = env
        .skopeo(&["inspect", "--tls-verify=false", &dest])
        .await
        .ok()
        .json();
    assert_eq!(info["Digest"], json!(image.manifest_digest));
    assert_eq!(info["Labels"], labels);
    assert_eq!(info["RepoTags"], json!(["1"]));
    assert_eq!(info["Layers"], json!([image.layer_digest]));
    let raw = env
        .skopeo(&["inspect", "--raw", "--tls-verify=false", &dest])
        .await
        .ok();
    assert_eq!(raw.stdout.as_bytes(), image.manifest.as_slice());

    // Pull back into a new layout: the same manifest digest.
    let back = env.path("back");
    env.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{back}:copied"),
    ])
    .await
    .ok();
    assert_eq!(index_digest(&back), image.manifest_digest);

    // The same image again under another tag: every blob already exists, nothing is
    // uploaded. (skopeo prints "skipped: already exists" only on a terminal; its debug log
    // shows the same decision and every request it sends.)
    let out = env
        .skopeo(&[
            "--debug",
            "copy",
            "--dest-tls-verify=false",
            &src,
            &format!("docker://{addr}/demo/api:2"),
        ])
        .await
        .ok();
    let log = format!("{}{}", out.stdout, out.stderr);
    let blobs: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("Copying blob") || l.starts_with("Copying config"))
        .collect();
    assert_eq!(blobs.len(), 2, "{log}");
    for line in blobs {
        let digest = line.split_whitespace().nth(2).unwrap();
        assert!(
            log.contains(&format!("Skipping blob {digest} (already present)"))
                || log.contains(&format!("HEAD http://{addr}/v2/demo/api/blobs/{digest}")),
            "{digest} was not found present:\n{log}"
        );
    }
    assert!(
        log.contains(&format!(
            "Skipping blob {} (already present)",
            image.layer_digest
        )),
        "{log}"
    );
    assert!(
        !log.contains("/blobs/uploads/"),
        "something was uploaded:\n{log}"
    );
    assert!(log.contains("Writing manifest"), "{log}");

    // Tags.
    let tags = env
        .skopeo(&[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{addr}/demo/api"),
        ])
        .await
        .ok()
        .json();
    assert_eq!(tags["Tags"], json!(["1", "2"]));
    assert_eq!(tags["Repository"], json!(format!("{addr}/demo/api")));

    // Another repository of the same registry (mounted from demo/api or uploaded).
    let other = format!("docker://{addr}/team/web/frontend:latest");
    let out = env
        .skopeo(&[
            "--debug",
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &dest,
            &other,
        ])
        .await
        .ok();
    // skopeo remembers where it pushed the layer and mounts it instead of uploading it.
    assert!(out.stderr.contains("mount OK"), "{}", out.stderr);
    let info = env
        .skopeo(&["inspect", "--tls-verify=false", &other])
        .await
        .ok()
        .json();
    assert_eq!(info["Digest"], json!(image.manifest_digest));
    assert_eq!(info["Labels"], labels);

    // A missing tag, and a missing repository: skopeo's not-found errors.
    let missing = env
        .skopeo(&[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{addr}/demo/api:nope"),
        ])
        .await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("manifest unknown"),
        "{}",
        missing.stderr
    );
    let missing = env
        .skopeo(&[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{addr}/demo/nothing:1"),
        ])
        .await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("manifest unknown"),
        "{}",
        missing.stderr
    );

    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&env.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_images_survive_a_restart_with_registry_dir() {
    let env = Skopeo::new("disk");
    let store = env.dir.join("registry");
    let (sandbox, addr) = start_sandbox(Some(store.clone())).await;
    // Big enough to be sent in several chunks and streamed back from disk.
    let file: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let image = write_layout(&env.dir.join("src"), "v1", json!({"a": "b"}), &file);
    env.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", env.path("src")),
        &format!("docker://{addr}/demo/disk:v1"),
    ])
    .await
    .ok();
    sandbox.shutdown().await;

    // Blobs are content-addressed files, with no temporary file left behind.
    let blob_files: Vec<String> = std::fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(blob_files.contains(&image.layer_digest["sha256:".len()..].to_string()));
    assert!(
        blob_files.iter().all(|f| !f.starts_with('.')),
        "{blob_files:?}"
    );

    let (sandbox, addr) = start_sandbox(Some(store.clone())).await;
    let dest = format!("docker://{addr}/demo/disk:v1");
    let info = env
        .skopeo(&["inspect", "--tls-verify=false", &dest])
        .await
        .ok()
        .json();
    assert_eq!(info["Digest"], json!(image.manifest_digest));
    let back = env.path("back");
    env.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{back}:v1"),
    ])
    .await
    .ok();
    assert_eq!(index_digest(&back), image.manifest_digest);
    let layer = std::fs::read(
        Path::new(&back)
            .join("blobs/sha256")
            .join(&image.layer_digest["sha256:".len()..]),
    )
    .unwrap();
    assert_eq!(sha256(&layer), image.layer_digest);
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&env.dir);
}

/// Polls the pod until `done` holds for its first container status (deadline 30 s).
async fn wait_container(env: &Env, pod: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = env.kubectl(&["get", "pod", pod, "-o", "json"]).await;
        if out.code == 0 {
            let p = out.json();
            if done(&p["status"]["containerStatuses"][0]) {
                return p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pod {pod} never got there: {:#}",
                p["status"]
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_node_pulls_from_the_embedded_registry() {
    let env = Env::start_with(SandboxOptions {
        registry_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        speed: 20.0,
        ..Default::default()
    })
    .await;
    let tools = Skopeo::new("node");
    let addr = env.sandbox.registry_addr().unwrap();
    let image = write_layout(
        &tools.dir.join("src"),
        "1",
        json!({"dev.slipway.sandbox/behavior": "ready"}),
        b"ok\n",
    );
    tools
        .skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:1", tools.path("src")),
            &format!("docker://{addr}/demo/api:1"),
        ])
        .await
        .ok();

    let pods = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pulled\nspec:\n  containers:\n  - name: app\n    image: {addr}/demo/api:1\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: missing\nspec:\n  containers:\n  - name: app\n    image: {addr}/demo/api:missing\n"
    );
    env.apply(&pods).await;

    let p = wait_container(&env, "pulled", |c| c["ready"] == json!(true)).await;
    let status = &p["status"]["containerStatuses"][0];
    assert!(
        status["imageID"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&image.manifest_digest),
        "{status:#}"
    );
    wait_container(&env, "missing", |c| {
        matches!(
            c["state"]["waiting"]["reason"].as_str(),
            Some("ErrImagePull" | "ImagePullBackOff")
        )
    })
    .await;
    let _ = std::fs::remove_dir_all(&tools.dir);
}

//! Image pinning: make every workload run exactly the images of a release.
//!
//! [`pin_images`] is a pure function over rendered objects. A container image refers to a
//! pinned image when it is the image's bare name from `slipway.yaml` (`image: api`,
//! possibly with a tag or digest) or its repository with any tag, any digest or neither
//! (`registry.example.com/shop/api:dev`). Such images are replaced by the pin's full
//! reference (`repo:tag@sha256:...`); every other image is left alone and reported as
//! foreign, so the caller can list what the release does not control.

use serde_json::Value;

use crate::Object;

/// One image of the release: what the manifests may call it and what it must become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePin {
    /// The image's name in `slipway.yaml`, such as `api`.
    pub name: String,
    /// The repository it is pushed to, such as `registry.example.com/shop/api`.
    pub repository: String,
    /// The exact reference to run: `registry.example.com/shop/api:tag@sha256:...`.
    pub reference: String,
}

/// A container whose image was pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedImage {
    /// The image's name in `slipway.yaml` (the pin's name).
    pub image: String,
    /// The object, as `Kind/name` or `Kind/namespace/name`.
    pub object: String,
    /// The container's name.
    pub container: String,
    /// The image the manifest had.
    pub from: String,
    /// The pinned reference it now has.
    pub to: String,
}

/// A container whose image is not one of the release's images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignImage {
    /// The object, as `Kind/name` or `Kind/namespace/name`.
    pub object: String,
    /// The container's name.
    pub container: String,
    /// Its image, unchanged.
    pub image: String,
}

/// What [`pin_images`] did, in object and container order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinReport {
    /// Images replaced by a pin.
    pub pinned: Vec<PinnedImage>,
    /// Images left alone.
    pub foreign: Vec<ForeignImage>,
}

/// The kinds whose pod template is pinned, and where their pod spec lives.
pub(crate) fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet" => {
            Some(&["spec", "template", "spec"])
        }
        _ => None,
    }
}

/// Split an image reference into its repository (name without tag or digest).
pub fn image_repository(image: &str) -> &str {
    let without_digest = image.split_once('@').map_or(image, |(n, _)| n);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].find(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    }
}

/// Whether a container's `image` refers to the image `name` of `slipway.yaml`, pushed to
/// `repository`: its bare name or its repository, with any tag, any digest or neither.
pub fn refers_to(image: &str, name: &str, repository: &str) -> bool {
    let repo = image_repository(image);
    repo == name || repo == repository
}

fn find_pin<'p>(image: &str, pins: &'p [ImagePin]) -> Option<&'p ImagePin> {
    pins.iter()
        .find(|p| refers_to(image, &p.name, &p.repository))
}

/// Replace every container, init container and ephemeral container image that refers to
/// a pin by the pin's reference.
///
/// Workloads are Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods and
/// ReplicaSets; other objects are not touched.
pub fn pin_images(objects: &mut [Object], pins: &[ImagePin]) -> PinReport {
    let mut report = PinReport::default();
    for object in objects.iter_mut() {
        let Some(path) = pod_spec_path(object.kind()) else {
            continue;
        };
        let id = object.id();
        let mut spec = Some(&mut object.value);
        for key in path {
            spec = spec.and_then(|v| v.get_mut(*key));
        }
        let Some(spec) = spec else { continue };
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(Value::Array(containers)) = spec.get_mut(list) else {
                continue;
            };
            for c in containers {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let Some(Value::String(image)) = c.get_mut("image") else {
                    continue;
                };
                match find_pin(image, pins) {
                    Some(pin) => {
                        report.pinned.push(PinnedImage {
                            image: pin.name.clone(),
                            object: id.clone(),
                            container: name,
                            from: image.clone(),
                            to: pin.reference.clone(),
                        });
                        image.clone_from(&pin.reference);
                    }
                    None => report.foreign.push(ForeignImage {
                        object: id.clone(),
                        container: name,
                        image: image.clone(),
                    }),
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;
    use serde_json::json;

    const REF: &str = "registry.example.com/shop/api:20240101-abc@sha256:0123";

    fn pins() -> Vec<ImagePin> {
        vec![ImagePin {
            name: "api".into(),
            repository: "registry.example.com/shop/api".into(),
            reference: REF.into(),
        }]
    }

    fn object(value: Value) -> Object {
        Object {
            value,
            source: Source::generated("m.yaml", 1),
        }
    }

    fn deployment(images: &[&str]) -> Object {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
            .collect();
        object(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": containers}}}}),
        )
    }

    fn image_of(o: &Object, i: usize) -> &str {
        o.value["spec"]["template"]["spec"]["containers"][i]["image"]
            .as_str()
            .unwrap()
    }

    #[test]
    fn bare_name_repository_with_tag_digest_or_nothing_are_all_pinned() {
        let forms = [
            "api",
            "api:dev",
            "registry.example.com/shop/api",
            "registry.example.com/shop/api:v1",
            "registry.example.com/shop/api@sha256:ffff",
            "registry.example.com/shop/api:v1@sha256:ffff",
        ];
        let mut objects = vec![deployment(&forms)];
        let report = pin_images(&mut objects, &pins());
        for (i, form) in forms.iter().enumerate() {
            assert_eq!(image_of(&objects[0], i), REF, "{form}");
        }
        assert_eq!(report.pinned.len(), forms.len());
        assert_eq!(report.pinned[1].from, "api:dev");
        assert_eq!(report.pinned[1].to, REF);
        assert_eq!(report.pinned[1].object, "Deployment/web");
        assert!(report.foreign.is_empty());
    }

    #[test]
    fn images_of_other_origins_are_left_alone_and_reported() {
        let mut objects = vec![deployment(&[
            "nginx:1.27",
            "other.example.com/shop/api:v1",
            "registry.example.com/shop/api-worker:v1",
            "apix",
        ])];
        let report = pin_images(&mut objects, &pins());
        assert!(report.pinned.is_empty());
        assert_eq!(report.foreign.len(), 4);
        assert_eq!(image_of(&objects[0], 0), "nginx:1.27");
        assert_eq!(report.foreign[1].image, "other.example.com/shop/api:v1");
        assert_eq!(report.foreign[2].container, "c2");
    }

    #[test]
    fn init_and_ephemeral_containers_of_every_workload_kind_are_pinned() {
        let spec = json!({"initContainers": [{"name": "i", "image": "api"}],
            "containers": [{"name": "c", "image": "api:x"}],
            "ephemeralContainers": [{"name": "e", "image": "api"}]});
        let mut objects = vec![
            object(json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})),
            object(
                json!({"kind": "CronJob", "metadata": {"name": "cj", "namespace": "ns"},
                "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
            ),
        ];
        for kind in ["StatefulSet", "DaemonSet", "Job", "ReplicaSet"] {
            objects.push(object(
                json!({"kind": kind, "metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
            ));
        }
        let report = pin_images(&mut objects, &pins());
        assert_eq!(report.pinned.len(), 18);
        assert_eq!(report.pinned[3].object, "CronJob/ns/cj");
        assert_eq!(
            objects[1].value["spec"]["jobTemplate"]["spec"]["template"]["spec"]["ephemeralContainers"]
                [0]["image"],
            REF
        );
        assert_eq!(objects[0].value["spec"]["initContainers"][0]["image"], REF);
    }

    #[test]
    fn objects_that_are_not_workloads_are_not_touched() {
        let mut objects = vec![object(
            json!({"kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"image": "api"}, "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "api"}]}}}}),
        )];
        let before = objects.clone();
        let report = pin_images(&mut objects, &pins());
        assert_eq!(objects, before);
        assert_eq!(report, PinReport::default());
    }

    #[test]
    fn repository_of_a_reference_drops_tag_and_digest_but_keeps_registry_port() {
        assert_eq!(
            image_repository("localhost:5000/api:v1"),
            "localhost:5000/api"
        );
        assert_eq!(image_repository("localhost:5000/api"), "localhost:5000/api");
        assert_eq!(image_repository("api@sha256:00"), "api");
        assert_eq!(image_repository("a/b:c@sha256:00"), "a/b");
    }
}

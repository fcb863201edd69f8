//! The Go structs templates reach: `.Files`, `.Chart`, `.Capabilities` (with
//! `.APIVersions.Has` and `.KubeVersion`), as [`gotemplate::Object`]s.

use std::collections::BTreeMap;
use std::rc::Rc;

use gotemplate::{Object, Value};

use crate::chart::{ChartFile, Metadata};

/// `.Files`: the chart's non-template files, by path.
#[derive(Debug, Clone, Default)]
pub struct Files {
    files: BTreeMap<String, Vec<u8>>,
}

impl Files {
    pub fn new(files: &[ChartFile]) -> Files {
        Files {
            files: files
                .iter()
                .map(|f| (f.name.clone(), f.data.clone()))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> String {
        self.files
            .get(name)
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default()
    }

    fn glob(&self, pattern: &str) -> Result<Files, String> {
        let re = crate::glob::files_regex(pattern).map_err(|e| e.to_string())?;
        Ok(Files {
            files: self
                .files
                .iter()
                .filter(|(k, _)| re.is_match(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    fn as_yaml_map(&self, encode: impl Fn(&[u8]) -> String) -> String {
        if self.files.is_empty() {
            return String::new();
        }
        let m: BTreeMap<String, Value> = self
            .files
            .iter()
            .map(|(k, v)| {
                let base = k.rsplit('/').next().unwrap_or(k).to_string();
                (base, Value::String(encode(v)))
            })
            .collect();
        let out = gotemplate::yaml::to_string(&Value::Map(m));
        out.strip_suffix('\n').unwrap_or(&out).to_string()
    }

    fn lines(&self, name: &str) -> Vec<Value> {
        let Some(data) = self.files.get(name) else {
            return Vec::new();
        };
        let s = String::from_utf8_lossy(data);
        let s = s.strip_suffix('\n').unwrap_or(&s);
        s.split('\n').map(Value::str).collect()
    }

    /// The files as a map of path to contents (what ranging over `.Files` gives).
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.files
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::String(String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

fn one_string(args: &[Value], method: &str) -> Result<String, String> {
    match args {
        [Value::String(s)] => Ok(s.clone()),
        [_] => Err(format!(
            "wrong type for value; expected string for {method}"
        )),
        _ => Err(format!(
            "wrong number of args for {method}: want 1 got {}",
            args.len()
        )),
    }
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "engine.files"
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let r = match name {
            "Get" => one_string(args, name).map(|n| Value::String(self.get(&n))),
            "GetBytes" => one_string(args, name).map(|n| {
                Value::List(
                    self.files
                        .get(&n)
                        .map(|d| d.iter().map(|b| Value::Int(*b as i64)).collect())
                        .unwrap_or_default(),
                )
            }),
            // A map of path to contents, so that `len` and `range` work on the result
            // (the engine gives neither to objects); `AsConfig` and `AsSecrets` are
            // therefore not methods of a `Glob` result.
            "Glob" => one_string(args, name)
                .and_then(|p| self.glob(&p))
                .map(|f| Value::Map(f.entries().into_iter().collect())),
            "AsConfig" => Ok(Value::String(
                self.as_yaml_map(|d| String::from_utf8_lossy(d).into_owned()),
            )),
            "AsSecrets" => Ok(Value::String(self.as_yaml_map(base64))),
            "Lines" => one_string(args, name).map(|n| Value::List(self.lines(&n))),
            _ => return None,
        };
        Some(r)
    }
}

/// Standard base64, as Go's `base64.StdEncoding`.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// `.Chart`: the chart's metadata with Helm's capitalised field names.
#[derive(Debug, Clone)]
pub struct ChartObject {
    pub metadata: Metadata,
    pub is_root: bool,
}

fn strings(v: &[String]) -> Value {
    Value::List(v.iter().map(Value::str).collect())
}

impl Object for ChartObject {
    fn type_name(&self) -> &str {
        "*chart.Metadata"
    }

    fn field(&self, name: &str) -> Option<Value> {
        let m = &self.metadata;
        Some(match name {
            "Name" => Value::str(&m.name),
            "Home" => Value::str(&m.home),
            "Sources" => strings(&m.sources),
            "Version" => Value::str(&m.version),
            "Description" => Value::str(&m.description),
            "Keywords" => strings(&m.keywords),
            "Maintainers" => Value::List(
                m.maintainers
                    .iter()
                    .map(|x| {
                        Value::map([
                            ("Name", Value::str(&x.name)),
                            ("Email", Value::str(&x.email)),
                            ("URL", Value::str(&x.url)),
                        ])
                    })
                    .collect(),
            ),
            "Icon" => Value::str(&m.icon),
            "APIVersion" => Value::str(&m.api_version),
            "Condition" => Value::str(&m.condition),
            "Tags" => Value::str(&m.tags),
            "AppVersion" => Value::str(&m.app_version),
            "Deprecated" => Value::Bool(m.deprecated),
            "Annotations" => Value::Map(
                m.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::str(v)))
                    .collect(),
            ),
            "KubeVersion" => Value::str(&m.kube_version),
            "Dependencies" => Value::List(
                m.dependencies
                    .iter()
                    .map(|d| {
                        Value::map([
                            ("Name", Value::str(&d.name)),
                            ("Version", Value::str(&d.version)),
                            ("Repository", Value::str(&d.repository)),
                            ("Condition", Value::str(&d.condition)),
                            ("Tags", strings(&d.tags)),
                            ("Enabled", Value::Bool(d.enabled)),
                            ("Alias", Value::str(&d.alias)),
                        ])
                    })
                    .collect(),
            ),
            "Type" => Value::str(&m.chart_type),
            "IsRoot" => Value::Bool(self.is_root),
            _ => return None,
        })
    }

    fn method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
}

/// `.Capabilities.KubeVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    pub version: String,
    pub major: String,
    pub minor: String,
}

impl KubeVersion {
    /// Parses `1.29`, `v1.16.0`... as Helm's `--kube-version` does.
    pub fn parse(s: &str) -> Result<KubeVersion, String> {
        let v = crate::semver::Version::parse(s)
            .ok_or_else(|| "Invalid Semantic Version".to_string())?;
        let pre = if v.pre.is_empty() {
            String::new()
        } else {
            format!("-{}", v.pre)
        };
        Ok(KubeVersion {
            version: format!("v{}.{}.{}{pre}", v.major, v.minor, v.patch),
            major: v.major.to_string(),
            minor: v.minor.to_string(),
        })
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> &str {
        "chartutil.KubeVersion"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Version" => Value::str(&self.version),
            "Major" => Value::str(&self.major),
            "Minor" => Value::str(&self.minor),
            _ => return None,
        })
    }

    fn method(&self, name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "String" | "GitVersion" => Some(Ok(Value::str(&self.version))),
            _ => None,
        }
    }
}

/// `.Capabilities.APIVersions`.
#[derive(Debug, Clone, Default)]
pub struct ApiVersions(pub Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> &str {
        "chartutil.VersionSet"
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Has" => Some(one_string(args, name).map(|v| Value::Bool(self.0.contains(&v)))),
            _ => None,
        }
    }
}

/// `.Capabilities`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub kube_version: KubeVersion,
    pub api_versions: ApiVersions,
    pub helm_version: String,
}

impl Object for Capabilities {
    fn type_name(&self) -> &str {
        "*chartutil.Capabilities"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "KubeVersion" => Value::Object(Rc::new(self.kube_version.clone())),
            "APIVersions" => Value::Object(Rc::new(self.api_versions.clone())),
            "HelmVersion" => Value::map([
                ("Version", Value::str(&self.helm_version)),
                ("GitCommit", Value::str("")),
                ("GitTreeState", Value::str("")),
                ("GoVersion", Value::str("")),
            ]),
            _ => return None,
        })
    }

    fn method(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }
}

/// The API versions a cluster serves by default: the built-in groups of Kubernetes,
/// each as `group/version` and as `group/version/Kind`, as Helm derives them from
/// client-go's scheme when it does not ask a cluster.
pub fn default_api_versions() -> Vec<String> {
    const GROUPS: &[(&str, &[&str])] = &[
        (
            "v1",
            &[
                "Binding",
                "ComponentStatus",
                "ConfigMap",
                "Endpoints",
                "Event",
                "LimitRange",
                "Namespace",
                "Node",
                "PersistentVolume",
                "PersistentVolumeClaim",
                "Pod",
                "PodTemplate",
                "ReplicationController",
                "ResourceQuota",
                "Secret",
                "Service",
                "ServiceAccount",
            ],
        ),
        (
            "admissionregistration.k8s.io/v1",
            &[
                "MutatingWebhookConfiguration",
                "ValidatingAdmissionPolicy",
                "ValidatingAdmissionPolicyBinding",
                "ValidatingWebhookConfiguration",
            ],
        ),
        (
            "admissionregistration.k8s.io/v1beta1",
            &[
                "MutatingWebhookConfiguration",
                "ValidatingAdmissionPolicy",
                "ValidatingAdmissionPolicyBinding",
                "ValidatingWebhookConfiguration",
            ],
        ),
        (
            "admissionregistration.k8s.io/v1alpha1",
            &[
                "MutatingAdmissionPolicy",
                "MutatingAdmissionPolicyBinding",
                "ValidatingAdmissionPolicy",
                "ValidatingAdmissionPolicyBinding",
            ],
        ),
        (
            "apps/v1",
            &[
                "ControllerRevision",
                "DaemonSet",
                "Deployment",
                "ReplicaSet",
                "StatefulSet",
            ],
        ),
        (
            "apps/v1beta1",
            &["ControllerRevision", "Deployment", "StatefulSet"],
        ),
        (
            "apps/v1beta2",
            &[
                "ControllerRevision",
                "DaemonSet",
                "Deployment",
                "ReplicaSet",
                "StatefulSet",
            ],
        ),
        (
            "authentication.k8s.io/v1",
            &["SelfSubjectReview", "TokenReview"],
        ),
        (
            "authentication.k8s.io/v1beta1",
            &["SelfSubjectReview", "TokenReview"],
        ),
        (
            "authorization.k8s.io/v1",
            &[
                "LocalSubjectAccessReview",
                "SelfSubjectAccessReview",
                "SelfSubjectRulesReview",
                "SubjectAccessReview",
            ],
        ),
        (
            "authorization.k8s.io/v1beta1",
            &[
                "LocalSubjectAccessReview",
                "SelfSubjectAccessReview",
                "SelfSubjectRulesReview",
                "SubjectAccessReview",
            ],
        ),
        ("autoscaling/v1", &["HorizontalPodAutoscaler", "Scale"]),
        ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
        ("autoscaling/v2beta1", &["HorizontalPodAutoscaler"]),
        ("autoscaling/v2beta2", &["HorizontalPodAutoscaler"]),
        ("batch/v1", &["CronJob", "Job"]),
        ("batch/v1beta1", &["CronJob"]),
        ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
        (
            "certificates.k8s.io/v1beta1",
            &["CertificateSigningRequest"],
        ),
        ("certificates.k8s.io/v1alpha1", &["ClusterTrustBundle"]),
        ("coordination.k8s.io/v1", &["Lease"]),
        ("coordination.k8s.io/v1beta1", &["Lease"]),
        ("discovery.k8s.io/v1", &["EndpointSlice"]),
        ("discovery.k8s.io/v1beta1", &["EndpointSlice"]),
        ("events.k8s.io/v1", &["Event"]),
        ("events.k8s.io/v1beta1", &["Event"]),
        (
            "extensions/v1beta1",
            &[
                "DaemonSet",
                "Deployment",
                "Ingress",
                "NetworkPolicy",
                "ReplicaSet",
            ],
        ),
        (
            "flowcontrol.apiserver.k8s.io/v1",
            &["FlowSchema", "PriorityLevelConfiguration"],
        ),
        (
            "flowcontrol.apiserver.k8s.io/v1beta1",
            &["FlowSchema", "PriorityLevelConfiguration"],
        ),
        (
            "flowcontrol.apiserver.k8s.io/v1beta2",
            &["FlowSchema", "PriorityLevelConfiguration"],
        ),
        (
            "flowcontrol.apiserver.k8s.io/v1beta3",
            &["FlowSchema", "PriorityLevelConfiguration"],
        ),
        (
            "networking.k8s.io/v1",
            &["Ingress", "IngressClass", "NetworkPolicy"],
        ),
        (
            "networking.k8s.io/v1beta1",
            &["Ingress", "IngressClass", "IPAddress", "ServiceCIDR"],
        ),
        ("node.k8s.io/v1", &["RuntimeClass"]),
        ("node.k8s.io/v1beta1", &["RuntimeClass"]),
        ("policy/v1", &["Eviction", "PodDisruptionBudget"]),
        (
            "policy/v1beta1",
            &["Eviction", "PodDisruptionBudget", "PodSecurityPolicy"],
        ),
        (
            "rbac.authorization.k8s.io/v1",
            &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
        ),
        (
            "rbac.authorization.k8s.io/v1beta1",
            &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
        ),
        (
            "rbac.authorization.k8s.io/v1alpha1",
            &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
        ),
        (
            "resource.k8s.io/v1beta1",
            &[
                "DeviceClass",
                "ResourceClaim",
                "ResourceClaimTemplate",
                "ResourceSlice",
            ],
        ),
        ("scheduling.k8s.io/v1", &["PriorityClass"]),
        ("scheduling.k8s.io/v1beta1", &["PriorityClass"]),
        (
            "storage.k8s.io/v1",
            &[
                "CSIDriver",
                "CSINode",
                "CSIStorageCapacity",
                "StorageClass",
                "VolumeAttachment",
            ],
        ),
        (
            "storage.k8s.io/v1beta1",
            &[
                "CSIDriver",
                "CSINode",
                "CSIStorageCapacity",
                "StorageClass",
                "VolumeAttachment",
                "VolumeAttributesClass",
            ],
        ),
    ];
    let mut out = Vec::new();
    for (gv, kinds) in GROUPS {
        out.push(gv.to_string());
        for k in *kinds {
            out.push(format!("{gv}/{k}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        Files::new(&[
            ChartFile {
                name: "config/a.txt".into(),
                data: b"one\ntwo\n".to_vec(),
            },
            ChartFile {
                name: "config/b.txt".into(),
                data: b"hi".to_vec(),
            },
            ChartFile {
                name: "other/c.yaml".into(),
                data: b"x: 1".to_vec(),
            },
        ])
    }

    fn call(f: &Files, m: &str, arg: &str) -> Value {
        f.method(m, &[Value::str(arg)]).unwrap().unwrap()
    }

    #[test]
    fn files_get_and_lines() {
        let f = files();
        assert_eq!(call(&f, "Get", "config/b.txt").as_str(), Some("hi"));
        assert_eq!(call(&f, "Get", "missing").as_str(), Some(""));
        let Value::List(lines) = call(&f, "Lines", "config/a.txt") else {
            panic!()
        };
        assert_eq!(
            lines.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>(),
            ["one", "two"]
        );
    }

    #[test]
    fn files_glob_selects_by_pattern() {
        let f = files();
        let g = f.glob("config/*").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(f.glob("**.yaml").unwrap().len(), 1);
    }

    #[test]
    fn base64_matches_go() {
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn kube_version_from_flag() {
        let k = KubeVersion::parse("1.29").unwrap();
        assert_eq!(
            (k.version.as_str(), k.major.as_str(), k.minor.as_str()),
            ("v1.29.0", "1", "29")
        );
        assert!(KubeVersion::parse("banana").is_err());
    }

    #[test]
    fn api_versions_has_group_version_kind() {
        let a = ApiVersions(default_api_versions());
        let has = |s: &str| a.method("Has", &[Value::str(s)]).unwrap().unwrap();
        assert!(matches!(
            has("policy/v1/PodDisruptionBudget"),
            Value::Bool(true)
        ));
        assert!(matches!(
            has("monitoring.coreos.com/v1"),
            Value::Bool(false)
        ));
    }
}

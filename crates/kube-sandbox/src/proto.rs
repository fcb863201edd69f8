//! Decoding of `application/vnd.kubernetes.protobuf` request bodies.
//!
//! kubectl's typed clients (`kubectl create deployment|namespace|configmap|secret|service|
//! serviceaccount|job|cronjob …`) send protobuf. The sandbox answers in JSON (clients accept
//! it) and decodes the request bodies of the kinds below with a table of their field
//! numbers (from `k8s.io/api` `generated.proto`); unknown fields are skipped.

use serde_json::{Map, Value, json};

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    Msg(&'static str),
    MapStr,
    MapBytes,
    MapQty,
    /// A `resource.Quantity` (its string is field 1).
    Qty,
    IntOrString,
    Time,
}

/// (number, JSON name, type, repeated)
type Field = (u32, &'static str, Ty, bool);

use Ty::*;

fn schema(msg: &str) -> &'static [Field] {
    match msg {
        "ObjectMeta" => &[
            (1, "name", Str, false),
            (2, "generateName", Str, false),
            (3, "namespace", Str, false),
            (5, "uid", Str, false),
            (6, "resourceVersion", Str, false),
            (7, "generation", Int, false),
            (8, "creationTimestamp", Time, false),
            (11, "labels", MapStr, false),
            (12, "annotations", MapStr, false),
            (13, "ownerReferences", Msg("OwnerReference"), true),
            (14, "finalizers", Str, true),
        ],
        "OwnerReference" => &[
            (1, "kind", Str, false),
            (3, "name", Str, false),
            (4, "uid", Str, false),
            (5, "apiVersion", Str, false),
            (6, "controller", Bool, false),
            (7, "blockOwnerDeletion", Bool, false),
        ],
        "LabelSelector" => &[
            (1, "matchLabels", MapStr, false),
            (2, "matchExpressions", Msg("LabelSelectorRequirement"), true),
        ],
        "LabelSelectorRequirement" => &[
            (1, "key", Str, false),
            (2, "operator", Str, false),
            (3, "values", Str, true),
        ],
        "ConfigMap" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "data", MapStr, false),
            (3, "binaryData", MapBytes, false),
            (4, "immutable", Bool, false),
        ],
        "Secret" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "data", MapBytes, false),
            (3, "type", Str, false),
            (4, "stringData", MapStr, false),
            (5, "immutable", Bool, false),
        ],
        "Namespace" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("NamespaceSpec"), false),
        ],
        "NamespaceSpec" => &[(1, "finalizers", Str, true)],
        "ServiceAccount" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "secrets", Msg("ObjectReference"), true),
            (3, "imagePullSecrets", Msg("LocalObjectReference"), true),
            (4, "automountServiceAccountToken", Bool, false),
        ],
        "ObjectReference" => &[
            (1, "kind", Str, false),
            (2, "namespace", Str, false),
            (3, "name", Str, false),
            (4, "uid", Str, false),
            (5, "apiVersion", Str, false),
            (6, "resourceVersion", Str, false),
            (7, "fieldPath", Str, false),
        ],
        "LocalObjectReference" => &[(1, "name", Str, false)],
        "Service" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("ServiceSpec"), false),
        ],
        "ServiceSpec" => &[
            (1, "ports", Msg("ServicePort"), true),
            (2, "selector", MapStr, false),
            (3, "clusterIP", Str, false),
            (4, "type", Str, false),
            (5, "externalIPs", Str, true),
            (7, "sessionAffinity", Str, false),
            (8, "loadBalancerIP", Str, false),
            (10, "externalName", Str, false),
            (11, "externalTrafficPolicy", Str, false),
            (13, "publishNotReadyAddresses", Bool, false),
        ],
        "ServicePort" => &[
            (1, "name", Str, false),
            (2, "protocol", Str, false),
            (3, "port", Int, false),
            (4, "targetPort", IntOrString, false),
            (5, "nodePort", Int, false),
            (6, "appProtocol", Str, false),
        ],
        "Deployment" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("DeploymentSpec"), false),
        ],
        "DeploymentSpec" => &[
            (1, "replicas", Int, false),
            (2, "selector", Msg("LabelSelector"), false),
            (3, "template", Msg("PodTemplateSpec"), false),
            (4, "strategy", Msg("DeploymentStrategy"), false),
            (5, "minReadySeconds", Int, false),
            (6, "revisionHistoryLimit", Int, false),
            (7, "paused", Bool, false),
            (9, "progressDeadlineSeconds", Int, false),
        ],
        "DeploymentStrategy" => &[
            (1, "type", Str, false),
            (2, "rollingUpdate", Msg("RollingUpdateDeployment"), false),
        ],
        "RollingUpdateDeployment" => &[
            (1, "maxUnavailable", IntOrString, false),
            (2, "maxSurge", IntOrString, false),
        ],
        "PodTemplateSpec" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("PodSpec"), false),
        ],
        "PodSpec" => &[
            (2, "containers", Msg("Container"), true),
            (3, "restartPolicy", Str, false),
            (4, "terminationGracePeriodSeconds", Int, false),
            (5, "activeDeadlineSeconds", Int, false),
            (6, "dnsPolicy", Str, false),
            (7, "nodeSelector", MapStr, false),
            (8, "serviceAccountName", Str, false),
            (10, "nodeName", Str, false),
            (15, "imagePullSecrets", Msg("LocalObjectReference"), true),
            (16, "hostname", Str, false),
            (19, "schedulerName", Str, false),
            (20, "initContainers", Msg("Container"), true),
            (24, "priorityClassName", Str, false),
        ],
        "Container" => &[
            (1, "name", Str, false),
            (2, "image", Str, false),
            (3, "command", Str, true),
            (4, "args", Str, true),
            (5, "workingDir", Str, false),
            (6, "ports", Msg("ContainerPort"), true),
            (7, "env", Msg("EnvVar"), true),
            (8, "resources", Msg("ResourceRequirements"), false),
            (13, "terminationMessagePath", Str, false),
            (14, "imagePullPolicy", Str, false),
            (16, "stdin", Bool, false),
            (17, "stdinOnce", Bool, false),
            (18, "tty", Bool, false),
            (20, "terminationMessagePolicy", Str, false),
        ],
        "ContainerPort" => &[
            (1, "name", Str, false),
            (2, "hostPort", Int, false),
            (3, "containerPort", Int, false),
            (4, "protocol", Str, false),
            (5, "hostIP", Str, false),
        ],
        "EnvVar" => &[(1, "name", Str, false), (2, "value", Str, false)],
        "ResourceRequirements" => &[(1, "limits", MapQty, false), (2, "requests", MapQty, false)],
        "Job" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("JobSpec"), false),
        ],
        "JobSpec" => &[
            (1, "parallelism", Int, false),
            (2, "completions", Int, false),
            (3, "activeDeadlineSeconds", Int, false),
            (4, "selector", Msg("LabelSelector"), false),
            (5, "manualSelector", Bool, false),
            (6, "template", Msg("PodTemplateSpec"), false),
            (7, "backoffLimit", Int, false),
            (8, "ttlSecondsAfterFinished", Int, false),
            (9, "completionMode", Str, false),
            (10, "suspend", Bool, false),
        ],
        "CronJob" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("CronJobSpec"), false),
        ],
        "HorizontalPodAutoscaler" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("HorizontalPodAutoscalerSpec"), false),
        ],
        "HorizontalPodAutoscalerSpec" => &[
            (
                1,
                "scaleTargetRef",
                Msg("CrossVersionObjectReference"),
                false,
            ),
            (2, "minReplicas", Int, false),
            (3, "maxReplicas", Int, false),
            (4, "metrics", Msg("MetricSpec"), true),
            (5, "behavior", Msg("HorizontalPodAutoscalerBehavior"), false),
        ],
        // autoscaling/v1 (the same kind name; chosen by apiVersion in `decode`).
        "HorizontalPodAutoscalerV1" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("HorizontalPodAutoscalerSpecV1"), false),
        ],
        "HorizontalPodAutoscalerSpecV1" => &[
            (
                1,
                "scaleTargetRef",
                Msg("CrossVersionObjectReference"),
                false,
            ),
            (2, "minReplicas", Int, false),
            (3, "maxReplicas", Int, false),
            (4, "targetCPUUtilizationPercentage", Int, false),
        ],
        "CrossVersionObjectReference" => &[
            (1, "kind", Str, false),
            (2, "name", Str, false),
            (3, "apiVersion", Str, false),
        ],
        "MetricSpec" => &[
            (1, "type", Str, false),
            (4, "resource", Msg("ResourceMetricSource"), false),
            (
                7,
                "containerResource",
                Msg("ContainerResourceMetricSource"),
                false,
            ),
        ],
        "ResourceMetricSource" => &[
            (1, "name", Str, false),
            (2, "target", Msg("MetricTarget"), false),
        ],
        "ContainerResourceMetricSource" => &[
            (1, "name", Str, false),
            (2, "target", Msg("MetricTarget"), false),
            (3, "container", Str, false),
        ],
        "MetricTarget" => &[
            (1, "type", Str, false),
            (2, "value", Qty, false),
            (3, "averageValue", Qty, false),
            (4, "averageUtilization", Int, false),
        ],
        "HorizontalPodAutoscalerBehavior" => &[
            (1, "scaleUp", Msg("HPAScalingRules"), false),
            (2, "scaleDown", Msg("HPAScalingRules"), false),
        ],
        "HPAScalingRules" => &[
            (1, "selectPolicy", Str, false),
            (2, "policies", Msg("HPAScalingPolicy"), true),
            (3, "stabilizationWindowSeconds", Int, false),
        ],
        "HPAScalingPolicy" => &[
            (1, "type", Str, false),
            (2, "value", Int, false),
            (3, "periodSeconds", Int, false),
        ],
        "CronJobSpec" => &[
            (1, "schedule", Str, false),
            (2, "startingDeadlineSeconds", Int, false),
            (3, "concurrencyPolicy", Str, false),
            (4, "suspend", Bool, false),
            (5, "jobTemplate", Msg("JobTemplateSpec"), false),
            (6, "successfulJobsHistoryLimit", Int, false),
            (7, "failedJobsHistoryLimit", Int, false),
            (8, "timeZone", Str, false),
        ],
        "JobTemplateSpec" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("JobSpec"), false),
        ],
        "DeleteOptions" => &[
            (1, "gracePeriodSeconds", Int, false),
            (2, "preconditions", Msg("Preconditions"), false),
            (3, "orphanDependents", Bool, false),
            (4, "propagationPolicy", Str, false),
            (5, "dryRun", Str, true),
        ],
        // RBAC and the review and token APIs (`kubectl create role|rolebinding|token`,
        // `kubectl auth can-i`).
        "Role" | "ClusterRole" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "rules", Msg("PolicyRule"), true),
        ],
        "PolicyRule" => &[
            (1, "verbs", Str, true),
            (2, "apiGroups", Str, true),
            (3, "resources", Str, true),
            (4, "resourceNames", Str, true),
            (5, "nonResourceURLs", Str, true),
        ],
        "RoleBinding" | "ClusterRoleBinding" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "subjects", Msg("Subject"), true),
            (3, "roleRef", Msg("RoleRef"), false),
        ],
        "Subject" => &[
            (1, "kind", Str, false),
            (2, "apiGroup", Str, false),
            (3, "name", Str, false),
            (4, "namespace", Str, false),
        ],
        "RoleRef" => &[
            (1, "apiGroup", Str, false),
            (2, "kind", Str, false),
            (3, "name", Str, false),
        ],
        "SelfSubjectAccessReview" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("SubjectAccessReviewSpec"), false),
        ],
        "SubjectAccessReview" | "LocalSubjectAccessReview" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("SubjectAccessReviewSpec"), false),
        ],
        // Also the spec of a SelfSubjectAccessReview, whose fields 1 and 2 are the same.
        "SubjectAccessReviewSpec" => &[
            (1, "resourceAttributes", Msg("ResourceAttributes"), false),
            (
                2,
                "nonResourceAttributes",
                Msg("NonResourceAttributes"),
                false,
            ),
            (3, "user", Str, false),
            (4, "groups", Str, true),
            (6, "uid", Str, false),
        ],
        "ResourceAttributes" => &[
            (1, "namespace", Str, false),
            (2, "verb", Str, false),
            (3, "group", Str, false),
            (4, "version", Str, false),
            (5, "resource", Str, false),
            (6, "subresource", Str, false),
            (7, "name", Str, false),
        ],
        "NonResourceAttributes" => &[(1, "path", Str, false), (2, "verb", Str, false)],
        "SelfSubjectRulesReview" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("SelfSubjectRulesReviewSpec"), false),
        ],
        "SelfSubjectRulesReviewSpec" => &[(1, "namespace", Str, false)],
        "TokenRequest" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("TokenRequestSpec"), false),
        ],
        "TokenRequestSpec" => &[
            (1, "audiences", Str, true),
            (4, "expirationSeconds", Int, false),
        ],
        "TokenReview" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("TokenReviewSpec"), false),
        ],
        "TokenReviewSpec" => &[(1, "token", Str, false), (2, "audiences", Str, true)],
        "Preconditions" => &[(1, "uid", Str, false), (2, "resourceVersion", Str, false)],
        _ => &[],
    }
}

/// Kinds whose protobuf bodies the sandbox decodes.
pub fn supported(kind: &str) -> bool {
    matches!(
        kind,
        "ConfigMap"
            | "Secret"
            | "Namespace"
            | "ServiceAccount"
            | "Service"
            | "Deployment"
            | "Job"
            | "CronJob"
            | "HorizontalPodAutoscaler"
            | "DeleteOptions"
            | "Role"
            | "ClusterRole"
            | "RoleBinding"
            | "ClusterRoleBinding"
            | "SelfSubjectAccessReview"
            | "SubjectAccessReview"
            | "LocalSubjectAccessReview"
            | "SelfSubjectRulesReview"
            | "TokenRequest"
            | "TokenReview"
    )
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()? as usize;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("truncated field")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads one field: (number, wire type, varint value or bytes).
    fn field(&mut self) -> Result<(u32, Wire<'a>), String> {
        let key = self.varint()?;
        let num = (key >> 3) as u32;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.pos += 8;
                Wire::Skip
            }
            2 => Wire::Bytes(self.bytes()?),
            5 => {
                self.pos += 4;
                Wire::Skip
            }
            t => return Err(format!("unsupported wire type {t}")),
        };
        if self.pos > self.buf.len() {
            return Err("truncated field".into());
        }
        Ok((num, wire))
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Skip,
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in string field".to_string())
}

fn map_entry(
    b: &[u8],
    value: impl Fn(&[u8]) -> Result<Value, String>,
) -> Result<(String, Value), String> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    while !r.done() {
        match r.field()? {
            (1, Wire::Bytes(b)) => k = utf8(b)?,
            (2, Wire::Bytes(b)) => v = value(b)?,
            _ => {}
        }
    }
    Ok((k, v))
}

/// Optional (pointer) fields whose zero value is meaningful; other zero values are what Go
/// omits from JSON (`omitempty`) and are dropped.
fn keeps_zero(name: &str) -> bool {
    matches!(
        name,
        "replicas"
            | "revisionHistoryLimit"
            | "progressDeadlineSeconds"
            | "terminationGracePeriodSeconds"
            | "activeDeadlineSeconds"
            | "parallelism"
            | "completions"
            | "backoffLimit"
            | "ttlSecondsAfterFinished"
            | "startingDeadlineSeconds"
            | "successfulJobsHistoryLimit"
            | "failedJobsHistoryLimit"
            | "suspend"
            | "manualSelector"
            | "immutable"
            | "automountServiceAccountToken"
            | "controller"
            | "blockOwnerDeletion"
            | "gracePeriodSeconds"
            | "orphanDependents"
    )
}

fn decode_message(msg: &str, buf: &[u8]) -> Result<Value, String> {
    let fields = schema(msg);
    let mut out = Map::new();
    let mut r = Reader { buf, pos: 0 };
    while !r.done() {
        let (num, wire) = r.field()?;
        let Some(&(_, name, ty, repeated)) = fields.iter().find(|f| f.0 == num) else {
            continue;
        };
        let value = match (ty, wire) {
            (Str, Wire::Bytes(b)) => Value::String(utf8(b)?),
            (Int, Wire::Varint(v)) => json!(v as i64),
            (Bool, Wire::Varint(v)) => json!(v != 0),
            (Msg(m), Wire::Bytes(b)) => decode_message(m, b)?,
            (Qty, Wire::Bytes(b)) => Value::String(map_entry(b, |_| Ok(Value::Null))?.0),
            (Time, Wire::Bytes(b)) => {
                let mut tr = Reader { buf: b, pos: 0 };
                let mut secs = 0i64;
                while !tr.done() {
                    if let (1, Wire::Varint(v)) = tr.field()? {
                        secs = v as i64;
                    }
                }
                if secs == 0 {
                    continue;
                }
                Value::String(crate::util::format_rfc3339(secs))
            }
            (IntOrString, Wire::Bytes(b)) => {
                let mut tr = Reader { buf: b, pos: 0 };
                let (mut kind, mut int, mut s) = (0u64, 0i64, String::new());
                while !tr.done() {
                    match tr.field()? {
                        (1, Wire::Varint(v)) => kind = v,
                        (2, Wire::Varint(v)) => int = v as i64,
                        (3, Wire::Bytes(b)) => s = utf8(b)?,
                        _ => {}
                    }
                }
                if kind == 1 {
                    json!(s)
                } else {
                    json!(int as i32)
                }
            }
            (MapStr | MapBytes | MapQty, Wire::Bytes(b)) => {
                let (k, v) = map_entry(b, |vb| match ty {
                    MapStr => utf8(vb).map(Value::String),
                    MapBytes => Ok(Value::String(crate::kinds::base64(vb))),
                    _ => map_entry(vb, |_| Ok(Value::Null)).map(|(s, _)| Value::String(s)),
                })?;
                let m = out.entry(name).or_insert_with(|| json!({}));
                m[k] = v;
                continue;
            }
            _ => continue,
        };
        let zero = match &value {
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_i64() == Some(0),
            Value::Bool(b) => !b,
            _ => false,
        };
        // An element of a repeated field is there even when empty (`apiGroups: [""]`).
        if zero && !repeated && !keeps_zero(name) {
            continue;
        }
        if repeated {
            let a = out.entry(name).or_insert_with(|| json!([]));
            if let Some(a) = a.as_array_mut() {
                a.push(value);
            }
        } else {
            out.insert(name.to_string(), value);
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a `k8s\0`-prefixed `runtime.Unknown` envelope into a JSON object with
/// `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or("missing protobuf envelope prefix")?;
    let mut r = Reader { buf: rest, pos: 0 };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while !r.done() {
        match r.field()? {
            (1, Wire::Bytes(tm)) => {
                let mut tr = Reader { buf: tm, pos: 0 };
                while !tr.done() {
                    match tr.field()? {
                        (1, Wire::Bytes(b)) => api_version = utf8(b)?,
                        (2, Wire::Bytes(b)) => kind = utf8(b)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    if !supported(&kind) {
        return Err(format!(
            "protobuf bodies of kind {kind:?} are not supported by the sandbox; send JSON"
        ));
    }
    let msg = if kind == "HorizontalPodAutoscaler" && api_version == "autoscaling/v1" {
        "HorizontalPodAutoscalerV1"
    } else {
        kind.as_str()
    };
    let mut obj = decode_message(msg, raw)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes_field(num: u32, b: &[u8], out: &mut Vec<u8>) {
        varint(((num as u64) << 3) | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    #[test]
    fn decodes_a_configmap_envelope() {
        let mut meta = Vec::new();
        bytes_field(1, b"cm", &mut meta);
        let mut entry = Vec::new();
        bytes_field(1, b"k", &mut entry);
        bytes_field(2, b"v", &mut entry);
        let mut cm = Vec::new();
        bytes_field(1, &meta, &mut cm);
        bytes_field(2, &entry, &mut cm);
        let mut tm = Vec::new();
        bytes_field(1, b"v1", &mut tm);
        bytes_field(2, b"ConfigMap", &mut tm);
        let mut env = b"k8s\0".to_vec();
        bytes_field(1, &tm, &mut env);
        bytes_field(2, &cm, &mut env);
        let v = decode(&env).unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"name": "cm"}, "data": {"k": "v"}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }
}

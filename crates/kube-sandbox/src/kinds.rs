//! Per-kind behaviour of the API server: defaulting and validation on write.

use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::selector::LabelSelector;
use serde_json::{Map, Value, json};

type Causes = Vec<(String, String, &'static str)>;

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn is_dns_label(s: &str) -> bool {
    !s.contains('.') && s.len() <= 63 && is_dns_subdomain(s)
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// Kinds whose names must be DNS labels rather than subdomains.
fn needs_label_name(rt: &ResourceType) -> bool {
    rt.group.is_empty() && matches!(rt.resource.as_str(), "namespaces" | "services")
}

/// Validates an object about to be stored; `Err` is `422 Invalid`.
pub fn validate(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let mut causes: Causes = Vec::new();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
            "FieldValueRequired",
        ));
    } else if rt.custom || rt.resource == "events" {
        // Custom resources and events accept any path-segment name.
        if name.contains('/') || name == "." || name == ".." {
            causes.push((
                "metadata.name".into(),
                format!("Invalid value: {name:?}: may not contain '/'"),
                "FieldValueInvalid",
            ));
        }
    } else if needs_label_name(rt) {
        if !is_dns_label(name) {
            causes.push((
                "metadata.name".into(),
                format!("Invalid value: {name:?}: {LABEL_MSG}"),
                "FieldValueInvalid",
            ));
        }
    } else if !rt.resource.starts_with("cluster")
        && !rt.group.starts_with("rbac")
        && !is_dns_subdomain(name)
    {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: {SUBDOMAIN_MSG}"),
            "FieldValueInvalid",
        ));
    }
    for field in ["labels", "annotations"] {
        if let Some(m) = obj["metadata"].get(field)
            && !m.is_null()
        {
            match m.as_object() {
                Some(m) => {
                    for (k, v) in m {
                        if !v.is_string() {
                            causes.push((
                                format!("metadata.{field}.{k}"),
                                "Invalid value: must be a string".into(),
                                "FieldValueInvalid",
                            ));
                        }
                        if field == "labels"
                            && let Some(s) = v.as_str()
                            && (s.len() > 63
                                || !s
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
                        {
                            causes.push((
                                "metadata.labels".to_string(),
                                format!("Invalid value: {s:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
                                "FieldValueInvalid",
                            ));
                        }
                    }
                }
                None => causes.push((
                    format!("metadata.{field}"),
                    "Invalid value: must be a map of strings".into(),
                    "FieldValueInvalid",
                )),
            }
        }
    }
    if !rt.custom {
        kind_specific(rt, obj, &mut causes);
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.group, &rt.kind, name, causes))
    }
}

fn containers_valid(prefix: &str, spec: &Value, causes: &mut Causes) {
    let containers = spec["containers"].as_array();
    if containers.is_none_or(|c| c.is_empty()) {
        causes.push((
            format!("{prefix}.containers"),
            "Required value".into(),
            "FieldValueRequired",
        ));
        return;
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        if c["name"].as_str().unwrap_or_default().is_empty() {
            causes.push((
                format!("{prefix}.containers[{i}].name"),
                "Required value".into(),
                "FieldValueRequired",
            ));
        }
        if c["image"].as_str().unwrap_or_default().is_empty() {
            causes.push((
                format!("{prefix}.containers[{i}].image"),
                "Required value".into(),
                "FieldValueRequired",
            ));
        }
    }
}

/// The most a ConfigMap's or Secret's data may hold (the API's `MaxSecretSize`).
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

fn kind_specific(rt: &ResourceType, obj: &Value, causes: &mut Causes) {
    match (rt.group.as_str(), rt.resource.as_str()) {
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => {
            let spec = &obj["spec"];
            let selector = &spec["selector"];
            if !selector.is_object() {
                causes.push((
                    "spec.selector".into(),
                    "Required value".into(),
                    "FieldValueRequired",
                ));
            } else {
                let labels = &spec["template"]["metadata"]["labels"];
                if !LabelSelector::from_label_selector(selector).matches_labels(Some(labels)) {
                    causes.push((
                        "spec.template.metadata.labels".into(),
                        format!(
                            "Invalid value: {}: `selector` does not match template `labels`",
                            serde_json::to_string(labels).unwrap_or_default()
                        ),
                        "FieldValueInvalid",
                    ));
                }
            }
            if let Some(r) = spec["replicas"].as_i64()
                && r < 0
            {
                causes.push((
                    "spec.replicas".into(),
                    format!("Invalid value: {r}: must be greater than or equal to 0"),
                    "FieldValueInvalid",
                ));
            }
            containers_valid("spec.template.spec", &spec["template"]["spec"], causes);
        }
        ("batch", "jobs") => containers_valid(
            "spec.template.spec",
            &obj["spec"]["template"]["spec"],
            causes,
        ),
        ("", "pods") => containers_valid("spec", &obj["spec"], causes),
        ("", "services") => {
            let spec = &obj["spec"];
            let external = spec["type"] == json!("ExternalName");
            let headless = spec["clusterIP"] == json!("None");
            if !external && !headless && spec["ports"].as_array().is_none_or(|p| p.is_empty()) {
                causes.push((
                    "spec.ports".into(),
                    "Required value".into(),
                    "FieldValueRequired",
                ));
            }
        }
        ("", "configmaps" | "secrets") => {
            // The data of a ConfigMap or Secret may hold at most 1 MiB (values of `data`
            // as stored; a Secret's and `binaryData`'s decoded).
            let size: usize = ["data", "binaryData", "stringData"]
                .iter()
                .filter_map(|f| obj[*f].as_object())
                .flatten()
                .map(|(k, v)| {
                    let text = v.as_str().unwrap_or_default();
                    let encoded = (rt.resource == "secrets" && obj["data"].get(k) == Some(v))
                        || obj["binaryData"].get(k) == Some(v);
                    if encoded {
                        text.trim_end_matches('=').len() * 3 / 4
                    } else {
                        text.len()
                    }
                })
                .sum();
            if size > MAX_DATA_BYTES {
                let field = if rt.resource == "secrets" {
                    "data"
                } else {
                    "[]"
                };
                causes.push((
                    field.into(),
                    format!("Too long: must have at most {MAX_DATA_BYTES} bytes"),
                    "FieldValueTooLong",
                ));
            }
            for field in ["data", "binaryData", "stringData"] {
                if let Some(m) = obj[field].as_object() {
                    for (k, v) in m {
                        if !v.is_string() {
                            causes.push((
                                format!("{field}[{k}]"),
                                "Invalid value: must be a string".into(),
                                "FieldValueInvalid",
                            ));
                        }
                    }
                }
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let spec = &obj["spec"];
            let group = spec["group"].as_str().unwrap_or_default();
            let plural = spec["names"]["plural"].as_str().unwrap_or_default();
            if group.is_empty() {
                causes.push((
                    "spec.group".into(),
                    "Required value".into(),
                    "FieldValueRequired",
                ));
            }
            if plural.is_empty() {
                causes.push((
                    "spec.names.plural".into(),
                    "Required value".into(),
                    "FieldValueRequired",
                ));
            }
            if spec["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
            {
                causes.push((
                    "spec.names.kind".into(),
                    "Required value".into(),
                    "FieldValueRequired",
                ));
            }
            let name = obj["metadata"]["name"].as_str().unwrap_or_default();
            if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
                causes.push((
                    "metadata.name".into(),
                    format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
                    "FieldValueInvalid",
                ));
            }
            if spec["versions"].as_array().is_none_or(|v| v.is_empty()) {
                causes.push((
                    "spec.versions".into(),
                    "Invalid value: null: must have exactly one version marked as storage version"
                        .into(),
                    "FieldValueInvalid",
                ));
            }
        }
        _ => {}
    }
}

/// Checks an update of an object's main resource (not its status) against the fields a real
/// API server refuses to change once they are set. Called with the defaults applied to `new`.
pub fn validate_update(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), ApiError> {
    let mut causes: Causes = Vec::new();
    if !old["metadata"]["deletionTimestamp"].is_null() {
        let had = old["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let added: Vec<String> = new["metadata"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| !had.contains(f))
            .map(|f| format!("{:?}", f.as_str().unwrap_or_default()))
            .collect();
        if !added.is_empty() {
            causes.push((
                "metadata.finalizers".into(),
                format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    added.join(", ")
                ),
                "FieldValueForbidden",
            ));
        }
    }
    if rt.custom {
        return invalid_unless_empty(rt, new, causes);
    }
    let immutable =
        |causes: &mut Causes, field: &str, old: &Value, new: &Value, shown: String, why: &str| {
            if old != new {
                causes.push((
                    field.to_string(),
                    format!("Invalid value: {shown}: {why}"),
                    "FieldValueInvalid",
                ));
            }
        };
    let immutable_selector = |causes: &mut Causes| {
        let (a, b) = (&old["spec"]["selector"], &new["spec"]["selector"]);
        immutable(
            causes,
            "spec.selector",
            a,
            b,
            go_label_selector(b),
            "field is immutable",
        );
    };
    match (rt.group.as_str(), rt.resource.as_str()) {
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => {
            immutable_selector(&mut causes);
            if rt.resource == "statefulsets" {
                // A field the stored object lacks is being defaulted (a StatefulSet stored
                // by an older sandbox), not changed.
                let fixed = |v: &Value| {
                    let mut spec = v["spec"].as_object().cloned().unwrap_or_default();
                    spec.retain(|k, _| !old["spec"][k.as_str()].is_null());
                    for k in [
                        "revisionHistoryLimit",
                        "replicas",
                        "ordinals",
                        "template",
                        "updateStrategy",
                        "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds",
                        "selector",
                    ] {
                        spec.remove(k);
                    }
                    spec
                };
                if fixed(old) != fixed(new) {
                    causes.push((
                        "spec".into(),
                        "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into(),
                        "FieldValueForbidden",
                    ));
                }
            }
        }
        // Before its selector is set (a Job created by an older sandbox), the controller
        // still adds the generated selector and labels.
        ("batch", "jobs") if !old["spec"]["selector"].is_null() => {
            immutable_selector(&mut causes);
            let (a, b) = (&old["spec"]["template"], &new["spec"]["template"]);
            immutable(
                &mut causes,
                "spec.template",
                a,
                b,
                "core.PodTemplateSpec{...}".into(),
                "field is immutable",
            );
        }
        ("", "configmaps" | "secrets") => {
            if old["immutable"] == json!(true) {
                if new["immutable"] != json!(true) {
                    causes.push((
                        "immutable".into(),
                        "Forbidden: field is immutable when `immutable` is set".into(),
                        "FieldValueForbidden",
                    ));
                }
                for field in ["data", "binaryData"] {
                    let empty =
                        |v: &Value| v.is_null() || v.as_object().is_some_and(|m| m.is_empty());
                    let (a, b) = (&old[field], &new[field]);
                    if a != b && !(empty(a) && empty(b)) {
                        causes.push((
                            field.into(),
                            "Forbidden: field is immutable when `immutable` is set".into(),
                            "FieldValueForbidden",
                        ));
                    }
                }
            }
            if rt.resource == "secrets" {
                let (a, b) = (&old["type"], &new["type"]);
                immutable(
                    &mut causes,
                    "type",
                    a,
                    b,
                    b.to_string(),
                    "field is immutable",
                );
            }
        }
        ("", "services") => {
            let set = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
            let (a, b) = (&old["spec"]["clusterIP"], &new["spec"]["clusterIP"]);
            if set(a) && a != b && new["spec"]["type"] != json!("ExternalName") {
                causes.push((
                    "spec.clusterIPs[0]".into(),
                    format!(
                        "Invalid value: []string{{{}}}: may not change once set",
                        if set(b) { b.to_string() } else { String::new() }
                    ),
                    "FieldValueInvalid",
                ));
            }
        }
        _ => {}
    }
    invalid_unless_empty(rt, new, causes)
}

fn invalid_unless_empty(rt: &ResourceType, obj: &Value, causes: Causes) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        Err(ApiError::invalid(&rt.group, &rt.kind, name, causes))
    }
}

/// A label selector as the API server prints it in a message (Go's `%#v` of the type).
fn go_label_selector(v: &Value) -> String {
    let labels = v["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{:?}:{:?}", k, v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .map(|inner| format!("map[string]string{{{inner}}}"))
        .unwrap_or_else(|| "map[string]string(nil)".into());
    let expressions = if v["matchExpressions"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        "[]v1.LabelSelectorRequirement{...}"
    } else {
        "[]v1.LabelSelectorRequirement(nil)"
    };
    if v.is_null() {
        return "(*v1.LabelSelector)(nil)".into();
    }
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

/// What a real API server keeps from the stored Service when an update leaves it unset:
/// the allocated cluster IPs, and the node ports of ports that are still there. So a PUT
/// of a manifest without `clusterIP` keeps the address instead of allocating another.
pub fn keep_allocated_service_values(old: &Value, new: &mut Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let external = spec.get("type") == Some(&json!("ExternalName"));
    if !external && spec.get("clusterIP").is_none_or(|v| v.is_null() || v == "") {
        for k in ["clusterIP", "clusterIPs"] {
            if let Some(v) = old["spec"].get(k) {
                spec.insert(k.into(), v.clone());
            }
        }
    }
    let old_ports = old["spec"]["ports"].as_array().cloned().unwrap_or_default();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            if p.get("nodePort").is_some_and(|v| !v.is_null()) {
                continue;
            }
            let protocol = |v: &Value| v["protocol"].as_str().unwrap_or("TCP").to_string();
            if let Some(prev) = old_ports
                .iter()
                .find(|o| o["port"] == p["port"] && protocol(o) == protocol(p))
                .and_then(|o| o.get("nodePort"))
                .filter(|v| !v.is_null())
            {
                p["nodePort"] = prev.clone();
            }
        }
    }
}

/// Gives every port of a NodePort or LoadBalancer Service without a `nodePort` the lowest
/// free port of the default range (30000–32767) that `taken` does not hold.
pub fn allocate_node_ports(obj: &mut Value, taken: &std::collections::BTreeSet<i64>) {
    let wants = matches!(
        obj["spec"]["type"].as_str(),
        Some("NodePort" | "LoadBalancer")
    );
    if !wants {
        return;
    }
    let mut used = taken.clone();
    if let Some(ports) = obj["spec"]["ports"].as_array() {
        used.extend(ports.iter().filter_map(|p| p["nodePort"].as_i64()));
    }
    if let Some(ports) = obj["spec"]["ports"].as_array_mut() {
        for p in ports {
            if p.get("nodePort").is_some_and(|v| !v.is_null()) {
                continue;
            }
            if let Some(free) = (30000..=32767).find(|n| !used.contains(n)) {
                used.insert(free);
                p["nodePort"] = json!(free);
            }
        }
    }
}

fn ensure_map<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v[key].is_object() {
        v[key] = json!({});
    }
    v[key].as_object_mut().expect("map")
}

fn default_if_missing(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.into(), value);
    }
}

fn default_container(c: &mut Value) {
    let Some(m) = c.as_object_mut() else { return };
    let image = m.get("image").and_then(Value::as_str).unwrap_or_default();
    let latest = !image.contains(':') || image.ends_with(":latest");
    default_if_missing(m, "terminationMessagePath", json!("/dev/termination-log"));
    default_if_missing(m, "terminationMessagePolicy", json!("File"));
    default_if_missing(
        m,
        "imagePullPolicy",
        json!(if latest { "Always" } else { "IfNotPresent" }),
    );
    default_if_missing(m, "resources", json!({}));
    if let Some(ports) = m.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            if let Some(p) = p.as_object_mut() {
                default_if_missing(p, "protocol", json!("TCP"));
            }
        }
    }
}

/// Defaults of the pod template at `obj.spec.template.spec`, when there is one.
fn default_template(obj: &mut Value) {
    if let Some(spec) = obj.pointer_mut("/spec/template/spec") {
        default_pod_spec(spec);
    }
}

/// Defaults of a pod spec.
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    for field in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(field).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(default_container);
        }
    }
    let m = spec.as_object_mut().expect("object");
    default_if_missing(m, "restartPolicy", json!("Always"));
    default_if_missing(m, "terminationGracePeriodSeconds", json!(30));
    default_if_missing(m, "dnsPolicy", json!("ClusterFirst"));
    default_if_missing(m, "securityContext", json!({}));
    default_if_missing(m, "schedulerName", json!("default-scheduler"));
}

/// Applies the defaults of the real API server for the kinds that matter to clients.
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value, cluster_ip: impl FnOnce() -> String) {
    if rt.custom {
        return;
    }
    match (rt.group.as_str(), rt.resource.as_str()) {
        ("apps", "deployments") => {
            let spec = ensure_map(obj, "spec");
            default_if_missing(spec, "replicas", json!(1));
            default_if_missing(spec, "revisionHistoryLimit", json!(10));
            default_if_missing(spec, "progressDeadlineSeconds", json!(600));
            let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
            if strategy.get("type").is_none() {
                strategy["type"] = json!("RollingUpdate");
            }
            if strategy["type"] == "RollingUpdate" {
                let ru = ensure_map(strategy, "rollingUpdate");
                default_if_missing(ru, "maxUnavailable", json!("25%"));
                default_if_missing(ru, "maxSurge", json!("25%"));
            }
            default_template(obj);
        }
        ("apps", "replicasets" | "statefulsets") => {
            let spec = ensure_map(obj, "spec");
            default_if_missing(spec, "replicas", json!(1));
            if rt.resource == "statefulsets" {
                default_if_missing(spec, "podManagementPolicy", json!("OrderedReady"));
                default_if_missing(spec, "revisionHistoryLimit", json!(10));
                let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if strategy.get("type").is_none_or(Value::is_null) {
                    strategy["type"] = json!("RollingUpdate");
                }
                if strategy["type"] == "RollingUpdate" {
                    let ru = ensure_map(strategy, "rollingUpdate");
                    default_if_missing(ru, "partition", json!(0));
                }
            }
            default_template(obj);
        }
        ("apps", "daemonsets") | ("batch", "jobs") => {
            if rt.resource == "jobs" {
                let spec = ensure_map(obj, "spec");
                default_if_missing(spec, "backoffLimit", json!(6));
                default_if_missing(spec, "completions", json!(1));
                default_if_missing(spec, "parallelism", json!(1));
                default_if_missing(spec, "completionMode", json!("NonIndexed"));
                default_if_missing(spec, "suspend", json!(false));
                if spec.get("podFailurePolicy").is_none_or(Value::is_null) {
                    default_if_missing(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
                }
                generate_job_selector(obj);
                if let Some(Value::Object(ps)) = obj.pointer_mut("/spec/template/spec") {
                    default_if_missing(ps, "restartPolicy", json!("Never"));
                }
            } else {
                let spec = ensure_map(obj, "spec");
                default_if_missing(spec, "revisionHistoryLimit", json!(10));
                let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if strategy.get("type").is_none() {
                    strategy["type"] = json!("RollingUpdate");
                }
                if strategy["type"] == "RollingUpdate" {
                    let ru = ensure_map(strategy, "rollingUpdate");
                    default_if_missing(ru, "maxUnavailable", json!(1));
                    default_if_missing(ru, "maxSurge", json!(0));
                }
            }
            default_template(obj);
        }
        ("", "pods") => {
            if let Some(spec) = obj.get_mut("spec") {
                default_pod_spec(spec)
            }
        }
        ("", "services") => {
            let spec = ensure_map(obj, "spec");
            default_if_missing(spec, "type", json!("ClusterIP"));
            default_if_missing(spec, "sessionAffinity", json!("None"));
            let headless_or_external = spec.get("type") == Some(&json!("ExternalName"));
            if !headless_or_external && spec.get("clusterIP").is_none_or(Value::is_null) {
                let ip = cluster_ip();
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            default_if_missing(spec, "ipFamilies", json!(["IPv4"]));
            default_if_missing(spec, "ipFamilyPolicy", json!("SingleStack"));
            default_if_missing(spec, "internalTrafficPolicy", json!("Cluster"));
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    if let Some(p) = p.as_object_mut() {
                        default_if_missing(p, "protocol", json!("TCP"));
                        if let Some(port) = p.get("port").cloned() {
                            default_if_missing(p, "targetPort", port);
                        }
                    }
                }
            }
        }
        ("", "secrets") => {
            let m = obj.as_object_mut().expect("object");
            default_if_missing(m, "type", json!("Opaque"));
            // stringData is write-only: merged into data, base64-encoded.
            if let Some(Value::Object(sd)) = m.remove("stringData") {
                let data = m.entry("data").or_insert_with(|| json!({}));
                if !data.is_object() {
                    *data = json!({});
                }
                for (k, v) in sd {
                    let s = v.as_str().unwrap_or_default();
                    data[k] = json!(base64(s.as_bytes()));
                }
            }
        }
        _ => {}
    }
}

/// The selector and pod labels a real API server generates for a Job at admission when
/// `manualSelector` is not set: unique to the Job through its uid.
pub fn generate_job_selector(job: &mut Value) {
    if !job["spec"]["selector"].is_null() || job["spec"]["manualSelector"] == json!(true) {
        return;
    }
    let uid = job["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if uid.is_empty() {
        return;
    }
    job["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    let template = &mut job["spec"]["template"];
    if !template.is_object() {
        *template = json!({});
    }
    let labels = &mut template["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels[k] = json!(v);
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
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

/// Initial status written by the API server on create for kinds that have one.
pub fn initial_status(rt: &ResourceType, obj: &mut Value) {
    match (rt.group.as_str(), rt.resource.as_str()) {
        ("", "pods") => {
            obj["status"] = json!({"phase": "Pending", "qosClass": qos_class(&obj["spec"])});
        }
        ("", "namespaces") => {
            obj["status"] = json!({"phase": "Active"});
            let name = obj["metadata"]["name"].clone();
            crate::util::meta_mut(obj)
                .entry("labels")
                .or_insert_with(|| json!({}))["kubernetes.io/metadata.name"] = name;
            let spec = ensure_map(obj, "spec");
            default_if_missing(spec, "finalizers", json!(["kubernetes"]));
        }
        ("", "services") => obj["status"] = json!({"loadBalancer": {}}),
        // `desiredReplicas` has no `omitempty`: the real server always writes it (and v1's
        // `currentReplicas`).
        ("autoscaling", "horizontalpodautoscalers") => {
            obj["status"] = if rt.version == "v1" {
                json!({"currentReplicas": 0, "desiredReplicas": 0})
            } else {
                json!({"desiredReplicas": 0})
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let now = crate::util::now_rfc3339();
            let names = obj["spec"]["names"].clone();
            let mut accepted = names.clone();
            if accepted["singular"].is_null() {
                accepted["singular"] =
                    json!(names["kind"].as_str().unwrap_or_default().to_lowercase());
            }
            if accepted["listKind"].is_null() {
                accepted["listKind"] = json!(format!(
                    "{}List",
                    names["kind"].as_str().unwrap_or_default()
                ));
            }
            let stored: Vec<Value> = obj["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect();
            obj["status"] = json!({
                "acceptedNames": accepted,
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now}
                ],
                "storedVersions": stored,
            });
        }
        // A built-in kind's status is a struct of the API's types, so a real server answers
        // a create with `"status": {}` (clients read `.status.x` without a check); a custom
        // resource's status is not kept on create at all.
        _ if !rt.custom => obj["status"] = json!({}),
        _ => {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
    }
}

fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let any = containers.iter().any(|c| {
        c["resources"]["requests"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
            || c["resources"]["limits"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let l = &c["resources"]["limits"];
        let r = &c["resources"]["requests"];
        ["cpu", "memory"]
            .iter()
            .all(|k| !l[k].is_null() && (r[k].is_null() || r[k] == l[k]))
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Known top-level fields of built-in kinds, for `fieldValidation=Strict`.
pub fn known_top_level_fields(rt: &ResourceType) -> Option<&'static [&'static str]> {
    if rt.custom {
        return None;
    }
    Some(match (rt.group.as_str(), rt.resource.as_str()) {
        ("", "configmaps") => &[
            "apiVersion",
            "kind",
            "metadata",
            "data",
            "binaryData",
            "immutable",
        ],
        ("", "secrets") => &[
            "apiVersion",
            "kind",
            "metadata",
            "data",
            "stringData",
            "type",
            "immutable",
        ],
        ("", "serviceaccounts") => &[
            "apiVersion",
            "kind",
            "metadata",
            "secrets",
            "imagePullSecrets",
            "automountServiceAccountToken",
        ],
        ("", "endpoints") => &["apiVersion", "kind", "metadata", "subsets"],
        ("discovery.k8s.io", "endpointslices") => &[
            "apiVersion",
            "kind",
            "metadata",
            "addressType",
            "endpoints",
            "ports",
        ],
        ("", "events") | ("events.k8s.io", _) => return None,
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            &["apiVersion", "kind", "metadata", "rules", "aggregationRule"]
        }
        ("rbac.authorization.k8s.io", _) => {
            &["apiVersion", "kind", "metadata", "subjects", "roleRef"]
        }
        ("apps", "controllerrevisions") => &["apiVersion", "kind", "metadata", "data", "revision"],
        ("", "podtemplates") => &["apiVersion", "kind", "metadata", "template"],
        ("storage.k8s.io", "storageclasses") => &[
            "apiVersion",
            "kind",
            "metadata",
            "provisioner",
            "parameters",
            "reclaimPolicy",
            "mountOptions",
            "allowVolumeExpansion",
            "volumeBindingMode",
            "allowedTopologies",
        ],
        ("scheduling.k8s.io", "priorityclasses") => &[
            "apiVersion",
            "kind",
            "metadata",
            "value",
            "globalDefault",
            "description",
            "preemptionPolicy",
        ],
        ("node.k8s.io", "runtimeclasses") => &[
            "apiVersion",
            "kind",
            "metadata",
            "handler",
            "overhead",
            "scheduling",
        ],
        ("admissionregistration.k8s.io", _) => &["apiVersion", "kind", "metadata", "webhooks"],
        _ => &["apiVersion", "kind", "metadata", "spec", "status"],
    })
}

/// Known fields of `metadata`.
pub const METADATA_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Unknown fields of an object (top level and metadata), as `strict decoding` names them.
pub fn unknown_fields(rt: &ResourceType, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(known) = known_top_level_fields(rt)
        && let Some(m) = obj.as_object()
    {
        for k in m.keys() {
            if !known.contains(&k.as_str()) {
                out.push(k.clone());
            }
        }
    }
    if let Some(m) = obj["metadata"].as_object() {
        for k in m.keys() {
            if !METADATA_FIELDS.contains(&k.as_str()) {
                out.push(format!("metadata.{k}"));
            }
        }
    }
    if let Some(schema) = rt.schema.as_deref() {
        out.extend(crate::crd_schema::unknown_paths(schema, obj));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn deployment_selector_must_match_template_labels() {
        let reg = Registry::default();
        let rt = reg.find("apps", "v1", "deployments").unwrap();
        let bad = json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let err = validate(rt, &bad).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(
            err.message
                .contains("`selector` does not match template `labels`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        let reg = Registry::default();
        let rt = reg.find("", "v1", "configmaps").unwrap();
        assert!(validate(rt, &json!({"metadata": {"name": "Bad_Name"}})).is_err());
        assert!(validate(rt, &json!({"metadata": {"name": "good.name-1"}})).is_ok());
    }

    #[test]
    fn service_gets_cluster_ip_and_target_port() {
        let reg = Registry::default();
        let rt = reg.find("", "v1", "services").unwrap();
        let mut svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
        apply_defaults(rt, &mut svc, || "10.96.0.10".into());
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}

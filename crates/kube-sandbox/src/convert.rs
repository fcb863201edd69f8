//! Versions of one kind served from one storage: objects are stored in one version and
//! converted when another is read or written, as the real server converts through its
//! internal types.
//!
//! - Custom resources are stored as written; reading them in another served version of
//!   their CRD changes `apiVersion` only (no conversion webhooks).
//! - HorizontalPodAutoscalers are stored as `autoscaling/v2`; `autoscaling/v1` shows the
//!   CPU utilization target as `targetCPUUtilizationPercentage` and keeps what v1 cannot
//!   say (other metrics, `behavior`, status conditions and current metrics) in the
//!   `autoscaling.alpha.kubernetes.io/…` annotations, so a v1 round trip loses nothing.

use crate::resources::ResourceType;
use serde_json::{Map, Value, json};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";

/// Whether objects of `rt` are converted between their stored and served forms.
pub fn converts(rt: &ResourceType) -> bool {
    rt.custom || is_hpa_v1(rt)
}

fn is_hpa_v1(rt: &ResourceType) -> bool {
    rt.group == "autoscaling" && rt.resource == "horizontalpodautoscalers" && rt.version == "v1"
}

/// A stored object as `rt`'s version shows it.
pub fn to_served(rt: &ResourceType, obj: &Value) -> Value {
    if is_hpa_v1(rt) && obj["apiVersion"] != "autoscaling/v1" {
        return hpa_v2_to_v1(obj);
    }
    let mut o = obj.clone();
    if rt.custom {
        o["apiVersion"] = json!(rt.api_version());
    }
    o
}

/// An object written in `rt`'s version, as it is stored.
pub fn to_storage(rt: &ResourceType, obj: Value) -> Value {
    if is_hpa_v1(rt) && obj["apiVersion"] == "autoscaling/v1" {
        return hpa_v1_to_v2(&obj);
    }
    obj
}

fn is_cpu_utilization(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && m["resource"]["target"]["type"] == "Utilization"
}

fn copy(from: &Value, to: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(v) = from.get(*k).filter(|v| !v.is_null()) {
            to.insert(k.to_string(), v.clone());
        }
    }
}

fn hpa_v2_to_v1(obj: &Value) -> Value {
    let mut out = obj.clone();
    out["apiVersion"] = json!("autoscaling/v1");
    let mut annotations: Vec<(&str, Value)> = Vec::new();
    let spec = &obj["spec"];
    let mut v1_spec = Map::new();
    copy(
        spec,
        &mut v1_spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    let metrics = spec["metrics"].as_array().cloned().unwrap_or_default();
    let (cpu, others): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization);
    if let Some(cpu) = cpu.first() {
        v1_spec.insert(
            "targetCPUUtilizationPercentage".into(),
            cpu["resource"]["target"]["averageUtilization"].clone(),
        );
    }
    if !others.is_empty() {
        annotations.push((METRICS, Value::Array(others)));
    }
    if !spec["behavior"].is_null() {
        annotations.push((BEHAVIOR, spec["behavior"].clone()));
    }
    out["spec"] = Value::Object(v1_spec);
    if let Some(status) = obj.get("status").filter(|s| s.is_object()) {
        let mut v1_status = Map::new();
        copy(
            status,
            &mut v1_status,
            &[
                "observedGeneration",
                "lastScaleTime",
                "currentReplicas",
                "desiredReplicas",
            ],
        );
        let current = status["currentMetrics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let (cpu, others): (Vec<Value>, Vec<Value>) = current.into_iter().partition(|m| {
            m["type"] == "Resource"
                && m["resource"]["name"] == "cpu"
                && !m["resource"]["current"]["averageUtilization"].is_null()
        });
        if let Some(cpu) = cpu.first() {
            v1_status.insert(
                "currentCPUUtilizationPercentage".into(),
                cpu["resource"]["current"]["averageUtilization"].clone(),
            );
        }
        if !others.is_empty() {
            annotations.push((CURRENT_METRICS, Value::Array(others)));
        }
        if status["conditions"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
        {
            annotations.push((CONDITIONS, status["conditions"].clone()));
        }
        if !v1_status.contains_key("currentReplicas") {
            v1_status.insert("currentReplicas".into(), json!(0));
        }
        if !v1_status.contains_key("desiredReplicas") {
            v1_status.insert("desiredReplicas".into(), json!(0));
        }
        out["status"] = Value::Object(v1_status);
    }
    for (k, v) in annotations {
        out["metadata"]["annotations"][k] = json!(v.to_string());
    }
    out
}

fn hpa_v1_to_v2(obj: &Value) -> Value {
    let mut out = obj.clone();
    out["apiVersion"] = json!("autoscaling/v2");
    let mut taken = |k: &str| -> Option<Value> {
        let a = out
            .get_mut("metadata")?
            .get_mut("annotations")?
            .as_object_mut()?;
        let v = a.remove(k)?;
        if a.is_empty() {
            out["metadata"]
                .as_object_mut()
                .expect("metadata")
                .remove("annotations");
        }
        serde_json::from_str(v.as_str()?).ok()
    };
    let other_metrics = taken(METRICS);
    let behavior = taken(BEHAVIOR);
    let conditions = taken(CONDITIONS);
    let current_metrics = taken(CURRENT_METRICS);
    let spec = &obj["spec"];
    let mut v2_spec = Map::new();
    copy(
        spec,
        &mut v2_spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    let mut metrics: Vec<Value> = other_metrics
        .and_then(|m| m.as_array().cloned())
        .unwrap_or_default();
    if let Some(target) = spec
        .get("targetCPUUtilizationPercentage")
        .filter(|t| !t.is_null())
    {
        metrics.insert(
            0,
            json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": target}}}),
        );
    }
    if !metrics.is_empty() {
        v2_spec.insert("metrics".into(), Value::Array(metrics));
    }
    if let Some(b) = behavior {
        v2_spec.insert("behavior".into(), b);
    }
    out["spec"] = Value::Object(v2_spec);
    if let Some(status) = obj.get("status").filter(|s| s.is_object()) {
        let mut v2_status = Map::new();
        copy(
            status,
            &mut v2_status,
            &[
                "observedGeneration",
                "lastScaleTime",
                "currentReplicas",
                "desiredReplicas",
            ],
        );
        let mut current: Vec<Value> = current_metrics
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default();
        if let Some(u) = status
            .get("currentCPUUtilizationPercentage")
            .filter(|u| !u.is_null())
        {
            current.insert(
                0,
                json!({"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": u}}}),
            );
        }
        if !current.is_empty() {
            v2_status.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(c) = conditions {
            v2_status.insert("conditions".into(), c);
        }
        if !v2_status.contains_key("desiredReplicas") {
            v2_status.insert("desiredReplicas".into(), json!(0));
        }
        out["status"] = Value::Object(v2_status);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_autoscaler_reads_as_v1_and_comes_back_whole() {
        let v2 = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 3,
                "conditions": [{"type": "AbleToScale", "status": "True"}]},
        });
        let v1 = hpa_v2_to_v1(&v2);
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert!(v1["spec"].get("metrics").is_none());
        assert!(
            v1["metadata"]["annotations"][METRICS]
                .as_str()
                .unwrap()
                .contains("memory")
        );
        assert_eq!(v1["status"]["desiredReplicas"], 3);
        assert_eq!(hpa_v1_to_v2(&v1), v2);
    }
}

//! The scheduler's fit check for the single node (the `NodeResourcesFit` and `NodeName` /
//! node-selector filters of kube-scheduler), with the messages it writes.

use super::quantity::{bytes, cpu_millis};
use serde_json::Value;

/// What a pod asks for: CPU millicores and memory bytes (sum of the containers, or the
/// largest init container if bigger).
pub fn requests(pod: &Value) -> (i64, i64) {
    let one = |c: &Value| {
        let r = &c["resources"]["requests"];
        let cpu = r["cpu"]
            .as_str()
            .and_then(cpu_millis)
            .or_else(|| r["cpu"].as_f64().map(|v| (v * 1000.0) as i64));
        let mem = r["memory"]
            .as_str()
            .and_then(bytes)
            .or_else(|| r["memory"].as_i64());
        (cpu.unwrap_or(0), mem.unwrap_or(0))
    };
    let list = |k: &str| pod["spec"][k].as_array().cloned().unwrap_or_default();
    let (mut cpu, mut mem) = list("containers")
        .iter()
        .map(one)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    for c in list("initContainers") {
        let (ic, im) = one(&c);
        cpu = cpu.max(ic);
        mem = mem.max(im);
    }
    (cpu, mem)
}

/// What the node offers and what is already taken.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    pub cpu_millis: i64,
    pub memory: i64,
    pub pods: i64,
}

/// `Ok` when the pod fits; otherwise the `Unschedulable` message of the real scheduler.
pub fn fit(
    pod: &Value,
    node_labels: &Value,
    allocatable: Capacity,
    used: Capacity,
) -> Result<(), String> {
    let (cpu, mem) = requests(pod);
    let mut reasons = Vec::new();
    if let Some(sel) = pod["spec"]["nodeSelector"].as_object()
        && sel.iter().any(|(k, v)| &node_labels[k] != v)
    {
        let m = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
        return Err(m.to_string());
    }
    if used.pods + 1 > allocatable.pods {
        reasons.push("Too many pods");
    }
    if cpu > 0 && used.cpu_millis + cpu > allocatable.cpu_millis {
        reasons.push("Insufficient cpu");
    }
    if mem > 0 && used.memory + mem > allocatable.memory {
        reasons.push("Insufficient memory");
    }
    if reasons.is_empty() {
        return Ok(());
    }
    reasons.sort();
    let list: Vec<String> = reasons.iter().map(|r| format!("1 {r}")).collect();
    Err(format!(
        "0/1 nodes are available: {}. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NODE: Capacity = Capacity {
        cpu_millis: 4000,
        memory: 8 << 30,
        pods: 110,
    };
    const EMPTY: Capacity = Capacity {
        cpu_millis: 0,
        memory: 0,
        pods: 0,
    };

    fn pod(cpu: &str, mem: &str) -> Value {
        json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}})
    }

    #[test]
    fn fitting_pods_schedule() {
        assert!(fit(&pod("500m", "128Mi"), &json!({}), NODE, EMPTY).is_ok());
    }

    #[test]
    fn too_much_cpu_gives_the_real_message() {
        assert_eq!(
            fit(&pod("64", "1Mi"), &json!({}), NODE, EMPTY).unwrap_err(),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        );
        let both = fit(&pod("64", "1Ti"), &json!({}), NODE, EMPTY).unwrap_err();
        assert!(
            both.starts_with("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.")
        );
    }

    #[test]
    fn requests_sum_containers_and_take_the_largest_init_container() {
        let p = json!({"spec": {"containers": [
            {"resources": {"requests": {"cpu": "100m"}}}, {"resources": {"requests": {"cpu": "200m", "memory": "1Mi"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(requests(&p), (1000, 1 << 20));
    }
}

//! The root CA publisher: every namespace that is not terminating holds the ConfigMap
//! `kube-root-ca.crt` whose `ca.crt` is the certificate authority clients verify the API
//! server with (pods mount it with their ServiceAccount token). A deleted or changed one
//! is put back, as kube-controller-manager's `root-ca-cert-publisher` does.

use super::{Ctx, is_terminating};
use crate::util::str_at;
use serde_json::{Value, json};

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";

/// The annotation the real publisher writes.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub(crate) fn sync(ctx: &Ctx, ns: &str, ca_pem: &str) {
    let Some(namespace) = ctx.get(&ctx.namespaces, "", ns) else {
        return;
    };
    if is_terminating(&namespace) {
        return;
    }
    let data = json!({"ca.crt": ca_pem});
    match ctx.get(&ctx.configmaps, ns, NAME) {
        None => {
            let cm = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": NAME, "namespace": ns,
                    "annotations": {"kubernetes.io/description": DESCRIPTION}},
                "data": data,
            });
            ctx.create(&ctx.configmaps, ns, cm);
        }
        Some(cm) if cm["data"] != data && !is_terminating(&cm) => {
            ctx.mutate(&ctx.configmaps, &cm, |o| {
                o["data"] = data;
                o["metadata"]["annotations"]["kubernetes.io/description"] = json!(DESCRIPTION);
            });
        }
        Some(_) => {}
    }
}

/// Whether a ConfigMap is the published one.
pub(crate) fn is_root_ca(cm: &Value) -> bool {
    str_at(cm, "metadata.name") == NAME
}

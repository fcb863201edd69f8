//! The policy rules: what is legal Kubernetes but fails in production.
//!
//! Each rule is one function over the decoded objects; findings go to the [`Sink`],
//! which applies the environment's levels.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::decode::{Typed, group_of};
use crate::rules::*;
use crate::workload::{
    ContainerKind, Workload, map_selector_matches, same_namespace, selector_matches, show_map,
};
use crate::{CheckOptions, Object, Sink};

pub(crate) fn run(objects: &[Object<'_>], options: &CheckOptions, sink: &mut Sink<'_>) {
    let workloads = Workload::all(objects);
    duplicate_object(objects, sink);
    for w in &workloads {
        for (kind, container, path) in w.containers() {
            image_pinned(w, container, &path, sink);
            resources(w, container, &path, sink);
            probe_port(w, container, &path, sink);
            privileged(w, container, &path, sink);
            run_as_root(w, container, &path, sink);
            plaintext_credentials(w, container, &path, sink);
            if kind == ContainerKind::Main {
                readiness_probe(w, container, &path, sink);
            }
        }
        last_replica_down(w, sink);
        workload_selector(w, sink);
        missing_reference(w, objects, options, sink);
        if options.production {
            pdb_missing(w, objects, sink);
        }
    }
    for object in objects {
        if let Some(Typed::Service(service)) = &object.typed {
            service_selector(object, service, &workloads, sink);
        }
    }
}

fn duplicate_object(objects: &[Object<'_>], sink: &mut Sink<'_>) {
    // In file order, so that the report does not depend on the order of the input.
    let mut ordered: Vec<&Object<'_>> = objects.iter().collect();
    ordered.sort_by_key(|o| (&o.manifest.file, o.manifest.line));
    let mut seen: BTreeMap<(&str, &str, Option<&str>, &str), &Object<'_>> = BTreeMap::new();
    for object in ordered {
        let id = &object.id;
        if id.kind.is_empty() || id.name.is_empty() {
            continue;
        }
        let key = (
            group_of(&id.api_version),
            id.kind.as_str(),
            id.namespace.as_deref(),
            id.name.as_str(),
        );
        if let Some(first) = seen.get(&key) {
            sink.push(
                DUPLICATE_OBJECT,
                object,
                "metadata.name",
                format!(
                    "`{}/{}` is also rendered from `{}:{}`; one would silently overwrite the other",
                    id.kind,
                    id.name,
                    first.manifest.file.display(),
                    first.manifest.line
                ),
                "keep one definition, or give the objects different names",
            );
        } else {
            seen.insert(key, object);
        }
    }
}

/// What is wrong with how `image` is pinned, if anything.
pub(crate) fn image_problem(image: &str) -> Option<String> {
    if image.contains("@sha256:") || image.contains("@sha512:") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    Some(match last.split_once(':') {
        None => format!("image `{image}` has no tag and no digest, so it means `latest`"),
        Some((_, "latest")) => format!("image `{image}` uses the `latest` tag and no digest"),
        Some((_, tag)) => {
            format!("image `{image}` is pinned by tag `{tag}` only; a tag can be moved")
        }
    })
}

fn image_pinned(w: &Workload<'_>, c: &Container, path: &str, sink: &mut Sink<'_>) {
    let Some(image) = c.image.as_deref() else {
        return;
    };
    if let Some(message) = image_problem(image) {
        sink.push(
            IMAGE_PINNED,
            w.object,
            format!("{path}.image"),
            message,
            "pin the image by digest (`repo:tag@sha256:…`): write the digest, or declare the image under `images:` in `slipway.yaml` (its builds, `--image` and tags of its repository are pinned at deploy)",
        );
    }
}

fn readiness_probe(w: &Workload<'_>, c: &Container, path: &str, sink: &mut Sink<'_>) {
    if w.long_running && c.readiness_probe.is_none() {
        sink.push(
            READINESS_PROBE,
            w.object,
            format!("{path}.readinessProbe"),
            format!(
                "container `{}` has no readiness probe: it gets traffic and counts as ready as soon as it starts",
                c.name
            ),
            "add a `readinessProbe` that succeeds only when the container can serve",
        );
    }
}

fn resources(w: &Workload<'_>, c: &Container, path: &str, sink: &mut Sink<'_>) {
    let resources = c.resources.as_ref();
    let has =
        |map: Option<&BTreeMap<String, _>>, key: &str| map.is_some_and(|m| m.contains_key(key));
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    // A limit without a request sets the request to the limit.
    let mut missing = Vec::new();
    if !has(requests, "cpu") && !has(limits, "cpu") {
        missing.push("`requests.cpu`");
    }
    if !has(requests, "memory") && !has(limits, "memory") {
        missing.push("`requests.memory`");
    }
    if !has(limits, "memory") {
        missing.push("`limits.memory`");
    }
    if missing.is_empty() {
        return;
    }
    sink.push(
        RESOURCES,
        w.object,
        format!("{path}.resources"),
        format!("container `{}` has no {}", c.name, missing.join(", no ")),
        "set `resources.requests.cpu`, `resources.requests.memory` and `resources.limits.memory`",
    );
}

/// `maxSurge`/`maxUnavailable` as Kubernetes resolves them against `replicas`:
/// percentages round up for surge and down for unavailable.
fn scaled(value: Option<&IntOrString>, replicas: i32, round_up: bool) -> Option<i32> {
    match value {
        None => scaled(
            Some(&IntOrString::String("25%".to_owned())),
            replicas,
            round_up,
        ),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(s)) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let product = percent * i64::from(replicas);
            let value = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(value).ok()
        }
    }
}

/// How many pods a Deployment's rolling update may take down at once, after
/// Kubernetes' rounding (the fencepost rule: when both resolve to zero, one pod may be
/// unavailable). `None` when the values are not valid.
pub(crate) fn resolved_max_unavailable(
    replicas: i32,
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
) -> Option<i32> {
    let surge = scaled(max_surge, replicas, true)?;
    let unavailable = scaled(max_unavailable, replicas, false)?;
    Some(if surge == 0 && unavailable == 0 {
        1
    } else {
        unavailable
    })
}

fn last_replica_down(w: &Workload<'_>, sink: &mut Sink<'_>) {
    let Some(Typed::Deployment(d)) = &w.object.typed else {
        return;
    };
    let replicas = d.spec.replicas.unwrap_or(1);
    if replicas < 1 {
        return;
    }
    let strategy = d.spec.strategy.as_ref();
    let fix = "set `spec.strategy.rollingUpdate` to `maxUnavailable: 0, maxSurge: 1`: the new pod becomes ready before the old one stops";
    if strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate") {
        sink.push(
            LAST_REPLICA_DOWN,
            w.object,
            "spec.strategy.type",
            "strategy `Recreate` stops every pod before the new ones start: downtime on every deploy".to_owned(),
            "use `type: RollingUpdate` with `maxUnavailable: 0, maxSurge: 1`, or switch the rule off for this app if it cannot run two versions at once",
        );
        return;
    }
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    let surge = rolling.and_then(|r| r.max_surge.as_ref());
    let unavailable = rolling.and_then(|r| r.max_unavailable.as_ref());
    let Some(resolved) = resolved_max_unavailable(replicas, surge, unavailable) else {
        return;
    };
    if resolved < replicas {
        return;
    }
    let show = |v: Option<&IntOrString>| match v {
        None => "25%".to_owned(),
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
    };
    let field = if unavailable.is_some() {
        "spec.strategy.rollingUpdate.maxUnavailable"
    } else {
        "spec.strategy.rollingUpdate"
    };
    let pods = if replicas == 1 {
        "the only pod"
    } else {
        "every pod"
    };
    sink.push(
        LAST_REPLICA_DOWN,
        w.object,
        field,
        format!(
            "with `{replicas}` replica{}, `maxUnavailable: {}` and `maxSurge: {}`, a rollout may stop {pods} before its replacement is ready: downtime on every deploy",
            if replicas == 1 { "" } else { "s" },
            show(unavailable),
            show(surge),
        ),
        fix,
    );
}

fn workload_selector(w: &Workload<'_>, sink: &mut Sink<'_>) {
    let Some(selector) = w.selector else {
        return;
    };
    let empty = selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty);
    let message = if empty {
        "the selector is empty; Kubernetes rejects it".to_owned()
    } else if !selector_matches(selector, &w.labels) {
        format!(
            "the selector does not match the pod template's labels (`{}`); Kubernetes rejects the object",
            show_map(&w.labels)
        )
    } else {
        return;
    };
    sink.push(
        WORKLOAD_SELECTOR,
        w.object,
        "spec.selector",
        message,
        "make `spec.selector.matchLabels` a subset of `spec.template.metadata.labels`",
    );
}

fn service_selector(
    object: &Object<'_>,
    service: &k8s_openapi::api::core::v1::Service,
    workloads: &[Workload<'_>],
    sink: &mut Sink<'_>,
) {
    let Some(spec) = &service.spec else {
        return;
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return;
    }
    let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
        return;
    };
    let selected = workloads.iter().any(|w| {
        same_namespace(&w.object.id.namespace, &object.id.namespace)
            && map_selector_matches(selector, &w.labels)
    });
    if !selected {
        sink.push(
            SERVICE_SELECTOR,
            object,
            "spec.selector",
            format!(
                "selector `{}` matches no rendered pod template: the Service would have no endpoints",
                show_map(selector)
            ),
            "make `spec.selector` match the pod labels (`spec.template.metadata.labels`) of the workload it fronts",
        );
    }
}

/// A reference from a pod template to another object.
struct Reference {
    kind: &'static str,
    name: String,
    field: String,
    optional: bool,
}

fn references(w: &Workload<'_>) -> Vec<Reference> {
    let mut refs = Vec::new();
    let mut add = |kind, name: &str, field: String, optional: Option<bool>| {
        refs.push(Reference {
            kind,
            name: name.to_owned(),
            field,
            optional: optional == Some(true),
        })
    };
    let spec = w.spec;
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .filter(|n| !n.is_empty() && *n != "default")
    {
        add("ServiceAccount", sa, w.field("serviceAccountName"), None);
    }
    for (i, s) in spec.image_pull_secrets.iter().flatten().enumerate() {
        add(
            "Secret",
            &s.name,
            w.field(&format!("imagePullSecrets[{i}]")),
            None,
        );
    }
    for v in spec.volumes.iter().flatten() {
        let at = |what: &str| w.field(&format!("volumes[{}].{what}", v.name));
        if let Some(cm) = &v.config_map {
            add("ConfigMap", &cm.name, at("configMap.name"), cm.optional);
        }
        if let Some(secret) = &v.secret
            && let Some(name) = &secret.secret_name
        {
            add("Secret", name, at("secret.secretName"), secret.optional);
        }
        if let Some(pvc) = &v.persistent_volume_claim {
            add(
                "PersistentVolumeClaim",
                &pvc.claim_name,
                at("persistentVolumeClaim.claimName"),
                None,
            );
        }
        if let Some(projected) = &v.projected {
            for (i, source) in projected.sources.iter().flatten().enumerate() {
                if let Some(cm) = &source.config_map {
                    add(
                        "ConfigMap",
                        &cm.name,
                        at(&format!("projected.sources[{i}].configMap.name")),
                        cm.optional,
                    );
                }
                if let Some(s) = &source.secret {
                    add(
                        "Secret",
                        &s.name,
                        at(&format!("projected.sources[{i}].secret.name")),
                        s.optional,
                    );
                }
            }
        }
    }
    for (_, c, path) in w.containers() {
        for e in c.env.iter().flatten() {
            let Some(from) = &e.value_from else { continue };
            if let Some(r) = &from.config_map_key_ref {
                add(
                    "ConfigMap",
                    &r.name,
                    format!("{path}.env[{}].valueFrom.configMapKeyRef.name", e.name),
                    r.optional,
                );
            }
            if let Some(r) = &from.secret_key_ref {
                add(
                    "Secret",
                    &r.name,
                    format!("{path}.env[{}].valueFrom.secretKeyRef.name", e.name),
                    r.optional,
                );
            }
        }
        for (i, e) in c.env_from.iter().flatten().enumerate() {
            if let Some(r) = &e.config_map_ref {
                add(
                    "ConfigMap",
                    &r.name,
                    format!("{path}.envFrom[{i}].configMapRef.name"),
                    r.optional,
                );
            }
            if let Some(r) = &e.secret_ref {
                add(
                    "Secret",
                    &r.name,
                    format!("{path}.envFrom[{i}].secretRef.name"),
                    r.optional,
                );
            }
        }
    }
    refs
}

fn missing_reference(
    w: &Workload<'_>,
    objects: &[Object<'_>],
    options: &CheckOptions,
    sink: &mut Sink<'_>,
) {
    for r in references(w) {
        if r.optional || r.name.is_empty() {
            continue;
        }
        let rendered = objects.iter().any(|o| {
            o.id.kind == r.kind
                && o.id.name == r.name
                && group_of(&o.id.api_version).is_empty()
                && same_namespace(&o.id.namespace, &w.object.id.namespace)
        });
        let expected = options
            .expected_to_exist
            .contains(&(r.kind.to_owned(), r.name.clone()));
        if rendered || expected {
            continue;
        }
        sink.push(
            MISSING_REFERENCE,
            w.object,
            r.field,
            format!(
                "{} `{}` is referenced but neither rendered nor expected to exist: the pods would not start",
                r.kind, r.name
            ),
            format!(
                "render the {}, generate it from `config`/`secrets` in `slipway.yaml`, declare it as existing on the cluster, or mark the reference `optional: true`",
                r.kind
            ),
        );
    }
}

fn probe_port(w: &Workload<'_>, c: &Container, path: &str, sink: &mut Sink<'_>) {
    let probes: [(&str, &str, Option<&Probe>); 3] = [
        ("readinessProbe", "readiness", c.readiness_probe.as_ref()),
        ("livenessProbe", "liveness", c.liveness_probe.as_ref()),
        ("startupProbe", "startup", c.startup_probe.as_ref()),
    ];
    let ports = c.ports.as_deref().unwrap_or_default();
    let declared = || {
        let list: Vec<String> = ports
            .iter()
            .map(|p| match &p.name {
                Some(name) => format!("`{name}`/`{}`", p.container_port),
                None => format!("`{}`", p.container_port),
            })
            .collect();
        if list.is_empty() {
            "none declared".to_owned()
        } else {
            list.join(", ")
        }
    };
    for (key, what, probe) in probes {
        let Some(probe) = probe else { continue };
        let mut targets: Vec<(&str, IntOrString)> = Vec::new();
        if let Some(h) = &probe.http_get {
            targets.push(("httpGet.port", h.port.clone()));
        }
        if let Some(t) = &probe.tcp_socket {
            targets.push(("tcpSocket.port", t.port.clone()));
        }
        if let Some(g) = &probe.grpc {
            targets.push(("grpc.port", IntOrString::Int(g.port)));
        }
        for (field, port) in targets {
            // A name the container does not declare never resolves: the probe fails for
            // sure. A number works whether declared or not (a separate health port is
            // common), so an undeclared one is only worth a look.
            let (found, shown, rule) = match &port {
                IntOrString::Int(n) => (
                    ports.iter().any(|p| p.container_port == *n),
                    n.to_string(),
                    PROBE_PORT_NUMBER,
                ),
                IntOrString::String(name) => (
                    ports
                        .iter()
                        .any(|p| p.name.as_deref() == Some(name.as_str())),
                    name.clone(),
                    PROBE_PORT,
                ),
            };
            if !found {
                sink.push(
                    rule,
                    w.object,
                    format!("{path}.{key}.{field}"),
                    format!(
                        "{what} probe port `{shown}` is not among the ports of container `{}` ({})",
                        c.name,
                        declared()
                    ),
                    "point the probe at a port the container declares under `ports`, by name or number",
                );
            }
        }
    }
}

fn privileged(w: &Workload<'_>, c: &Container, path: &str, sink: &mut Sink<'_>) {
    let Some(sc) = &c.security_context else {
        return;
    };
    let sc_path = format!("{path}.securityContext");
    if sc.privileged == Some(true) {
        sink.push(
            PRIVILEGED,
            w.object,
            format!("{sc_path}.privileged"),
            format!(
                "container `{}` runs privileged: it has full access to the node",
                c.name
            ),
            "remove `privileged: true`; add only the capabilities the container needs",
        );
    }
    if sc.allow_privilege_escalation == Some(true) {
        sink.push(
            PRIVILEGED,
            w.object,
            format!("{sc_path}.allowPrivilegeEscalation"),
            format!(
                "container `{}` may gain more privileges than it starts with",
                c.name
            ),
            "set `allowPrivilegeEscalation: false`",
        );
    }
    for cap in sc
        .capabilities
        .iter()
        .flat_map(|c| c.add.iter().flatten())
        .filter(|cap| matches!(cap.as_str(), "ALL" | "SYS_ADMIN" | "CAP_SYS_ADMIN"))
    {
        sink.push(
            PRIVILEGED,
            w.object,
            format!("{sc_path}.capabilities.add"),
            format!(
                "container `{}` adds capability `{cap}`, which is as good as privileged",
                c.name
            ),
            "add only the narrow capabilities the container needs, e.g. `NET_BIND_SERVICE`",
        );
    }
}

fn run_as_root(w: &Workload<'_>, c: &Container, path: &str, sink: &mut Sink<'_>) {
    let pod = w.spec.security_context.as_ref();
    let own = c.security_context.as_ref();
    if w.spec.os.as_ref().is_some_and(|os| os.name == "windows") {
        return;
    }
    let user = own
        .and_then(|s| s.run_as_user)
        .or(pod.and_then(|s| s.run_as_user));
    let non_root = own
        .and_then(|s| s.run_as_non_root)
        .or(pod.and_then(|s| s.run_as_non_root));
    let (field, message) = match user {
        Some(0) => (
            if own.and_then(|s| s.run_as_user).is_some() {
                format!("{path}.securityContext.runAsUser")
            } else {
                w.field("securityContext.runAsUser")
            },
            format!("container `{}` runs as root (`runAsUser: 0`)", c.name),
        ),
        Some(_) => return,
        None if non_root == Some(true) => return,
        None => (
            format!("{path}.securityContext"),
            format!(
                "container `{}` may run as root: neither it nor the pod sets `runAsNonRoot: true`",
                c.name
            ),
        ),
    };
    sink.push(
        RUN_AS_ROOT,
        w.object,
        field,
        message,
        "set `securityContext.runAsNonRoot: true` (and a non-zero `runAsUser` if the image's user is root)",
    );
}

/// Words of an environment variable name, upper-cased: `dbPassword` and `DB_PASSWORD`
/// both give `DB`, `PASSWORD`.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        current.push(ch.to_ascii_uppercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether an environment variable named `name` looks like it holds a credential.
pub(crate) fn is_credential_name(name: &str) -> bool {
    const SINGLE: &[&str] = &[
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "SECRET",
        "TOKEN",
        "CREDENTIAL",
        "CREDENTIALS",
        "APIKEY",
        "PRIVATEKEY",
    ];
    const PAIRS: &[(&str, &str)] = &[
        ("API", "KEY"),
        ("PRIVATE", "KEY"),
        ("ACCESS", "KEY"),
        ("SIGNING", "KEY"),
        ("ENCRYPTION", "KEY"),
    ];
    // Names about a credential rather than of one: `TOKEN_URL`, `PASSWORD_FILE`.
    const ABOUT: &[&str] = &[
        "FILE",
        "PATH",
        "DIR",
        "URL",
        "URI",
        "ENDPOINT",
        "HOST",
        "PORT",
        "TTL",
        "TIMEOUT",
        "EXPIRY",
        "EXPIRATION",
        "LENGTH",
        "NAME",
        "REF",
        "HEADER",
        "TYPE",
        "ENABLED",
        "REQUIRED",
        "SECONDS",
    ];
    let words = words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if ABOUT.contains(&last.as_str()) {
        return false;
    }
    words.iter().any(|w| SINGLE.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
}

fn plaintext_credentials(w: &Workload<'_>, c: &Container, path: &str, sink: &mut Sink<'_>) {
    for e in c.env.iter().flatten() {
        let Some(value) = e.value.as_deref() else {
            continue;
        };
        let reference_only =
            value.starts_with("$(") && value.ends_with(')') && value.matches("$(").count() == 1;
        if value.is_empty() || reference_only || !is_credential_name(&e.name) {
            continue;
        }
        // The value itself never appears in a finding.
        sink.push(
            PLAINTEXT_CREDENTIALS,
            w.object,
            format!("{path}.env[{}].value", e.name),
            format!(
                "env `{}` of container `{}` holds a credential in plain text in the manifest",
                e.name, c.name
            ),
            "move the value into a Secret (`secrets` in `slipway.yaml`) and use `valueFrom.secretKeyRef`",
        );
    }
}

fn pdb_missing(w: &Workload<'_>, objects: &[Object<'_>], sink: &mut Sink<'_>) {
    if !matches!(
        w.object.typed,
        Some(Typed::Deployment(_) | Typed::StatefulSet(_))
    ) {
        return;
    }
    let replicas = w.replicas.unwrap_or(1);
    if replicas <= 1 {
        return;
    }
    let covered = objects.iter().any(|o| {
        let Some(Typed::PodDisruptionBudget(pdb)) = &o.typed else {
            return false;
        };
        same_namespace(&o.id.namespace, &w.object.id.namespace)
            && pdb
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_some_and(|s| selector_matches(s, &w.labels))
    });
    if !covered {
        sink.push(
            PDB_MISSING,
            w.object,
            "spec.replicas",
            format!(
                "`{replicas}` replicas and no PodDisruptionBudget selects their pods: a node drain may stop all of them at once"
            ),
            "add a PodDisruptionBudget whose `selector` matches the pod labels, e.g. with `maxUnavailable: 1`",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i32) -> IntOrString {
        IntOrString::Int(n)
    }
    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.to_owned())
    }

    #[test]
    fn defaults_on_one_replica_keep_it_up() {
        assert_eq!(resolved_max_unavailable(1, None, None), Some(0));
    }

    #[test]
    fn percentages_round_down_for_unavailable_and_up_for_surge() {
        assert_eq!(
            resolved_max_unavailable(3, Some(&pct("50%")), Some(&pct("50%"))),
            Some(1)
        );
        assert_eq!(resolved_max_unavailable(4, None, None), Some(1));
        assert_eq!(
            resolved_max_unavailable(1, Some(&pct("1%")), Some(&pct("99%"))),
            Some(0)
        );
    }

    #[test]
    fn zero_surge_and_zero_unavailable_let_one_pod_go() {
        assert_eq!(resolved_max_unavailable(1, Some(&int(0)), None), Some(1));
        assert_eq!(
            resolved_max_unavailable(1, Some(&pct("0%")), Some(&pct("50%"))),
            Some(1)
        );
    }

    #[test]
    fn invalid_values_resolve_to_nothing() {
        assert_eq!(resolved_max_unavailable(1, Some(&pct("one")), None), None);
    }

    #[test]
    fn credential_names_are_recognised_as_words() {
        for name in [
            "DB_PASSWORD",
            "dbPassword",
            "API_KEY",
            "apiKey",
            "GITHUB_TOKEN",
            "client-secret",
            "AWS_SECRET_ACCESS_KEY",
            "PRIVATE_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        ] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in [
            "PASSWORD_FILE",
            "TOKEN_URL",
            "SECRET_NAME",
            "TOKENIZER",
            "KEYBOARD",
            "LOG_LEVEL",
            "PORT",
            "MONKEY",
        ] {
            assert!(!is_credential_name(name), "{name}");
        }
    }

    #[test]
    fn image_pinning_problems_are_told_apart() {
        assert_eq!(
            image_problem(&format!("app:1@sha256:{}", "0".repeat(64))),
            None
        );
        assert!(
            image_problem("localhost:5000/app")
                .unwrap()
                .contains("no tag")
        );
        assert!(image_problem("app:latest").unwrap().contains("`latest`"));
        assert!(image_problem("app:1.2").unwrap().contains("tag `1.2` only"));
    }
}

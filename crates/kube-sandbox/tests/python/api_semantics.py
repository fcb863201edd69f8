"""The official Kubernetes Python client against the sandbox: the API semantics it relies on.

Run by `tests/python_client.rs` with the sandbox's kubeconfig as the first argument. Every
check raises on a divergence; the last line printed is `N passed, 0 failed`.
"""

import ast
import json
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
batch = client.BatchV1Api()
NS = "default"
passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    passed += 1
    print(f"ok: {name}")


def refused(call, code):
    try:
        call()
    except ApiException as e:
        return e.status == code, f"{e.status} {e.body}"
    return False, "accepted"


def refusal(call):
    """The status code and message of a refused call."""
    try:
        call()
    except ApiException as e:
        return e.status, json.loads(e.body)["message"]
    return None, "accepted"


labels = {"app": "py"}
deployment = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="py"),
    spec=client.V1DeploymentSpec(
        selector=client.V1LabelSelector(match_labels=labels),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels=labels),
            spec=client.V1PodSpec(
                containers=[client.V1Container(name="py", image="registry.example.com/py:1")]
            ),
        ),
    ),
)
created = apps.create_namespaced_deployment(NS, deployment)
check("a created Deployment has a status", created.status is not None, created)
check("its defaults are set at admission", created.spec.strategy.type == "RollingUpdate")

changed = apps.read_namespaced_deployment("py", NS)
changed.spec.selector.match_labels = {"app": "other"}
changed.spec.template.metadata.labels = {"app": "other"}
# Unconditional (the controller may have written the status since the read).
changed.metadata.resource_version = None
ok, detail = refused(lambda: apps.replace_namespaced_deployment("py", NS, changed), 422)
check("a changed selector is refused with 422", ok, detail)

service = client.V1Service(
    metadata=client.V1ObjectMeta(name="py"),
    spec=client.V1ServiceSpec(
        type="NodePort",
        selector=labels,
        ports=[client.V1ServicePort(port=80)],
    ),
)
svc = core.create_namespaced_service(NS, service)
ip = svc.spec.cluster_ip
check("a NodePort Service gets a node port", 30000 <= svc.spec.ports[0].node_port <= 32767)
service.metadata.resource_version = svc.metadata.resource_version
replaced = core.replace_namespaced_service("py", NS, service)
check("a replace without clusterIP keeps it", replaced.spec.cluster_ip == ip, replaced.spec)

bare = client.V1Service(metadata=client.V1ObjectMeta(name="bare"), spec=client.V1ServiceSpec(selector=labels))
ok, detail = refused(lambda: core.create_namespaced_service(NS, bare), 422)
check("a Service without ports is refused", ok, detail)

frozen = core.create_namespaced_config_map(
    NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="frozen"), immutable=True, data={"a": "1"})
)
frozen.data = {"a": "2"}
ok, detail = refused(lambda: core.replace_namespaced_config_map("frozen", NS, frozen), 422)
check("an immutable ConfigMap keeps its data", ok, detail)

job = batch.create_namespaced_job(
    NS,
    client.V1Job(
        metadata=client.V1ObjectMeta(name="py-job"),
        spec=client.V1JobSpec(
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="m", image="registry.example.com/m:1")],
                )
            )
        ),
    ),
)
uid = job.metadata.uid
check(
    "a Job's selector is generated at admission",
    job.spec.selector is not None
    and job.spec.selector.match_labels.get("batch.kubernetes.io/controller-uid") == uid,
    job.spec.selector,
)
check("a Job's completion mode is defaulted", job.spec.completion_mode == "NonIndexed")
check("a created Job has a status", job.status is not None)

# Lists: a paged list is one snapshot, whatever changes between its pages.
for i in range(6):
    core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"page-{i}", labels={"paged": "py"}), data={"v": "1"})
    )
first = core.list_namespaced_config_map(NS, label_selector="paged", limit=2)
snapshot = first.metadata.resource_version
core.delete_namespaced_config_map("page-4", NS)
core.patch_namespaced_config_map("page-3", NS, {"data": {"v": "2"}})
core.create_namespaced_config_map(
    NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="page-9", labels={"paged": "py"}), data={"v": "1"})
)
items, token, versions = list(first.items), first.metadata._continue, {snapshot}
while token:
    page = core.list_namespaced_config_map(NS, label_selector="paged", limit=2, _continue=token)
    items += page.items
    token = page.metadata._continue
    versions.add(page.metadata.resource_version)
check(
    "continue pages show the objects as they were at the first page",
    [(c.metadata.name, c.data["v"]) for c in items] == [(f"page-{i}", "1") for i in range(6)],
    [(c.metadata.name, c.data) for c in items],
)
check("every page has the first page's resourceVersion", versions == {snapshot}, versions)

exact = core.list_namespaced_config_map(NS, label_selector="paged", resource_version=snapshot, resource_version_match="Exact")
check(
    "resourceVersionMatch=Exact lists the objects as they were",
    [c.metadata.name for c in exact.items] == [f"page-{i}" for i in range(6)] and exact.metadata.resource_version == snapshot,
    [c.metadata.name for c in exact.items],
)
newer = core.list_namespaced_config_map(
    NS, label_selector="paged", resource_version=snapshot, resource_version_match="NotOlderThan"
)
check(
    "resourceVersionMatch=NotOlderThan lists them as they are",
    [c.metadata.name for c in newer.items] == ["page-0", "page-1", "page-2", "page-3", "page-5", "page-9"]
    and int(newer.metadata.resource_version) > int(snapshot),
    [c.metadata.name for c in newer.items],
)
ok, detail = refused(lambda: core.list_namespaced_config_map(NS, resource_version_match="Exact"), 422)
check("resourceVersionMatch without resourceVersion is refused", ok and "resourceVersionMatch is forbidden unless resourceVersion is provided" in detail, detail)
ok, detail = refused(lambda: core.list_namespaced_config_map(NS, resource_version="0", resource_version_match="Exact"), 422)
check("resourceVersionMatch=Exact at 0 is refused", ok, detail)
got = refusal(lambda: core.list_namespaced_config_map(NS, resource_version="1", resource_version_match="Newest"))
check(
    "an unknown resourceVersionMatch is refused",
    got
    == (
        422,
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": '
        'supported values: "Exact", "NotOlderThan", ""',
    ),
    got,
)

# Field selectors: each kind accepts its own labels, and refuses others with the real 400.
got = refusal(lambda: core.list_namespaced_config_map(NS, field_selector="data.v=1"))
check(
    "a ConfigMap cannot be selected by data",
    got == (400, '"data.v" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    got,
)
got = refusal(lambda: core.list_namespaced_pod(NS, field_selector="spec.containers=x"))
check("a pod cannot be selected by its containers", got == (400, "field label not supported: spec.containers"), got)
phase = core.list_namespaced_pod(NS, field_selector="status.phase!=Running,spec.restartPolicy=Always")
check("a pod can be selected by phase and restart policy", phase.items is not None)
secrets = core.list_namespaced_secret(NS, field_selector="type=kubernetes.io/service-account-token")
check("a Secret can be selected by type", secrets.items == [], secrets.items)

# autoscaling/v1 beside v2: one object, two shapes.
scaler_v1 = client.AutoscalingV1Api()
scaler_v2 = client.AutoscalingV2Api()
scaler_v1.create_namespaced_horizontal_pod_autoscaler(
    NS,
    client.V1HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="py"),
        spec=client.V1HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V1CrossVersionObjectReference(api_version="apps/v1", kind="Deployment", name="py"),
            min_replicas=1,
            max_replicas=3,
            target_cpu_utilization_percentage=60,
        ),
    ),
)
as_v2 = scaler_v2.read_namespaced_horizontal_pod_autoscaler("py", NS)
check(
    "a v1 autoscaler reads as v2 with its CPU target as a metric",
    as_v2.spec.metrics[0].resource.target.average_utilization == 60,
    as_v2.spec,
)
as_v1 = scaler_v1.read_namespaced_horizontal_pod_autoscaler("py", NS)
check("and back as v1", as_v1.spec.target_cpu_utilization_percentage == 60, as_v1.spec)

# A custom resource against its CRD's structural schema.
client.ApiextensionsV1Api().create_custom_resource_definition(
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "replicas": {"type": "integer", "default": 1},
                                        "mode": {"type": "string", "enum": ["fast", "safe"]},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
)
custom = client.CustomObjectsApi()
gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
got = refusal(
    lambda: custom.create_namespaced_custom_object(
        "example.com", "v1", NS, "gadgets", dict(gadget, spec={"replicas": "two"})
    )
)
check(
    "a custom resource of the wrong type is refused with the real 422",
    got
    == (
        422,
        'Gadget.example.com "g" is invalid: spec.replicas: Invalid value: "string": '
        'spec.replicas in body must be of type integer: "string"',
    ),
    got,
)
made = custom.create_namespaced_custom_object(
    "example.com", "v1", NS, "gadgets", dict(gadget, spec={"mode": "fast", "colour": "red"})
)
check(
    "unknown fields are pruned and defaults filled in",
    made["spec"] == {"mode": "fast", "replicas": 1},
    made["spec"],
)

# The service proxy: the generated connect_* methods reach a ready pod of the Service.
core.create_namespaced_service(
    NS,
    client.V1Service(
        metadata=client.V1ObjectMeta(name="py-web"),
        spec=client.V1ServiceSpec(
            selector=labels,
            ports=[client.V1ServicePort(name="http", port=80, target_port=8080)],
        ),
    ),
)
deadline = time.time() + 30
while time.time() < deadline:
    subsets = core.read_namespaced_endpoints("py-web", NS).subsets or []
    if any(s.addresses for s in subsets):
        break
    time.sleep(0.1)
raw = core.connect_get_namespaced_service_proxy_with_path("py-web:80", NS, "healthz")
# The client hands back the body as a str: JSON, or the repr of what it decoded.
try:
    answer = json.loads(raw)
except ValueError:
    answer = ast.literal_eval(raw)
check(
    "the service proxy answers from a ready pod of the Service",
    answer["path"] == "/healthz"
    and answer["status"] == 200
    and answer["pod"].startswith("py-"),
    answer,
)
got = refusal(lambda: core.connect_get_namespaced_service_proxy("nope:80", NS))
check(
    "the service proxy of a missing Service is the real 404",
    got == (404, 'services "nope" not found'),
    got,
)

print(f"{passed} passed, 0 failed")

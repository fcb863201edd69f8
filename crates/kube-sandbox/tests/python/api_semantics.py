"""The official Kubernetes Python client against the sandbox: the API semantics it relies on.

Run by `tests/python_client.rs` with the sandbox's kubeconfig as the first argument. Every
check raises on a divergence; the last line printed is `N passed, 0 failed`.
"""

import sys

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

print(f"{passed} passed, 0 failed")

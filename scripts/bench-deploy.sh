#!/usr/bin/env bash
# Times the rollout of 50 Deployments to one sandbox cluster (served by
# `slipway sandbox serve`): `slipway deploy` against `kubectl apply -f` followed by
# `kubectl rollout status` for each Deployment, in one hyperfine run. Every run rolls all
# 50 to a new image whose pods become ready 5 s after they start, so both sides wait for
# the same thing and the difference is each tool's own overhead.
#
# Then one more `slipway deploy -o json` is watched from outside: the time from the last
# Deployment becoming ready (seen by a `kubectl get --watch` started beforehand) to
# slipway's exit, and from slipway's own last "ready" event to its exit.
#
# Needs: cargo, kubectl, python3, hyperfine (installed with apt-get when missing).
#
#   scripts/bench-deploy.sh [RUNS]        (default 5 runs of each, after one warm-up)
#   SLIPWAY_BIN=path/to/slipway scripts/bench-deploy.sh   (time that build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
count=50
ready_after=5s

source scripts/bench-common.sh
bench_tools
# SLIPWAY_BIN=path times that binary instead of building one.
bench_slipway

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench-deploy.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT

# --- one sandbox for both tools, real time (speed 1) ------------------------------------
bench_sandbox "$work"

# --- the manifests: 50 Deployments of one image -----------------------------------------
# `deployments IMAGE` prints them; slipway pins `app` itself, kubectl gets the reference.
deployments() {
  for i in $(seq -w 1 "$count"); do
    cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-$i
spec:
  replicas: 1
  selector:
    matchLabels: { app: app-$i }
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 }
  template:
    metadata:
      labels: { app: app-$i }
      annotations: { dev.slipway.sandbox/behavior: "slow-start=$ready_after" }
    spec:
      terminationGracePeriodSeconds: 1
      securityContext: { runAsNonRoot: true, runAsUser: 65532 }
      containers:
        - name: app
          image: $1
          resources:
            requests: { cpu: 10m, memory: 16Mi }
            limits: { memory: 32Mi }
          ports:
            - { name: http, containerPort: 8080 }
          readinessProbe:
            tcpSocket: { port: http }
            periodSeconds: 1
YAML
  done
}

project="$work/project"
mkdir -p "$project/k8s"
deployments app >"$project/k8s/deployments.yaml"
cat >"$project/slipway.yaml" <<YAML
app: bench
images:
  app:
    repository: registry.example.com/bench/app
    files:
      copy: [{ src: slipway.yaml, dest: /srv/slipway.yaml }]
manifests: k8s
environments:
  dev:
    context: sandbox
    kubeconfig: $kubeconfig
    namespace: bench-slipway
    timeout: 5m
    rules: { pdb-missing: off }
YAML
kubectl create namespace bench-kubectl >/dev/null

# Each run deploys a new image: a counter per tool, bumped by hyperfine's --prepare.
echo 0 >"$work/slipway.n"
echo 0 >"$work/kubectl.n"
reference() { printf 'registry.example.com/bench/app:%s@sha256:%064x' "$1" "$1"; }
cat >"$work/slipway-deploy.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
n=\$(cat "$work/slipway.n")
ref=\$(printf 'registry.example.com/bench/app:%s@sha256:%064x' "\$n" "\$n")
cd "$project"
exec "$slipway" deploy dev -q --settle 0s --image "app=\$ref"
SH
cat >"$work/kubectl-deploy.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
kubectl apply -n bench-kubectl -f "$work/kubectl.yaml" >/dev/null
for i in \$(seq -w 1 $count); do
  kubectl rollout status -n bench-kubectl "deployment/app-\$i" --timeout=5m >/dev/null
done
SH
cat >"$work/kubectl-prepare.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
n=\$(( \$(cat "$work/kubectl.n") + 1 ))
echo "\$n" >"$work/kubectl.n"
source "$work/deployments.sh"
deployments "\$(printf 'registry.example.com/bench/app:%s@sha256:%064x' "\$n" "\$n")" >"$work/kubectl.yaml"
SH
# The node takes 110 pods: after each side's runs its Deployments go, so that the other
# side starts on an empty node.
cat >"$work/cleanup.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
for ns in bench-slipway bench-kubectl; do
  kubectl delete deployments --all -n "\$ns" --wait=true >/dev/null
  for _ in \$(seq 600); do
    [ -z "\$(kubectl get pods -n "\$ns" -o name)" ] && break
    sleep 0.2
  done
done
SH
{ declare -p count ready_after; declare -f deployments; } >"$work/deployments.sh"
chmod +x "$work"/*.sh

echo "timing $count Deployments, ready $ready_after after start: $runs runs of each" >&2
hyperfine --warmup 1 --runs "$runs" --export-json "$work/bench.json" \
  --cleanup "$work/cleanup.sh" \
  --prepare "echo \$(( \$(cat $work/slipway.n) + 1 )) >$work/slipway.n" \
  --command-name "slipway deploy ($count Deployments)" "$work/slipway-deploy.sh" \
  --prepare "$work/kubectl-prepare.sh" \
  --command-name "kubectl apply + rollout status x$count" "$work/kubectl-deploy.sh"

python3 - "$work/bench.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for r in results:
    print(f"{r['command']}: median {r['median']:.2f} s (min {r['min']:.2f}, max {r['max']:.2f}, {len(r['times'])} runs)")
print(f"ratio kubectl / slipway (medians): {results[1]['median'] / results[0]['median']:.2f}")
PY

# --- after the last Deployment is ready: how long until slipway returns ----------------
# One deploy puts the 50 Deployments back; the observed one then rolls them all, as the
# timed runs did.
n=$(( $(cat "$work/slipway.n") + 1 ))
(cd "$project" && "$slipway" deploy dev -q --settle 0s --image "app=$(reference "$n")")
n=$(( n + 1 ))
python3 - "$slipway" "$project" "$(reference "$n")" "$count" <<'PY'
import json, os, re, subprocess, sys, tempfile, threading, time

slipway, project, ref, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

# An outside observer: every change of the Deployments, stamped as it arrives. A
# Deployment has rolled out when, as `kubectl rollout status` also demands, the
# controller saw its generation and all of its replicas are updated and available, with
# no old replica left (`status.replicas` counts the old pod until it is gone; before
# that, the old pod alone makes `readyReplicas` and `availableReplicas` read 1).
fmt = ('{.type} {.object.metadata.name} {.object.metadata.generation} '
       '{.object.status.observedGeneration} {.object.status.replicas} '
       '{.object.status.updatedReplicas} '
       '{.object.status.readyReplicas} {.object.status.availableReplicas} '
       '{.object.spec.template.spec.containers[0].image}{"\\n"}')
watch = subprocess.Popen(
    ["kubectl", "get", "deployments", "-n", "bench-slipway", "--watch", "--output-watch-events",
     "-o", "jsonpath=" + fmt],
    stdout=subprocess.PIPE, text=True)
ready_at = {}
def observe():
    for line in watch.stdout:
        now = time.monotonic()
        parts = line.split()
        if len(parts) != 9:
            continue
        _, name, gen, observed, replicas, updated, ready, available, image = parts
        if image == ref and gen == observed and replicas == updated == ready == available == "1":
            ready_at.setdefault(name, now)
threading.Thread(target=observe, daemon=True).start()
time.sleep(2)  # the watch's initial list is in

start = time.monotonic()
# Each step of the deploy logs its time (`slipway::timing`) on standard error.
env = dict(os.environ, SLIPWAY_LOG="slipway::timing=debug", NO_COLOR="1")
log = tempfile.TemporaryFile(mode="w+")
proc = subprocess.Popen([slipway, "deploy", "dev", "-o", "json", "--settle", "0s", "--image", f"app={ref}"],
                        cwd=project, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
seen_ready = {}
for line in proc.stdout:
    now = time.monotonic()
    event = json.loads(line)
    if event.get("event") == "progress" and event.get("state") == "Current":
        seen_ready[event["workload"]] = now
code = proc.wait()
end = time.monotonic()
time.sleep(1)
watch.terminate()
if code != 0 or len(ready_at) != count:
    sys.exit(f"error: deploy exited {code}; {len(ready_at)} of {count} Deployments seen ready")
last_ready = max(ready_at.values())
print(f"slipway deploy -o json: {end - start:.2f} s in all; "
      f"{(end - last_ready) * 1000:.0f} ms from the last Deployment ready (outside watch) to exit; "
      f"{(end - max(seen_ready.values())) * 1000:.0f} ms from its own last ready event to exit")

# Where slipway's own time goes. `track` is the one step that waits for the cluster;
# everything else is slipway's: its other steps, what no step covers (process start,
# loading and rendering outside the steps, output, exit), and, inside `track`, the time
# from the last Deployment rolled out (seen from outside) to the exit. The sum counts
# `conclude` twice (it is also inside that tail), so it is an upper bound.
log.seek(0)
steps = [(step, float(ms)) for step, ms in re.findall(r'step="([^"]+)" ms="([0-9.]+)"', log.read())]
for step, ms in steps:
    print(f"  {step:32} {ms:9.1f} ms")
total = (end - start) * 1000
track = sum(ms for step, ms in steps if step == "track")
others = sum(ms for step, ms in steps if step != "track")
tail = (end - last_ready) * 1000
outside = total - track - others
print(f"slipway's own time <= {others + outside + tail:.0f} ms: {others:.0f} ms in its steps "
      f"other than track, {outside:.0f} ms outside any step, {tail:.0f} ms from the last "
      f"Deployment rolled out to exit")
PY

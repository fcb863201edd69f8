#!/usr/bin/env bash
# Times getting the traffic back inside a blue-green scale-down delay, on one sandbox
# cluster (served by `slipway sandbox serve`). Before every timed run a blue-green deploy
# of a new image is started and left in its delay: its Service serves the new version,
# the previous version's pods still run. Then, in one hyperfine run:
#
# - `slipway rollback dev`: switches the Service back in one write, then waits for the
#   running deploy to remove the preview, restore the previous release and record the
#   outcome (the whole command, until everything is concluded);
# - not yet: `kubectl patch service` with the previous pods' hash, the one write a person
#   would type by hand, as the peer in the same run. `kubectl-patch.sh` below is that
#   command, but hyperfine's preparation after it never ended (the deploy it must stop
#   did not exit), so it is left out until that is found.
#
# Then one more `slipway rollback -o json` is watched from outside: the time from its
# start to the Service selecting the previous pods again (a `kubectl get --watch` started
# beforehand), which is what the traffic waits for.
#
# Needs: cargo, kubectl, python3, hyperfine (installed with apt-get when missing).
#
#   scripts/bench-switchback.sh [RUNS]      (default 5 runs of each, after one warm-up)
#   SLIPWAY_BIN=path/to/slipway scripts/bench-switchback.sh   (time that build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

source scripts/bench-common.sh
bench_tools
bench_slipway

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench-switchback.XXXXXX")
server_pid=""
cleanup() {
  if [ -f "$work/deploy.pid" ]; then kill -TERM "$(cat "$work/deploy.pid")" 2>/dev/null || true; sleep 2; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT

bench_sandbox "$work"

# --- the project: one Deployment of 2 replicas behind a Service, released blue-green ----
project="$work/project"
mkdir -p "$project/k8s"
cat >"$project/k8s/api.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: { app: api }
  template:
    metadata:
      labels: { app: api }
    spec:
      terminationGracePeriodSeconds: 1
      securityContext: { runAsNonRoot: true, runAsUser: 65532 }
      containers:
        - name: api
          image: api
          resources:
            requests: { cpu: 10m, memory: 16Mi }
            limits: { memory: 32Mi }
          ports:
            - { name: http, containerPort: 8080 }
          readinessProbe:
            tcpSocket: { port: http }
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: { app: api }
  ports:
    - { name: http, port: 80, targetPort: http }
YAML
cat >"$project/slipway.yaml" <<YAML
app: bench
images:
  api:
    repository: registry.example.com/bench/api
    files:
      copy: [{ src: slipway.yaml, dest: /srv/slipway.yaml }]
manifests: k8s
strategies:
  api:
    blue-green:
      service: api
      pre-switch: 0s
      scale-down-delay: 10m
environments:
  dev:
    context: sandbox
    kubeconfig: $kubeconfig
    namespace: bench
    timeout: 2m
    settle: 0s
    rules: { pdb-missing: off }
YAML

reference() { printf 'registry.example.com/bench/api:%s@sha256:%064x' "$1" "$1"; }
echo 1 >"$work/n"
(cd "$project" && "$slipway" deploy dev -q --image "api=$(reference 1)")

# Before each timed run: the deploy a run of kubectl left is stopped (SIGTERM, as Ctrl-C:
# it switches back and restores; a background job ignores SIGINT), then a new deploy is
# started and left inside its delay.
cat >"$work/window.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
if [ -f "$work/deploy.pid" ]; then
  pid=\$(cat "$work/deploy.pid")
  kill -TERM "\$pid" 2>/dev/null || true
  while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$work/deploy.pid"
fi
n=\$(( \$(cat "$work/n") + 1 ))
echo "\$n" >"$work/n"
kubectl get pods -n bench -l 'app=api,!slipway.dev/preview-of' \
  -o jsonpath='{.items[0].metadata.labels.pod-template-hash}' >"$work/stable_hash"
cd "$project"
"$slipway" deploy dev --image "api=\$(printf 'registry.example.com/bench/api:%s@sha256:%064x' "\$n" "\$n")" \
  >"$work/deploy.log" 2>&1 &
echo \$! >"$work/deploy.pid"
until grep -q "switched to the new version" "$work/deploy.log"; do
  kill -0 "\$(cat "$work/deploy.pid")" 2>/dev/null || { cat "$work/deploy.log" >&2; exit 1; }
  sleep 0.05
done
SH
cat >"$work/slipway-rollback.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
cd "$project"
"$slipway" rollback dev -q
# The deploy has concluded (the rollback waited for it): nothing is left to stop.
rm -f "$work/deploy.pid"
SH
cat >"$work/kubectl-patch.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
exec kubectl patch service api -n bench --type merge \
  -p "{\"spec\":{\"selector\":{\"pod-template-hash\":\"\$(cat "$work/stable_hash")\"}}}"
SH
chmod +x "$work"/*.sh

echo "timing the way back inside a blue-green delay: $runs runs of each" >&2
hyperfine --warmup 1 --runs "$runs" --export-json "$work/bench.json" \
  --prepare "$work/window.sh" \
  --command-name "slipway rollback (switch back + conclude)" "$work/slipway-rollback.sh"

python3 - "$work/bench.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for r in results:
    print(f"{r['command']}: median {r['median'] * 1000:.0f} ms (min {r['min'] * 1000:.0f}, max {r['max'] * 1000:.0f}, {len(r['times'])} runs)")
PY

# --- from `slipway rollback` starting to the Service selecting the previous pods --------
"$work/window.sh"
python3 - "$slipway" "$project" "$(cat "$work/stable_hash")" <<'PY'
import json, subprocess, sys, threading, time

slipway, project, stable = sys.argv[1], sys.argv[2], sys.argv[3]
watch = subprocess.Popen(
    ["kubectl", "get", "service", "api", "-n", "bench", "--watch", "-o",
     "jsonpath={.spec.selector.pod-template-hash}{\"\\n\"}"],
    stdout=subprocess.PIPE, text=True)
seen = {}
first = threading.Event()
def read():
    for line in watch.stdout:
        first.set()
        if line.strip() == stable and "back" not in seen:
            seen["back"] = time.monotonic()
threading.Thread(target=read, daemon=True).start()
first.wait(10)
start = time.monotonic()
out = subprocess.run([slipway, "rollback", "dev", "-o", "json"], cwd=project,
                     capture_output=True, text=True)
end = time.monotonic()
time.sleep(0.3)
watch.kill()
event = None
for line in out.stdout.splitlines():
    try:
        if json.loads(line).get("event") == "switched-back":
            event = line
    except ValueError:
        pass
if "back" not in seen or event is None:
    sys.exit(f"the switch back was not seen:\n{out.stdout}\n{out.stderr}")
print(f"slipway rollback: the Service selects the previous pods {1000 * (seen['back'] - start):.0f} ms "
      f"after the command started (kubectl's watch); the command ended after {1000 * (end - start):.0f} ms")
PY
rm -f "$work/deploy.pid"

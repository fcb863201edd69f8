#!/usr/bin/env bash
# Makes docs/release-report.png: a release to the sandbox that fails and is rolled back,
# its report written with `--report`, and a screenshot of the page in headless Chromium.
# Needs chromium and kubectl; builds slipway first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cargo build -q -p slipway
slipway="$root/target/debug/slipway"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "error: chromium is not on PATH (apt-get install chromium)" >&2
  exit 1
fi
work=$(mktemp -d)
cleanup() {
  if [ -f "$work/.slipway/sandbox/pid" ]; then kill "$(cat "$work/.slipway/sandbox/pid")" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT
cd "$work"
cat > slipway.yaml <<'YAML'
app: shop
images:
  api:
    repository: registry.example.com/shop/api
    files:
      copy: [{ src: app.txt, dest: /app/app.txt }]
manifests: k8s
environments:
  dev:
    cluster: sandbox
    namespace: shop-dev
    settle: 2s
    rules: { resources: off, run-as-root: off }
YAML
echo shop > app.txt
mkdir k8s
deployment() {
  cat > k8s/api.yaml <<YAML
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
      annotations: { dev.slipway.sandbox/behavior: "$1" }
    spec:
      containers:
        - name: api
          image: api
          ports: [{ name: http, containerPort: 8080 }]
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
YAML
}
image() { printf 'api=registry.example.com/shop/api:%s@sha256:%064x' "$1" "$1"; }
export SLIPWAY_USER=release-bot SLIPWAY_CI=none
deployment "slow-start=2s"
"$slipway" deploy dev --image "$(image 1)" >/dev/null 2>&1
deployment "never-ready"
"$slipway" deploy dev --timeout 8s --image "$(image 2)" --report "$work/report.html" >/dev/null 2>&1 || true
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1250 \
  --screenshot="$root/docs/release-report.png" "file://$work/report.html" 2>/dev/null
echo "wrote docs/release-report.png" >&2

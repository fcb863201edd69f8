#!/usr/bin/env bash
# Times `slipway helm template` (release build) on two charts, each in one hyperfine run
# with a baseline: reading the same rendered YAML back with PyYAML.
#
#   (a) the largest k8s-monitoring example of the Helm corpus (the case whose expected
#       output is the biggest), rendered as its Makefile renders it:
#       `helm template k8smon . -f docs/examples/<example>/values.yaml` — so
#       `slipway helm template k8smon CHART -f VALUES --helm-version 4.1`, the Helm
#       version its goldens were made with. The output is checked against the golden
#       first. The corpus is read from `../shared/helm-corpus` (relative to the
#       repository) or `$HELM_CORPUS`; without it this part is skipped.
#   (b) a chart generated here: a `range` over a list of 1,000 values, each giving a
#       Deployment, a Service or a ConfigMap (in turn) through `include`d helpers,
#       `toYaml`, `nindent`, `default`, `quote`, `printf`, `trunc` — 1,000 objects.
#
# No `helm` binary runs here. The baseline is the time Python takes to parse the
# rendered output — `python3 -c 'import yaml; list(yaml.safe_load_all(open(FILE)))'`,
# PyYAML's pure-Python safe loader — i.e. what merely reading the same YAML costs.
#
# Needs: cargo, python3 with PyYAML, hyperfine (installed with apt-get when missing).
#
#   scripts/bench-helm.sh [RUNS]        (default 10 runs of each, after 2 warm-ups)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}

if ! command -v hyperfine >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq hyperfine
fi
for tool in python3 hyperfine; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: \`$tool\` is not installed" >&2; exit 1; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "error: python3 has no PyYAML (apt-get install python3-yaml)" >&2; exit 1; }

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p slipway
slipway="$(cd "$target/release" && pwd)/slipway"

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench-helm.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

baseline="python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))'"

# `report JSON LABEL`: medians, and the ratio of slipway's median to the baseline's.
report() {
  python3 - "$1" "$2" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
label = sys.argv[2]
medians = [statistics.median(r["times"]) for r in results]
names = ["slipway helm template", "baseline: PyYAML safe_load_all of the output"]
for name, r, m in zip(names, results, medians):
    print(f"{label}: median {m * 1000:8.1f} ms  {name} "
          f"(min {r['min'] * 1000:.1f}, max {r['max'] * 1000:.1f}, {len(r['times'])} runs)")
print(f"{label}: ratio slipway / baseline (medians): {medians[0] / medians[1]:.2f}")
PY
}

echo "load: $(uptime)"

# --- (a) the largest k8s-monitoring example of the corpus -------------------------------
corpus=${HELM_CORPUS:-../shared/helm-corpus}
if [ -f "$corpus/cases.json" ]; then
  corpus=$(cd "$corpus" && pwd)
  # The case with the biggest expected output among the k8s-monitoring ones.
  read -r name chart release namespace values expected < <(python3 - "$corpus" <<'PY'
import json, os, sys
root = sys.argv[1]
cases = [c for c in json.load(open(os.path.join(root, "cases.json")))
         if c["suite"] == "grafana-k8s-monitoring" and not c["expect_error"]]
c = max(cases, key=lambda c: os.path.getsize(os.path.join(root, c["expected"])))
assert len(c["values"]) == 1 and not c["set"] and not c["api_versions"] and not c["kube_version"]
print(c["name"], *(os.path.join(root, p) for p in (c["chart"],)), c["release"], c["namespace"],
      *(os.path.join(root, p) for p in (c["values"][0], c["expected"])))
PY
  )
  render=("$slipway" helm template "$release" "$chart" --namespace "$namespace" -f "$values" --helm-version 4.1)
  "${render[@]}" >"$work/monitoring.yaml"
  if cmp -s "$work/monitoring.yaml" "$expected"; then
    echo "(a) $name: output identical to the golden ($(wc -c <"$expected") bytes, $(grep -c '^kind:' "$expected") objects)"
  else
    echo "(a) $name: output DIFFERS from the golden" >&2
    exit 1
  fi
  hyperfine --warmup 2 --runs "$runs" --export-json "$work/monitoring.json" \
    --command-name "slipway helm template ($name)" "${render[*]} >/dev/null" \
    --command-name "PyYAML safe_load_all (its output)" "$baseline $expected"
  report "$work/monitoring.json" "(a) k8s-monitoring"
else
  echo "(a) skipped: no Helm corpus at $corpus (set HELM_CORPUS)"
fi

# --- (b) a generated chart of 1,000 objects ---------------------------------------------
chart="$work/chart"
mkdir -p "$chart/templates"
cat >"$chart/Chart.yaml" <<'YAML'
apiVersion: v2
name: thousand
version: 1.0.0
appVersion: "2.4.1"
YAML
python3 - "$chart/values.yaml" <<'PY'
import sys
lines = [
    "image:",
    "  repository: registry.example.com/thousand/app",
    "  pullPolicy: IfNotPresent",
    "resources:",
    "  requests: { cpu: 10m, memory: 32Mi }",
    "  limits: { memory: 64Mi }",
    "podLabels:",
    "  team: platform",
    "  tier: backend",
    "items:",
]
for i in range(1000):
    lines.append(f"  - name: svc-{i:04d}")
    if i % 2 == 0:
        lines.append(f"    port: {8000 + i % 100}")
    if i % 5 == 0:
        lines.append(f"    replicas: {1 + i % 3}")
        lines.append(f"    env: {{ MODE: fast, SHARD: \"{i}\" }}")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
cat >"$chart/templates/_helpers.tpl" <<'TPL'
{{- define "thousand.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .item.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "thousand.labels" -}}
app.kubernetes.io/name: {{ .item.name | quote }}
app.kubernetes.io/instance: {{ .root.Release.Name | quote }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | quote }}
{{- with .root.Values.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "thousand.selector" -}}
app.kubernetes.io/name: {{ .item.name | quote }}
app.kubernetes.io/instance: {{ .root.Release.Name | quote }}
{{- end -}}
TPL
cat >"$chart/templates/objects.yaml" <<'TPL'
{{- range $i, $item := .Values.items }}
{{- $ctx := dict "root" $ "item" $item }}
{{- $kind := mod $i 3 }}
---
{{- if eq $kind 0 }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "thousand.fullname" $ctx }}
  labels:
    {{- include "thousand.labels" $ctx | nindent 4 }}
spec:
  replicas: {{ $item.replicas | default 1 }}
  selector:
    matchLabels:
      {{- include "thousand.selector" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "thousand.labels" $ctx | nindent 8 }}
    spec:
      containers:
        - name: app
          image: {{ printf "%s:%s" $.Values.image.repository (default $.Chart.AppVersion $item.tag) | quote }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ $item.port | default 8080 }}
          {{- with $item.env }}
          env:
            {{- range $k, $v := . }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
          {{- end }}
          resources:
            {{- toYaml $.Values.resources | nindent 12 }}
{{- else if eq $kind 1 }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "thousand.fullname" $ctx }}
  labels:
    {{- include "thousand.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "thousand.selector" $ctx | nindent 4 }}
  ports:
    - name: http
      port: 80
      targetPort: {{ $item.port | default 8080 }}
{{- else }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "thousand.fullname" $ctx }}-config
  labels:
    {{- include "thousand.labels" $ctx | nindent 4 }}
data:
  index: {{ $i | quote }}
  settings.yaml: |
    {{- toYaml (dict "name" $item.name "port" ($item.port | default 8080) "replicas" ($item.replicas | default 1)) | nindent 4 }}
{{- end }}
{{- end }}
TPL
render=("$slipway" helm template bench "$chart")
"${render[@]}" >"$work/thousand.yaml"
objects=$(python3 -c 'import sys, yaml; print(sum(1 for d in yaml.safe_load_all(open(sys.argv[1])) if d))' "$work/thousand.yaml")
[ "$objects" -eq 1000 ] || { echo "error: the generated chart rendered $objects objects, not 1000" >&2; exit 1; }
echo "(b) generated chart: $objects objects, $(wc -c <"$work/thousand.yaml") bytes"
hyperfine --warmup 2 --runs "$runs" --export-json "$work/thousand.json" \
  --command-name "slipway helm template (1,000 objects)" "${render[*]} >/dev/null" \
  --command-name "PyYAML safe_load_all (its output)" "$baseline $work/thousand.yaml"
report "$work/thousand.json" "(b) 1,000 objects"
echo "load: $(uptime)"

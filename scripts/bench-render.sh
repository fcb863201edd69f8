#!/usr/bin/env bash
# Times `slipway kustomize` against `kubectl kustomize` on a 1,001-resource overlay
# (500 Deployments, 500 Services, 500 `images` entries, a patch on every Deployment, a
# configMapGenerator), both measured in the same hyperfine run, and checks that both
# print the same bytes. Needs: cargo, kubectl, hyperfine, python3.
#
#   scripts/bench-render.sh [RUNS]        (default 3 runs; kubectl takes ~30-60 s a run)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}

for tool in kubectl hyperfine python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: \`$tool\` is not installed" >&2; exit 1; }
done

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p slipway -p slipway-render --examples --bins
slipway="$(cd "$target/release" && pwd)/slipway"

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench-render.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
"$target/release/examples/gen_big_overlay" "$work"

kubectl kustomize "$work/overlay" >"$work/kubectl.yaml"
"$slipway" kustomize "$work/overlay" >"$work/slipway.yaml"
if cmp -s "$work/kubectl.yaml" "$work/slipway.yaml"; then
  echo "output: identical ($(grep -c '^kind:' "$work/slipway.yaml") objects)"
else
  echo "output: DIFFERENT" >&2
  exit 1
fi

hyperfine --warmup 1 --runs "$runs" --export-json "$work/times.json" \
  "kubectl kustomize $work/overlay" "$slipway kustomize $work/overlay"
python3 - "$work/times.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
medians = [statistics.median(r["times"]) for r in results]
for r, m in zip(results, medians):
    print(f"median {m:8.3f} s  {r['command'].split()[0].rsplit('/', 1)[-1]} kustomize")
print(f"ratio (kubectl / slipway): {medians[0] / medians[1]:.0f}x")
PY

#!/usr/bin/env bash
# Times a no-op `slipway build`: a project with 10 `files` images, pushed once to a local
# docker-registry, then built again with nothing changed (every image is skipped).
# Needs: cargo, git, docker-registry, hyperfine. Prints hyperfine's table and the median.
# With EXTRA_TAGS (e.g. "latest main"), the project has those `extra-tags`, which every
# skipped image checks (and moves when they point elsewhere).
#
#   scripts/bench-build.sh [RUNS]        (default 20 runs)
#   EXTRA_TAGS="latest main" scripts/bench-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}

for tool in git docker-registry hyperfine python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: \`$tool\` is not installed" >&2; exit 1; }
done

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p slipway
slipway="$(cd "$target/release" && pwd)/slipway"

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench.XXXXXX")
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT

# --- a registry on a free loopback port -------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host="127.0.0.1:$port"
cat >"$work/registry.yml" <<YAML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/registry } }
http: { addr: $host }
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
  curl -fs "http://$host/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done

# --- a project with 10 files images -------------------------------------------------------
project="$work/project"
mkdir -p "$project"
cd "$project"
git init --quiet --initial-branch=main
{
  echo "app: bench"
  echo "registry: $host/bench"
  if [ -n "${EXTRA_TAGS:-}" ]; then echo "extra-tags: [$(echo "$EXTRA_TAGS" | xargs | sed 's/ /, /g')]"; fi
  echo "images:"
  for i in $(seq -w 1 10); do
    mkdir -p "svc$i/static/assets"
    for f in $(seq 1 20); do echo "service $i file $f" >"svc$i/static/assets/file$f.txt"; done
    printf '#!/bin/sh\necho svc%s\n' "$i" >"svc$i/static/server"
    chmod +x "svc$i/static/server"
    echo "  svc$i:"
    echo "    context: svc$i"
    echo "    files:"
    echo "      copy: [{ src: static/, dest: /srv }]"
    echo "      entrypoint: [/srv/server]"
  done
  echo "environments:"
  echo "  dev: { cluster: sandbox, namespace: bench }"
} >slipway.yaml
git add -A
git -c user.name=bench -c user.email=bench@example.invalid commit --quiet -m bench

"$slipway" build -q
echo "pushed 10 images to $host; timing the no-op build" >&2

hyperfine --warmup 2 --runs "$runs" --export-json "$work/bench.json" \
  --command-name "slipway build (10 images, nothing changed)" "$slipway build -q"
python3 - "$work/bench.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"median {r['median']*1000:.1f} ms, mean {r['mean']*1000:.1f} ms ± {r['stddev']*1000:.1f} ms, "
      f"min {r['min']*1000:.1f} ms, max {r['max']*1000:.1f} ms over {len(r['times'])} runs")
PY

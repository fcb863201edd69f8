#!/usr/bin/env bash
# The sandbox's list benchmark (docs/BENCHMARKS.md): `kubectl get pods -A` over 5,000 pods,
# with TLS, authentication and RBAC on, as a user who is no administrator (a
# ClusterRoleBinding to `view`), against a release build. Needs hyperfine and kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p kube-sandbox --example bench_list
dir=$(mktemp -d "${TMPDIR:-/tmp}/sandbox-bench.XXXXXX")
target/release/examples/bench_list "$dir/kubeconfig" 5000 >"$dir/out" 2>"$dir/err" &
server=$!
cleanup() {
  kill -INT "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf -- "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q ready "$dir/out" 2>/dev/null && break
  sleep 0.1
done
grep -q ready "$dir/out" || { cat "$dir/err" >&2; exit 1; }
cat "$dir/err" >&2

kubectl="kubectl --kubeconfig $dir/kubeconfig --context reader --cache-dir $dir/cache"
rows=$($kubectl get pods -A --no-headers | wc -l)
echo "rows: $rows" >&2
[ "$rows" -eq 5000 ]
if $kubectl get secrets -A >/dev/null 2>&1; then
  echo "error: the reader may list secrets; it should not be an administrator" >&2
  exit 1
fi
hyperfine --warmup 2 --runs 15 --export-json "${BENCH_JSON:-/dev/null}" \
  "$kubectl get pods -A"

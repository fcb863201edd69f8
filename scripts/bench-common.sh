# Shared by the benchmarks that time slipway against kubectl on a sandbox cluster:
# sourced after `set -euo pipefail` and `cd` to the repository.
#
#   bench_tools            hyperfine (apt-get when missing), kubectl, python3
#   bench_slipway          sets `slipway`: $SLIPWAY_BIN, else a release build
#   bench_sandbox WORK     serves a sandbox with its kubeconfig in WORK, exports
#                          KUBECONFIG and sets `server_pid` (the caller stops it)

bench_tools() {
  if ! command -v hyperfine >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq hyperfine
  fi
  local tool
  for tool in kubectl python3 hyperfine; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: \`$tool\` is not installed" >&2; exit 1; }
  done
}

bench_slipway() {
  if [ -n "${SLIPWAY_BIN:-}" ]; then
    slipway=$(realpath "$SLIPWAY_BIN")
  else
    local target=${CARGO_TARGET_DIR:-target}
    cargo build --release --quiet -p slipway
    slipway="$(cd "$target/release" && pwd)/slipway"
  fi
}

bench_sandbox() {
  kubeconfig="$1/sandbox.kubeconfig"
  "$slipway" sandbox serve --listen 127.0.0.1:0 --kubeconfig "$kubeconfig" >"$1/serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do [ -s "$kubeconfig" ] && break; sleep 0.1; done
  [ -s "$kubeconfig" ] || { echo "error: the sandbox did not start" >&2; cat "$1/serve.log" >&2; exit 1; }
  export KUBECONFIG="$kubeconfig"
}

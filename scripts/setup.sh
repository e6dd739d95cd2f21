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
  libgmock-dev libbenchmark-dev libcpp-httplib-dev nlohmann-json3-dev
  libboost-dev libssl-dev
  # tools used by tests and benchmarks
  nghttp2-client nghttp2-proxy procps
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
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm tools (pinned): buildifier for BUILD formatting checks.
TOOLS_DIR="$PWD/.cache/tools"  # ignored by git and Bazel
if [ ! -x "$TOOLS_DIR/node_modules/.bin/buildifier" ]; then
  echo "setup: installing npm tools into $TOOLS_DIR" >&2
  mkdir -p "$TOOLS_DIR"
  cp scripts/tools-package.json "$TOOLS_DIR/package.json"
  (cd "$TOOLS_DIR" && npm install --no-audit --no-fund --loglevel=error >&2)
fi

#!/usr/bin/env bash
# Builds kubenest's own Go test plugins (vCluster plugin protocol v2 on hashicorp/go-plugin, our own
# pluginv2 code) into the directory given as $1: kntest (kntest/main.go says what it does).
# Called by resolveGoTools (packages/kubenest/src/controlplane/binaries.ts), which owns the cache
# entry, the lock and the atomic rename; the modules come from the Go module proxy (go.sum).
set -euo pipefail

TEST_PLUGINS_VERSION=v1

if [ "${1:-}" = "--versions" ]; then
  echo "test-plugins=$TEST_PLUGINS_VERSION"
  exit 0
fi
out=${1:?usage: build.sh OUTPUT_DIR | --versions}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

export GOTOOLCHAIN=local
export CGO_ENABLED=0

echo "==> [1/1] compiling kntest"
(cd "$here" && go build -trimpath -ldflags="-s -w" -o "$out/kntest" ./kntest)

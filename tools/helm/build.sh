#!/usr/bin/env bash
# Builds the helm CLI, which the integration tests drive as a user would, into the directory
# given as $1. Called by resolveGoTool (packages/kubenest/src/controlplane/binaries.ts), which
# owns the cache entry, the lock and the atomic rename; run by hand only to debug a build.
# kubenest itself never runs helm: only tests do.
set -euo pipefail

HELM_VERSION=v4.3.1

if [ "${1:-}" = "--versions" ]; then
  echo "helm=$HELM_VERSION"
  exit 0
fi
out=${1:?usage: build.sh OUTPUT_DIR | --versions}
mkdir -p "$out"
out=$(cd "$out" && pwd)

export GOTOOLCHAIN=local
export CGO_ENABLED=0

# helm's go.mod has no replace directives, so `go install` builds it at its own pins.
# The -X sets what `helm version` prints (the module alone reports only the minor version).
echo "==> [1/1] compiling helm $HELM_VERSION (about 2-4 min on 2 cores with a cold Go build cache)"
GOBIN="$out" go install -trimpath \
  -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
echo "==> done: $out"

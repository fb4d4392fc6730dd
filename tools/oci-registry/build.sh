#!/usr/bin/env bash
# Builds the tools the OCI plugin-image tests use into the directory given as $1: the CNCF
# distribution registry, crane (go-containerregistry) and a tiny bcrypt htpasswd writer.
# Called by resolveGoTools (packages/kubenest/src/controlplane/binaries.ts), which owns the cache
# entry, the lock and the atomic rename; run by hand only to debug a build. Test tooling only:
# kubenest itself pulls images with its own client (docs/adr/0020-oci-plugin-images.md).
set -euo pipefail

REGISTRY_VERSION=v3.1.2
CRANE_VERSION=v0.22.1

if [ "${1:-}" = "--versions" ]; then
  echo "registry=$REGISTRY_VERSION crane=$CRANE_VERSION"
  exit 0
fi
out=${1:?usage: build.sh OUTPUT_DIR | --versions}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

export GOTOOLCHAIN=local
export CGO_ENABLED=0

step() { echo "==> [$1/3] $2"; }

step 1 "compiling the distribution registry $REGISTRY_VERSION"
GOBIN="$out" go install -trimpath -ldflags="-s -w" "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"

step 2 "compiling crane $CRANE_VERSION"
GOBIN="$out" go install -trimpath -ldflags="-s -w" "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"

step 3 "compiling htpasswd (bcrypt, golang.org/x/crypto)"
(cd "$here/htpasswd" && go build -trimpath -ldflags="-s -w" -o "$out/htpasswd" .)

#!/usr/bin/env bash
# Builds the binaries kubenest runs into the directory given as $1.
# Called by `kubenest binaries` (packages/kubenest/src/controlplane/binaries.ts), which owns the
# cache layout, the atomic rename and the manifest; run by hand only to debug a build.
#
# Pins live here and in go.mod; keep KUBERNETES_VERSION equal to the `require` line of go.mod.
set -euo pipefail

KUBERNETES_VERSION=v1.36.3
KINE_VERSION=v0.17.5
KWOK_VERSION=v0.8.0

if [ "${1:-}" = "--versions" ]; then
  echo "kubernetes=$KUBERNETES_VERSION kine=$KINE_VERSION kwok=$KWOK_VERSION"
  exit 0
fi
out=${1:?usage: build.sh OUTPUT_DIR | --versions}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

export GOTOOLCHAIN=local
export CGO_ENABLED=0
# Upstream release builds use these tags; -trimpath keeps the build reproducible.
tags=selinux,notest,grpcnotrace

minor=${KUBERNETES_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  # Without these /version reports v0.0.0-master, which breaks version-skew checks in clients.
  ldflags="$ldflags -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

step() { echo "==> [$1/5] $2"; }

step 1 "downloading Go modules for Kubernetes $KUBERNETES_VERSION"
(cd "$here" && go mod download)

step 2 "compiling kube-apiserver, kube-controller-manager, kube-scheduler (the slow step: about 5 min on 2 cores with an empty Go build cache)"
(cd "$here" && go build -trimpath -tags="$tags" -ldflags="$ldflags" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler)

# kine and kwok have no replace directives, so `go install` builds them at their own pins
# without letting them move Kubernetes' dependency versions.
step 3 "compiling kine $KINE_VERSION (SQLite without cgo)"
GOBIN="$out" go install -trimpath -ldflags="-s -w" "github.com/k3s-io/kine@$KINE_VERSION"

step 4 "compiling kwok $KWOK_VERSION"
GOBIN="$out" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

# kwok v0.8 ships no built-in stages; take kwok's own fast stages from the module cache so the
# simulated nodes and pods behave like kwokctl's defaults.
step 5 "collecting kwok stages"
kwok_dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
mkdir -p "$out/kwok-stages"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  install -m 0644 "$kwok_dir/kustomize/stage/$f" "$out/kwok-stages/$(basename "$f")"
done
echo "==> done: $out"

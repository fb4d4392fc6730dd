#!/usr/bin/env bash
# Regenerates pluginv2/pluginv2.pb.go from the repository's own copy of the pluginv2 proto
# (packages/plugin-proto/proto/pluginv2/pluginv2.proto) with buf and protoc-gen-go (from the Go
# module proxy). The gRPC service is registered by hand in pluginv2/service.go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp/bin" GOTOOLCHAIN=local go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
cat > "$tmp/buf.gen.yaml" <<YAML
version: v2
plugins:
  - local: $tmp/bin/protoc-gen-go
    out: $tmp/gen
    opt: [paths=source_relative, Mpluginv2/pluginv2.proto=kubenest.test/testplugins/pluginv2]
YAML
(cd "$root/packages/plugin-proto" && "$root/node_modules/.bin/buf" generate --template "$tmp/buf.gen.yaml" --path proto/pluginv2/pluginv2.proto)
cp "$tmp/gen/pluginv2/pluginv2.pb.go" "$here/pluginv2/pluginv2.pb.go"

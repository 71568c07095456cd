#!/usr/bin/env bash
# Builds the UI and embeds it: npm ci (when package-lock.json changed), vite build into
# <build dir>/ui/dist, then tools/embed.mjs writes <out.cc>. Called by CMake when ui/ sources
# change. Without a usable Node (>= 18) it embeds a placeholder page and says so.
# Usage: ui/tools/build.sh <build dir> <out.cc>
set -euo pipefail
ui="$(cd "$(dirname "$0")/.." && pwd)"
build="$1"; out="$2"
node_ok() { command -v node >/dev/null && node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; }
if ! node_ok; then
  echo "ui: Node.js >= 18 not found: embedding a placeholder page (tools/install-deps.sh installs Node)" >&2
  exec node "$ui/tools/embed.mjs" - "$out" 2>/dev/null || {
    mkdir -p "$(dirname "$out")"
    printf '// Generated: no UI (Node.js missing).\n#include "otlake/receiver/ui_assets.h"\nnamespace otlake::receiver {\nconst UiAsset kUiAssets[] = {{"/index.html", "text/plain; charset=utf-8", "\\"none\\"", 0, {}, {}, false}};\nconst size_t kNumUiAssets = 0;\n}\n' > "$out"
  }
fi
cd "$ui"
stamp=node_modules/.otlake-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # Offline machines: `npm ci --offline` works from a filled npm cache.
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
node node_modules/vite/bin/vite.js build --logLevel warn --outDir "$build/ui/dist" --emptyOutDir
node tools/embed.mjs "$build/ui/dist" "$out"

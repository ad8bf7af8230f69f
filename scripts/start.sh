#!/usr/bin/env bash
# Starts Merge Lab on its built-in demo models: installs what is missing, then serves the app.
source "$(dirname "$0")/lib.sh"
npm_ensure
cd "$ROOT"
echo "Merge Lab: open http://localhost:${PORT:-5173}/ in a browser with WebGPU (Chrome/Edge 113+)." >&2
exec npx vite --port "${PORT:-5173}" "$@"

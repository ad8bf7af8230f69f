#!/usr/bin/env bash
# Runs every test: guard rails (prettier, eslint with the line budget, dependency-cruiser), type checks, unit, GPU parity (Dawn + lavapipe), CLI and end-to-end (Chromium).
# Installs what a fresh Debian machine lacks: npm packages, the Vulkan driver, Chromium.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
npm_ensure
apt_ensure chromium libvulkan1
if [ -f scripts/setup-vulkan.sh ]; then bash scripts/setup-vulkan.sh >&2; fi

echo "== guard rails: format, lint and line budget, import boundaries" >&2
npx prettier --check . --log-level warn
npx eslint .
npx depcruise src --config .dependency-cruiser.cjs

echo "== type check" >&2
npx tsc --noEmit -p tsconfig.json
npx svelte-check --tsconfig tsconfig.json --threshold error --output machine >/dev/null || npx svelte-check --tsconfig tsconfig.json --threshold error

echo "== tests" >&2
mkdir -p .cache
# Every temporary folder the tests make (checkpoints, merges, browser profiles) goes under one
# folder that is removed at the end, whatever a test left behind.
TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/merge-lab-tests-XXXXXX")"
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest.json || status=$?
# A closing line any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(".cache/vitest.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit $status

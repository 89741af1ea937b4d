#!/usr/bin/env bash
# The whole check, run by `npm test` (and so by CI): format, lints, layering, Rust tests,
# committed generated bindings, JS tests through the real ALSA path.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings (the core, and with the Node binding)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --all-targets --features binding --quiet -- -D warnings

step "layering: napi only in src/binding"
# grep exits 1 when nothing matches (clean), 0 on a match, 2 on an error (also a failure).
set +e
grep -rnE --include='*.rs' --exclude-dir=binding "(use |\b)napi(_derive|_sys)?::|#\[napi" src
status=$?
set -e
if [ "$status" -ne 1 ]; then
  echo "napi is used outside src/binding (or grep failed: status $status)" >&2
  exit 1
fi

step "layering: the module dependency rules of docs/architecture.md"
node scripts/layering.js

step "cargo test"
cargo test --quiet

step "the audio callback's compiled call graph reaches no allocator, lock, syscall or I/O"
node scripts/rt-audit.js
# The audit's own test: a copy with an allocation, a lock, a clock read and a print put into
# the callback must fail it, each one named.
node scripts/rt-audit.js --self-test

step "build the addon and check the committed index.js / index.d.ts match the Rust source"
npx napi build --platform --release --features binding
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code -- index.js index.d.ts || {
    echo "index.js / index.d.ts are stale: commit the regenerated files" >&2
    exit 1
  }
fi

step "node --test __test__/*.test.js"
# Files, not the folder: Node 21+ resolves a folder argument as a module. --test-timeout
# bounds each file as a whole (and a file that leaves a handle open never ends, so it fails
# too): 240 s, over 3× the slowest file's 70 s here; the packed-package file builds from
# source twice (≈ 320 s cold) and gets 20 minutes.
files=()
for f in __test__/*.test.js; do [ "$f" = __test__/package.test.js ] || files+=("$f"); done
node --test --test-concurrency=1 --test-timeout=240000 "${files[@]}"
node --test --test-timeout=1200000 __test__/package.test.js

step "the same JS tests on Node 22 and 24"
bash scripts/test-node-versions.sh


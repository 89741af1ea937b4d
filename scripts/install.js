#!/usr/bin/env node
'use strict'
// npm's `install` hook. A binary that loads (a prebuilt platform package, or one built
// before) is used as it is, silently. Only when none loads is the addon built from source
// with cargo, which needs a Rust toolchain and, on Linux, libasound2-dev and pkg-config.
// Plain cargo, not @napi-rs/cli: users' installs must not pull the build tool and its
// dependencies (some of which want a newer Node than ours).
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

/** The suffix napi-rs's loader (index.js) looks for: `linux-x64-gnu`, `darwin-arm64`, ... */
function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function isMusl() {
  const report = process.report?.getReport?.()
  return !report?.header?.glibcVersionRuntime
}

/** Loads the package in a child process, so a failing load cannot take this script down. */
function bindingLoads() {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(root)})`], { stdio: 'ignore' })
  return r.status === 0
}

function hasCargo() {
  return spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0
}

/** Builds the release cdylib with cargo; returns the path of the built library. */
function buildFromSource() {
  const out = execFileSync(
    'cargo',
    ['build', '--release', '--lib', '--features', 'binding', '--message-format=json-render-diagnostics'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 },
  ).toString()
  for (const line of out.split('\n').reverse()) {
    if (!line.startsWith('{')) continue
    const message = JSON.parse(line)
    if (message.reason === 'compiler-artifact' && message.target?.kind?.includes('cdylib')) {
      const library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
      if (library) return library
    }
  }
  throw new Error('cargo built no cdylib')
}

function main() {
  if (process.env.STT_CAPTURE_FORCE_BUILD !== '1' && bindingLoads()) return
  const suffix = platformSuffix()
  if (!hasCargo()) {
    console.error(
      `stt-capture: no prebuilt binary for ${suffix} loads here, and cargo is not on PATH to build one. ` +
        'Install Rust (https://rustup.rs) and, on Linux, libasound2-dev and pkg-config, then reinstall.',
    )
    process.exit(1)
  }
  console.error(`stt-capture: no prebuilt binary for ${suffix} loads here; building from source with cargo (about 2 minutes)`)
  const library = buildFromSource()
  const target = path.join(root, `stt-capture.${suffix}.node`)
  fs.copyFileSync(library, target)
  if (!bindingLoads()) {
    console.error(`stt-capture: built ${target}, but it does not load`)
    process.exit(1)
  }
}

main()

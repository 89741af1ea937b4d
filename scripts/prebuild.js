#!/usr/bin/env node
'use strict'
// `npm run prebuild [-- --targets linux-x64-gnu,linux-arm64-gnu]`: builds the prebuilt
// binaries this machine can build, checks each one (ELF machine, needed libraries, the
// newest glibc symbol version it needs), puts it in its platform package (npm/<platform>)
// and leaves in dist/ one packed tarball per platform package plus the packed main package.
//
// Linux gnu targets are built with cargo-zigbuild against glibc 2.17, so they load on every
// distribution since 2014 (RHEL 7, Debian 8, Ubuntu 14.04). ALSA is linked from the target's
// Debian multiarch package (libasound2-dev:<arch>). Needs: rustup targets, `ziglang` (PyPI),
// cargo-zigbuild (crates.io); `.ci/run` installs them.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const GLIBC_FLOOR = '2.17'

const TARGETS = {
  'linux-x64-gnu': { triple: 'x86_64-unknown-linux-gnu', multiarch: 'x86_64-linux-gnu', machine: 'Advanced Micro Devices X86-64' },
  'linux-arm64-gnu': { triple: 'aarch64-unknown-linux-gnu', multiarch: 'aarch64-linux-gnu', machine: 'AArch64' },
}

/** What a built binary needs from the system: readelf's and objdump's view of it. */
function inspect(file) {
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' })
  const machine = header.match(/Machine:\s+(.*)/)[1].trim()
  const dynamic = execFileSync('readelf', ['-d', file], { encoding: 'utf8' })
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1])
  // readelf, not objdump: it reads every architecture's version tables.
  const versions = execFileSync('readelf', ['-V', file], { encoding: 'utf8' })
  const glibc = [...new Set([...versions.matchAll(/GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]))]
  glibc.sort(compareVersions)
  return { machine, needed, glibcMax: glibc.at(-1) ?? null }
}

function compareVersions(a, b) {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
  }
  return 0
}

function build(platform, { triple, multiarch }) {
  const targetDir = path.join(root, 'target', 'prebuild')
  const pkgconfig = `/usr/lib/${multiarch}/pkgconfig`
  if (!fs.existsSync(path.join(pkgconfig, 'alsa.pc'))) {
    throw new Error(`${platform}: ${pkgconfig}/alsa.pc is missing: install libasound2-dev:${multiarch.split('-')[0] === 'x86_64' ? 'amd64' : 'arm64'}`)
  }
  execFileSync('cargo', ['zigbuild', '--release', '--lib', '--features', 'binding', '--target', `${triple}.${GLIBC_FLOOR}`], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      CARGO_TARGET_DIR: targetDir,
      PKG_CONFIG_ALLOW_CROSS: '1',
      PKG_CONFIG_LIBDIR: pkgconfig,
      PKG_CONFIG_PATH: '',
    },
  })
  return path.join(targetDir, triple, 'release', 'libstt_capture.so')
}

function pack(dir, dist) {
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dist], { cwd: dir, encoding: 'utf8' })
  return path.join(dist, out.trim().split('\n').at(-1))
}

function main() {
  const flag = process.argv.indexOf('--targets')
  const wanted = flag > 0 ? process.argv[flag + 1].split(',') : Object.keys(TARGETS)
  const dist = path.join(root, 'dist')
  fs.rmSync(dist, { recursive: true, force: true })
  fs.mkdirSync(dist)
  const report = {}
  for (const platform of wanted) {
    const target = TARGETS[platform]
    if (!target) throw new Error(`cannot build ${platform} here; this script builds ${Object.keys(TARGETS).join(', ')}`)
    const built = build(platform, target)
    const facts = inspect(built)
    if (facts.machine !== target.machine) throw new Error(`${platform}: built for ${facts.machine}, not ${target.machine}`)
    if (facts.glibcMax && compareVersions(facts.glibcMax, GLIBC_FLOOR) > 0) {
      throw new Error(`${platform}: needs GLIBC_${facts.glibcMax}, above the ${GLIBC_FLOOR} floor`)
    }
    const packageDir = path.join(root, 'npm', platform)
    fs.copyFileSync(built, path.join(packageDir, `stt-capture.${platform}.node`))
    report[platform] = { ...facts, tarball: path.relative(root, pack(packageDir, dist)) }
  }
  report.main = { tarball: path.relative(root, pack(root, dist)) }
  fs.writeFileSync(path.join(dist, 'prebuild.json'), `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
}

if (require.main === module) main()

module.exports = { inspect, compareVersions, TARGETS, GLIBC_FLOOR }

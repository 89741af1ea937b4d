'use strict'
// What users install is the packed package, not this checkout: `npm pack`, install the
// tarball into a new project, and run the demo from there. With no prebuilt binary for this
// checkout's version, the install script builds from source, so this also keeps the source
// fallback from rotting (a manifest that names a file the package leaves out, a build tool
// that is only a devDependency).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')

const root = path.join(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function run(command, args, options) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

test('the packed package installs into a new project, builds from source, and its demo runs headless', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-package-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const [packed] = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }))
  const files = packed.files.map((f) => f.path)
  // Everything the crate's manifest names is in the package; nothing built or generated locally is.
  for (const needed of ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src/lib.rs', 'benches/callback.rs', 'native/mute_alsa.c', 'scripts/install.js', 'index.js', 'index.d.ts']) {
    assert.ok(files.includes(needed), `${needed} is packed`)
  }
  assert.deepEqual(files.filter((f) => /\.node$|^target\/|^node_modules\//.test(f)), [])

  const project = path.join(dir, 'app')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const install = await run(npm, ['install', '--no-audit', '--no-fund', '--foreground-scripts', path.join(dir, packed.filename)], {
    cwd: project,
    // Its own target folder inside ours: warm on the next run, never mixed with the checkout's build.
    env: { ...process.env, CARGO_TARGET_DIR: path.join(root, 'target', 'package-test') },
  })
  assert.equal(install.code, 0, install.stdout + install.stderr)
  assert.doesNotMatch(install.stderr, /EBADENGINE/, 'no dependency wants another Node')
  assert.match(install.stderr, /no prebuilt binary for linux-x64-gnu loads here; building from source with cargo/)
  const installed = path.join(project, 'node_modules')
  assert.equal(fs.existsSync(path.join(installed, '@napi-rs', 'cli')), false, 'the build tool is not a runtime dependency')
  assert.ok(fs.existsSync(path.join(installed, 'stt-capture', 'stt-capture.linux-x64-gnu.node')))

  // Headless, as a new user's first command: no microphone (ALSA's default is a missing card),
  // no daemon (the demo starts the reference one).
  const conf = path.join(dir, 'no-mic.conf')
  fs.writeFileSync(conf, 'pcm.!default { type hw card 99 device 0 }\n')
  const alsaConf = ['/usr/share/alsa/alsa.conf', '/etc/alsa/alsa.conf'].find((p) => fs.existsSync(p))
  const demo = await run(path.join(installed, '.bin', 'stt-capture'), ['demo', '--seconds', '3', '--socket', path.join(dir, 'd.sock')], {
    cwd: project,
    env: { ...process.env, ALSA_CONFIG_PATH: `${alsaConf}:${conf}` },
  })
  assert.equal(demo.code, 0, demo.stdout + demo.stderr)
  assert.equal(demo.stderr, '')
  assert.match(demo.stdout, /stopped after 3\.\d s/)
  const sent = Number(demo.stdout.match(/daemon\s+(\d+) sent, 0 dropped from the queue, 0 failed/)[1])
  assert.ok(sent >= 28, `${sent} chunks sent in 3 s`)
})

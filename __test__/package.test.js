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

// A cold cargo build (≈ 100 s warm here).
test('the packed package installs into a new project, builds from source, and its demo runs headless', { timeout: 600_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-package-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const [packed] = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }))
  const files = packed.files.map((f) => f.path)
  // Everything the crate's manifest names is in the package; nothing built or generated locally is.
  for (const needed of ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src/lib.rs', 'benches/callback.rs', 'native/mute_alsa.c', 'scripts/install.js', 'loader.js', 'index.js', 'index.d.ts']) {
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
  // The entry points as an app's code imports them (ESM and CommonJS). React is an optional
  // peer: not installed with the package, and stt-capture/react says what it needs.
  assert.equal(fs.existsSync(path.join(installed, 'react')), false, 'react is not installed for users who do not use the hook')
  const entry = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { AudioCapture } from 'stt-capture'
       import { createRequire } from 'node:module'
       const require = createRequire(import.meta.url)
       console.log(typeof AudioCapture, typeof require('stt-capture').listInputDevices)
       try { await import('stt-capture/react') } catch (e) { console.log(e.code, e.message) }`,
    ],
    { cwd: project },
  )
  assert.equal(entry.stderr, '')
  assert.equal(entry.stdout, 'function function\nE_NO_REACT stt-capture/react needs React 18 or later: npm install react\n')

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

/** PATH without the directories that hold cargo or rustc: a user's machine with no Rust. */
function pathWithoutRust() {
  return process.env.PATH.split(path.delimiter)
    .filter((dir) => !['cargo', 'rustc', 'rustup'].some((tool) => fs.existsSync(path.join(dir, tool))))
    .join(path.delimiter)
}

// Two cross builds with zig (≈ 220 s cold here).
test('prebuilt: the platform packages install and run without Rust, need glibc 2.17 at most, and a missing ALSA is named', { timeout: 900_000 }, async (t) => {
  // `npm run prebuild`: linux-x64-gnu and linux-arm64-gnu (cross) with zig against glibc 2.17.
  const built = await run(process.execPath, [path.join(root, 'scripts', 'prebuild.js')], { cwd: root })
  assert.equal(built.code, 0, built.stdout.slice(-2000) + built.stderr.slice(-4000))
  const report = JSON.parse(fs.readFileSync(path.join(root, 'dist', 'prebuild.json'), 'utf8'))
  const allowed = ['libasound.so.2', 'libc.so.6', 'libm.so.6', 'libgcc_s.so.1', 'libpthread.so.0', 'libdl.so.2', 'librt.so.1', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1']
  for (const [platform, machine] of [['linux-x64-gnu', 'Advanced Micro Devices X86-64'], ['linux-arm64-gnu', 'AArch64']]) {
    const r = report[platform]
    assert.equal(r.machine, machine, platform)
    assert.deepEqual(r.needed.filter((lib) => !allowed.includes(lib)), [], `${platform} needs only libc and ALSA: ${r.needed}`)
    assert.ok(r.needed.includes('libasound.so.2'))
    assert.ok(r.glibcMax && Number(r.glibcMax.split('.')[1]) <= 17 && r.glibcMax.startsWith('2.'), `${platform} needs GLIBC_${r.glibcMax}`)
    // What the addon hands JS is a copy in memory JS owns (Electron's memory cage refuses
    // external buffers): the binary does not even import the functions that make them.
    const binary = path.join(root, 'npm', platform, `stt-capture.${platform}.node`)
    const imports = execFileSync('readelf', ['--dyn-syms', '-W', binary], { encoding: 'utf8' })
    assert.ok(/UND napi_create_arraybuffer\b/.test(imports), 'it copies into JS-owned array buffers')
    assert.doesNotMatch(imports, /UND napi_create_external/)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-prebuilt-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const project = path.join(dir, 'app')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const env = { ...process.env, PATH: pathWithoutRust() }
  assert.notEqual(spawnSyncStatus('cargo', env), 0, 'cargo is not on PATH')
  const tarballs = [report.main.tarball, report['linux-x64-gnu'].tarball].map((f) => path.join(root, f))
  const install = await run(npm, ['install', '--no-audit', '--no-fund', '--foreground-scripts', ...tarballs], { cwd: project, env })
  assert.equal(install.code, 0, install.stdout + install.stderr)
  assert.doesNotMatch(install.stdout + install.stderr, /building from source|EBADENGINE/)
  const installed = path.join(project, 'node_modules')
  assert.ok(fs.existsSync(path.join(installed, 'stt-capture-linux-x64-gnu', 'stt-capture.linux-x64-gnu.node')))
  assert.equal(fs.existsSync(path.join(installed, 'stt-capture', 'stt-capture.linux-x64-gnu.node')), false, 'nothing was built')

  const conf = path.join(dir, 'no-mic.conf')
  fs.writeFileSync(conf, 'pcm.!default { type hw card 99 device 0 }\n')
  const alsaConf = ['/usr/share/alsa/alsa.conf', '/etc/alsa/alsa.conf'].find((p) => fs.existsSync(p))
  const demo = await run(npm, ['exec', '--', 'stt-capture', 'demo', '--seconds', '3', '--socket', path.join(dir, 'd.sock')], {
    cwd: project,
    env: { ...env, ALSA_CONFIG_PATH: `${alsaConf}:${conf}` },
  })
  assert.equal(demo.code, 0, demo.stdout + demo.stderr)
  assert.equal(demo.stderr, '')
  assert.match(demo.stdout, /stopped after 3\.\d s/)

  // The same install on a machine without libasound2: an overlay hides it in a private mount
  // namespace (whiteouts), and require() says what to install.
  const ov = path.join(dir, 'overlay')
  const libdir = '/usr/lib/x86_64-linux-gnu'
  fs.mkdirSync(path.join(ov, 'upper'), { recursive: true })
  fs.mkdirSync(path.join(ov, 'work'))
  const hide = fs.readdirSync(libdir).filter((f) => f.startsWith('libasound.so.2')).map((f) => `mknod ${ov}/upper/${f} c 0 0`)
  const probe = `try { require('stt-capture'); console.log('loaded') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
  const script = `${hide.join(' && ')} && mount -t overlay overlay -o lowerdir=${libdir},upperdir=${ov}/upper,workdir=${ov}/work ${libdir} && ${process.execPath} -e "${probe.replace(/"/g, '\\"')}"`
  const missing = await run('unshare', ['-m', 'sh', '-c', script], { cwd: project, env })
  assert.equal(missing.code, 0, missing.stderr)
  const seen = JSON.parse(missing.stdout)
  assert.equal(seen.code, 'E_NO_LIBASOUND')
  assert.match(seen.message, /libasound2/)
})

function spawnSyncStatus(command, env) {
  return require('node:child_process').spawnSync(command, ['--version'], { env, stdio: 'ignore' }).status
}

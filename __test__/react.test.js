'use strict'
// `stt-capture/react`'s useCapture with react's test renderer and real captures (the bundled
// speech replayed in real time through the addon, no daemon): level renders are coalesced to
// at most one per frame, events land in the snapshot, failures become `error` rather than
// throws, and unmounting stops the capture and removes every listener, 50 times over without
// a leaked thread.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

// React's act() environment: updates outside act() are flushed as in a real renderer.
globalThis.IS_REACT_ACT_ENVIRONMENT = false
const React = require('react')
const TestRenderer = require('react-test-renderer')
const { AudioCapture } = require('../loader.js')
const { useCapture } = require('../react.js')

const SPEECH = path.join(__dirname, '..', 'assets', 'speech.wav')
const fileInput = { input: { file: SPEECH, loop: true }, daemon: false }
const threads = () => fs.readdirSync('/proc/self/task').length
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function until(what, done, ms = 10_000) {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

// React reports misuse (an update on an unmounted component, a hook error) on console.error:
// any of it fails the file. The renderer's own deprecation notice is the one exception.
const reactErrors = []
const consoleError = console.error
console.error = (...args) => {
  if (!/react-test-renderer is deprecated/.test(String(args[0]))) reactErrors.push(args.map(String).join(' '))
}
after(() => {
  console.error = consoleError
  assert.deepEqual(reactErrors, [])
})

/** Renders a component that calls useCapture(options) and records every render's result. */
async function mount(options) {
  const renders = []
  function Probe() {
    const capture = useCapture(typeof options === 'function' ? options() : options)
    renders.push({ at: Date.now(), ...capture })
    return null
  }
  const root = TestRenderer.create(React.createElement(Probe))
  await until('the first render', () => renders.length > 0)
  return {
    renders,
    latest: () => renders[renders.length - 1],
    async rerender() {
      const n = renders.length
      root.update(React.createElement(Probe))
      await until('the re-render', () => renders.length > n)
    },
    unmount: () => root.unmount(),
  }
}

/** Counts the listeners the real AudioCapture holds: every `on` minus every matching `off`. */
function countListeners(t) {
  const { on, off } = AudioCapture.prototype
  const live = new Set()
  AudioCapture.prototype.on = function (event, fn) {
    live.add(fn)
    return on.call(this, event, fn)
  }
  AudioCapture.prototype.off = function (event, fn) {
    live.delete(fn)
    return off.call(this, event, fn)
  }
  t.after(() => Object.assign(AudioCapture.prototype, { on, off }))
  return live
}

test('useCapture: level renders are coalesced to one per frame (latest wins), and voice, stats and stop land in state', async (t) => {
  const frameMs = 100
  // 60 level events a second against 10 frames a second.
  const probe = await mount({ ...fileInput, levelHz: 60, vad: true, frameMs, statsMs: 250, autoStart: true })
  t.after(() => probe.unmount())
  await until('running', () => probe.latest().state === 'running')
  const started = Date.now()
  await until('speech', () => probe.latest().speaking)
  await sleep(2000 - (Date.now() - started))
  const window = probe.renders.filter((r) => r.at >= started)
  // A level render: one whose level differs from the render before it.
  const levelRenders = window.filter((r, i) => i > 0 && r.level !== window[i - 1].level)
  const elapsed = Date.now() - started
  assert.ok(levelRenders.length <= Math.ceil(elapsed / frameMs) + 1, `${levelRenders.length} level renders in ${elapsed} ms`)
  // Levels do flow: at least half the frames carried a new one.
  assert.ok(levelRenders.length >= elapsed / frameMs / 2, `${levelRenders.length} level renders in ${elapsed} ms`)
  // Flushes are frameMs apart; a render lands a few ms after its flush, more on a busy machine
  // (98 ms was seen in CI), so the gap is bounded at 90 %. Uncoalesced levels would be 17 ms.
  for (let i = 1; i < levelRenders.length; i++) {
    const gap = levelRenders[i].at - levelRenders[i - 1].at
    assert.ok(gap >= frameMs * 0.9, `two level renders ${gap} ms apart`)
  }
  // Far fewer renders than level events: the stats say how many were delivered.
  const stats = probe.latest().stats
  assert.ok(stats && stats.framesCaptured > 0)
  const levelEvents = Math.round((elapsed / 1000) * 60)
  assert.ok(window.length < levelEvents / 2, `${window.length} renders for ~${levelEvents} level events`)
  assert.equal(probe.latest().error, null)

  await probe.latest().stop()
  await until('the stop rendered', () => probe.latest().state === 'idle')
  const last = probe.latest()
  assert.equal(last.level, null)
  assert.equal(last.speaking, false)
  assert.ok(last.stats.utterances >= 1, 'the speech was heard')
})

test('useCapture: a failed start is state, not a throw, and a later start with good options clears it', async (t) => {
  const missing = path.join(__dirname, 'no-such-file.wav')
  let options = { input: { file: missing }, daemon: false }
  const probe = await mount(() => options)
  t.after(() => probe.unmount())
  const { latest } = probe
  await latest().start() // resolves: never rejects
  await until('the failure rendered', () => latest().error !== null)
  assert.equal(latest().state, 'idle')
  assert.equal(latest().error.code, 'E_INVALID_INPUT')
  // Bad options, caught at construction: also state.
  options = { chunkMs: 5, daemon: false }
  await probe.rerender()
  await latest().start()
  await until('the next failure rendered', () => latest().error?.code !== 'E_INVALID_INPUT')
  assert.equal(latest().error.code, 'E_INVALID_OPTION')
  assert.equal(latest().state, 'idle')
  options = { ...fileInput }
  await probe.rerender()
  await latest().start({ paused: true })
  await until('paused', () => latest().state === 'paused')
  assert.equal(latest().error, null)
  assert.equal(latest().stats.chunksEmitted, 0)
  await latest().resume()
  await until('running', () => latest().state === 'running')
  await latest().stop()
  await until('idle', () => latest().state === 'idle')
  assert.ok(latest().stats.chunksEmitted > 0)
})

test('useCapture: 50 mounts and unmounts while capturing stop every capture, remove every listener and leak no thread', async (t) => {
  const live = countListeners(t)
  const warm = await mount({ ...fileInput, autoStart: true })
  await until('running', () => warm.latest().state === 'running')
  warm.unmount()
  await until('its listeners removed', () => live.size === 0)
  await sleep(200)
  const baseThreads = threads()
  const captures = []
  const { startCapture } = AudioCapture.prototype
  AudioCapture.prototype.startCapture = function (...args) {
    captures.push(this)
    return startCapture.apply(this, args)
  }
  t.after(() => (AudioCapture.prototype.startCapture = startCapture))
  for (let i = 0; i < 50; i++) {
    const probe = await mount({ ...fileInput, autoStart: true, vad: i % 2 === 0 })
    // Half are unmounted while still starting, half while running.
    if (i % 2 === 0) await until('running', () => probe.latest().state === 'running')
    probe.unmount()
  }
  await until('every listener removed', () => live.size === 0)
  await until('every capture stopped', () => captures.length === 50 && captures.every((c) => !c.isCapturing))
  await sleep(200)
  // Overlapping starts (an unmount while starting) widen tokio's blocking pool, whose idle
  // threads end after its 10 s keep-alive: every thread is gone by then, none is held.
  await until(`threads back to ${baseThreads}`, () => threads() <= baseThreads, 15_000)
  // A capture that finished starting after its unmount was stopped too, and none restarted.
  await sleep(300)
  assert.ok(captures.every((c) => !c.isCapturing))
})

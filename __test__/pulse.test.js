'use strict'
// The desktop route: a PulseAudio server (null sink, its monitor as the default source, a
// 440 Hz sine at 0.5 playing into it). cpal's native PulseAudio host is preferred when a
// server answers; ALSA through the pulse plugin still works when asked for.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')

const { releaseAfterTest } = require('./harness/leaks.js')
const { pulseAvailable, startPulse } = require('./harness/pulse.js')

// Skipped on a machine without PulseAudio, but never in CI, which installs it: there a skip
// would hide a broken install step, so it fails instead.
const skip = !pulseAvailable() && 'pulseaudio and pacat are not installed (.ci/run installs them)'
if (skip && process.env.CI) throw new Error(`CI=${process.env.CI}: ${skip}, so the PulseAudio tests cannot run`)
const HOST_CHILD = path.join(__dirname, 'harness', 'host-child.js')
const CLI = path.join(__dirname, '..', 'bin', 'stt-capture.js')

let pulse
before(async () => {
  if (skip) return
  pulse = await startPulse()
  pulse.play({ type: 'sine', freq: 440, amplitude: 0.5 })
})
after(async () => {
  await pulse?.stop()
})

function run(args) {
  const child = releaseAfterTest(spawn(process.execPath, args, { env: pulse.env, stdio: ['ignore', 'pipe', 'pipe'] }))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

test('with a PulseAudio server, the default is its native host; the monitor is listed and captured at the right level', { skip }, async () => {
  const devices = await run([CLI, 'devices'])
  assert.equal(devices.code, 0, devices.stderr)
  assert.equal(devices.stderr, '')
  assert.match(devices.stdout, /^\* pulseaudio:vsink\.monitor {2}Monitor of Null Output .*; pulseaudio\)$/m)

  const r = await run([HOST_CHILD, '', '1500', '2000'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '', 'nothing printed')
  const m = JSON.parse(r.stdout)
  assert.deepEqual(m.errors, [])
  assert.equal(m.framesDropped, 0)
  // f32: the stream of our libpulse reader (the server converts), not cpal's (i16 here).
  assert.match(m.device, /^48000 Hz 2 ch f32$/)
  // Steady 10 ms fragments, not the server's default 2 s bursts (the pipeline takes them in
  // at least once per chunk), and no gaps: within 0.25 % of every frame (cpal's stream lost
  // 0.5 % here, unseen, with 20 ms fragments).
  assert.ok(m.ringHighWater <= 4800 + 960, `ring high water ${m.ringHighWater} frames`)
  assert.ok(Math.abs(m.framesPerSecond - 48000) <= 120, `${m.framesPerSecond} frames/s`)
  // A 0.5 sine: RMS 0.354 = -9.03 dBFS (pulse may convert to 16-bit: ±0.1 dB).
  assert.ok(Math.abs(m.rmsDbfs - -9.03) < 0.2, `rms ${m.rmsDbfs} dBFS`)
  console.log(`# pulseaudio host: ${m.device}, ${m.framesPerSecond.toFixed(1)} frames/s (${m.chunksSeen} reads), ring high water ${m.ringHighWater}, CPU ${m.cpuPercent.toFixed(2)} % (started in ${m.startMs} ms)`)
})

test("host: 'alsa' goes through ALSA's pulse plugin to the same server", { skip }, async () => {
  const r = await run([HOST_CHILD, 'alsa', '1500', '2000'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  const m = JSON.parse(r.stdout)
  assert.deepEqual(m.errors, [])
  assert.ok(Math.abs(m.rmsDbfs - -9.03) < 0.2, `rms ${m.rmsDbfs} dBFS`)
  console.log(`# alsa host (pulse plugin): ${m.device}, ${m.callbacksPerSecond.toFixed(0)} callbacks/s, CPU ${m.cpuPercent.toFixed(2)} %`)
})

test('a PulseAudio server that goes away is a lost device: an error with a code, reopen attempts, a prompt stop, nothing printed', { skip }, async () => {
  const own = await startPulse()
  releaseAfterTest(own, (p) => p.stop())
  own.play({ type: 'sine', freq: 440, amplitude: 0.5 })
  const code = `
    const { AudioCapture } = require(${JSON.stringify(path.join(__dirname, '..', 'index.js'))})
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
    ;(async () => {
      const capture = new AudioCapture({ daemon: false })
      const errors = [], states = []
      capture.on('error', (e) => errors.push(e.code)).on('device', (d) => states.push(d.state))
      await capture.startCapture()
      const t0 = Date.now()
      while (capture.stats().framesCaptured === 0 && Date.now() - t0 < 5000) await sleep(5)
      process.stdout.write('capturing\\n')
      while (!errors.length && Date.now() - t0 < 10000) await sleep(5)
      await sleep(500)
      const s = Date.now()
      await capture.stopCapture()
      process.stdout.write(JSON.stringify({ errors, states, stopMs: Date.now() - s, format: capture.stats().sampleFormat }) + '\\n')
    })()`
  const child = releaseAfterTest(spawn(process.execPath, ['-e', code], { env: own.env, stdio: ['ignore', 'pipe', 'pipe'] }))
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no capture began: ${stdout} ${stderr}`)), 10000)
    child.stdout.on('data', (d) => {
      stdout += d
      if (stdout.includes('capturing')) clearTimeout(timer), resolve()
    })
  })
  await own.kill()
  const exitCode = await new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', r)))
  assert.equal(exitCode, 0, stderr)
  assert.equal(stderr, '', 'nothing printed')
  const m = JSON.parse(stdout.trim().split('\n').pop())
  assert.equal(m.format, 'f32', 'the libpulse reader was the one that lost its server')
  assert.deepEqual(m.errors.slice(0, 1), ['E_DEVICE_LOST'], JSON.stringify(m))
  assert.deepEqual(m.states.slice(0, 3), ['running', 'lost', 'reopening'], JSON.stringify(m))
  assert.ok(m.stopMs < 1000, `stopCapture took ${m.stopMs} ms`)
})

test('a paused capture corks its PulseAudio stream: no audio and about one wake-up a second; resume() brings fresh audio at once', { skip }, async () => {
  const code = `
    const { AudioCapture } = require(${JSON.stringify(path.join(__dirname, '..', 'index.js'))})
    const { frameRate } = require(${JSON.stringify(path.join(__dirname, 'harness', 'rate.js'))})
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
    ;(async () => {
      const capture = new AudioCapture({ daemon: false })
      const rate = frameRate(capture)
      const chunks = []
      const errors = []
      capture.on('chunk', (c) => chunks.push(c)).on('error', (e) => errors.push(e.code))
      await capture.startCapture()
      const t0 = Date.now()
      while (capture.stats().framesCaptured === 0 && Date.now() - t0 < 5000) await sleep(5)
      await sleep(1000)
      const measure = async (ms) => {
        const a = capture.stats()
        await sleep(ms)
        const b = capture.stats()
        return { frames: b.framesCaptured - a.framesCaptured, wakeups: b.pipelineWakeups - a.pipelineWakeups }
      }
      rate.on()
      const running = await measure(2000)
      rate.off()
      running.framesPerSecond = rate.framesPerSecond()
      const pausedAt = Date.now()
      capture.pause()
      await sleep(300)
      const paused = await measure(3000)
      const pausedMs = capture.stats().pausedMs
      const pausedFor = Date.now() - pausedAt
      const before = chunks.length
      const resumedAt = Date.now()
      capture.resume()
      while (chunks.length < before + 3 && Date.now() - resumedAt < 3000) await sleep(5)
      const firstChunkMs = Date.now() - resumedAt
      const after = chunks.slice(before + 1)
      const rms = Math.sqrt(after.flatMap((c) => Array.from(c.samples)).reduce((s, x) => s + x * x, 0) / Math.max(1, after.length * 1600))
      await capture.stopCapture()
      const s = capture.stats()
      process.stdout.write(JSON.stringify({ running, paused, pausedMs, pausedFor, firstChunkMs, rms, framesDropped: s.framesDropped, errors }) + '\\n')
    })()`
  const r = await run(['-e', code])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '', 'nothing printed')
  const m = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.deepEqual(m.errors, [])
  assert.equal(m.framesDropped, 0)
  // Running: 2 s of 48 kHz, read on the pipeline's own wake-ups (no thread of ours per
  // fragment), about once per chunk; more when the server's deliveries come in bursts, which
  // the null sink's sometimes do (cpal's stream woke its two threads 300-700 times a second).
  assert.ok(Math.abs(m.running.framesPerSecond - 48000) <= 120, `${m.running.framesPerSecond} frames/s`)
  assert.ok(m.running.wakeups >= 19 && m.running.wakeups <= 50, `${m.running.wakeups} wake-ups in 2 s`)
  // Corked: what was on its way at most, and the longest sleep between wake-ups.
  assert.ok(m.paused.frames <= 1920, `${m.paused.frames} frames while paused`)
  assert.ok(m.paused.wakeups <= 6, `${m.paused.wakeups} wake-ups in 3 s paused`)
  // pausedMs is exact although the paused pipeline sleeps up to a second.
  assert.ok(Math.abs(m.pausedMs - m.pausedFor) <= 50, `pausedMs ${m.pausedMs} after ${m.pausedFor} ms`)
  assert.ok(m.firstChunkMs <= 700, `three chunks ${m.firstChunkMs} ms after resume()`)
  // The 0.5 sine again: RMS 0.354 (the server may convert through 16 bits).
  assert.ok(Math.abs(m.rms - 0.3536) < 0.01, `rms ${m.rms} after resume`)
  console.log(`# pulseaudio: ${m.running.wakeups / 2} wake-ups/s running, ${(m.paused.wakeups / 3).toFixed(2)} paused; first 3 chunks ${m.firstChunkMs} ms after resume`)
})

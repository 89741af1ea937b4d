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
  assert.match(m.device, /^48000 Hz 2 ch /)
  // Steady 10 ms fragments, not the server's default 2 s bursts, and no gaps.
  assert.ok(m.ringHighWater <= 4800, `ring high water ${m.ringHighWater} frames`)
  assert.ok(Math.abs(m.framesPerSecond - 48000) < 48000 * 0.03, `${m.framesPerSecond} frames/s`)
  // A 0.5 sine: RMS 0.354 = -9.03 dBFS (pulse may convert to 16-bit: ±0.1 dB).
  assert.ok(Math.abs(m.rmsDbfs - -9.03) < 0.2, `rms ${m.rmsDbfs} dBFS`)
  console.log(`# pulseaudio host: ${m.device}, ${m.callbacksPerSecond.toFixed(0)} callbacks/s, CPU ${m.cpuPercent.toFixed(2)} % (started in ${m.startMs} ms)`)
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

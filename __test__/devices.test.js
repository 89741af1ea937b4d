'use strict'
// Devices and their troubles, through the real cpal ALSA path (the virtual microphone): the
// device list, asking for a rate and channel count, pause/resume, a device that stalls and
// comes back, and a device that delivers only zeros.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, replacingFeeder } = require('./harness/virtual-mic.js')
const { sleep, until } = require('./harness/observe.js')

const mic = setupVirtualMic()
const { AudioCapture, listInputDevices } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

const feeder = replacingFeeder(mic.fifo)
const feed = feeder.feed
after(() => feeder.stop())

function record(capture) {
  const seen = { chunks: 0, levels: [], errors: [], warnings: [], devices: [] }
  capture
    .on('chunk', () => seen.chunks++)
    .on('level', (l) => seen.levels.push(l))
    .on('error', (e) => seen.errors.push(e))
    .on('warning', (w) => seen.warnings.push(w))
    .on('device', (d) => seen.devices.push(d))
  return seen
}

test('listInputDevices() reports id, name, default, channels, rates, formats and host, with ids stable across calls', async () => {
  await feed({ type: 'silence' }) // probing the FIFO microphone needs a writer
  const first = await listInputDevices()
  const second = await listInputDevices()
  assert.deepEqual(second.map((d) => d.id), first.map((d) => d.id), 'same ids, same order')
  const mic = first.find((d) => d.isDefault)
  assert.ok(mic, JSON.stringify(first))
  assert.equal(mic.id, 'alsa:default')
  assert.equal(mic.host, 'alsa')
  assert.ok(mic.channels >= 2)
  assert.ok(mic.sampleRates.includes(48000), JSON.stringify(mic.sampleRates))
  assert.ok(mic.sampleFormats.includes('f32'), JSON.stringify(mic.sampleFormats))
  for (const d of first) {
    assert.equal(typeof d.name, 'string')
    assert.ok(Array.isArray(d.sampleFormats) && d.sampleFormats.length > 0, JSON.stringify(d))
  }
  await assert.rejects(new AudioCapture({ device: 'alsa:nope', daemon: false }).startCapture(), (e) => {
    assert.equal(e.code, 'E_NO_DEVICE')
    assert.match(e.message, /available: .*alsa:default/)
    return true
  })
})

/**
 * What ALSA itself opened: the `witness` device (the same microphone) writes what it captures
 * to `witness-<rate>-<channels>-<format>.raw`. Returns { name, bytes } per file, after
 * removing them all when `clear`.
 */
function witnessFiles({ clear = false } = {}) {
  const files = fs.readdirSync(mic.dir).filter((n) => n.startsWith('witness-'))
  if (clear) for (const n of files) fs.rmSync(path.join(mic.dir, n))
  return clear ? [] : files.map((name) => ({ name, bytes: fs.statSync(path.join(mic.dir, name)).size }))
}

/** Runs a capture of `options` for `ms` on the sine being fed; its stats, levels and device events. */
async function captureFor(options, ms) {
  const capture = new AudioCapture({ daemon: false, ...options })
  const seen = record(capture)
  try {
    await capture.startCapture()
    await sleep(ms)
  } finally {
    await capture.stopCapture()
  }
  return { stats: capture.stats(), seen }
}

test('device: the id and the exact name both open that device (ALSA writes its witness file), and no device option opens the default', async () => {
  await feed({ type: 'sine', freq: 440, amplitude: 0.5 })
  const witness = (await listInputDevices()).find((d) => d.id === 'alsa:witness')
  assert.equal(witness.name, 'witness test microphone')
  for (const device of [witness.id, witness.name]) {
    witnessFiles({ clear: true })
    const { stats, seen } = await captureFor({ device }, 600)
    assert.deepEqual(seen.devices.map((d) => [d.state, d.id, d.name]), [['running', 'alsa:witness', witness.name]], device)
    const files = witnessFiles()
    assert.deepEqual(files.map((f) => f.name), ['witness-48000-2-FLOAT_LE.raw'], device)
    // ALSA wrote every frame the callback got (and at most the period in flight at the stop).
    const frames = files[0].bytes / 8
    assert.ok(frames >= stats.framesCaptured && frames <= stats.framesCaptured + 2400, `${device}: ALSA ${frames}, callback ${stats.framesCaptured}`)
    assert.ok(seen.levels.at(-2).rms > 0.3, `${device}: the microphone's sine`)
  }
  witnessFiles({ clear: true })
  const { seen } = await captureFor({}, 300)
  assert.equal(seen.devices[0].id, 'alsa:default')
  assert.deepEqual(witnessFiles(), [], 'the default is not the witness')
})

test('sampleRate and channels ask the device for that configuration; one it cannot do is E_UNSUPPORTED_CONFIG with what it can', async () => {
  // ALSA's witness file names the configuration it was opened with.
  for (const [sampleRate, channels] of [
    [16000, 1],
    [22050, 2],
  ]) {
    await feed({ type: 'sine', freq: 440, amplitude: 0.5 }, { rate: sampleRate, channels })
    witnessFiles({ clear: true })
    const { stats, seen } = await captureFor({ device: 'alsa:witness', sampleRate, channels }, 600)
    const files = witnessFiles()
    assert.deepEqual(files.map((f) => f.name), [`witness-${sampleRate}-${channels}-FLOAT_LE.raw`], 'what ALSA opened')
    assert.equal(stats.deviceSampleRate, sampleRate)
    assert.equal(stats.deviceChannels, channels)
    const frames = files[0].bytes / (4 * channels)
    assert.ok(frames >= stats.framesCaptured && frames <= stats.framesCaptured + sampleRate / 20, `ALSA ${frames}, callback ${stats.framesCaptured}`)
    assert.ok(seen.levels.at(-2).rms > 0.3, 'the sine, read as the format it was written in')
  }
  // `twochannels` (same test ALSA configuration) can only do 2 channels.
  await feed({ type: 'silence' })
  const two = (await listInputDevices()).find((d) => d.id === 'alsa:twochannels')
  assert.equal(two.channels, 2)
  assert.ok(two.sampleFormats.every((f) => !f.startsWith('dsd')), 'PCM formats only')
  await assert.rejects(new AudioCapture({ device: two.id, channels: 4, daemon: false }).startCapture(), (e) => {
    assert.equal(e.code, 'E_UNSUPPORTED_CONFIG', e.message)
    assert.match(e.message, /cannot capture 4 channel\(s\) at 48000 Hz; it supports 2 ch \d+–\d+ Hz \(i8, u8, i16/)
    return true
  })
})

test('pause() keeps the stream open but sends nothing and reports silence; resume() carries on; both are harmless when repeated', async () => {
  await feed({ type: 'sine', freq: 440, amplitude: 0.5 })
  const capture = new AudioCapture({ daemon: false, levelHz: 20 })
  const seen = record(capture)
  capture.resume() // not capturing: harmless
  assert.equal(capture.isPaused, false)
  await capture.startCapture()
  await sleep(500)
  capture.resume() // running: harmless
  const framesAtPauseCall = capture.stats().framesCaptured
  const pausedFrom = Date.now()
  capture.pause()
  capture.pause()
  assert.equal(capture.isPaused, true)
  await sleep(100) // the chunk in progress and queued events
  const chunksAtPause = seen.chunks
  const levelsAtPause = seen.levels.length
  const framesAtPause = capture.stats().framesCaptured
  await sleep(1000)
  const pausedFor = Date.now() - pausedFrom
  const paused = capture.stats()
  assert.equal(paused.paused, true)
  assert.equal(seen.chunks, chunksAtPause, 'no chunk while paused')
  const pausedLevels = seen.levels.slice(levelsAtPause)
  assert.ok(pausedLevels.length >= 15, `levels keep coming while paused: ${pausedLevels.length}`)
  assert.ok(pausedLevels.every((l) => l.rms === 0 && l.rmsDbfs === -120), 'and report silence')
  assert.ok(paused.framesCaptured - framesAtPause > 40000, 'the stream stayed open')
  // Discarded: what arrived after the pause, plus what sat in the ring at that moment (< 50 ms).
  assert.ok(paused.framesPaused > 40000 && paused.framesPaused <= paused.framesCaptured - framesAtPauseCall + 2400, `${paused.framesPaused}`)
  // Counted on the pipeline's ticks: at most the time since pause(), less at most a late tick.
  assert.ok(paused.pausedMs <= pausedFor + 1 && paused.pausedMs >= pausedFor - 100, `pausedMs ${paused.pausedMs} after ${pausedFor} ms`)
  capture.resume()
  assert.equal(capture.isPaused, false)
  await sleep(500)
  await capture.stopCapture()
  const s = capture.stats()
  assert.ok(seen.chunks >= chunksAtPause + 4, 'chunks again after resume')
  assert.ok(seen.levels.at(-2).rms > 0.3, 'real levels again')
  assert.equal(s.paused, false)
  assert.equal(s.framesDropped, 0)
  // Everything not paused went through: 16 kHz samples = unpaused device frames / 3 (± the resampler's rounding).
  const expected = Math.floor(((s.framesCaptured - s.framesPaused) * 16000) / 48000)
  assert.ok(Math.abs(s.samplesEmitted - expected) <= 2, `${s.samplesEmitted} vs ${expected}`)
  assert.deepEqual(seen.errors, [])
})

test('a device that stops delivering raises E_DEVICE_STALLED and a stalled event once, then running again when audio returns', async () => {
  const f = await feed({ type: 'sine', freq: 440, amplitude: 0.5 }, { hold: true })
  const capture = new AudioCapture({ daemon: false, stallTimeoutMs: 400, autoReopen: false })
  const seen = record(capture)
  await capture.startCapture()
  await until(() => seen.errors.length > 0, 3000, 'the stall')
  await sleep(800) // still stalled: no second report
  assert.deepEqual(seen.errors.map((e) => e.code), ['E_DEVICE_STALLED'])
  assert.match(seen.errors[0].message, /no audio for 400 ms/)
  assert.equal(capture.stats().deviceState, 'stalled')
  f.release()
  await until(() => seen.devices.at(-1)?.state === 'running' && seen.devices.length >= 3, 3000, 'recovery')
  await sleep(300)
  await capture.stopCapture()
  const s = capture.stats()
  assert.deepEqual(seen.devices.map((d) => d.state), ['running', 'stalled', 'running'])
  assert.ok(seen.devices.every((d) => d.id === 'alsa:default' && d.name.length > 0))
  assert.equal(s.deviceStalls, 1)
  assert.equal(s.deviceState, 'off')
  assert.ok(seen.chunks > 0, 'audio flowed after the stall')
})

test('only exact zeros for silenceWarnMs: one W_ALL_ZERO_INPUT warning, not an error; quiet noise is not zeros', async () => {
  await feed({ type: 'silence' })
  const capture = new AudioCapture({ daemon: false, silenceWarnMs: 500 })
  const seen = record(capture)
  await capture.startCapture()
  await sleep(1800)
  await capture.stopCapture()
  assert.deepEqual(seen.warnings.map((w) => w.code), ['W_ALL_ZERO_INPUT'])
  assert.match(seen.warnings[0].message, /only exact zeros for 500 ms/)
  assert.deepEqual(seen.errors, [])

  await feed({ type: 'noise', amplitude: 1e-4 })
  const quiet = new AudioCapture({ daemon: false, silenceWarnMs: 500 })
  const q = record(quiet)
  await quiet.startCapture()
  await sleep(1200)
  await quiet.stopCapture()
  assert.deepEqual(q.warnings, [])
  // 0 turns the warning off: zeros for longer than the default 3000 ms raise nothing.
  await feed({ type: 'silence' })
  const off = new AudioCapture({ daemon: false, silenceWarnMs: 0 })
  const o = record(off)
  await off.startCapture()
  await sleep(3500)
  const offStats = off.stats()
  await off.stopCapture()
  assert.ok(offStats.framesCaptured >= 3 * 48000, `${offStats.framesCaptured} frames of zeros`)
  assert.deepEqual(o.warnings, [])
})

test('autoReopen: a device that stalls and disappears is opened again, with backoff, once it is back; the capture carries on', async () => {
  await feed({ type: 'sine', freq: 440, amplitude: 0.5 })
  const capture = new AudioCapture({ daemon: false, stallTimeoutMs: 400 })
  const seen = record(capture)
  await capture.startCapture()
  await sleep(500)
  const chunksBefore = seen.chunks
  // The microphone goes away: its writer stops (a holder keeps the FIFO open, so reads block
  // instead of seeing end-of-file) and the FIFO itself is removed, so reopening fails.
  const holder = fs.openSync(mic.fifo, fs.constants.O_RDWR)
  await feeder.stop()
  fs.unlinkSync(mic.fifo)
  await until(() => capture.stats().deviceReopenFailures >= 1, 5000, 'a failed reopen attempt')
  // Backoff: after the first failure, attempts follow 200, 400, 800, 1600 ms later, so 2.8 s
  // hold 4 (3 if the machine is slow). A retry every tick would be hundreds, a fixed 400 ms 8.
  await sleep(2800)
  const failures = capture.stats().deviceReopenFailures
  assert.ok(failures >= 3 && failures <= 5, `${failures} failed attempts in the first 2.8 s`)
  assert.equal(capture.stats().deviceReopens, 0)
  // It comes back.
  execFileSync('mkfifo', [mic.fifo])
  await feed({ type: 'sine', freq: 440, amplitude: 0.5 })
  await until(() => capture.stats().deviceReopens === 1, 8000, 'the reopen')
  const chunksAtReopen = seen.chunks
  await sleep(600)
  await capture.stopCapture()
  fs.closeSync(holder)
  const s = capture.stats()
  const states = seen.devices.map((d) => d.state)
  assert.deepEqual(states.slice(0, 3), ['running', 'stalled', 'reopening'])
  assert.equal(states.at(-1), 'running')
  assert.ok(seen.devices.every((d) => d.id === 'alsa:default'), JSON.stringify(seen.devices))
  assert.deepEqual(seen.errors.map((e) => e.code).slice(0, 1), ['E_DEVICE_STALLED'])
  assert.equal(seen.errors.filter((e) => /reopening the device/.test(e.message)).length, 1, 'one report for all failed attempts')
  assert.ok(s.deviceReopenFailures >= 2)
  assert.equal(s.deviceReopens, 1)
  assert.ok(seen.chunks >= chunksAtReopen + 4, 'audio flows again after the reopen')
  assert.ok(chunksAtReopen >= chunksBefore)
  assert.ok(seen.levels.at(-2).rms > 0.3, 'and it is the microphone again')
})


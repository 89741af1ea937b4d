'use strict'
// Devices and their troubles, through the real cpal ALSA path (the virtual microphone): the
// device list, asking for a rate and channel count, pause/resume, a device that stalls and
// comes back, and a device that delivers only zeros.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')

const fs = require('node:fs')
const { execFileSync } = require('node:child_process')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { sleep, until } = require('./harness/observe.js')

const mic = setupVirtualMic()
const { AudioCapture, listInputDevices } = require('../index.js')

let feeder = null
async function feed(signal, options) {
  if (feeder) await feeder.stop()
  feeder = startFeeder(mic.fifo, signal, options)
  return feeder
}
after(async () => {
  if (feeder) await feeder.stop()
})

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
  // `device` accepts the id and the exact name.
  for (const device of [mic.id, mic.name]) {
    const capture = new AudioCapture({ device, daemon: false })
    await capture.startCapture()
    await capture.stopCapture()
  }
  await assert.rejects(new AudioCapture({ device: 'alsa:nope', daemon: false }).startCapture(), (e) => {
    assert.equal(e.code, 'E_NO_DEVICE')
    assert.match(e.message, /available: .*alsa:default/)
    return true
  })
})

test('sampleRate and channels ask the device for that configuration; one it cannot do is E_UNSUPPORTED_CONFIG with what it can', async () => {
  await feed({ type: 'sine', freq: 440, amplitude: 0.5 })
  const capture = new AudioCapture({ sampleRate: 16000, channels: 1, daemon: false })
  await capture.startCapture()
  await sleep(300)
  const s = capture.stats()
  await capture.stopCapture()
  assert.equal(s.deviceSampleRate, 16000)
  assert.equal(s.deviceChannels, 1)
  assert.ok(s.framesCaptured > 0)
  // The virtual microphone takes any rate and channel count; `twochannels` (same test ALSA
  // configuration) only 2 channels.
  const two = (await listInputDevices()).find((d) => d.id === 'alsa:twochannels')
  assert.equal(two.channels, 2)
  assert.ok(two.sampleFormats.every((f) => !f.startsWith('dsd')), 'PCM formats only')
  await assert.rejects(new AudioCapture({ device: two.id, channels: 4, daemon: false }).startCapture(), (e) => {
    assert.equal(e.code, 'E_UNSUPPORTED_CONFIG', e.message)
    assert.match(e.message, /cannot capture 4 channel\(s\) at 48000 Hz; it supports 2 ch \d+–\d+ Hz \(i8, u8, i16/)
    return true
  })
  const ok = new AudioCapture({ device: two.id, channels: 2, sampleRate: 22050, daemon: false })
  await ok.startCapture()
  assert.equal(ok.stats().deviceSampleRate, 22050)
  await ok.stopCapture()
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
  capture.pause()
  capture.pause()
  assert.equal(capture.isPaused, true)
  await sleep(100) // the chunk in progress and queued events
  const chunksAtPause = seen.chunks
  const levelsAtPause = seen.levels.length
  const framesAtPause = capture.stats().framesCaptured
  await sleep(1000)
  const paused = capture.stats()
  assert.equal(paused.paused, true)
  assert.equal(seen.chunks, chunksAtPause, 'no chunk while paused')
  const pausedLevels = seen.levels.slice(levelsAtPause)
  assert.ok(pausedLevels.length >= 15, `levels keep coming while paused: ${pausedLevels.length}`)
  assert.ok(pausedLevels.every((l) => l.rms === 0 && l.rmsDbfs === -120), 'and report silence')
  assert.ok(paused.framesCaptured - framesAtPause > 40000, 'the stream stayed open')
  // Discarded: what arrived after the pause, plus what sat in the ring at that moment (< 50 ms).
  assert.ok(paused.framesPaused > 40000 && paused.framesPaused <= paused.framesCaptured - framesAtPauseCall + 2400, `${paused.framesPaused}`)
  assert.ok(paused.pausedMs >= 900 && paused.pausedMs <= 1300, `pausedMs ${paused.pausedMs}`)
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
  feeder = null
  fs.unlinkSync(mic.fifo)
  await until(() => capture.stats().deviceReopenFailures >= 2, 5000, 'failed reopen attempts')
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

'use strict'
// File input goes through the same ring, resampler, chunker and transport as a microphone:
// the daemon receives exactly the same samples for the same signal either way.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, startFeeder, RATE, CHANNELS } = require('./harness/virtual-mic.js')
const { sampleAt } = require('./harness/signals.js')
const { writeWav } = require('./harness/wav.js')
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

const NOISE = { type: 'noise', amplitude: 0.5 }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
let daemon

before(async () => {
  daemon = await startLegacyDaemon(path.join(mic.dir, 'stt.sock'))
})

after(async () => {
  await daemon.close()
})

/** Starts a capture and resolves, with its stats, once the file input has ended and stopped. */
async function playToEnd(options) {
  const capture = new AudioCapture({ socketPath: daemon.socketPath, ...options })
  const errors = []
  capture.on('error', (e) => errors.push(e))
  const ended = new Promise((resolve) => capture.on('end', resolve))
  await capture.startCapture()
  const end = await ended
  await capture.stopCapture()
  return { end, errors, stats: capture.stats() }
}

test('a WAV file reaches the daemon as exactly the samples the live microphone path gives for the same signal', async () => {
  // Live: the feeder holds until the capture runs, so the capture's first frame is frame 0.
  const feeder = startFeeder(mic.fifo, NOISE, { hold: true })
  const live = new AudioCapture({ socketPath: daemon.socketPath, clientId: 'live' })
  await live.startCapture()
  feeder.release()
  await sleep(2500)
  await live.stopCapture()
  await feeder.stop()
  const liveStats = live.stats()
  assert.equal(liveStats.framesDropped, 0)

  // The same signal from a file: 48 kHz stereo f32, like the virtual microphone.
  const frames = 2 * RATE
  const file = writeWav(path.join(mic.dir, 'noise.wav'), {
    rate: RATE,
    channels: CHANNELS,
    format: 'f32',
    frames,
    sample: (ch, i) => sampleAt(NOISE, RATE, ch, i),
  })
  const { end, errors, stats } = await playToEnd({ clientId: 'file', input: { file, realtime: false } })
  assert.deepEqual(errors, [])
  assert.equal(end.frames, frames)
  assert.equal(end.durationMs, 2000)
  assert.equal(stats.framesCaptured, frames)
  assert.equal(stats.framesDropped, 0)
  assert.equal(stats.deviceSampleRate, RATE)
  assert.equal(stats.deviceChannels, CHANNELS)
  assert.equal(stats.sampleFormat, 'f32')

  const fromLive = daemon.allSamples('live')
  const fromFile = daemon.allSamples('file')
  assert.equal(fromFile.length, (frames * 16000) / RATE)
  assert.equal(fromLive.length, Math.floor((liveStats.framesCaptured * 16000) / RATE))
  assert.ok(fromLive.length > fromFile.length, 'the live capture ran longer than the file')
  // Identical up to the file's last 100 ms, where its end (the resampler's flush) differs.
  const n = fromFile.length - 1600
  let firstDifference = -1
  for (let i = 0; i < n; i++) {
    if (fromLive[i] !== fromFile[i]) {
      firstDifference = i
      break
    }
  }
  assert.equal(firstDifference, -1, `first difference at sample ${firstDifference}`)
  assert.ok(fromFile.some((v) => v !== 0))
})

test('file input: paced in real time by default, looped on request, and bad files rejected with E_INVALID_INPUT', async () => {
  const dir = mic.dir
  const tone = (ch, i) => 0.25 * Math.sin((2 * Math.PI * 1000 * i) / 22050)
  const short = writeWav(path.join(dir, 'short.wav'), { rate: 22050, channels: 1, format: 'i16', frames: 22050 / 2, sample: tone })

  // Real time: 0.5 s of audio takes about 0.5 s.
  const t0 = Date.now()
  const { end, stats } = await playToEnd({ daemon: false, input: { file: short } })
  const took = Date.now() - t0
  assert.equal(end.frames, 22050 / 2)
  assert.ok(took >= 450 && took < 2000, `took ${took} ms`)
  assert.equal(stats.samplesEmitted, 8000)
  assert.equal(stats.sampleFormat, 'i16')

  // Looped: runs past the end without an end event, and restarts seamlessly.
  const looped = new AudioCapture({ daemon: false, input: { file: short, loop: true, realtime: false } })
  let ended = false
  looped.on('end', () => (ended = true))
  await looped.startCapture()
  await sleep(500)
  await looped.stopCapture()
  assert.equal(ended, false)
  assert.ok(looped.stats().framesCaptured > 3 * 11025, `${looped.stats().framesCaptured} frames`)

  // 24-bit 6-channel 96 kHz plays too.
  const wide = writeWav(path.join(dir, 'wide.wav'), { rate: 96000, channels: 6, format: 'i24', frames: 9600, sample: tone })
  const w = await playToEnd({ daemon: false, input: { file: wide, realtime: false } })
  assert.equal(w.stats.samplesEmitted, 1600)
  assert.equal(w.stats.sampleFormat, 'i24')
  assert.equal(w.stats.deviceChannels, 6)

  // Bad files.
  fs.writeFileSync(path.join(dir, 'text.wav'), 'not a wav at all')
  writeWav(path.join(dir, 'double.wav'), { rate: 16000, channels: 1, format: 'f64', frames: 100, sample: tone })
  writeWav(path.join(dir, 'empty.wav'), { rate: 16000, channels: 1, format: 'i16', frames: 0, sample: tone })
  const cases = [
    ['missing.wav', /No such file/],
    ['text.wav', /not a valid WAV/],
    ['double.wav', /not supported|unsupported/],
    ['empty.wav', /no audio/],
    ['.', /directory/],
  ]
  for (const [name, reason] of cases) {
    const file = path.join(dir, name)
    const capture = new AudioCapture({ daemon: false, input: { file } })
    await assert.rejects(capture.startCapture(), (e) => {
      assert.equal(e.code, 'E_INVALID_INPUT', `${name}: ${e.message}`)
      assert.match(e.message, reason)
      assert.ok(e.message.includes(file), e.message)
      return true
    })
    assert.equal(capture.isCapturing, false)
  }

  // A truncated file plays what it has, then reports the error and ends.
  const whole = fs.readFileSync(short)
  const cut = path.join(dir, 'cut.wav')
  fs.writeFileSync(cut, whole.subarray(0, 44 + 2 * 4000 + 1))
  const t = await playToEnd({ daemon: false, input: { file: cut, realtime: false } })
  assert.equal(t.end.frames, 4000)
  assert.deepEqual(t.errors.map((e) => e.code), ['E_INVALID_INPUT'])
  assert.match(t.errors[0].message, /after 4000 frames/)
})

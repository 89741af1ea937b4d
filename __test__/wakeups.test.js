'use strict'
// What a capture costs follows what wakes it (BENCHMARKS.md, "Against the peers"): the
// pipeline wakes about once per chunk, plus once per level event someone listens to and a few
// times a second for the capture clock, never on a fast fixed timer; a stopped capture never
// wakes; and the voice activity detector that `mode` turned on scores audio only while
// something takes its result. Through the real cpal ALSA path (the virtual microphone).
// Counts and bounds only: the CPU itself is measured by `npm run bench:peers`.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { releaseAfterTest, stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, replacingFeeder } = require('./harness/virtual-mic.js')
const { speechTimeline } = require('./harness/speech.js')
const { sleep, until } = require('./harness/observe.js')
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-wakeups-'))
const feeder = replacingFeeder(mic.fifo)
const feed = feeder.feed
after(async () => {
  await feeder.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Pipeline wake-ups per second of captured audio over the next `ms`. */
async function wakeupsPerSecond(capture, ms) {
  const a = capture.stats()
  await sleep(ms)
  const b = capture.stats()
  const seconds = (b.framesCaptured - a.framesCaptured) / b.deviceSampleRate
  assert.ok(seconds > (ms / 1000) * 0.8, `the device delivered ${seconds} s in ${ms} ms`)
  return (b.pipelineWakeups - a.pipelineWakeups) / seconds
}

test('the pipeline wakes about once per chunk (after the clock\'s first two seconds), and once more per level a listener takes; a stopped capture never', async () => {
  await feed({ type: 'sine', freq: 440, amplitude: 0.5 })
  const capture = new AudioCapture({ daemon: false, levelHz: 30 })
  let chunks = 0
  capture.on('chunk', () => chunks++)
  await capture.startCapture()
  // The stream's first two seconds: the pipeline looks after every callback (5 ms here), so
  // that the capture clock's first seconds hold observations close behind callbacks.
  await sleep(2500)
  const warmUp = capture.stats()
  assert.ok(warmUp.pipelineWakeups >= 300 && warmUp.pipelineWakeups <= 600, `${warmUp.pipelineWakeups} wake-ups in the first 2.5 s`)
  // Then 10 chunks a second, the clock's probe (a few polls every second for its first
  // 12 s, every 2 s after) and the odd early wake that tries again: a fixed 5 ms timer
  // would make 200.
  const chunksOnly = await wakeupsPerSecond(capture, 3000)
  assert.ok(chunksOnly >= 9.5 && chunksOnly <= 20, `${chunksOnly.toFixed(1)} wake-ups/s with only a chunk listener`)

  let levels = 0
  const onLevel = () => levels++
  capture.on('level', onLevel)
  const withLevels = await wakeupsPerSecond(capture, 3000)
  assert.ok(levels >= 80, `${levels} levels in 3 s at 30 Hz`)
  assert.ok(withLevels >= 29 && withLevels <= 50, `${withLevels.toFixed(1)} wake-ups/s with levels at 30 Hz too`)
  capture.off('level', onLevel)

  // The virtual microphone's ALSA `file` plugin says it can pause, then delivers on: the
  // capture treats it as a device that cannot pause (its audio discarded twice a second),
  // and the stream stays healthy.
  capture.pause()
  await sleep(1200)
  const paused = await wakeupsPerSecond(capture, 2000)
  assert.ok(paused <= 3, `${paused.toFixed(1)} wake-ups/s while paused`)
  console.log(`# pipeline wake-ups: ${warmUp.pipelineWakeups} in the first 2.5 s; per second after: ${chunksOnly.toFixed(1)} (chunks), ${withLevels.toFixed(1)} (and levels), ${paused.toFixed(1)} (paused)`)
  const chunksAtResume = chunks
  capture.resume()
  await until(() => chunks >= chunksAtResume + 5, 2000, 'chunks after resume')

  await capture.stopCapture()
  const stopped = capture.stats().pipelineWakeups
  await sleep(500)
  assert.equal(capture.stats().pipelineWakeups, stopped, 'a stopped capture does not wake')
  assert.equal(capture.stats().framesDropped, 0)
})

test('the voice activity detector that mode turned on scores audio only while something takes its result', async () => {
  const speech = speechTimeline([300, { text: 'the birch canoe slid on the smooth planks', voice: 'en', wpm: 170 }, 300])
  // Looped: speech throughout the test.
  const looped = new Float32Array(speech.data.length * 8)
  for (let i = 0; i < 8; i++) looped.set(speech.data, i * speech.data.length)
  await feed({ type: 'samples', data: looped })
  const daemon = releaseAfterTest(await startLegacyDaemon(path.join(dir, 'legacy.sock')))
  // mode 'auto' (the default) on the legacy protocol streams, and turns the detector on for
  // utterances; here nothing takes them.
  const capture = new AudioCapture({ protocol: 'legacy', socketPath: daemon.socketPath })
  const voice = []
  const errors = []
  capture.on('error', (e) => errors.push(e))
  await capture.startCapture()
  await sleep(1500)
  assert.equal(capture.stats().daemonMode, 'stream')
  assert.equal(capture.stats().vadFrames, 0, 'nobody takes voice activity: not one frame scored')
  assert.ok(capture.stats().chunksSent >= 10, 'while the chunks stream')

  const onVoice = (v) => voice.push(v)
  capture.on('voice', onVoice)
  await sleep(2500)
  const listened = capture.stats()
  // 16 ms frames: 2.5 s is about 156.
  assert.ok(listened.vadFrames >= 120, `${listened.vadFrames} frames scored while listened to`)
  assert.ok(voice.some((v) => v.state === 'speech'), `speech heard: ${JSON.stringify(voice.map((v) => v.state))}`)
  assert.ok(listened.speechMs > 0 || voice.at(-1).state === 'speech')

  capture.off('voice', onVoice)
  await sleep(300) // the block in progress
  const after = capture.stats().vadFrames
  await sleep(1500)
  assert.equal(capture.stats().vadFrames, after, 'not scored again once nobody listens')
  await capture.stopCapture()
  assert.deepEqual(errors, [])
  await daemon.close()
})

test('with vad given, the detector scores every frame, listened to or not', async () => {
  await feed({ type: 'sine', freq: 440, amplitude: 0.5 })
  const capture = new AudioCapture({ daemon: false, vad: true })
  await capture.startCapture()
  await sleep(2000)
  await capture.stopCapture()
  const s = capture.stats()
  const expected = (s.samplesEmitted / 256) | 0
  assert.ok(s.vadFrames >= expected - 2 && s.vadFrames <= expected, `${s.vadFrames} frames scored of ${expected}`)
})

'use strict'
// The daemon's batch route (the one batch models, most local ones, take): utterances to
// `POST /v1/transcribe` (legacy: `transcribe`), `mode: 'auto'` finding out which route a
// daemon serves, the batch error table, and what is kept at the edges (a pause on a realtime
// daemon, a stop while the daemon restarts). Through the real ALSA path (the virtual
// microphone, espeak-ng speech) and the reference daemons on real Unix sockets.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { releaseAfterTest, stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { speechTimeline, RATE } = require('./harness/speech.js')
const { sleep, until, invariantHolds } = require('./harness/observe.js')
const { startV1Daemon } = require('../daemon/v1-daemon.js')
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

const TOKEN = 'stt_batch_test_token'
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-batch-'))
let feeder = null
after(async () => {
  if (feeder) await feeder.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const SENTENCES = [
  800,
  { text: 'the birch canoe slid on the smooth planks', voice: 'en', wpm: 170 },
  1300,
  { text: 'glue the sheet to the dark blue background', voice: 'en-us', wpm: 160 },
  1300,
  { text: 'four hours of steady work faced us', voice: 'en+f3', wpm: 180 },
  1500,
]
let speech = null
const sentences = () => (speech ??= speechTimeline(SENTENCES))

let socketCount = 0
const socketPath = () => path.join(dir, `d${socketCount++}.sock`)

function record(capture) {
  const seen = { utterances: [], transcriptions: [], errors: [], daemon: [], chunks: 0, reads: 0, violations: [] }
  capture
    .on('utterance', (u) => seen.utterances.push(u))
    .on('transcription', (t) => seen.transcriptions.push(t))
    .on('error', (e) => seen.errors.push(e))
    .on('daemon', (d) => seen.daemon.push(d))
    .on('chunk', () => seen.chunks++)
  seen.timer = setInterval(() => {
    const s = capture.stats()
    seen.reads++
    const utterancesHold = s.utterancesQueued === s.utterancesSent + s.utterancesDroppedQueue + s.utterancesFailed + s.utterancesSuperseded + s.utterancesPending
    const chunksHold = s.chunksQueued === s.chunksSent + s.chunksDroppedQueue + s.chunksFailed + s.chunksSuperseded + s.sendQueueDepth
    if (!utterancesHold || !chunksHold) seen.violations.push(s)
  }, 5)
  return seen
}

/** Feeds `data` from its first frame to a capture with `options`; resolves once fed. */
async function run(data, options, { during } = {}) {
  if (feeder) await feeder.stop()
  feeder = startFeeder(mic.fifo, { type: 'samples', data }, { hold: true })
  const capture = new AudioCapture(options)
  const seen = record(capture)
  try {
    await capture.startCapture(options.waitForDaemon ? { waitForDaemon: true } : undefined)
    feeder.release()
    await during?.(capture, seen)
    await until(() => feeder.framesWritten() >= data.length + RATE / 2, 60_000, 'the audio fed')
  } finally {
    await capture.stopCapture()
    await sleep(50)
    clearInterval(seen.timer)
  }
  assert.deepEqual(seen.violations, [], 'queued = sent + dropped + failed + superseded + pending, at every read')
  return { capture, seen, stats: capture.stats() }
}

/** Every utterance transcribed once, in order, from exactly its samples. */
function assertTranscribedOnce(seen, transcribed) {
  assert.equal(seen.transcriptions.length, seen.utterances.length, JSON.stringify(seen.transcriptions.map((t) => t.text)))
  seen.transcriptions.forEach((t, i) => {
    const u = seen.utterances[i]
    assert.equal(t.final, true)
    assert.equal(t.utteranceId, u.id, 'in order')
    assert.equal(t.startMs, u.startMs)
    assert.equal(t.endMs, u.endMs)
    assert.ok(t.latencyMs >= 0 && t.latencyMs < 10_000, `latency ${t.latencyMs}`)
    assert.equal(t.text, `utterance of ${u.samples.length} samples (${(u.samples.length / 16000).toFixed(2)} s) at ${t.text.split(' at ')[1]}`)
  })
  assert.equal(transcribed.length, seen.utterances.length, 'one request each: none lost, none twice')
  transcribed.forEach((samples, i) => assert.deepEqual(samples, seen.utterances[i].samples, `utterance ${i}: the daemon has exactly its samples`))
}

for (const [name, options] of [
  ['v1, a batch model that refuses the realtime upgrade', { model: 'batch', batchRefusal: 'refuse' }],
  ['v1, a batch model that accepts the upgrade and closes it without a word', { model: 'batch', batchRefusal: 'close' }],
]) {
  test(`auto against ${name}: three sentences, three final transcriptions, the same audio, one connection attempt`, async () => {
    const daemon = await startV1Daemon(socketPath(), { tokens: { [TOKEN]: ['transcribe'] }, ...options })
    try {
      const { seen, stats } = await run(sentences().data, { protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN })
      assert.equal(seen.utterances.length, 3)
      assertTranscribedOnce(seen, daemon.record.transcribes.filter((t) => t.status === 200).map((t) => t.samples))
      // Decided on the first connection attempt; then `auto` looks again before each utterance
      // (every request is a connection of its own), in case the user switched models.
      assert.equal(daemon.record.upgrades.length, 1 + 3)
      assert.equal(stats.connectFailures, 0)
      assert.equal(seen.daemon.filter((d) => d.state === 'connected').length, 1)
      assert.equal(daemon.record.sessions.length, 0, 'no audio streamed')
      assert.equal(stats.daemonMode, 'utterances')
      assert.equal(seen.daemon[0].mode, 'utterances')
      // Audio from before the decision is not lost: the first utterance holds the first onset.
      assert.ok(seen.utterances[0].startSample <= Math.round(sentences().truth[0].start / 3))
      assert.equal(stats.utterancesSent, 3)
      assert.equal(stats.utterancesFailed + stats.utterancesDroppedQueue, 0)
      assert.ok(stats.chunksSuperseded >= 0 && stats.chunksSent === 0)
      assert.ok(stats.transcriptionLatencyP50Ms > 0)
      assert.deepEqual(seen.errors, [])
    } finally {
      await daemon.close()
    }
  })
}

test('mode utterances on the legacy protocol: the transcribe command, with the same audio', async () => {
  const daemon = releaseAfterTest(await startLegacyDaemon(socketPath()))
  try {
    const { seen, stats } = await run(sentences().data, { protocol: 'legacy', socketPath: daemon.socketPath, mode: 'utterances', language: 'en' })
    assert.equal(seen.utterances.length, 3)
    assertTranscribedOnce(seen, daemon.record.transcribes.map((t) => t.samples))
    assert.ok(daemon.record.transcribes.every((t) => t.language === 'en'))
    assert.equal(stats.daemonMode, 'utterances')
    assert.equal(daemon.record.requests.filter((r) => r.command === 'realtime_audio').length, 0)
  } finally {
    await daemon.close()
  }
})

test('the daemon switches from a batch model to a realtime one between connections: the link follows', async () => {
  const daemon = await startV1Daemon(socketPath(), { tokens: { [TOKEN]: ['transcribe'] }, model: 'batch' })
  try {
    const { seen, stats } = await run(sentences().data, { protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN, reconnectInitialMs: 20 }, {
      during: async (_capture, seen) => {
        await until(() => seen.transcriptions.length >= 1, 20_000, 'a first transcription')
        daemon.setModel('realtime')
        await daemon.stop()
        await daemon.restart()
        await until(() => seen.daemon.filter((d) => d.state === 'connected').length >= 2, 10_000, 'the reconnection')
      },
    })
    const modes = seen.daemon.filter((d) => d.state === 'connected').map((d) => d.mode)
    assert.deepEqual(modes, ['utterances', 'stream'])
    assert.equal(stats.daemonMode, 'stream')
    assert.ok(daemon.record.sessions.length >= 1 && daemon.record.audioFrames > 10, 'audio streamed to the realtime model')
    assert.ok(stats.utterancesSent >= 1)
  } finally {
    await daemon.close()
  }
})

test('409 not_ready at first, 429 once and a daemon restart mid-utterance lose nothing and duplicate nothing', async () => {
  const daemon = await startV1Daemon(socketPath(), { tokens: { [TOKEN]: ['transcribe'] }, model: 'batch', notReadyForMs: 5000, transcribeDelayMs: 300 })
  try {
    daemon.injectTranscribe(429, 'rate_limited', 1)
    const { seen, stats } = await run(sentences().data, { protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN, reconnectInitialMs: 50 }, {
      during: async (_capture, seen) => {
        // The second sentence is being spoken: restart the daemon while it is.
        await until(() => seen.utterances.length >= 1, 20_000, 'the first utterance')
        await sleep(800)
        await daemon.stop()
        await sleep(300)
        await daemon.restart()
      },
    })
    const statuses = daemon.record.transcribes.map((t) => t.status)
    assert.ok(statuses.includes(409) && statuses.includes(429), JSON.stringify(statuses))
    assertTranscribedOnce(seen, daemon.record.transcribes.filter((t) => t.status === 200).map((t) => t.samples))
    assert.equal(stats.utterancesFailed, 0)
    assert.deepEqual(seen.errors, [])
  } finally {
    await daemon.close()
  }
})

test('400 and 500 each give one E_DAEMON_ERROR with the daemon\'s code, and the capture goes on', async () => {
  const daemon = await startV1Daemon(socketPath(), { tokens: { [TOKEN]: ['transcribe'] }, model: 'batch' })
  try {
    daemon.injectTranscribe(400, 'invalid_audio', 1)
    daemon.injectTranscribe(500, 'inference_failed', 1)
    const { seen, stats } = await run(sentences().data, { protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN })
    assert.equal(seen.utterances.length, 3)
    assert.deepEqual(seen.errors.map((e) => e.code), ['E_DAEMON_ERROR', 'E_DAEMON_ERROR'])
    assert.match(seen.errors[0].message, /invalid_audio/)
    assert.match(seen.errors[1].message, /inference_failed/)
    assert.equal(stats.utterancesFailed, 2)
    assert.equal(stats.utterancesFailedByReason.rejected, 2)
    assert.equal(stats.utterancesSent, 1)
    assert.equal(seen.transcriptions.length, 1)
    assert.equal(seen.transcriptions[0].utteranceId, 2, 'the third one, after the two refused')
  } finally {
    await daemon.close()
  }
})

test('a pause longer than a realtime daemon\'s idle timeout delivers the pre-pause result and resumes on a new session', async () => {
  const daemon = await startV1Daemon(socketPath(), { tokens: { [TOKEN]: ['transcribe'] }, idleTimeoutMs: 1000, previewEverySamples: 0 })
  try {
    const { seen, stats } = await run(sentences().data, { protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN, mode: 'stream' }, {
      during: async (capture) => {
        await sleep(2500)
        capture.pause()
        await sleep(2500) // 2.5 × the idle timeout
        capture.resume()
      },
    })
    const sessions = daemon.record.sessions
    assert.equal(sessions.length, 2, 'a new session after the pause')
    assert.equal(sessions[0].stopped, true, 'the pre-pause session was ended with stop')
    assert.equal(sessions[0].closedBy, 'daemon', 'after its done, not by the idle timeout')
    assert.ok(sessions.every((s) => s.closedBy !== 'idle'))
    const finals = seen.transcriptions.filter((t) => t.final)
    assert.equal(finals.length, 2, 'the done of each session reached JS')
    assert.equal(finals[0].text, `heard ${sessions[0].samples} samples`)
    assert.ok(seen.daemon.some((d) => d.state === 'idle'))
    assert.deepEqual(seen.errors, [])
    assert.equal(stats.chunksSent, stats.chunksQueued)
  } finally {
    await daemon.close()
  }
})

test('a stop while the daemon restarts for 1 s waits for it and loses nothing', async () => {
  const daemon = releaseAfterTest(await startLegacyDaemon(socketPath()))
  try {
    const capture = new AudioCapture({ protocol: 'legacy', socketPath: daemon.socketPath, mode: 'stream', reconnectInitialMs: 50 })
    if (feeder) await feeder.stop()
    feeder = startFeeder(mic.fifo, { type: 'noise', amplitude: 0.1 })
    const errors = []
    capture.on('error', (e) => errors.push(e))
    await capture.startCapture()
    await sleep(1000)
    await daemon.stop()
    setTimeout(() => daemon.restart(), 1000)
    await capture.stopCapture()
    const s = capture.stats()
    assert.ok(invariantHolds(s))
    assert.equal(s.chunksFailed, 0, JSON.stringify(s.chunksFailedByReason))
    assert.equal(s.chunksSent, s.chunksEmitted)
    const received = daemon.allSamples(capture.clientId).length
    assert.equal(received, s.samplesEmitted, 'every sample reached the daemon')
    assert.deepEqual(errors, [])
  } finally {
    await daemon.close()
  }
})

test('mode options are validated', () => {
  assert.throws(() => new AudioCapture({ mode: 'batch' }), (e) => e.code === 'E_INVALID_OPTION' && /mode/.test(e.message))
  assert.throws(() => new AudioCapture({ mode: 'utterances', vad: false }), (e) => e.code === 'E_INVALID_OPTION' && /vad/.test(e.message))
  assert.throws(() => new AudioCapture({ stopTimeoutMs: -1 }), (e) => e.code === 'E_INVALID_OPTION' && /stopTimeoutMs/.test(e.message))
  assert.doesNotThrow(() => new AudioCapture({ mode: 'stream', vad: false }))
})

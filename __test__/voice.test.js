'use strict'
// Voice activity and utterances (`vad`), through the real cpal ALSA path: espeak-ng speech
// with silences at known positions fed to the virtual microphone, from its frame 0.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')

const { stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { speechTimeline, RATE } = require('./harness/speech.js')
const { sleep, until } = require('./harness/observe.js')
const { concatSamples } = require('./signal.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

/** 16 kHz samples in 100 ms: the tolerance of a boundary. */
const TOLERANCE = 1600
const to16k = (frame48k) => Math.round(frame48k / 3)

let feeder = null
after(async () => {
  if (feeder) await feeder.stop()
})

function record(capture) {
  const seen = { chunks: [], voice: [], utterances: [], errors: [] }
  capture
    .on('chunk', (c) => seen.chunks.push(c))
    .on('voice', (v) => seen.voice.push(v))
    .on('utterance', (u) => seen.utterances.push(u))
    .on('error', (e) => seen.errors.push(e))
  return seen
}

/** Starts `options` on `signal` from its first frame; returns the capture and what it saw. */
async function capture(signal, options) {
  if (feeder) await feeder.stop()
  feeder = startFeeder(mic.fifo, signal, { hold: true })
  const c = new AudioCapture({ daemon: false, ...options })
  const seen = record(c)
  await c.startCapture()
  feeder.release()
  return { c, seen }
}

/** Waits until the feeder has written `frames` (48 kHz) plus `extraMs`. */
async function fedThrough(frames, extraMs = 0) {
  await until(() => feeder.framesWritten() >= frames + (extraMs / 1000) * RATE, 120_000, `${frames} frames fed`)
}

/** The chunk stream's samples over [start, end) (16 kHz indices). */
function chunkRange(seen, start, end) {
  return concatSamples(seen.chunks).subarray(start, end)
}

function alternates(voice) {
  return voice.every((v, i) => v.state === (i % 2 === 0 ? 'speech' : 'silence'))
}

const SENTENCES = [
  1200,
  { text: 'the quick brown fox jumps over the lazy dog', voice: 'en', wpm: 160 },
  1500,
  { text: 'please call stella and ask her to bring these things', voice: 'en-us', wpm: 140 },
  1800,
  { text: 'the weather today is sunny with a light breeze', voice: 'en+f3', wpm: 190 },
  1500,
]

test('three sentences: one utterance each, boundaries within 100 ms, pre-roll holding the onset, the same samples as the chunks', async () => {
  const speech = speechTimeline(SENTENCES)
  const { c, seen } = await capture({ type: 'samples', data: speech.data }, { vad: true })
  await fedThrough(speech.frames, 300)
  await c.stopCapture()
  await sleep(50)
  assert.deepEqual(seen.errors, [])
  assert.equal(seen.utterances.length, 3, JSON.stringify(seen.utterances.map((u) => [u.startSample, u.endSample, u.reason])))
  assert.equal(seen.voice.length, 6)
  assert.ok(alternates(seen.voice), JSON.stringify(seen.voice))
  speech.truth.forEach((truth, i) => {
    const [onset, offset] = [to16k(truth.start), to16k(truth.end)]
    const [speechStart, speechEnd] = [seen.voice[2 * i], seen.voice[2 * i + 1]]
    assert.ok(Math.abs(speechStart.sample - onset) <= TOLERANCE, `sentence ${i}: onset ${speechStart.sample} vs ${onset}`)
    assert.ok(Math.abs(speechEnd.sample - offset) <= TOLERANCE, `sentence ${i}: offset ${speechEnd.sample} vs ${offset}`)
    const u = seen.utterances[i]
    assert.equal(u.id, i)
    assert.equal(u.reason, 'silence')
    // Pre-roll: the utterance holds the true onset (and the true offset, with its hangover).
    assert.ok(u.startSample <= onset && u.endSample >= offset, `sentence ${i}: [${u.startSample}, ${u.endSample}) vs [${onset}, ${offset})`)
    assert.ok(u.startSample <= speechStart.sample && u.endSample >= speechEnd.sample, 'it holds its voice events')
    assert.equal(u.samples.length, u.endSample - u.startSample)
    assert.deepEqual(u.samples, chunkRange(seen, u.startSample, u.endSample), 'the chunks carry the same samples')
    const span = u.endMs - u.startMs
    assert.ok(span > 0 && Math.abs(span - u.samples.length / 16) < 1, `sentence ${i}: ${span} ms for ${u.samples.length / 16} ms of samples`)
  })
  const s = c.stats()
  assert.equal(s.utterances, 3)
  assert.ok(s.vadFrames >= Math.floor(to16k(speech.frames) / 256) - 2, `${s.vadFrames} frames scored`)
  const spoken = speech.truth.reduce((n, t) => n + (t.end - t.start) / 48, 0)
  assert.ok(Math.abs(s.speechMs - spoken) < 600, `speechMs ${s.speechMs} vs ${spoken}`)
  assert.equal(s.utteranceEventsDropped, 0)
})

test('digital silence and white noise at -40 dBFS make no utterance', async () => {
  for (const signal of [{ type: 'silence' }, { type: 'noise', amplitude: 0.01 * Math.sqrt(3) }]) {
    const { c, seen } = await capture(signal, { vad: true })
    await fedThrough(5 * RATE)
    await c.stopCapture()
    await sleep(50)
    assert.deepEqual(seen.utterances, [], signal.type)
    assert.deepEqual(seen.voice, [], signal.type)
    assert.ok(c.stats().vadFrames > 250, signal.type)
  }
})

test('a 40 s monologue with maxUtteranceMs 15000 is split into utterances that together hold every sample once', async () => {
  const text =
    'Once upon a time there was a small village by the sea where the fishermen went out every morning before dawn ' +
    'and came back in the evening with their boats full of fish. The children would run down to the harbour to meet ' +
    'them and help carry the baskets up the narrow streets to the market square, where the whole village gathered ' +
    'to trade and to talk about the weather, the tides and the news from the towns along the coast. In the winter ' +
    'the storms were fierce and the boats stayed in the harbour for days, and the old sailors told stories by the ' +
    'fire about the great ships they had seen and the faraway lands they had visited when they were young.'
  const speech = speechTimeline([500, { text, wpm: 165 }, 1500])
  assert.ok(speech.frames / RATE > 30, `${speech.frames / RATE} s of monologue`)
  const { c, seen } = await capture({ type: 'samples', data: speech.data }, { vad: { maxUtteranceMs: 15000, minSilenceMs: 2500 } })
  await fedThrough(speech.frames)
  await c.stopCapture()
  await sleep(50)
  const u = seen.utterances
  assert.ok(u.length >= 3, `${u.length} utterances`)
  assert.ok(u.slice(0, -1).every((x) => x.reason === 'max-length'), JSON.stringify(u.map((x) => x.reason)))
  assert.ok(u.every((x) => x.samples.length <= 15 * 16000))
  for (let i = 1; i < u.length; i++) assert.equal(u[i].startSample, u[i - 1].endSample, `utterance ${i} continues ${i - 1}`)
  const all = concatSamples(u)
  assert.deepEqual(all, chunkRange(seen, u[0].startSample, u.at(-1).endSample), 'every sample once, as the chunks carry them')
  assert.ok(u[0].startSample <= to16k(speech.truth[0].start))
})

test('pause() and stopCapture() in the middle of speech end the utterance with their reason', async () => {
  const long = { text: 'this sentence goes on and on for quite a while so that we can interrupt it in the middle of speaking', wpm: 120 }
  const speech = speechTimeline([600, long, 300, long, 300, long])
  const { c, seen } = await capture({ type: 'samples', data: speech.data }, { vad: true })
  await until(() => seen.voice.length === 1, 10_000, 'speech')
  await sleep(500)
  c.pause()
  // pause() returns once the pipeline has ended the utterance: its event is on its way.
  await until(() => seen.utterances.length === 1, 1000, 'the paused utterance')
  assert.equal(seen.utterances[0].reason, 'pause')
  assert.equal(seen.voice.at(-1).state, 'silence')
  await sleep(300)
  c.resume()
  await until(() => seen.voice.length === 3, 10_000, 'speech after resume')
  await sleep(500)
  await c.stopCapture()
  await sleep(50)
  assert.equal(seen.utterances.length, 2)
  assert.equal(seen.utterances[1].reason, 'stop')
  assert.ok(alternates(seen.voice) && seen.voice.length === 4, JSON.stringify(seen.voice.map((v) => v.state)))
  assert.ok(seen.utterances[1].startSample >= seen.utterances[0].endSample)
})

test('bad vad options are refused naming the field', () => {
  const bad = [
    [{ vad: 'on' }, 'vad'],
    [{ vad: 1 }, 'vad'],
    [{ vad: { threshold: 2 } }, 'vad.threshold'],
    [{ vad: { threshold: Number.NaN } }, 'vad.threshold'],
    [{ vad: { minSpeechMs: 5 } }, 'vad.minSpeechMs'],
    [{ vad: { minSilenceMs: 12.5 } }, 'vad.minSilenceMs'],
    [{ vad: { preRollMs: 5000 } }, 'vad.preRollMs'],
    [{ vad: { maxUtteranceMs: 100 } }, 'vad.maxUtteranceMs'],
    [{ vad: { threshhold: 0.5 } }, 'threshhold'],
  ]
  for (const [options, name] of bad) {
    assert.throws(() => new AudioCapture(options), (e) => e.code === 'E_INVALID_OPTION' && e.message.includes(name), JSON.stringify(options))
  }
  assert.doesNotThrow(() => new AudioCapture({ vad: false }))
  assert.doesNotThrow(() => new AudioCapture({ vad: { threshold: 0.6, preRollMs: 0 } }))
})

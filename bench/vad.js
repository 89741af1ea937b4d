#!/usr/bin/env node
'use strict'
// `npm run bench:vad [-- --set tuning|heldout --only NAME --rates 48k-stereo,16k-mono
// --skip-decibri]`: voice
// activity accuracy on a labelled set (bench/vad/dataset.js), for this addon (`vad: true`,
// through the real cpal ALSA path: the virtual microphone, in real time) and for decibri's
// VAD in its energy and Silero modes (its File reader over the same audio as WAV, which runs
// the detector its Microphone runs, in file time). Prints a table per rate and writes
// target/vad-bench/results.json.
const fs = require('node:fs')
const path = require('node:path')
const { setupVirtualMic, startFeeder } = require('../__test__/harness/virtual-mic.js')
const { conditions, readRaw, ROOT } = require('./vad/dataset.js')
const { score, segmentsFrom } = require('./vad/metrics.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('..')

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : process.argv[i + 1]
}
const ONLY = arg('only', null)
const RATES = arg('rates', '48k-stereo,16k-mono').split(',')
const SET = arg('set', 'tuning')
const SKIP_DECIBRI = process.argv.includes('--skip-decibri')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** This addon through the virtual microphone: speech segments from its `voice` events. */
async function ours(condition, rate) {
  const file = condition.files[rate]
  const data = readRaw(file.raw)
  const shared = new Float32Array(new SharedArrayBuffer(data.length * 4))
  shared.set(data)
  const feeder = startFeeder(mic.fifo, { type: 'samples', data: shared }, { hold: true, rate: file.rate, channels: file.channels })
  const capture = new AudioCapture({ daemon: false, sampleRate: file.rate, channels: file.channels, vad: true })
  const events = []
  const utterances = []
  capture.on('voice', (v) => events.push({ speech: v.state === 'speech', at: v.sample / 16000 }))
  capture.on('utterance', (u) => utterances.push(u.reason))
  await capture.startCapture()
  feeder.release()
  while (feeder.framesWritten() < data.length + file.rate / 2) await sleep(50)
  await capture.stopCapture()
  await sleep(50)
  await feeder.stop()
  const stats = capture.stats()
  return { segments: segmentsFrom(events, condition.seconds), utterances: utterances.length, dropped: stats.framesDropped }
}

/**
 * decibri's File reader with its VAD, over the same audio. Its events are per 100 ms chunk in
 * file time: `speech` as a chunk at or over the threshold is read (that chunk's start), and
 * `silence` once the holdoff (300 ms) of quieter chunks has passed (speech ended where they
 * began).
 */
async function decibri(condition, rate, mode) {
  const { File } = require('decibri')
  const file = await File.open(condition.files[rate].wav, { vad: mode, channels: 1 })
  const chunk = 0.1
  const holdoff = 0.3
  let at = 0
  const events = []
  file.on('data', (c) => (at += c.length / 2 / 16000))
  // Emitted while a chunk is read, before it is delivered: `at` is that chunk's start.
  file.on('speech', () => events.push({ speech: true, at }))
  file.on('silence', () => events.push({ speech: false, at: at + chunk - holdoff }))
  await new Promise((resolve, reject) => {
    file.on('end', resolve)
    file.on('error', reject)
  })
  const segments = segmentsFrom(events, condition.seconds)
  return { segments, utterances: segments.length, dropped: 0 }
}

const pct = (x) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '–')
const ms = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–')

async function main() {
  const list = conditions({ set: SET }).filter((c) => !ONLY || c.name === ONLY)
  const systems = [['stt-capture (earshot)', (c, r) => ours(c, r)]]
  if (!SKIP_DECIBRI) {
    systems.push(['decibri 5.7 energy', (c, r) => decibri(c, r, 'energy')])
    systems.push(['decibri 5.7 silero', (c, r) => decibri(c, r, 'silero')])
  }
  const results = []
  for (const rate of RATES) {
    for (const condition of list) {
      for (const [system, run] of systems) {
        const r = await run(condition, rate)
        const s = score(condition.truth, r.segments, condition.seconds)
        results.push({ rate, condition: condition.name, system, ...s, utterances: r.utterances, framesDropped: r.dropped })
        process.stderr.write(`${rate} ${condition.name} ${system}: F1 ${pct(s.f1)} onset ${ms(s.onsetMedianMs)} ms, ${s.missed} missed, ${s.falseSegments} false\n`)
      }
    }
  }
  fs.writeFileSync(path.join(ROOT, SET, 'results.json'), JSON.stringify(results, null, 2))
  for (const rate of RATES) {
    console.log(`\n${SET} set, ${rate} through the virtual microphone (this addon); the same audio as WAV (decibri)\n`)
    console.log('| condition | system | precision | recall | F1 | onset p50 / p90 ms | offset p50 / p90 ms | missed | false |')
    console.log('|---|---|---|---|---|---|---|---|---|')
    for (const r of results.filter((x) => x.rate === rate)) {
      const f1 = r.condition.endsWith('alone') ? '–' : pct(r.f1)
      console.log(
        `| ${r.condition} | ${r.system} | ${pct(r.precision)} | ${pct(r.recall)} | ${f1} | ${ms(r.onsetMedianMs)} / ${ms(r.onsetP90Ms)} | ${ms(r.offsetMedianMs)} / ${ms(r.offsetP90Ms)} | ${r.missed} | ${r.falseSegments} |`,
      )
    }
  }
  const dropped = results.reduce((n, r) => n + r.framesDropped, 0)
  console.log(`\nframes dropped by the capture over every run: ${dropped}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

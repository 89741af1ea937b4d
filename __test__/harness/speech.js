'use strict'
// Speech with known boundaries, made here (espeak-ng and sox, which .ci/run installs):
// sentences separated by silences of known length, as 48 kHz mono f32 in shared memory for
// the virtual microphone (signal `{ type: 'samples', data }`), with where each sentence's
// speech begins and ends.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const RATE = 48000

/** One sentence as 48 kHz mono samples. `voice` and `wpm` as espeak-ng's -v and -s. */
function speak(text, { voice = 'en', wpm = 160 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-speech-'))
  try {
    const wav = path.join(dir, 's.wav')
    const raw = path.join(dir, 's.raw')
    execFileSync('espeak-ng', ['-v', voice, '-s', String(wpm), '-w', wav, text])
    execFileSync('sox', [wav, '-r', String(RATE), '-c', '1', '-b', '32', '-e', 'floating-point', '-t', 'raw', raw])
    const bytes = fs.readFileSync(raw)
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4).slice()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** First and last sample louder than `floor`: where the sentence's speech is. */
function extent(samples, floor = 0.01) {
  let first = 0
  while (first < samples.length && Math.abs(samples[first]) < floor) first++
  let last = samples.length - 1
  while (last > first && Math.abs(samples[last]) < floor) last--
  return [first, last + 1]
}

/**
 * `parts`: an array of silences (a number of ms) and sentences (`{ text, voice?, wpm? }`),
 * in order. Returns `{ data, truth, frames }`: the samples (backed by a SharedArrayBuffer),
 * each sentence's speech as `{ start, end }` in 48 kHz frames, and the length.
 */
function speechTimeline(parts, { gain = 0.5 } = {}) {
  const pieces = []
  const truth = []
  let at = 0
  for (const part of parts) {
    if (typeof part === 'number') {
      const n = Math.round((part / 1000) * RATE)
      pieces.push(new Float32Array(n))
      at += n
      continue
    }
    const s = speak(part.text, part)
    const [first, last] = extent(s)
    truth.push({ start: at + first, end: at + last, text: part.text })
    pieces.push(s.map((x) => x * gain))
    at += s.length
  }
  const data = new Float32Array(new SharedArrayBuffer(at * 4))
  let i = 0
  for (const p of pieces) {
    data.set(p, i)
    i += p.length
  }
  return { data, truth, frames: at }
}

module.exports = { speak, extent, speechTimeline, RATE }

'use strict'
// The labelled set for the voice activity benchmark, made here with espeak-ng and sox:
// sentences in several voices and rates separated by silences of known length, mixed with
// white noise, pink noise and babble (overlapping quiet speech) at a chosen SNR, and noise
// alone. Every condition exists as 48 kHz stereo and 16 kHz mono: raw f32 for the virtual
// microphone and WAV for file readers. Cached under target/vad-bench.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { speak, extent } = require('../../__test__/harness/speech.js')

const ROOT = path.join(__dirname, '..', '..', 'target', 'vad-bench')
const RATE = 48000

// The set the detector's constants were tuned on ("tuning"), and one kept apart to check
// them ("heldout"): other sentences, voices, rates, gaps and noise.
const TUNING = [
  ['the birch canoe slid on the smooth planks', 'en', 160],
  ['glue the sheet to the dark blue background', 'en-us', 140],
  ['it is easy to tell the depth of a well', 'en+f3', 190],
  ['these days a chicken leg is a rare dish', 'en+m3', 170],
  ['rice is often served in round bowls', 'en-gb', 150],
  ['the juice of lemons makes fine punch', 'en+f2', 200],
  ['the box was thrown beside the parked truck', 'en', 130],
  ['the hogs were fed chopped corn and garbage', 'en-us', 180],
  ['four hours of steady work faced us', 'en+f3', 160],
  ['a large size in stockings is hard to sell', 'en+m3', 145],
  ['the boy was there when the sun rose', 'en-gb', 175],
  ['a rod is used to catch pink salmon', 'en+f2', 155],
]
const HELDOUT = [
  ['the small pup gnawed a hole in the sock', 'en-us', 165],
  ['the fish twisted and turned on the bent hook', 'en+m3', 150],
  ['press the pants and sew a button on the vest', 'en-gb', 185],
  ['the swan dive was far short of perfect', 'en+f3', 140],
  ['the beauty of the view stunned the young boy', 'en', 175],
  ['two blue fish swam in the tank', 'en+f2', 160],
  ['her purse was full of useless trash', 'en-us', 195],
  ['the colt reared and threw the tall rider', 'en+m3', 135],
  ['it snowed rained and hailed the same morning', 'en-gb', 170],
  ['read verse out loud for pleasure', 'en+f3', 150],
]
const SETS = {
  tuning: { sentences: TUNING, gaps: [1200, 900, 1600, 700, 2000, 1100, 1400, 800, 1800, 1000, 1300, 1500, 1200], seed: 12345, pinkOffset: 0, babbleShift: 0 },
  heldout: { sentences: HELDOUT, gaps: [900, 1700, 1000, 2200, 750, 1300, 1900, 850, 1500, 1100, 1000], seed: 777, pinkOffset: 24000, babbleShift: 3 },
}
const BABBLE_TEXTS = [
  'the source of the huge river is the clear spring',
  'kick the ball straight and follow through',
  'help the woman get back to her feet',
  'a pot of tea helps to pass the evening',
  'smoky fires lack flame and heat',
  'the soft cushion broke the mans fall',
]

/** A deterministic white noise source in [-1, 1). */
function white(n, seed) {
  let x = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = (x >>> 0) / 2 ** 31 - 1
  }
  return out
}

function readRaw(file) {
  const bytes = fs.readFileSync(file)
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4).slice()
}

function pink(n, dir, offset) {
  const file = path.join(dir, `pink-${n}.raw`)
  if (!fs.existsSync(file)) {
    execFileSync('sox', ['-R', '-n', '-r', String(RATE), '-c', '1', '-b', '32', '-e', 'floating-point', '-t', 'raw', file, 'synth', String(n / RATE + 2), 'pinknoise'])
  }
  // Different sets start at different points of the noise.
  return readRaw(file).subarray(offset, offset + n)
}

/** Six voices talking at once, each looping its sentence from its own offset. */
function babble(n, shift) {
  const out = new Float32Array(n)
  BABBLE_TEXTS.forEach((text, k) => {
    const s = speak(text, { voice: ['en', 'en-us', 'en+f3', 'en+m3', 'en-gb', 'en+f2'][k], wpm: 170 })
    const offset = Math.floor((((k + shift) % BABBLE_TEXTS.length) * s.length) / BABBLE_TEXTS.length)
    for (let i = 0; i < n; i++) out[i] += s[(i + offset) % s.length]
  })
  return out
}

const power = (xs) => xs.reduce((p, x) => p + x * x, 0) / Math.max(1, xs.length)

/** The clean speech and its labels, made once. */
function speech(set) {
  const { sentences, gaps } = set
  const pieces = []
  const truth = []
  let at = 0
  const silence = (ms) => {
    const n = Math.round((ms / 1000) * RATE)
    pieces.push(new Float32Array(n))
    at += n
  }
  silence(gaps[0])
  sentences.forEach(([text, voice, wpm], i) => {
    const s = speak(text, { voice, wpm }).map((x) => x * 0.5)
    const [first, last] = extent(s, 0.005)
    truth.push({ start: (at + first) / RATE, end: (at + last) / RATE })
    pieces.push(s)
    at += s.length
    silence(gaps[i + 1])
  })
  const data = new Float32Array(at)
  let i = 0
  for (const p of pieces) {
    data.set(p, i)
    i += p.length
  }
  return { data, truth }
}

function speechPower(data, truth) {
  let sum = 0
  let n = 0
  for (const t of truth) {
    for (let i = Math.floor(t.start * RATE); i < t.end * RATE; i++) {
      sum += data[i] * data[i]
      n++
    }
  }
  return sum / n
}

/**
 * Writes a condition's 48 kHz mono mix as the files the benchmark reads: raw mono f32 at
 * 48 and 16 kHz (the virtual microphone puts the mono signal on every channel) and WAVs of
 * what the microphone delivers (48 kHz stereo, 16 kHz mono).
 */
function write(dir, name, mono) {
  const base = path.join(dir, name)
  const raw48 = `${base}.48k-mono.raw`
  fs.writeFileSync(raw48, Buffer.from(mono.buffer, mono.byteOffset, mono.byteLength))
  const f32 = ['-b', '32', '-e', 'floating-point']
  execFileSync('sox', ['-t', 'raw', '-r', String(RATE), '-c', '1', ...f32, raw48, '-t', 'raw', '-r', '16000', ...f32, `${base}.16k-mono.raw`])
  execFileSync('sox', ['-t', 'raw', '-r', String(RATE), '-c', '1', ...f32, raw48, '-c', '2', `${base}.48k-stereo.wav`, 'remix', '1', '1'])
  execFileSync('sox', ['-t', 'raw', '-r', '16000', '-c', '1', ...f32, `${base}.16k-mono.raw`, `${base}.16k-mono.wav`])
}

/**
 * Every condition: `{ name, noise, snr, truth, seconds, files: { '48k-stereo': {raw, wav},
 * '16k-mono': {...} } }`. `noiseOnlySeconds` of each noise alone at -40 dBFS too.
 */
function conditions({ set: setName = 'tuning', snrs = [20, 10, 5], noiseOnlySeconds = 60 } = {}) {
  const set = SETS[setName]
  if (!set) throw new Error(`no labelled set ${setName}; sets: ${Object.keys(SETS).join(', ')}`)
  const DIR = path.join(ROOT, setName)
  fs.mkdirSync(DIR, { recursive: true })
  const index = path.join(DIR, 'index.json')
  const key = JSON.stringify({ snrs, noiseOnlySeconds, set, version: 2 })
  if (fs.existsSync(index)) {
    const cached = JSON.parse(fs.readFileSync(index, 'utf8'))
    if (cached.key === key) return cached.conditions
  }
  const { data, truth } = speech(set)
  const n = data.length
  const ps = speechPower(data, truth)
  const noises = { white: white(n, set.seed), pink: pink(n, DIR, set.pinkOffset), babble: babble(n, set.babbleShift) }
  const list = [{ name: 'clean', noise: 'none', snr: Infinity, mix: data, truth }]
  for (const [noise, samples] of Object.entries(noises)) {
    const pn = power(samples)
    for (const snr of snrs) {
      const gain = Math.sqrt(ps / (pn * 10 ** (snr / 10)))
      list.push({ name: `${noise}-${snr}db`, noise, snr, mix: data.map((x, i) => x + gain * samples[i]), truth })
    }
    const alone = noiseOnlySeconds * RATE
    const source = noise === 'white' ? white(alone, set.seed + 1) : noise === 'pink' ? pink(alone, DIR, set.pinkOffset) : babble(alone, set.babbleShift + 1)
    const g = 0.01 / Math.sqrt(power(source)) // -40 dBFS RMS
    list.push({ name: `${noise}-alone`, noise, snr: -Infinity, mix: source.map((x) => x * g), truth: [] })
  }
  const out = list.map(({ name, noise, snr, mix, truth }) => {
    write(DIR, name, mix)
    const base = path.join(DIR, name)
    return {
      name,
      noise,
      snr,
      truth,
      seconds: mix.length / RATE,
      files: {
        '48k-stereo': { raw: `${base}.48k-mono.raw`, wav: `${base}.48k-stereo.wav`, rate: 48000, channels: 2 },
        '16k-mono': { raw: `${base}.16k-mono.raw`, wav: `${base}.16k-mono.wav`, rate: 16000, channels: 1 },
      },
    }
  })
  fs.writeFileSync(index, JSON.stringify({ key, conditions: out }))
  return out
}

module.exports = { conditions, readRaw, ROOT, SETS }

'use strict'
// Paced FIFO writer: one 240-frame period (1920 bytes, an atomic pipe write) every 5 ms by
// wall clock, without bursting to catch up. Opens the FIFO read-write so cpal's repeated
// open/close while probing never blocks or SIGPIPEs it.
const fs = require('node:fs')
const { workerData, parentPort } = require('node:worker_threads')

const { fifo, signal, rate, channels, periodFrames, control } = workerData
const fd = fs.openSync(fifo, fs.constants.O_RDWR)
const buf = Buffer.alloc(periodFrames * channels * 4)
const periodMs = (periodFrames / rate) * 1000
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Deterministic white noise in [-1, 1): a hash of the frame index (same on every channel). */
function noise(i) {
  let x = (i + 0x9e3779b9) | 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  x ^= x >>> 16
  return (x >>> 0) / 2 ** 31 - 1
}

function sample(ch, i) {
  const t = i / rate
  switch (signal.type) {
    case 'sine':
      return signal.amplitude * Math.sin(2 * Math.PI * signal.freq * t)
    case 'stereo-sines': {
      const s = ch === 0 ? signal.left : signal.right
      return s.amplitude * Math.sin(2 * Math.PI * s.freq * t)
    }
    case 'noise':
      return signal.amplitude * noise(i)
    default:
      return 0
  }
}

let frame = 0
let next = performance.now()
while (Atomics.load(control, 0) === 0) {
  for (let f = 0; f < periodFrames; f++) {
    for (let ch = 0; ch < channels; ch++) {
      buf.writeFloatLE(sample(ch, frame + f), (f * channels + ch) * 4)
    }
  }
  fs.writeSync(fd, buf)
  frame += periodFrames
  Atomics.add(control, 1, 1)
  next += periodMs
  const wait = next - performance.now()
  if (wait > 0) Atomics.wait(sleeper, 0, 0, wait)
  else next = performance.now() // late: no burst to catch up
}
fs.closeSync(fd)
parentPort.postMessage({ framesWritten: frame })

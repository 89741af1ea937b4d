'use strict'
// Paced FIFO writer: one 240-frame period (1920 bytes, an atomic pipe write) every 5 ms by
// wall clock, without bursting to catch up. Opens the FIFO read-write so cpal's repeated
// open/close while probing never blocks or SIGPIPEs it.
const fs = require('node:fs')
const { workerData, parentPort } = require('node:worker_threads')
const { sampleAt } = require('./signals.js')

const { fifo, signal, rate, channels, periodFrames, control } = workerData
const fd = fs.openSync(fifo, fs.constants.O_RDWR)
const buf = Buffer.alloc(periodFrames * channels * 4)
const periodMs = (periodFrames / rate) * 1000
const sleeper = new Int32Array(new SharedArrayBuffer(4))

const sample = (ch, i) => sampleAt(signal, rate, ch, i)

// Held: write nothing (the capture's reads block) until released, so the capture's first
// frame is the signal's frame 0.
while (Atomics.load(control, 2) === 0 && Atomics.load(control, 0) === 0) Atomics.wait(control, 2, 0, 20)

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

'use strict'
// Paced FIFO writer: period n (5 ms of frames, one atomic pipe write) is due at
// start + n × period / (1 + ppm/1e6), an absolute schedule: a writer that wakes late writes the
// periods it owes at once, in whole periods, so its long-run rate is exact (or exactly `ppm`
// off, for clock tests). Opens the FIFO read-write so cpal's repeated open/close while probing
// never blocks or SIGPIPEs it. Records each period's due time (monotonic ms) in `writtenAt`.
const fs = require('node:fs')
const { workerData, parentPort } = require('node:worker_threads')
const { sampleAt } = require('./signals.js')

const { fifo, signal, rate, channels, periodFrames, control, writtenAt, ppm } = workerData
const fd = fs.openSync(fifo, fs.constants.O_RDWR)
const buf = Buffer.alloc(periodFrames * channels * 4)
const periodMs = (periodFrames / rate) * 1000 / (1 + ppm / 1e6)
// Owing more than this is not lateness but a reader that went away (the FIFO was full and the
// write blocked): start the schedule again rather than burst seconds of audio into a new reader.
const MAX_OWED = 200
const sleeper = new Int32Array(new SharedArrayBuffer(4))
// CLOCK_MONOTONIC in ms: the clock the addon's capture clock fits against (the reader converts
// to wall-clock time). The schedule runs on it too: performance.now() in a worker was seen ms
// away from it within seconds.
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6

const sample = (ch, i) => sampleAt(signal, rate, ch, i)

// Held: write nothing (the capture's reads block) until released, so the capture's first
// frame is the signal's frame 0.
while (Atomics.load(control, 2) === 0 && Atomics.load(control, 0) === 0) Atomics.wait(control, 2, 0, 20)

let period = 0
let start = monotonicMs()
let scheduled = 0 // periods of the current schedule written
while (Atomics.load(control, 0) === 0) {
  const frame = period * periodFrames
  for (let f = 0; f < periodFrames; f++) {
    for (let ch = 0; ch < channels; ch++) {
      buf.writeFloatLE(sample(ch, frame + f), (f * channels + ch) * 4)
    }
  }
  // The period's due time is when this "device" captured it; a late write is late delivery.
  writtenAt[period % writtenAt.length] = start + scheduled * periodMs
  fs.writeSync(fd, buf)
  period++
  scheduled++
  Atomics.store(control, 1, period)
  const now = monotonicMs()
  const wait = start + scheduled * periodMs - now
  if (wait > 0) Atomics.wait(sleeper, 0, 0, wait)
  else if (-wait > MAX_OWED * periodMs) {
    start = now
    scheduled = 0
    Atomics.add(control, 3, 1)
  }
}
fs.closeSync(fd)
parentPort.postMessage({ framesWritten: period * periodFrames })

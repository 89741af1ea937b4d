'use strict'
// Captures from a virtual microphone whose feeder runs `ppm` off the wall clock, streaming
// to the reference daemon at `socket`, and compares every chunk's `capturedAtMs` with the
// feeder's own record of when it wrote the chunk's first frame. argv: ppm, seconds, socket.
// Prints one JSON line.
const { setupVirtualMic, startFeeder } = require('./virtual-mic.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../../index.js')

const [ppm, seconds, socketPath] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]]
const SETTLE_MS = 10_000
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main() {
  // Held until the capture reads, so the capture's frame 0 is the feeder's frame 0.
  const feeder = startFeeder(mic.fifo, { type: 'noise', amplitude: 0.3 }, { hold: true, ppm })
  const capture = new AudioCapture({ socketPath, clientId: `clock${ppm}` })
  const chunks = []
  const errors = []
  capture.on('chunk', (c) => chunks.push({ seq: c.seq, capturedAtMs: c.capturedAtMs, samples: c.samples.length }))
  capture.on('error', (e) => errors.push(e.code))
  let summary
  try {
    await capture.startCapture()
    feeder.release()
    await sleep(15_000)
    const early = capture.stats()
    await sleep(seconds * 1000 - 15_000)
    const late = capture.stats()
    await capture.stopCapture()
    const final = capture.stats()
    // Chunk `seq` starts at 16 kHz sample seq × 1600, device frame seq × 4800: the boundary
    // after period seq × 4800 / 240 − 1, which the feeder wrote at writtenAt(that period).
    const first = chunks[0].capturedAtMs
    const framesPerChunk = 4800
    const offsets = []
    for (const c of chunks) {
      if (c.seq < 1 || c.samples !== 1600) continue
      const truth = feeder.writtenAt((c.seq * framesPerChunk) / feeder.periodFrames - 1)
      if (truth === undefined) continue
      offsets.push({ atMs: c.capturedAtMs - first, errorMs: c.capturedAtMs - truth })
    }
    const settled = offsets.filter((o) => o.atMs >= SETTLE_MS).map((o) => o.errorMs)
    summary = {
      ppm,
      chunks: chunks.length,
      settledChunks: settled.length,
      minErrorMs: Math.min(...settled),
      maxErrorMs: Math.max(...settled),
      // When the worst settled chunk was captured (ms into the stream), for a failure's story.
      maxErrorAtMs: Math.round(offsets.filter((o) => o.atMs >= SETTLE_MS).reduce((w, o) => (o.errorMs > w.errorMs ? o : w), { errorMs: -Infinity }).atMs),
      ...(() => {
        const sorted = [...settled].sort((a, b) => a - b)
        const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
        return { p1ErrorMs: q(0.01), medianErrorMs: q(0.5), p99ErrorMs: q(0.99) }
      })(),
      // The first 10 s, for the settling time.
      earlyMaxAbsErrorMs: Math.max(...offsets.filter((o) => o.atMs < SETTLE_MS).map((o) => Math.abs(o.errorMs))),
      deviceClockPpm: late.deviceClockPpm,
      p99At15s: early.deliveryLatencyP99Ms,
      p99AtEnd: late.deliveryLatencyP99Ms,
      p50At15s: early.deliveryLatencyP50Ms,
      p50AtEnd: late.deliveryLatencyP50Ms,
      framesCaptured: final.framesCaptured,
      framesDropped: final.framesDropped,
      chunksLost: final.chunksDroppedQueue + final.chunksFailed,
      errors,
    }
  } finally {
    await capture.stopCapture()
    const written = await feeder.stop()
    if (summary) {
      summary.framesWritten = written.framesWritten
      summary.feederRestarts = feeder.restarts()
    }
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
}
main()

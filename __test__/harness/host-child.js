'use strict'
// Captures for a while on one audio host and reports what it measured (for the PulseAudio
// test and `npm run bench:hosts`). argv: host ('' = default), warm-up ms, measured ms.
const { AudioCapture } = require('../../index.js')
const { frameRate } = require('./rate.js')

const [host, warmupMs, measureMs] = [process.argv[2], Number(process.argv[3] ?? 1500), Number(process.argv[4] ?? 3000)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main() {
  const capture = new AudioCapture({ daemon: false, ...(host ? { host } : {}) })
  const levels = []
  const errors = []
  capture.on('level', (l) => levels.push(l)).on('error', (e) => errors.push(e.code))
  const rate = frameRate(capture)
  const t0 = performance.now()
  await capture.startCapture()
  const startMs = performance.now() - t0
  // A null sink's monitor delivers its first audio when the sink's current render block ends
  // (up to its 2 s latency), however soon the stream is ready.
  while (capture.stats().framesCaptured === 0 && performance.now() - t0 < 5000) await sleep(5)
  const firstFrameMs = performance.now() - t0
  await sleep(warmupMs)
  const cpu0 = process.cpuUsage()
  const w0 = performance.now()
  const levelsBefore = levels.length
  rate.on()
  await sleep(measureMs)
  rate.off()
  const cpu = process.cpuUsage(cpu0)
  const wall = performance.now() - w0
  const s = capture.stats()
  await capture.stopCapture()
  const measured = levels.slice(levelsBefore)
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
  process.stdout.write(
    `${JSON.stringify({
      host: host || 'default',
      device: s.deviceSampleRate ? `${s.deviceSampleRate} Hz ${s.deviceChannels} ch ${s.sampleFormat}` : '',
      startMs: Math.round(startMs),
      firstFrameMs: Math.round(firstFrameMs),
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
      callbacksPerSecond: s.callbacks / ((performance.now() - t0) / 1000),
      rmsDbfs: mean(measured.map((l) => l.rmsDbfs)),
      framesPerSecond: rate.framesPerSecond(),
      chunksSeen: rate.count(),
      ringHighWater: s.ringHighWater,
      framesDropped: s.framesDropped,
      errors,
    })}\n`,
  )
}

main()

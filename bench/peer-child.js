'use strict'
// One contender of `npm run bench:peers`, in its own process so its CPU is its own: captures
// 16 kHz mono in 100 ms pieces from the default input for warm-up + measured ms and reports
// CPU and samples delivered per second of the measured window, on stdout as JSON.
//   node bench/peer-child.js <contender> <warmupMs> <measureMs> [legacy socket] [v1 socket]
// Contenders: stt-capture (chunks to JS), stt-capture+vad (the same with `vad: true`),
// stt-capture+daemon / stt-capture+v1 (streaming to a reference daemon of that protocol,
// with no chunk listener: samples are those the daemon took), stt-capture-paused (paused
// after start), stt-capture-stopped (started, then stopped: what a live process keeps paying),
// pvrecorder, decibri.
const path = require('node:path')

const [name, warmupMs, measureMs, legacySocket, v1Socket] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5], process.argv[6]]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Starts `name`; calls `onSamples(n)` for each piece delivered to JS; resolves with
 *  { stop, extra, count? } (`count()`: samples delivered elsewhere so far). */
async function start(onSamples) {
  if (name.startsWith('stt-capture')) {
    const { AudioCapture } = require(path.join(__dirname, '..', 'index.js'))
    const options = {
      'stt-capture+daemon': { socketPath: legacySocket, protocol: 'legacy' },
      'stt-capture+v1': { httpSocketPath: v1Socket, protocol: 'v1', token: 'bench' },
      'stt-capture+vad': { daemon: false, vad: true },
    }[name] ?? { daemon: false }
    const capture = new AudioCapture(options)
    const toDaemon = options.daemon !== false
    if (!toDaemon) capture.on('chunk', (c) => onSamples(c.samples.length))
    await capture.startCapture()
    if (name === 'stt-capture-paused') capture.pause()
    if (name === 'stt-capture-stopped') await capture.stopCapture()
    return {
      // Streaming: what the daemon took, read at the window's ends only (stats() costs).
      count: toDaemon ? () => capture.stats().samplesSent : null,
      stop: async () => {
        if (capture.isCapturing) await capture.stopCapture()
      },
      extra: () => {
        const s = capture.stats()
        return {
          framesDropped: s.framesDropped,
          chunkEventsDropped: s.chunkEventsDropped,
          chunksSent: s.chunksSent,
          chunksDroppedQueue: s.chunksDroppedQueue,
          pipelineWakeups: s.pipelineWakeups,
          vadFrames: s.vadFrames,
        }
      },
    }
  }
  if (name === 'pvrecorder') {
    const { PvRecorder } = require('@picovoice/pvrecorder-node')
    const recorder = new PvRecorder(1600, -1)
    recorder.start()
    let running = true
    // Its first read right after start() fails (the device has no frame yet): counted, retried.
    let readErrors = 0
    const loop = (async () => {
      while (running) {
        try {
          onSamples((await recorder.read()).length)
        } catch {
          readErrors++
        }
      }
    })()
    return {
      stop: async () => {
        running = false
        await loop
        recorder.stop()
        recorder.release()
      },
      extra: () => ({ version: recorder.version, readErrors }),
    }
  }
  if (name === 'decibri') {
    const { Microphone } = require('decibri')
    const mic = new Microphone({ sampleRate: 16000, channels: 1, framesPerBuffer: 1600 })
    mic.on('data', (chunk) => onSamples(chunk.length / 2))
    await new Promise((resolve, reject) => {
      mic.once('error', reject)
      // It starts capturing once something reads: the 'data' listener above.
      setImmediate(resolve)
    })
    return { stop: async () => mic.stop?.() ?? mic.destroy?.(), extra: () => ({}) }
  }
  throw new Error(`unknown contender ${name}`)
}

async function main() {
  let samples = 0
  const c = await start((n) => (samples += n))
  const count = c.count ?? (() => samples)
  await sleep(warmupMs)
  const cpu0 = process.cpuUsage()
  const w0 = performance.now()
  const s0 = count()
  const wake0 = c.extra().pipelineWakeups ?? 0
  await sleep(measureMs)
  const cpu = process.cpuUsage(cpu0)
  const wall = performance.now() - w0
  const delivered = count() - s0
  const extra = c.extra()
  if (extra.pipelineWakeups !== undefined) extra.pipelineWakeupsPerSecond = (extra.pipelineWakeups - wake0) / (wall / 1000)
  await c.stop()
  process.stdout.write(`${JSON.stringify({ name, cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100, samplesPerSecond: delivered / (wall / 1000), ...extra })}\n`)
  process.exit(0)
}
main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ name, error: String(e?.stack ?? e) })}\n`)
  process.exit(1)
})

#!/usr/bin/env node
'use strict'
// End-to-end benchmark on the virtual microphone (48 kHz stereo f32, 5 ms periods) with the
// reference daemon, each in its own process, so this process holds only the capture:
//   npm run bench                 60 s, then a summary
//   npm run bench -- --seconds N
//   npm run bench -- --soak 3600  a line per minute (RSS, delivery latency), then a summary
//   node --expose-gc bench/e2e.js --soak 3600  the same, each minute's memory after a full GC
//   npm run bench -- --protocol v1  the same over the v1 WebSocket (default: legacy)
// Delivery latency: from a chunk's last captured sample (the capture's clock, as in
// `capturedAtMs`) to the daemon's receipt of it (the daemon's clock; same machine).
const path = require('node:path')
const { fork } = require('node:child_process')
const { setupVirtualMic } = require('../__test__/harness/virtual-mic.js')

const args = process.argv.slice(2)
const arg = (name) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : null)
const soak = arg('--soak')
const seconds = soak ?? arg('--seconds') ?? 60
const protocol = args.includes('--protocol') ? args[args.indexOf('--protocol') + 1] : 'legacy'
if (protocol !== 'legacy' && protocol !== 'v1') throw new Error(`--protocol must be legacy or v1, got ${protocol}`)
const WARMUP_MS = 2000

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN
}

function ready(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)))
  })
}

async function main() {
  const mic = setupVirtualMic()
  const socketPath = path.join(mic.dir, 'daemon.sock')
  const feeder = fork(path.join(__dirname, 'feeder-child.js'), [mic.fifo])
  const daemon = fork(path.join(__dirname, 'daemon-child.js'), [socketPath, protocol])
  await Promise.all([ready(feeder), ready(daemon)])
  const { AudioCapture } = require('..')

  const where = protocol === 'v1' ? { protocol, httpSocketPath: socketPath, token: 'bench' } : { protocol, socketPath }
  const capture = new AudioCapture({ ...where, clientId: 'bench' })
  // Chunk seq → wall-clock ms of its last sample, in a fixed ring: a Map entry per chunk
  // lives until the daemon's once-a-second report, long enough to be promoted to V8's old
  // space, which is collected seldom and grew the heap (and RSS) by megabytes an hour.
  const RING = 1 << 12
  const capturedEnd = new Float64Array(RING).fill(NaN)
  if (!process.env.BENCH_NO_LISTENER) capture.on('chunk', (c) => (capturedEnd[c.seq % RING] = c.capturedAtMs + (c.samples.length / 16000) * 1000))
  let window = []
  const all = []
  daemon.on('message', (batch) => {
    for (const [clientId, chunk, receivedAt] of batch) {
      if (clientId !== 'bench') continue
      const end = capturedEnd[(chunk - 1) % RING]
      if (Number.isNaN(end)) continue
      capturedEnd[(chunk - 1) % RING] = NaN
      window.push(receivedAt - end)
    }
  })
  await capture.startCapture()
  await new Promise((r) => setTimeout(r, WARMUP_MS))
  window = []

  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const startStats = capture.stats()
  let minute = 0
  const report = () => {
    const sorted = window.sort((a, b) => a - b)
    all.push(...sorted)
    // Under `node --expose-gc`: the heap as it is after a full collection, so what the
    // process holds shows apart from garbage V8 has not collected yet.
    global.gc?.()
    const mem = process.memoryUsage()
    const mib = (v) => (v / 2 ** 20).toFixed(1)
    console.log(
      `minute ${++minute}: RSS ${mib(mem.rss)} MiB (JS heap ${mib(mem.heapUsed)}/${mib(mem.heapTotal)}, external ${mib(mem.external)}), delivery p50 ${quantile(sorted, 0.5).toFixed(2)} ms p99 ${quantile(sorted, 0.99).toFixed(2)} ms (${sorted.length} chunks)`,
    )
    window = []
  }
  const timer = soak ? setInterval(report, 60_000) : null
  await new Promise((r) => setTimeout(r, seconds * 1000))
  clearInterval(timer)
  if (soak && window.length) report() // the last (possibly partial) minute
  const cpu = process.cpuUsage(cpu0)
  const wall = performance.now() - t0
  const s = capture.stats()
  await capture.stopCapture()
  feeder.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 1200)) // the daemon's last receipts
  all.push(...window)
  all.sort((a, b) => a - b)

  const cpuPercent = ((cpu.user + cpu.system) / 1000 / wall) * 100
  console.log(`\nend to end, ${(wall / 1000).toFixed(0)} s on the virtual microphone (48 kHz stereo f32) with the reference daemon (${protocol} protocol):`)
  console.log(`  delivery latency  p50 ${quantile(all, 0.5).toFixed(2)} ms, p99 ${quantile(all, 0.99).toFixed(2)} ms, max ${(all[all.length - 1] ?? NaN).toFixed(2)} ms over ${all.length} chunks`)
  console.log(`  ${protocol === 'v1' ? 'to the write    ' : 'to the reply    '}  p50 ${s.deliveryLatencyP50Ms.toFixed(2)} ms, p99 ${s.deliveryLatencyP99Ms.toFixed(2)} ms (the addon's own stats)`)
  console.log(`  CPU               ${cpuPercent.toFixed(2)} % of one core (this process: Node + the addon)`)
  console.log(`  peak RSS          ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`)
  console.log(`  frames            ${s.framesCaptured - startStats.framesCaptured} captured, ${s.framesDropped} dropped; chunks ${s.chunksSent} sent, ${s.chunksDroppedQueue + s.chunksFailed} lost`)
  daemon.kill('SIGTERM')
}

main()

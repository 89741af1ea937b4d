#!/usr/bin/env node
'use strict'
// This addon against its peers, side by side in one run:
//   npm run bench:peers [-- --seconds 20 --rounds 3 --route pulse|vmic --contenders a,b,...]
// route pulse (default): a private PulseAudio server with a null sink
// (shared/docs/testing-audio.md §2) plays a 440 Hz sine; every contender captures its default
// input, the sink's monitor. route vmic: the virtual microphone (ALSA `file` plugin on a FIFO,
// 48 kHz stereo f32, 5 ms periods) fed by a process of its own.
// Each contender captures 16 kHz mono in 100 ms pieces, in its own process
// (bench/peer-child.js), one after another, in an order that rotates every round. CPU is the
// whole process's, as % of one core. The reference daemons run in processes of their own, so
// "stt-capture+daemon" (legacy protocol) and "stt-capture+v1" pay for streaming, not for the
// daemon. Absolute CPU differs between machines and runs; the ratios of one run are the claim.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, fork } = require('node:child_process')
const { pulseAvailable, startPulse } = require('../__test__/harness/pulse.js')

const args = process.argv.slice(2)
const option = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt)
const seconds = Number(option('--seconds', 20))
const rounds = Number(option('--rounds', 3))
const route = option('--route', 'pulse')
const WARMUP_MS = 2000
const ALL = {
  pulse: ['stt-capture', 'stt-capture+vad', 'stt-capture+daemon', 'stt-capture+v1', 'pvrecorder', 'decibri'],
  // The peers cannot capture the virtual microphone: the ALSA `file` plugin feeds only plain
  // reads from its FIFO, and both read another way, getting the `null` slave's zeros as fast
  // as they ask (PvRecorder 12 × real time, decibri 7 ×). They are compared on PulseAudio.
  vmic: ['stt-capture', 'stt-capture+vad', 'stt-capture+daemon', 'stt-capture+v1'],
}
if (!ALL[route]) throw new Error(`--route must be pulse or vmic, got ${route}`)
const CONTENDERS = option('--contenders', ALL[route].join(',')).split(',')
const CHILD = path.join(__dirname, 'peer-child.js')
const CLI = path.join(__dirname, '..', 'bin', 'stt-capture.js')
// The goals of the CPU issue: each of ours against each peer.
const GOALS = { pvrecorder: 0.35, decibri: 0.05 }
const VAD_GOAL = { pvrecorder: 0.5 }

function run(env, name, sockets) {
  const child = spawn(process.execPath, [CHILD, name, String(WARMUP_MS), String(seconds * 1000), sockets.legacy, sockets.v1], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  return new Promise((resolve) => child.on('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() || '{"error":"no output"}'))))
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Starts the reference daemon on `socket`; resolves once it listens. */
async function startDaemon(env, args) {
  const daemon = spawn(process.execPath, [CLI, 'daemon', ...args, '--quiet'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  daemon.stdout.on('data', (d) => (out += d))
  while (!out.includes('listening')) {
    if (daemon.exitCode !== null) throw new Error(`the reference daemon exited: ${out}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  return daemon
}

/** The route's audio; resolves with { env, stop }. */
async function startRoute() {
  if (route === 'pulse') {
    if (!pulseAvailable()) throw new Error('needs pulseaudio and pacat (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)')
    const pulse = await startPulse()
    pulse.play({ type: 'sine', freq: 440, amplitude: 0.5 })
    return { env: pulse.env, stop: () => pulse.stop() }
  }
  const { setupVirtualMic } = require('../__test__/harness/virtual-mic.js')
  const mic = setupVirtualMic()
  const feeder = fork(path.join(__dirname, 'feeder-child.js'), [mic.fifo])
  await new Promise((resolve) => feeder.once('message', resolve))
  return {
    env: { ...process.env },
    stop: async () => {
      feeder.kill('SIGTERM')
      await new Promise((r) => feeder.once('exit', r))
      fs.rmSync(mic.dir, { recursive: true, force: true })
    },
  }
}

async function main() {
  const audio = await startRoute()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-peers-'))
  const sockets = { legacy: path.join(dir, 'legacy.sock'), v1: path.join(dir, 'v1.sock') }
  const daemons = [
    await startDaemon(audio.env, ['--socket', sockets.legacy]),
    await startDaemon(audio.env, ['--protocol', 'v1', '--socket', sockets.v1, '--token', 'bench', '--model', 'realtime']),
  ]

  console.log(`${os.cpus().length} cores, Node ${process.version}; ${rounds} rounds × ${seconds} s per contender (after ${WARMUP_MS / 1000} s warm-up), route ${route}`)
  const results = Object.fromEntries(CONTENDERS.map((c) => [c, []]))
  for (let round = 0; round < rounds; round++) {
    const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length])
    for (const name of order) {
      const r = await run(audio.env, name, sockets)
      results[name].push(r)
      const wakes = r.pipelineWakeupsPerSecond === undefined ? '' : `, ${r.pipelineWakeupsPerSecond.toFixed(1)} pipeline wake-ups/s`
      const detail = r.error ? `error: ${r.error.split('\n')[0]}` : `CPU ${r.cpuPercent.toFixed(2)} %, ${r.samplesPerSecond.toFixed(0)} samples/s${wakes}`
      console.log(`  round ${round + 1} ${name.padEnd(19)} ${detail}`)
    }
  }
  for (const d of daemons) {
    d.kill('SIGINT')
    await new Promise((r) => d.on('exit', r))
  }
  await audio.stop()
  fs.rmSync(dir, { recursive: true, force: true })

  const summary = {}
  for (const name of CONTENDERS) {
    const ok = results[name].filter((r) => !r.error)
    summary[name] = ok.length ? { cpu: median(ok.map((r) => r.cpuPercent)), samplesPerSecond: median(ok.map((r) => r.samplesPerSecond)), runs: ok.length } : null
  }
  console.log('\n| contender | CPU, % of one core (median) | samples/s delivered (median) | runs |')
  console.log('|---|---|---|---|')
  for (const name of CONTENDERS) {
    const s = summary[name]
    console.log(s ? `| ${name} | ${s.cpu.toFixed(2)} % | ${s.samplesPerSecond.toFixed(0)} | ${s.runs} |` : `| ${name} | failed | | 0 |`)
  }
  const ratio = (a, b) => (summary[a] && summary[b] ? summary[a].cpu / summary[b].cpu : null)
  console.log('\nCPU ratios (same run):')
  const ratios = {}
  for (const ours of CONTENDERS.filter((c) => c.startsWith('stt-capture'))) {
    const goals = ours === 'stt-capture+vad' ? VAD_GOAL : GOALS
    const parts = []
    for (const [peer, goal] of Object.entries(goals)) {
      const r = ratio(ours, peer)
      if (r === null) continue
      ratios[`${ours}/${peer}`] = r
      parts.push(`/ ${peer} = ${r.toFixed(3)} (goal ≤ ${goal}${r <= goal ? ', met' : ', NOT met'})`)
    }
    if (parts.length) console.log(`  ${ours} ${parts.join(', ')}`)
  }
  if (!Object.keys(ratios).length) console.log('  (no peer on this route)')
  fs.mkdirSync(path.join(__dirname, '..', 'target'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, '..', 'target', `bench-peers-${route}.json`), JSON.stringify({ route, seconds, rounds, results, summary, ratios }, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})

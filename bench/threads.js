#!/usr/bin/env node
'use strict'
// Where a capture's CPU goes, per thread:
//   node bench/threads.js [--seconds 10] [--route pulse|vmic] [--daemon] [--paused] [--contender pvrecorder|decibri]
// Runs bench/peer-child.js (this addon, or a peer) in its own process and reads /proc/<pid>/task/*
// (run time from schedstat, and voluntary context switches = wake-ups) over the measured window.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { startPulse } = require('../__test__/harness/pulse.js')

const args = process.argv.slice(2)
const seconds = args.includes('--seconds') ? Number(args[args.indexOf('--seconds') + 1]) : 10
const route = args.includes('--route') ? args[args.indexOf('--route') + 1] : 'pulse'
const withDaemon = args.includes('--daemon')
const paused = args.includes('--paused')

function sample(pid) {
  const out = new Map()
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
      const voluntary = Number(status.match(/voluntary_ctxt_switches:\s+(\d+)/)[1])
      // schedstat's run time is in ns and exact; stat's utime + stime are in scheduler ticks,
      // which a thread that wakes briefly 100 times a second can dodge or be overcharged.
      const runNs = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      out.set(tid, { name, cpu: runNs / 1e9, voluntary })
    } catch {} // a thread that ended
  }
  return out
}

async function main() {
  let env = { ...process.env }
  let stop = async () => {}
  if (route === 'pulse') {
    const pulse = await startPulse()
    pulse.play({ type: 'sine', freq: 440, amplitude: 0.5 })
    env = pulse.env
    stop = () => pulse.stop()
  } else {
    const { setupVirtualMic, startFeeder } = require('../__test__/harness/virtual-mic.js')
    const mic = setupVirtualMic()
    const feeder = startFeeder(mic.fifo, { type: 'sine', freq: 440, amplitude: 0.5 })
    env = { ...process.env }
    stop = () => feeder.stop()
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-threads-'))
  const socket = path.join(dir, 'd.sock')
  let daemon = null
  if (withDaemon) {
    daemon = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'stt-capture.js'), 'daemon', '--socket', socket, '--quiet'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
    let o = ''
    daemon.stdout.on('data', (d) => (o += d))
    while (!o.includes('listening')) await new Promise((r) => setTimeout(r, 20))
  }
  const contender = args.includes('--contender') ? args[args.indexOf('--contender') + 1] : null
  const name = contender ?? (withDaemon ? 'stt-capture+daemon' : paused ? 'stt-capture-paused' : 'stt-capture')
  const child = spawn(process.execPath, [path.join(__dirname, 'peer-child.js'), name, '2000', String(seconds * 1000 + 1000), socket], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  await new Promise((r) => setTimeout(r, 2500))
  const a = sample(child.pid)
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const b = sample(child.pid)
  const wall = (performance.now() - t0) / 1000
  await new Promise((r) => child.on('exit', r))
  daemon?.kill('SIGINT')
  await stop()
  const rows = []
  for (const [tid, end] of b) {
    const start = a.get(tid) ?? { cpu: 0, voluntary: 0 }
    rows.push({ tid, name: end.name, cpuPercent: ((end.cpu - start.cpu) / wall) * 100, wakeupsPerSecond: (end.voluntary - start.voluntary) / wall })
  }
  rows.sort((x, y) => y.cpuPercent - x.cpuPercent || y.wakeupsPerSecond - x.wakeupsPerSecond)
  console.log(`${name} on ${route}, ${seconds} s: ${out.trim()}`)
  console.log('thread                 CPU %   wake-ups/s')
  for (const r of rows.filter((r) => r.cpuPercent > 0 || r.wakeupsPerSecond > 0.5)) console.log(`${`${r.name} ${r.tid}`.padEnd(20)} ${r.cpuPercent.toFixed(2).padStart(6)} ${r.wakeupsPerSecond.toFixed(0).padStart(10)}`)
  const total = rows.reduce((s, r) => ({ cpu: s.cpu + r.cpuPercent, w: s.w + r.wakeupsPerSecond }), { cpu: 0, w: 0 })
  console.log(`${'total'.padEnd(20)} ${total.cpu.toFixed(2).padStart(6)} ${total.w.toFixed(0).padStart(10)}`)
}
main()

#!/usr/bin/env node
'use strict'
// Capture for a few seconds, stream to the daemon, print levels and the final stats.
//   node examples/capture.js [--seconds N] [--socket PATH] [--device ID] [--no-daemon] [--virtual-mic]
// With no daemon listening at the socket, the reference daemon is started in-process.
// --virtual-mic feeds a 440 Hz sine through the test suite's ALSA FIFO microphone, for
// machines without a sound card.
const path = require('node:path')
const fs = require('node:fs')

const args = process.argv.slice(2)
const flag = (name) => args.includes(name)
const value = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback)
const seconds = Number(value('--seconds', '5'))

async function main() {
  let feeder = null
  if (flag('--virtual-mic')) {
    const { setupVirtualMic, startFeeder } = require('../__test__/harness/virtual-mic.js')
    const mic = setupVirtualMic()
    feeder = startFeeder(mic.fifo, { type: 'sine', freq: 440, amplitude: 0.5 })
  }
  const { AudioCapture, listInputDevices } = require('..')
  const { legacySocketPath } = require('../daemon/socket-path.js')
  const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')

  console.log('input devices:')
  for (const d of await listInputDevices()) console.log(`  ${d.isDefault ? '*' : ' '} ${d.id}  ${d.name}`)

  const useDaemon = !flag('--no-daemon')
  let socketPath = value('--socket', legacySocketPath())
  let ownDaemon = null
  if (useDaemon && !fs.existsSync(socketPath)) {
    socketPath = path.join(require('node:os').tmpdir(), `stt-capture-example-${process.pid}.sock`)
    ownDaemon = await startLegacyDaemon(socketPath)
    console.log(`no daemon found; started the reference daemon on ${socketPath}`)
  }

  const capture = new AudioCapture({ socketPath, device: value('--device', undefined), daemon: useDaemon })
  capture.on('level', (l) => {
    const bar = '#'.repeat(Math.max(0, Math.round((l.rmsDbfs + 60) / 2)))
    process.stdout.write(`\rlevel ${l.rmsDbfs.toFixed(1).padStart(6)} dBFS ${bar.padEnd(30)}`)
  })
  capture.on('transcription', (t) => console.log(`\ntranscription: ${t.text}`))
  capture.on('error', (e) => console.log(`\nerror ${e.code}: ${e.message}`))
  capture.on('daemon', (d) => {
    const detail = d.state === 'reconnecting' ? ` (attempt ${d.attempt} in ${d.delayMs} ms)` : d.reason ? `: ${d.reason}` : ''
    console.log(`\ndaemon ${d.state}${detail}`)
  })
  try {
    await capture.startCapture()
  } catch (e) {
    console.log(`cannot start: ${e.code}: ${e.message}`)
    if (e.code === 'E_NO_DEVICE') console.log('no microphone here? try --virtual-mic')
    process.exitCode = 1
  }
  if (capture.isCapturing) {
    await new Promise((r) => setTimeout(r, seconds * 1000))
    await capture.stopCapture()
    console.log('\n', capture.stats())
    if (ownDaemon) {
      const received = [...ownDaemon.record.audio.values()].reduce((n, cs) => n + cs.reduce((m, c) => m + c.length, 0), 0)
      console.log(`the reference daemon received ${received} samples at 16 kHz`)
    }
  }
  if (feeder) await feeder.stop()
  if (ownDaemon) await ownDaemon.close()
}

main()

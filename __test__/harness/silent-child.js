'use strict'
// Runs a capture in its own process so the parent can check that nothing reached this
// process's stdout or stderr. Results go to the file named by argv[3], never to stdout.
//   node silent-child.js working <result.json>   virtual mic + reference daemon + error paths
//   node silent-child.js broken <result.json>    a default PCM that makes alsa-lib complain
const fs = require('node:fs')
const path = require('node:path')
const { setupVirtualMic, startFeeder } = require('./virtual-mic.js')
const { startLegacyDaemon } = require('../../daemon/legacy-daemon.js')
const { brokenConfig } = require('./broken-alsa.js')

const [mode, resultPath] = process.argv.slice(2)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function working() {
  const mic = setupVirtualMic()
  const feeder = startFeeder(mic.fifo, { type: 'sine', freq: 440, amplitude: 0.5 })
  const daemon = await startLegacyDaemon(path.join(mic.dir, 'd.sock'))
  const { AudioCapture, listInputDevices } = require('../../index.js')
  const devices = await listInputDevices()
  const codes = []
  for (const options of [{ socketPath: path.join(mic.dir, 'none.sock') }, { daemon: false, device: 'nope' }]) {
    await new AudioCapture(options).startCapture().catch((e) => codes.push(e.code))
  }
  const capture = new AudioCapture({ socketPath: daemon.socketPath })
  let chunks = 0
  capture.on('chunk', () => chunks++)
  await capture.startCapture()
  await sleep(500)
  await capture.stopCapture()
  await feeder.stop()
  await daemon.close()
  return { devices: devices.length, codes, chunks }
}

async function broken() {
  process.env.ALSA_CONFIG_PATH = brokenConfig(path.dirname(resultPath))
  const { AudioCapture, listInputDevices } = require('../../index.js')
  const devices = await listInputDevices().catch((e) => e.code)
  const code = await new AudioCapture({ daemon: false })
    .startCapture()
    .then(() => 'started')
    .catch((e) => e.code)
  return { devices: Array.isArray(devices) ? devices.length : devices, codes: [code] }
}

;(mode === 'broken' ? broken() : working())
  .then((r) => fs.writeFileSync(resultPath, JSON.stringify(r)))
  .catch((e) => fs.writeFileSync(resultPath, JSON.stringify({ failed: String(e && e.stack) })))

'use strict'
// A program using the addon the way an app does, for the lifecycle tests (run as a child
// process with the parent's virtual microphone). argv[2] is the scenario:
//   return     start capturing with listeners, then return from main with nothing else to do
//   exit       start capturing, then process.exit(0) 300 ms later
//   gc         start capturing, drop every reference, collect; report threads before/after
//   throw      listeners that throw; report what Node saw and whether the audio kept flowing
const { AudioCapture } = require('../../index.js')
const fs = require('node:fs')

const threads = () => fs.readdirSync('/proc/self/task').length
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const report = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)

async function main(scenario) {
  if (scenario === 'return') {
    const capture = new AudioCapture({ daemon: false })
    capture.on('level', () => {}).on('chunk', () => {})
    await capture.startCapture()
    report({ started: true })
    return // nothing keeps the loop alive: Node must exit on its own
  }
  if (scenario === 'exit') {
    const capture = new AudioCapture({ daemon: false })
    capture.on('chunk', () => {})
    await capture.startCapture()
    report({ started: true })
    setTimeout(() => process.exit(0), 300)
    setInterval(() => {}, 1000) // an app that still has work when it decides to exit
    return
  }
  if (scenario === 'gc') {
    const before = threads()
    await (async () => {
      const capture = new AudioCapture({ daemon: false })
      capture.on('chunk', () => {})
      await capture.startCapture()
    })()
    await sleep(300)
    const during = threads()
    for (let i = 0; i < 20 && threads() > before + 2; i++) {
      global.gc()
      await sleep(100)
    }
    await sleep(300)
    report({ before, during, after: threads() })
    return
  }
  if (scenario === 'throw') {
    let uncaught = 0
    process.on('uncaughtException', (e) => {
      if (e.message === 'listener bug') uncaught++
      else throw e
    })
    const capture = new AudioCapture({ daemon: false })
    capture.on('chunk', () => {
      throw new Error('listener bug')
    })
    capture.on('level', () => {
      throw new Error('listener bug')
    })
    await capture.startCapture()
    await sleep(600)
    const mid = capture.stats().chunksEmitted
    await sleep(600)
    await capture.stopCapture()
    const s = capture.stats()
    report({ uncaught, mid, chunks: s.chunksEmitted, framesDropped: s.framesDropped, chunkEventsDropped: s.chunkEventsDropped })
    return
  }
  throw new Error(`unknown scenario ${scenario}`)
}

main(process.argv[2])

'use strict'
// A program recording the parent's virtual microphone, for the record tests (run as a child
// process: one the parent kills, or one under a file-size limit). argv: scenario, path.
//   kill   record at the device rate; report { started } and keep going until killed
//   fsize  record at 16 kHz under the parent's RLIMIT_FSIZE until the write fails, capture
//          1 s more, stop; report the errors, chunks and stats
const { AudioCapture } = require('../../index.js')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const report = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)

async function main(scenario, path) {
  if (scenario === 'kill') {
    const capture = new AudioCapture({ daemon: false, record: { path, rate: 'device' } })
    await capture.startCapture()
    report({ started: true })
    setInterval(() => {}, 1000)
    return
  }
  if (scenario === 'fsize') {
    const capture = new AudioCapture({ daemon: false, record: { path } })
    const errors = []
    const seqs = []
    let samples = 0
    capture.on('error', (e) => errors.push({ code: e.code, message: e.message }))
    capture.on('chunk', (c) => {
      seqs.push(c.seq)
      samples += c.samples.length
    })
    await capture.startCapture()
    for (let i = 0; i < 200 && errors.length === 0; i++) await sleep(50)
    const chunksAtError = seqs.length
    await sleep(1000)
    await capture.stopCapture()
    const summary = await capture.stopRecording()
    await sleep(100)
    report({ errors, seqs, samples, chunksAtError, stats: capture.stats(), summary })
    return
  }
  throw new Error(`unknown scenario ${scenario}`)
}

main(process.argv[2], process.argv[3]).catch((e) => {
  report({ failed: e.message, code: e.code })
  process.exitCode = 1
})

'use strict'
// `stt-capture demo` (`npm run demo`): capture, stream to the daemon, and draw a live level
// meter, spectrum, the latest transcription and a stats line ~20 times a second. Works on a
// fresh headless machine (`demo/setup.js`): with no microphone it replays the bundled speech
// WAV, with no daemon it runs the reference daemon in this process (never a separate one),
// recording to a WAV. Ctrl-C (or --seconds) stops cleanly and prints a summary
// (`demo/view.js`, drawn by `demo/screen.js`).
const fs = require('node:fs')
const path = require('node:path')
const { Screen } = require('./demo/screen.js')
const { startDemoCapture } = require('./demo/setup.js')
const { liveLines, summaryLines } = require('./demo/view.js')

const SPECTRUM_BANDS = 32
const REDRAW_MS = 50

/** Resolves when the demo should stop: --seconds, Ctrl-C, SIGTERM or the end of a file. */
function untilStop(capture, flags, state) {
  return new Promise((resolve) => {
    let deadline = null
    if (flags.seconds) deadline = setTimeout(resolve, flags.seconds * 1000)
    const stop = () => {
      clearTimeout(deadline)
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    capture.on('end', () => {
      state.ended = true
      stop()
    })
  })
}

async function demo(flags) {
  const addon = require('..')
  const screen = new Screen(process.stdout)
  const say = (line) => process.stdout.write(`${line}\n`)
  // --record: the addon writes what the chunks carry (16 kHz f32) from the first sample.
  const record = flags.record ? { record: { path: flags.record } } : {}
  const started = await startDemoCapture(flags, addon, say, { spectrumBands: SPECTRUM_BANDS, vad: true, ...record })
  if (started.failed) return 1
  const { capture, source, ownDaemon, tmpDir, useDaemon } = started

  const state = { level: null, text: '', daemon: useDaemon ? capture.stats().daemonState : 'off', error: '', ended: false, speaking: false, lastUtterance: null }
  capture
    .on('level', (l) => (state.level = l))
    .on('transcription', (t) => {
      state.text = t.text
      // Each utterance's text as it arrives (on a terminal it shows in the live block).
      if (!screen.tty && t.utteranceId !== undefined) say(`utterance ${t.utteranceId + 1}: ${t.text} (${Math.round(t.latencyMs)} ms after it ended)`)
    })
    .on('daemon', (d) => (state.daemon = d.state + (d.state === 'reconnecting' ? ` (attempt ${d.attempt})` : '')))
    .on('error', (e) => (state.error = `${e.code}: ${e.message}`))
    .on('voice', (v) => (state.speaking = v.state === 'speech'))
    .on('utterance', (u) => (state.lastUtterance = { id: u.id, startSample: u.startSample, endSample: u.endSample, reason: u.reason }))

  const startedAt = Date.now()
  const first = capture.stats()
  const inputLabel = source ? `file ${path.basename(source.file)}` : `microphone ${flags.device ?? '(default)'}`
  const header = `stt-capture demo · ${inputLabel} · ${first.deviceSampleRate} Hz ${first.deviceChannels} ch ${first.sampleFormat} → 16 kHz mono, 100 ms chunks`
  const frame = (force = false) => {
    const seconds = (Date.now() - startedAt) / 1000
    const { lines, plain } = liveLines(state, capture.stats(), { header, useDaemon, seconds })
    screen.draw(lines, plain, force)
  }

  screen.begin()
  process.once('exit', () => screen.end())
  const timer = setInterval(frame, REDRAW_MS)
  frame(true)
  await untilStop(capture, flags, state)
  // A second Ctrl-C while stopping leaves at once.
  process.once('SIGINT', () => process.exit(130))
  clearInterval(timer)
  await capture.stopCapture()
  const recording = flags.record ? await capture.stopRecording() : null
  frame(true)
  screen.end()

  if (ownDaemon) await ownDaemon.close()
  const duration = ((Date.now() - startedAt) / 1000).toFixed(1)
  const lines = summaryLines(capture.stats(), { duration, inputLabel, useDaemon, recording, recorder: ownDaemon?.recorder })
  for (const line of lines) say(line)
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true })
  return 0
}

module.exports = { demo }

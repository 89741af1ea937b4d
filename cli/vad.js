'use strict'
// `stt-capture vad FILE.wav`: the speech segments of a file (start, end, duration), found by
// the same voice activity detector a capture runs (`vad` option), as fast as it can read.
const { UsageError } = require('./args.js')

/** Runs the detector over `file`; resolves `{ segments, utterances, stats }`. */
function segmentsOf(file, vad) {
  const { AudioCapture } = require('..')
  const capture = new AudioCapture({ daemon: false, input: { file, realtime: false }, vad })
  const segments = []
  const utterances = []
  let open = null
  capture.on('voice', (v) => {
    if (v.state === 'speech') open = v.sample
    else if (open !== null) {
      segments.push({ start: open / 16000, end: v.sample / 16000 })
      open = null
    }
  })
  capture.on('utterance', (u) => utterances.push({ start: u.startSample / 16000, end: u.endSample / 16000, reason: u.reason }))
  // The listeners do not keep Node alive; this does until the file ends.
  const alive = setInterval(() => {}, 1000)
  return new Promise((resolve, reject) => {
    capture.on('end', async () => {
      await capture.stopCapture()
      // Let the last events reach JS.
      setTimeout(() => {
        clearInterval(alive)
        resolve({ segments, utterances, stats: capture.stats() })
      }, 50)
    })
    capture.startCapture().catch((e) => {
      clearInterval(alive)
      reject(e)
    })
  })
}

async function vad(flags, positional) {
  const [file, ...extra] = positional
  if (!file || extra.length) throw new UsageError('vad needs one WAV file')
  const options = {}
  for (const [flag, name] of [
    ['threshold', 'threshold'],
    ['minSpeechMs', 'minSpeechMs'],
    ['minSilenceMs', 'minSilenceMs'],
    ['preRollMs', 'preRollMs'],
  ]) {
    if (flags[flag] !== undefined) options[name] = flags[flag]
  }
  let result
  try {
    result = await segmentsOf(file, Object.keys(options).length ? options : true)
  } catch (e) {
    console.log(`cannot read ${file}: ${e.code}: ${e.message}`)
    return 1
  }
  const { segments, utterances, stats } = result
  const s = (t) => `${t.toFixed(3)} s`.padStart(10)
  console.log(`${file}: ${(stats.framesCaptured / stats.deviceSampleRate).toFixed(3)} s, ${segments.length} speech segment(s), ${(stats.speechMs / 1000).toFixed(3)} s of speech`)
  console.log(`${'#'.padStart(3)} ${'start'.padStart(10)} ${'end'.padStart(10)} ${'duration'.padStart(10)}   utterance audio`)
  segments.forEach((seg, i) => {
    const u = utterances[i]
    const audio = u ? `${u.start.toFixed(3)}–${u.end.toFixed(3)} s (${u.reason})` : ''
    console.log(`${String(i + 1).padStart(3)} ${s(seg.start)} ${s(seg.end)} ${s(seg.end - seg.start)}   ${audio}`)
  })
  return 0
}

module.exports = { vad, segmentsOf }

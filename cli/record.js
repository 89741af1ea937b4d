'use strict'
// `stt-capture record FILE`: record the default microphone (or --device, or --file) to a WAV
// file until Ctrl-C or --seconds, with no daemon; one line when it starts, one when it ends.
const { UsageError } = require('./args.js')
const { recordingLine } = require('./demo/view.js')

async function record(flags, positional) {
  const [file, ...extra] = positional
  if (!file || extra.length) throw new UsageError('record needs one output WAV file')
  if (flags.rate !== undefined && !['16000', 'device'].includes(flags.rate)) throw new UsageError('--rate must be 16000 or device')
  if (flags.format !== undefined && !['f32', 's16'].includes(flags.format)) throw new UsageError('--format must be f32 or s16')
  const { AudioCapture } = require('..')
  const recordOptions = {
    path: file,
    rate: flags.rate === 'device' ? 'device' : 16000,
    format: flags.format ?? 'f32',
    overwrite: Boolean(flags.overwrite),
  }
  const input = flags.file ? { input: { file: flags.file } } : flags.device ? { device: flags.device } : {}
  const capture = new AudioCapture({ daemon: false, ...input, record: recordOptions })
  try {
    await capture.startCapture()
  } catch (e) {
    console.log(`cannot record: ${e.code}: ${e.message}`)
    return 1
  }
  const s = capture.stats()
  const source = flags.file ?? `microphone ${flags.device ?? '(default)'}`
  console.log(`recording ${source} (${s.deviceSampleRate} Hz, ${s.deviceChannels} ch) to ${file}; Ctrl-C stops`)
  await new Promise((resolve) => {
    const stop = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = flags.seconds ? setTimeout(stop, flags.seconds * 1000) : setInterval(() => {}, 1 << 30)
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    capture.on('end', stop)
  })
  await capture.stopCapture()
  const summary = await capture.stopRecording()
  console.log(`recorded ${recordingLine(summary)}`)
  return summary.errorCode ? 1 : 0
}

module.exports = { record }

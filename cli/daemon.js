'use strict'
// `stt-capture daemon`: a reference daemon as a tool, speaking the legacy protocol or v1
// (HTTP + WebSocket). Optionally writes what it receives to a WAV, and prints one line per
// audio chunk.
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')
const { startV1Daemon } = require('../daemon/v1-daemon.js')
const { legacySocketPath, v1SocketPath } = require('../daemon/socket-path.js')
const { UsageError } = require('./args.js')
const { dbfs } = require('./format.js')

function describe(samples, scale) {
  let sum = 0
  let peak = 0
  for (const raw of samples) {
    const s = raw / scale
    sum += s * s
    peak = Math.max(peak, Math.abs(s))
  }
  const ms = ((samples.length / 16000) * 1000).toFixed(1)
  return `${samples.length} samples (${ms} ms) rms ${dbfs(Math.sqrt(sum / Math.max(1, samples.length)))} peak ${dbfs(peak)} dBFS`
}

async function daemon(flags) {
  const protocol = flags.protocol ?? 'legacy'
  if (protocol !== 'legacy' && protocol !== 'v1') throw new UsageError(`--protocol must be legacy or v1, got ${JSON.stringify(protocol)}`)
  if (flags.token && protocol !== 'v1') throw new UsageError('--token needs --protocol v1')
  const model = flags.model ?? 'realtime'
  if (model !== 'realtime' && model !== 'batch') throw new UsageError(`--model must be realtime or batch, got ${JSON.stringify(model)}`)
  if (flags.model && protocol !== 'v1') throw new UsageError('--model needs --protocol v1 (a legacy daemon streams and transcribes utterances alike)')
  const quiet = flags.quiet
  let d
  let socketPath
  if (protocol === 'v1') {
    socketPath = flags.socket ?? v1SocketPath()
    const seen = new Map()
    d = await startV1Daemon(socketPath, {
      record: flags.record,
      retain: false,
      tokens: flags.token ? { [flags.token]: ['transcribe'] } : {},
      model,
      transcribeDelayMs: flags.transcribeDelayMs ?? 0,
      onTranscribe: quiet ? null : (t) => console.log(`transcribe: HTTP ${t.status}${t.text ? `, ${t.text}` : ''}`),
      onAudio: quiet
        ? null
        : ({ session, samples }) => {
            const total = (seen.get(session) ?? 0) + samples.length
            seen.set(session, total)
            console.log(`session ${session}: ${describe(samples, 32768)}, ${(total / 16000).toFixed(2)} s so far`)
          },
    })
  } else {
    socketPath = flags.socket ?? legacySocketPath()
    d = await startLegacyDaemon(socketPath, {
      record: flags.record,
      retain: false,
      onAudio: quiet
        ? null
        : ({ clientId, samples, chunk, totalSamples }) =>
            console.log(`${clientId} chunk ${chunk}: ${describe(samples, 1)}, ${(totalSamples / 16000).toFixed(2)} s so far`),
    })
  }
  const extra = protocol === 'v1' ? `; ${model} model; token requests are approved without a prompt` : ''
  console.log(
    `reference daemon listening on ${socketPath} (${protocol} protocol, no speech model${extra})${flags.record ? `, recording to ${flags.record}` : ''}`,
  )
  await new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await d.close()
  const r = d.record
  if (protocol === 'v1') {
    console.log(`\nreceived ${r.audioFrames} frames, ${r.audioSamples} samples in ${r.sessions.length} session(s), ${r.transcribes.length} utterance(s) to transcribe`)
  }
  else console.log(`\nreceived ${r.audioChunks} chunks, ${r.audioSamples} samples from ${r.sessions.size} session(s)`)
  if (d.recorder) console.log(`wrote ${d.recorder.seconds.toFixed(2)} s to ${d.recorder.path}`)
  return 0
}

module.exports = { daemon }

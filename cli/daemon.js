'use strict'
// `stt-capture daemon`: the reference daemon as a tool. Listens on the legacy protocol,
// optionally writes what it receives to a WAV, and prints one line per audio chunk.
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')
const { legacySocketPath } = require('../daemon/socket-path.js')
const { dbfs } = require('./format.js')

async function daemon(flags) {
  const socketPath = flags.socket ?? legacySocketPath()
  const d = await startLegacyDaemon(socketPath, {
    record: flags.record,
    retain: false,
    onAudio: flags.quiet ? null : ({ clientId, samples, sampleRate, chunk, totalSamples }) => {
      let sum = 0
      let peak = 0
      for (const s of samples) {
        sum += s * s
        peak = Math.max(peak, Math.abs(s))
      }
      const rms = Math.sqrt(sum / Math.max(1, samples.length))
      console.log(
        `${clientId} chunk ${chunk}: ${samples.length} samples (${((samples.length / sampleRate) * 1000).toFixed(1)} ms) ` +
          `rms ${dbfs(rms)} peak ${dbfs(peak)} dBFS, ${(totalSamples / sampleRate).toFixed(2)} s so far`,
      )
    },
  })
  console.log(`reference daemon listening on ${socketPath} (legacy protocol, no speech model)${flags.record ? `, recording to ${flags.record}` : ''}`)
  await new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await d.close()
  const r = d.record
  console.log(`\nreceived ${r.audioChunks} chunks, ${r.audioSamples} samples from ${r.sessions.size} session(s)`)
  if (d.recorder) console.log(`wrote ${d.recorder.seconds.toFixed(2)} s to ${d.recorder.path}`)
  return 0
}

module.exports = { daemon }

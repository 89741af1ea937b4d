'use strict'
// What the demo shows: the live lines (and their one-line plain form) and the summary.
const { dim, red, green, meter, spectrum, ms } = require('./screen.js')

/** The voice activity marker and the latest utterance's bounds. */
function voiceLine(state) {
  const marker = state.speaking ? `${green('●')} speech ` : `${dim('○')} silence`
  const last = state.lastUtterance
  const span = last
    ? `  utterance ${last.id + 1}: ${(last.startSample / 16000).toFixed(2)}–${(last.endSample / 16000).toFixed(2)} s (${last.reason})`
    : dim('  no utterance yet')
  return `${marker}${span}`
}

/** The live block for `state` ({ level, text, daemon, error, ended, speaking, lastUtterance }) and `stats`. */
function liveLines(state, s, { header, useDaemon, seconds }) {
  const l = state.level
  const level = l
    ? `${meter(l.rmsDbfs, l.peakDbfs)} ${l.rmsDbfs.toFixed(1).padStart(6)} dBFS  peak ${l.peakDbfs.toFixed(1).padStart(6)}${l.clipped ? `  ${red('CLIP')}` : ''}`
    : dim('waiting for audio')
  const sent = s.daemonMode === 'utterances' ? `, ${s.utterancesSent} utterance(s) transcribed` : `, sent ${s.chunksSent}`
  const stats =
    `captured ${(s.framesCaptured / (s.deviceSampleRate || 1)).toFixed(1)} s · chunks ${s.chunksEmitted}${useDaemon ? sent : ''} · ` +
    `dropped ${s.framesDropped} frames, ${s.chunksDroppedQueue} chunks, ${s.chunksFailed} failed`
  const delivery = !useDaemon
    ? 'no daemon'
    : s.daemonMode === 'utterances'
      ? `${s.utterancesPending} utterance(s) waiting · to text p50 ${ms(s.transcriptionLatencyP50Ms)} p99 ${ms(s.transcriptionLatencyP99Ms)}`
      : `queue ${s.sendQueueDepth}/${s.sendQueueCapacity} · latency p50 ${ms(s.deliveryLatencyP50Ms)} p99 ${ms(s.deliveryLatencyP99Ms)}`
  const lines = [
    header,
    `level    ${level}`,
    `spectrum ${spectrum(l?.bands)} ${dim('50 Hz … 8 kHz')}`,
    `voice    ${voiceLine(state)}`,
    `text     ${state.text || dim(useDaemon ? '(no transcription yet)' : '(no daemon)')}`,
    `daemon   ${state.daemon}${state.error ? `  ${red('last error')} ${state.error}` : ''}`,
    `stats    ${stats}`,
    `delivery ${delivery}`,
    dim(state.ended ? 'the file ended; stopping' : 'Ctrl-C to stop'),
  ]
  const voice = `${state.speaking ? 'speech' : 'silence'}, ${s.utterances} utterance(s)`
  const plain = `${seconds.toFixed(1)} s · level ${l ? l.rmsDbfs.toFixed(1) : '-'} dBFS · voice ${voice} · ${stats} · ${delivery} · daemon ${state.daemon}`
  return { lines, plain }
}

/** The lines printed after the capture stopped. */
function summaryLines(s, { duration, inputLabel, useDaemon, recording, recorder }) {
  const out = [
    `\nstopped after ${duration} s`,
    `  input      ${inputLabel}, ${s.deviceSampleRate} Hz, ${s.deviceChannels} ch, ${s.sampleFormat}`,
    `  captured   ${s.framesCaptured} frames, ${s.framesDropped} dropped (ring high water ${s.ringHighWater} of ${s.ringCapacity})`,
    `  chunks     ${s.chunksEmitted} emitted (${s.samplesEmitted} samples at 16 kHz)`,
  ]
  if (useDaemon && s.daemonMode === 'utterances') {
    out.push(
      `  daemon     ${s.utterancesSent} utterances transcribed, ${s.utterancesDroppedQueue} dropped from the queue, ${s.utterancesFailed} failed, ${s.reconnects} reconnects, ${s.daemonProtocol} protocol, batch route`,
      `  latency    end of utterance to text p50 ${ms(s.transcriptionLatencyP50Ms)} p99 ${ms(s.transcriptionLatencyP99Ms)}`,
    )
  } else if (useDaemon) {
    out.push(
      `  daemon     ${s.chunksSent} sent, ${s.chunksDroppedQueue} dropped from the queue, ${s.chunksFailed} failed, ${s.reconnects} reconnects, ${s.daemonProtocol || 'no'} protocol`,
      `  latency    send p50 ${ms(s.sendLatencyP50Ms)} p99 ${ms(s.sendLatencyP99Ms)} · delivery p50 ${ms(s.deliveryLatencyP50Ms)} p99 ${ms(s.deliveryLatencyP99Ms)}`,
    )
  }
  out.push(`  voice      ${s.utterances} utterance(s), ${(s.speechMs / 1000).toFixed(1)} s of speech in ${s.vadFrames} frames`)
  out.push(`  events     ${s.levelEventsDropped} level events replaced while the screen was busy (latest wins)`)
  if (recording) out.push(`  recorded   ${recordingLine(recording)}`)
  if (recorder) out.push(`  daemon wav ${recorder.seconds.toFixed(2)} s (${recorder.samples} samples) recorded by the reference daemon to ${recorder.path}`)
  return out
}

/** What a finished recording holds, in one line (`stopRecording()`'s summary). */
function recordingLine(r) {
  const why = r.errorCode ? `, ended early: ${r.errorCode}: ${r.error}` : ''
  return `${(r.durationMs / 1000).toFixed(2)} s (${r.frames} frames at ${r.sampleRate} Hz, ${r.format}) to ${r.path}${why}`
}

module.exports = { liveLines, summaryLines, recordingLine }

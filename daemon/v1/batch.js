'use strict'
// The v1 daemon's batch route, `POST /v1/transcribe` (protocol doc, "Realtime models and
// batch models"): one whole utterance per request, one final text, and the daemon's error
// table: 400 `invalid_audio` / `unsupported_language` / `stream_realtime_with_audio_data`,
// 401 / 403 as every route, 409 `not_ready` (no model loaded yet), 429 `rate_limited`,
// 500 `inference_failed`, 503 `connection_rejected`.
const { errorBody } = require('./http.js')
const { describeUtterance } = require('../transcript.js')

const LANGUAGES = new Set(['auto', 'en', 'de', 'es', 'fr', 'it', 'ja', 'nl', 'pt', 'pt-BR', 'zh'])

class Batch {
  /**
   * `delayMs`: processing time per request (a CPU Whisper pass takes seconds);
   * `notReadyForMs`: 409 `not_ready` for this long after the daemon (re)starts.
   */
  constructor({ delayMs = 0, notReadyForMs = 0, retain = true } = {}) {
    this.delayMs = delayMs
    this.notReadyForMs = notReadyForMs
    this.retain = retain
    this.readyAt = Date.now() + notReadyForMs
    /** Injected answers: `{ status, message, times }`, used up in order. */
    this.injected = []
  }

  /** The daemon (re)started: the model loads again. */
  started() {
    this.readyAt = Date.now() + this.notReadyForMs
  }

  /** The next `times` requests get `status` with `message` (the daemon's error code). */
  inject(status, message, times = 1) {
    this.injected.push({ status, message, times })
  }

  /** The answer `{ status, body, samples, language }` to a request body (already authorized). */
  async answer(raw) {
    let body
    try {
      body = JSON.parse(raw)
    } catch {
      return { status: 400, body: errorBody('invalid_audio', 'invalid_body') }
    }
    const audio = body?.audio_data
    if (!Array.isArray(audio) || audio.length === 0 || !audio.every((x) => typeof x === 'number')) {
      return { status: 400, body: errorBody('invalid_audio') }
    }
    if (body.stream_realtime === true) return { status: 400, body: errorBody('stream_realtime_with_audio_data') }
    if (body.sample_rate !== 16000) return { status: 400, body: errorBody('invalid_audio', 'sample_rate') }
    if (body.language != null && !LANGUAGES.has(body.language)) return { status: 400, body: errorBody('unsupported_language') }
    const injected = this.injected[0]
    if (injected) {
      if (--injected.times <= 0) this.injected.shift()
      return { status: injected.status, body: errorBody(injected.message) }
    }
    if (Date.now() < this.readyAt) return { status: 409, body: errorBody('not_ready') }
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
    const samples = Float32Array.from(audio)
    const text = describeUtterance(samples)
    return {
      status: 200,
      body: JSON.stringify({ status: 'success', transcription: text }),
      samples,
      language: body.language ?? null,
      text,
    }
  }
}

module.exports = { Batch, LANGUAGES }

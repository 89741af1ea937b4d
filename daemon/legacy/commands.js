'use strict'
// What the legacy daemon answers to each request (protocol doc §1): validation with the
// release build's error strings, the per-connection rate limit, and one small function per
// command. It records what clients sent, for tests.

const crypto = require('node:crypto')
const { describeUtterance } = require('../transcript.js')

const COMMAND_RE = /^[A-Za-z0-9_-]{1,256}$/
// JSON numbers written with a fraction or exponent: the daemon's serde `u32` rejects them.
const NON_INTEGER_RATE_RE = /"sample_rate"\s*:\s*-?\d+(\.\d+|[eE][+-]?\d+)/
const INVALID = { status: 'error', message: 'Invalid JSON request' }

/** Release builds keep only the text before the first ':' of an error message. */
function releaseMessage(message) {
  const i = message.indexOf(':')
  return i === -1 ? message : message.slice(0, i)
}

/** The request in `raw`, or the error response the daemon gives for it. */
function parseRequest(raw) {
  let req
  try {
    req = JSON.parse(raw)
  } catch {
    return { error: INVALID }
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return { error: INVALID }
  if (typeof req.command !== 'string' || NON_INTEGER_RATE_RE.test(raw)) return { error: INVALID }
  const rate = req.sample_rate
  if (rate != null && !(Number.isInteger(rate) && rate >= 8000 && rate <= 96000)) return { error: INVALID }
  if (req.client_id != null && (typeof req.client_id !== 'string' || Buffer.byteLength(req.client_id) > 1024)) {
    return { error: INVALID }
  }
  if (req.audio_data != null && !(Array.isArray(req.audio_data) && req.audio_data.every((x) => typeof x === 'number'))) {
    return { error: INVALID }
  }
  if (!COMMAND_RE.test(req.command)) return { error: { status: 'error', message: releaseMessage(`Invalid command: ${req.command}`) } }
  return { req }
}

/** Everything the daemon saw, for tests (with `retain: false`, counts only). */
function newRecord() {
  return {
    /** Every request that framed correctly, in arrival order. */
    requests: [],
    /** clientId → { starts, samples: number[][] (chunks of the current session), totalSamples } */
    sessions: new Map(),
    /** clientId → every audio chunk ever accepted for it, across session restarts, in order. */
    audio: new Map(),
    /** realtime_audio for a session that was never started (the daemon drops it silently). */
    droppedUnknownSession: 0,
    rateLimited: 0,
    connections: 0,
    maxConcurrent: 0,
    /** Audio requests answered with a `behave({ audio })` misbehaviour, per kind. */
    misbehaved: {},
    stops: 0,
    bytesReceived: 0,
    /** Audio chunks accepted, and their samples (kept with `retain: false` too). */
    audioChunks: 0,
    audioSamples: 0,
    /** `transcribe` requests: `{ clientId, samples (with retain), length, language, text }`. */
    transcribes: [],
  }
}

/**
 * `options`: `record` (from `newRecord()`), `retain`, `rateLimit` (requests per minute per
 * unsubscribed connection), `transcribeEvery` (samples between notifications, 0 = none),
 * `recorder` (a WavWriter or null), `onAudio`, `subscribe(conn)` and `notify(event)`.
 */
class LegacyCommands {
  constructor(options) {
    Object.assign(this, options)
  }

  /** The response to one framed request on `conn` ({ subscribed, window }). */
  handle(conn, raw) {
    const { req, error } = parseRequest(raw)
    if (error) return error
    if (this.retain) {
      this.record.requests.push({
        command: req.command,
        /** The connection it came on, numbered from 1 in order of arrival. */
        connection: conn.id ?? null,
        clientId: req.client_id ?? null,
        sampleRate: req.sample_rate ?? null,
        samples: Array.isArray(req.audio_data) ? req.audio_data.length : 0,
        subscribed: conn.subscribed,
        at: Date.now(),
      })
    }
    if (!conn.subscribed && this.rateLimited(conn)) {
      this.record.rateLimited++
      return { status: 'error', message: 'Rate limit exceeded' }
    }
    const command = COMMANDS[req.command]
    if (!command) return { status: 'error', message: releaseMessage(`Unknown command: ${req.command}`) }
    return command.call(this, conn, req)
  }

  /** Counts the request against the connection's last minute; true when over the limit. */
  rateLimited(conn) {
    const now = Date.now()
    conn.window = conn.window.filter((t) => now - t < 60_000)
    if (conn.window.length >= this.rateLimit) return true
    conn.window.push(now)
    return false
  }

  subscribe(conn, req) {
    conn.subscribed = true
    const total = this.subscribeConnection(conn)
    const types = Array.isArray(req.event_types) ? req.event_types : []
    return { status: 'success', subscribed_to: types, total_subscribers: total, client_id: crypto.randomUUID() }
  }

  startRealtime(_conn, req) {
    const id = req.client_id ?? `realtime_${crypto.randomUUID()}`
    const previous = this.record.sessions.get(id)
    this.record.sessions.set(id, {
      starts: (previous?.starts ?? 0) + 1,
      samples: [],
      received: 0,
      chunks: previous?.chunks ?? 0,
      totalSamples: previous?.totalSamples ?? 0,
      notified: 0,
    })
    return { status: 'success', message: 'Real-time transcription session started', client_id: id }
  }

  realtimeAudio(_conn, req) {
    if (req.client_id == null) return { status: 'error', message: 'Missing client_id for realtime_audio command' }
    if (req.audio_data == null) return { status: 'error', message: 'Missing audio_data for realtime_audio command' }
    const session = this.record.sessions.get(req.client_id)
    if (!session) {
      this.record.droppedUnknownSession++
      return { status: 'success', message: 'Audio chunk processed' }
    }
    this.accept(req.client_id, session, req.audio_data, req.sample_rate ?? 16000)
    return { status: 'success', message: 'Audio chunk processed' }
  }

  /** Keeps (or counts) an accepted chunk, records it, and notifies subscribers when due. */
  accept(clientId, session, samples, sampleRate) {
    const record = this.record
    if (this.retain) {
      session.samples.push(samples)
      if (!record.audio.has(clientId)) record.audio.set(clientId, [])
      record.audio.get(clientId).push(samples)
    }
    session.received += samples.length
    session.totalSamples += samples.length
    session.chunks++
    record.audioChunks++
    record.audioSamples += samples.length
    this.recorder?.write(samples, sampleRate)
    this.onAudio?.({ clientId, samples, sampleRate, chunk: session.chunks, totalSamples: session.totalSamples })
    if (this.transcribeEvery > 0) {
      while (session.received - session.notified >= this.transcribeEvery) {
        session.notified += this.transcribeEvery
        this.notifyTranscription(clientId, `heard ${session.notified} samples`)
      }
    }
  }

  /** One whole utterance (the batch route): at most 300 s; the text describes it. */
  transcribe(_conn, req) {
    if (req.audio_data == null || req.audio_data.length === 0) return { status: 'error', message: 'Missing audio_data for transcribe command' }
    const rate = req.sample_rate ?? 16000
    if (req.audio_data.length > 300 * rate) return { status: 'error', message: 'Audio too long' }
    const text = describeUtterance(req.audio_data, rate)
    this.record.transcribes.push({
      clientId: req.client_id ?? null,
      samples: this.retain ? Float32Array.from(req.audio_data) : null,
      length: req.audio_data.length,
      language: req.language ?? null,
      text,
    })
    this.recorder?.write(req.audio_data, rate)
    return { status: 'success', transcription: text }
  }

  /** A `realtime_transcription` notification for `clientId` to every subscriber. */
  notifyTranscription(clientId, text) {
    const ts = new Date().toISOString()
    this.notify({
      type: 'notification',
      event_type: 'realtime_transcription',
      client_id: clientId,
      timestamp: ts,
      data: { timestamp: ts, transcription: text },
    })
  }
}

const COMMANDS = {
  ping: () => ({ status: 'success', message: 'pong' }),
  status: () => ({ status: 'success', message: 'reference daemon', connection_active: true }),
  subscribe: LegacyCommands.prototype.subscribe,
  start_realtime: LegacyCommands.prototype.startRealtime,
  realtime_audio: LegacyCommands.prototype.realtimeAudio,
  transcribe: LegacyCommands.prototype.transcribe,
}

module.exports = { LegacyCommands, parseRequest, newRecord, releaseMessage }

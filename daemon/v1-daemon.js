'use strict'
// A reference Super STT daemon speaking the current (v1) protocol of
// shared/docs/super-stt-protocol.md §2, minus the speech model: HTTP/1.1 on a Unix socket,
// bearer tokens from `POST /v1/auth/request`, and realtime audio over a WebSocket on
// `GET /v1/transcribe/realtime` (a `start` text frame, binary little-endian s16 mono frames,
// `stop`; the daemon answers `preview`, `done` and `error`). Error bodies and statuses follow
// the daemon's (401 `invalid_session` with a reason, 403 `scope_denied`, 404 for unknown routes).
// It records everything a client did, for tests, and can write the audio to a WAV file.
// Runnable on its own: `npx stt-capture daemon --protocol v1`.

const http = require('node:http')
const crypto = require('node:crypto')
const { WebSocketServer } = require('ws')
const { WavWriter } = require('./wav-writer.js')
const { concat } = require('./concat.js')
const { prepareSocketPath, listenOn, removeSocketFile } = require('./unix-socket.js')

const REALTIME_PATH = '/v1/transcribe/realtime'
const AUTH_PATH = '/v1/auth/request'
const KNOWN_SCOPES = ['client', 'daemon_status', 'global_transcriptions', 'secrets', 'settings', 'status', 'transcribe', 'widget']
const MAX_BODY = 64 * 1024
const MAX_MESSAGE = 1 << 20

function errorBody(message, reason) {
  return JSON.stringify(reason ? { status: 'error', message, data: { reason } } : { status: 'error', message })
}

/** A raw HTTP response on a socket whose upgrade we refuse. */
function refuseUpgrade(socket, status, body) {
  const text = http.STATUS_CODES[status] ?? 'Error'
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}


/**
 * Starts a v1 daemon on `socketPath`. Options:
 * - `tokens`: `{ [token]: scopes[] }` accepted from the start (default none).
 * - `consent`: how `POST /v1/auth/request` is answered: `'allow'` (default), `'deny'` (remembered
 *   for those scopes, like the daemon's deny cache) or `'dismiss'`; `consentDelayMs` (the user
 *   thinking; default 0).
 * - `previewEverySamples`: a `preview` each time a session has that many more samples (default
 *   16000; 0 for none). Texts describe the audio, since there is no model.
 * - `idleTimeoutMs`: a session with no frame for this long is closed (default 60000).
 * - `record` (a WAV path, 32-bit float), `onAudio({ session, samples })`, `retain` (default
 *   true: keep every sample for tests; false keeps counts only).
 * Test controls: `stop()` / `restart()` (a daemon exit and start: sockets cut, socket file
 * removed), `sendError(message)`, `behave({ silent, doneDelayMs, noDone })`, `expire(token)`.
 */
async function startV1Daemon(socketPath, options = {}) {
  const tokens = new Map(Object.entries(options.tokens ?? {}))
  const expired = new Set()
  const denied = new Set()
  const previewEvery = options.previewEverySamples ?? 16000
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000
  const retain = options.retain ?? true
  const onAudio = options.onAudio ?? null
  const consent = { decision: options.consent ?? 'allow', delayMs: options.consentDelayMs ?? 0 }
  const behaviour = { silent: false, doneDelayMs: 0, noDone: false }
  const recorder = options.record ? new WavWriter(options.record) : null

  const record = {
    /** Every upgrade attempt on the realtime route: `{ authorization, status }` (101 = accepted). */
    upgrades: [],
    /** Every `POST /v1/auth/request`: `{ body, status }`. */
    authRequests: [],
    /** Every other HTTP request: `{ method, url, status }`. */
    requests: [],
    /** Accepted realtime sessions in order; see `newSession`. */
    sessions: [],
    audioFrames: 0,
    audioSamples: 0,
    stops: 0,
  }

  prepareSocketPath(socketPath)

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE })
  const sockets = new Set()
  const live = new Set()
  /** Upgrade requests a silent daemon is not answering. */
  const held = new Set()

  function newSession(ws, token) {
    return {
      id: record.sessions.length,
      token,
      /** The parsed `start` message, or null before it. */
      start: null,
      /** Byte length of every binary frame, in order. */
      frames: [],
      /** The s16 samples of every frame (with `retain`). */
      chunks: [],
      samples: 0,
      previews: 0,
      /** Text messages received, parsed (or the raw string when not JSON). */
      texts: [],
      /** Error messages sent to the client. */
      errors: [],
      stopped: false,
      doneSent: false,
      /** `client` (it closed), `daemon` (after done), `idle`, `stop` (daemon exit) or `error`. */
      closedBy: null,
      ws,
    }
  }

  function send(session, message) {
    if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(message))
  }

  function fail(session, message) {
    session.errors.push(message)
    send(session, { type: 'error', message })
  }

  function finish(session) {
    if (session.doneSent || behaviour.noDone) return
    session.doneSent = true
    send(session, { type: 'done', transcription: `heard ${session.samples} samples` })
    session.closedBy ??= 'daemon'
    session.ws.close(1000)
  }

  function onText(session, text) {
    let msg
    try {
      msg = JSON.parse(text)
    } catch {
      session.texts.push(text)
      return fail(session, 'invalid JSON message')
    }
    session.texts.push(msg)
    if (msg?.type === 'start') {
      if (session.start) return fail(session, 'session already started')
      if (msg.sample_rate !== 16000) {
        fail(session, `unsupported sample_rate ${msg.sample_rate}; only 16000`)
        session.closedBy = 'error'
        return session.ws.close(1003)
      }
      session.start = msg
      return
    }
    if (msg?.type === 'stop') {
      session.stopped = true
      if (behaviour.doneDelayMs > 0) setTimeout(() => finish(session), behaviour.doneDelayMs)
      else finish(session)
      return
    }
    fail(session, `unknown message type ${JSON.stringify(msg?.type)}`)
  }

  function onBinary(session, data) {
    if (!session.start) return fail(session, 'audio before start')
    if (session.stopped) return fail(session, 'audio after stop')
    if (data.length % 2 !== 0) return fail(session, `odd-length PCM frame (${data.length} bytes)`)
    const samples = new Int16Array(data.length / 2)
    for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2)
    session.frames.push(data.length)
    if (retain) session.chunks.push(samples)
    session.samples += samples.length
    record.audioFrames++
    record.audioSamples += samples.length
    if (recorder) recorder.write(Float32Array.from(samples, (s) => s / 32768), 16000)
    onAudio?.({ session: session.id, samples })
    if (previewEvery > 0) {
      while (session.samples - session.previews * previewEvery >= previewEvery) {
        session.previews++
        send(session, { type: 'preview', text: `heard ${session.previews * previewEvery} samples` })
      }
    }
  }

  function accept(ws, token) {
    const session = newSession(ws, token)
    record.sessions.push(session)
    live.add(session)
    let idle = null
    const touch = () => {
      clearTimeout(idle)
      idle = setTimeout(() => {
        session.closedBy ??= 'idle'
        ws.close(1000, 'idle')
      }, idleTimeoutMs)
    }
    touch()
    ws.on('message', (data, isBinary) => {
      touch()
      if (isBinary) onBinary(session, Buffer.isBuffer(data) ? data : Buffer.concat(data))
      else onText(session, data.toString('utf8'))
    })
    ws.on('close', () => {
      clearTimeout(idle)
      session.closedBy ??= 'client'
      live.delete(session)
    })
    ws.on('error', () => {})
  }

  function authorize(req) {
    const header = req.headers.authorization
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : null
    if (token === null || !tokens.has(token)) return { status: 401, body: errorBody('invalid_session', 'unknown') }
    if (expired.has(token)) return { status: 401, body: errorBody('invalid_session', 'expired') }
    if (!tokens.get(token).includes('transcribe')) return { status: 403, body: errorBody('scope_denied') }
    return { status: 101, token }
  }

  function mint(scopes) {
    const token = `stt_${crypto.randomBytes(32).toString('hex')}`
    tokens.set(token, scopes)
    return token
  }

  async function authRequest(req, res, raw) {
    const reply = (status, body) => {
      record.authRequests.push({ body: raw, status })
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(body)
    }
    let body
    try {
      body = JSON.parse(raw)
    } catch {
      return reply(400, errorBody('auth_denied', 'invalid_body'))
    }
    if (typeof body?.app_name !== 'string' || !Array.isArray(body.scopes)) return reply(400, errorBody('auth_denied', 'invalid_body'))
    if (body.scopes.length === 0 || !body.scopes.every((s) => KNOWN_SCOPES.includes(s))) {
      return reply(400, errorBody('auth_denied', 'invalid_scope'))
    }
    const scopes = [...new Set(body.scopes)].sort()
    const key = scopes.join(' ')
    if (denied.has(key)) return reply(403, errorBody('auth_denied', 'user_denied_cached'))
    if (consent.delayMs > 0) await new Promise((r) => setTimeout(r, consent.delayMs))
    if (consent.decision === 'deny') {
      denied.add(key)
      return reply(403, errorBody('auth_denied', 'user_denied'))
    }
    if (consent.decision === 'dismiss') return reply(403, errorBody('auth_denied', 'user_dismissed'))
    const expiresAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString()
    reply(200, JSON.stringify({ status: 'success', session_token: mint(scopes), scopes, expires_at: expiresAt }))
  }

  function onRequest(req, res) {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > MAX_BODY) return req.destroy()
      chunks.push(c)
    })
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      if (req.method === 'POST' && req.url === AUTH_PATH) return authRequest(req, res, raw)
      const status = req.url === REALTIME_PATH ? 426 : 404
      record.requests.push({ method: req.method, url: req.url, status })
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(errorBody(status === 426 ? 'upgrade_required' : 'not_found'))
    })
  }

  function onUpgrade(req, socket, head) {
    const authorization = req.headers.authorization ?? null
    if (behaviour.silent) {
      // A stalled daemon: the request is never answered.
      record.upgrades.push({ authorization, status: 'held' })
      held.add(socket)
      socket.on('close', () => held.delete(socket))
      return
    }
    if (req.url !== REALTIME_PATH) {
      record.upgrades.push({ authorization, status: 404 })
      return refuseUpgrade(socket, 404, errorBody('not_found'))
    }
    const verdict = authorize(req)
    record.upgrades.push({ authorization, status: verdict.status })
    if (verdict.status !== 101) return refuseUpgrade(socket, verdict.status, verdict.body)
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, verdict.token))
  }

  let server = null
  function listen() {
    server = http.createServer(onRequest)
    server.on('upgrade', onUpgrade)
    server.on('connection', (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    })
    return listenOn(server, socketPath)
  }
  await listen()

  async function shutDown() {
    for (const session of live) session.closedBy ??= 'stop'
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(() => resolve()))
    removeSocketFile(socketPath)
  }

  return {
    socketPath,
    record,
    recorder,
    /** Accepts `token` with `scopes` (default `['transcribe']`). */
    addToken(token, scopes = ['transcribe']) {
      tokens.set(token, scopes)
    },
    /** Later uses of `token` get 401 `invalid_session` with reason `expired`. */
    expire(token) {
      expired.add(token)
    },
    /** The s16 samples of session `i` (default: every session), concatenated. */
    samples(i) {
      const sessions = i === undefined ? record.sessions : [record.sessions[i]]
      return concat(sessions.flatMap((s) => s.chunks), Int16Array)
    },
    /** Sends `{"type":"error","message"}` to every open session. */
    sendError(message) {
      for (const s of live) fail(s, message)
    },
    /**
     * `silent`: stalled, like a hung process: open sessions are no longer read and new
     * upgrades are never answered (ending it drops those). `doneDelayMs`; `noDone`.
     */
    behave({ silent = false, doneDelayMs = 0, noDone = false } = {}) {
      Object.assign(behaviour, { silent, doneDelayMs, noDone })
      for (const session of live) {
        if (silent) session.ws._socket?.pause()
        else session.ws._socket?.resume()
      }
      if (!silent) for (const s of held) s.destroy()
    },
    /** Changes how the consent prompt is answered. */
    setConsent(decision, delayMs = 0) {
      Object.assign(consent, { decision, delayMs })
    },
    /** The daemon exits: every connection is cut and the socket file removed. Tokens are kept. */
    async stop() {
      record.stops++
      await shutDown()
    },
    async restart() {
      await listen()
    },
    async close() {
      await shutDown()
      wss.close()
      recorder?.close()
    },
  }
}

module.exports = { startV1Daemon, REALTIME_PATH, AUTH_PATH }

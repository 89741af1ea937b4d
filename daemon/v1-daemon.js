'use strict'
// A reference Super STT daemon speaking the current (v1) protocol of
// shared/docs/super-stt-protocol.md §2, minus the speech model: HTTP/1.1 on a Unix socket,
// bearer tokens from `POST /v1/auth/request`, and realtime audio over a WebSocket on
// `GET /v1/transcribe/realtime`. Its parts: `v1/http.js` (routes and error bodies),
// `v1/auth.js` (tokens and the consent prompt), `v1/sessions.js` (one realtime session);
// this file holds the server, the misbehaviour switches and the public API. It records
// everything a client did, for tests, and can write the audio to a WAV file.
// Runnable on its own: `npx stt-capture daemon --protocol v1`.

const http = require('node:http')
const { WebSocketServer } = require('ws')
const { WavWriter } = require('./wav-writer.js')
const { concat } = require('./concat.js')
const { prepareSocketPath, listenOn, removeSocketFile } = require('./unix-socket.js')
const { REALTIME_PATH, AUTH_PATH, errorBody, refuseUpgrade, readBody, reply } = require('./v1/http.js')
const { Auth } = require('./v1/auth.js')
const { newSession, runSession, fail } = require('./v1/sessions.js')

const MAX_MESSAGE = 1 << 20

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
  const auth = new Auth(options)
  const behaviour = { silent: false, doneDelayMs: 0, noDone: false }
  const recorder = options.record ? new WavWriter(options.record) : null
  const record = {
    /** Every upgrade attempt on the realtime route: `{ authorization, status }` (101 = accepted). */
    upgrades: [],
    /** Every `POST /v1/auth/request`: `{ body, status }`. */
    authRequests: [],
    /** Every other HTTP request: `{ method, url, status }`. */
    requests: [],
    /** Accepted realtime sessions in order (see `v1/sessions.js`). */
    sessions: [],
    audioFrames: 0,
    audioSamples: 0,
    stops: 0,
  }
  const sessionOptions = {
    previewEvery: options.previewEverySamples ?? 16000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    retain: options.retain ?? true,
    behaviour,
    onAudio(session, samples) {
      record.audioFrames++
      record.audioSamples += samples.length
      if (recorder) recorder.write(Float32Array.from(samples, (s) => s / 32768), 16000)
      options.onAudio?.({ session: session.id, samples })
    },
  }
  prepareSocketPath(socketPath)

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE })
  const sockets = new Set()
  const live = new Set()
  /** Upgrade requests a silent daemon is not answering. */
  const held = new Set()

  async function onRequest(req, res) {
    const raw = await readBody(req)
    if (req.method === 'POST' && req.url === AUTH_PATH) {
      const { status, body } = await auth.request(raw)
      record.authRequests.push({ body: raw, status })
      return reply(res, status, body)
    }
    const status = req.url === REALTIME_PATH ? 426 : 404
    record.requests.push({ method: req.method, url: req.url, status })
    reply(res, status, errorBody(status === 426 ? 'upgrade_required' : 'not_found'))
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
    const verdict = auth.authorize(authorization)
    record.upgrades.push({ authorization, status: verdict.status })
    if (verdict.status !== 101) return refuseUpgrade(socket, verdict.status, verdict.body)
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = newSession(record.sessions.length, ws, verdict.token)
      record.sessions.push(session)
      live.add(session)
      runSession(session, sessionOptions, () => live.delete(session))
    })
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
      auth.tokens.set(token, scopes)
    },
    /** Later uses of `token` get 401 `invalid_session` with reason `expired`. */
    expire(token) {
      auth.expired.add(token)
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
      Object.assign(auth.consent, { decision, delayMs })
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

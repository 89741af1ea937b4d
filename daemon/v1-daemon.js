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
const { REALTIME_PATH, AUTH_PATH, TRANSCRIBE_PATH, MAX_TRANSCRIBE_BODY, errorBody, refuseUpgrade, readBody, reply } = require('./v1/http.js')
const { Batch } = require('./v1/batch.js')
const { Auth } = require('./v1/auth.js')
const { newSession, runSession, fail } = require('./v1/sessions.js')

const MAX_MESSAGE = 1 << 20
const READ_AHEAD = 16 * 1024

/**
 * Starts a v1 daemon on `socketPath`. Options:
 * - `tokens`: `{ [token]: scopes[] }` accepted from the start (default none).
 * - `consent`: how `POST /v1/auth/request` is answered: `'allow'` (default), `'deny'` (remembered
 *   for those scopes, like the daemon's deny cache) or `'dismiss'`; `consentDelayMs` (the user
 *   thinking; default 0).
 * - `previewEverySamples`: a `preview` each time a session has that many more samples (default
 *   16000; 0 for none). Texts describe the audio, since there is no model.
 * - `idleTimeoutMs`: a session with no frame for this long is closed (default 60000).
 * - `record` (a WAV path, 32-bit float), `onAudio({ session, samples })`,
 *   `onTranscribe({ status, length, text })`, `retain` (default
 *   true: keep every sample for tests; false keeps counts only).
 * - `model`: `'realtime'` (default: the WebSocket route transcribes) or `'batch'` (a
 *   Whisper-class model: the realtime upgrade is refused with 400 `model_not_realtime`, or
 *   with `batchRefusal: 'close'` accepted and closed without a word; `POST /v1/transcribe`
 *   transcribes, after `transcribeDelayMs`, answering 409 `not_ready` for the first
 *   `notReadyForMs` after each start). The batch route works with either model.
 * Test controls: `stop()` / `restart()` (a daemon exit and start: sockets cut, socket file
 * removed), `sendError(message)`, `behave({ silent, doneDelayMs, noDone })`, `expire(token)`,
 * `setModel(model, batchRefusal?)`, `injectTranscribe(status, code, times)`.
 */
async function startV1Daemon(socketPath, options = {}) {
  const auth = new Auth(options)
  const model = { kind: options.model ?? 'realtime', refusal: options.batchRefusal ?? 'refuse' }
  const batch = new Batch({ delayMs: options.transcribeDelayMs ?? 0, notReadyForMs: options.notReadyForMs ?? 0, retain: options.retain ?? true })
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
    /** Every `POST /v1/transcribe`: `{ authorization, status, samples, language, text }`. */
    transcribes: [],
    audioFrames: 0,
    audioSamples: 0,
    stops: 0,
    /** Realtime upgrades a batch model accepted and closed without a word. */
    closedUpgrades: 0,
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
    if (req.method === 'POST' && req.url === TRANSCRIBE_PATH) return transcribe(req, res)
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

  async function transcribe(req, res) {
    const authorization = req.headers.authorization ?? null
    const raw = await readBody(req, MAX_TRANSCRIBE_BODY)
    const verdict = auth.authorize(authorization)
    const answer = verdict.status === 101 ? await batch.answer(raw) : { status: verdict.status, body: verdict.body }
    record.transcribes.push({
      authorization,
      status: answer.status,
      samples: batch.retain ? (answer.samples ?? null) : null,
      length: answer.samples?.length ?? 0,
      language: answer.language ?? null,
      text: answer.text ?? null,
    })
    if (answer.samples && recorder) recorder.write(answer.samples, 16000)
    options.onTranscribe?.(record.transcribes.at(-1))
    reply(res, answer.status, answer.body)
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
    if (verdict.status !== 101) {
      record.upgrades.push({ authorization, status: verdict.status })
      return refuseUpgrade(socket, verdict.status, verdict.body)
    }
    if (model.kind === 'batch' && model.refusal === 'refuse') {
      // A batch model: the realtime route does not serve it.
      record.upgrades.push({ authorization, status: 400 })
      return refuseUpgrade(socket, 400, errorBody('model_not_realtime'))
    }
    record.upgrades.push({ authorization, status: 101 })
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (model.kind === 'batch') {
        // The other way a batch model's daemon answers: accepted, then closed without a word.
        record.closedUpgrades++
        ws.close(1000)
        return
      }
      const session = newSession(record.sessions.length, ws, verdict.token)
      record.sessions.push(session)
      live.add(session)
      runSession(session, sessionOptions, () => live.delete(session))
    })
  }

  let server = null
  function listen() {
    // The same read-ahead on every Node (22 raised the default from 16 to 64 KiB): tests bound
    // what a daemon that reads nothing can have taken by it.
    server = http.createServer({ highWaterMark: READ_AHEAD }, onRequest)
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
      batch.started()
      await listen()
    },
    /** The user switches models: from the next connection on. */
    setModel(kind, refusal = model.refusal) {
      Object.assign(model, { kind, refusal })
    },
    /** The next `times` transcribe requests get HTTP `status` with the daemon's `code`. */
    injectTranscribe(status, code, times = 1) {
      batch.inject(status, code, times)
    },
    async close() {
      await shutDown()
      wss.close()
      recorder?.close()
    },
  }
}

module.exports = { startV1Daemon, REALTIME_PATH, AUTH_PATH }

'use strict'
// A reference Super STT daemon speaking the legacy socket protocol exactly as
// shared/docs/super-stt-protocol.md §1 describes it (framing, replies, release error strings,
// release rate limit), minus the speech model. It records every request so tests can check
// what a client sent, and can write the audio it receives to a WAV file. Used by the test
// suite and the demo; runnable on its own: `npx stt-capture daemon --record out.wav`.

const net = require('node:net')
const crypto = require('node:crypto')
const { WavWriter } = require('./wav-writer.js')
const { concat } = require('./concat.js')
const { prepareSocketPath, listenOn, removeSocketFile } = require('./unix-socket.js')

const MAX_FRAME = 100 * 1024 * 1024
const RELEASE = { requestsPerMinute: 60, maxConnections: 20 }
const COMMAND_RE = /^[A-Za-z0-9_-]{1,256}$/
// JSON numbers written with a fraction or exponent: the daemon's serde `u32` rejects them.
const NON_INTEGER_RATE_RE = /"sample_rate"\s*:\s*-?\d+(\.\d+|[eE][+-]?\d+)/

/** Release builds keep only the text before the first ':' of an error message. */
function releaseMessage(message) {
  const i = message.indexOf(':')
  return i === -1 ? message : message.slice(0, i)
}


function frame(obj) {
  const body = Buffer.from(JSON.stringify(obj), 'utf8')
  const header = Buffer.alloc(8)
  header.writeBigUInt64BE(BigInt(body.length))
  return Buffer.concat([header, body])
}

/** Ways to answer a `realtime_audio` request badly, for `behave({ audio })`. */
const AUDIO_REPLIES = [
  'normal',
  'error-status', // {"status":"error"}: the daemon refuses the chunk
  'non-json', // a well-framed reply that is not JSON
  'bad-framing', // a 4-byte length prefix instead of 8
  'oversize', // a length prefix of 200 MiB, then nothing
  'eof-mid-frame', // a header announcing 100 bytes, 10 bytes, then close
  'drop-connection', // close the connection without replying
  'silent', // never reply (the connection stays open)
]

/**
 * Starts a daemon on `socketPath`. Options: `rateLimit` (requests per minute per
 * unsubscribed connection, default 60 like a release build), `maxConnections` (20),
 * `transcribeEverySamples` (when set, sends a `realtime_transcription` notification to
 * subscribers each time a session has received that many more samples; the text describes
 * the audio since there is no model), `record` (a WAV path: every accepted audio chunk is
 * appended, as 32-bit float mono), `onAudio({ clientId, samples, sampleRate, chunk,
 * totalSamples })` (called per accepted chunk), `retain` (default true: keep every request
 * and sample in `record` for tests; false for a long-running daemon, which then keeps counts
 * only).
 *
 * For tests of a daemon that misbehaves: `stop()` / `restart()` (a daemon restart: sessions
 * are forgotten, the record is kept), `behave({ replyDelayMs, audio, times, silent })` and
 * `notify(clientId, text)`.
 */
async function startLegacyDaemon(socketPath, options = {}) {
  const rateLimit = options.rateLimit ?? RELEASE.requestsPerMinute
  const maxConnections = options.maxConnections ?? RELEASE.maxConnections
  const transcribeEvery = options.transcribeEverySamples ?? 0
  const retain = options.retain ?? true
  const onAudio = options.onAudio ?? null
  prepareSocketPath(socketPath)

  const record = {
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
  }
  const recorder = options.record ? new WavWriter(options.record) : null
  const subscribers = new Set()
  /** socket → connection state */
  const sockets = new Map()
  // Misbehaviour: replies delayed by `replyDelayMs` (in order); the next `times` audio
  // requests answered as `audio`; with `silent`, no request is answered at all.
  const behaviour = { replyDelayMs: 0, audio: 'normal', times: Infinity, silent: false }

  function notify(event) {
    for (const s of subscribers) s.write(frame(event))
  }

  function handle(conn, raw) {
    let req
    try {
      req = JSON.parse(raw)
    } catch {
      return { status: 'error', message: 'Invalid JSON request' }
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      return { status: 'error', message: 'Invalid JSON request' }
    }
    if (typeof req.command !== 'string' || NON_INTEGER_RATE_RE.test(raw)) {
      return { status: 'error', message: 'Invalid JSON request' }
    }
    const rate = req.sample_rate
    if (rate != null && !(Number.isInteger(rate) && rate >= 8000 && rate <= 96000)) {
      return { status: 'error', message: 'Invalid JSON request' }
    }
    if (req.client_id != null && (typeof req.client_id !== 'string' || Buffer.byteLength(req.client_id) > 1024)) {
      return { status: 'error', message: 'Invalid JSON request' }
    }
    if (req.audio_data != null && !(Array.isArray(req.audio_data) && req.audio_data.every((x) => typeof x === 'number'))) {
      return { status: 'error', message: 'Invalid JSON request' }
    }
    if (!COMMAND_RE.test(req.command)) {
      return { status: 'error', message: releaseMessage(`Invalid command: ${req.command}`) }
    }
    if (retain) record.requests.push({
      command: req.command,
      clientId: req.client_id ?? null,
      sampleRate: rate ?? null,
      samples: Array.isArray(req.audio_data) ? req.audio_data.length : 0,
      subscribed: conn.subscribed,
      at: Date.now(),
    })
    if (!conn.subscribed) {
      const now = Date.now()
      conn.window = conn.window.filter((t) => now - t < 60_000)
      if (conn.window.length >= rateLimit) {
        record.rateLimited++
        return { status: 'error', message: 'Rate limit exceeded' }
      }
      conn.window.push(now)
    }
    switch (req.command) {
      case 'ping':
        return { status: 'success', message: 'pong' }
      case 'status':
        return { status: 'success', message: 'reference daemon', connection_active: true }
      case 'subscribe': {
        conn.subscribed = true
        subscribers.add(conn.socket)
        const types = Array.isArray(req.event_types) ? req.event_types : []
        return {
          status: 'success',
          subscribed_to: types,
          total_subscribers: subscribers.size,
          client_id: crypto.randomUUID(),
        }
      }
      case 'start_realtime': {
        const id = req.client_id ?? `realtime_${crypto.randomUUID()}`
        const previous = record.sessions.get(id)
        record.sessions.set(id, {
          starts: (previous?.starts ?? 0) + 1,
          samples: [],
          received: 0,
          chunks: previous?.chunks ?? 0,
          totalSamples: previous?.totalSamples ?? 0,
          notified: 0,
        })
        return { status: 'success', message: 'Real-time transcription session started', client_id: id }
      }
      case 'realtime_audio': {
        if (req.client_id == null) return { status: 'error', message: 'Missing client_id for realtime_audio command' }
        if (req.audio_data == null) return { status: 'error', message: 'Missing audio_data for realtime_audio command' }
        const session = record.sessions.get(req.client_id)
        if (!session) {
          record.droppedUnknownSession++
          return { status: 'success', message: 'Audio chunk processed' }
        }
        if (retain) {
          session.samples.push(req.audio_data)
          if (!record.audio.has(req.client_id)) record.audio.set(req.client_id, [])
          record.audio.get(req.client_id).push(req.audio_data)
        }
        session.received += req.audio_data.length
        session.totalSamples += req.audio_data.length
        session.chunks++
        record.audioChunks++
        record.audioSamples += req.audio_data.length
        recorder?.write(req.audio_data, rate ?? 16000)
        onAudio?.({
          clientId: req.client_id,
          samples: req.audio_data,
          sampleRate: rate ?? 16000,
          chunk: session.chunks,
          totalSamples: session.totalSamples,
        })
        if (transcribeEvery > 0) {
          while (session.received - session.notified >= transcribeEvery) {
            session.notified += transcribeEvery
            const ts = new Date().toISOString()
            notify({
              type: 'notification',
              event_type: 'realtime_transcription',
              client_id: req.client_id,
              timestamp: ts,
              data: { timestamp: ts, transcription: `heard ${session.notified} samples` },
            })
          }
        }
        return { status: 'success', message: 'Audio chunk processed' }
      }
      default:
        return { status: 'error', message: releaseMessage(`Unknown command: ${req.command}`) }
    }
  }

  /** Answers one audio request as the current misbehaviour says; true when it did. */
  function misbehave(conn, req) {
    if (behaviour.audio === 'normal' || req?.command !== 'realtime_audio' || behaviour.times <= 0) return false
    const kind = behaviour.audio
    behaviour.times--
    if (behaviour.times <= 0) behaviour.audio = 'normal'
    record.misbehaved[kind] = (record.misbehaved[kind] ?? 0) + 1
    const s = conn.socket
    switch (kind) {
      case 'error-status':
        s.write(frame({ status: 'error', message: 'Internal error' }))
        break
      case 'non-json': {
        const body = Buffer.from('<html>not json</html>')
        const header = Buffer.alloc(8)
        header.writeBigUInt64BE(BigInt(body.length))
        s.write(Buffer.concat([header, body]))
        break
      }
      case 'bad-framing': {
        const body = Buffer.from(JSON.stringify({ status: 'success', message: 'Audio chunk processed' }))
        const header = Buffer.alloc(4)
        header.writeUInt32BE(body.length)
        s.write(Buffer.concat([header, body]))
        break
      }
      case 'oversize': {
        const header = Buffer.alloc(8)
        header.writeBigUInt64BE(200n * 1024n * 1024n)
        s.write(header)
        break
      }
      case 'eof-mid-frame': {
        const header = Buffer.alloc(8)
        header.writeBigUInt64BE(100n)
        conn.closed = true
        s.end(Buffer.concat([header, Buffer.from('{"status":')]))
        break
      }
      case 'drop-connection':
        conn.closed = true
        s.destroy()
        break
      case 'silent':
        break
    }
    return true
  }

  function reply(conn, response) {
    if (behaviour.silent) return
    const out = frame(response)
    if (behaviour.replyDelayMs <= 0 && conn.pending === 0) {
      conn.socket.write(out)
      return
    }
    // Slow daemon: replies leave one after another, each `replyDelayMs` after the previous.
    conn.pending++
    conn.chain = conn.chain.then(
      () =>
        new Promise((resolve) =>
          setTimeout(() => {
            conn.pending--
            if (!conn.closed) conn.socket.write(out)
            resolve()
          }, behaviour.replyDelayMs),
        ),
    )
  }

  let server = null
  function listen() {
    server = net.createServer((socket) => {
      if (sockets.size >= maxConnections) {
        socket.destroy()
        return
      }
      const conn = { socket, subscribed: false, window: [], buf: Buffer.alloc(0), closed: false, pending: 0, chain: Promise.resolve() }
      sockets.set(socket, conn)
      record.connections++
      record.maxConcurrent = Math.max(record.maxConcurrent, sockets.size)
      socket.on('data', (data) => {
        if (conn.closed) return
        record.bytesReceived += data.length
        conn.buf = Buffer.concat([conn.buf, data])
        while (conn.buf.length >= 8 && !conn.closed) {
          const len = conn.buf.readBigUInt64BE(0)
          if (len > BigInt(MAX_FRAME)) {
            socket.destroy()
            return
          }
          const n = Number(len)
          if (conn.buf.length < 8 + n) break
          const raw = conn.buf.subarray(8, 8 + n).toString('utf8')
          conn.buf = conn.buf.subarray(8 + n)
          let parsed = null
          try {
            parsed = JSON.parse(raw)
          } catch {}
          if (misbehave(conn, parsed)) continue
          reply(conn, handle(conn, raw))
        }
      })
      const forget = () => {
        conn.closed = true
        sockets.delete(socket)
        subscribers.delete(socket)
      }
      socket.on('close', forget)
      socket.on('error', forget)
    })
    return listenOn(server, socketPath)
  }
  await listen()

  /** Closes the listener and every connection; replies already written still arrive. */
  async function shutDown() {
    // An exiting daemon reads no more requests; what it already answered still goes out.
    for (const [s, conn] of sockets) {
      conn.closed = true
      s.end()
    }
    const closed = new Promise((resolve) => server.close(() => resolve()))
    // Connections that do not close on their own within a moment are cut.
    const timer = setTimeout(() => {
      for (const s of sockets.keys()) s.destroy()
    }, 200)
    await closed
    clearTimeout(timer)
    removeSocketFile(socketPath)
  }

  return {
    socketPath,
    record,
    /** The WAV being written (`record` option), or null. */
    recorder,
    /** Samples of the current session of `clientId`, concatenated. */
    sessionSamples(clientId) {
      return concat(record.sessions.get(clientId)?.samples ?? [], Float32Array)
    },
    /** Every sample ever accepted for `clientId`, concatenated. */
    allSamples(clientId) {
      return concat(record.audio.get(clientId) ?? [], Float32Array)
    },
    /** Sizes of the accepted audio chunks of `clientId`, in order. */
    chunkSizes(clientId) {
      return (record.audio.get(clientId) ?? []).map((c) => c.length)
    },
    /**
     * The daemon exits: it stops accepting, closes every connection (replies it already
     * wrote still arrive, requests it had not read are lost) and removes its socket file.
     * Sessions are forgotten, like a real restart; the record is kept.
     */
    async stop() {
      record.stops++
      subscribers.clear()
      await shutDown()
      record.sessions.clear()
    },
    /** Listens again on the same path after `stop()`. */
    async restart() {
      await listen()
    },
    /** Changes how the daemon answers (see AUDIO_REPLIES); `behave({})` restores normal. */
    behave({ replyDelayMs = 0, audio = 'normal', times = Infinity, silent = false } = {}) {
      if (!AUDIO_REPLIES.includes(audio)) throw new Error(`unknown audio reply ${audio}`)
      Object.assign(behaviour, { replyDelayMs, audio, times, silent })
    },
    /** Pushes a realtime_transcription notification for `clientId` to every subscriber. */
    notify(clientId, text) {
      const ts = new Date().toISOString()
      notify({ type: 'notification', event_type: 'realtime_transcription', client_id: clientId, timestamp: ts, data: { timestamp: ts, transcription: text } })
    },
    async close() {
      for (const s of sockets.keys()) s.destroy()
      await new Promise((resolve) => server.close(() => resolve()))
      recorder?.close()
      removeSocketFile(socketPath)
    },
  }
}

module.exports = { startLegacyDaemon, frame, MAX_FRAME, AUDIO_REPLIES }

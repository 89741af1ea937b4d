'use strict'
// A reference Super STT daemon speaking the legacy socket protocol exactly as
// shared/docs/super-stt-protocol.md §1 describes it (framing, replies, release error strings,
// release rate limit), minus the speech model. It records every request so tests can check
// what a client sent. Used by the test suite; runnable on its own:
//   node daemon/legacy-daemon.js --socket /tmp/stt/super-stt.sock

const net = require('node:net')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

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

function concat(chunks) {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0))
  let i = 0
  for (const c of chunks) {
    out.set(c, i)
    i += c.length
  }
  return out
}

function frame(obj) {
  const body = Buffer.from(JSON.stringify(obj), 'utf8')
  const header = Buffer.alloc(8)
  header.writeBigUInt64BE(BigInt(body.length))
  return Buffer.concat([header, body])
}

/**
 * Starts a daemon on `socketPath`. Options: `rateLimit` (requests per minute per
 * unsubscribed connection, default 60 like a release build), `maxConnections` (20),
 * `transcribeEverySamples` (when set, sends a `realtime_transcription` notification to
 * subscribers each time a session has received that many more samples; the text describes
 * the audio since there is no model).
 */
async function startLegacyDaemon(socketPath, options = {}) {
  const rateLimit = options.rateLimit ?? RELEASE.requestsPerMinute
  const maxConnections = options.maxConnections ?? RELEASE.maxConnections
  const transcribeEvery = options.transcribeEverySamples ?? 0
  fs.mkdirSync(path.dirname(socketPath), { recursive: true })
  try {
    fs.unlinkSync(socketPath)
  } catch {}

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
  }
  const subscribers = new Set()
  const sockets = new Set()

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
    record.requests.push({
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
        record.sessions.set(id, { starts: (previous?.starts ?? 0) + 1, samples: [], totalSamples: previous?.totalSamples ?? 0, notified: 0 })
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
        session.samples.push(req.audio_data)
        if (!record.audio.has(req.client_id)) record.audio.set(req.client_id, [])
        record.audio.get(req.client_id).push(req.audio_data)
        session.totalSamples += req.audio_data.length
        if (transcribeEvery > 0) {
          const received = session.samples.reduce((n, c) => n + c.length, 0)
          while (received - session.notified >= transcribeEvery) {
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

  const server = net.createServer((socket) => {
    if (sockets.size >= maxConnections) {
      socket.destroy()
      return
    }
    sockets.add(socket)
    record.connections++
    record.maxConcurrent = Math.max(record.maxConcurrent, sockets.size)
    const conn = { socket, subscribed: false, window: [], buf: Buffer.alloc(0) }
    socket.on('data', (data) => {
      conn.buf = Buffer.concat([conn.buf, data])
      while (conn.buf.length >= 8) {
        const len = conn.buf.readBigUInt64BE(0)
        if (len > BigInt(MAX_FRAME)) {
          socket.destroy()
          return
        }
        const n = Number(len)
        if (conn.buf.length < 8 + n) break
        const raw = conn.buf.subarray(8, 8 + n).toString('utf8')
        conn.buf = conn.buf.subarray(8 + n)
        socket.write(frame(handle(conn, raw)))
      }
    })
    const forget = () => {
      sockets.delete(socket)
      subscribers.delete(socket)
    }
    socket.on('close', forget)
    socket.on('error', forget)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  })
  try {
    fs.chmodSync(socketPath, 0o660)
  } catch {}

  return {
    socketPath,
    record,
    /** Samples of the current session of `clientId`, concatenated. */
    sessionSamples(clientId) {
      return concat(record.sessions.get(clientId)?.samples ?? [])
    },
    /** Every sample ever accepted for `clientId`, concatenated. */
    allSamples(clientId) {
      return concat(record.audio.get(clientId) ?? [])
    },
    /** Sizes of the accepted audio chunks of `clientId`, in order. */
    chunkSizes(clientId) {
      return (record.audio.get(clientId) ?? []).map((c) => c.length)
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(() => resolve()))
      try {
        fs.unlinkSync(socketPath)
      } catch {}
    },
  }
}

module.exports = { startLegacyDaemon, frame, MAX_FRAME }

if (require.main === module) {
  const args = process.argv.slice(2)
  const i = args.indexOf('--socket')
  const { legacySocketPath } = require('./socket-path.js')
  const socketPath = i >= 0 ? args[i + 1] : legacySocketPath()
  startLegacyDaemon(socketPath).then((d) => {
    process.stdout.write(`reference daemon listening on ${d.socketPath}\n`)
    const stop = () => d.close().then(() => process.exit(0))
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

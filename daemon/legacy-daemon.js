'use strict'
// A reference Super STT daemon speaking the legacy socket protocol exactly as
// shared/docs/super-stt-protocol.md §1 describes it (framing, replies, release error strings,
// release rate limit), minus the speech model. Its parts: `legacy/framing.js` (the 8-byte
// length framing), `legacy/commands.js` (what each request gets), `legacy/misbehaviour.js`
// (what tests can make it do wrong); this file holds the connections and the public API.
// Used by the test suite and the demo; runnable on its own: `npx stt-capture daemon`.

const net = require('node:net')
const { WavWriter } = require('./wav-writer.js')
const { concat } = require('./concat.js')
const { prepareSocketPath, listenOn, removeSocketFile } = require('./unix-socket.js')
const { frame, FrameReader, MAX_FRAME } = require('./legacy/framing.js')
const { LegacyCommands, newRecord } = require('./legacy/commands.js')
const { AUDIO_REPLIES, Behaviour } = require('./legacy/misbehaviour.js')

const RELEASE = { requestsPerMinute: 60, maxConnections: 20 }

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
  const maxConnections = options.maxConnections ?? RELEASE.maxConnections
  prepareSocketPath(socketPath)
  const record = newRecord()
  const recorder = options.record ? new WavWriter(options.record) : null
  const subscribers = new Set()
  /** socket → connection state */
  const sockets = new Map()
  const behaviour = new Behaviour(record)
  const commands = new LegacyCommands({
    record,
    retain: options.retain ?? true,
    rateLimit: options.rateLimit ?? RELEASE.requestsPerMinute,
    transcribeEvery: options.transcribeEverySamples ?? 0,
    recorder,
    onAudio: options.onAudio ?? null,
    subscribeConnection: (conn) => subscribers.add(conn.socket).size,
    notify: (event) => {
      for (const s of subscribers) s.write(frame(event))
    },
  })

  function onConnection(socket) {
    if (sockets.size >= maxConnections) return socket.destroy()
    const conn = { socket, subscribed: false, window: [], reader: new FrameReader(), closed: false, pending: 0, chain: Promise.resolve() }
    sockets.set(socket, conn)
    record.connections++
    conn.id = record.connections
    record.maxConcurrent = Math.max(record.maxConcurrent, sockets.size)
    socket.on('data', (data) => {
      if (conn.closed) return
      record.bytesReceived += data.length
      const { bodies, oversize } = conn.reader.push(data)
      for (const raw of bodies) {
        if (conn.closed) break
        let parsed = null
        try {
          parsed = JSON.parse(raw)
        } catch {}
        if (behaviour.misbehave(conn, parsed)) continue
        behaviour.reply(conn, commands.handle(conn, raw))
      }
      if (oversize) socket.destroy()
    })
    const forget = () => {
      conn.closed = true
      sockets.delete(socket)
      subscribers.delete(socket)
    }
    socket.on('close', forget)
    socket.on('error', forget)
  }

  let server = null
  function listen() {
    server = net.createServer(onConnection)
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
    behave(how = {}) {
      behaviour.set(how)
    },
    /** Pushes a realtime_transcription notification for `clientId` to every subscriber. */
    notify(clientId, text) {
      commands.notifyTranscription(clientId, text)
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

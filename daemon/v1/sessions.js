'use strict'
// One realtime WebSocket session of the v1 daemon: `start`, binary s16 frames, `stop`; it
// answers `preview`, `done` and `error`, and closes after `idleTimeoutMs` without a frame.

/** The record of a session on `ws`, as tests read it. */
function newSession(id, ws, token) {
  return {
    id,
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

function finish(session, behaviour) {
  if (session.doneSent || behaviour.noDone) return
  session.doneSent = true
  send(session, { type: 'done', transcription: `heard ${session.samples} samples` })
  session.closedBy ??= 'daemon'
  session.ws.close(1000)
}

function onText(session, text, options) {
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
    const { behaviour } = options
    if (behaviour.doneDelayMs > 0) setTimeout(() => finish(session, behaviour), behaviour.doneDelayMs)
    else finish(session, behaviour)
    return
  }
  fail(session, `unknown message type ${JSON.stringify(msg?.type)}`)
}

function onBinary(session, data, options) {
  if (!session.start) return fail(session, 'audio before start')
  if (session.stopped) return fail(session, 'audio after stop')
  if (data.length % 2 !== 0) return fail(session, `odd-length PCM frame (${data.length} bytes)`)
  const samples = new Int16Array(data.length / 2)
  for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2)
  session.frames.push(data.length)
  if (options.retain) session.chunks.push(samples)
  session.samples += samples.length
  options.onAudio?.(session, samples)
  const every = options.previewEvery
  if (every > 0) {
    while (session.samples - session.previews * every >= every) {
      session.previews++
      send(session, { type: 'preview', text: `heard ${session.previews * every} samples` })
    }
  }
}

/**
 * Runs `session` on its WebSocket until it closes; `onClose()` then. `options`:
 * `previewEvery` (samples per preview, 0 = none), `idleTimeoutMs`, `retain` (keep the
 * samples), `behaviour` ({ doneDelayMs, noDone }, read when needed), `onAudio(session, samples)`.
 */
function runSession(session, options, onClose) {
  const { ws } = session
  let idle = null
  const touch = () => {
    clearTimeout(idle)
    idle = setTimeout(() => {
      session.closedBy ??= 'idle'
      ws.close(1000, 'idle')
    }, options.idleTimeoutMs)
  }
  touch()
  ws.on('message', (data, isBinary) => {
    touch()
    if (isBinary) onBinary(session, Buffer.isBuffer(data) ? data : Buffer.concat(data), options)
    else onText(session, data.toString('utf8'), options)
  })
  ws.on('close', () => {
    clearTimeout(idle)
    session.closedBy ??= 'client'
    onClose()
  })
  ws.on('error', () => {})
}

module.exports = { newSession, runSession, fail }

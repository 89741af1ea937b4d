'use strict'
// How the reference daemon misbehaves on command, for tests of a client's resilience:
// answers to audio that are wrong in each way a real daemon's can be, and slow or no replies.

const { frame, rawFrame } = require('./framing.js')

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

const SUCCESS = { status: 'success', message: 'Audio chunk processed' }

/** Writes the misbehaviour `kind` on `conn` ({ socket, closed }). */
function answerBadly(conn, kind) {
  const s = conn.socket
  switch (kind) {
    case 'error-status':
      return s.write(frame({ status: 'error', message: 'Internal error' }))
    case 'non-json':
      return s.write(rawFrame(Buffer.from('<html>not json</html>')))
    case 'bad-framing':
      return s.write(rawFrame(Buffer.from(JSON.stringify(SUCCESS)), 4))
    case 'oversize': {
      const header = Buffer.alloc(8)
      header.writeBigUInt64BE(200n * 1024n * 1024n)
      return s.write(header)
    }
    case 'eof-mid-frame': {
      const header = Buffer.alloc(8)
      header.writeBigUInt64BE(100n)
      conn.closed = true
      return s.end(Buffer.concat([header, Buffer.from('{"status":')]))
    }
    case 'drop-connection':
      conn.closed = true
      return s.destroy()
    case 'silent':
      return undefined
  }
}

/** The daemon's current misbehaviour; `set({})` restores normal. */
class Behaviour {
  constructor(record) {
    this.record = record
    this.set({})
  }

  set({ replyDelayMs = 0, audio = 'normal', times = Infinity, silent = false } = {}) {
    if (!AUDIO_REPLIES.includes(audio)) throw new Error(`unknown audio reply ${audio}`)
    Object.assign(this, { replyDelayMs, audio, times, silent })
  }

  /** Answers one audio request badly if told to; true when it did. */
  misbehave(conn, req) {
    if (this.audio === 'normal' || req?.command !== 'realtime_audio' || this.times <= 0) return false
    const kind = this.audio
    this.times--
    if (this.times <= 0) this.audio = 'normal'
    this.record.misbehaved[kind] = (this.record.misbehaved[kind] ?? 0) + 1
    answerBadly(conn, kind)
    return true
  }

  /** Sends `response` on `conn`, late when slow, never when silent; in order either way. */
  reply(conn, response) {
    if (this.silent) return
    const out = frame(response)
    if (this.replyDelayMs <= 0 && conn.pending === 0) {
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
          }, this.replyDelayMs),
        ),
    )
  }
}

module.exports = { AUDIO_REPLIES, Behaviour, answerBadly }

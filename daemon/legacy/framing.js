'use strict'
// The legacy protocol's framing (protocol doc §1): every message is an 8-byte unsigned
// big-endian length, then that many bytes of UTF-8 JSON.

const MAX_FRAME = 100 * 1024 * 1024

/** A frame holding `body` (a Buffer) as is. */
function rawFrame(body, headerBytes = 8) {
  const header = Buffer.alloc(headerBytes)
  if (headerBytes === 8) header.writeBigUInt64BE(BigInt(body.length))
  else header.writeUInt32BE(body.length)
  return Buffer.concat([header, body])
}

/** A frame holding `obj` as JSON. */
function frame(obj) {
  return rawFrame(Buffer.from(JSON.stringify(obj), 'utf8'))
}

/** Splits a byte stream into frames, as they complete. */
class FrameReader {
  constructor(maxFrame = MAX_FRAME) {
    this.maxFrame = maxFrame
    this.buf = Buffer.alloc(0)
  }

  /**
   * Adds bytes. Returns the bodies (strings) of the frames they completed and `oversize`:
   * a length prefix over the limit came next (the daemon then drops the connection).
   */
  push(data) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data
    const bodies = []
    while (this.buf.length >= 8) {
      const len = this.buf.readBigUInt64BE(0)
      if (len > BigInt(this.maxFrame)) return { bodies, oversize: true }
      const n = Number(len)
      if (this.buf.length < 8 + n) break
      bodies.push(this.buf.subarray(8, 8 + n).toString('utf8'))
      this.buf = this.buf.subarray(8 + n)
    }
    return { bodies, oversize: false }
  }
}

module.exports = { frame, rawFrame, FrameReader, MAX_FRAME }

'use strict'
// Writes test WAV files: PCM 16/24/32-bit integer or 32/64-bit float, any rate and channels.
const fs = require('node:fs')

const FORMATS = {
  i16: { tag: 1, bytes: 2, write: (b, v, o) => b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32768))), o) },
  i24: { tag: 1, bytes: 3, write: (b, v, o) => b.writeIntLE(Math.max(-8388608, Math.min(8388607, Math.round(v * 8388608))), o, 3) },
  f32: { tag: 3, bytes: 4, write: (b, v, o) => b.writeFloatLE(v, o) },
  f64: { tag: 3, bytes: 8, write: (b, v, o) => b.writeDoubleLE(v, o) },
}

/** `sample(ch, i)` gives channel `ch` of frame `i`, in [-1, 1]. */
function writeWav(path, { rate, channels, format, frames, sample }) {
  const f = FORMATS[format]
  const data = Buffer.alloc(frames * channels * f.bytes)
  for (let i = 0; i < frames; i++) {
    for (let ch = 0; ch < channels; ch++) f.write(data, sample(ch, i), (i * channels + ch) * f.bytes)
  }
  const h = Buffer.alloc(44)
  h.write('RIFF', 0, 'ascii')
  h.writeUInt32LE(36 + data.length, 4)
  h.write('WAVE', 8, 'ascii')
  h.write('fmt ', 12, 'ascii')
  h.writeUInt32LE(16, 16)
  h.writeUInt16LE(f.tag, 20)
  h.writeUInt16LE(channels, 22)
  h.writeUInt32LE(rate, 24)
  h.writeUInt32LE(rate * channels * f.bytes, 28)
  h.writeUInt16LE(channels * f.bytes, 32)
  h.writeUInt16LE(f.bytes * 8, 34)
  h.write('data', 36, 'ascii')
  h.writeUInt32LE(data.length, 40)
  fs.writeFileSync(path, Buffer.concat([h, data]))
  return path
}

/**
 * Reads a mono or multichannel WAV of 16-bit PCM or 32-bit float (plain or extensible), as
 * its header declares it: { rate, channels, format: 's16' | 'f32', samples, trailingBytes }.
 */
function readWav(path) {
  const b = fs.readFileSync(path)
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${path}: not a WAV file`)
  }
  let fmt = null
  for (let o = 12; o + 8 <= b.length; ) {
    const id = b.toString('ascii', o, o + 4)
    const size = b.readUInt32LE(o + 4)
    const body = o + 8
    if (id === 'fmt ') {
      let tag = b.readUInt16LE(body)
      if (tag === 0xfffe) tag = b.readUInt16LE(body + 24) // the extensible sub-format
      fmt = { tag, channels: b.readUInt16LE(body + 2), rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) }
    } else if (id === 'data') {
      if (!fmt) throw new Error(`${path}: data before fmt`)
      if (body + size > b.length) throw new Error(`${path}: data chunk says ${size} bytes, file has ${b.length - body}`)
      const data = b.subarray(body, body + size)
      const copy = new Uint8Array(data).buffer
      const f32 = fmt.tag === 3 && fmt.bits === 32
      const s16 = fmt.tag === 1 && fmt.bits === 16
      if (!f32 && !s16) throw new Error(`${path}: format ${fmt.tag}/${fmt.bits} not supported here`)
      return {
        rate: fmt.rate,
        channels: fmt.channels,
        format: f32 ? 'f32' : 's16',
        samples: f32 ? new Float32Array(copy) : new Int16Array(copy),
        trailingBytes: b.length - body - size,
      }
    }
    o = body + size + (size & 1)
  }
  throw new Error(`${path}: no data chunk`)
}

module.exports = { writeWav, readWav }

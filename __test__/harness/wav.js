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

module.exports = { writeWav }

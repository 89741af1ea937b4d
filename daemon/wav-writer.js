'use strict'
// A streaming WAV writer for 32-bit float mono: the header is rewritten after every write, so
// the file is a valid WAV of everything received so far even if the process dies.
const fs = require('node:fs')

const HEADER_BYTES = 44

class WavWriter {
  /** Creates (or truncates) `path`. `sampleRate` may change until the first samples arrive. */
  constructor(path, sampleRate = 16000) {
    this.path = path
    this.sampleRate = sampleRate
    this.samples = 0
    this.fd = fs.openSync(path, 'w')
    this.writeHeader()
  }

  writeHeader() {
    const h = Buffer.alloc(HEADER_BYTES)
    const dataBytes = this.samples * 4
    h.write('RIFF', 0, 'ascii')
    h.writeUInt32LE(36 + dataBytes, 4)
    h.write('WAVE', 8, 'ascii')
    h.write('fmt ', 12, 'ascii')
    h.writeUInt32LE(16, 16)
    h.writeUInt16LE(3, 20) // WAVE_FORMAT_IEEE_FLOAT
    h.writeUInt16LE(1, 22)
    h.writeUInt32LE(this.sampleRate, 24)
    h.writeUInt32LE(this.sampleRate * 4, 28)
    h.writeUInt16LE(4, 32)
    h.writeUInt16LE(32, 34)
    h.write('data', 36, 'ascii')
    h.writeUInt32LE(dataBytes, 40)
    fs.writeSync(this.fd, h, 0, HEADER_BYTES, 0)
  }

  /** Appends samples (numbers in [-1, 1]) recorded at `sampleRate`. */
  write(samples, sampleRate = this.sampleRate) {
    if (this.fd === null || samples.length === 0) return
    if (this.samples === 0) this.sampleRate = sampleRate
    const data = Buffer.from(Float32Array.from(samples).buffer)
    fs.writeSync(this.fd, data, 0, data.length, HEADER_BYTES + this.samples * 4)
    this.samples += samples.length
    this.writeHeader()
  }

  get seconds() {
    return this.samples / this.sampleRate
  }

  close() {
    if (this.fd === null) return
    fs.closeSync(this.fd)
    this.fd = null
  }
}

/** Reads a WAV this writer wrote (or any 32-bit float mono WAV with a 44-byte header). */
function readFloatWav(path) {
  const b = fs.readFileSync(path)
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path} is not a WAV file`)
  const format = b.readUInt16LE(20)
  const channels = b.readUInt16LE(22)
  const sampleRate = b.readUInt32LE(24)
  const bits = b.readUInt16LE(34)
  const dataBytes = b.readUInt32LE(40)
  if (format !== 3 || channels !== 1 || bits !== 32) throw new Error(`${path} is not 32-bit float mono`)
  const samples = new Float32Array(dataBytes / 4)
  for (let i = 0; i < samples.length; i++) samples[i] = b.readFloatLE(HEADER_BYTES + i * 4)
  return { sampleRate, samples }
}

module.exports = { WavWriter, readFloatWav }

'use strict'
// The test signals, as functions of (channel, frame index): shared by the virtual
// microphone's feeder and the tests that write the same signal to a WAV file.

/** Deterministic white noise in [-1, 1): a hash of the frame index (same on every channel). */
function noise(i) {
  let x = (i + 0x9e3779b9) | 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  x ^= x >>> 16
  return (x >>> 0) / 2 ** 31 - 1
}

/**
 * `signal`: { type: 'sine', freq, amplitude } (same on both channels),
 * { type: 'stereo-sines', left: {freq, amplitude}, right: {freq, amplitude} },
 * { type: 'noise', amplitude }, { type: 'silence' }, or { type: 'samples', data, noise? }:
 * `data` (a Float32Array, at the feeder's rate) on both channels, then silence; `noise`
 * adds white noise of that amplitude throughout.
 */
function sampleAt(signal, rate, ch, i) {
  const t = i / rate
  switch (signal.type) {
    case 'sine':
      return signal.amplitude * Math.sin(2 * Math.PI * signal.freq * t)
    case 'stereo-sines': {
      const s = ch === 0 ? signal.left : signal.right
      return s.amplitude * Math.sin(2 * Math.PI * s.freq * t)
    }
    case 'noise':
      return signal.amplitude * noise(i)
    case 'samples':
      return (signal.data[i] ?? 0) + (signal.noise ? signal.noise * noise(i) : 0)
    default:
      return 0
  }
}

module.exports = { sampleAt, noise }

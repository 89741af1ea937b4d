'use strict'
// Small measurements on sample arrays for the tests.

function rms(x) {
  let s = 0
  for (const v of x) s += v * v
  return Math.sqrt(s / x.length)
}

/** Amplitude of the `freq` component (single-bin DFT / Goertzel). */
function toneAmplitude(x, freq, rate) {
  let re = 0
  let im = 0
  for (let i = 0; i < x.length; i++) {
    const p = (2 * Math.PI * freq * i) / rate
    re += x[i] * Math.cos(p)
    im -= x[i] * Math.sin(p)
  }
  return (2 * Math.hypot(re, im)) / x.length
}

/** Frequency from the mean period between rising zero crossings (linearly interpolated). */
function zeroCrossingFrequency(x, rate) {
  const crossings = []
  for (let i = 1; i < x.length; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) crossings.push(i - 1 + -x[i - 1] / (x[i] - x[i - 1]))
  }
  if (crossings.length < 2) return 0
  const periods = (crossings[crossings.length - 1] - crossings[0]) / (crossings.length - 1)
  return rate / periods
}

/** The samples of chunk events (or arrays), end to end. */
function concatSamples(chunks) {
  const out = new Float32Array(chunks.reduce((n, c) => n + (c.samples ?? c).length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c.samples ?? c, at)
    at += (c.samples ?? c).length
  }
  return out
}

module.exports = { rms, toneAmplitude, zeroCrossingFrequency, concatSamples }

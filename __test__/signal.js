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

/** `x` at `from` Hz resampled to `to` Hz by linear interpolation: a second, independent resampler. */
function resampleLinear(x, from, to) {
  const out = new Float32Array(Math.floor(((x.length - 1) * to) / from) + 1)
  for (let i = 0; i < out.length; i++) {
    const t = (i * from) / to
    const k = Math.floor(t)
    out[i] = k + 1 < x.length ? x[k] + (x[k + 1] - x[k]) * (t - k) : x[k]
  }
  return out
}

/**
 * The largest normalised cross-correlation of `a` with `b` delayed by -maxLag..maxLag samples
 * (1: the same waveform), over their common length, and the lag where it is.
 */
function bestCorrelation(a, b, maxLag) {
  let best = { r: -Infinity, lag: 0 }
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let ab = 0
    let aa = 0
    let bb = 0
    for (let i = Math.max(0, lag); i < a.length && i - lag < b.length; i++) {
      const y = b[i - lag]
      ab += a[i] * y
      aa += a[i] * a[i]
      bb += y * y
    }
    const r = ab / Math.sqrt(aa * bb)
    if (r > best.r) best = { r, lag }
  }
  return best
}

module.exports = { rms, toneAmplitude, zeroCrossingFrequency, concatSamples, resampleLinear, bestCorrelation }

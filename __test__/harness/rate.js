'use strict'
// A device's frame rate from (time, frame count) pairs read at chunk events: right after the
// pipeline's tick took in what the device had delivered. An input read on the pipeline's
// wake-ups (PulseAudio) counts its frames only then, so a count read at an arbitrary moment
// lags by up to a tick; the slope fitted through many reads taken at the same phase does not.

/** Least-squares slope of y over x for [x, y] pairs. */
function slope(points) {
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxy / sxx
}

/**
 * Records `capture`'s frame count at each chunk while `on()`; `framesPerSecond()` is the
 * fitted rate (performance.now() is in ms).
 */
function frameRate(capture) {
  const counts = []
  let recording = false
  capture.on('chunk', () => recording && counts.push([performance.now(), capture.stats().framesCaptured]))
  return {
    on: () => (recording = true),
    off: () => (recording = false),
    count: () => counts.length,
    framesPerSecond: () => slope(counts) * 1000,
  }
}

module.exports = { frameRate }

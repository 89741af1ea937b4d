'use strict'
// The system clock (as Date.now() and the addon's timestamps) at sub-ms resolution.
// performance.timeOrigin + performance.now() is not it: it runs on the monotonic clock from a
// origin read once, and drifts ms away from Date.now() over a process's life.

/** Date.now() − process.hrtime in ms, read at the edge of a Date.now() millisecond (best of 5). */
function wallMinusMonotonicMs() {
  let best = -Infinity
  for (let i = 0; i < 5; i++) {
    const t = Date.now()
    let now
    while ((now = Date.now()) === t);
    best = Math.max(best, now - Number(process.hrtime.bigint()) / 1e6)
  }
  return best
}

/** The monotonic clock in ms. */
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6

/**
 * A sub-ms wall clock: monotonic time plus an offset to the system clock taken now and again
 * every `refreshMs` (so a slewed or stepped system clock is followed).
 */
function wallClock({ refreshMs = 1000 } = {}) {
  let offset = wallMinusMonotonicMs()
  let next = monotonicMs() + refreshMs
  return () => {
    const now = monotonicMs()
    if (now >= next) {
      offset = wallMinusMonotonicMs()
      next = monotonicMs() + refreshMs
      return monotonicMs() + offset
    }
    return now + offset
  }
}

module.exports = { wallMinusMonotonicMs, monotonicMs, wallClock }

'use strict'
// Watching a capture the way every daemon-link test does: every event recorded, and
// `stats()` read every 5 ms with the delivery invariant checked at each read.

const assert = require('node:assert/strict')
const { releaseAfterTest } = require('./leaks.js')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const range = (n, from = 0) => Array.from({ length: n }, (_, i) => from + i)

function invariantHolds(s) {
  return s.chunksQueued === s.chunksSent + s.chunksDroppedQueue + s.chunksFailed + s.chunksSuperseded + s.sendQueueDepth
}

/**
 * Listens to every event of `capture` and reads `stats()` every 5 ms, recording any read
 * where the accounting invariant does not hold.
 */
function observe(capture) {
  const seen = { chunks: [], daemon: [], errors: [], transcriptions: [], levels: 0, statsReads: 0, violations: [] }
  const handlers = {
    chunk: (c) => seen.chunks.push(c),
    daemon: (e) => seen.daemon.push({ ...e, at: Date.now() }),
    error: (e) => seen.errors.push(e),
    transcription: (t) => seen.transcriptions.push(t),
    level: () => seen.levels++,
  }
  for (const [event, fn] of Object.entries(handlers)) capture.on(event, fn)
  const timer = setInterval(() => {
    const s = capture.stats()
    seen.statsReads++
    if (!invariantHolds(s)) seen.violations.push(s)
  }, 5)
  // Cleared after the test even when an assertion fails before `detach()`.
  releaseAfterTest(timer, clearInterval)
  seen.detach = async () => {
    await sleep(50) // let queued events reach JS
    clearInterval(timer)
    for (const [event, fn] of Object.entries(handlers)) capture.off(event, fn)
    assert.deepEqual(seen.violations, [], 'chunksQueued = sent + dropped + failed + depth at every read')
    assert.ok(seen.statsReads > 10)
    const s = capture.stats()
    assert.ok(invariantHolds(s))
    assert.equal(s.chunkEventsDropped, 0)
    return s
  }
  return seen
}

async function until(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

module.exports = { sleep, range, invariantHolds, observe, until }

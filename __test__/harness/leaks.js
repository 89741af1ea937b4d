'use strict'
// Whatever a test opens is released when the test ends, passed or failed: a failing assertion
// must fail its test, not leave a capture reading the shared FIFO, a server or a child keeping
// Node alive until the file's timeout. Load it from the test file (its `afterEach` hook then
// applies to every test of the file).

const { afterEach } = require('node:test')

/** Releases for the test now running, run last-registered first. */
const pending = []
const started = new Set()
let patched = null

afterEach(async () => {
  const releases = pending.splice(0).reverse()
  for (const capture of started) releases.push(() => (capture.isCapturing ? capture.stopCapture() : undefined))
  started.clear()
  for (const release of releases) {
    try {
      await release()
    } catch {} // released anyway: the test's own assertion is the failure to report
  }
})

/**
 * Has `release(resource)` run after the current test (default: `resource.close()`; a child
 * process is killed if it is still running). Returns `resource`.
 */
function releaseAfterTest(resource, release) {
  const fn = release ?? (typeof resource.kill === 'function' ? killIfRunning : (r) => r.close())
  pending.push(() => fn(resource))
  return resource
}

function killIfRunning(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  return exited
}

/** Every capture started from now on is stopped after its test if it is still capturing. */
function stopCapturesAfterEachTest(AudioCapture) {
  if (patched === AudioCapture) return
  patched = AudioCapture
  const { startCapture } = AudioCapture.prototype
  AudioCapture.prototype.startCapture = function (...args) {
    started.add(this)
    return startCapture.apply(this, args)
  }
}

module.exports = { releaseAfterTest, stopCapturesAfterEachTest }

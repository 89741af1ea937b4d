'use strict'
// The virtual microphone of shared/docs/testing-audio.md §1: ALSA's `file` plugin reads a
// FIFO that a paced writer feeds with f32 LE stereo at 48 kHz, 240 frames every 5 ms. cpal's
// real ALSA path opens it as the default input device.
//
// Call `setupVirtualMic()` before the addon first touches ALSA (it sets ALSA_CONFIG_PATH).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { alsaConfigPath } = require('./alsa-config.js')
const { execFileSync } = require('node:child_process')
const { Worker } = require('node:worker_threads')
const { wallMinusMonotonicMs } = require('./wall-clock.js')

const RATE = 48000
const CHANNELS = 2
const PERIOD_FRAMES = 240

function setupVirtualMic() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-vmic-'))
  const fifo = path.join(dir, 'mic.fifo')
  execFileSync('mkfifo', [fifo])
  const conf = path.join(dir, 'test-asound.conf')
  fs.writeFileSync(
    conf,
    `pcm.!default {
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "${fifo}"
    format "raw"
    hint { show on description "virtual test microphone" }
}
# The same microphone, but ALSA also writes what it captured to a file whose name is the
# configuration it opened with (rate, channels, format): a witness independent of our stats.
pcm.witness {
    type file
    slave.pcm "null"
    file "${dir}/witness-%r-%c-%f.raw"
    infile "${fifo}"
    format "raw"
    hint { show on description "witness test microphone" }
}
# A device that can only do 2 channels (any rate), for configuration errors.
pcm.twochannels {
    type multi
    slaves.a { pcm "null" channels 2 }
    bindings.0 { slave a channel 0 }
    bindings.1 { slave a channel 1 }
    hint { show on description "two-channel test input" }
}
`,
  )
  process.env.ALSA_CONFIG_PATH = alsaConfigPath(conf)
  return { dir, fifo, rate: RATE, channels: CHANNELS }
}

/**
 * Starts feeding the FIFO from a worker thread (never the thread that stops the capture).
 * `signal`: see `harness/signals.js` (noise is deterministic, so every chunk is unique).
 * With `hold: true` nothing is written until `release()`. `rate` and `channels` (default
 * 48000 and 2) must match what the capture asks the device for (`sampleRate`, `channels`).
 * `ppm`: the feeder's clock runs this far fast (positive) or slow against the wall clock, as a
 * real device's does.
 * Returns { framesWritten(), writtenAt(period), restarts(), release(), stop(): Promise<{ framesWritten }> }.
 */
function startFeeder(fifo, signal, { hold = false, rate = RATE, channels = CHANNELS, ppm = 0 } = {}) {
  // 5 ms periods at any rate, as ALSA's file plugin uses.
  const periodFrames = Math.round(rate / 200)
  // [stop, periods written, released, schedule restarts]
  const control = new Int32Array(new SharedArrayBuffer(16))
  if (!hold) control[2] = 1
  // Wall-clock ms of each period's write, the last 2^17 periods (11 minutes at 5 ms).
  const writtenAt = new Float64Array(new SharedArrayBuffer(8 << 17))
  const wallMinusMonotonic = wallMinusMonotonicMs()
  const worker = new Worker(path.join(__dirname, 'feeder-worker.js'), {
    workerData: { fifo, signal, rate, channels, periodFrames, control, writtenAt, ppm },
  })
  let result = null
  const done = new Promise((resolve, reject) => {
    worker.on('message', (m) => (result = m))
    worker.on('error', reject)
    worker.on('exit', () => resolve(result))
  })
  return {
    periodFrames,
    /** Frames written so far. */
    framesWritten: () => Atomics.load(control, 1) * periodFrames,
    /**
     * Wall-clock ms (as `Date.now()`) at which period `n` (frames n × periodFrames on) was due:
     * when this device captured it (a late write is late delivery, as a real device's).
     */
    writtenAt(n) {
      if (n >= Atomics.load(control, 1) || n < Atomics.load(control, 1) - writtenAt.length) return undefined
      return writtenAt[n % writtenAt.length] + wallMinusMonotonic
    },
    /** Times the schedule started again because no reader took what it owed. */
    restarts: () => Atomics.load(control, 3),
    release() {
      Atomics.store(control, 2, 1)
      Atomics.notify(control, 2)
    },
    async stop() {
      Atomics.store(control, 0, 1)
      Atomics.notify(control, 2)
      // With no capture reading, the worker may be blocked on a full FIFO: drain it until the
      // worker sees the stop.
      let finished = false
      done.finally(() => (finished = true))
      const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
      const sink = Buffer.alloc(1 << 16)
      while (!finished) {
        try {
          fs.readSync(fd, sink)
        } catch {} // EAGAIN: nothing to drain
        await new Promise((r) => setTimeout(r, 5))
      }
      fs.closeSync(fd)
      return done
    },
  }
}

/**
 * One feeder at a time, as most test files want: `feed(signal, options)` stops the running
 * feeder and starts another on `fifo` (returning it); `stop()` stops the last one (call it in
 * `after`, and before taking the microphone away).
 */
function replacingFeeder(fifo) {
  let feeder = null
  return {
    async feed(signal, options) {
      if (feeder) await feeder.stop()
      feeder = startFeeder(fifo, signal, options)
      return feeder
    },
    async stop() {
      if (feeder) await feeder.stop()
      feeder = null
    },
  }
}

module.exports = { setupVirtualMic, startFeeder, replacingFeeder, RATE, CHANNELS, PERIOD_FRAMES }

'use strict'
// `stt-capture/react`: `useCapture(options)`, the hook a React (or Ink) UI would otherwise
// write itself. The capture's events land in one immutable snapshot that React reads through
// `useSyncExternalStore`; level events (up to 60 a second) are coalesced to at most one render
// per `frameMs`, everything else renders on the next turn. Nothing here throws into a render:
// a failed start or an `error` event becomes `error` in the snapshot.
const { useCallback, useEffect, useState, useSyncExternalStore } = requireReact()
const { AudioCapture } = require('./loader.js')

function requireReact() {
  try {
    return require('react')
  } catch (e) {
    const error = new Error('stt-capture/react needs React 18 or later: npm install react')
    error.code = 'E_NO_REACT'
    error.cause = e
    throw error
  }
}

const HOOK_DEFAULTS = { frameMs: 33, statsMs: 1000, maxTranscripts: 100, autoStart: false, startOptions: undefined }

const INITIAL = Object.freeze({
  state: 'idle',
  level: null,
  speaking: false,
  partial: '',
  transcripts: Object.freeze([]),
  daemon: null,
  device: null,
  error: null,
  stats: null,
})

/**
 * Owns at most one `AudioCapture` at a time (a new one per `start()`, so changed options
 * apply), its listeners and the render throttle. React-free; the hook below wraps it.
 */
class CaptureController {
  constructor() {
    this.snapshot = INITIAL
    this.subscribers = new Set()
    this.options = {}
    this.hook = { ...HOOK_DEFAULTS }
    this.capture = null
    this.listeners = null
    // start/stop/pause/resume/detach run one after another, in call order.
    this.queue = Promise.resolve()
    this.attached = false
    this.latestLevel = null
    this.levelTimer = null
    this.lastLevelFlush = 0
    this.notifyPending = false
    this.statsTimer = null
    this.getSnapshot = () => this.snapshot
    this.subscribe = (fn) => {
      this.subscribers.add(fn)
      return () => this.subscribers.delete(fn)
    }
  }

  configure(options) {
    const hook = {}
    const capture = {}
    for (const [key, value] of Object.entries(options ?? {})) {
      if (key in HOOK_DEFAULTS) hook[key] = value
      else capture[key] = value
    }
    this.hook = { ...HOOK_DEFAULTS, ...hook }
    this.options = capture
  }

  attach() {
    this.attached = true
    if (this.hook.autoStart) this.start(this.hook.startOptions)
  }

  /** Unmount: stop the capture and remove every listener and timer. */
  detach() {
    this.attached = false
    return this.enqueue(() => this.teardown())
  }

  start(startOptions) {
    return this.enqueue(async () => {
      if (!this.attached || this.capture) return
      let capture
      try {
        capture = new AudioCapture(this.options)
      } catch (e) {
        this.update({ state: 'idle', error: e })
        return
      }
      this.capture = capture
      this.listen(capture)
      this.update({ state: 'starting', error: null, speaking: false, partial: '', level: null, daemon: null, device: null })
      try {
        await capture.startCapture(startOptions ?? this.hook.startOptions)
      } catch (e) {
        this.unlisten()
        this.capture = null
        this.update({ state: 'idle', error: e, stats: capture.stats() })
        return
      }
      if (!this.attached) return this.teardown()
      const stats = capture.stats()
      this.update({
        state: capture.isPaused ? 'paused' : 'running',
        stats,
        daemon: this.snapshot.daemon ?? { state: stats.daemonState },
      })
      this.startStatsTimer()
    })
  }

  stop() {
    return this.enqueue(() => this.teardown())
  }

  pause() {
    return this.enqueue(() => {
      if (!this.capture) return
      this.capture.pause()
      this.update({ state: 'paused', speaking: false, stats: this.capture.stats() })
    })
  }

  resume() {
    return this.enqueue(() => {
      if (!this.capture) return
      this.capture.resume()
      this.update({ state: 'running', stats: this.capture.stats() })
    })
  }

  async teardown() {
    const capture = this.capture
    clearInterval(this.statsTimer)
    this.statsTimer = null
    if (!capture) return
    this.update({ state: 'stopping' })
    try {
      await capture.stopCapture()
    } catch (e) {
      this.update({ error: e })
    }
    // After the stop: the last partial chunk's transcription arrives before it resolves.
    this.unlisten()
    this.capture = null
    clearTimeout(this.levelTimer)
    this.levelTimer = null
    this.update({ state: 'idle', speaking: false, level: null, stats: capture.stats() })
  }

  enqueue(step) {
    const run = this.queue.then(step).catch((e) => this.update({ error: e }))
    this.queue = run
    return run
  }

  listen(capture) {
    this.listeners = Object.entries({
      level: (level) => {
        this.latestLevel = level
        this.scheduleLevel()
      },
      voice: (v) => this.update({ speaking: v.state === 'speech' }),
      transcription: (t) => {
        if (!t.final) return this.update({ partial: t.text })
        const kept = this.snapshot.transcripts.slice(-(this.hook.maxTranscripts - 1))
        kept.push(t)
        this.update({ partial: '', transcripts: Object.freeze(kept) })
      },
      daemon: (d) => this.update({ daemon: d }),
      device: (d) => this.update({ device: d }),
      error: (e) => this.update({ error: e }),
      end: () => this.update({ stats: capture.stats() }),
    })
    for (const [event, fn] of this.listeners) capture.on(event, fn)
  }

  unlisten() {
    if (!this.capture || !this.listeners) return
    for (const [event, fn] of this.listeners) this.capture.off(event, fn)
    this.listeners = null
  }

  /** Latest wins: one render per `frameMs` at most, however many levels arrived. */
  scheduleLevel() {
    if (this.levelTimer) return
    const wait = Math.max(0, this.lastLevelFlush + this.hook.frameMs - Date.now())
    this.levelTimer = setTimeout(() => {
      this.levelTimer = null
      this.lastLevelFlush = Date.now()
      if (this.capture) this.update({ level: this.latestLevel })
    }, wait)
    this.levelTimer.unref?.()
  }

  startStatsTimer() {
    if (!this.hook.statsMs) return
    this.statsTimer = setInterval(() => {
      if (this.capture) this.update({ stats: this.capture.stats() })
    }, this.hook.statsMs)
    this.statsTimer.unref?.()
  }

  update(change) {
    this.snapshot = Object.freeze({ ...this.snapshot, ...change })
    for (const fn of this.subscribers) fn()
  }
}

/**
 * Captures while the component is mounted (after `start()`, or at once with `autoStart`) and
 * returns what a UI draws. See react.d.ts.
 */
function useCapture(options) {
  const [controller] = useState(() => new CaptureController())
  controller.configure(options)
  useEffect(() => {
    controller.attach()
    return () => {
      controller.detach()
    }
  }, [controller])
  const snapshot = useSyncExternalStore(controller.subscribe, controller.getSnapshot, controller.getSnapshot)
  const start = useCallback((startOptions) => controller.start(startOptions), [controller])
  const stop = useCallback(() => controller.stop(), [controller])
  const pause = useCallback(() => controller.pause(), [controller])
  const resume = useCallback(() => controller.resume(), [controller])
  return { ...snapshot, start, stop, pause, resume }
}

module.exports = { useCapture, CaptureController }

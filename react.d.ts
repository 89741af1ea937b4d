// `stt-capture/react`: a React hook over `AudioCapture`, for Ink and any other React renderer.
// React (18 or later) is an optional peer dependency: only this entry point loads it.
import type {
  AudioCaptureOptions,
  CaptureError,
  CaptureStats,
  DaemonEvent,
  DeviceEvent,
  LevelEvent,
  StartCaptureOptions,
  TranscriptionEvent,
} from './index'

/** `useCapture` options: every `AudioCapture` option, and these, which the hook itself takes. */
export interface UseCaptureOptions extends AudioCaptureOptions {
  /**
   * At most one render for level changes per this many ms (latest level wins; the others are
   * never rendered). Default `33` (30 frames a second, Ink's own frame rate).
   */
  frameMs?: number
  /** Refresh `stats` this often while capturing, ms; 0 = only at start, pause, resume and stop. Default `1000`. */
  statsMs?: number
  /** Final transcripts kept in `transcripts` (oldest dropped first). Default `100`. */
  maxTranscripts?: number
  /** Start capturing on mount (with `startOptions`). Default `false`. */
  autoStart?: boolean
  /** Options of the `startCapture()` that `autoStart` (or a `start()` without options) makes. */
  startOptions?: StartCaptureOptions
}

/**
 * `idle`: no capture (before `start()`, after `stop()` or a failed start: see `error`).
 * `starting`: the device and daemon are being opened. `running`, `paused`: capturing.
 * `stopping`: `stop()` is delivering what is queued.
 */
export type CaptureState = 'idle' | 'starting' | 'running' | 'paused' | 'stopping'

/** What `useCapture` returns; every field is immutable and replaced when it changes. */
export interface UseCapture {
  state: CaptureState
  /** The latest level event (throttled to `frameMs`); `null` when not capturing. */
  level: LevelEvent | null
  /** With `vad`: speech is going on now. */
  speaking: boolean
  /** The latest preview transcription (`final: false`), cleared when a final one arrives. */
  partial: string
  /** Final transcriptions, oldest first (at most `maxTranscripts`). */
  transcripts: readonly TranscriptionEvent[]
  /** The last daemon event (or, right after the start, `{ state }` from `stats()`); `null` before a start. */
  daemon: DaemonEvent | { state: CaptureStats['daemonState'] } | null
  /** The last device event; `null` before one. */
  device: DeviceEvent | null
  /** The last error: a rejected start or stop, or an `error` event. Cleared by a successful start. */
  error: CaptureError | null
  /** `stats()` of the current (or last) capture, every `statsMs`; `null` before a start. */
  stats: CaptureStats | null
  /** Creates an `AudioCapture` with the current options and starts it. Never rejects: failures land in `error`. */
  start(options?: StartCaptureOptions): Promise<void>
  /** Stops the capture (delivering what is queued). Never rejects. */
  stop(): Promise<void>
  pause(): Promise<void>
  resume(): Promise<void>
}

/**
 * Captures audio while the component is mounted. Listeners are removed and the capture is
 * stopped on unmount. Calls run in order: `start(); stop()` starts, then stops.
 */
export declare function useCapture(options?: UseCaptureOptions): UseCapture

// Compiled with `tsc --noEmit --strict` by the typings test: the public API as a TypeScript
// user writes it. Lines marked @ts-expect-error must fail to type-check.
import { AudioCapture, listInputDevices, requestToken } from '../index.js'
import type { AudioCaptureOptions, CaptureStats, ChunkEvent, DaemonEvent, EndEvent, InputDevice, LevelEvent, RecordingSummary, TokenGrant, UtteranceEvent, VoiceEvent } from '../index.js'

async function use(): Promise<void> {
  const devices: InputDevice[] = await listInputDevices()
  const options: AudioCaptureOptions = { socketPath: '/tmp/x.sock', clientId: 'a', device: devices[0]?.id, chunkMs: 100, daemon: true }
  const capture = new AudioCapture(options)
  capture
    .on('chunk', (c: ChunkEvent) => {
      const seq: number = c.seq
      const samples: Float32Array = c.samples
      const at: number = c.capturedAtMs
      void [seq, samples, at]
    })
    .on('level', (l: LevelEvent) => {
      const bands: Float32Array | undefined = l.bands
      const clipped: boolean = l.clipped
      void [l.rms, l.peak, l.rmsDbfs, l.peakDbfs, l.atMs, bands, clipped]
    })
    .on('end', (e: EndEvent) => void [e.frames, e.durationMs])
    .on('error', (e) => {
      const code: string = e.code
      const message: string = e.message
      void [code, message]
    })
    .on('transcription', (t) => {
      const final: boolean = t.final
      void [t.text, t.clientId, t.timestamp, final]
    })
    .on('daemon', (d: DaemonEvent) => {
      const state: 'connected' | 'disconnected' | 'reconnecting' | 'idle' = d.state
      const attempt: number | undefined = d.attempt
      const protocol: 'legacy' | 'v1' | undefined = d.protocol
      void [state, attempt, d.delayMs, d.code, d.reason, protocol]
    })
  await capture.startCapture()
  await capture.startCapture({ waitForDaemon: true })
  new AudioCapture({ maxBufferMs: 30000, reconnectInitialMs: 100, reconnectMaxMs: 5000, replyTimeoutMs: 10000 })
  new AudioCapture({ input: { file: 'speech.wav', realtime: false, loop: true }, levelHz: 60, spectrumBands: 32 })
  const stats: CaptureStats = capture.stats()
  const n: number = stats.framesCaptured + stats.chunksSent + stats.sendLatencyP99Ms + stats.deliveryLatencyP99Ms
  const reasons: number = stats.chunksFailedByReason.timeout + stats.reconnects
  const connected: boolean = stats.daemonConnected
  const protocol: '' | 'legacy' | 'v1' = stats.daemonProtocol
  void [protocol, stats.daemonErrors]
  const grant: TokenGrant = await requestToken({ appName: 'My TUI', scopes: ['transcribe'], timeoutMs: 60000 })
  new AudioCapture({ protocol: 'v1', httpSocketPath: '/tmp/h.sock', token: grant.token, language: 'en' })
  void [grant.scopes, grant.expiresAt]
  void [reasons, connected]
  const capturing: boolean = capture.isCapturing
  void [n, capturing]
  capture.pause()
  capture.resume()
  const isPaused: boolean = capture.isPaused
  void isPaused
  capture
    .on('warning', (w) => void (w.code satisfies 'W_ALL_ZERO_INPUT'))
    .on('device', (d) => {
      const state: 'running' | 'stalled' | 'lost' | 'reopening' | 'ended' = d.state
      void [state, d.id, d.name]
    })
  new AudioCapture({ host: 'pulseaudio', sampleRate: 48000, channels: 2, stallTimeoutMs: 2000, autoReopen: true, silenceWarnMs: 0 })
  const listed = await listInputDevices({ host: 'alsa' })
  void [listed[0]?.sampleFormats, listed[0]?.host]
  void [stats.pausedMs, stats.framesPaused, stats.deviceReopens, stats.deviceState satisfies string]
  const voiced = new AudioCapture({ vad: { threshold: 0.6, minSpeechMs: 150, minSilenceMs: 600, preRollMs: 300, maxUtteranceMs: 30000 } })
  new AudioCapture({ vad: true })
  voiced
    .on('voice', (v: VoiceEvent) => void [v.state satisfies 'speech' | 'silence', v.sample, v.atMs, v.probability])
    .on('utterance', (u: UtteranceEvent) => {
      const samples: Float32Array = u.samples
      void [samples, u.id, u.startSample, u.endSample, u.startMs, u.endMs, u.reason satisfies 'silence' | 'max-length' | 'pause' | 'stop' | 'end']
    })
  void [stats.speechMs, stats.utterances, stats.vadFrames, stats.utteranceEventsDropped]
  new AudioCapture({ record: { path: 'session.wav', rate: 'device', format: 's16', overwrite: true, bufferMs: 5000 }, recordUtterances: '/tmp' })
  await capture.startRecording({ path: 'take.wav', rate: 16000 })
  const take: RecordingSummary = await capture.stopRecording()
  void [take.path, take.frames, take.durationMs, take.sampleRate, take.format satisfies 'f32' | 's16', take.errorCode, take.error]
  void [stats.recordState satisfies 'off' | 'recording' | 'overrun' | 'failed', stats.recordFrames, stats.recordQueueHighWater]
  await capture.stopCapture()

  // @ts-expect-error: a recording's rate is 16000 or 'device'
  new AudioCapture({ record: { path: 'a.wav', rate: 48000 } })
  // @ts-expect-error: startRecording needs its path
  void capture.startRecording({ rate: 'device' })
  // @ts-expect-error: vad is a boolean or its options, not a string
  new AudioCapture({ vad: 'silero' })
  // @ts-expect-error: utterance reasons are a closed set
  voiced.on('utterance', (u) => void (u.reason === 'timeout'))
  // @ts-expect-error: sampleRate is a number
  new AudioCapture({ sampleRate: '48000' })
  // @ts-expect-error: a level listener does not receive chunks
  capture.on('level', (c: ChunkEvent) => void c.samples)
  // @ts-expect-error: unknown event names are rejected
  capture.on('chunks', () => {})
  // @ts-expect-error: a file input needs its file
  new AudioCapture({ input: { loop: true } })
  // @ts-expect-error: bands are a Float32Array, not an array of numbers
  capture.on('level', (l) => void (l.bands satisfies number[] | undefined))
  // @ts-expect-error: chunkMs is a number
  new AudioCapture({ chunkMs: '100' })
  // @ts-expect-error: waitForDaemon is a startCapture option, not a constructor option
  new AudioCapture({ waitForDaemon: true })
  // @ts-expect-error: protocols are a closed set
  new AudioCapture({ protocol: 'v2' })
  // @ts-expect-error: requestToken needs the app name the user sees
  void requestToken({ scopes: ['transcribe'] })
  // @ts-expect-error: daemon states are a closed set
  capture.on('daemon', (d) => void (d.state === 'gone'))
}
void use

// `stt-capture/react`: the hook's options are the capture's plus its own, its result typed.
import { useCapture, type UseCapture, type UseCaptureOptions } from '../react.js'

function Component(): string {
  const hookOptions: UseCaptureOptions = { vad: true, frameMs: 50, statsMs: 0, autoStart: true, startOptions: { paused: true } }
  const c: UseCapture = useCapture(hookOptions)
  const state: 'idle' | 'starting' | 'running' | 'paused' | 'stopping' = c.state
  const db: number | undefined = c.level?.rmsDbfs
  const texts: string[] = c.transcripts.map((t) => t.text)
  const code: string | undefined = c.error?.code
  const started: Promise<void> = c.start({ waitForDaemon: true })
  void [state, db, texts, code, started, c.speaking, c.partial, c.daemon?.state, c.device?.name, c.stats?.chunksSent, c.stop, c.pause, c.resume]
  // @ts-expect-error: the capture's options are checked through the hook's
  useCapture({ chunkMs: '100' })
  // @ts-expect-error: transcripts are read-only
  c.transcripts.push(c.transcripts[0])
  return c.partial
}
void Component

'use strict'
// `stt-capture demo` (`npm run demo`): capture, stream to the daemon, and draw a live level
// meter, spectrum, the latest transcription and a stats line ~20 times a second. Works on a
// fresh headless machine: with no microphone it replays the bundled speech WAV, with no
// daemon it runs the reference daemon in this process (never a separate one), recording to a
// WAV. Ctrl-C (or --seconds) stops cleanly and prints a summary.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')
const { legacySocketPath, v1SocketPath } = require('../daemon/socket-path.js')

const BUNDLED_SPEECH = path.join(__dirname, '..', 'assets', 'speech.wav')
const DEVICE_CODES = new Set(['E_NO_DEVICE', 'E_DEVICE', 'E_UNSUPPORTED_CONFIG'])
const DAEMON_CODES = new Set(['E_DAEMON_UNREACHABLE', 'E_DAEMON_TIMEOUT', 'E_PROTOCOL', 'E_DAEMON_ERROR', 'E_UNAUTHORIZED'])
const SPECTRUM_BANDS = 32
const REDRAW_MS = 50
const METER_WIDTH = 40
const BLOCKS = ' ▁▂▃▄▅▆▇█'

function isSocket(p) {
  try {
    return fs.statSync(p).isSocket()
  } catch {
    return false
  }
}

/** Draws a block of lines in place on a terminal; on anything else, prints a line a second. */
class Screen {
  constructor(out) {
    this.out = out
    this.tty = Boolean(out.isTTY)
    this.drawn = 0
    this.lastPlain = 0
  }

  begin() {
    if (this.tty) this.out.write('\x1b[?25l')
  }

  /** `lines` for the terminal, `plain` (one line) otherwise. */
  draw(lines, plain, force = false) {
    if (!this.tty) {
      const now = Date.now()
      if (force || now - this.lastPlain >= 1000) {
        this.lastPlain = now
        this.out.write(`${plain}\n`)
      }
      return
    }
    const width = Math.max(20, (this.out.columns || 100) - 1)
    let text = this.drawn > 0 ? `\x1b[${this.drawn}F` : ''
    for (const line of lines) text += `\x1b[2K${truncate(line, width)}\n`
    this.out.write(text)
    this.drawn = lines.length
  }

  end() {
    if (this.tty) this.out.write('\x1b[?25h')
  }
}

/** Cuts a line to `width` visible characters, leaving ANSI colour codes intact. */
function truncate(line, width) {
  let visible = 0
  let out = ''
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i)
      out += line.slice(i, end + 1)
      i = end
      continue
    }
    if (visible++ < width) out += line[i]
  }
  return out
}

const dim = (s) => `\x1b[2m${s}\x1b[0m`
const red = (s) => `\x1b[31m${s}\x1b[0m`

function meter(dbfs, peakDbfs) {
  const pos = (db) => Math.round(Math.min(1, Math.max(0, (db + 60) / 60)) * METER_WIDTH)
  const filled = pos(dbfs)
  const peak = Math.min(METER_WIDTH - 1, pos(peakDbfs))
  let bar = ''
  for (let i = 0; i < METER_WIDTH; i++) bar += i < filled ? '█' : i === peak ? '|' : '·'
  return bar
}

function spectrum(bands) {
  if (!bands) return ''
  let s = ''
  for (const db of bands) {
    const x = Math.min(1, Math.max(0, (db + 96) / 72))
    s += BLOCKS[Math.round(x * (BLOCKS.length - 1))]
  }
  return s
}

const ms = (v) => `${v.toFixed(1)} ms`

async function demo(flags) {
  const { AudioCapture, requestToken } = require('..')
  const screen = new Screen(process.stdout)
  const say = (line) => process.stdout.write(`${line}\n`)
  const useDaemon = !flags.noDaemon
  let socketPath = flags.socket ?? legacySocketPath()
  const httpSocketPath = flags.httpSocket ?? v1SocketPath()
  let token = flags.token ?? process.env.SUPER_STT_TOKEN
  // A current (v1) daemon when one listens or was named; an explicit --socket means legacy.
  let protocol = !flags.socket && (flags.httpSocket || isSocket(httpSocketPath)) ? 'v1' : 'legacy'
  let ownDaemon = null
  let tmpDir = null

  async function startOwnDaemon(why) {
    if (!flags.socket) {
      tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-capture-demo-'))
      socketPath = path.join(tmpDir, 'daemon.sock')
    }
    const record = flags.record ?? path.join(os.tmpdir(), `stt-capture-demo-${process.pid}.wav`)
    ownDaemon = await startLegacyDaemon(socketPath, { record, retain: false, transcribeEverySamples: 16000 })
    protocol = 'legacy'
    say(`${why}: started the reference daemon (no speech model) on ${socketPath}, recording to ${record}`)
  }

  if (useDaemon && protocol === 'v1' && !token) {
    say(`asking the daemon at ${httpSocketPath} for a token: approve its prompt (or set SUPER_STT_TOKEN)`)
    try {
      token = (await requestToken({ appName: 'stt-capture demo', httpSocketPath })).token
      say('token granted; set SUPER_STT_TOKEN to it to skip this step next time')
    } catch (e) {
      say(`no token (${e.code}: ${e.message})`)
      protocol = 'legacy'
    }
  }
  if (useDaemon && protocol === 'legacy' && !isSocket(socketPath)) await startOwnDaemon(`no daemon at ${socketPath}`)

  let source = flags.file ? { file: flags.file, loop: false } : null
  const state = { level: null, text: '', daemon: useDaemon ? 'connecting' : 'off', error: '', ended: false }
  let capture = null
  for (;;) {
    const where = protocol === 'v1' ? { protocol, httpSocketPath, token } : { protocol, socketPath }
    capture = new AudioCapture({
      ...where,
      daemon: useDaemon,
      spectrumBands: SPECTRUM_BANDS,
      ...(source ? { input: { file: source.file, loop: source.loop } } : flags.device ? { device: flags.device } : {}),
    })
    try {
      await capture.startCapture()
      break
    } catch (e) {
      if (DAEMON_CODES.has(e.code) && !ownDaemon) {
        await startOwnDaemon(`the daemon at ${protocol === 'v1' ? httpSocketPath : socketPath} did not answer (${e.code})`)
        continue
      }
      if (DEVICE_CODES.has(e.code) && !source && !flags.device) {
        say(`no microphone: ${e.message}`)
        say(`replaying the bundled speech sample ${BUNDLED_SPEECH} in a loop`)
        source = { file: BUNDLED_SPEECH, loop: true }
        continue
      }
      say(`cannot start: ${e.code}: ${e.message}`)
      if (e.code === 'E_NO_DEVICE') say('run `stt-capture devices` to see the input devices')
      if (ownDaemon) await ownDaemon.close()
      return 1
    }
  }

  capture
    .on('level', (l) => (state.level = l))
    .on('transcription', (t) => (state.text = t.text))
    .on('daemon', (d) => (state.daemon = d.state + (d.state === 'reconnecting' ? ` (attempt ${d.attempt})` : '')))
    .on('error', (e) => (state.error = `${e.code}: ${e.message}`))
  if (useDaemon) state.daemon = capture.stats().daemonState

  const started = Date.now()
  const first = capture.stats()
  const inputLabel = source
    ? `file ${path.basename(source.file)}`
    : `microphone ${flags.device ?? '(default)'}`
  const header = `stt-capture demo · ${inputLabel} · ${first.deviceSampleRate} Hz ${first.deviceChannels} ch ${first.sampleFormat} → 16 kHz mono, 100 ms chunks`

  function frame(force = false) {
    const s = capture.stats()
    const l = state.level
    const seconds = (Date.now() - started) / 1000
    const level = l
      ? `${meter(l.rmsDbfs, l.peakDbfs)} ${l.rmsDbfs.toFixed(1).padStart(6)} dBFS  peak ${l.peakDbfs.toFixed(1).padStart(6)}${l.clipped ? `  ${red('CLIP')}` : ''}`
      : dim('waiting for audio')
    const stats =
      `captured ${(s.framesCaptured / (s.deviceSampleRate || 1)).toFixed(1)} s · chunks ${s.chunksEmitted}${useDaemon ? `, sent ${s.chunksSent}` : ''} · ` +
      `dropped ${s.framesDropped} frames, ${s.chunksDroppedQueue} chunks, ${s.chunksFailed} failed`
    const delivery = useDaemon
      ? `queue ${s.sendQueueDepth}/${s.sendQueueCapacity} · latency p50 ${ms(s.deliveryLatencyP50Ms)} p99 ${ms(s.deliveryLatencyP99Ms)}`
      : 'no daemon'
    screen.draw(
      [
        header,
        `level    ${level}`,
        `spectrum ${spectrum(l?.bands)} ${dim('50 Hz … 8 kHz')}`,
        `text     ${state.text || dim(useDaemon ? '(no transcription yet)' : '(no daemon)')}`,
        `daemon   ${state.daemon}${state.error ? `  ${red('last error')} ${state.error}` : ''}`,
        `stats    ${stats}`,
        `delivery ${delivery}`,
        dim(state.ended ? 'the file ended; stopping' : 'Ctrl-C to stop'),
      ],
      `${seconds.toFixed(1)} s · level ${l ? l.rmsDbfs.toFixed(1) : '-'} dBFS · ${stats} · ${delivery} · daemon ${state.daemon}`,
      force,
    )
  }

  screen.begin()
  process.once('exit', () => screen.end())
  const timer = setInterval(frame, REDRAW_MS)
  frame(true)
  await new Promise((resolve) => {
    let deadline = null
    if (flags.seconds) deadline = setTimeout(resolve, flags.seconds * 1000)
    const stop = () => {
      clearTimeout(deadline)
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    capture.on('end', () => {
      state.ended = true
      stop()
    })
  })
  // A second Ctrl-C while stopping leaves at once.
  process.once('SIGINT', () => process.exit(130))
  clearInterval(timer)
  await capture.stopCapture()
  frame(true)
  screen.end()

  const s = capture.stats()
  const duration = ((Date.now() - started) / 1000).toFixed(1)
  say(`\nstopped after ${duration} s`)
  say(`  input      ${inputLabel}, ${s.deviceSampleRate} Hz, ${s.deviceChannels} ch, ${s.sampleFormat}`)
  say(`  captured   ${s.framesCaptured} frames, ${s.framesDropped} dropped (ring high water ${s.ringHighWater} of ${s.ringCapacity})`)
  say(`  chunks     ${s.chunksEmitted} emitted (${s.samplesEmitted} samples at 16 kHz)`)
  if (useDaemon) {
    say(`  daemon     ${s.chunksSent} sent, ${s.chunksDroppedQueue} dropped from the queue, ${s.chunksFailed} failed, ${s.reconnects} reconnects, ${s.daemonProtocol || 'no'} protocol`)
    say(`  latency    send p50 ${ms(s.sendLatencyP50Ms)} p99 ${ms(s.sendLatencyP99Ms)} · delivery p50 ${ms(s.deliveryLatencyP50Ms)} p99 ${ms(s.deliveryLatencyP99Ms)}`)
  }
  say(`  events     ${s.levelEventsDropped} level events replaced while the screen was busy (latest wins)`)
  if (ownDaemon) {
    await ownDaemon.close()
    const r = ownDaemon.recorder
    say(`  recorded   ${r.seconds.toFixed(2)} s (${r.samples} samples) by the reference daemon to ${r.path}`)
  }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true })
  return 0
}

module.exports = { demo }

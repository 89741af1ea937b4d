'use strict'
// How the demo finds what to capture and where to send it, so it runs on any machine: a v1
// daemon if one listens (asking it for a token), else a legacy one, else the reference
// daemon inside this process; the microphone, else the bundled speech on a loop.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { startLegacyDaemon } = require('../../daemon/legacy-daemon.js')
const { startV1Daemon } = require('../../daemon/v1-daemon.js')
const { legacySocketPath, v1SocketPath } = require('../../daemon/socket-path.js')

const BUNDLED_SPEECH = path.join(__dirname, '..', '..', 'assets', 'speech.wav')
const DEVICE_CODES = new Set(['E_NO_DEVICE', 'E_DEVICE', 'E_UNSUPPORTED_CONFIG'])
const DAEMON_CODES = new Set(['E_DAEMON_UNREACHABLE', 'E_DAEMON_TIMEOUT', 'E_PROTOCOL', 'E_DAEMON_ERROR', 'E_UNAUTHORIZED'])

function isSocket(p) {
  try {
    return fs.statSync(p).isSocket()
  } catch {
    return false
  }
}

/**
 * Starts a capture for `flags`, falling back as the file header says. `say` prints a line.
 * Resolves `{ capture, source, ownDaemon, tmpDir, useDaemon }`, or `{ failed: true }` after
 * saying why (the caller exits 1).
 */
async function startDemoCapture(flags, { AudioCapture, requestToken }, say, captureOptions) {
  const useDaemon = !flags.noDaemon
  let socketPath = flags.socket ?? legacySocketPath()
  let httpSocketPath = flags.httpSocket ?? v1SocketPath()
  let token = flags.token ?? process.env.SUPER_STT_TOKEN
  // A current (v1) daemon when one listens or was named; an explicit --socket means legacy.
  let protocol = !flags.socket && (flags.httpSocket || isSocket(httpSocketPath)) ? 'v1' : 'legacy'
  const out = { ownDaemon: null, tmpDir: null, useDaemon, source: null, capture: null }

  // With `--socket` the user named a legacy daemon: its stand-in streams. Otherwise the
  // stand-in is what users have today: a v1 daemon with a batch (Whisper-class) model, which
  // takes each utterance as one request.
  async function startOwnDaemon(why) {
    const record = flags.daemonRecord ?? path.join(os.tmpdir(), `stt-capture-demo-${process.pid}.wav`)
    if (flags.socket) {
      out.ownDaemon = await startLegacyDaemon(socketPath, { record, retain: false, transcribeEverySamples: 16000 })
      protocol = 'legacy'
      say(`${why}: started the reference daemon (no speech model) on ${socketPath}, recording to ${record}`)
      return
    }
    out.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-capture-demo-'))
    httpSocketPath = path.join(out.tmpDir, 'daemon-http.sock')
    token = `stt_demo_${crypto.randomBytes(8).toString('hex')}`
    out.ownDaemon = await startV1Daemon(httpSocketPath, { record, retain: false, model: 'batch', tokens: { [token]: ['transcribe'] } })
    protocol = 'v1'
    say(`${why}: started the reference daemon (v1, batch model, no speech model: its texts describe each utterance) on ${httpSocketPath}, recording what it transcribes to ${record}`)
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
  if (useDaemon && protocol === 'legacy' && !isSocket(socketPath)) {
    await startOwnDaemon(flags.socket ? `no daemon at ${socketPath}` : `no daemon at ${httpSocketPath} or ${socketPath}`)
  }

  out.source = flags.file ? { file: flags.file, loop: false } : null
  for (;;) {
    const where = protocol === 'v1' ? { protocol, httpSocketPath, token } : { protocol, socketPath }
    const source = out.source
    out.capture = new AudioCapture({
      ...where,
      ...captureOptions,
      daemon: useDaemon,
      ...(source ? { input: { file: source.file, loop: source.loop } } : flags.device ? { device: flags.device } : {}),
    })
    try {
      await out.capture.startCapture()
      return out
    } catch (e) {
      if (DAEMON_CODES.has(e.code) && !out.ownDaemon) {
        await startOwnDaemon(`the daemon at ${protocol === 'v1' ? httpSocketPath : socketPath} did not answer (${e.code})`)
        continue
      }
      if (DEVICE_CODES.has(e.code) && !source && !flags.device) {
        say(`no microphone: ${e.message}`)
        say(`replaying the bundled speech sample ${BUNDLED_SPEECH} in a loop`)
        out.source = { file: BUNDLED_SPEECH, loop: true }
        continue
      }
      say(`cannot start: ${e.code}: ${e.message}`)
      if (e.code === 'E_NO_DEVICE') say('run `stt-capture devices` to see the input devices')
      if (out.ownDaemon) await out.ownDaemon.close()
      return { failed: true }
    }
  }
}

module.exports = { startDemoCapture, isSocket, BUNDLED_SPEECH }

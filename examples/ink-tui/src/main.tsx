// `npm run example:ink`: push-to-talk in an Ink TUI, built on `stt-capture/react`.
// With no daemon listening it starts the reference daemon (v1, batch model) in this process;
// with no microphone the app replays the bundled speech (see app.tsx).
//   --kitty  use the kitty keyboard protocol (hold space to talk) even where Ink cannot tell
//            that the terminal supports it
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'
import { render } from 'ink'
import { requestToken, type AudioCaptureOptions } from 'stt-capture'
import { startV1Daemon, type ReferenceDaemon } from 'stt-capture/daemon/v1-daemon.js'
import { v1SocketPath } from 'stt-capture/daemon/socket-path.js'
import { App } from './app.js'

function isSocket(p: string): boolean {
  try {
    return fs.statSync(p).isSocket()
  } catch {
    return false
  }
}

/** The daemon the user has (asking it for a token when there is none), else our own. */
async function chooseDaemon(): Promise<{ options: AudioCaptureOptions; label: string; own: ReferenceDaemon | null; tmp: string | null }> {
  const socket = v1SocketPath()
  let token = process.env.SUPER_STT_TOKEN
  if (isSocket(socket)) {
    if (!token) {
      console.log(`asking the daemon at ${socket} for a token: approve its prompt (or set SUPER_STT_TOKEN)`)
      token = (await requestToken({ appName: 'stt-capture ink example', httpSocketPath: socket }).catch(() => null))?.token
    }
    if (token) return { options: { protocol: 'v1', httpSocketPath: socket, token }, label: `daemon at ${socket}`, own: null, tmp: null }
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-ink-'))
  const httpSocketPath = path.join(tmp, 'daemon-http.sock')
  const ownToken = `stt_ink_${crypto.randomBytes(8).toString('hex')}`
  const own = await startV1Daemon(httpSocketPath, { tokens: { [ownToken]: ['transcribe'] }, model: 'batch', retain: false })
  const label = 'reference daemon (batch model, no speech model: its texts describe each utterance)'
  return { options: { protocol: 'v1', httpSocketPath, token: ownToken }, label, own, tmp }
}

const daemon = await chooseDaemon()
const app = render(<App captureOptions={daemon.options} daemonLabel={daemon.label} />, {
  exitOnCtrlC: false,
  kittyKeyboard: { mode: process.argv.includes('--kitty') ? 'enabled' : 'auto', flags: ['disambiguateEscapeCodes', 'reportEventTypes'] },
})
await app.waitUntilExit()
await daemon.own?.close()
if (daemon.tmp) fs.rmSync(daemon.tmp, { recursive: true, force: true })

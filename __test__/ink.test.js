'use strict'
// The Ink example (`npm run example:ink`) in a real terminal: tmux at 100×30, the virtual
// microphone playing speech, and a reference v1 daemon with a batch model in another process.
// Space talks, space again mutes, Ctrl-C leaves at once with the terminal as it was, and
// nothing but Ink's frames reaches the screen. Once more with the kitty keyboard protocol,
// where space is held to talk.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')

const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { speechTimeline } = require('./harness/speech.js')

const ROOT = path.join(__dirname, '..')
const RUN = path.join(ROOT, 'examples', 'ink-tui', 'run.js')
const mic = setupVirtualMic()
const TMUX = ['-L', `stt-ink-${process.pid}`, '-f', '/dev/null']
const tmux = (...args) => execFileSync('tmux', [...TMUX, ...args], { encoding: 'utf8' })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function until(what, done, ms = 20_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const value = done()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

let feeder
let daemon
let daemonOut = ''
const token = 'stt_ink_test_token'
const socket = path.join(mic.dir, 'http.sock')

before(async () => {
  // Speech with pauses long enough to end utterances, over low noise (so a live meter reads a
  // level even between sentences; a muted capture reads silence).
  const sentences = ['the quick brown fox jumps over the lazy dog', 'push to talk works in a real terminal', 'every sample is accounted for']
  const parts = []
  for (let i = 0; i < 6; i++) parts.push({ text: sentences[i % sentences.length] }, 1200)
  feeder = startFeeder(mic.fifo, { type: 'samples', data: speechTimeline(parts).data, noise: 0.002 })
  daemon = spawn(process.execPath, [path.join(ROOT, 'bin', 'stt-capture.js'), 'daemon', '--protocol', 'v1', '--model', 'batch', '--token', token, '--socket', socket], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  daemon.stdout.on('data', (d) => (daemonOut += d))
  await until('the daemon', () => /listening on/.test(daemonOut))
  // Compile once here, so the timed parts below measure the app, not tsc.
  execFileSync(process.execPath, [RUN, '--build-only'], { stdio: 'ignore' })
})

after(async () => {
  try {
    tmux('kill-server')
  } catch {} // no server left
  daemon?.kill('SIGINT')
  await feeder?.stop()
})

/** Starts the example in a new 100×30 tmux session; files in `dir` say how it ended. */
function startApp(name, args = [], envOverride = {}) {
  const dir = fs.mkdtempSync(path.join(mic.dir, `${name}-`))
  const script = path.join(dir, 'run.sh')
  fs.writeFileSync(
    script,
    [
      // A user's terminal, not CI: under CI=true Ink draws only its last frame.
      'unset CI CONTINUOUS_INTEGRATION',
      'stty -g > before',
      `node ${RUN} ${args.join(' ')} 2> stderr`,
      'echo $? > code',
      'stty -g > after',
      // Keep the pane (and its last frame) for the checks.
      'exec sleep 600',
    ].join('\n'),
  )
  const env = { ALSA_CONFIG_PATH: process.env.ALSA_CONFIG_PATH, SUPER_STT_HTTP_SOCKET: socket, SUPER_STT_TOKEN: token, ...envOverride }
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`])
  tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', '-c', dir, ...envArgs, `sh ${script}`)
  const file = (f) => {
    try {
      return fs.readFileSync(path.join(dir, f), 'utf8')
    } catch {
      return null
    }
  }
  return {
    screen: () => tmux('capture-pane', '-p', '-t', name),
    keys: (...keys) => tmux('send-keys', '-t', name, ...keys),
    raw: (hex) => tmux('send-keys', '-t', name, '-H', ...hex),
    cursorVisible: () => tmux('display-message', '-p', '-t', name, '#{cursor_flag}').trim() === '1',
    file,
    dir,
  }
}

const transcribeLines = () => daemonOut.split('\n').filter((l) => /^transcribe: HTTP 200/.test(l)).length
const meterLevel = (screen) => screen.match(/level [█░]{40} (silent|-?\d+\.\d dBFS)/)?.[1]
const transcriptCount = (screen) => Number(screen.match(/transcripts \((\d+)\)/)?.[1] ?? -1)

/** Every line on screen belongs to the app's frame: nothing else was written to the terminal. */
function assertOnlyFrame(screen) {
  const frame = [/^ stt-capture · Ink push-to-talk · /, /^ [●○] /, /^ level /, /^ device  /, /^ daemon  /, /^ partial /, /^ transcripts \(/, /^   utterance of /, /^ sent \d+ utterances/, /^ describe each utterance\)$/]
  for (const line of screen.split('\n')) {
    if (line.trim() === '') continue
    assert.ok(frame.some((re) => re.test(line)), `a line outside the app's frame: ${JSON.stringify(line)}`)
  }
}

async function quit(app) {
  const pressed = Date.now()
  app.keys('C-c')
  const code = await until('the exit', () => app.file('code'), 5000)
  const ms = Date.now() - pressed
  assert.equal(code.trim(), '0')
  assert.ok(ms < 2000, `exit ${ms} ms after Ctrl-C`)
  // The terminal as it was: the same stty modes, the cursor shown again.
  await until('stty after', () => app.file('after'), 5000)
  assert.equal(app.file('after'), app.file('before'))
  assert.ok(app.cursorVisible(), 'cursor visible again')
  // Ink's cli-cursor writes its cursor-show escape to stderr on exit; anything else there
  // (a warning, alsa-lib chatter, a stack) fails.
  assert.equal(app.file('stderr').replace('\x1b[?25h', ''), '')
}

test('ink example in tmux: space talks (meter moves, transcripts appear), space again stops sending, Ctrl-C exits 0 at once', async () => {
  const app = startApp('toggle')
  // Open and paused: the daemon is connected, the meter reads silence, nothing was sent.
  let screen = await until('the app, connected and muted', () => {
    const s = app.screen()
    return /daemon {2}connected · v1 · utterances/.test(s) && /device {2}running/.test(s) && /○ muted/.test(s) && /sent 0 utterances, 0 chunks/.test(s) && s
  })
  assert.equal(meterLevel(screen), 'silent')
  assert.match(screen, /press space to talk/)
  // The daemon of the other process, not one the app started for itself.
  assert.match(screen, /daemon at .*http\.sock/)
  await sleep(1000)
  assert.equal(meterLevel(app.screen()), 'silent', 'muted: the meter stays at silence')
  assert.equal(transcribeLines(), 0, 'nothing sent before space')

  app.keys('Space')
  screen = await until('talking with a level', () => {
    const s = app.screen()
    return /● TALKING/.test(s) && /dBFS/.test(meterLevel(s) ?? '') && s
  })
  assert.match(screen, /space toggles talking \(this terminal does not report key release\)/)
  screen = await until('two transcripts on screen', () => {
    const s = app.screen()
    return transcriptCount(s) >= 2 && s
  }, 30_000)
  assert.ok((screen.match(/^ {3}utterance of \d+ samples/gm) ?? []).length >= 2, screen)
  assert.ok(transcribeLines() >= 2, 'the transcripts came from the daemon in the other process')
  assertOnlyFrame(screen)

  app.keys('Space')
  await until('muted again', () => /○ muted/.test(app.screen()) && meterLevel(app.screen()) === 'silent')
  // The pause ends the open utterance (its request goes out now); after that, nothing more.
  await sleep(1500)
  const sent = transcribeLines()
  await sleep(2500)
  assert.equal(transcribeLines(), sent, 'muted: no more utterances reach the daemon')
  assert.equal(meterLevel(app.screen()), 'silent')

  await quit(app)
  assertOnlyFrame(app.screen())
})

test('ink example with the kitty keyboard protocol: space is held to talk, released to mute', async () => {
  // tmux does not speak the protocol, so the terminal's key reports are sent as raw bytes:
  // CSI 32;1:1u (space pressed), CSI 32;1:2u (repeat), CSI 32;1:3u (released).
  const csi = (s) => ['1b', '5b', ...Buffer.from(s).toString('hex').match(/../g)]
  const app = startApp('kitty', ['--kitty'])
  await until('the app, muted', () => /○ muted/.test(app.screen()) && /daemon {2}connected/.test(app.screen()))
  app.raw(csi('32;1:1u'))
  let screen = await until('talking while held', () => {
    const s = app.screen()
    return /● TALKING/.test(s) && /dBFS/.test(meterLevel(s) ?? '') && s
  })
  assert.match(screen, /hold space to talk \(this terminal reports key release\)/)
  for (let i = 0; i < 5; i++) {
    app.raw(csi('32;1:2u'))
    await sleep(100)
  }
  assert.match(app.screen(), /● TALKING/, 'repeats keep talking')
  app.raw(csi('32;1:3u'))
  screen = await until('muted on release', () => {
    const s = app.screen()
    return /○ muted/.test(s) && meterLevel(s) === 'silent' && s
  })
  assertOnlyFrame(screen)
  await quit(app)
})

test('ink example with no microphone and no daemon: it replays the bundled speech to a reference daemon of its own', async () => {
  const dir = fs.mkdtempSync(path.join(mic.dir, 'none-'))
  // A default ALSA device that does not exist, and no daemon at the v1 socket.
  const conf = path.join(dir, 'no-mic.conf')
  fs.writeFileSync(conf, 'pcm.!default { type hw card 99 device 0 }\n')
  const alsaConf = ['/usr/share/alsa/alsa.conf', '/etc/alsa/alsa.conf'].find((p) => fs.existsSync(p))
  const started = Date.now()
  const app = startApp('none', [], { ALSA_CONFIG_PATH: `${alsaConf}:${conf}`, SUPER_STT_HTTP_SOCKET: path.join(dir, 'absent.sock'), SUPER_STT_TOKEN: '' })
  let screen = await until('the app on the bundled speech and its own daemon', () => {
    const s = app.screen()
    return /Ink push-to-talk · bundled speech/.test(s) && /daemon {2}connected · v1 · utterances · reference daemon \(batch model/.test(s) && /○ muted/.test(s) && /device {2}running/.test(s) && s
  })
  assert.match(screen, /device {2}running · .*speech\.wav/)
  assert.doesNotMatch(screen, /error/, 'the failed microphone is not left on screen')
  app.keys('Space')
  screen = await until('a transcript of the bundled speech', () => {
    const s = app.screen()
    return transcriptCount(s) >= 1 && s
  }, 30_000)
  assertOnlyFrame(screen)
  await quit(app)
  // Its daemon was closed on the way out: no socket, no temporary folder of this run left
  // (one from a run killed earlier on this machine is not this app's).
  const tmp = os.tmpdir()
  const left = fs.readdirSync(tmp).filter((f) => f.startsWith('stt-ink-') && fs.statSync(path.join(tmp, f)).mtimeMs >= started - 1000)
  assert.deepEqual(left, [])
})

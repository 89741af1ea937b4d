'use strict'
// The README's "see it work" command, run headless as CI would: `stt-capture demo --seconds N`
// exits 0 and leaves a WAV written by the reference daemon. Once with no microphone (it
// replays the bundled speech sample) and once with the virtual microphone.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { alsaConfigPath } = require('./harness/alsa-config.js')
const { spawn } = require('node:child_process')

const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { readFloatWav } = require('../daemon/wav-writer.js')
const { readWav } = require('./harness/wav.js')
const { until } = require('./harness/observe.js')
const { releaseAfterTest } = require('./harness/leaks.js')
const { rms, zeroCrossingFrequency, resampleLinear, bestCorrelation } = require('./signal.js')

const CLI = path.join(__dirname, '..', 'bin', 'stt-capture.js')

/**
 * Asserts that `samples` (16 kHz) are the bundled speech from its start: the same waveform as
 * the WAV resampled here by linear interpolation, correlated over the first 2 s.
 */
function assertBundledSpeech(samples) {
  const speech = readWav(path.join(__dirname, '..', 'assets', 'speech.wav'))
  assert.equal(speech.channels, 1)
  const reference = resampleLinear(Float32Array.from(speech.samples, (v) => v / 32768), speech.rate, 16000)
  const { r, lag } = bestCorrelation(samples.subarray(0, 32000), reference.subarray(0, 32000), 200)
  assert.ok(r > 0.95, `correlation with the bundled speech ${r.toFixed(3)} (at lag ${lag})`)
}

function run(args, env) {
  const child = releaseAfterTest(spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const started = Date.now()
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })))
}

/** An ALSA configuration whose default device does not exist: a machine without a microphone. */
function noMicrophone(dir) {
  const conf = path.join(dir, 'no-mic.conf')
  fs.writeFileSync(conf, 'pcm.!default { type hw card 99 device 0 }\n')
  return alsaConfigPath(conf)
}

test('demo --seconds 5 with no microphone replays the bundled speech, streams it, records it, and the reference daemon gets the same', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-demo-'))
  const socket = path.join(dir, 'daemon.sock')
  const wav = path.join(dir, 'received.wav')
  const recorded = path.join(dir, 'recorded.wav')
  const r = await run(['demo', '--seconds', '5', '--socket', socket, '--daemon-record', wav, '--record', recorded], { ALSA_CONFIG_PATH: noMicrophone(dir) })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /no daemon at .*started the reference daemon/)
  assert.match(r.stdout, /no microphone: .*/)
  assert.match(r.stdout, /replaying the bundled speech sample .*speech\.wav/)
  assert.match(r.stdout, /stopped after 5\.\d s/)
  // Headless (stdout is a pipe): plain status lines, no cursor movement.
  assert.doesNotMatch(r.stdout, /\x1b\[/)
  assert.ok(r.ms < 15_000, `took ${r.ms} ms`)
  // The daemon's socket is gone: nothing was left running.
  assert.equal(fs.existsSync(socket), false)

  const { sampleRate, samples } = readFloatWav(wav)
  assert.equal(sampleRate, 16000)
  const seconds = samples.length / sampleRate
  assert.ok(seconds > 4.5 && seconds < 5.6, `${seconds} s recorded`)
  assertBundledSpeech(samples)
  const summary = r.stdout.match(/daemon wav\s+([\d.]+) s \((\d+) samples\)/)
  assert.equal(Number(summary[2]), samples.length)
  // The addon's own recording holds exactly what the daemon received.
  const ours = r.stdout.match(/recorded\s+[\d.]+ s \((\d+) frames at 16000 Hz, f32\) to (.*)$/m)
  assert.equal(ours[2], recorded)
  assert.equal(Number(ours[1]), samples.length)
  assert.deepEqual(readWav(recorded).samples, samples)
  const sent = Number(r.stdout.match(/daemon\s+(\d+) sent, 0 dropped from the queue, 0 failed/)[1])
  assert.equal(sent, Math.ceil(samples.length / 1600))
  fs.rmSync(dir, { recursive: true, force: true })
})

test('Ctrl-C stops the demo cleanly with a summary', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-demo-'))
  const child = releaseAfterTest(spawn(process.execPath, [CLI, 'demo', '--no-daemon'], {
    env: { ...process.env, ALSA_CONFIG_PATH: noMicrophone(dir) },
    stdio: ['ignore', 'pipe', 'pipe'],
  }))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  // Wait for a status line with a measured level, then press Ctrl-C.
  await until(() => /level -?\d+\.\d dBFS/.test(stdout), 15_000, 'a status line with a level')
  child.kill('SIGINT')
  const { code, signal } = await exited
  assert.equal(signal, null)
  assert.equal(code, 0, stdout + stderr)
  assert.equal(stderr, '')
  assert.match(stdout, /stopped after \d+\.\d s\n\s+input\s+file speech\.wav, 22050 Hz, 1 ch, i16\n\s+captured\s+\d+ frames, 0 dropped/)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('demo --seconds 3 with a microphone streams it live', async () => {
  const mic = setupVirtualMic()
  const feeder = startFeeder(mic.fifo, { type: 'sine', freq: 440, amplitude: 0.5 })
  const wav = path.join(mic.dir, 'received.wav')
  try {
    const r = await run(['demo', '--seconds', '3', '--socket', path.join(mic.dir, 'd.sock'), '--daemon-record', wav], {
      ALSA_CONFIG_PATH: process.env.ALSA_CONFIG_PATH,
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(r.stderr, '')
    assert.doesNotMatch(r.stdout, /no microphone/)
    assert.match(r.stdout, /input\s+microphone \(default\), 48000 Hz, 2 ch, f32/)
    assert.match(r.stdout, /captured\s+\d+ frames, 0 dropped/)
    const { samples } = readFloatWav(wav)
    assert.ok(samples.length / 16000 > 2.5, `${samples.length} samples`)
    const steady = samples.subarray(1600, samples.length - 1600)
    assert.ok(Math.abs(rms(steady) - 0.5 / Math.SQRT2) < 0.01, `rms ${rms(steady)}`)
    assert.ok(Math.abs(zeroCrossingFrequency(steady, 16000) - 440) < 1)
  } finally {
    await feeder.stop()
  }
})

test('demo finds a v1 daemon at its default socket, asks it for a token, and streams over the WebSocket', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-demo-v1-'))
  const env = { SUPER_STT_HTTP_SOCKET: path.join(dir, 'http.sock'), SUPER_STT_TOKEN: '', ALSA_CONFIG_PATH: noMicrophone(dir) }
  const wav = path.join(dir, 'v1.wav')
  const daemon = releaseAfterTest(spawn(process.execPath, [CLI, 'daemon', '--protocol', 'v1', '--record', wav, '--quiet'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }))
  let daemonOut = ''
  daemon.stdout.on('data', (d) => (daemonOut += d))
  const daemonExit = new Promise((resolve) => daemon.on('exit', (code) => resolve(code)))
  await until(() => /listening on .*http\.sock \(v1 protocol/.test(daemonOut), 10_000, 'the v1 daemon listening')
  const r = await run(['demo', '--seconds', '3'], env)
  daemon.kill('SIGINT')
  assert.equal(await daemonExit, 0)
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /asking the daemon at .*http\.sock for a token/)
  assert.match(r.stdout, /token granted/)
  assert.doesNotMatch(r.stdout, /started the reference daemon/)
  const sent = Number(r.stdout.match(/daemon\s+(\d+) sent, 0 dropped from the queue, 0 failed, 0 reconnects, v1 protocol/)[1])
  // Two sessions: the first start found no microphone (after the daemon session opened, which
  // is then ended), the second replays the bundled speech.
  assert.match(daemonOut, new RegExp(`received ${sent} frames, \\d+ samples in 2 session`))
  const { samples } = readFloatWav(wav)
  assert.ok(Math.abs(samples.length / 16000 - 3) < 0.3, `${samples.length / 16000} s`)
  assertBundledSpeech(samples)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('with no daemon at all the demo runs a v1 reference daemon with a batch model and shows each utterance\'s transcription', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-demo-'))
  const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-demo-run-'))
  fs.chmodSync(runtime, 0o700)
  const wav = path.join(dir, 'transcribed.wav')
  const env = { XDG_RUNTIME_DIR: runtime, SUPER_STT_HTTP_SOCKET: '', SUPER_STT_TOKEN: '', ALSA_CONFIG_PATH: noMicrophone(dir) }
  const r = await run(['demo', '--seconds', '9', '--daemon-record', wav], env)
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /started the reference daemon \(v1, batch model/)
  // The bundled speech has three sentences with pauses: each one's text as it arrives.
  const texts = [...r.stdout.matchAll(/^utterance (\d+): utterance of (\d+) samples .* dBFS \((\d+) ms after it ended\)$/gm)]
  assert.ok(texts.length >= 2, r.stdout)
  assert.deepEqual(texts.map((m) => Number(m[1])), texts.map((_, i) => i + 1), 'in order')
  const sent = Number(r.stdout.match(/daemon\s+(\d+) utterances transcribed, 0 dropped from the queue, 0 failed, 0 reconnects, v1 protocol, batch route/)[1])
  assert.equal(sent, texts.length)
  // The daemon recorded exactly what it transcribed.
  const { samples } = readFloatWav(wav)
  assert.equal(samples.length, texts.reduce((n, m) => n + Number(m[2]), 0))
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(runtime, { recursive: true, force: true })
})

test('stt-capture rejects unknown commands and flags with usage, and lists devices', async () => {
  const bad = await run(['demo', '--secs', '5'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /unknown argument "--secs"/)
  assert.match(bad.stderr, /usage: stt-capture/)
  const badProtocol = await run(['daemon', '--protocol', 'v2'])
  assert.equal(badProtocol.code, 2)
  assert.match(badProtocol.stderr, /--protocol must be legacy or v1/)
  const unknown = await run(['transcribe'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command "transcribe"/)
  const noFile = await run(['record'])
  assert.equal(noFile.code, 2)
  assert.match(noFile.stderr, /record needs one output WAV file/)
  const help = await run(['help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /demo .*\n.*daemon/s)
  // Probing the virtual microphone opens its FIFO, which needs a writer.
  const mic = setupVirtualMic()
  const feeder = startFeeder(mic.fifo, { type: 'silence' })
  try {
    const devices = await run(['devices'], { ALSA_CONFIG_PATH: process.env.ALSA_CONFIG_PATH })
    assert.equal(devices.code, 0, devices.stderr)
    assert.equal(devices.stderr, '')
    assert.match(devices.stdout, /^\* alsa:default {2}virtual test microphone/m)
  } finally {
    await feeder.stop()
  }
})

'use strict'
// Recording (`record`, startRecording/stopRecording, recordUtterances) through the real cpal
// ALSA path: deterministic noise on the virtual microphone, so every recorded sample can be
// matched to the frame the feeder wrote; files read back by our own reader, sox and hound
// (the addon's file input).

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')

const { releaseAfterTest, stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { sampleAt } = require('./harness/signals.js')
const { readWav } = require('./harness/wav.js')
const { sleep, until } = require('./harness/observe.js')
const { concatSamples } = require('./signal.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

const NOISE = { type: 'noise', amplitude: 0.5 }
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-record-'))
const file = (name) => path.join(dir, name)

let feeder = null
async function feed(rate) {
  if (feeder) await feeder.stop()
  feeder = startFeeder(mic.fifo, NOISE, { rate })
}
after(async () => {
  if (feeder) await feeder.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** The device's mono downmix of frame `i`: both channels carry the same f32 sample. */
const input = (rate, i) => Math.fround(sampleAt(NOISE, rate, 0, i))

/** The feeder frame where `samples` begins, checking that every sample follows from there. */
function assertFeederRun(samples, rate, label) {
  assert.ok(samples.length > 0, `${label}: empty`)
  let start = -1
  for (let i = 0; i < 20_000_000 && start < 0; i++) {
    if (input(rate, i) === samples[0] && input(rate, i + 1) === samples[1]) start = i
  }
  assert.ok(start >= 0, `${label}: the first sample is not one the feeder wrote`)
  for (let k = 0; k < samples.length; k++) {
    if (samples[k] !== input(rate, start + k)) {
      assert.fail(`${label}: sample ${k} is ${samples[k]}, the feeder wrote ${input(rate, start + k)}`)
    }
  }
  return start
}

/** Round half away from zero, as Rust's `f64::round`. */
const toS16 = (s) => {
  const x = s * 32767
  const r = Math.sign(x) * Math.round(Math.abs(x))
  return Math.max(-32768, Math.min(32767, r))
}

async function rejects(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, e.message)
    if (pattern) assert.match(e.message, pattern)
    return true
  })
}

for (const rate of [48000, 32000]) {
  test(`at ${rate} Hz: 16 kHz is exactly the chunks, 'device' exactly the callback's downmix`, async () => {
    await feed(rate)
    const format = rate === 48000 ? 'f32' : 's16'
    const p16 = file(`run-${rate}.wav`)
    const pDevice = file(`device-${rate}.wav`)
    const capture = new AudioCapture({ daemon: false, sampleRate: rate, record: { path: p16, format } })
    const chunks = []
    const errors = []
    capture.on('chunk', (c) => chunks.push(c)).on('error', (e) => errors.push(e))
    await capture.startCapture()
    assert.equal(capture.stats().recordState, 'recording')
    await sleep(1500)
    const first = await capture.stopRecording()
    assert.equal(capture.stats().recordState, 'off')
    await capture.startRecording({ path: pDevice, rate: 'device' })
    await sleep(1500)
    await capture.stopCapture() // finalises the device-rate recording
    const second = await capture.stopRecording()
    await rejects(capture.stopRecording(), 'E_INVALID_STATE', /no recording/)
    await sleep(50)
    assert.deepEqual(errors, [])

    // The `record` recording: from the first chunk sample, every sample, in order.
    assert.deepEqual(
      { ...first, frames: undefined, durationMs: undefined },
      { path: p16, sampleRate: 16000, format, frames: undefined, durationMs: undefined },
    )
    assert.ok(first.frames > 16000, `frames ${first.frames}`)
    assert.equal(first.durationMs, (first.frames * 1000) / 16000)
    const wav16 = readWav(p16)
    assert.deepEqual([wav16.rate, wav16.channels, wav16.format, wav16.trailingBytes], [16000, 1, format, 0])
    assert.equal(wav16.samples.length, first.frames)
    const sent = concatSamples(chunks)
    const expected = sent.subarray(0, first.frames)
    if (format === 'f32') assert.deepEqual(wav16.samples, expected)
    else assert.deepEqual(wav16.samples, Int16Array.from(expected, toS16))

    // The device-rate recording: the feeder's frames, bit for bit, without a gap.
    assert.equal(second.sampleRate, rate)
    assert.equal(second.format, 'f32')
    const wavDevice = readWav(pDevice)
    assert.deepEqual([wavDevice.rate, wavDevice.channels, wavDevice.trailingBytes], [rate, 1, 0])
    assert.equal(wavDevice.samples.length, second.frames)
    assert.ok(second.frames > rate, `device frames ${second.frames}`)
    assertFeederRun(wavDevice.samples, rate, 'device-rate recording')
    assert.equal(capture.stats().recordFrames, second.frames)
  })
}

test('files that cannot be written are refused with the reason, and nothing is replaced', async () => {
  await feed(48000)
  const existing = file('existing.wav')
  fs.writeFileSync(existing, 'keep me')
  const idle = new AudioCapture({ daemon: false })
  await rejects(idle.startRecording({ path: file('x.wav') }), 'E_INVALID_STATE', /startCapture/)
  await rejects(idle.stopRecording(), 'E_INVALID_STATE')
  await rejects(new AudioCapture({ daemon: false, record: { path: existing } }).startCapture(), 'E_RECORD_FAILED', /exists.*overwrite: true/)
  assert.equal(fs.readFileSync(existing, 'utf8'), 'keep me')
  assert.throws(() => new AudioCapture({ record: { path: existing, rate: 8000 } }), (e) => e.code === 'E_INVALID_OPTION' && /record\.rate/.test(e.message))
  assert.throws(() => new AudioCapture({ record: {} }), (e) => e.code === 'E_INVALID_OPTION' && /record\.path/.test(e.message))

  const capture = new AudioCapture({ daemon: false })
  await capture.startCapture()
  try {
    await rejects(capture.startRecording({ path: existing }), 'E_RECORD_FAILED', /File exists/)
    await rejects(capture.startRecording({ path: file('missing/a.wav') }), 'E_RECORD_FAILED', /No such file/)
    await rejects(capture.startRecording({ path: dir }), 'E_RECORD_FAILED')
    await rejects(capture.startRecording(), 'E_INVALID_OPTION', /startRecording\(\) needs an object/)
    await rejects(capture.startRecording({ path: 'a.wav', format: 'mp3' }), 'E_INVALID_OPTION', /record\.format/)
    assert.equal(fs.readFileSync(existing, 'utf8'), 'keep me')
    await capture.startRecording({ path: existing, overwrite: true })
    await rejects(capture.startRecording({ path: file('second.wav') }), 'E_INVALID_STATE', /already recording/)
    await sleep(300)
    const summary = await capture.stopRecording()
    assert.ok(summary.frames > 0)
    assert.equal(readWav(existing).samples.length, summary.frames)
    assert.equal(fs.existsSync(file('second.wav')), false)
  } finally {
    await capture.stopCapture()
  }
})

test('start and stop a recording 100 times in one capture: every file whole, no thread or fd left', async () => {
  await feed(48000)
  const capture = new AudioCapture({ daemon: false })
  const errors = []
  capture.on('error', (e) => errors.push(e))
  await capture.startCapture()
  const count = (p) => fs.readdirSync(p).length
  try {
    // One round first: the runtime's blocking pool has its threads from then on.
    await capture.startRecording({ path: file('cycle-warm.wav') })
    await capture.stopRecording()
    const [threads, fds] = [count('/proc/self/task'), count('/proc/self/fd')]
    let frames = 0
    for (let i = 0; i < 100; i++) {
      const p = file(`cycle-${i}.wav`)
      await capture.startRecording({ path: p, rate: i % 2 ? 'device' : 16000 })
      await sleep(10)
      const summary = await capture.stopRecording()
      const wav = readWav(p)
      assert.equal(wav.samples.length, summary.frames, p)
      assert.equal(wav.rate, i % 2 ? 48000 : 16000)
      frames += summary.frames
    }
    assert.ok(frames > 0)
    assert.ok(count('/proc/self/task') <= threads + 1, `threads ${threads} → ${count('/proc/self/task')}`)
    assert.ok(count('/proc/self/fd') <= fds, `fds ${fds} → ${count('/proc/self/fd')}`)
    assert.deepEqual(errors, [])
  } finally {
    await capture.stopCapture()
  }
})

function runChild(args, { prlimit } = {}) {
  const child = path.join(__dirname, 'harness', 'record-child.js')
  const [cmd, argv] = prlimit ? ['prlimit', [prlimit, process.execPath, child, ...args]] : [process.execPath, [child, ...args]]
  const proc = releaseAfterTest(spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] }))
  const out = { lines: [], stderr: '' }
  let buffered = ''
  proc.stdout.on('data', (d) => {
    buffered += d
    const parts = buffered.split('\n')
    buffered = parts.pop()
    out.lines.push(...parts.filter(Boolean).map((l) => JSON.parse(l)))
  })
  proc.stderr.on('data', (d) => (out.stderr += d))
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })))
  return { proc, out, exited }
}

test('a process killed with SIGKILL while recording leaves a WAV that sox and hound open, all but the last second in it', async () => {
  await feed(48000)
  const p = file('killed.wav')
  const { proc, out, exited } = runChild(['kill', p])
  await until(() => out.lines.some((l) => l.started) || out.lines.some((l) => l.failed), 10_000, 'the child to start')
  assert.deepEqual(out.lines.filter((l) => l.failed), [])
  await sleep(3000)
  proc.kill('SIGKILL')
  assert.equal((await exited).signal, 'SIGKILL')
  assert.equal(out.stderr, '')

  const wav = readWav(p)
  assert.equal(wav.rate, 48000)
  assert.ok(wav.samples.length >= 2 * 48000, `${wav.samples.length} frames after 3 s`)
  assertFeederRun(wav.samples, 48000, 'the killed recording')
  // sox opens it and counts what the header says.
  const soxSamples = Number(execFileSync('sox', ['--i', '-s', p], { encoding: 'utf8' }).trim())
  assert.equal(soxSamples, wav.samples.length)
  execFileSync('sox', [p, '-n', 'stat'], { stdio: 'pipe' })
  // hound (the addon's file input) opens it and plays every frame.
  const replay = new AudioCapture({ daemon: false, input: { file: p, realtime: false } })
  let samples = 0
  const errors = []
  replay.on('chunk', (c) => (samples += c.samples.length)).on('error', (e) => errors.push(e))
  const ended = new Promise((r) => replay.on('end', r))
  await replay.startCapture()
  await ended
  await replay.stopCapture()
  assert.deepEqual(errors, [])
  assert.ok(Math.abs(samples - wav.samples.length / 3) <= 2, `${samples} samples at 16 kHz`)
})

test('a file-size limit ends the recording with E_RECORD_FAILED, a valid file, and the chunks go on', async () => {
  await feed(48000)
  const p = file('limited.wav')
  const limit = 150_000
  const { out, exited } = runChild(['fsize', p], { prlimit: `--fsize=${limit}` })
  assert.equal((await exited).code, 0, out.stderr)
  // alsa-lib's system configuration asks libpulse (the pulse plugin's hook) whether a server
  // runs; libpulse cannot make its 64 MiB shm pool under this limit and logs that itself.
  // Anything else on stderr would be ours.
  assert.equal(out.stderr.replace('ftruncate() failed: File too large\n', ''), '')
  const [r] = out.lines
  assert.ok(!r.failed, r.failed)
  assert.deepEqual(r.errors.map((e) => e.code), ['E_RECORD_FAILED'])
  assert.match(r.errors[0].message, /File too large/)
  assert.match(r.errors[0].message, new RegExp(`holds ${r.summary.frames} frames`))
  assert.equal(r.summary.errorCode, 'E_RECORD_FAILED')
  assert.equal(r.stats.recordState, 'failed')
  // The capture went on for a second after the failure, with nothing dropped.
  assert.ok(r.seqs.length >= r.chunksAtError + 8, `${r.chunksAtError} chunks at the error, ${r.seqs.length} in all`)
  assert.deepEqual(r.seqs, r.seqs.map((_, i) => i))
  assert.equal(r.stats.framesDropped, 0)
  assert.equal(r.samples, r.stats.samplesEmitted)
  // The file says exactly what it holds, and it is most of what fit.
  const wav = readWav(p)
  assert.equal(wav.trailingBytes, 0)
  assert.equal(wav.samples.length, r.summary.frames)
  assert.ok(fs.statSync(p).size <= limit)
  assert.ok(r.summary.frames * 4 > limit - 64 * 1024 - 100, `${r.summary.frames} frames under a ${limit} B limit`)
})

test('recordUtterances writes each utterance to its own file, sample for sample', async () => {
  const utterances = file('utterances')
  fs.mkdirSync(utterances)
  const speech = path.join(__dirname, '..', 'assets', 'speech.wav')
  const capture = new AudioCapture({ daemon: false, vad: true, recordUtterances: utterances, input: { file: speech, realtime: false } })
  const seen = []
  const errors = []
  capture.on('utterance', (u) => seen.push(u)).on('error', (e) => errors.push(e))
  const ended = new Promise((r) => capture.on('end', r))
  await capture.startCapture()
  await ended
  await capture.stopCapture() // waits for the files
  await sleep(50)
  assert.deepEqual(errors, [])
  assert.ok(seen.length >= 3, `${seen.length} utterances`)
  const names = fs.readdirSync(utterances).sort()
  assert.equal(names.length, seen.length)
  for (const u of seen) {
    const name = `utterance-${Math.round(u.startMs)}-${u.id}.wav`
    assert.ok(names.includes(name), `${name} in ${names}`)
    const wav = readWav(path.join(utterances, name))
    assert.equal(wav.rate, 16000)
    assert.deepEqual(wav.samples, u.samples)
  }
  assert.equal(capture.stats().recordUtterancesWritten, seen.length)
  assert.equal(capture.stats().recordUtterancesFailed, 0)
  await rejects(
    new AudioCapture({ daemon: false, vad: true, recordUtterances: file('nope') }).startCapture(),
    'E_RECORD_FAILED',
    /recordUtterances/,
  )
})

test('stt-capture record FILE --seconds 2 --rate device records the microphone and says what the file holds', async () => {
  await feed(48000)
  const p = file('cli.wav')
  const cli = path.join(__dirname, '..', 'bin', 'stt-capture.js')
  const run = (args) =>
    new Promise((resolve) => {
      const child = releaseAfterTest(spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }))
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('exit', (code) => resolve({ code, stdout, stderr }))
    })
  const r = await run(['record', p, '--seconds', '2', '--rate', 'device'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /^recording microphone \(default\) \(48000 Hz, 2 ch\) to /)
  const m = r.stdout.match(/recorded [\d.]+ s \((\d+) frames at 48000 Hz, f32\) to (.*)$/m)
  assert.equal(m[2], p)
  const wav = readWav(p)
  assert.equal(wav.samples.length, Number(m[1]))
  assert.ok(wav.samples.length > 1.5 * 48000, `${wav.samples.length} frames`)
  assertFeederRun(wav.samples, 48000, 'stt-capture record')
  // The file is there now: a second run refuses to replace it.
  const again = await run(['record', p, '--seconds', '1'])
  assert.equal(again.code, 1)
  assert.match(again.stdout, /cannot record: E_RECORD_FAILED: .*overwrite/)
  assert.equal(readWav(p).samples.length, wav.samples.length)
})

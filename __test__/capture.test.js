'use strict'
// End to end through the real cpal ALSA path (virtual microphone: 48 kHz stereo f32 FIFO)
// and the reference daemon speaking the legacy protocol on a real Unix socket.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const net = require('node:net')

const { stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { startLegacyDaemon, frame } = require('../daemon/legacy-daemon.js')
const { rms, toneAmplitude, zeroCrossingFrequency, concatSamples } = require('./signal.js')

// ALSA reads its configuration once: point it at the virtual microphone before the addon loads.
const mic = setupVirtualMic()
const { AudioCapture, listInputDevices, requestToken } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

const AMPLITUDE = 0.5
const FREQ = 440
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let feeder
let daemon

before(async () => {
  feeder = startFeeder(mic.fifo, { type: 'sine', freq: FREQ, amplitude: AMPLITUDE })
  daemon = await startLegacyDaemon(path.join(mic.dir, 'stt', 'super-stt.sock'))
})

after(async () => {
  // Captures are stopped by then; only now may the feeder go quiet.
  await feeder.stop()
  await daemon.close()
})

/** Captures for `ms` and returns what the listeners saw. */
async function captureFor(capture, ms) {
  const chunks = []
  const levels = []
  const errors = []
  const onChunk = (c) => chunks.push(c)
  const onLevel = (l) => levels.push({ ...l, at: Date.now() })
  const onError = (e) => errors.push(e)
  capture.on('chunk', onChunk).on('level', onLevel).on('error', onError)
  await capture.startCapture()
  const startedAt = Date.now()
  await sleep(ms)
  await capture.stopCapture()
  const elapsedMs = Date.now() - startedAt
  await sleep(50) // let queued events reach JS
  capture.off('chunk', onChunk).off('level', onLevel).off('error', onError)
  return { chunks, levels, errors, elapsedMs }
}

test('a 48 kHz stereo sine reaches the daemon as a 16 kHz mono sine, exactly chunked and counted', async () => {
  const clientId = 'e2e-sine'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId })
  const { chunks, levels, errors } = await captureFor(capture, 3000)
  const stats = capture.stats()
  assert.deepEqual(errors, [])

  // The device path really was the virtual microphone's.
  assert.equal(stats.deviceSampleRate, 48000)
  assert.equal(stats.deviceChannels, 2)
  assert.equal(stats.sampleFormat, 'f32')
  assert.equal(stats.framesDropped, 0)
  assert.ok(stats.callbacks > 400, `callbacks ${stats.callbacks}`)
  assert.ok(stats.framesCaptured > 48000 * 2.5, `framesCaptured ${stats.framesCaptured}`)

  // Every sample captured arrives: floor(frames · 16000 / 48000) ± 1.
  const received = daemon.allSamples(clientId)
  const expected = Math.floor((stats.framesCaptured * 16000) / 48000)
  assert.ok(Math.abs(received.length - expected) <= 1, `received ${received.length}, expected ${expected}`)
  assert.equal(stats.samplesSent, received.length)
  assert.equal(stats.chunksFailed, 0)
  assert.equal(stats.chunksSent, stats.chunksQueued)
  assert.equal(stats.sendQueueDepth, 0)
  assert.ok(stats.sendLatencyP50Ms > 0 && stats.sendLatencyP99Ms >= stats.sendLatencyP50Ms)

  // Chunks: exactly 1600 samples except the last; seq from 0 without gaps.
  const sizes = daemon.chunkSizes(clientId)
  assert.ok(sizes.length >= 29, `chunks ${sizes.length}`)
  assert.ok(sizes.slice(0, -1).every((n) => n === 1600), 'all but the last chunk are 1600 samples')
  assert.ok(sizes[sizes.length - 1] >= 1 && sizes[sizes.length - 1] <= 1600)
  assert.deepEqual(chunks.map((c) => c.seq), chunks.map((_, i) => i))
  assert.deepEqual(chunks.map((c) => c.samples.length), sizes)
  // What JS saw is exactly what the daemon got (f32 survives the JSON round trip).
  assert.deepEqual(concatSamples(chunks), received)
  // capturedAtMs: wall clock of the first sample, 100 ms apart (the clock estimate may be
  // refined by a few ms as the capture runs).
  for (let i = 1; i < chunks.length; i++) {
    const step = chunks[i].capturedAtMs - chunks[i - 1].capturedAtMs
    assert.ok(Math.abs(step - 100) < 5, `chunk ${i} starts ${step} ms after the previous`)
  }
  assert.ok(Math.abs(chunks[0].capturedAtMs - Date.now()) < 10_000)

  // The content: a 440 Hz sine at the fed level (stereo in phase → same mono amplitude).
  const steady = received.subarray(3200, received.length - 1600)
  const freq = zeroCrossingFrequency(steady, 16000)
  assert.ok(Math.abs(freq - FREQ) < 0.5, `frequency ${freq}`)
  const amp = toneAmplitude(steady, FREQ, 16000)
  assert.ok(Math.abs(amp - AMPLITUDE) < 0.005, `amplitude ${amp}`)
  assert.ok(Math.abs(rms(steady) - AMPLITUDE / Math.SQRT2) < 0.005, `rms ${rms(steady)}`)

  // Level events: present, about the fed level, and at most the default levelHz (30) a
  // second of audio (counted against the samples captured; 60 a second would be twice this).
  const audioSeconds = stats.samplesEmitted / 16000
  assert.ok(levels.length >= 30, `levels ${levels.length}`)
  assert.ok(levels.length <= Math.ceil(audioSeconds * 30) + 1, `${levels.length} level events in ${audioSeconds} s of audio`)
  const mid = levels[Math.floor(levels.length / 2)]
  assert.ok(Math.abs(mid.rms - AMPLITUDE / Math.SQRT2) < 0.01, `level rms ${mid.rms}`)
  assert.ok(Math.abs(mid.peakDbfs - 20 * Math.log10(AMPLITUDE)) < 0.2, `peak dBFS ${mid.peakDbfs}`)

  // The protocol as the daemon saw it: subscribe, start_realtime, audio…, start_realtime.
  // Every request on this capture's connection (the one its session started on), whatever
  // other tests sent before.
  const connection = daemon.record.requests.find((r) => r.clientId === clientId).connection
  assert.ok(connection > 0)
  const mine = daemon.record.requests.filter((r) => r.connection === connection)
  const commands = mine.map((r) => r.command)
  assert.equal(commands[0], 'subscribe')
  assert.equal(commands[1], 'start_realtime')
  assert.equal(commands[commands.length - 1], 'start_realtime', 'stop resets the session')
  assert.ok(mine.filter((r) => r.command === 'realtime_audio').every((r) => r.sampleRate === 16000))
  const session = daemon.record.sessions.get(clientId)
  assert.equal(session.starts, 2)
  assert.equal(daemon.sessionSamples(clientId).length, 0, 'the session the daemon keeps is empty after stop')
})

test('the release rate limit (60 requests/min per connection) does not drop chunks', async () => {
  // Prove the reference daemon enforces it on an ordinary connection...
  const replies = await new Promise((resolve, reject) => {
    const sock = net.createConnection(daemon.socketPath)
    let buf = Buffer.alloc(0)
    const out = []
    sock.on('error', reject)
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 8 && buf.length >= 8 + Number(buf.readBigUInt64BE(0))) {
        const n = Number(buf.readBigUInt64BE(0))
        out.push(JSON.parse(buf.subarray(8, 8 + n)))
        buf = buf.subarray(8 + n)
      }
      if (out.length === 61) {
        sock.destroy()
        resolve(out)
      }
    })
    for (let i = 0; i < 61; i++) sock.write(frame({ command: 'ping' }))
  })
  assert.equal(replies[59].message, 'pong')
  assert.deepEqual(replies[60], { status: 'error', message: 'Rate limit exceeded' })

  // ...then send 50 chunks a second through the addon for 3 s.
  const clientId = 'rate-limit'
  const limitedBefore = daemon.record.rateLimited
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId, chunkMs: 20 })
  const { errors } = await captureFor(capture, 3000)
  const stats = capture.stats()
  assert.deepEqual(errors, [])
  assert.ok(stats.chunksSent > 120, `chunksSent ${stats.chunksSent}`)
  assert.equal(stats.chunksFailed, 0)
  assert.equal(daemon.record.rateLimited, limitedBefore)
  const sizes = daemon.chunkSizes(clientId)
  assert.ok(sizes.slice(0, -1).every((n) => n === 320), '20 ms chunks are 320 samples')
})

test('start and stop are idempotent and a capture can be restarted', async () => {
  const clientId = 'restart'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId })
  assert.equal(capture.isCapturing, false)
  await capture.stopCapture() // stopping a stopped capture is harmless
  await Promise.all([capture.startCapture(), capture.startCapture()])
  assert.equal(capture.isCapturing, true)
  await sleep(300)
  await capture.stopCapture()
  await capture.stopCapture()
  assert.equal(capture.isCapturing, false)
  const firstRun = capture.stats()
  assert.ok(firstRun.chunksSent >= 2)

  const seqs = []
  const onChunk = (c) => seqs.push(c.seq)
  capture.on('chunk', onChunk)
  await capture.startCapture()
  await sleep(450)
  await capture.stopCapture()
  await sleep(50)
  assert.equal(seqs[0], 0, 'seq restarts at 0')
  assert.deepEqual(seqs, seqs.map((_, i) => i))
  assert.equal(daemon.record.sessions.get(clientId).starts, 4, 'start + reset, twice')
  assert.ok(capture.stats().framesCaptured < firstRun.framesCaptured * 3, 'stats are per capture')
})

test('daemon: false captures with no socket at all', async () => {
  const connectionsBefore = daemon.record.connections
  const capture = new AudioCapture({ daemon: false, socketPath: '/nonexistent/socket' })
  const { chunks } = await captureFor(capture, 500)
  assert.ok(chunks.length >= 3)
  const stats = capture.stats()
  assert.equal(stats.chunksQueued, 0)
  assert.equal(stats.chunksEmitted, chunks.length)
  assert.equal(daemon.record.connections, connectionsBefore)
})

test('an unreachable daemon rejects startCapture with E_DAEMON_UNREACHABLE and leaves nothing running', async () => {
  const capture = new AudioCapture({ socketPath: path.join(mic.dir, 'nobody-listens.sock') })
  await assert.rejects(capture.startCapture(), (e) => {
    assert.ok(e instanceof Error)
    assert.equal(e.code, 'E_DAEMON_UNREACHABLE')
    assert.match(e.message, /nobody-listens\.sock/)
    return true
  })
  assert.equal(capture.isCapturing, false)
  await sleep(100)
  assert.equal(capture.stats().callbacks, 0, 'no stream was opened')
})

test('an unknown device rejects with E_NO_DEVICE listing the devices', async () => {
  const capture = new AudioCapture({ daemon: false, device: 'no-such-microphone' })
  await assert.rejects(capture.startCapture(), (e) => {
    assert.equal(e.code, 'E_NO_DEVICE')
    assert.match(e.message, /no-such-microphone/)
    assert.match(e.message, /alsa:default/)
    return true
  })
  assert.equal(capture.isCapturing, false)
})

test('listInputDevices reports the virtual microphone as the default', async () => {
  const devices = await listInputDevices()
  const def = devices.find((d) => d.isDefault)
  assert.ok(def, JSON.stringify(devices))
  assert.equal(def.id, 'alsa:default')
  assert.equal(def.name, 'virtual test microphone')
  assert.ok(def.sampleRates.includes(48000))
  assert.ok(def.channels >= 2)
  // The id opens the same device.
  const capture = new AudioCapture({ daemon: false, device: def.id })
  const { chunks } = await captureFor(capture, 300)
  assert.ok(chunks.length >= 1)
})

test('bad options and event names throw E_INVALID_OPTION naming the option', () => {
  const cases = [
    [{ chunkMs: 5 }, 'chunkMs'],
    [{ chunkMs: 1001 }, 'chunkMs'],
    [{ chunkMs: 100.5 }, 'chunkMs'],
    [{ chunkMs: Number.NaN }, 'chunkMs'],
    [{ chunkMs: '100' }, 'chunkMs'],
    [{ socketPath: '' }, 'socketPath'],
    [{ socketPath: 42 }, 'socketPath'],
    [{ clientId: '' }, 'clientId'],
    [{ clientId: 'x'.repeat(1025) }, 'clientId'],
    [{ device: '' }, 'device'],
    [{ daemon: 'yes' }, 'daemon'],
    [{ chunkMS: 100 }, 'chunkMS'],
    [{ maxBufferMs: 50 }, 'maxBufferMs'],
    [{ maxBufferMs: '30s' }, 'maxBufferMs'],
    [{ maxBufferMs: 200, chunkMs: 500 }, 'maxBufferMs'],
    [{ maxBufferMs: 600_001 }, 'maxBufferMs'],
    [{ reconnectInitialMs: 0 }, 'reconnectInitialMs'],
    [{ reconnectInitialMs: -5 }, 'reconnectInitialMs'],
    [{ reconnectMaxMs: 50 }, 'reconnectMaxMs'], // below the default initial 100
    [{ reconnectMaxMs: Infinity }, 'reconnectMaxMs'],
    [{ replyTimeoutMs: Number.NaN }, 'replyTimeoutMs'],
    [{ replyTimeoutMs: 99 }, 'replyTimeoutMs'],
    [{ levelHz: 0 }, 'levelHz'],
    [{ levelHz: 61 }, 'levelHz'],
    [{ levelHz: 29.5 }, 'levelHz'],
    [{ spectrumBands: 65 }, 'spectrumBands'],
    [{ spectrumBands: -1 }, 'spectrumBands'],
    [{ spectrumBands: true }, 'spectrumBands'],
    [{ input: 'speech.wav' }, 'input'],
    [{ input: ['speech.wav'] }, 'input'],
    [{ input: {} }, 'input.file'],
    [{ input: { file: '' } }, 'input.file'],
    [{ input: { file: 'a.wav', realtime: 'no' } }, 'input.realtime'],
    [{ input: { file: 'a.wav', loop: 1 } }, 'input.loop'],
    [{ input: { file: 'a.wav', looped: true } }, 'looped'],
    [{ input: { file: 'a.wav' }, device: 'alsa:default' }, 'device'],
    [{ input: { file: 'a.wav' }, sampleRate: 48000 }, 'sampleRate'],
    [{ input: { file: 'a.wav' }, channels: 2 }, 'channels'],
    [{ sampleRate: 999 }, 'sampleRate'],
    [{ sampleRate: 384_001 }, 'sampleRate'],
    [{ sampleRate: 44100.5 }, 'sampleRate'],
    [{ sampleRate: '48000' }, 'sampleRate'],
    [{ channels: 0 }, 'channels'],
    [{ channels: 65 }, 'channels'],
    [{ channels: -1 }, 'channels'],
    [{ stallTimeoutMs: 50 }, 'stallTimeoutMs'],
    [{ stallTimeoutMs: Number.NaN }, 'stallTimeoutMs'],
    [{ silenceWarnMs: -1 }, 'silenceWarnMs'],
    [{ silenceWarnMs: 'off' }, 'silenceWarnMs'],
    [{ silenceWarnMs: 3_600_001 }, 'silenceWarnMs'],
  ]
  for (const [options, name] of cases) {
    assert.throws(
      () => new AudioCapture(options),
      (e) => e instanceof Error && e.code === 'E_INVALID_OPTION' && e.message.includes(name),
      JSON.stringify(options),
    )
  }
  const capture = new AudioCapture({ daemon: false })
  assert.throws(() => capture.on('chunks', () => {}), (e) => e.code === 'E_INVALID_OPTION' && /chunks/.test(e.message))
  assert.match(capture.clientId, /^stt-capture-/)
  assert.notEqual(new AudioCapture().clientId, new AudioCapture().clientId)
})

test('options that are not an object and listeners that are not functions are E_INVALID_OPTION saying so', () => {
  const refused = (f, pattern) =>
    assert.throws(f, (e) => e instanceof Error && e.code === 'E_INVALID_OPTION' && pattern.test(e.message), String(f))
  refused(() => new AudioCapture('x'), /`options`: must be an object \(got a string\)/)
  refused(() => new AudioCapture(42), /must be an object \(got a number\)/)
  refused(() => new AudioCapture([]), /must be an object \(got an array\)/)
  refused(() => new AudioCapture({ chunkMs: () => 100 }), /chunkMs/)
  const capture = new AudioCapture({ daemon: false })
  refused(() => capture.on('chunk', 42), /`listener`: must be a function \(got a number\)/)
  refused(() => capture.on('chunk'), /must be a function \(got undefined\)/)
  refused(() => capture.off('level', 'f'), /must be a function \(got a string\)/)
  refused(() => capture.on(7, () => {}), /`event`: must be an event name .*chunk.*; got a number/)
  // Module functions take the same care.
  return Promise.all([
    assert.rejects(listInputDevices('alsa'), { code: 'E_INVALID_OPTION' }),
    assert.rejects(requestToken('me'), { code: 'E_INVALID_OPTION' }),
  ])
})

test('a listener that falls 64 events behind loses chunk events, and each one is counted', async () => {
  // 10 ms chunks (100 a second) while JS is blocked for 1.5 s: 150 chunks for a queue of 64.
  const capture = new AudioCapture({ daemon: false, chunkMs: 10 })
  const seqs = []
  capture.on('chunk', (c) => seqs.push(c.seq))
  await capture.startCapture()
  await sleep(300)
  const blockedUntil = Date.now() + 1500
  while (Date.now() < blockedUntil) {} // a busy render, a sync file write...
  await sleep(500)
  await capture.stopCapture()
  await sleep(200) // the last queued calls
  const s = capture.stats()
  assert.ok(s.chunkEventsDropped >= 150 - 64 - 20, `${s.chunkEventsDropped} chunk events dropped`)
  // Every chunk was either delivered or counted as dropped, and the JS side saw the gap.
  assert.equal(seqs.length + s.chunkEventsDropped, s.chunksEmitted)
  assert.ok(seqs.some((seq, i) => i > 0 && seq !== seqs[i - 1] + 1), 'a gap in seq where events were dropped')
  assert.equal(s.framesDropped, 0, 'the audio thread never waited for JS')
})

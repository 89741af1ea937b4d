'use strict'
// The current Super STT protocol (v1): HTTP + WebSocket on a Unix socket. Real cpal ALSA path
// (virtual microphone fed with deterministic noise at 1.5× full scale, so every chunk is
// unique and the s16 conversion has to clip), and a real HTTP + WebSocket server on a Unix
// socket (`daemon/v1-daemon.js`, built on Node's http and the `ws` package).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { releaseAfterTest, stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { sleep, range, observe, until } = require('./harness/observe.js')
const { startV1Daemon } = require('../daemon/v1-daemon.js')
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')

const mic = setupVirtualMic()
const { AudioCapture, requestToken } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

const TOKEN = 'stt_test_token_0123456789abcdef'
let feeder
before(() => {
  feeder = startFeeder(mic.fifo, { type: 'noise', amplitude: 1.5 })
})
after(async () => {
  await feeder.stop()
})

let daemonCount = 0
function daemonDir() {
  const dir = path.join(mic.dir, `v1-${daemonCount++}`)
  fs.mkdirSync(dir, { recursive: true })
  return dir
}
function startDaemon(options = {}) {
  return startV1Daemon(path.join(daemonDir(), 'super-stt-http.sock'), { tokens: { [TOKEN]: ['transcribe'] }, ...options }).then((d) => releaseAfterTest(d))
}

/** The addon's float → s16 rule: clip to [-1, 1], × 32768, round half away from zero, clamp. */
function toS16(x) {
  const v = Math.max(-1, Math.min(1, x)) * 32768
  const r = Math.sign(v) * Math.round(Math.abs(v))
  return Math.max(-32768, Math.min(32767, r))
}
const s16Key = (samples) => Buffer.from(Int16Array.from(samples, toS16).buffer).toString('base64')

/** The `seq` of every frame the daemon received (all sessions, in order), via its exact s16 bytes. */
function seqsAtDaemon(daemon, chunks) {
  const bySamples = new Map(chunks.map((c) => [s16Key(c.samples), c.seq]))
  assert.equal(bySamples.size, chunks.length, 'chunks are unique')
  return daemon.record.sessions.flatMap((s) => s.chunks.map((c) => bySamples.get(Buffer.from(c.buffer).toString('base64')) ?? -1))
}

test('streams over the WebSocket: start, one 3200-byte s16 frame per 100 ms chunk (clipped, rounded), stop, and the final result before stopCapture() resolves', async () => {
  const daemon = await startDaemon({ previewEverySamples: 8000 })
  const capture = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN, language: 'en' })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(2500)
  await capture.stopCapture()
  const finalsAtStop = seen.transcriptions.filter((t) => t.final).length
  const stats = await seen.detach()
  await daemon.close()

  assert.deepEqual(seen.errors, [])
  assert.equal(daemon.record.sessions.length, 1)
  const session = daemon.record.sessions[0]
  assert.deepEqual(daemon.record.upgrades, [{ authorization: `Bearer ${TOKEN}`, status: 101 }])
  assert.deepEqual(session.texts, [{ type: 'start', sample_rate: 16000, language: 'en' }, { type: 'stop' }], 'start, then stop; nothing else as text')
  assert.deepEqual(session.errors, [], 'the daemon found nothing to complain about')

  const n = seen.chunks.length
  assert.ok(n >= 20, `chunks ${n}`)
  assert.deepEqual(seen.chunks.map((c) => c.seq), range(n))
  assert.equal(session.frames.length, n, 'one binary frame per chunk')
  assert.ok(session.frames.slice(0, -1).every((b) => b === 3200), 'every frame but the last is 100 ms = 3200 bytes')
  assert.ok(session.frames[n - 1] > 0 && session.frames[n - 1] <= 3200 && session.frames[n - 1] % 2 === 0)
  assert.equal(session.frames[n - 1], seen.chunks[n - 1].samples.length * 2)

  // Exactness: every sample the daemon holds is the s16 of the very float JS saw.
  const floats = seen.chunks.flatMap((c) => Array.from(c.samples))
  const expected = Int16Array.from(floats, toS16)
  const got = daemon.samples()
  assert.equal(got.length, expected.length)
  const firstMismatch = got.findIndex((v, i) => v !== expected[i])
  assert.equal(firstMismatch, -1, `sample ${firstMismatch}: got ${got[firstMismatch]}, float ${floats[firstMismatch]}`)
  // The 1.5× input is clipped to ±1 upstream; +1.0 × 32768 does not fit in s16 and must clip
  // to 32767 rather than wrap to -32768.
  const positiveFullScale = floats.filter((x) => x === 1).length
  assert.ok(positiveFullScale > 100, `the input reached +1.0 (${positiveFullScale} samples)`)
  assert.ok(got.includes(32767) && got.includes(-32768), 'both s16 limits reached')

  // Results: previews while streaming (not final), then the final `done`, delivered before stop resolved.
  const previews = seen.transcriptions.filter((t) => !t.final)
  assert.ok(previews.length >= 4, `previews ${previews.length}`)
  assert.deepEqual(previews.map((p) => p.text), range(previews.length, 1).map((i) => `heard ${i * 8000} samples`))
  assert.equal(finalsAtStop, 1, 'the final transcription arrived before stopCapture() resolved')
  const final = seen.transcriptions.at(-1)
  assert.equal(final.final, true)
  assert.equal(final.text, `heard ${expected.length} samples`)
  assert.equal(final.clientId, capture.clientId)
  assert.ok(!Number.isNaN(Date.parse(final.timestamp)), final.timestamp)
  assert.equal(session.closedBy, 'daemon', 'we waited for done instead of hanging up first')

  assert.equal(stats.daemonProtocol, 'v1')
  assert.equal(stats.chunksSent, n)
  assert.equal(stats.samplesSent, expected.length)
  assert.equal(stats.chunksFailed + stats.chunksDroppedQueue, 0)
  assert.equal(stats.transcriptions, seen.transcriptions.length)
  assert.equal(stats.framesDropped, 0)
  assert.deepEqual(seen.daemon.map(({ state, protocol }) => ({ state, protocol })), [{ state: 'connected', protocol: 'v1' }])
})

test('credentials: no token, a wrong, expired or under-scoped token reject startCapture() with E_UNAUTHORIZED and leave nothing running', async () => {
  const daemon = await startDaemon()
  daemon.addToken('stt_status_only', ['status'])
  daemon.addToken('stt_old')
  daemon.expire('stt_old')
  const cases = [
    { token: undefined, reason: /reason: unknown.*SUPER_STT_TOKEN/s },
    { token: 'stt_wrong', reason: /HTTP 401.*reason: unknown/ },
    { token: 'stt_old', reason: /HTTP 401.*reason: expired/ },
    { token: 'stt_status_only', reason: /HTTP 403.*scope_denied/ },
  ]
  for (const { token, reason } of cases) {
    const capture = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath, token })
    for (const start of [undefined, { waitForDaemon: true }]) {
      await assert.rejects(capture.startCapture(start), (e) => {
        assert.equal(e.code, 'E_UNAUTHORIZED', `${token} ${JSON.stringify(start)}: ${e.message}`)
        assert.match(e.message, reason)
        return true
      })
      assert.equal(capture.isCapturing, false)
      assert.equal(capture.stats().framesCaptured, 0, 'no device was opened')
    }
  }
  assert.equal(daemon.record.sessions.length, 0)
  assert.deepEqual(
    daemon.record.upgrades.map((u) => [u.authorization, u.status]),
    cases.flatMap(({ token }) => {
      const attempt = [token === undefined ? null : `Bearer ${token}`, token === 'stt_status_only' ? 403 : 401]
      return [attempt, attempt]
    }),
  )

  // The token may come from SUPER_STT_TOKEN instead; the option wins over it.
  process.env.SUPER_STT_TOKEN = TOKEN
  try {
    const fromEnv = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath })
    await fromEnv.startCapture()
    await fromEnv.stopCapture()
    const overridden = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath, token: 'stt_wrong' })
    await assert.rejects(overridden.startCapture(), { code: 'E_UNAUTHORIZED' })
    process.env.SUPER_STT_TOKEN = 'has a space'
    assert.throws(() => new AudioCapture({ protocol: 'v1' }), (e) => e.code === 'E_INVALID_OPTION' && /SUPER_STT_TOKEN/.test(e.message))
  } finally {
    delete process.env.SUPER_STT_TOKEN
  }
  assert.equal(daemon.record.sessions.length, 1)
  assert.equal(daemon.record.sessions[0].token, TOKEN)
  await daemon.close()
})

test('a token revoked while capturing: the link keeps retrying, says why on each reconnecting event, and raises E_UNAUTHORIZED once', async () => {
  const daemon = await startDaemon()
  const capture = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN, reconnectInitialMs: 20, reconnectMaxMs: 100 })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(500)
  daemon.expire(TOKEN)
  await daemon.stop()
  await daemon.restart()
  await until(() => seen.daemon.filter((e) => e.state === 'reconnecting').length >= 5, 5000, 'retries')
  assert.deepEqual(seen.errors.map((e) => e.code), ['E_UNAUTHORIZED'], 'once per outage, not once per attempt')
  await capture.stopCapture()
  await seen.detach()
  await daemon.close()
  assert.equal(seen.errors.length, 2)
  assert.match(seen.errors[1].message, /not delivered at stop/, 'what could not be delivered is reported at stop')
  const retries = seen.daemon.filter((e) => e.state === 'reconnecting')
  assert.equal(retries[0].code, undefined, 'the first attempt has no previous failure')
  assert.ok(retries.slice(2).every((e) => e.code === 'E_UNAUTHORIZED' && /expired/.test(e.reason)), JSON.stringify(retries.slice(0, 4)))
})

test('daemon error messages become E_DAEMON_ERROR events and the stream goes on', async () => {
  const daemon = await startDaemon()
  const capture = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(600)
  daemon.sendError('model crashed, recovering')
  await until(() => seen.errors.length > 0, 2000, 'the error event')
  const framesAtError = daemon.record.sessions[0].frames.length
  await sleep(600)
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()
  assert.deepEqual(seen.errors.map((e) => e.code), ['E_DAEMON_ERROR'])
  assert.match(seen.errors[0].message, /model crashed, recovering/)
  assert.equal(stats.daemonErrors, 1)
  assert.equal(daemon.record.sessions.length, 1, 'same session')
  assert.ok(daemon.record.sessions[0].frames.length >= framesAtError + 4, 'audio kept flowing')
  assert.equal(stats.chunksFailed + stats.chunksDroppedQueue, 0)
})

test('3 daemon restarts in a 10 s stream: each new session starts before audio, frames arrive in order without duplicates', async () => {
  const daemon = await startDaemon()
  const capture = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath, token: TOKEN })
  const seen = observe(capture)
  await capture.startCapture()
  const started = Date.now()
  for (let i = 0; i < 3; i++) {
    await sleep(2200)
    await daemon.stop()
    await sleep(600)
    await daemon.restart()
  }
  await sleep(Math.max(0, 10_000 - (Date.now() - started)))
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()

  assert.deepEqual(seen.errors, [])
  const n = seen.chunks.length
  assert.ok(n >= 95, `chunks ${n}`)
  assert.equal(daemon.record.sessions.length, 4)
  for (const s of daemon.record.sessions) {
    assert.deepEqual(s.texts[0], { type: 'start', sample_rate: 16000 }, 'start first on every session')
  }
  assert.deepEqual(daemon.record.sessions.map((s) => s.closedBy), ['stop', 'stop', 'stop', 'daemon'])
  const seqs = seqsAtDaemon(daemon, seen.chunks)
  assert.ok(!seqs.includes(-1), 'every frame is a chunk JS saw')
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'in order, no duplicates')
  assert.equal(seqs[0], 0)
  assert.equal(seqs.at(-1), n - 1)
  // v1 has no acknowledgements: a frame written just before the daemon died may be lost
  // with it. The small send buffer bounds that; here nothing is usually lost at all.
  const lost = n - seqs.length
  assert.ok(lost <= 3 * 10, `lost ${lost}`)
  assert.equal(stats.chunksSent, n, 'every chunk was written to a live session')
  assert.equal(stats.reconnects, 3)
  assert.equal(stats.chunksFailed + stats.chunksDroppedQueue, 0)
  const states = seen.daemon.map((e) => e.state)
  assert.equal(states.filter((s) => s === 'connected').length, 4)
  assert.equal(states.filter((s) => s === 'disconnected').length, 3)
})

test('a stalled daemon: little is ever written but unread, then the queue holds the rest and drops are counted', async () => {
  const daemon = await startDaemon()
  const capture = new AudioCapture({
    protocol: 'v1',
    httpSocketPath: daemon.socketPath,
    token: TOKEN,
    replyTimeoutMs: 400,
    maxBufferMs: 1000,
    reconnectInitialMs: 50,
    reconnectMaxMs: 200,
  })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(500)
  daemon.behave({ silent: true })
  const sentBefore = capture.stats().chunksSent
  let maxUnread = 0
  const startedSilence = Date.now()
  while (Date.now() - startedSilence < 3000) {
    await sleep(20)
    maxUnread = Math.max(maxUnread, capture.stats().chunksSent - sentBefore)
  }
  daemon.behave({})
  await sleep(1500)
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()
  // The socket's small send buffer plus what the daemon's own stream layer read ahead (the
  // reference daemon reads ahead 16 KiB on every Node, 5 chunks). With the kernel's default
  // buffer all 30 chunks of the 3 s go out.
  assert.ok(maxUnread <= 16, `chunks written while the daemon read nothing: ${maxUnread}`)
  assert.ok(stats.chunksDroppedQueue + stats.chunksFailed > 0, 'the outage cost audio, and it is counted')
  assert.ok(stats.sendQueueHighWater <= 11, `queue bounded: ${stats.sendQueueHighWater}`)
  assert.equal(stats.framesDropped, 0, 'the audio thread never waited for the daemon')
  assert.ok(stats.chunksSent > sentBefore + maxUnread, 'delivery resumed after the daemon did')
})

test("protocol 'auto': the v1 socket when both exist, the legacy one when v1 goes away, decided on every reconnect", async () => {
  const runtime = fs.mkdtempSync('/tmp/stt-auto-')
  const saved = process.env.XDG_RUNTIME_DIR
  process.env.XDG_RUNTIME_DIR = runtime
  try {
    const v1 = await startV1Daemon(path.join(runtime, 'stt', 'super-stt-http.sock'), { tokens: { [TOKEN]: ['transcribe'] } })
    const legacy = releaseAfterTest(await startLegacyDaemon(path.join(runtime, 'stt', 'super-stt.sock')))
    const capture = new AudioCapture({ token: TOKEN, reconnectInitialMs: 20 })
    const seen = observe(capture)
    await capture.startCapture()
    await sleep(600)
    assert.equal(capture.stats().daemonProtocol, 'v1')
    await v1.stop() // its socket file goes with it
    await until(() => capture.stats().daemonProtocol === 'legacy', 3000, 'the switch to legacy')
    await sleep(600)
    await capture.stopCapture()
    await seen.detach()
    await legacy.close()
    await v1.close()
    assert.deepEqual(seen.errors, [])
    assert.deepEqual(
      seen.daemon.filter((e) => e.state === 'connected').map((e) => e.protocol),
      ['v1', 'legacy'],
    )
    assert.ok(v1.record.audioFrames >= 4)
    assert.ok(legacy.record.audioChunks >= 4)
    assert.equal(v1.record.audioFrames + legacy.record.audioChunks, seen.chunks.length, 'nothing lost on the switch')

    // Only the legacy socket: legacy. Neither: E_DAEMON_UNREACHABLE naming both paths.
    const legacyOnly = releaseAfterTest(await startLegacyDaemon(path.join(runtime, 'stt', 'super-stt.sock')))
    const c2 = new AudioCapture({ token: TOKEN })
    await c2.startCapture()
    assert.equal(c2.stats().daemonProtocol, 'legacy')
    await c2.stopCapture()
    await legacyOnly.close()
    await assert.rejects(new AudioCapture({}).startCapture(), (e) => {
      assert.equal(e.code, 'E_DAEMON_UNREACHABLE')
      assert.ok(e.message.includes('super-stt-http.sock') && e.message.includes('super-stt.sock'), e.message)
      return true
    })
  } finally {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR
    else process.env.XDG_RUNTIME_DIR = saved
    fs.rmSync(runtime, { recursive: true, force: true })
  }
})

test('requestToken(): a granted token streams; denial, dismissal, no daemon, no answer and bad options are clear errors', async () => {
  const daemon = await startV1Daemon(path.join(daemonDir(), 'super-stt-http.sock'))
  const grant = await requestToken({ appName: 'My TUI', scopes: ['transcribe', 'status', 'transcribe'], version: '1.2.3', httpSocketPath: daemon.socketPath })
  assert.match(grant.token, /^stt_[0-9a-f]{64}$/)
  assert.deepEqual(grant.scopes, ['status', 'transcribe'])
  assert.ok(Date.parse(grant.expiresAt) > Date.now())
  assert.deepEqual(JSON.parse(daemon.record.authRequests[0].body), { app_name: 'My TUI', scopes: ['transcribe', 'status', 'transcribe'], version: '1.2.3' })
  const capture = new AudioCapture({ protocol: 'v1', httpSocketPath: daemon.socketPath, token: grant.token })
  await capture.startCapture()
  await sleep(300)
  await capture.stopCapture()
  assert.ok(capture.stats().chunksSent >= 2)
  const defaults = await requestToken({ appName: 'x', httpSocketPath: daemon.socketPath })
  assert.deepEqual(defaults.scopes, ['transcribe'], 'asks for transcribe by default')

  daemon.setConsent('deny')
  for (const reason of ['user_denied', 'user_denied_cached']) {
    await assert.rejects(requestToken({ appName: 'x', httpSocketPath: daemon.socketPath }), (e) => {
      assert.equal(e.code, 'E_UNAUTHORIZED')
      assert.match(e.message, new RegExp(`HTTP 403.*reason: ${reason}`))
      return true
    })
  }
  daemon.setConsent('dismiss')
  await assert.rejects(requestToken({ appName: 'x', scopes: ['status'], httpSocketPath: daemon.socketPath }), /user_dismissed/)
  daemon.setConsent('allow', 2000)
  await assert.rejects(requestToken({ appName: 'x', scopes: ['settings'], httpSocketPath: daemon.socketPath, timeoutMs: 200 }), { code: 'E_DAEMON_TIMEOUT' })
  await assert.rejects(requestToken({ appName: 'x', scopes: ['nope'], httpSocketPath: daemon.socketPath }), (e) => {
    assert.equal(e.code, 'E_DAEMON_ERROR')
    assert.match(e.message, /HTTP 400.*reason: invalid_scope/)
    return true
  })
  await daemon.close()
  await assert.rejects(requestToken({ appName: 'x', httpSocketPath: daemon.socketPath }), { code: 'E_DAEMON_UNREACHABLE' })

  const bad = [
    {},
    { appName: '' },
    { appName: 'x', scopes: [] },
    { appName: 'x', scopes: 'transcribe' },
    { appName: 'x', scopes: ['Transcribe'] },
    { appName: 'x', timeoutMs: 0 },
    { appName: 'x', nope: 1 },
    { appName: 'x', httpSocketPath: __filename },
  ]
  for (const options of bad) {
    await assert.rejects(requestToken(options), { code: 'E_INVALID_OPTION' }, JSON.stringify(options))
  }
})

test('v1 options are validated', () => {
  const bad = [
    { protocol: 'v2' },
    { protocol: 1 },
    { token: '' },
    { token: 'two words' },
    { token: 'tab\there' },
    { language: 'en us' },
    { language: '' },
    { httpSocketPath: '' },
    { protocol: 'v1', httpSocketPath: __filename },
  ]
  for (const options of bad) {
    assert.throws(() => new AudioCapture(options), { code: 'E_INVALID_OPTION' }, JSON.stringify(options))
  }
  // A non-socket at the path of the protocol not in use is none of our business.
  assert.doesNotThrow(() => new AudioCapture({ protocol: 'legacy', httpSocketPath: __filename }))
})

'use strict'
// The daemon link in the real world: restarts, outages longer than the buffer, a slow daemon,
// each kind of garbage reply, a daemon that never answers, results coming back, and a daemon
// that is not there yet. Real cpal ALSA path (virtual microphone fed with deterministic noise,
// so every chunk is unique and the daemon's chunks map back to their `seq`), real Unix socket,
// the reference daemon speaking the legacy protocol.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { releaseAfterTest, stopCapturesAfterEachTest } = require('./harness/leaks.js')
const { rssMiBAfterGc } = require('./harness/memory.js')
const { setupVirtualMic, startFeeder } = require('./harness/virtual-mic.js')
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')
const { sleep, range, invariantHolds, observe, until } = require('./harness/observe.js')

const mic = setupVirtualMic()
const { AudioCapture } = require('../index.js')
stopCapturesAfterEachTest(AudioCapture)

let feeder

before(() => {
  feeder = startFeeder(mic.fifo, { type: 'noise', amplitude: 0.3 })
})

after(async () => {
  await feeder.stop()
})

let daemonCount = 0
function startDaemon(options) {
  return startLegacyDaemon(path.join(mic.dir, `d${daemonCount++}`, 'super-stt.sock'), options).then((d) => releaseAfterTest(d))
}

const keyOf = (samples) => Buffer.from(Float32Array.from(samples).buffer).toString('base64')

/** The `seq` of every chunk the daemon accepted for `clientId`, in arrival order. */
function seqsAtDaemon(daemon, clientId, chunks) {
  const byKey = new Map(chunks.map((c) => [keyOf(c.samples), c.seq]))
  assert.equal(byKey.size, chunks.length, 'chunks are unique')
  return (daemon.record.audio.get(clientId) ?? []).map((a) => byKey.get(keyOf(a)) ?? -1)
}

test('5 daemon restarts during a 20 s stream lose no chunk, in order, seq continuous at the daemon', async () => {
  const daemon = await startDaemon()
  const clientId = 'restarts'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId })
  const seen = observe(capture)
  await capture.startCapture()
  const started = Date.now()
  for (let i = 0; i < 5; i++) {
    await sleep(2500)
    await daemon.stop()
    await sleep(700)
    await daemon.restart()
  }
  await sleep(Math.max(0, 20_000 - (Date.now() - started)))
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()

  assert.deepEqual(seen.errors, [])
  const n = seen.chunks.length
  assert.ok(n >= 195, `chunks ${n}`)
  assert.deepEqual(seen.chunks.map((c) => c.seq), range(n))
  assert.deepEqual(seqsAtDaemon(daemon, clientId, seen.chunks), range(n), 'every chunk once, in order')
  assert.equal(stats.chunksSent, n)
  assert.equal(stats.chunksDroppedQueue, 0)
  assert.equal(stats.chunksFailed, 0)
  assert.equal(stats.reconnects, 5)
  assert.ok(stats.connectFailures >= 5, `connectFailures ${stats.connectFailures}`)
  assert.ok(stats.sendQueueHighWater >= 5, `the queue held the outages: ${stats.sendQueueHighWater}`)
  assert.equal(stats.framesDropped, 0)
  assert.ok(stats.deliveryLatencyP50Ms > 0 && stats.deliveryLatencyP99Ms >= stats.deliveryLatencyP50Ms)
  assert.equal(stats.daemonState, 'off')

  // Each restart: start_realtime again before any audio (no chunk fell into a forgotten session).
  assert.equal(daemon.record.droppedUnknownSession, 0)
  const starts = daemon.record.requests.filter((r) => r.command === 'start_realtime' && r.clientId === clientId)
  assert.equal(starts.length, 1 + 5 + 1, 'start, one per restart, and the reset at stop')
  assert.equal(daemon.record.stops, 5)

  const states = seen.daemon.map((e) => e.state)
  assert.equal(states.filter((s) => s === 'disconnected').length, 5)
  assert.equal(states.filter((s) => s === 'connected').length, 6)
  const retries = seen.daemon.filter((e) => e.state === 'reconnecting')
  assert.ok(retries.length >= 10, `reconnecting events ${retries.length}`)
  for (const r of retries) {
    assert.ok(r.attempt >= 1 && r.delayMs >= 100 && r.delayMs <= 5000, JSON.stringify(r))
  }
  const down = seen.daemon.find((e) => e.state === 'disconnected')
  assert.equal(down.code, 'E_DAEMON_UNREACHABLE')
  assert.match(down.reason, /closed the connection/)
})

test('a daemon down longer than maxBufferMs loses exactly the counted chunks, the oldest ones', async () => {
  const daemon = await startDaemon()
  const clientId = 'long-outage'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId, maxBufferMs: 1000 })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(1500)
  await daemon.stop()
  await sleep(3000)
  await daemon.restart()
  await sleep(1500)
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()

  assert.equal(stats.sendQueueCapacity, 10)
  assert.ok(stats.sendQueueHighWater <= 11, `high water ${stats.sendQueueHighWater}`)
  const n = seen.chunks.length
  const atDaemon = seqsAtDaemon(daemon, clientId, seen.chunks)
  assert.ok(!atDaemon.includes(-1))
  assert.ok(atDaemon.every((s, i) => i === 0 || s > atDaemon[i - 1]), 'in order, never twice')
  const missing = range(n).filter((s) => !atDaemon.includes(s))
  assert.equal(missing.length, stats.chunksDroppedQueue + stats.chunksFailed, 'every lost chunk is counted')
  assert.ok(stats.chunksDroppedQueue >= 15, `dropped ${stats.chunksDroppedQueue}`)
  assert.equal(stats.chunksSent, atDaemon.length)
  // Drop-oldest: the loss is one block inside the outage; the last 1 s before the daemon
  // came back and everything after it arrived.
  assert.ok(missing.every((s, i) => i === 0 || s === missing[i - 1] + 1), `one block: ${missing}`)
  assert.ok(missing[0] >= 10, `first lost ${missing[0]}`)
  assert.ok(n - 1 - missing[missing.length - 1] >= 10 + 10, `last lost ${missing[missing.length - 1]} of ${n}`)
  // One report of the overflow, not one per chunk.
  assert.deepEqual(seen.errors.map((e) => e.code), ['E_QUEUE_FULL'])
})

test('a slow daemon keeps the order and never holds up the audio path', async () => {
  const daemon = await startDaemon()
  daemon.behave({ replyDelayMs: 150 }) // each 100 ms chunk takes 150 ms to be acknowledged
  const clientId = 'slow'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(3000)
  const during = capture.stats()
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()

  assert.ok(during.sendQueueDepth >= 5, `the queue grows: ${during.sendQueueDepth}`)
  assert.ok(during.chunksEmitted >= 28, `chunks keep coming: ${during.chunksEmitted}`)
  assert.ok(seen.levels >= 60, `levels keep coming: ${seen.levels}`)
  assert.equal(stats.framesDropped, 0, 'the ring never overflowed')
  assert.ok(stats.sendLatencyP50Ms >= 140, `send latency ${stats.sendLatencyP50Ms}`)
  assert.ok(stats.deliveryLatencyP99Ms >= 500, `delivery latency ${stats.deliveryLatencyP99Ms}`)
  // Stop waited for the backlog: all of it arrived, in order.
  assert.deepEqual(seqsAtDaemon(daemon, clientId, seen.chunks), range(seen.chunks.length))
  assert.equal(stats.chunksSent, seen.chunks.length)
  assert.deepEqual(seen.errors, [])
})

test('each kind of bad reply is handled, counted with its reason, and the link recovers', async () => {
  const daemon = await startDaemon()
  const clientId = 'garbage'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId, reconnectInitialMs: 20 })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(300)
  const kinds = ['error-status', 'non-json', 'bad-framing', 'oversize', 'eof-mid-frame', 'drop-connection']
  for (const kind of kinds) {
    daemon.behave({ audio: kind, times: 3 })
    await until(() => daemon.record.misbehaved[kind] === 3, 5000, `3 × ${kind}`)
    const sentBefore = capture.stats().chunksSent
    await until(() => capture.stats().chunksSent >= sentBefore + 3, 3000, `recovery after ${kind}`)
  }
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()

  // A refusal fails its chunk at once; anything that breaks the connection is retried on a
  // new one, and the chunk fails after 3 tries.
  assert.deepEqual(stats.chunksFailedByReason, { rejected: 3, protocol: 4, connection: 1, timeout: 0, stopped: 0 })
  assert.equal(stats.chunksFailed, 8)
  assert.equal(stats.sendAttemptsFailed, 3 * kinds.length)
  assert.equal(stats.reconnects, 3 * (kinds.length - 1))
  assert.deepEqual(seen.errors.map((e) => e.code), [
    'E_DAEMON_ERROR',
    'E_PROTOCOL',
    'E_PROTOCOL',
    'E_PROTOCOL',
    'E_PROTOCOL',
    'E_DAEMON_UNREACHABLE',
  ])
  assert.match(seen.errors[1].message, /not JSON/)
  assert.match(seen.errors[3].message, /frame/)
  assert.match(seen.errors[4].message, /middle of a frame/)
  // Everything not failed arrived, in order.
  const atDaemon = seqsAtDaemon(daemon, clientId, seen.chunks)
  assert.equal(atDaemon.length, seen.chunks.length - 8)
  assert.ok(atDaemon.every((s, i) => i === 0 || s > atDaemon[i - 1]))
  assert.equal(stats.chunksSent, atDaemon.length)
})

test('a daemon that never answers: timeouts, bounded memory, and a stop that gives up in time', async () => {
  const daemon = await startDaemon()
  daemon.behave({ audio: 'silent' })
  const clientId = 'never-answers'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId, replyTimeoutMs: 300, maxBufferMs: 1000 })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(1000)
  const rssEarly = rssMiBAfterGc()
  await sleep(3000)
  const during = capture.stats()
  const rssLate = rssMiBAfterGc()
  const stopStarted = Date.now()
  await capture.stopCapture()
  const stopMs = Date.now() - stopStarted
  const stats = await seen.detach()

  assert.ok(during.chunksFailedByReason.timeout >= 1, JSON.stringify(during.chunksFailedByReason))
  assert.ok(during.chunksDroppedQueue >= 20, `dropped ${during.chunksDroppedQueue}`)
  assert.ok(stats.sendQueueHighWater <= 11, `high water ${stats.sendQueueHighWater}`)
  assert.equal(stats.chunksSent, 0)
  assert.equal(stats.sendQueueDepth, 0, 'everything is settled after stop')
  // After a full GC: 0.3–1.5 MiB measured here. The queue's own bound is the high water above.
  assert.ok(rssLate - rssEarly < 4, `RSS grew ${(rssLate - rssEarly).toFixed(1)} MiB`)
  // One request in flight at a time: the daemon never gets a flood.
  assert.ok(daemon.record.maxConcurrent <= 2, `concurrent connections ${daemon.record.maxConcurrent}`)
  assert.ok(daemon.record.bytesReceived < 2 * 1024 * 1024, `bytes sent to the daemon ${daemon.record.bytesReceived}`)
  assert.ok(stopMs < 7000, `stop took ${stopMs} ms`)
  assert.ok(seen.errors.some((e) => e.code === 'E_DAEMON_TIMEOUT'))

  // Not even the session start is answered: a plain start times out, waitForDaemon keeps trying.
  daemon.behave({ silent: true })
  const hung = new AudioCapture({ socketPath: daemon.socketPath, replyTimeoutMs: 300 })
  await assert.rejects(hung.startCapture(), (e) => e.code === 'E_DAEMON_TIMEOUT')
  assert.equal(hung.isCapturing, false)
  // A stop waits for an absent daemon for `stopTimeoutMs` (default 5 s): this one is short.
  const waiting = new AudioCapture({ socketPath: daemon.socketPath, replyTimeoutMs: 300, reconnectInitialMs: 50, stopTimeoutMs: 500 })
  await waiting.startCapture({ waitForDaemon: true })
  await sleep(1500)
  assert.ok(waiting.stats().connectFailures >= 2, `connectFailures ${waiting.stats().connectFailures}`)
  const t0 = Date.now()
  await waiting.stopCapture()
  assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms`)
  assert.ok(invariantHolds(waiting.stats()))
  assert.equal(waiting.stats().sendQueueDepth, 0)
  await daemon.close()
})

test('transcriptions reach JS only for this capture session, before and after a daemon restart', async () => {
  const daemon = await startDaemon({ transcribeEverySamples: 8000 })
  const clientId = 'tx-mine'
  const capture = new AudioCapture({ socketPath: daemon.socketPath, clientId })
  const seen = observe(capture)
  await capture.startCapture()
  await sleep(1200)
  daemon.notify('someone-else', 'not yours')
  daemon.notify(clientId, 'injected before restart')
  await sleep(200)
  await daemon.stop()
  await daemon.restart()
  await until(() => capture.stats().daemonConnected, 3000, 'reconnect')
  daemon.notify('someone-else', 'not yours either')
  daemon.notify(clientId, 'injected after restart')
  await sleep(1200)
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()

  const texts = seen.transcriptions.map((t) => t.text)
  assert.ok(texts.includes('injected before restart'), JSON.stringify(texts))
  assert.ok(texts.includes('injected after restart'), 'the subscription was re-established')
  assert.ok(texts.some((t) => /^heard \d+ samples$/.test(t)), 'results of our own audio')
  assert.ok(!texts.some((t) => t.startsWith('not yours')))
  for (const t of seen.transcriptions) {
    assert.equal(t.clientId, clientId)
    assert.ok(!Number.isNaN(Date.parse(t.timestamp)), t.timestamp)
  }
  assert.equal(stats.transcriptions, seen.transcriptions.length)
})

test('waitForDaemon: start before the daemon exists, then deliver everything once it appears', async () => {
  const socketPath = path.join(mic.dir, 'later', 'super-stt.sock')
  const clientId = 'waits'
  const capture = new AudioCapture({ socketPath, clientId, reconnectMaxMs: 400 })
  await assert.rejects(capture.startCapture(), (e) => e.code === 'E_DAEMON_UNREACHABLE')
  await assert.rejects(capture.startCapture({ waitForDaemon: 'yes' }), (e) => e.code === 'E_INVALID_OPTION' && /waitForDaemon/.test(e.message))
  await assert.rejects(capture.startCapture({ waitFor: true }), (e) => e.code === 'E_INVALID_OPTION' && /waitFor/.test(e.message))

  const seen = observe(capture)
  await capture.startCapture({ waitForDaemon: true })
  assert.equal(capture.isCapturing, true)
  await sleep(1000)
  const before = capture.stats()
  assert.equal(before.daemonConnected, false)
  assert.ok(['reconnecting', 'disconnected'].includes(before.daemonState), before.daemonState)
  assert.ok(before.chunksQueued >= 8 && before.chunksSent === 0, JSON.stringify(before))
  assert.ok(!fs.existsSync(socketPath), 'nothing is created at the daemon path')
  assert.ok(!fs.existsSync(path.dirname(socketPath)))

  const daemon = releaseAfterTest(await startLegacyDaemon(socketPath))
  await until(() => capture.stats().daemonConnected, 3000, 'connect')
  await sleep(500)
  await capture.stopCapture()
  const stats = await seen.detach()
  await daemon.close()

  assert.equal(seen.daemon[0].state, 'reconnecting')
  assert.equal(seen.daemon[0].attempt, 1)
  assert.ok(seen.daemon.some((e) => e.state === 'connected'))
  assert.deepEqual(seqsAtDaemon(daemon, clientId, seen.chunks), range(seen.chunks.length), 'queued audio arrives, in order')
  assert.equal(stats.chunksSent, seen.chunks.length)
  assert.equal(stats.reconnects, 0, 'a first connection is not a reconnect')
  assert.ok(stats.connectFailures >= 2)
  assert.deepEqual(seen.errors, [])
})

test('a socketPath that exists and is not a socket is refused and left untouched', async () => {
  const file = path.join(mic.dir, 'not-a-socket')
  fs.writeFileSync(file, 'keep me', { mode: 0o600 })
  const statBefore = fs.statSync(file)
  for (const socketPath of [file, mic.dir]) {
    assert.throws(
      () => new AudioCapture({ socketPath }),
      (e) => e.code === 'E_INVALID_OPTION' && e.message.includes('socketPath') && /not a Unix socket/.test(e.message),
    )
  }
  assert.doesNotThrow(() => new AudioCapture({ socketPath: file, daemon: false }), 'no daemon, no check')

  // Something appears at the path after construction: refused at start, even when waiting.
  const later = path.join(mic.dir, 'appears-later')
  const capture = new AudioCapture({ socketPath: later })
  fs.writeFileSync(later, 'also keep me')
  await assert.rejects(capture.startCapture(), (e) => e.code === 'E_INVALID_OPTION')
  await assert.rejects(capture.startCapture({ waitForDaemon: true }), (e) => e.code === 'E_INVALID_OPTION')
  assert.equal(capture.isCapturing, false)

  assert.equal(fs.readFileSync(file, 'utf8'), 'keep me')
  assert.equal(fs.readFileSync(later, 'utf8'), 'also keep me')
  const statAfter = fs.statSync(file)
  assert.equal(statAfter.mode, statBefore.mode)
  assert.equal(statAfter.mtimeMs, statBefore.mtimeMs)
})

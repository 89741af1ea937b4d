'use strict'
// The named parts of the reference daemons and the demo, each on its own (no socket, no
// addon): framing, command handling, misbehaviour, tokens, realtime sessions, drawing.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { EventEmitter } = require('node:events')

const { frame, rawFrame, FrameReader } = require('../daemon/legacy/framing.js')
const { LegacyCommands, parseRequest, newRecord } = require('../daemon/legacy/commands.js')
const { Behaviour } = require('../daemon/legacy/misbehaviour.js')
const { Auth } = require('../daemon/v1/auth.js')
const { newSession, runSession } = require('../daemon/v1/sessions.js')
const { Screen, truncate, meter, spectrum, METER_WIDTH } = require('../cli/demo/screen.js')
const { liveLines, summaryLines } = require('../cli/demo/view.js')

test('legacy framing: frames split anywhere come out whole; an oversize prefix ends the stream after what came before', () => {
  const bytes = Buffer.concat([frame({ command: 'ping' }), frame({ command: 'status' })])
  for (let cut = 1; cut < bytes.length; cut += 5) {
    const reader = new FrameReader()
    const bodies = [...reader.push(bytes.subarray(0, cut)).bodies, ...reader.push(bytes.subarray(cut)).bodies]
    assert.deepEqual(bodies.map((b) => JSON.parse(b).command), ['ping', 'status'], `cut at ${cut}`)
  }
  const huge = Buffer.alloc(8)
  huge.writeBigUInt64BE(101n * 1024n * 1024n)
  const r = new FrameReader().push(Buffer.concat([frame({ command: 'ping' }), huge]))
  assert.equal(r.bodies.length, 1)
  assert.equal(r.oversize, true)
  assert.equal(rawFrame(Buffer.from('ab'), 4).readUInt32BE(0), 2)
})

function commands(extra = {}) {
  const notified = []
  const record = newRecord()
  const c = new LegacyCommands({
    record,
    retain: true,
    rateLimit: 3,
    transcribeEvery: 4,
    recorder: null,
    onAudio: null,
    subscribeConnection: () => 1,
    notify: (e) => notified.push(e),
    ...extra,
  })
  return { c, record, notified, conn: () => ({ subscribed: false, window: [] }) }
}

test('legacy commands: the release daemon\'s validation, rate limit, sessions and notifications', () => {
  assert.deepEqual(parseRequest('nope').error, { status: 'error', message: 'Invalid JSON request' })
  assert.ok(parseRequest('{"command":"ping","sample_rate":16000.0}').error, 'a float rate is refused')
  assert.deepEqual(parseRequest('{"command":"a b"}').error, { status: 'error', message: 'Invalid command' })
  const { c, record, notified, conn } = commands()
  const plain = conn()
  const replies = [1, 2, 3, 4].map(() => c.handle(plain, '{"command":"ping"}'))
  assert.deepEqual(replies.map((r) => r.message), ['pong', 'pong', 'pong', 'Rate limit exceeded'])
  assert.equal(record.rateLimited, 1)
  const sub = conn()
  assert.equal(c.handle(sub, '{"command":"subscribe","event_types":["realtime_transcription"]}').status, 'success')
  assert.equal(sub.subscribed, true)
  assert.deepEqual(c.handle(sub, '{"command":"nope"}'), { status: 'error', message: 'Unknown command' })
  // Audio for a session never started is dropped with a success reply, like the daemon.
  assert.equal(c.handle(sub, '{"command":"realtime_audio","client_id":"x","audio_data":[0]}').status, 'success')
  assert.equal(record.droppedUnknownSession, 1)
  c.handle(sub, '{"command":"start_realtime","client_id":"x","sample_rate":16000}')
  for (let i = 0; i < 5; i++) c.handle(sub, '{"command":"realtime_audio","client_id":"x","audio_data":[0.5,0.25],"sample_rate":16000}')
  assert.equal(record.audioSamples, 10)
  assert.deepEqual(notified.map((n) => n.data.transcription), ['heard 4 samples', 'heard 8 samples'])
  assert.equal(record.sessions.get('x').chunks, 5)
})

test('legacy misbehaviour: each kind answers as told, for as many requests as told', () => {
  const record = newRecord()
  const b = new Behaviour(record)
  assert.throws(() => b.set({ audio: 'rude' }), /unknown audio reply/)
  const written = []
  const socket = { write: (d) => written.push(d), end: (d) => written.push(d), destroy: () => written.push('destroyed') }
  const conn = { socket, closed: false, pending: 0, chain: Promise.resolve() }
  b.set({ audio: 'error-status', times: 2 })
  const audio = { command: 'realtime_audio' }
  assert.equal(b.misbehave(conn, { command: 'ping' }), false, 'only audio requests')
  assert.equal(b.misbehave(conn, audio), true)
  assert.equal(b.misbehave(conn, audio), true)
  assert.equal(b.misbehave(conn, audio), false, 'normal again after `times`')
  assert.equal(record.misbehaved['error-status'], 2)
  assert.match(written[0].subarray(8).toString(), /"status":"error"/)
  b.set({ audio: 'drop-connection', times: 1 })
  b.misbehave(conn, audio)
  assert.equal(written.at(-1), 'destroyed')
  assert.equal(conn.closed, true)
  b.set({ silent: true })
  b.reply(conn, { status: 'success' })
  assert.equal(written.length, 3, 'a silent daemon writes nothing')
})

test('v1 auth: tokens, scopes, expiry and the consent prompt\'s answers', async () => {
  const auth = new Auth({ tokens: { good: ['transcribe'], status: ['status'] } })
  assert.equal(auth.authorize('Bearer good').status, 101)
  assert.equal(auth.authorize(null).status, 401)
  assert.match(auth.authorize('Bearer nope').body, /"reason":"unknown"/)
  assert.equal(auth.authorize('Bearer status').status, 403)
  auth.expired.add('good')
  assert.match(auth.authorize('Bearer good').body, /"reason":"expired"/)
  const granted = await auth.request(JSON.stringify({ app_name: 'a', scopes: ['transcribe', 'transcribe'] }))
  assert.equal(granted.status, 200)
  const { session_token: token, scopes } = JSON.parse(granted.body)
  assert.deepEqual(scopes, ['transcribe'])
  assert.equal(auth.authorize(`Bearer ${token}`).status, 101)
  assert.match((await auth.request(JSON.stringify({ app_name: 'a', scopes: ['root'] }))).body, /invalid_scope/)
  auth.consent.decision = 'deny'
  assert.match((await auth.request(JSON.stringify({ app_name: 'a', scopes: ['status'] }))).body, /"user_denied"/)
  auth.consent.decision = 'allow'
  assert.match((await auth.request(JSON.stringify({ app_name: 'a', scopes: ['status'] }))).body, /user_denied_cached/)
})

test('v1 session: start, s16 frames with previews, stop answered by done', () => {
  const ws = new EventEmitter()
  ws.OPEN = 1
  ws.readyState = 1
  const sent = []
  ws.send = (m) => sent.push(JSON.parse(m))
  ws.close = () => {
    ws.readyState = 3
    ws.emit('close')
  }
  const session = newSession(0, ws, 'tok')
  const heard = []
  let closed = false
  runSession(session, { previewEvery: 4, idleTimeoutMs: 60_000, retain: true, behaviour: {}, onAudio: (_, s) => heard.push(s.length) }, () => (closed = true))
  const pcm = Buffer.alloc(6)
  pcm.writeInt16LE(-32768, 0)
  pcm.writeInt16LE(32767, 2)
  ws.emit('message', pcm, true)
  assert.deepEqual(session.errors, ['audio before start'])
  ws.emit('message', Buffer.from('{"type":"start","sample_rate":16000}'), false)
  ws.emit('message', pcm, true)
  ws.emit('message', pcm, true)
  assert.deepEqual(Array.from(session.chunks[0]), [-32768, 32767, 0])
  assert.deepEqual(heard, [3, 3])
  assert.deepEqual(sent.filter((m) => m.type === 'preview').map((m) => m.text), ['heard 4 samples'])
  ws.emit('message', Buffer.from('{"type":"stop"}'), false)
  assert.deepEqual(sent.at(-1), { type: 'done', transcription: 'heard 6 samples' })
  assert.equal(session.closedBy, 'daemon')
  assert.equal(closed, true)
})

test('demo drawing: lines cut to the width keep their colours; meter, spectrum, plain output once a second', () => {
  const red = '\x1b[31mabcdef\x1b[0m'
  assert.equal(truncate(red, 3), '\x1b[31mabc\x1b[0m')
  assert.equal([...meter(-30, -6)].length, METER_WIDTH)
  assert.equal(meter(0, 0), '█'.repeat(METER_WIDTH))
  assert.equal(spectrum([-120, -24, -60]), ' █▄')
  const written = []
  const screen = new Screen({ isTTY: false, write: (s) => written.push(s) })
  screen.draw(['a'], 'plain 1')
  screen.draw(['a'], 'plain 2')
  screen.draw(['a'], 'plain 3', true)
  assert.deepEqual(written, ['plain 1\n', 'plain 3\n'])
  const stats = {
    framesCaptured: 48000, deviceSampleRate: 48000, deviceChannels: 2, sampleFormat: 'f32', chunksEmitted: 10, chunksSent: 10,
    framesDropped: 0, chunksDroppedQueue: 0, chunksFailed: 0, sendQueueDepth: 0, sendQueueCapacity: 300, deliveryLatencyP50Ms: 11,
    deliveryLatencyP99Ms: 12, sendLatencyP50Ms: 1, sendLatencyP99Ms: 2, ringHighWater: 480, ringCapacity: 96000, samplesEmitted: 16000,
    reconnects: 0, daemonProtocol: 'legacy', levelEventsDropped: 0, utterances: 2, speechMs: 3100, vadFrames: 300,
  }
  const state = { level: null, text: '', daemon: 'connected', error: '', ended: false, speaking: true, lastUtterance: { id: 1, startSample: 16000, endSample: 40000, reason: 'silence' } }
  const { lines, plain } = liveLines(state, stats, { header: 'h', useDaemon: true, seconds: 1 })
  assert.equal(lines.length, 9)
  assert.match(lines[3], /speech .*utterance 2: 1\.00–2\.50 s \(silence\)/)
  assert.match(plain, /voice speech, 2 utterance\(s\)/)
  assert.match(plain, /captured 1\.0 s · chunks 10, sent 10/)
  assert.ok(summaryLines(stats, { duration: '1.0', inputLabel: 'x', useDaemon: true }).some((l) => /10 sent, 0 dropped from the queue/.test(l)))
  assert.ok(!summaryLines(stats, { duration: '1.0', inputLabel: 'x', useDaemon: false }).some((l) => /daemon/.test(l)))
})

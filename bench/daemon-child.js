'use strict'
// A reference daemon in its own process, reporting when each audio chunk arrived (system
// clock ms, sub-ms resolution) over IPC once a second. argv: socket path, protocol (legacy or
// v1; v1 accepts the token `bench`).
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')
const { startV1Daemon } = require('../daemon/v1-daemon.js')
const { wallClock } = require('../__test__/harness/wall-clock.js')

const [socketPath, protocol = 'legacy'] = process.argv.slice(2)
let pending = []
// The system clock, as the addon's capturedAtMs (performance.timeOrigin drifts from it).
const now = wallClock()
const arrived = (clientId, chunk) => pending.push([clientId, chunk, now()])
// v1 frames carry no client id or number: count them per session (the bench opens one).
const frames = new Map()
const started =
  protocol === 'v1'
    ? startV1Daemon(socketPath, {
        retain: false,
        tokens: { bench: ['transcribe'] },
        onAudio: ({ session }) => {
          frames.set(session, (frames.get(session) ?? 0) + 1)
          arrived('bench', frames.get(session))
        },
      })
    : startLegacyDaemon(socketPath, { retain: false, onAudio: ({ clientId, chunk }) => arrived(clientId, chunk) })
started.then((d) => {
  setInterval(() => {
    if (pending.length) process.send(pending)
    pending = []
  }, 1000)
  process.on('SIGTERM', () => {
    if (pending.length) process.send(pending)
    d.close().then(() => process.exit(0))
  })
  process.on('disconnect', () => d.close().then(() => process.exit(0)))
  process.send('ready')
})

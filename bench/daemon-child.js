'use strict'
// The reference daemon in its own process, reporting when each audio chunk arrived
// (wall-clock ms, sub-ms resolution) over IPC once a second. argv: socket path.
const { startLegacyDaemon } = require('../daemon/legacy-daemon.js')

let pending = []
startLegacyDaemon(process.argv[2], {
  retain: false,
  onAudio: ({ clientId, chunk }) => pending.push([clientId, chunk, performance.timeOrigin + performance.now()]),
}).then((d) => {
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

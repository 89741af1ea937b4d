'use strict'
// What both reference daemons do with their socket file, as the real daemon does: replace a
// leftover one, listen with mode 0660, remove it on exit.
const fs = require('node:fs')
const path = require('node:path')

/** Creates the socket's directory and removes a leftover socket file. */
function prepareSocketPath(socketPath) {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true })
  removeSocketFile(socketPath)
}

/** `server.listen(socketPath)` as a promise, then chmod 0660 like the daemon. */
function listenOn(server, socketPath) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.off('error', reject)
      try {
        fs.chmodSync(socketPath, 0o660)
      } catch {}
      resolve()
    })
  })
}

function removeSocketFile(socketPath) {
  try {
    fs.unlinkSync(socketPath)
  } catch {}
}

module.exports = { prepareSocketPath, listenOn, removeSocketFile }

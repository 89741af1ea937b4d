'use strict'
// The v1 daemon's HTTP surface (protocol doc §2): routes, and error bodies and statuses as
// the daemon writes them.
const http = require('node:http')

const REALTIME_PATH = '/v1/transcribe/realtime'
const AUTH_PATH = '/v1/auth/request'
const TRANSCRIBE_PATH = '/v1/transcribe'
const MAX_BODY = 64 * 1024
/** An utterance's JSON (300 s of floats) is large. */
const MAX_TRANSCRIBE_BODY = 128 * 1024 * 1024

function errorBody(message, reason) {
  return JSON.stringify(reason ? { status: 'error', message, data: { reason } } : { status: 'error', message })
}

/** A raw HTTP response on a socket whose upgrade we refuse. */
function refuseUpgrade(socket, status, body) {
  const text = http.STATUS_CODES[status] ?? 'Error'
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/** Reads a request body of at most `max` bytes (a larger one is cut off). */
function readBody(req, max = MAX_BODY) {
  return new Promise((resolve) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > max) return req.destroy()
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' })
  res.end(body)
}

module.exports = { REALTIME_PATH, AUTH_PATH, TRANSCRIBE_PATH, MAX_TRANSCRIBE_BODY, errorBody, refuseUpgrade, readBody, reply }

'use strict'
// The virtual microphone's feeder in its own process, so the benchmark's process holds only
// the capture. argv: fifo. Stops on SIGTERM.
const { startFeeder } = require('../__test__/harness/virtual-mic.js')
const feeder = startFeeder(process.argv[2], { type: 'noise', amplitude: 0.3 })
// Exit at once: a worker blocked writing a full FIFO (no reader left) ends with the process.
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))
process.send('ready')

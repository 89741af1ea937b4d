'use strict'
// Resident memory after a real full GC, so a bound can sit near what the code keeps rather
// than wherever V8 happened to be in its collection cycle. The runner starts the test files
// without --expose-gc, so the flag is set at run time and `gc` taken from a new context.

require('node:v8').setFlagsFromString('--expose-gc')
const gc = require('node:vm').runInNewContext('gc')

/** RSS in MiB after a full GC. */
function rssMiBAfterGc() {
  gc()
  return process.memoryUsage().rss / 2 ** 20
}

module.exports = { gc, rssMiBAfterGc }

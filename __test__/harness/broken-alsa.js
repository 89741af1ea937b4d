'use strict'
// An ALSA configuration whose default capture PCM points at a PCM that does not exist, which
// makes alsa-lib print "ALSA lib ... Unknown PCM nonexistent" with its default error handler.

const fs = require('node:fs')
const path = require('node:path')
const { alsaConfigPath } = require('./alsa-config.js')

/** Writes the configuration into `dir`; returns the ALSA_CONFIG_PATH value that uses it. */
function brokenConfig(dir) {
  const conf = path.join(dir, 'broken.conf')
  fs.writeFileSync(conf, 'pcm.!default {\n type plug\n slave.pcm "nonexistent"\n}\n')
  return alsaConfigPath(conf)
}

module.exports = { brokenConfig }

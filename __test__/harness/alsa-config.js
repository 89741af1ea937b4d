'use strict'
// ALSA_CONFIG_PATH for a test configuration: the system's alsa.conf, then `conf` on top.

const fs = require('node:fs')

function alsaConfigPath(conf) {
  const alsaConf = ['/usr/share/alsa/alsa.conf', '/etc/alsa/alsa.conf'].find((p) => fs.existsSync(p))
  return `${alsaConf}:${conf}`
}

module.exports = { alsaConfigPath }

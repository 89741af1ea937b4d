'use strict'
// The legacy daemon's default socket path (protocol doc §1), as the addon computes it.
function legacySocketPath(env = process.env, uid = process.getuid ? process.getuid() : 0) {
  const dir = env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`
  const usable =
    dir.length > 0 &&
    dir.length <= 256 &&
    !dir.includes('..') &&
    !dir.includes('\0') &&
    (dir.startsWith('/run/user/') || dir.startsWith('/tmp/'))
  return usable ? `${dir}/stt/super-stt.sock` : '/tmp/stt/super-stt.sock'
}
module.exports = { legacySocketPath }

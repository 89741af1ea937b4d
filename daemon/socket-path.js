'use strict'
// The daemon's default socket paths (protocol doc §1 and §2), as the addon computes them.
function runtimeSocket(name, env, uid) {
  const dir = env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`
  const usable =
    dir.length > 0 &&
    dir.length <= 256 &&
    !dir.includes('..') &&
    !dir.includes('\0') &&
    (dir.startsWith('/run/user/') || dir.startsWith('/tmp/'))
  return usable ? `${dir}/stt/${name}` : `/tmp/stt/${name}`
}
const uidOf = () => (process.getuid ? process.getuid() : 0)
function legacySocketPath(env = process.env, uid = uidOf()) {
  return runtimeSocket('super-stt.sock', env, uid)
}
/** The v1 (HTTP) daemon's socket (protocol doc §2): `$SUPER_STT_HTTP_SOCKET` overrides it. */
function v1SocketPath(env = process.env, uid = uidOf()) {
  return env.SUPER_STT_HTTP_SOCKET || runtimeSocket('super-stt-http.sock', env, uid)
}
module.exports = { legacySocketPath, v1SocketPath }

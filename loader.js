'use strict'
// The package's entry point: napi-rs's generated loader (index.js), which picks the binary
// that fits this platform (a prebuilt platform package, or one built from source). On Linux
// the binary links the ALSA library at load time; when it is not installed the loader's
// error becomes one that says what to install.
try {
  module.exports = require('./index.js')
} catch (e) {
  throw missingAlsa(e) ?? e
}

function missingAlsa(error) {
  for (let e = error, depth = 0; e && depth < 20; e = e.cause, depth++) {
    const errors = Array.isArray(e) ? e : [e]
    if (errors.some((x) => /libasound\.so[.\d]*: cannot open shared object file/.test(String(x?.message ?? x)))) {
      const clear = new Error(
        'stt-capture needs the ALSA library (libasound.so.2), which is not installed. Install it: ' +
          'Debian/Ubuntu `sudo apt install libasound2` (Ubuntu 24.04 and later: libasound2t64), ' +
          'Fedora/RHEL `sudo dnf install alsa-lib`, Arch `sudo pacman -S alsa-lib`, Alpine `apk add alsa-lib`.',
      )
      clear.code = 'E_NO_LIBASOUND'
      clear.cause = error
      return clear
    }
    if (Array.isArray(e)) break
  }
  return null
}

'use strict'
/** An amplitude (0..1) as dBFS text, floored at -120. */
function dbfs(amplitude) {
  return (amplitude > 0 ? Math.max(-120, 20 * Math.log10(amplitude)) : -120).toFixed(1)
}
module.exports = { dbfs }

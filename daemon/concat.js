'use strict'
/** Concatenates arrays of numbers (typed or plain) into one new `Type` array. */
function concat(chunks, Type) {
  const out = new Type(chunks.reduce((n, c) => n + c.length, 0))
  let i = 0
  for (const c of chunks) {
    out.set(c, i)
    i += c.length
  }
  return out
}
module.exports = { concat }

'use strict'
// What the reference daemons "transcribe" (they have no model): a deterministic text that
// names the utterance's length and level, so a test can tell which audio it came from.

/** `utterance of 24000 samples (1.50 s) at -23.1 dBFS`. */
function describeUtterance(samples, sampleRate = 16000) {
  let sum = 0
  for (const s of samples) sum += s * s
  const rms = Math.sqrt(sum / Math.max(1, samples.length))
  const dbfs = rms > 0 ? Math.max(-120, 20 * Math.log10(rms)) : -120
  return `utterance of ${samples.length} samples (${(samples.length / sampleRate).toFixed(2)} s) at ${dbfs.toFixed(1)} dBFS`
}

module.exports = { describeUtterance }

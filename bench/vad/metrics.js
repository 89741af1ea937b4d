'use strict'
// How well detected speech segments match labelled ones. Times in seconds.

const FRAME = 0.01 // frame-level scoring in 10 ms frames

function inAny(segments, t) {
  return segments.some((s) => t >= s.start && t < s.end)
}

const median = (xs) => quantile(xs, 0.5)

function quantile(xs, q) {
  if (!xs.length) return NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}

/**
 * `truth` and `detected`: arrays of `{ start, end }`; `duration`: the recording's length.
 * Returns frame-level precision, recall and F1, onset and offset errors (ms) of the detected
 * segments matched to each labelled one, and missed and false segments.
 */
function score(truth, detected, duration) {
  let tp = 0
  let fp = 0
  let fn = 0
  for (let t = FRAME / 2; t < duration; t += FRAME) {
    const isSpeech = inAny(truth, t)
    const said = inAny(detected, t)
    if (isSpeech && said) tp++
    else if (said) fp++
    else if (isSpeech) fn++
  }
  const precision = tp + fp ? tp / (tp + fp) : 1
  const recall = tp + fn ? tp / (tp + fn) : 1
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0
  const overlaps = (a, b) => a.start < b.end && b.start < a.end
  const onsets = []
  const offsets = []
  let missed = 0
  for (const t of truth) {
    const hits = detected.filter((d) => overlaps(d, t))
    if (!hits.length) {
      missed++
      continue
    }
    onsets.push(Math.abs(hits[0].start - t.start) * 1000)
    offsets.push(Math.abs(hits.at(-1).end - t.end) * 1000)
  }
  const falseSegments = detected.filter((d) => !truth.some((t) => overlaps(d, t))).length
  return {
    precision,
    recall,
    f1,
    onsetMedianMs: median(onsets),
    onsetP90Ms: quantile(onsets, 0.9),
    offsetMedianMs: median(offsets),
    offsetP90Ms: quantile(offsets, 0.9),
    missed,
    falseSegments,
    detected: detected.length,
  }
}

/** Segments from alternating speech/silence times (an open one ends at `end`). */
function segmentsFrom(events, end) {
  const out = []
  let open = null
  for (const { speech, at } of events) {
    if (speech && open === null) open = at
    else if (!speech && open !== null) {
      out.push({ start: open, end: at })
      open = null
    }
  }
  if (open !== null) out.push({ start: open, end })
  return out
}

module.exports = { score, segmentsFrom, quantile, median }

'use strict'
// Drawing for the demo: a block of lines redrawn in place on a terminal, one plain line a
// second anywhere else, and the meter and spectrum glyphs.

const METER_WIDTH = 40
const BLOCKS = ' ▁▂▃▄▅▆▇█'

/** Draws a block of lines in place on a terminal; on anything else, prints a line a second. */
class Screen {
  constructor(out) {
    this.out = out
    this.tty = Boolean(out.isTTY)
    this.drawn = 0
    this.lastPlain = 0
  }

  begin() {
    if (this.tty) this.out.write('\x1b[?25l')
  }

  /** `lines` for the terminal, `plain` (one line) otherwise. */
  draw(lines, plain, force = false) {
    if (!this.tty) {
      const now = Date.now()
      if (force || now - this.lastPlain >= 1000) {
        this.lastPlain = now
        this.out.write(`${plain}\n`)
      }
      return
    }
    const width = Math.max(20, (this.out.columns || 100) - 1)
    let text = this.drawn > 0 ? `\x1b[${this.drawn}F` : ''
    for (const line of lines) text += `\x1b[2K${truncate(line, width)}\n`
    this.out.write(text)
    this.drawn = lines.length
  }

  end() {
    if (this.tty) this.out.write('\x1b[?25h')
  }
}

/** Cuts a line to `width` visible characters, leaving ANSI colour codes intact. */
function truncate(line, width) {
  let visible = 0
  let out = ''
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i)
      out += line.slice(i, end + 1)
      i = end
      continue
    }
    if (visible++ < width) out += line[i]
  }
  return out
}

const dim = (s) => `\x1b[2m${s}\x1b[0m`
const red = (s) => `\x1b[31m${s}\x1b[0m`
const green = (s) => `\x1b[32m${s}\x1b[0m`

/** A bar for -60..0 dBFS with a `|` at the peak. */
function meter(dbfs, peakDbfs) {
  const pos = (db) => Math.round(Math.min(1, Math.max(0, (db + 60) / 60)) * METER_WIDTH)
  const filled = pos(dbfs)
  const peak = Math.min(METER_WIDTH - 1, pos(peakDbfs))
  let bar = ''
  for (let i = 0; i < METER_WIDTH; i++) bar += i < filled ? '█' : i === peak ? '|' : '·'
  return bar
}

/** One block glyph per band, -96..-24 dBFS. */
function spectrum(bands) {
  if (!bands) return ''
  let s = ''
  for (const db of bands) {
    const x = Math.min(1, Math.max(0, (db + 96) / 72))
    s += BLOCKS[Math.round(x * (BLOCKS.length - 1))]
  }
  return s
}

const ms = (v) => `${v.toFixed(1)} ms`

module.exports = { Screen, truncate, dim, red, green, meter, spectrum, ms, METER_WIDTH }

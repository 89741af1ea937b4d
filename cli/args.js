'use strict'
// Strict flag parsing for the CLI: `--name value` and `--flag`; anything unknown is an error.

class UsageError extends Error {}

/**
 * `spec`: flag name → 'string' | 'number' | 'boolean'; with `_: 'positional'`, arguments that
 * are not flags are collected in `_`. Returns camelCased values.
 */
function parseArgs(argv, spec) {
  const out = {}
  if (spec._ === 'positional') out._ = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (out._ && !arg.startsWith('--')) {
      out._.push(arg)
      continue
    }
    const name = arg.startsWith('--') ? arg.slice(2) : null
    const type = name && spec[name]
    if (!type) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`)
    const key = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (type === 'boolean') {
      out[key] = true
      continue
    }
    const value = argv[++i]
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`)
    if (type === 'number') {
      const n = Number(value)
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got ${JSON.stringify(value)}`)
      out[key] = n
    } else {
      out[key] = value
    }
  }
  return out
}

module.exports = { parseArgs, UsageError }

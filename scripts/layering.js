#!/usr/bin/env node
'use strict'
// The module dependency rules of docs/architecture.md, checked: every `crate::<module>` a
// module's non-test code names must be one it may use. Test code (`tests.rs`, `*_tests.rs`,
// `testing.rs`, and `#[cfg(test)] mod … { … }` blocks) may use anything.
const fs = require('node:fs')
const path = require('node:path')

const src = path.join(__dirname, '..', 'src')

// module → the modules it may use (besides itself). Leaves use nothing.
const MAY_USE = {
  error: [],
  stats: [],
  time: [],
  value: [],
  dsp: ['error'],
  capture: ['dsp', 'stats', 'error'],
  transport: ['error'],
  events: ['error', 'stats', 'dsp', 'transport', 'value'],
  delivery: ['transport', 'events', 'stats', 'error', 'time', 'dsp'],
  pipeline: ['capture', 'dsp', 'events', 'stats', 'error', 'time'],
  options: ['error', 'value', 'transport', 'capture', 'dsp'],
  sinks: ['pipeline', 'delivery', 'dsp', 'events', 'options', 'stats', 'error', 'time'],
  session: ['capture', 'delivery', 'dsp', 'error', 'events', 'options', 'pipeline', 'sinks', 'stats', 'transport', 'value', 'time'],
  binding: null, // the composition of everything, for JS
}

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? files(p) : p.endsWith('.rs') ? [p] : []
  })
}

/** The file's text without `#[cfg(test)] mod name { ... }` blocks. */
function withoutTestModules(text) {
  const lines = text.split('\n')
  const out = []
  for (let i = 0; i < lines.length; i++) {
    const item = lines[i + 1] ?? ''
    if (/^\s*#\[cfg\(test\)\]\s*$/.test(lines[i]) && /^\s*(pub )?mod \w+ \{\s*$/.test(item)) {
      const indent = item.match(/^\s*/)[0]
      i += 2
      while (i < lines.length && lines[i] !== `${indent}}`) i++
      continue
    }
    out.push(lines[i])
  }
  return out.join('\n')
}

const isTestFile = (f) => /(^|\/)(tests|testing|test_alloc)\.rs$|_tests\.rs$|\/tests\//.test(f)

let checked = 0
const problems = []
for (const file of files(src)) {
  const relative = path.relative(src, file)
  const module = relative.split(path.sep)[0].replace(/\.rs$/, '')
  if (module === 'lib' || isTestFile(relative)) continue
  const allowed = MAY_USE[module]
  if (allowed === undefined) {
    problems.push(`${relative}: module \`${module}\` has no rule in scripts/layering.js (and docs/architecture.md)`)
    continue
  }
  if (allowed === null) continue
  checked++
  const text = withoutTestModules(fs.readFileSync(file, 'utf8'))
  for (const [, used] of text.matchAll(/\bcrate::([a-z_]+)/g)) {
    if (used !== module && !allowed.includes(used)) problems.push(`${relative} uses crate::${used}, which \`${module}\` may not`)
  }
}
if (checked < 30) problems.push(`only ${checked} files checked: is src/ where this script thinks?`)
if (problems.length) {
  console.error(`module dependency rules broken:\n  ${[...new Set(problems)].join('\n  ')}`)
  process.exit(1)
}
console.log(`module dependencies: ${checked} files follow the rules of docs/architecture.md`)

#!/usr/bin/env node
'use strict'
// Proves from the compiled code that the audio callback cannot reach an allocator, a lock, a
// syscall or I/O. Builds `examples/rt_audit.rs` exactly like the shipped library (release,
// LTO) but with symbols kept, disassembles it, and walks every direct call and tail jump
// from the 12 `rt_audit_process_*` entry points (one per sample format). Panic paths (bounds
// checks) are where the walk stops: they are listed, since a panic there is a bug, but they
// are not the callback's work. An indirect call would hide its target, so any is a failure.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const FORBIDDEN = [
  /__rust_(alloc|dealloc|realloc|alloc_zeroed)/,
  /\b(malloc|calloc|realloc|free|posix_memalign)@/,
  /alloc::(alloc|raw_vec)|RawVec/,
  /std::sync::|std::sys::|parking_lot|futex|pthread_/,
  /\bsyscall\b|\b(write|read|poll|ioctl|nanosleep|clock_nanosleep)@/,
  /std::io::|_print|eprint/,
  /tokio::|napi|ThreadsafeFunction/,
]
const PANIC = /core::panicking::|std::panicking::|core::slice::index::slice_\w+_fail|core::option::(unwrap_failed|expect_failed)|core::result::unwrap_failed|panic_bounds_check|core::panic::|rust_panic|__rust_start_panic/
const ALLOWED_LIBC = /^(memcpy|memmove|memset|memcmp)@/

function build(crate = root, targetDir = path.join(root, 'target')) {
  execFileSync('cargo', ['build', '--release', '--quiet', '--example', 'rt_audit'], {
    cwd: crate,
    stdio: 'inherit',
    env: {
      ...process.env,
      CARGO_TARGET_DIR: targetDir,
      CARGO_PROFILE_RELEASE_STRIP: 'none',
      CARGO_PROFILE_RELEASE_DEBUG: '0',
    },
  })
  return path.join(targetDir, 'release', 'examples', 'rt_audit')
}

/**
 * The parser below reads x86-64 `call`/`j*` forms only; on any other architecture it would
 * walk no edges and pass, so it refuses instead.
 */
function checkArchitecture(binary) {
  const header = execFileSync('objdump', ['-f', binary]).toString()
  const arch = header.match(/architecture: ([^,\s]+)/)?.[1]
  if (arch !== 'i386:x86-64') throw new Error(`rt-audit reads x86-64 code only; ${binary} is ${arch ?? 'of an unknown architecture'}`)
}

/** function name → { name, calls: Set<callee name>, indirect: unresolved indirect calls } */
function disassemble(binary) {
  const text = execFileSync('objdump', ['-d', '--no-show-raw-insn', '-C', '-w', binary], { maxBuffer: 1 << 30 }).toString()
  const byName = new Map()
  let current = null
  // Register → the symbol whose address it was last loaded with (`mov sym@GOT(%rip),%reg`),
  // in instruction order: enough for the `call *%reg` compilers emit for hoisted libc calls.
  let registers = new Map()
  for (const line of text.split('\n')) {
    const head = line.match(/^([0-9a-f]+) <(.+)>:$/)
    if (head) {
      current = { name: head[2], calls: new Set(), indirect: [] }
      byName.set(current.name, current)
      registers = new Map()
      continue
    }
    if (!current) continue
    const insn = line.match(/^\s*[0-9a-f]+:\s+(\S+)\s*(.*)$/)
    if (!insn) continue
    const [, op, rest] = insn
    const symbol = rest.match(/# [0-9a-f]+ <([^>+]+)>/)?.[1]
    const destination = rest.replace(/\s*#.*$/, '').match(/,(%\w+)$/)?.[1]
    if (destination && !op.startsWith('call') && !op.startsWith('j')) {
      const source = rest.match(/^(%\w+),/)?.[1]
      if (op.startsWith('mov') && symbol) registers.set(destination, symbol)
      else if (op.startsWith('mov') && source && registers.has(source)) registers.set(destination, registers.get(source))
      else registers.delete(destination)
    }
    if (!op.startsWith('call') && !op.startsWith('j')) continue
    const viaRegister = rest.match(/^\*(%\w+)$/)?.[1]
    const resolved = symbol ?? (viaRegister && registers.get(viaRegister))
    if (rest.startsWith('*') && resolved) {
      current.calls.add(resolved)
      continue
    }
    const direct = rest.match(/^([0-9a-f]+) <(.+)>/)
    if (direct) {
      const target = parseInt(direct[1], 16)
      // A jump inside the function is control flow; anything else is a call or a tail call.
      const inside = direct[2].startsWith(`${current.name}+`) || direct[2] === current.name
      if (!inside) current.calls.add(direct[2].replace(/\+0x[0-9a-f]+$/, ''))
    } else if (op.startsWith('call') || op.startsWith('jmp')) {
      current.indirect.push(`${op} ${rest}`)
    }
  }
  return byName
}

function audit(byName) {
  const roots = [...byName.keys()].filter((n) => /^rt_audit_process_\w+$/.test(n))
  if (roots.length !== 12) throw new Error(`expected 12 entry points, found ${roots.length}: ${roots.join(', ')}`)
  const seen = new Set()
  const problems = []
  const panics = new Set()
  const libc = new Set()
  const queue = roots.map((r) => [r, [r]])
  let edges = 0
  while (queue.length) {
    const [name, trail] = queue.shift()
    if (trail.length > 1) edges++
    if (seen.has(name)) continue
    seen.add(name)
    if (PANIC.test(name)) {
      panics.add(name)
      continue
    }
    if (ALLOWED_LIBC.test(name)) {
      libc.add(name)
      continue
    }
    if (FORBIDDEN.some((re) => re.test(name))) {
      problems.push(`reaches ${name}\n    via ${trail.join(' → ')}`)
      continue
    }
    const f = byName.get(name)
    if (!f) {
      problems.push(`calls ${name}, which is not in the binary (a dynamic symbol?)\n    via ${trail.join(' → ')}`)
      continue
    }
    for (const i of f.indirect) problems.push(`indirect call in ${name}: ${i}\n    via ${trail.join(' → ')}`)
    for (const callee of f.calls) queue.push([callee, [...trail, callee]])
  }
  // A walk that finds (almost) nothing means the disassembly was not understood (a changed
  // objdump format, symbols stripped): today's graph has 13 functions and 62 edges.
  const functions = seen.size - panics.size - libc.size
  if (functions < 12 + 1 || edges < 24) problems.push(`walked only ${functions} functions and ${edges} call edges: the disassembly was not understood`)
  return { roots, seen, problems, panics, libc, edges }
}

/** Everything that stops the audit from passing, for the binary built from `crate`. */
function auditCrate(crate, targetDir) {
  const binary = build(crate, targetDir)
  checkArchitecture(binary)
  return audit(disassemble(binary))
}

// The audit's own test: the same crate with forbidden work put into `Processor::process`
// (built in a copy under target/, with its own target folder so the real build stays
// cached) must fail, naming each kind. One build carries all the mutations; each must be
// reported on its own, so an audit blind to one kind fails here.
const MUTATIONS = [
  { kind: 'an allocation', code: 'std::hint::black_box(vec![0f32; data.len()]);', caught: /\b(malloc|calloc|realloc)@|__rust_alloc|alloc::raw_vec/ },
  {
    kind: 'a lock',
    code: 'static LOCK: std::sync::Mutex<u64> = std::sync::Mutex::new(0); *LOCK.lock().unwrap_or_else(|e| e.into_inner()) += 1;',
    caught: /mutex|futex|pthread_mutex/i,
  },
  { kind: 'a clock read (a syscall)', code: 'std::hint::black_box(std::time::Instant::now());', caught: /clock_gettime|Timespec/ },
  { kind: 'a print', code: 'let _ = std::hint::black_box(std::io::Write::write_all(&mut std::io::stderr(), b""));', caught: /std::io::stdio/ },
]

function selfTest() {
  const work = path.join(root, 'target', 'rt-audit-mutant')
  const crate = path.join(work, 'crate')
  fs.rmSync(crate, { recursive: true, force: true })
  fs.mkdirSync(crate, { recursive: true })
  for (const entry of ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src', 'native', 'examples/rt_audit.rs', 'benches']) {
    fs.cpSync(path.join(root, entry), path.join(crate, entry), { recursive: true })
  }
  const processor = path.join(crate, 'src', 'capture', 'processor.rs')
  const head = 'pub fn process(&mut self, data: &[T]) {'
  const source = fs.readFileSync(processor, 'utf8')
  if (!source.includes(head)) throw new Error(`rt-audit self-test: \`${head}\` is not in processor.rs any more`)
  fs.writeFileSync(processor, source.replace(head, `${head}\n${MUTATIONS.map((m) => m.code).join('\n')}`))
  const { problems } = auditCrate(crate, path.join(work, 'target'))
  const firstLines = problems.map((p) => p.split('\n')[0])
  const found = MUTATIONS.map((m) => ({ ...m, finding: firstLines.find((l) => m.caught.test(l)) }))
  const missed = found.filter((m) => !m.finding)
  if (missed.length) {
    console.error(`rt-audit self-test: the audit missed ${missed.map((m) => m.kind).join(', ')} put into process; it reported:\n  ${firstLines.join('\n  ') || 'nothing'}`)
    process.exit(1)
  }
  console.log(`rt-audit self-test: each mutation put into process fails the audit:\n${found.map((m) => `  ${m.kind}: ${m.finding}`).join('\n')}`)
}

if (process.argv.includes('--self-test')) {
  selfTest()
} else {
  const { roots, seen, problems, panics, libc, edges } = auditCrate(root, path.join(root, 'target'))
  if (problems.length) {
    console.error(`the audio callback is not real-time safe:\n  ${problems.join('\n  ')}`)
    process.exit(1)
  }
  console.log(
    `audio callback call graph: ${seen.size - panics.size - libc.size} functions and ${edges} call edges from ${roots.length} entry points (one per sample format); ` +
      `no allocator, lock, syscall, I/O, tokio or napi reachable; libc: ${[...libc].join(', ') || 'none'}; ` +
      `${panics.size} panic exits (bounds checks) not followed`,
  )
}

// `npm run example:ink`: builds the example and runs it. In a project of your own,
// `npm install stt-capture ink react` does what the link below does here: the example imports
// `stt-capture` by name, as your code would, and resolves it to this checkout.
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..', '..')
const link = path.join(here, 'node_modules', 'stt-capture')
if (!fs.existsSync(link)) {
  fs.mkdirSync(path.dirname(link), { recursive: true })
  fs.symlinkSync(path.relative(path.dirname(link), root), link, 'dir')
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const built = spawnSync(process.execPath, [tsc, '-p', here], { stdio: 'inherit' })
if (built.status !== 0) process.exit(built.status ?? 1)
if (process.argv.includes('--build-only')) process.exit(0)
await import(path.join(here, 'dist', 'main.js'))

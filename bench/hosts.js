#!/usr/bin/env node
'use strict'
// CPU of a capture on the desktop route (PulseAudio null sink, shared/docs/testing-audio.md
// §2), per way of reaching the server: the default (libpulse, read on the pipeline's own
// wake-ups), cpal's PulseAudio stream (`STT_CAPTURE_PULSE=cpal`), and ALSA through the pulse
// plugin (`host: 'alsa'`).
//   npm run bench:hosts [-- --seconds N]   (default 20 s per host; needs pulseaudio and pacat)
// Each capture runs in its own process, so the CPU is that process's: Node plus the addon.
const path = require('node:path')
const { spawn } = require('node:child_process')
const { pulseAvailable, startPulse } = require('../__test__/harness/pulse.js')

const args = process.argv.slice(2)
const seconds = args.includes('--seconds') ? Number(args[args.indexOf('--seconds') + 1]) : 20
const CHILD = path.join(__dirname, '..', '__test__', 'harness', 'host-child.js')

function measure(env, host, extraEnv = {}) {
  env = { ...env, ...extraEnv }
  const child = spawn(process.execPath, [CHILD, host, '2000', String(seconds * 1000)], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  return new Promise((resolve) => child.on('exit', () => resolve(JSON.parse(out))))
}

async function main() {
  if (!pulseAvailable()) {
    console.error('needs pulseaudio and pacat (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)')
    process.exitCode = 1
    return
  }
  const pulse = await startPulse()
  pulse.play({ type: 'sine', freq: 440, amplitude: 0.5 })
  console.log(`capturing the null sink's monitor (a 440 Hz sine at 0.5 = -9.03 dBFS RMS), ${seconds} s per host:`)
  const ways = [
    ['default (libpulse)', '', {}],
    ["cpal's pulseaudio", '', { STT_CAPTURE_PULSE: 'cpal' }],
    ['alsa (pulse plugin)', 'alsa', {}],
  ]
  for (const [name, host, extraEnv] of ways) {
    const m = await measure(pulse.env, host, extraEnv)
    console.log(
      `  ${name.padEnd(20)} CPU ${m.cpuPercent.toFixed(2)} % of one core, ${m.callbacksPerSecond.toFixed(0)} callbacks/s, ` +
        `${m.device}, level ${m.rmsDbfs.toFixed(2)} dBFS, ${m.framesPerSecond.toFixed(0)} frames/s received, ${m.framesDropped} frames dropped`,
    )
  }
  await pulse.stop()
}

main()

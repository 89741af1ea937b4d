'use strict'
// The PulseAudio null-sink route of shared/docs/testing-audio.md §2: a private pulseaudio
// server (its own XDG_RUNTIME_DIR) whose default source is the monitor of a null sink, and a
// paced player (pacat) feeding that sink with a signal from harness/signals.js.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { sampleAt } = require('./signals.js')

const RATE = 48000
const CHANNELS = 2

function pulseAvailable() {
  return spawnSync('pulseaudio', ['--version']).status === 0 && spawnSync('pacat', ['--version']).status === 0
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Starts the server; resolves with `{ env, play(signal), stop() }` once it answers. */
async function startPulse() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stt-pulse-'))
  fs.chmodSync(dir, 0o700)
  const script = path.join(dir, 'test.pa')
  fs.writeFileSync(
    script,
    [
      'load-module module-native-protocol-unix auth-anonymous=1',
      `load-module module-null-sink sink_name=vsink rate=${RATE} channels=${CHANNELS}`,
      'set-default-sink vsink',
      'set-default-source vsink.monitor',
      '',
    ].join('\n'),
  )
  const env = { ...process.env, XDG_RUNTIME_DIR: dir, HOME: dir }
  delete env.ALSA_CONFIG_PATH
  delete env.PULSE_SERVER
  const server = spawn('pulseaudio', ['--daemonize=no', '-n', '-F', script, '--exit-idle-time=-1'], { env, stdio: 'ignore' })
  const socket = path.join(dir, 'pulse', 'native')
  for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await sleep(50)
  if (!fs.existsSync(socket)) throw new Error('pulseaudio did not start')
  const players = []
  return {
    env,
    /** Plays `signal` into the null sink until `stop()`, paced by pacat. */
    play(signal) {
      const player = spawn('pacat', ['--playback', '-d', 'vsink', `--rate=${RATE}`, `--channels=${CHANNELS}`, '--format=float32le'], { env, stdio: ['pipe', 'ignore', 'ignore'] })
      players.push(player)
      let frame = 0
      const block = 4800
      const write = () => {
        while (!player.stdin.destroyed) {
          const buf = Buffer.alloc(block * CHANNELS * 4)
          for (let f = 0; f < block; f++) {
            for (let ch = 0; ch < CHANNELS; ch++) buf.writeFloatLE(sampleAt(signal, RATE, ch, frame + f), (f * CHANNELS + ch) * 4)
          }
          frame += block
          if (!player.stdin.write(buf)) return player.stdin.once('drain', write)
        }
      }
      player.stdin.on('error', () => {})
      write()
    },
    /** Stops the players and the server, keeping its directory (clients may still write there). */
    async kill() {
      for (const p of players) p.kill('SIGKILL')
      if (server.exitCode === null && server.signalCode === null) {
        server.kill('SIGTERM')
        await new Promise((r) => server.once('exit', r))
      }
    },
    /** `kill()`, then removes the directory; retried because a client reconnecting (libpulse
     * writes its cookie under HOME) can add a file while it is being removed. */
    async stop() {
      await this.kill()
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 })
    },
  }
}

module.exports = { pulseAvailable, startPulse }

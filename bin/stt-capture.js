#!/usr/bin/env node
'use strict'
// npx stt-capture <demo|daemon|devices|help> [flags]
const { parseArgs, UsageError } = require('../cli/args.js')

const USAGE = `usage: stt-capture <command> [flags]

commands:
  demo      capture, stream to the daemon and draw a live meter, spectrum and stats
              --device ID     input device (an id or name from \`stt-capture devices\`)
              --file WAV      replay a WAV file instead of a microphone (played once)
              --socket PATH   legacy daemon socket (default: the daemon's own default path)
              --http-socket PATH  v1 daemon socket (default: $SUPER_STT_HTTP_SOCKET or
                              $XDG_RUNTIME_DIR/stt/super-stt-http.sock)
              --token TOKEN   v1 session token (default: $SUPER_STT_TOKEN; without one
                              the demo asks the daemon, which shows a consent prompt)
              --seconds N     stop after N seconds (default: run until Ctrl-C)
              --no-daemon     capture only, no daemon
              --record WAV    record the capture (16 kHz f32, what the chunks carry)
              --daemon-record WAV  where the bundled reference daemon, if started,
                              writes the audio it receives
  record FILE  record the microphone (or --file) to a WAV file, no daemon
              --seconds N     stop after N seconds (default: until Ctrl-C)
              --device ID  --file WAV  as for demo
              --rate R        16000 (default) or device (the device's own rate)
              --format F      f32 (default) or s16
              --overwrite     replace FILE if it exists
  daemon    a reference daemon (no speech model)
              --protocol P    legacy (default) or v1 (HTTP + WebSocket; token requests
                              are approved without a prompt)
              --socket PATH   where to listen (default: the daemon's default path)
              --token TOKEN   v1: also accept this token
              --model M       v1: realtime (default: the WebSocket route transcribes) or
                              batch (a Whisper-class model: utterances to POST
                              /v1/transcribe; the realtime upgrade is refused)
              --transcribe-delay-ms N  v1: processing time per utterance
              --record WAV    write the audio it receives to a WAV file
              --quiet         no per-chunk lines
  devices   list input devices
              --host NAME     alsa or pulseaudio (default: the one a capture uses)
  vad FILE  print the speech segments of a WAV file (start, end, duration), found by
            the voice activity detector a capture runs with \`vad: true\`
              --threshold P  --min-speech-ms N  --min-silence-ms N  --pre-roll-ms N
                              the \`vad\` options (defaults 0.5, 150, 600, 300)
  help      this text
`

const COMMANDS = {
  demo: {
    flags: {
      device: 'string',
      file: 'string',
      socket: 'string',
      'http-socket': 'string',
      token: 'string',
      seconds: 'number',
      'no-daemon': 'boolean',
      record: 'string',
      'daemon-record': 'string',
    },
    run: (f) => require('../cli/demo.js').demo(f),
  },
  record: {
    flags: { _: 'positional', seconds: 'number', device: 'string', file: 'string', rate: 'string', format: 'string', overwrite: 'boolean' },
    run: (f) => require('../cli/record.js').record(f, f._),
  },
  daemon: {
    flags: { protocol: 'string', socket: 'string', token: 'string', record: 'string', quiet: 'boolean', model: 'string', 'transcribe-delay-ms': 'number' },
    run: (f) => require('../cli/daemon.js').daemon(f),
  },
  devices: { flags: { host: 'string' }, run: (f) => require('../cli/devices.js').devices(f) },
  vad: {
    flags: { _: 'positional', threshold: 'number', 'min-speech-ms': 'number', 'min-silence-ms': 'number', 'pre-roll-ms': 'number' },
    run: (f) => require('../cli/vad.js').vad(f, f._),
  },
  help: {
    flags: {},
    run: async () => {
      process.stdout.write(USAGE)
      return 0
    },
  },
}

async function main() {
  const [name = 'help', ...rest] = process.argv.slice(2)
  const command = COMMANDS[name === '--help' || name === '-h' ? 'help' : name]
  try {
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`)
    process.exitCode = (await command.run(parseArgs(rest, command.flags))) ?? 0
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    process.stderr.write(`stt-capture: ${e.message}\n\n${USAGE}`)
    process.exitCode = 2
  }
}

main()

// The screen: a level meter, a speaking marker, the live partial, the final transcripts,
// daemon and device state, and push-to-talk on space. Where the terminal reports key
// release (kitty keyboard protocol) space is held to talk; elsewhere it toggles.
import { useEffect, useRef, useState } from 'react'
import { Box, Text, useApp, useInput } from 'ink'
import { fileURLToPath } from 'node:url'
import type { AudioCaptureOptions, LevelEvent } from 'stt-capture'
import { useCapture } from 'stt-capture/react'

const BUNDLED_SPEECH = fileURLToPath(new URL('../../../assets/speech.wav', import.meta.url))
const DEVICE_CODES = new Set(['E_NO_DEVICE', 'E_DEVICE', 'E_UNSUPPORTED_CONFIG'])
const METER_CELLS = 40
const SHOWN_TRANSCRIPTS = 8

function meter(level: LevelEvent | null): string {
  const db = level ? Math.max(-60, level.rmsDbfs) : -60
  const filled = Math.round(((db + 60) / 60) * METER_CELLS)
  const label = level && level.rmsDbfs > -120 ? `${level.rmsDbfs.toFixed(1)} dBFS` : 'silent'
  return `${'█'.repeat(filled)}${'░'.repeat(METER_CELLS - filled)} ${label}`
}

type KeyMode = 'unknown' | 'hold' | 'toggle'

export function App({ captureOptions, daemonLabel }: { captureOptions: AudioCaptureOptions; daemonLabel: string }) {
  const { exit } = useApp()
  const [source, setSource] = useState<'microphone' | 'bundled speech'>('microphone')
  const [keyMode, setKeyMode] = useState<KeyMode>('unknown')
  const capture = useCapture({
    ...captureOptions,
    vad: true,
    // Ctrl-C leaves within 2 s even when the daemon is slow to take the last utterance.
    stopTimeoutMs: 1500,
    ...(source === 'bundled speech' ? { input: { file: BUNDLED_SPEECH, loop: true } } : {}),
  })
  const talking = capture.state === 'running'
  const quitting = useRef(false)

  // Open the device and the daemon at once, paused: the first space talks without delay.
  useEffect(() => {
    void capture.start({ paused: true })
  }, [source])
  useEffect(() => {
    if (source === 'microphone' && capture.state === 'idle' && capture.error && DEVICE_CODES.has(capture.error.code)) setSource('bundled speech')
  }, [capture.state, capture.error, source])

  useInput((input, key) => {
    if ((key.ctrl && input === 'c') || input === 'q') {
      if (quitting.current) return
      quitting.current = true
      void capture.stop().then(() => exit())
      return
    }
    if (input !== ' ') return
    if (key.eventType) {
      // The terminal reports press, repeat and release: hold to talk.
      setKeyMode('hold')
      if (key.eventType === 'press' && capture.state === 'paused') void capture.resume()
      if (key.eventType === 'release' && capture.state === 'running') void capture.pause()
      return
    }
    setKeyMode('toggle')
    if (capture.state === 'paused') void capture.resume()
    else if (capture.state === 'running') void capture.pause()
  })

  const keyHelp = {
    unknown: 'press space to talk',
    hold: 'hold space to talk (this terminal reports key release)',
    toggle: 'space toggles talking (this terminal does not report key release)',
  }[keyMode]
  const daemon = capture.daemon
  const daemonText = daemon
    ? [daemon.state, 'protocol' in daemon && daemon.protocol, 'mode' in daemon && daemon.mode, 'reason' in daemon && daemon.reason].filter(Boolean).join(' · ')
    : 'not yet'
  const device = capture.device ? `${capture.device.state} · ${capture.device.name}` : capture.state
  const stats = capture.stats
  const transcripts = capture.transcripts.slice(-SHOWN_TRANSCRIPTS)

  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>stt-capture · Ink push-to-talk · {source}</Text>
      <Text>
        {talking ? <Text color="green">● TALKING</Text> : <Text dimColor>○ muted  </Text>} · {keyHelp} · q quits
      </Text>
      <Text>
        level {meter(capture.level)} {capture.speaking ? <Text color="yellow">speaking</Text> : ''}
      </Text>
      <Text>device  {device}</Text>
      <Text>daemon  {daemonText} · {daemonLabel}</Text>
      {capture.error ? <Text color="red">error   {capture.error.code}: {capture.error.message}</Text> : null}
      <Text>partial {capture.partial || '…'}</Text>
      <Text bold>transcripts ({capture.transcripts.length})</Text>
      {transcripts.map((t, i) => (
        <Text key={`${t.utteranceId ?? 'stream'}-${t.timestamp}-${i}`} wrap="truncate-end">
          {'  '}
          {t.text}
        </Text>
      ))}
      {stats ? (
        <Text dimColor>
          sent {stats.utterancesSent} utterances, {stats.chunksSent} chunks · {stats.chunksDroppedQueue + stats.utterancesDroppedQueue} dropped · paused{' '}
          {(stats.pausedMs / 1000).toFixed(1)} s · {stats.framesCaptured} frames, {stats.framesDropped} lost
        </Text>
      ) : null}
    </Box>
  )
}

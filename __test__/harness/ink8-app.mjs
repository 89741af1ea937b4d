// The hook under Ink 8 (Node 22 and later), as an app of plain JS would use it: the bundled
// speech replayed, no daemon; `q` stops and exits. Run by __test__/ink8.test.js.
import React from 'react'
import { render, Text, Box, useInput, useApp } from 'ink8'
import { useCapture } from '../../react.js'

const h = React.createElement
const speech = new URL('../../assets/speech.wav', import.meta.url).pathname

function App() {
  const { exit } = useApp()
  const c = useCapture({ input: { file: speech, loop: true }, daemon: false, vad: true, autoStart: true })
  useInput((input) => {
    if (input === 'q') void c.stop().then(() => exit())
  })
  return h(
    Box,
    { flexDirection: 'column' },
    h(Text, null, `node ${process.version} · state ${c.state}`),
    h(Text, null, `level ${c.level ? `${c.level.rmsDbfs.toFixed(1)} dBFS` : 'none'}${c.speaking ? ' · speaking' : ''}`),
    h(Text, null, `chunks ${c.stats?.chunksEmitted ?? 0} · utterances ${c.stats?.utterances ?? 0}`),
  )
}

await render(h(App)).waitUntilExit()

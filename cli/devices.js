'use strict'
// `stt-capture devices [--host NAME]`: the input devices, default first marked with *.

async function devices(flags) {
  const { listInputDevices } = require('..')
  const list = await listInputDevices(flags.host ? { host: flags.host } : undefined)
  if (list.length === 0) {
    console.log('no input devices found')
    return 0
  }
  for (const d of list) {
    const rates = d.sampleRates.length ? `${Math.min(...d.sampleRates)}–${Math.max(...d.sampleRates)} Hz` : 'no common rates'
    console.log(`${d.isDefault ? '*' : ' '} ${d.id}  ${d.name}  (${d.channels} ch, ${rates}, ${d.sampleFormats.join('/')}; ${d.host})`)
  }
  return 0
}

module.exports = { devices }

'use strict'
// `stt-capture devices`: the input devices, default first marked with *.

async function devices() {
  const { listInputDevices } = require('..')
  const list = await listInputDevices()
  if (list.length === 0) {
    console.log('no input devices found')
    return 0
  }
  for (const d of list) {
    const rates = d.sampleRates.length ? `${Math.min(...d.sampleRates)}–${Math.max(...d.sampleRates)} Hz` : 'no common rates'
    console.log(`${d.isDefault ? '*' : ' '} ${d.id}  ${d.name}  (${d.channels} ch, ${rates})`)
  }
  return 0
}

module.exports = { devices }

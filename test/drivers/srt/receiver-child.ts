// An SRT listener in a process of its own, for tests that stop and continue it (SIGSTOP/SIGCONT): prints one JSON
// line per event on stdout ({ port } once bound, then { signal, at, detectedAt, cause, stalledMs? }); stops on stdin
// closing. Run: node --import tsx test/drivers/srt/receiver-child.ts STREAM_ID SILENCE_MS
import { pino } from 'pino'
import { SrtReceiver } from '../../../drivers/srt/connection.ts'
import { srtConfig } from './helpers.ts'

const [streamId = 'cam', silence = '50'] = process.argv.slice(2)
const rx = new SrtReceiver(srtConfig({ mode: 'listener', port: 0, silenceMs: Number(silence), streamId }), {
	log: pino({ level: 'silent' }),
})
rx.on('signal', (s) => process.stdout.write(`${JSON.stringify(s)}\n`))
await rx.start()
process.stdout.write(`${JSON.stringify({ port: rx.port })}\n`)
process.stdin.resume()
process.stdin.on('end', () => {
	rx.stop()
	process.exit(0)
})

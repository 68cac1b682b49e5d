// Fault injection: random sequences of pauses, loss bursts, black-holed links and cut senders against one listener.
// Whatever happens, the signal reports stay coherent (no repeats, `at` never after its detection, every long
// pause reported down as of its last packet) and what is relayed is only ever whole, uncorrupted sender datagrams.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SrtReceiver, type SignalObservation } from '../../../drivers/srt/connection.ts'
import { simDatagram, TS_PER_DATAGRAM, TsChecker } from '../../../drivers/srt/codec.ts'
import { UdpImpairment } from '../../../drivers/srt/impair.ts'
import { SrtSim } from '../../../drivers/srt/sim.ts'
import { monotonicMs } from '../../../src/clock.ts'
import { ctx, sleep, srtConfig, UdpCollector, waitFor } from './helpers.ts'

type Action =
	| { kind: 'pause'; ms: number }
	| { kind: 'loss'; rate: number; ms: number }
	| { kind: 'blackhole'; ms: number }
	| { kind: 'cut' }
	| { kind: 'run'; ms: number }

const action: fc.Arbitrary<Action> = fc.oneof(
	fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 100, max: 250 }) }),
	fc.record({
		kind: fc.constant('loss' as const),
		rate: fc.double({ min: 0.05, max: 0.3, noNaN: true }),
		ms: fc.integer({ min: 200, max: 500 }),
	}),
	fc.record({ kind: fc.constant('blackhole' as const), ms: fc.integer({ min: 50, max: 300 }) }),
	fc.constant({ kind: 'cut' as const }),
	fc.record({ kind: fc.constant('run' as const), ms: fc.integer({ min: 50, max: 300 }) }),
)

describe('SRT receiver under random faults', () => {
	it('keeps coherent signal reports and relays only whole sender datagrams', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(action, { minLength: 3, maxLength: 5 }), async (actions) => {
				const out = new UdpCollector()
				const outPort = await out.start()
				const rx = new SrtReceiver(
					srtConfig({
						mode: 'listener',
						port: 0,
						statsIntervalMs: 200,
						silenceMs: 50,
						relayTo: `udp://127.0.0.1:${outPort}`,
					}),
					ctx,
				)
				const reports: SignalObservation[] = []
				rx.on('signal', (s) => reports.push(s))
				await rx.start()
				const relay = new UdpImpairment({ targetHost: '127.0.0.1', targetPort: rx.port!, seed: 3 })
				const { port } = await relay.start()
				let tx = new SrtSim({ mode: 'caller', host: '127.0.0.1', port, bitrate: 3_000_000 })
				await tx.start()
				const pauses: number[] = []
				try {
					await waitFor('first up', () => rx.signal?.signal === 'up')
					for (const a of actions) {
						if (a.kind === 'pause') {
							tx.pause()
							const p = monotonicMs()
							pauses.push(p)
							await sleep(a.ms)
							tx.resume()
							// its down comes one latency + silenceMs after the pause began, maybe after the resume
							await waitFor(
								'the pause reported',
								() => reports.some((r) => r.signal === 'down' && r.at >= p - 100),
								5000,
							)
						} else if (a.kind === 'loss') {
							relay.setLossRate(a.rate)
							await sleep(a.ms)
							relay.setLossRate(0)
						} else if (a.kind === 'blackhole') {
							relay.setBlackhole(true)
							await sleep(a.ms)
							relay.setBlackhole(false)
						} else if (a.kind === 'cut') {
							await tx.stop()
							await waitFor('down after cut', () => rx.signal?.signal === 'down')
							tx = new SrtSim({ mode: 'caller', host: '127.0.0.1', port, bitrate: 3_000_000 })
							await tx.start()
						} else await sleep(a.ms)
						await waitFor('up again', () => rx.signal?.signal === 'up' || rx.signal?.signal === 'degraded', 5000)
					}
				} finally {
					await tx.stop()
					rx.stop()
					await relay.stop()
					await out.stop()
				}
				for (let i = 0; i < reports.length; i++) {
					const r = reports[i]!
					expect(r.at).toBeLessThanOrEqual(r.detectedAt + 0.001)
					if (i > 0) expect(r.signal).not.toBe(reports[i - 1]!.signal)
				}
				// each pause (longer than silenceMs) gave a down dated at its last packet: about one latency (120 ms)
				// after the pause began (loose bounds: the machine is shared)
				for (const p of pauses) {
					const down = reports.find((r) => r.signal === 'down' && r.at >= p - 100 && r.at <= p + 120 + 200)
					expect(down, `a down for the pause at ${p.toFixed(1)}`).toBeDefined()
				}
				expect(reports.at(-1)!.signal).toBe('unknown') // stop withdraws the report
				const checker = new TsChecker()
				for (const d of out.datagrams) {
					checker.push(d)
					const k = Number(d.readBigUInt64BE(4)) / TS_PER_DATAGRAM
					expect(Buffer.compare(d, Buffer.from(simDatagram(k)))).toBe(0)
				}
				expect(checker.result.syncErrors).toBe(0)
			}),
			{ numRuns: 2 },
		)
	}, 90_000)
})

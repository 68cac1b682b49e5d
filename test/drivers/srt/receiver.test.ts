// The SRT receiver driver against our own simulator (both on our binding), on loopback: connections, relay,
// signal timing, rejections, four streams, caller mode with reconnect, and nothing left behind after stop.
import { afterEach, describe, expect, it } from 'vitest'
import { SrtReceiver, type Rejection, type SignalObservation } from '../../../drivers/srt/connection.ts'
import { simDatagram, TsChecker } from '../../../drivers/srt/codec.ts'
import { SrtSim } from '../../../drivers/srt/sim.ts'
import { loadSrtBinding } from '../../../drivers/srt/native.ts'
import { monotonicMs } from '../../../src/clock.ts'
import type { ResolvedSrtDriver } from '../../../src/domain/drivers.ts'
import { ctx, freeUdpPort, processCounts, sleep, srtConfig, UdpCollector, waitFor } from './helpers.ts'
import { resolveSecrets, SecretError } from '../../../src/domain/secrets.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c()
})

async function listener(over: Partial<ResolvedSrtDriver> = {}) {
	const rx = new SrtReceiver(srtConfig({ mode: 'listener', port: 0, ...over }), ctx)
	const signals: SignalObservation[] = []
	const rejected: Rejection[] = []
	rx.on('signal', (s) => signals.push(s))
	rx.on('rejected', (r) => rejected.push(r))
	await rx.start()
	cleanups.push(() => rx.stop())
	return { rx, signals, rejected, port: rx.port! }
}

async function sim(opts: ConstructorParameters<typeof SrtSim>[0]) {
	const s = new SrtSim(opts)
	await s.start()
	cleanups.push(() => s.stop())
	return s
}

/** up, down, up, ...: every report changes the signal (a stall on a shared machine may add a pair) */
function expectAlternating(seq: string[]) {
	expect(seq[0]).toBe('up')
	seq.forEach((s, i) => expect(s).toBe(i % 2 === 0 ? 'up' : 'down'))
}

describe('SRT binding', () => {
	it('uses the monotonic clock of drivers/types.ts', () => {
		const b = loadSrtBinding()
		const a = monotonicMs()
		const n = b.monotonicMs()
		const c = monotonicMs()
		expect(n).toBeGreaterThanOrEqual(a)
		expect(n).toBeLessThanOrEqual(c)
		expect(b.srtVersion).toMatch(/^1\.5\./)
	})
})

describe('SRT receive path', () => {
	it('does no per-packet JS work: ~2000 packets a second reach JS as a handful of events', async () => {
		const b = loadSrtBinding()
		const out = new UdpCollector()
		const outPort = await out.start()
		cleanups.push(() => out.stop())
		const events: string[] = []
		const rx = new b.Receiver(
			{
				mode: 'listener',
				host: '127.0.0.1',
				port: 0,
				relayHost: '127.0.0.1',
				relayPort: outPort,
				statsIntervalMs: 500,
			},
			(e) => events.push(e.type),
		)
		const { port } = rx.start()
		cleanups.push(() => void rx.stop())
		const tx = await sim({ mode: 'caller', host: '127.0.0.1', port, bitrate: 20_000_000 })
		await waitFor('flowing', () => out.datagrams.length > 0)
		const from = events.length
		const relayedFrom = out.datagrams.length
		await sleep(1000)
		const relayed = out.datagrams.length - relayedFrom
		expect(relayed).toBeGreaterThan(1500) // 20 Mbit/s is ~1900 datagrams a second
		// one second of that: the stats ticks (every 500 ms), nothing per packet (a stall on a shared machine may add
		// a down/up pair)
		expect(events.slice(from).every((t) => t === 'stats' || t === 'signal')).toBe(true)
		expect(events.length - from).toBeLessThanOrEqual(7)
		await tx.stop()
	})
})

describe('SRT listener with our sender', () => {
	it('accepts a caller, relays every datagram byte-identical and in order, reports up then down as of the last packet', async () => {
		const out = new UdpCollector()
		const outPort = await out.start()
		cleanups.push(() => out.stop())
		const { rx, signals, port } = await listener({ streamId: 'cam1', relayTo: `udp://127.0.0.1:${outPort}` })
		const connected: { peer: string; streamId: string }[] = []
		rx.on('connected', (c) => connected.push(c))
		const tx = await sim({ mode: 'caller', host: '127.0.0.1', port, streamId: 'cam1', bitrate: 4_000_000 })
		await waitFor('signal up', () => signals.some((s) => s.signal === 'up'))
		expect(connected).toHaveLength(1)
		expect(connected[0]!.streamId).toBe('cam1')
		expect(connected[0]!.peer).toMatch(/^127\.0\.0\.1:\d+$/)
		await sleep(400)
		tx.pause()
		const pausedAt = monotonicMs()
		// on a loaded machine a stalled thread can make an earlier, real, gap: the pause's down is the one after it
		const pauseDown = () => signals.find((s) => s.signal === 'down' && s.at >= pausedAt - 50)
		await waitFor('signal down', () => pauseDown() !== undefined)
		const down = pauseDown()!
		const sent = tx.counters()!
		// `at` is the last packet's arrival, which comes one latency after the sender's last datagram
		expect(down.cause).toBe('silence')
		expect(down.at).toBeGreaterThanOrEqual(sent.lastSentAt!)
		expect(down.at).toBeLessThan(sent.lastSentAt! + 120 + 60)
		// detected by the native watchdog, not libsrt's 5 s peer-idle timeout (how soon: test/bench/srt.ts, p50/p99/max)
		expect(down.detectedAt - down.at).toBeGreaterThanOrEqual(50)
		expect(down.detectedAt - down.at).toBeLessThan(50 + 1000)
		expect(monotonicMs() - pausedAt).toBeLessThan(2000)
		// every datagram the sender sent arrived on the relay, identical, in order
		await waitFor('relay drained', () => out.datagrams.length === sent.datagrams)
		const checker = new TsChecker()
		out.datagrams.forEach((d, i) => {
			expect(Buffer.compare(d, Buffer.from(simDatagram(i)))).toBe(0)
			checker.push(d)
		})
		expect(checker.result).toEqual({ packets: sent.tsPackets, syncErrors: 0, ccErrors: 0 })
		tx.resume()
		await waitFor('signal up again', () => rx.signal?.signal === 'up' && rx.signal.at > down.at)
		expectAlternating(signals.map((s) => s.signal))
	})

	it('works over IPv6 loopback: bind, caller, peer address and relay', async () => {
		const out = new UdpCollector('::1')
		const outPort = await out.start()
		cleanups.push(() => out.stop())
		const { rx, port } = await listener({ bind: '::1', relayTo: `udp://[::1]:${outPort}` })
		await sim({ mode: 'caller', host: '::1', port, bitrate: 2_000_000 })
		await waitFor('up', () => rx.signal?.signal === 'up')
		await waitFor('relayed', () => out.datagrams.length > 20)
		expect(rx.connections()[0]!.peer).toMatch(/^\[::1\]:\d+$/)
		out.datagrams.slice(0, 20).forEach((d, i) => expect(Buffer.compare(d, Buffer.from(simDatagram(i)))).toBe(0))
	})

	it('reports down at the last packet when the sender closes, and nothing for a connection never made', async () => {
		const { rx, signals, port } = await listener()
		expect(rx.signal).toBeNull()
		await sleep(200)
		expect(signals).toEqual([]) // bound, nobody called: no signal
		const tx = await sim({ mode: 'caller', host: '127.0.0.1', port, bitrate: 2_000_000 })
		await waitFor('up', () => rx.signal?.signal === 'up')
		const disconnected: { lastPacketAt: number | null }[] = []
		rx.on('disconnected', (d) => disconnected.push(d))
		await tx.cut()
		await waitFor('down', () => rx.signal?.signal === 'down')
		const down = rx.signal!
		expect(down.cause).toBe('disconnected')
		await waitFor('disconnected event', () => disconnected.length === 1)
		expect(down.at).toBe(disconnected[0]!.lastPacketAt)
		expect(rx.health).toBe('down')
		expect(rx.connections()[0]!.disconnectedAt).toBeGreaterThan(0)
		expect(rx.connections()[0]!.packetsReceived).toBeGreaterThan(0)
	})

	it('rejects a wrong stream id in the listen callback, with SRT_REJX_NOTFOUND on both sides', async () => {
		const { rx, rejected, port } = await listener({ streamId: 'cam1' })
		const tx = new SrtSim({ mode: 'caller', host: '127.0.0.1', port, streamId: 'cam2' })
		const txRejected: { reason: string }[] = []
		tx.on('rejected', (r) => txRejected.push(r))
		await tx.start()
		cleanups.push(() => tx.stop())
		await waitFor('both rejections', () => rejected.length === 1 && txRejected.length === 1)
		expect(rejected[0]).toMatchObject({ streamId: 'cam2', reason: 'SRT_REJX_NOTFOUND', code: 1404 })
		expect(rejected[0]!.peer).toMatch(/^127\.0\.0\.1:\d+$/)
		expect(txRejected[0]!.reason).toBe('SRT_REJX_NOTFOUND')
		expect(rx.connections()).toEqual([])
		expect(rx.signal).toBeNull()
	})

	it('a passphrase variable that is not set is named before any receiver is made', () => {
		// the caller resolves secrets (src/domain/secrets.ts): the driver never sees an unresolved one
		const config = { mode: 'listener', port: 0, passphrase: { env: 'SIGPATH_NO_SUCH_VAR' } }
		expect(() => resolveSecrets(config, {})).toThrow(SecretError)
		expect(() => resolveSecrets(config, {})).toThrow('environment variable SIGPATH_NO_SUCH_VAR is not set')
	})

	it('rejects a wrong passphrase as SRT_REJ_BADSECRET and a missing one as SRT_REJ_UNSECURE', async () => {
		// the passphrase comes from the environment, as a config's { env: NAME } secret does
		const { rejected, port } = await listener(
			resolveSecrets({ passphrase: { env: 'SRT_TEST_PASS' } }, { SRT_TEST_PASS: 'correct horse battery' }),
		)
		const tx = new SrtSim({ mode: 'caller', host: '127.0.0.1', port, passphrase: 'not the passphrase' })
		const txRejected: { reason: string }[] = []
		tx.on('rejected', (r) => txRejected.push(r))
		await tx.start()
		cleanups.push(() => tx.stop())
		await waitFor('rejections', () => rejected.length === 1 && txRejected.length === 1)
		expect(txRejected[0]!.reason).toBe('SRT_REJ_BADSECRET')
		expect(rejected[0]!.reason).toBe('SRT_REJ_BADSECRET')
		expect(rejected[0]!.peer).toMatch(/^127\.0\.0\.1:\d+$/)
		const plain = new SrtSim({ mode: 'caller', host: '127.0.0.1', port })
		const plainRejected: { reason: string }[] = []
		plain.on('rejected', (r) => plainRejected.push(r))
		await plain.start()
		cleanups.push(() => plain.stop())
		await waitFor('unsecure rejection', () => plainRejected.length === 1 && rejected.length === 2)
		expect(plainRejected[0]!.reason).toBe('SRT_REJ_UNSECURE')
		expect(rejected[1]!.reason).toBe('SRT_REJ_UNSECURE')
	})
})

describe('SRT receiver in caller mode', () => {
	it('connects to a listening sender, reports down when it goes, and reconnects with backoff when it returns', async () => {
		// the kernel picks the port (bind 0): a port merely probed free and closed could be taken by another test
		// process before the sim binds it
		const first = await sim({ mode: 'listener', host: '127.0.0.1', port: 0, bitrate: 2_000_000 })
		const port = first.port
		const rx = new SrtReceiver(srtConfig({ mode: 'caller', host: '127.0.0.1', port, connectTimeoutMs: 500 }), ctx, {
			backoffMs: { base: 100, max: 400 },
		})
		const states: string[] = []
		const signals: string[] = []
		rx.on('state', (s) => states.push(s))
		rx.on('signal', (s) => signals.push(s.signal))
		rx.on('retrying', () => undefined)
		await rx.start()
		cleanups.push(() => rx.stop())
		await waitFor(
			'up',
			() => rx.signal?.signal === 'up',
			10_000,
			10,
			() => JSON.stringify({ states, rejected: rx.rejections() }),
		)
		expect(rx.state).toBe('connected')
		expect(rx.freshness.connected).toBe(true)
		await first.stop()
		await waitFor('down', () => rx.signal?.signal === 'down')
		await waitFor('backoff', () => states.includes('backoff'))
		const second = await sim({ mode: 'listener', host: '127.0.0.1', port, bitrate: 2_000_000 })
		await waitFor('up again', () => rx.signal?.signal === 'up' && rx.connections().length === 2, 8000)
		expectAlternating(signals)
		expect(rx.connections()).toHaveLength(2)
		await second.stop()
	})

	it('names a refused or timed-out connection and keeps retrying until stopped, leaving no timer', async () => {
		const port = await freeUdpPort() // nobody listens here
		const rx = new SrtReceiver(srtConfig({ mode: 'caller', host: '127.0.0.1', port, connectTimeoutMs: 200 }), ctx, {
			backoffMs: { base: 50, max: 100 },
		})
		const retries: number[] = []
		rx.on('retrying', (r) => retries.push(r.delayMs))
		await rx.start()
		await waitFor('two attempts', () => rx.rejections().length >= 2, 5000)
		expect(rx.rejections()[0]!.reason).toBe('SRT_REJ_TIMEOUT')
		expect(rx.signal).toBeNull() // never connected: no signal
		expect(retries.length).toBeGreaterThanOrEqual(2)
		rx.stop()
		const after = rx.rejections().length
		await sleep(500)
		expect(rx.state).toBe('stopped')
		expect(rx.rejections().length).toBe(after)
	})
})

describe('SRT loss and scale', () => {
	it('shows injected loss in the stats and reports degraded, then up when the loss clears', async () => {
		const { rx, signals, port } = await listener({ statsIntervalMs: 250, lossRate: 0.02 })
		const stats: { lossRate: number; lost: number }[] = []
		rx.on('stats', (s) =>
			stats.push({ lossRate: s.lossRate, lost: s.connections.reduce((a, c) => a + c.pktRcvLoss, 0) }),
		)
		const tx = await sim({ mode: 'caller', host: '127.0.0.1', port, bitrate: 4_000_000, lossRate: 0.1 })
		await waitFor('degraded', () => signals.some((s) => s.signal === 'degraded'), 5000)
		expect(stats.some((s) => s.lost > 0 && s.lossRate > 0.02)).toBe(true)
		const degraded = signals.find((s) => s.signal === 'degraded')!
		expect(degraded.at).toBeLessThan(degraded.detectedAt)
		tx.setLossRate(0)
		await waitFor('up after loss cleared', () => rx.signal?.signal === 'up', 5000)
		expect(rx.connections()[0]!.packetsLost).toBeGreaterThan(0)
		expect(rx.connections()[0]!.packetsDropped).toBe(0) // retransmission recovered every loss (docs/operations.md)
	})

	it('carries four simultaneous streams, each relayed byte-identical', async () => {
		const streams = await Promise.all(
			[1, 2, 3, 4].map(async (n) => {
				const out = new UdpCollector()
				const outPort = await out.start()
				cleanups.push(() => out.stop())
				const l = await listener({ streamId: `cam${n}`, relayTo: `udp://127.0.0.1:${outPort}` })
				const tx = await sim({
					mode: 'caller',
					host: '127.0.0.1',
					port: l.port,
					streamId: `cam${n}`,
					bitrate: 3_000_000,
				})
				return { out, l, tx }
			}),
		)
		await waitFor('four up', () => streams.every((s) => s.l.rx.signal?.signal === 'up'))
		await sleep(500)
		for (const s of streams) await s.tx.cut()
		await waitFor('four down', () => streams.every((s) => s.l.rx.signal?.signal === 'down'))
		// the last relayed datagrams may still be on their way through loopback to the collectors
		await waitFor('the relayed datagrams collected', () =>
			streams.every((s) => s.out.datagrams.length >= s.l.rx.connections()[0]!.relayed),
		)
		for (const s of streams) {
			// every packet read was relayed; packetsReceived counts arrivals (libsrt's count), and a cut drops those
			// still held for their TSBPD time
			const conn = s.l.rx.connections()[0]!
			expect(conn.relayed).toBeGreaterThan(100)
			expect(conn.relayed).toBeLessThanOrEqual(conn.packetsReceived)
			expect(s.out.datagrams.length).toBe(conn.relayed)
			s.out.datagrams.forEach((d, i) => expect(Buffer.compare(d, Buffer.from(simDatagram(i)))).toBe(0))
		}
	})

	it('accepts many connections on one listener, each with its stream id', async () => {
		const { rx, port } = await listener()
		for (const n of [1, 2, 3, 4])
			await sim({ mode: 'caller', host: '127.0.0.1', port, streamId: `cam${n}`, bitrate: 1_000_000 })
		await waitFor('four connections', () => rx.connections().length === 4)
		expect(
			rx
				.connections()
				.map((c) => c.streamId)
				.sort(),
		).toEqual(['cam1', 'cam2', 'cam3', 'cam4'])
	})
})

describe('SRT resources', () => {
	it('leaves no thread and no socket behind after stop', async () => {
		// libsrt's garbage-collector thread lives for the process (srt_startup); earlier tests started it. Its
		// per-port send/receive threads and UDP sockets go when libsrt's GC reaps closed sockets (a few seconds).
		const settled = async () => {
			let last = processCounts()
			let stableSince = Date.now()
			await waitFor(
				'counts to settle',
				() => {
					const c = processCounts()
					if (c.threads !== last.threads || c.fds !== last.fds) {
						last = c
						stableSince = Date.now()
					}
					return Date.now() - stableSince > 1500
				},
				15_000,
				100,
			)
			return last
		}
		const before = await settled()
		const out = new UdpCollector()
		const outPort = await out.start()
		const l = new SrtReceiver(srtConfig({ mode: 'listener', port: 0, relayTo: `udp://127.0.0.1:${outPort}` }), ctx)
		await l.start()
		const c = new SrtReceiver(
			srtConfig({ mode: 'caller', host: '127.0.0.1', port: await freeUdpPort(), connectTimeoutMs: 200 }),
			ctx,
			{
				backoffMs: { base: 50, max: 100 },
			},
		)
		c.on('retrying', () => undefined)
		await c.start()
		const tx = new SrtSim({ mode: 'caller', host: '127.0.0.1', port: l.port!, bitrate: 2_000_000, lossRate: 0.01 })
		await tx.start()
		await waitFor('up', () => l.signal?.signal === 'up')
		const during = processCounts()
		expect(during.threads).toBeGreaterThan(before.threads)
		await tx.stop()
		l.stop()
		c.stop()
		await out.stop()
		await waitFor(
			'threads and fds back to the baseline',
			() => {
				const now = processCounts()
				return now.threads <= before.threads && now.fds <= before.fds
			},
			15_000,
			100,
		)
	})
})

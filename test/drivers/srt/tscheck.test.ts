// The transport stream check of the native receive path (ETSI TR 101 290 priority 1, drivers/srt/native/src/
// tscheck.cc) against real peers: ffmpeg's MPEG-TS, our simulator's TS with continuity errors or without PAT, and
// crafted datagrams through srt-live-transmit (null packets, adaptation-only packets, one duplicate, discontinuity
// indicators: none of them an error; a bad sync byte is one).
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SrtReceiver, type SignalObservation, type StatsReport } from '../../../drivers/srt/connection.ts'
import { TS_PACKET, TS_SYNC, tsErrorCause } from '../../../drivers/srt/codec.ts'
import { SrtSim } from '../../../drivers/srt/sim.ts'
import type { ResolvedSrtDriver } from '../../../src/domain/drivers.ts'
import {
	ctx,
	freeUdpPort,
	killPeers,
	requireBinary,
	sleep,
	srtConfig,
	startPeer,
	UdpFeeder,
	waitFor,
} from './helpers.ts'

let SLT = ''
let FFMPEG = ''
beforeAll(() => {
	SLT = requireBinary('srt-live-transmit', 'srt-tools')
	FFMPEG = requireBinary('ffmpeg', 'ffmpeg')
})

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c()
	await killPeers()
})

const TS_RULE = { tsErrors: { rate: 0.001 } }

async function receiver(config: ResolvedSrtDriver) {
	const rx = new SrtReceiver(config, ctx, { backoffMs: { base: 100, max: 300 } })
	const signals: SignalObservation[] = []
	const stats: StatsReport[] = []
	rx.on('signal', (s) => signals.push(s))
	rx.on('stats', (s) => stats.push(s))
	rx.on('retrying', () => undefined)
	await rx.start()
	cleanups.push(() => rx.stop())
	return { rx, signals, stats }
}

async function sim(port: number, psi: boolean) {
	const tx = new SrtSim({ mode: 'caller', host: '127.0.0.1', port, bitrate: 4_000_000, psi })
	await tx.start()
	cleanups.push(() => tx.stop())
	return tx
}

describe('tsErrorCause', () => {
	const clean = { tsPackets: 1000, tsSyncErrors: 0, tsCcErrors: 0, tsPatErrors: 0, tsPmtErrors: 0 }
	it('names what is wrong, or null', () => {
		expect(tsErrorCause(clean, 0.001)).toBeNull()
		expect(tsErrorCause({ ...clean, tsCcErrors: 1 }, 0.001)).toBeNull() // 0.1% is not above 0.1%
		expect(tsErrorCause({ ...clean, tsCcErrors: 2 }, 0.001)).toBe('ts-errors: 2 continuity errors in 1000 packets')
		expect(tsErrorCause({ ...clean, tsSyncErrors: 3, tsCcErrors: 2 }, 0.001)).toBe(
			'ts-errors: 3 sync errors, 2 continuity errors in 1000 packets',
		)
		expect(tsErrorCause({ ...clean, tsPatErrors: 1 }, 0.001)).toBe('ts-errors: PAT missing')
		expect(tsErrorCause({ ...clean, tsPmtErrors: 1, tsCcErrors: 5 }, 0.001)).toBe(
			'ts-errors: PMT missing, 5 continuity errors in 1000 packets',
		)
		expect(tsErrorCause({ ...clean, tsPackets: 0 }, 0)).toBeNull()
	})
})

describe('the receive path judges the transport stream', () => {
	it('ffmpeg: a clean MPEG-TS stays up with zero errors (no false degraded)', async () => {
		const { rx, signals, stats } = await receiver(
			srtConfig({ mode: 'listener', port: 0, statsIntervalMs: 500, silenceMs: 300, content: TS_RULE }),
		)
		// ffmpeg's SRT latency is in microseconds; -re sends each frame's packets in a burst (25 fps)
		startPeer(FFMPEG, [
			...['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x180:rate=25'],
			...['-t', '5', '-c:v', 'mpeg2video', '-b:v', '1M', '-f', 'mpegts'],
			`srt://127.0.0.1:${rx.port}?mode=caller&latency=120000&pkt_size=1316`,
		])
		await waitFor('up', () => signals.some((s) => s.signal === 'up'), 10_000)
		await waitFor('ffmpeg closes', () => rx.connections().some((c) => c.disconnectedAt !== null), 10_000)
		const flowing = stats.filter((s) => s.ts.tsPackets > 0)
		expect(flowing.length).toBeGreaterThanOrEqual(6)
		for (const s of flowing) {
			expect(s.ts).toMatchObject({ tsSyncErrors: 0, tsCcErrors: 0, tsPatErrors: 0, tsPmtErrors: 0 })
			expect(s.tsCause).toBeNull()
		}
		expect(signals.filter((s) => s.signal === 'degraded')).toEqual([])
	})

	it('continuity errors from the simulator: degraded with ts-errors, up again after a clean interval', async () => {
		const { rx, signals, stats } = await receiver(
			srtConfig({ mode: 'listener', port: 0, statsIntervalMs: 250, content: TS_RULE }),
		)
		const tx = await sim(rx.port!, true)
		await waitFor('up', () => rx.signal?.signal === 'up')
		const before = stats.length
		await waitFor('two intervals', () => stats.length >= before + 3, 3000)
		expect(signals.filter((s) => s.signal === 'degraded')).toEqual([])
		for (const s of stats.slice(before)) expect(s.tsCause).toBeNull()
		tx.setCcErrors(50) // 2% of the payload packets
		await waitFor('degraded', () => rx.signal?.signal === 'degraded', 3000)
		expect(rx.signal!.cause).toMatch(/^ts-errors: \d+ continuity errors in \d+ packets$/)
		expect(rx.degradedCause).toBe(rx.signal!.cause)
		tx.setCcErrors(0)
		await waitFor('up again', () => rx.signal?.signal === 'up', 3000)
		expect(rx.signal!.cause).toBe('ts-errors cleared')
		expect(rx.tsCheck?.cause ?? null).toBeNull()
	})

	it('no PAT (the simulator without psi): degraded, PAT missing; without content.tsErrors only counted', async () => {
		const judged = await receiver(srtConfig({ mode: 'listener', port: 0, statsIntervalMs: 250, content: TS_RULE }))
		const counted = await receiver(srtConfig({ mode: 'listener', port: 0, statsIntervalMs: 250 }))
		await sim(judged.rx.port!, false)
		await sim(counted.rx.port!, false)
		await waitFor('degraded', () => judged.rx.signal?.signal === 'degraded', 3000)
		expect(judged.rx.signal!.cause).toBe('ts-errors: PAT missing')
		await waitFor('PAT counted', () => counted.stats.some((s) => s.ts.tsPatErrors > 0), 3000)
		expect(counted.rx.signal?.signal).toBe('up')
		expect(counted.signals.filter((s) => s.signal === 'degraded')).toEqual([])
	})

	it('crafted TS through srt-live-transmit: nulls, adaptation-only, one duplicate, discontinuities are no error; bad sync bytes are', async () => {
		const { rx, signals, stats } = await receiver(
			srtConfig({ mode: 'listener', port: 0, statsIntervalMs: 250, content: TS_RULE }),
		)
		const inPort = await freeUdpPort()
		startPeer(SLT, ['-q', `udp://127.0.0.1:${inPort}`, `srt://127.0.0.1:${rx.port}?mode=caller&latency=120`])
		await sleep(300) // let it bind its UDP input
		const gen = new CraftedTs()
		const feeder = new UdpFeeder(inPort, (n) => gen.datagram(n), 2, 5)
		feeder.start()
		cleanups.push(() => feeder.stop())
		await waitFor('up', () => rx.signal?.signal === 'up', 8000)
		const before = stats.length
		await waitFor('three intervals', () => stats.length >= before + 3, 3000)
		for (const s of stats.slice(before)) {
			expect(s.ts.tsPackets).toBeGreaterThan(0)
			expect(s.ts).toMatchObject({ tsSyncErrors: 0, tsCcErrors: 0, tsPatErrors: 0, tsPmtErrors: 0 })
		}
		expect(signals.filter((s) => s.signal === 'degraded')).toEqual([])
		gen.badSync = true
		await waitFor('degraded', () => rx.signal?.signal === 'degraded', 3000)
		expect(rx.signal!.cause).toMatch(/^ts-errors: \d+ sync errors in \d+ packets$/)
		gen.badSync = false
		await waitFor('up again', () => rx.signal?.signal === 'up', 3000)
	})
})

/**
 * 7 packets a datagram: every 10th datagram starts with a PAT (program 1 on PID 0x20) and its PMT; the rest are
 * PID 0x100 with its counter, a null packet with a random counter, an adaptation-only packet on 0x101 that never
 * moves its counter, a packet on 0x102 that jumps its counter with discontinuity_indicator set, and every 5th
 * datagram one duplicate of the last 0x100 packet. With badSync, every 10th datagram has a packet without 0x47.
 */
class CraftedTs {
	badSync = false
	#cc = new Map<number, number>()

	#next(pid: number, step = 1): number {
		const c = ((this.#cc.get(pid) ?? 15) + step) & 0x0f
		this.#cc.set(pid, c)
		return c
	}

	#packet(out: Uint8Array, i: number, pid: number, afc: number, cc: number, pusi = false): Uint8Array {
		const p = out.subarray(i * TS_PACKET, (i + 1) * TS_PACKET)
		p.fill(0xff)
		p[0] = TS_SYNC
		p[1] = (pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f)
		p[2] = pid & 0xff
		p[3] = (afc << 4) | cc
		return p
	}

	datagram(n: number): Uint8Array {
		const out = new Uint8Array(7 * TS_PACKET)
		let i = 0
		if (n % 10 === 0) {
			// PAT: pointer 0, table_id 0, section_length 13, tsid 1, version 0 current, program 1 -> PMT PID 0x20
			const pat = this.#packet(out, i++, 0, 1, this.#next(0), true)
			pat.set([0, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0, 0x20, 0, 0, 0, 0], 4)
			const pmt = this.#packet(out, i++, 0x20, 1, this.#next(0x20), true)
			pmt.set([0, 0x02, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00, 0xf0, 0x00, 0, 0, 0, 0], 4)
		}
		const last = this.#packet(out, i++, 0x100, 1, this.#next(0x100))
		if (n % 5 === 0) out.set(last, i++ * TS_PACKET)
		this.#packet(out, i++, 0x1fff, 1, (n * 7) & 0x0f)
		const af = this.#packet(out, i++, 0x101, 2, 7)
		af[4] = 183
		af[5] = 0
		const disc = this.#packet(out, i++, 0x102, 3, this.#next(0x102, 5))
		disc[4] = 1
		disc[5] = 0x80
		while (i < 7) this.#packet(out, i++, 0x100, 1, this.#next(0x100))
		if (this.badSync && n % 10 === 3) out[3 * TS_PACKET] = 0x46
		return out
	}
}

// The content analyser against real ffmpeg: a sender (ffmpeg, SD MPEG-2 over UDP) with black, silence and a
// frozen picture in windows of its stream time, read by the analyser's ffmpeg; and the analyser's own faults: its
// ffmpeg killed (a crash) or stopped (SIGSTOP: stuck) is restarted and said, never taken for a content fault, and
// an analyser with nothing arriving waits without a fault.
import { afterEach, describe, expect, it } from 'vitest'
import { ContentAnalyser, type AnalyserFailure, type ContentCondition } from '../../../drivers/content/analyser.ts'
import { udpInput } from '../../../drivers/content/ffmpeg.ts'
import { monotonicMs } from '../../../src/clock.ts'
import { silentLogger } from '../../../src/log.ts'
import { startSender, udpUrl, type SenderOptions } from '../../support/ffmpeg.ts'
import type { Peer } from '../../support/peers.ts'
import { freeUdpPort, sleep, waitFor } from '../srt/helpers.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(sender: SenderOptions | null, o: { stallMs?: number; flowing?: () => boolean } = {}) {
	const port = await freeUdpPort()
	const a = new ContentAnalyser(
		{
			input: udpInput('127.0.0.1', port),
			stallMs: o.stallMs ?? 5000,
			flowing: o.flowing ?? (() => true),
			black: { ms: 1500, pictureRatio: 0.98, pixelThreshold: 0.1 },
			freeze: { ms: 1500, noiseDb: -60 },
			silence: { ms: 1500, dbfs: -50 },
			backoffMs: { base: 200, max: 400 },
		},
		{ log: silentLogger },
	)
	const conditions: (ContentCondition & { t: number })[] = []
	const failures: AnalyserFailure[] = []
	let recovered = 0
	a.on('condition', (c) => conditions.push({ ...c, t: monotonicMs() }))
	a.on('failed', (f) => failures.push(f))
	a.on('recovered', () => recovered++)
	a.start()
	cleanups.push(() => a.stop())
	let peer: Peer | undefined
	if (sender) {
		// the analyser first, listening: the sender's first packets are not lost
		await sleep(300)
		peer = startSender(udpUrl(port), { size: '640x360', ...sender })
		cleanups.push(() => peer!.stop())
	}
	return { a, conditions, failures, recovered: () => recovered, peer }
}

describe('content analyser (real ffmpeg)', () => {
	it('black and silence stand after their ms, then end; a frozen picture too; nothing else is reported', async () => {
		const { a, conditions, failures } = await setup({ black: [4, 9], silence: [4, 9], freeze: [11, 16], seconds: 19 })
		await waitFor('black and silence standing', () => conditions.filter((c) => c.active).length >= 2, 20_000, 50)
		expect(a.standing().map((s) => s.kind)).toEqual(['black', 'silence'])
		await waitFor('the freeze ended', () => conditions.some((c) => c.kind === 'freeze' && !c.active), 25_000, 50)
		const seq = conditions.map((c) => `${c.kind} ${c.active ? 'on' : 'off'}`)
		expect(seq.filter((s) => s.startsWith('black'))).toEqual(['black on', 'black off'])
		expect(seq.filter((s) => s.startsWith('silence'))).toEqual(['silence on', 'silence off'])
		expect(seq.filter((s) => s.startsWith('freeze'))).toEqual(['freeze on', 'freeze off'])
		const on = (k: string) => conditions.find((c) => c.kind === k && c.active)!
		const off = (k: string) => conditions.find((c) => c.kind === k && !c.active)!
		expect(on('black').cause).toMatch(/^black: 1\.[5-9] s$/)
		expect(on('silence').cause).toBe('silence: 1.5 s')
		// each stood (stream time) about as long as the window less its ms: never a blip
		expect(off('black').t - on('black').t).toBeGreaterThan(2500)
		expect(off('silence').t - on('silence').t).toBeGreaterThan(2500)
		expect(on('freeze').t).toBeGreaterThan(off('black').t)
		expect(failures).toEqual([])
		expect(a.streams.video).toMatch(/^mpeg2video/)
		expect(a.streams.audio).toMatch(/^mp2/)
	})

	it('a killed ffmpeg is restarted and said; what it had found standing is withdrawn, not kept', async () => {
		const { a, conditions, failures, recovered } = await setup({ black: [0, 60] })
		await waitFor('black standing', () => a.standing().length > 0, 20_000, 50)
		const pid = a.pid!
		process.kill(pid, 'SIGKILL')
		await waitFor('the failure', () => failures.length === 1, 5000)
		expect(failures[0]!.reason).toMatch(/^ffmpeg exited \(SIGKILL\)/)
		expect(conditions.at(-1)).toMatchObject({
			kind: 'black',
			active: false,
			cause: 'black withdrawn: the analyser failed',
		})
		await waitFor('decoding again', () => recovered() === 1, 15_000, 50)
		expect(a.pid).not.toBe(pid)
		expect(a.failure).toBeNull()
		// the new ffmpeg finds the black again on its own
		await waitFor('black standing again', () => a.standing().length > 0, 20_000, 50)
	})

	it('a stuck ffmpeg (SIGSTOP) while the stream flows is killed after stallMs and restarted', async () => {
		const { a, failures, recovered } = await setup({}, { stallMs: 2000 })
		await waitFor('decoding', () => a.state === 'running', 20_000, 50)
		const pid = a.pid!
		const stoppedAt = monotonicMs()
		process.kill(pid, 'SIGSTOP')
		await waitFor('found stuck', () => failures.length === 1, 8000)
		expect(failures[0]!.reason).toMatch(/^ffmpeg decoded nothing for \d+ s while the stream is relayed$/)
		expect(monotonicMs() - stoppedAt).toBeGreaterThanOrEqual(2000)
		await waitFor('decoding again', () => recovered() === 1, 15_000, 50)
		expect(a.pid).not.toBe(pid)
	})

	it('with nothing arriving it waits: no fault, no restart', async () => {
		let flowing = false
		const { a, failures } = await setup(null, { stallMs: 1000, flowing: () => flowing })
		await sleep(3000)
		expect(failures).toEqual([])
		expect(a.state).toBe('starting')
		// the same silence while the relay says packets are sent is a stuck analyser (a starting one gets 15 s)
		flowing = true
		await waitFor('found stuck', () => failures.length === 1, 20_000)
		expect(failures[0]!.reason).toMatch(/^ffmpeg decoded nothing for 1[5-9] s while the stream is relayed$/)
	})
})

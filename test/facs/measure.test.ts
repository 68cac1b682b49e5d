// The FACS measurements, pure: delay by PTS (its sign, a PTS wrap, another encode), the A/V offset of the
// flash-and-beep pattern, and the judgement of a path against its limits.
import { describe, expect, it } from 'vitest'
import type { Stamp } from '../../drivers/content/analyser.ts'
import { avOffsetMs, judge, ptsDelayMs, worse } from '../../src/facs/measure.ts'

/** samples of one encode (PTS from pts0, 10 a second) arriving `lagMs` after the reference, with a little jitter */
function samples(pts0: number, lagMs: number, n = 40): Stamp[] {
	return Array.from({ length: n }, (_, i) => ({ pts: pts0 + i * 0.1, at: 10_000 + i * 100 + lagMs + ((i * 7) % 5) }))
}

describe('ptsDelayMs', () => {
	it('is positive when the path arrives later than the primary', () => {
		expect(ptsDelayMs(samples(100, 0), samples(100, 500))).toEqual({ value: 500 })
		expect(ptsDelayMs(samples(100, 300), samples(100, 0))).toEqual({ value: -300 })
	})
	it('compares across a PTS wrap (33 bits of 90 kHz)', () => {
		const wrap = 2 ** 33 / 90_000
		expect(ptsDelayMs(samples(wrap - 1, 0), samples(-1, 200))).toEqual({ value: 200 })
	})
	it('says why not: another encode, too few samples', () => {
		expect(ptsDelayMs(samples(100, 0), samples(5000, 0))).toEqual({
			value: null,
			why: "PTS 4900 s apart from the primary's: not the same encode",
		})
		expect(ptsDelayMs(samples(100, 0, 3), samples(100, 0))).toMatchObject({ value: null })
		expect(ptsDelayMs(samples(100, 0), [])).toEqual({ value: null, why: 'decoded too little to compare' })
	})
})

describe('avOffsetMs', () => {
	const flashes = [1, 2, 3, 4].map((s) => ({ pts: 10 + s, at: 0 }))
	it('pairs each flash with the nearest beep: positive when the sound is late', () => {
		expect(
			avOffsetMs(
				flashes,
				flashes.map((f) => ({ pts: f.pts + 0.12, at: 0 })),
			),
		).toEqual({ value: 120 })
		expect(
			avOffsetMs(
				flashes,
				flashes.map((f) => ({ pts: f.pts - 0.03, at: 0 })),
			),
		).toEqual({ value: -30 })
	})
	it('says why not', () => {
		expect(avOffsetMs([], flashes)).toEqual({ value: null, why: 'no flash of the test pattern seen' })
		expect(avOffsetMs(flashes, [])).toEqual({ value: null, why: 'no beep of the test pattern heard' })
		expect(avOffsetMs(flashes, [{ pts: 11.1, at: 0 }])).toEqual({
			value: null,
			why: '1 flash and beep paired (at least 2 needed)',
		})
	})
})

describe('judge', () => {
	const ok = {
		take: { ok: true },
		signal: 'up' as const,
		reported: true,
		delay: { value: 120 },
		av: { value: 10, analysed: true },
	}
	const limits = { avSync: true, maxAvOffsetMs: 40, maxDelayMs: 300 }
	it('passes within the limits; names each failure', () => {
		expect(judge(ok, limits)).toEqual([])
		expect(judge({ ...ok, delay: { value: -400 } }, limits)).toEqual(['delay -400 ms beyond 300 ms'])
		expect(judge({ ...ok, signal: 'degraded' }, limits)).toEqual(['signal degraded during the dwell'])
		expect(judge({ ...ok, signal: null }, limits)).toEqual(['no signal reported during the dwell'])
		expect(judge({ ...ok, signal: null, reported: false }, limits)).toEqual([])
		expect(judge({ ...ok, take: { ok: false, error: 'locked' } }, limits)).toEqual(['the QC take failed: locked'])
		expect(
			judge({ ...ok, av: { value: null, why: 'no flash of the test pattern seen', analysed: true } }, limits),
		).toEqual(['A/V offset not measured: no flash of the test pattern seen'])
		// not measurable where nothing is analysed, and no limit on the delay: reported, not judged
		expect(judge({ ...ok, av: { value: null, why: 'no analysed TS', analysed: false } }, limits)).toEqual([])
		expect(judge({ ...ok, delay: { value: 5000 } }, { ...limits, maxDelayMs: null })).toEqual([])
	})
	it('worse: down < degraded < up, and no signal is worst', () => {
		expect(worse('up', 'degraded')).toBe('degraded')
		expect(worse('down', 'up')).toBe('down')
		expect(worse('up', null)).toBeNull()
	})
})

// A pair's standby follows the active node (docs/contract.md §9): the `follow` record. Through replay, so the
// timeline format, the engine and the journal's way back to a timeline are all on the path.
import { describe, expect, it } from 'vitest'
import { parseRecord, toRecord, type TimelineRecord } from '../../src/engine/index.ts'
import { ext, run, sig, start, up3 } from './helpers.ts'

const follow = (t: number, feed: string, active: string | null, extra: { mode?: string; locked?: boolean } = {}) =>
	({ t, feed: `wbc/${feed}`, follow: active, ...extra }) as TimelineRecord

describe('follow (§9)', () => {
	it('keeps the signal history: a failover already due is made at the follow itself', () => {
		// the shadow engine decided sat at 1300 (its take was fenced); the active did not switch; at the takeover the
		// router still shows fiber: fiber has failed, so the new active switches at once
		const out = run([start(0, 'pgm', 'fiber'), ...up3, sig(1000, 'pgm/fiber', 'down'), follow(2000, 'pgm', 'fiber')])
		expect(out).toEqual(['1300 pgm fiber>sat failover', '2000 pgm fiber>sat failover'])
	})

	it('moves nothing when nothing is due, and takes mode and lock as the active kept them', () => {
		expect(run([start(0, 'pgm', 'fiber'), ...up3, follow(500, 'pgm', 'fiber')])).toEqual([])
		// manual and locked from the active: a later failure of the path on air is not acted on
		const out = run(
			[
				start(0, 'pgm', 'fiber'),
				...up3,
				follow(500, 'pgm', 'fiber', { mode: 'manual', locked: true }),
				sig(1000, 'pgm/fiber', 'down'),
			],
			{ kinds: ['decision', 'suppressed'] },
		)
		expect(out).toEqual([])
	})

	it('is no external take: no alarm, no change of mode, and an external-take left from before is cleared', () => {
		expect(run([start(0, 'pgm', 'fiber'), ...up3, follow(500, 'pgm', 'sat')], { routerAlarms: true })).toEqual([])
		const out = run(
			[start(0, 'pgm', 'fiber'), ...up3, ext(500, 'pgm', 'sat'), follow(1000, 'pgm', 'sat', { mode: 'auto' })],
			{
				routerAlarms: true,
			},
		)
		expect(out).toEqual(['500 pgm external-take +', '1000 pgm external-take -'])
	})

	it('never reverts by itself: a path above the one on air is a revert target only once up for clearMs after it', () => {
		// fiber fails at 1300 and is back at 2000; alone it would be reverted to at 12000 (clearMs 10000); followed
		// on sat at 5000, not before 15000
		const base = [start(0, 'pgm', 'fiber'), ...up3, sig(1000, 'pgm/fiber', 'down'), sig(2000, 'pgm/fiber', 'up')]
		expect(run(base, { until: 20_000 })).toEqual(['1300 pgm fiber>sat failover', '12000 pgm sat>fiber revert'])
		expect(run([...base, follow(5000, 'pgm', 'sat')], { until: 20_000 })).toEqual([
			'1300 pgm fiber>sat failover',
			'15000 pgm sat>fiber revert',
		])
	})

	it('reads and prints as a timeline record; an unknown key makes it invalid', () => {
		const r = { t: 5, feed: 'wbc/pgm', follow: null, mode: 'manual', locked: false }
		const o = parseRecord(r)
		expect(o).toEqual({ type: 'follow', t: 5, feed: 'wbc/pgm', active: null, mode: 'manual', locked: false })
		expect(toRecord(o as never)).toEqual(r)
		expect(parseRecord({ t: 5, feed: 'wbc/pgm', follow: 'sat', bogus: 1 })).toMatch(/bogus/)
	})
})
